// Where vlannet keeps its lock (flock.ts) and the daemon its control socket. Its own module, free
// of koffi, so that a command that only talks to the daemon loads nothing else.

export function runDir(): string {
  return process.env.VLANNET_RUN_DIR ?? '/run/vlannet';
}
