// Which config file a command reads: the one given with -f; else the one the running daemon
// enforces (so that `plan`, `apply`, `validate` and `status` without -f all speak of the same file);
// else /etc/vlannet.yaml.

import { identifyDaemon } from '../control/protocol.js';
import { runDir } from '../kernel/run-dir.js';
import { DEFAULT_CONFIG } from './program.js';

/** The running daemon's pid and file, or null when none runs (or it cannot be asked). */
export async function daemonIdentity(): Promise<{ pid: number; file: string } | null> {
  return identifyDaemon(runDir());
}

export async function configFile(given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  const daemon = await daemonIdentity();
  return daemon ? daemon.file : DEFAULT_CONFIG;
}
