// Placeholder until the daemon lands (issue 4): the CLI's `daemon` and `status` commands.
export async function daemonCommand(_argv: string[]): Promise<number> {
  process.stderr.write('vlannet: the daemon is not built yet\n');
  return 1;
}
export async function statusCommand(_argv: string[]): Promise<number> {
  process.stderr.write('vlannet: status is not built yet\n');
  return 1;
}
