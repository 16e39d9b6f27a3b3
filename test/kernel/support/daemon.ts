// The real daemon (`node bin/vlannet.js daemon`) as a test runs it, and polling the kernel until
// it has done something.

import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO } from './vlannet.js';

export interface Daemon {
  child: ChildProcess;
  log(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export function startDaemon(file: string, ...args: string[]): Daemon {
  const child = spawn(process.execPath, [path.join(REPO, 'bin', 'vlannet.js'), 'daemon', '-f', file, '--debug', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ? -1 : code)));
  return {
    child,
    log: () => log,
    // SIGTERM; a daemon that has not exited 20 s later is killed (and the test gets -1, not a hang).
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `ok()` (every 5 ms, at most `limitMs`); the time it took. */
export async function until(what: string, ok: () => boolean, limitMs = 15_000, d?: Daemon): Promise<number> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > limitMs) throw new Error(`${what}: not within ${limitMs} ms${d ? `\n--- daemon log\n${d.log()}` : ''}`);
    await sleep(5);
  }
  return performance.now() - t0;
}
