// Opening a sysctl file of a network namespace (/proc/sys/net/…) for the namespace the thread is
// in. Through /proc/sys this costs a walk over one cached directory entry for every namespace
// where anything looked under /proc/sys/net before: each namespace has its own net/ipv6 directory,
// all cached under the one shared /proc/sys/net entry, and the kernel compares them one by one
// (proc_sys_compare). At a thousand namespaces that is a few hundred microseconds per open, and
// grows with every namespace vlannet creates. A private proc instance (fsopen/fsmount, never
// attached anywhere, so no one else sees it) has its own cache: a new one every OPENS_PER_PROC
// opens keeps the walk short. Where the kernel, libc or a seccomp filter refuses fsopen, /proc/sys.

import fs from 'node:fs';
import koffi from 'koffi';
import { errnoName, libc, libcLib } from './libc.js';

const OPENS_PER_PROC = 64;
const FSOPEN_CLOEXEC = 1;
const FSCONFIG_CMD_CREATE = 6;
const FSMOUNT_CLOEXEC = 1;
const O_CLOEXEC = 0o2000000;

interface MountApi {
  fsopen(fs: string, flags: number): number;
  fsconfig(fd: number, cmd: number, key: null, value: null, aux: number): number;
  fsmount(fd: number, flags: number, attrs: number): number;
  openat(dirfd: number, path: string, flags: number): number;
}

let api: MountApi | null | undefined;
let proc: { fd: number; opens: number } | null = null;

function mountApi(): MountApi | null {
  if (api !== undefined) return api;
  try {
    const lib = libcLib();
    api = {
      fsopen: lib.func('int fsopen(const char *fs, unsigned int flags)'),
      fsconfig: lib.func('int fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux)'),
      fsmount: lib.func('int fsmount(int fd, unsigned int flags, unsigned int attrs)'),
      openat: lib.func('int openat(int dirfd, const char *path, int flags)'),
    } as MountApi;
  } catch {
    api = null; // a libc before 2.36
  }
  return api;
}

/** A detached proc instance, or null (and /proc from then on) when the kernel refuses one. */
function privateProc(): number | null {
  const m = mountApi();
  if (!m) return null;
  if (proc && proc.opens < OPENS_PER_PROC) return proc.fd;
  if (proc) libc().close(proc.fd);
  proc = null;
  const ctx = m.fsopen('proc', FSOPEN_CLOEXEC);
  if (ctx < 0) {
    api = null;
    return null;
  }
  try {
    const mnt = m.fsconfig(ctx, FSCONFIG_CMD_CREATE, null, null, 0) === 0 ? m.fsmount(ctx, FSMOUNT_CLOEXEC, 0) : -1;
    if (mnt < 0) {
      api = null;
      return null;
    }
    proc = { fd: mnt, opens: 0 };
    return mnt;
  } finally {
    libc().close(ctx);
  }
}

/**
 * open(2) of /proc/sys/PATH (e.g. `net/ipv6/conf/eth0/disable_ipv6`) with `flags`, in the network
 * namespace the calling thread is in now. Errors as fs.openSync's: `code` is the errno name.
 */
export function openSysctl(path: string, flags: number): number {
  const mnt = privateProc();
  if (mnt === null) return fs.openSync(`/proc/sys/${path}`, flags);
  proc!.opens++;
  const fd = mountApi()!.openat(mnt, `sys/${path}`, flags | O_CLOEXEC);
  if (fd < 0) {
    const code = errnoName(koffi.errno());
    throw Object.assign(new Error(`${code}: open /proc/sys/${path}`), { code, syscall: 'open', path: `/proc/sys/${path}` });
  }
  return fd;
}

/** Release the private proc instance (NetlinkKernel.close()); the next openSysctl makes another. */
export function closeSysctls(): void {
  if (proc) libc().close(proc.fd);
  proc = null;
}
