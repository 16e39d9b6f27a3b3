// The libc calls Node lacks (setns, unshare, mount, sockets, poll, flock …), bound once through
// koffi for the whole program, with errno names and a poll(2) that waits for nothing. Only this
// file loads koffi's libc; everything else in the adapter calls libc() from here.

import os from 'node:os';
import koffi, { type LibraryHandle } from 'koffi';
import { SyscallError } from '../errors.js';

interface Libc {
  setns(fd: number, nstype: number): number;
  unshare(flags: number): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: null): number;
  umount2(target: string, flags: number): number;
  gettid(): number;
  getsockname(fd: number, addr: Buffer, len: Buffer): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  poll(fds: Buffer, nfds: number, timeout: number): number;
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number): number;
  flock(fd: number, op: number): number;
  fcntl(fd: number, cmd: number, ...args: unknown[]): number;
  close(fd: number): number;
}

let libcLibrary: LibraryHandle | null = null;

/** libc as koffi loaded it, once for the whole program (for bindings that may be missing, see sysctl.ts). */
export function libcLib(): LibraryHandle {
  libcLibrary ??= koffi.load('libc.so.6');
  return libcLibrary;
}

let libcCache: Libc | null = null;

/** The libc calls Node lacks, bound once through koffi for the whole program. */
export function libc(): Libc {
  if (libcCache) return libcCache;
  const lib = libcLib();
  libcCache = {
    setns: lib.func('int setns(int fd, int nstype)'),
    unshare: lib.func('int unshare(int flags)'),
    mount: lib.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    gettid: lib.func('int gettid()'),
    getsockname: lib.func('int getsockname(int fd, void *addr, void *len)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *value, void *len)'),
    send: lib.func('long send(int fd, const void *buf, size_t len, int flags)'),
    recv: lib.func('long recv(int fd, void *buf, size_t len, int flags)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
    sendto: lib.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t addrlen)'),
    flock: lib.func('int flock(int fd, int op)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
    close: lib.func('int close(int fd)'),
  } as Libc;
  return libcCache;
}

const errnoNames = new Map<number, string>(Object.entries(os.constants.errno).map(([k, v]) => [v, k]));

errnoNames.set(os.constants.errno.EAGAIN, 'EAGAIN');

/** errno name for a positive errno number (EEXIST …), or `errno N` when unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** A failed system call, with the errno name as `code` (like Node's own fs errors). */

export function check(rc: number, syscall: string, what: string): void {
  if (rc !== 0) throw new SyscallError(errnoName(koffi.errno()), syscall, what);
}

export const POLLIN = 1;
export const POLLPRI = 2;
const POLLERR = 8;
const POLLHUP = 16;

/** One poll(2) that waits for nothing: the fds with any of `events`, an error or a hang-up. */
export function readyNow(fds: readonly number[], events: number, what: string): Set<number> {
  const ready = new Set<number>();
  if (fds.length === 0) return ready;
  const pollfds = Buffer.alloc(8 * fds.length); // struct pollfd { int fd; short events; short revents; }
  fds.forEach((fd, i) => {
    pollfds.writeInt32LE(fd, 8 * i);
    pollfds.writeInt16LE(events, 8 * i + 4);
  });
  for (;;) {
    const n = libc().poll(pollfds, fds.length, 0);
    if (n >= 0) break;
    const code = errnoName(koffi.errno());
    if (code !== 'EINTR') throw new SyscallError(code, 'poll', what);
  }
  fds.forEach((fd, i) => {
    if (pollfds.readInt16LE(8 * i + 6) & (events | POLLERR | POLLHUP)) ready.add(fd);
  });
  return ready;
}
