// One vlannet at a time changes the kernel: `apply`, `destroy` and the daemon hold an flock(2) on
// RUN_DIR/lock. The kernel drops the lock when the holder dies, even by SIGKILL, so there is never
// a stale lock to clean up by hand. Node has no flock, so libc's is called through koffi.

import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { errnoName, libc } from './libc.js';
import { runDir } from './run-dir.js';
import { LockBusyError } from '../errors.js';

export { runDir };

const LOCK_EX = 2;
const LOCK_NB = 4;

export interface Lock {
  readonly path: string;
  release(): void;
}

/** Take the exclusive lock or fail at once with LockBusyError naming the holder. */
export function acquireLock(role: string, dir = runDir()): Lock {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lockPath = path.join(dir, 'lock');
  const fd = fs.openSync(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  if (libc().flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = errnoName(koffi.errno());
    let holder = 'unknown holder';
    try {
      holder = fs.readFileSync(lockPath, 'utf8').trim() || holder;
    } catch {
      /* keep the default */
    }
    fs.closeSync(fd);
    if (errno === 'EAGAIN') throw new LockBusyError(lockPath, holder);
    throw new Error(`cannot lock ${lockPath}: ${errno}`);
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `pid ${process.pid}: ${role}\n`, 0);
  let held = true;
  return {
    path: lockPath,
    release() {
      if (!held) return;
      held = false;
      try {
        fs.ftruncateSync(fd, 0);
      } catch {
        /* the lock goes with the fd anyway */
      }
      fs.closeSync(fd);
    },
  };
}

/**
 * acquireLock, waiting while another holds it for as long as `keepWaiting(busy)` says so (asked at
 * each try, every `intervalMs`); its LockBusyError when it says no.
 */
export async function acquireLockWaiting(role: string, keepWaiting: (busy: LockBusyError) => boolean, intervalMs = 100): Promise<Lock> {
  for (;;) {
    try {
      return acquireLock(role);
    } catch (e) {
      if (!(e instanceof LockBusyError) || !keepWaiting(e)) throw e;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
