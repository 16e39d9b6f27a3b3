// Network namespaces as handles. This is the only file that switches namespaces: a socket or a
// file opened while a thread is inside a namespace stays bound to it after the thread has gone
// back, so every switch here is synchronous — enter, open, return — and nothing else runs in
// between. A namespace belongs to a thread, not to the process: libuv's threads keep their own,
// and so does the namespace factory's worker thread (factory.ts), which runs this module too.
// vishvananda/netlink's NewHandleAt, and iproute2's `ip netns add`, done from Node through libc
// (koffi).

import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import koffi, { type LibraryHandle } from 'koffi';
import type { RawNetlinkSocket } from 'netlink';

let netlinkPackage: typeof import('netlink') | null = null;
/**
 * The netlink package, loaded on first use: only the event sockets (events.ts) need it, and
 * loading its native module costs a one-shot command 60-80 ms of start-up.
 */
function netlink(): typeof import('netlink') {
  netlinkPackage ??= createRequire(import.meta.url)('netlink') as typeof import('netlink');
  return netlinkPackage;
}

export const NETNS_DIR = '/run/netns';

// <sched.h>, <sys/mount.h>, <sys/socket.h>, <linux/netlink.h> (values checked against the headers).
const CLONE_NEWNET = 0x40000000;
const MNT_DETACH = 2;
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SHARED = 0x100000;
const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_NO_ENOBUFS = 5;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NETLINK_GET_STRICT_CHK = 12;
const SOCK_RAW = 3;
const F_DUPFD_CLOEXEC = 1030;
const SOCK_CLOEXEC = 0o2000000;
const SOCK_NONBLOCK = 0o4000;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const SO_MEMINFO = 55;
const SK_MEMINFO_VARS = 9;
const SK_MEMINFO_DROPS = 8;

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
// EWOULDBLOCK is EAGAIN's other name; the code here (and people) say EAGAIN.
errnoNames.set(os.constants.errno.EAGAIN, 'EAGAIN');

/** errno name for a positive errno number (EEXIST …), or `errno N` when unknown. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** A failed system call, with the errno name as `code` (like Node's own fs errors). */
export class SyscallError extends Error {
  constructor(public readonly code: string, public readonly syscall: string, public readonly what: string) {
    super(`${syscall} ${what}: ${code}`);
    this.name = 'SyscallError';
  }
}

function check(rc: number, syscall: string, what: string): void {
  if (rc !== 0) throw new SyscallError(errnoName(koffi.errno()), syscall, what);
}

let ownFd: number | null = null;
/**
 * An fd on vlannet's own namespace, kept open: the one this thread started in (each worker thread
 * has this module, and so this fd, to itself; a thread starts in the namespace of the thread that
 * started it, and vlannet starts threads only from its own namespace). /proc/thread-self, not
 * /proc/self: the latter is the main thread's, which may be inside another namespace just then.
 */
export function ownNetnsFd(): number {
  ownFd ??= fs.openSync('/proc/thread-self/ns/net', 'r');
  return ownFd;
}

function netnsPath(name: string): string {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/.test(name) || name === '.' || name === '..') {
    throw new SyscallError('EINVAL', 'netns', `name ${JSON.stringify(name)}`);
  }
  return `${NETNS_DIR}/${name}`;
}

/** Open /run/netns/NAME (an fd usable with setns and IFLA_NET_NS_FD). Throws code ENOENT when absent. */
export function openNetnsFd(name: string): number {
  return fs.openSync(netnsPath(name), 'r');
}

/**
 * Run `fn` synchronously with the main thread inside `netns` (null: vlannet's own namespace), then
 * go back, whatever `fn` does. `fn` must not await: only what it opens synchronously is bound there.
 */
export function inNetns<T>(netns: string | null, fn: () => T): T {
  if (netns === null) return fn();
  const fd = openNetnsFd(netns);
  try {
    return inNetnsFd(fd, netns, fn);
  } finally {
    fs.closeSync(fd);
  }
}

/** Like inNetns, for a namespace already open as `fd` (from openNetnsFd): no path to open again. */
export function inNetnsFd<T>(fd: number, what: string, fn: () => T): T {
  const own = ownNetnsFd();
  check(libc().setns(fd, CLONE_NEWNET), 'setns', what);
  try {
    return fn();
  } finally {
    // Staying in the wrong namespace would make every later socket lie: treat it as fatal.
    if (libc().setns(own, CLONE_NEWNET) !== 0) {
      throw new Error(`BUG: cannot return to vlannet's own namespace (${errnoName(koffi.errno())})`);
    }
  }
}

/**
 * Run `fn` synchronously with the main thread in a new network namespace of its own, then go back.
 * The namespace has no name: it lives only as long as something opened inside it (a socket) does.
 */
export function inThrowawayNetns<T>(fn: () => T): T {
  const own = ownNetnsFd();
  check(libc().unshare(CLONE_NEWNET), 'unshare', 'CLONE_NEWNET (a throwaway namespace)');
  try {
    return fn();
  } finally {
    if (libc().setns(own, CLONE_NEWNET) !== 0) {
      throw new Error(`BUG: cannot return to vlannet's own namespace (${errnoName(koffi.errno())})`);
    }
  }
}

let sharedDirReady = false;
/**
 * iproute2 makes /run/netns a shared mount point, so namespace mounts made later propagate to
 * every mount namespace that already has a copy of it (systemd services, containers).
 */
function ensureNetnsDir(): void {
  if (sharedDirReady) return;
  fs.mkdirSync(NETNS_DIR, { recursive: true, mode: 0o755 });
  if (libc().mount(null, NETNS_DIR, 'none', MS_SHARED | MS_REC, null) !== 0) {
    const first = errnoName(koffi.errno());
    // EINVAL: not a mount point yet; bind it onto itself, then make it shared (as iproute2 does).
    if (first !== 'EINVAL') throw new SyscallError(first, 'mount', `--make-rshared ${NETNS_DIR}`);
    check(libc().mount(NETNS_DIR, NETNS_DIR, 'none', MS_BIND | MS_REC, null), 'mount', `--bind ${NETNS_DIR}`);
    check(libc().mount(null, NETNS_DIR, 'none', MS_SHARED | MS_REC, null), 'mount', `--make-rshared ${NETNS_DIR}`);
  }
  sharedDirReady = true;
}

/**
 * Create the named namespace NAME the way `ip netns add` does: a new network namespace for the
 * main thread, bind-mounted onto /run/netns/NAME, then back to vlannet's own namespace. While the
 * thread is still inside, `inside` runs (to open sockets there without entering again); its result
 * is returned with an fd on the new namespace (for setns and IFLA_NET_NS_FD) and the namespace's
 * inode. Throws SyscallError EEXIST when the name is taken. A stale file of that name (left by a
 * process killed between creating it and mounting on it) is mounted over, as iproute2 does.
 */
export function createNamedNetns<T>(name: string, inside: () => T): { fd: number; ino: number; value: T } {
  const path = netnsPath(name);
  ensureNetnsDir();
  try {
    fs.closeSync(fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o444));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || isNamespaceDev(fs.statSync(path).dev)) throw e;
  }
  const own = ownNetnsFd();
  let fd: number | null = null;
  let mounted = false;
  try {
    check(libc().unshare(CLONE_NEWNET), 'unshare', `CLONE_NEWNET for ${name}`);
    try {
      fd = fs.openSync('/proc/thread-self/ns/net', 'r');
      // `inside` first: what it does (vlannet marks the namespace as its own) is done before the
      // namespace has a name, so a named namespace is never unmarked, even if vlannet is killed.
      const value = inside();
      check(libc().mount(`/proc/thread-self/ns/net`, path, 'none', MS_BIND, null), 'mount', `--bind ${path}`);
      mounted = true;
      return { fd, ino: fs.fstatSync(fd).ino, value };
    } finally {
      if (libc().setns(own, CLONE_NEWNET) !== 0) {
        throw new Error(`BUG: cannot return to vlannet's own namespace (${errnoName(koffi.errno())})`);
      }
    }
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    if (mounted) libc().umount2(path, MNT_DETACH);
    try { fs.unlinkSync(path); } catch { /* already gone */ }
    throw e;
  }
}

/**
 * The same file as `fd`, under an fd Node does not know of; `fd` is closed. Node closes every fd a
 * worker thread opened through fs when that worker exits: an fd handed from a worker to the main
 * thread must not be one of those.
 */
export function untrackedFd(fd: number): number {
  const dup = libc().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0);
  if (dup < 0) throw new SyscallError(errnoName(koffi.errno()), 'fcntl', `F_DUPFD_CLOEXEC ${fd}`);
  fs.closeSync(fd);
  return dup;
}

let nsfsDev: number | null = null;
/**
 * Whether a file with this st_dev is a namespace (nsfs), not a plain file: /run/netns/NAME is a
 * namespace only once the namespace is bind-mounted on it.
 */
export function isNamespaceDev(dev: number): boolean {
  nsfsDev ??= fs.statSync('/proc/self/ns/net').dev;
  return dev === nsfsDev;
}

/** Remove /run/netns/NAME the way `ip netns delete` does (lazy unmount, then unlink). */
export function deleteNamedNetns(name: string): void {
  const path = netnsPath(name);
  if (libc().umount2(path, MNT_DETACH) !== 0) {
    const code = errnoName(koffi.errno());
    // EINVAL: not a mount point (a stale file); still remove it below.
    if (code !== 'EINVAL') throw new SyscallError(code, 'umount2', path);
  }
  try {
    fs.unlinkSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new SyscallError(code, 'unlink', path);
  }
}

/** Names under /run/netns, sorted; [] when the directory does not exist. */
export function listNamedNetns(): string[] {
  try {
    return fs.readdirSync(NETNS_DIR).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export interface RtnetlinkOptions {
  /** Keep the event loop alive while the socket is open (event listeners). Default: not. */
  ref?: boolean;
  /** SO_RCVBUFFORCE, bytes (root may exceed net.core.rmem_max). Default 1 MiB. */
  recvBufferSize?: number;
}

/**
 * An rtnetlink socket and its fd (for getsockopt), from the netlink package's raw layer: messages
 * are framed and matched in handle.ts.
 */
export interface Rtnetlink {
  socket: RawNetlinkSocket;
  fd: number;
}

/**
 * An rtnetlink socket bound to `netns` (null: vlannet's own namespace). Throws code ENOENT when
 * the namespace is gone.
 */
export function openRtnetlinkIn(netns: string | null, options: RtnetlinkOptions = {}): Rtnetlink {
  return netns === null ? openRtnetlink(options) : inNetns(netns, () => openRtnetlink(options));
}

/** Like openRtnetlinkIn, for a namespace already open as `fd` (from openNetnsFd). */
export function openRtnetlinkInFd(fd: number, name: string, options: RtnetlinkOptions = {}): Rtnetlink {
  return inNetnsFd(fd, name, () => openRtnetlink(options));
}

/**
 * An rtnetlink socket in the namespace the main thread is in now (vlannet's own, unless inside
 * inNetns), set up so that:
 * - the kernel's reason for a refusal reaches the user (NETLINK_EXT_ACK) without echoing the
 *   request back (NETLINK_CAP_ACK);
 * - a full receive queue never becomes a socket error (NETLINK_NO_ENOBUFS): the netlink package
 *   aborts the whole process on one (its poll error path throws from native code). Dropped
 *   messages are counted by the kernel instead; see droppedMessages().
 */
export function openRtnetlink(options: RtnetlinkOptions = {}): Rtnetlink {
  const hint = lowestFreeFd();
  const socket = new (netlink().RawNetlinkSocket)(NETLINK_ROUTE, { recvBufferSize: 0, sendBufferSize: 0 });
  if (!options.ref) socket.unref();
  const fd = findFd(socket, hint);
  const int = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeInt32LE(v); return b; };
  const set = (level: number, name: number, value: number, what: string): void => {
    if (libc().setsockopt(fd, level, name, int(value), 4) !== 0) {
      const code = errnoName(koffi.errno());
      socket.close();
      throw new SyscallError(code, 'setsockopt', what);
    }
  };
  set(SOL_SOCKET, SO_RCVBUFFORCE, options.recvBufferSize ?? 1 << 20, 'SO_RCVBUFFORCE');
  set(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1, 'NETLINK_NO_ENOBUFS');
  set(SOL_NETLINK, NETLINK_EXT_ACK, 1, 'NETLINK_EXT_ACK');
  set(SOL_NETLINK, NETLINK_CAP_ACK, 1, 'NETLINK_CAP_ACK');
  return { socket, fd };
}

/** The sockets of openRequestSocket: request socket (null when not asked for), its strict checking, listener. */
export interface RequestSockets { fd: number | null; strict: boolean; listener: number | null }

/**
 * Bare rtnetlink socket fds for synchronous requests and dumps (handle.ts), in the namespace of
 * `fd` (null: vlannet's own), opened inside one switch of namespace. Cheaper to open than the
 * netlink package's socket (no libuv handle, no search for its fd), which matters at a thousand
 * namespaces. The request socket has the options of openRtnetlink, plus NETLINK_GET_STRICT_CHK
 * where the kernel has it (4.20+): dumps then honour their filters (the route dump reads the main
 * table only) instead of sending everything. With `listen`, a (second) socket joins the link,
 * address and route groups: it is never read, only drained (see changedSince). Every such socket
 * makes every rtnetlink notification of every namespace cost a little more (the kernel walks all
 * of them), so the handles keep one only while it saves work.
 */
export function openRequestSocket(fd: number | null, name: string, request = true, listen = false): RequestSockets {
  const opened: number[] = [];
  const open = (): void => {
    for (let i = 0; i < Number(request) + Number(listen); i++) {
      const s = libc().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
      if (s < 0) throw new SyscallError(errnoName(koffi.errno()), 'socket', `AF_NETLINK in ${name}`);
      opened.push(s);
    }
  };
  try {
    if (fd === null) open();
    else inNetnsFd(fd, name, open);
    const sock = request ? opened[0]! : null;
    const listener = listen ? opened[opened.length - 1]! : undefined;
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    let strict = false;
    if (sock !== null) {
      for (const [opt, what] of [[NETLINK_EXT_ACK, 'NETLINK_EXT_ACK'], [NETLINK_CAP_ACK, 'NETLINK_CAP_ACK']] as const) {
        if (libc().setsockopt(sock, SOL_NETLINK, opt, one, 4) !== 0) throw new SyscallError(errnoName(koffi.errno()), 'setsockopt', what);
      }
      strict = libc().setsockopt(sock, SOL_NETLINK, NETLINK_GET_STRICT_CHK, one, 4) === 0;
    }
    if (listener !== undefined) {
      const addr = Buffer.alloc(12); // struct sockaddr_nl
      addr.writeUInt16LE(AF_NETLINK, 0);
      addr.writeUInt32LE(CHANGE_GROUPS, 8);
      if (libc().bind(listener, addr, addr.length) !== 0) throw new SyscallError(errnoName(koffi.errno()), 'bind', `rtnetlink groups in ${name}`);
    }
    return { fd: sock, strict, listener: listener ?? null };
  } catch (e) {
    for (const s of opened) libc().close(s);
    throw e;
  }
}

/** RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE. */
const CHANGE_GROUPS = 0x1 | 0x10 | 0x40 | 0x100 | 0x400;
const drain = Buffer.alloc(64 << 10);

/**
 * Whether anything was announced on a listener from openRequestSocket since it was last asked:
 * reads (and forgets) every queued notification. A full queue (ENOBUFS) counts as a change.
 * Notifications are queued inside the system call that made the change, so a change finished
 * before this call is always seen.
 */
export function changedSince(listener: number): boolean {
  let changed = false;
  for (;;) {
    const n = libc().recv(listener, drain, drain.length, MSG_DONTWAIT);
    if (n > 0) { changed = true; continue; }
    if (n === 0) return changed;
    const code = errnoName(koffi.errno());
    if (code === 'EINTR') continue;
    if (code === 'EAGAIN') return changed;
    return true; // ENOBUFS: notifications were lost
  }
}

const POLLPRI = 2;
const POLLERR = 8;
const POLLHUP = 16;

let mountinfo: number | null = null;
/**
 * Whether anything was mounted or unmounted in this process's mount namespace since the last call
 * (the first call opens the watch and says yes). The kernel flags a change of the mount table to
 * every open /proc/self/mountinfo, and a poll(2) both reads and clears the flag. Every named
 * namespace comes and goes by a mount on /run/netns (a shared mount, so namespaces made from other
 * mount namespaces show here too): no change, no namespace replaced under its name.
 */
export function mountsChanged(): boolean {
  if (mountinfo === null) {
    mountinfo = fs.openSync('/proc/self/mountinfo', 'r');
    return true;
  }
  try {
    return readyNow([mountinfo], POLLPRI, '/proc/self/mountinfo').size > 0;
  } catch {
    return true;
  }
}

/**
 * Which of these sockets have something queued (or an error, such as a lost notification), in one
 * poll(2) that waits for nothing: at a thousand namespaces, one system call instead of a recv(2) on
 * each listener.
 */
export function readableSockets(fds: readonly number[]): Set<number> {
  return readyNow(fds, POLLIN, 'rtnetlink listeners');
}

/** One poll(2) that waits for nothing: the fds with any of `events`, an error or a hang-up. */
function readyNow(fds: readonly number[], events: number, what: string): Set<number> {
  const ready = new Set<number>();
  if (fds.length === 0) return ready;
  const pollfds = Buffer.alloc(8 * fds.length); // struct pollfd { int fd; short events; short revents; }
  fds.forEach((fd, i) => { pollfds.writeInt32LE(fd, 8 * i); pollfds.writeInt16LE(events, 8 * i + 4); });
  for (;;) {
    const n = libc().poll(pollfds, fds.length, 0);
    if (n >= 0) break;
    const code = errnoName(koffi.errno());
    if (code !== 'EINTR') throw new SyscallError(code, 'poll', what);
  }
  fds.forEach((fd, i) => { if (pollfds.readInt16LE(8 * i + 6) & (events | POLLERR | POLLHUP)) ready.add(fd); });
  return ready;
}

/** close(2) of a socket from openRequestSocket. */
export function closeSocket(fd: number): void {
  libc().close(fd);
}

/** How many messages the kernel dropped for this socket because its receive queue was full (SO_MEMINFO). */
export function droppedMessages(fd: number): number {
  const info = Buffer.alloc(4 * SK_MEMINFO_VARS);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(info.length);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, len) !== 0) return 0;
  return info.readUInt32LE(4 * SK_MEMINFO_DROPS);
}

function lowestFreeFd(): number {
  const fd = fs.openSync('/dev/null', 'r');
  fs.closeSync(fd);
  return fd;
}

/**
 * The netlink package does not expose its socket's fd, so it is found: a new socket takes the
 * lowest free fd, and getsockname proves it is ours (AF_NETLINK, our port). If a worker thread
 * took that fd first, /proc/self/fd is searched.
 */
function findFd(socket: RawNetlinkSocket, hint: number): number {
  const port = socket.address().port;
  if (isOurSocket(hint, port)) return hint;
  for (const entry of fs.readdirSync('/proc/self/fd')) {
    if (isOurSocket(Number(entry), port)) return Number(entry);
  }
  socket.close();
  throw new Error('BUG: cannot find the fd of a netlink socket just opened');
}

function isOurSocket(fd: number, port: number): boolean {
  const addr = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(12);
  if (libc().getsockname(fd, addr, len) !== 0) return false;
  return addr.readUInt16LE(0) === AF_NETLINK && addr.readUInt32LE(4) === port;
}

const MSG_DONTWAIT = 0x40;
const POLLIN = 1;

/** send(2) on a netlink socket, now: the kernel handles an rtnetlink request inside the call. */
export function sendNow(fd: number, message: Buffer): void {
  if (libc().send(fd, message, message.length, 0) < 0) throw new SyscallError(errnoName(koffi.errno()), 'send', 'netlink request');
}

/**
 * recv(2) of one datagram into `buf`, waiting at most `timeoutMs` for one; its length. A dump's
 * next part is made inside the previous recv, so a dump read this way never waits in practice.
 */
export function receiveNow(fd: number, buf: Buffer, timeoutMs: number): number {
  for (;;) {
    const n = libc().recv(fd, buf, buf.length, MSG_DONTWAIT);
    if (n >= 0) return n;
    const code = errnoName(koffi.errno());
    if (code === 'EINTR') continue;
    if (code !== 'EAGAIN') throw new SyscallError(code, 'recv', 'netlink reply');
    const pollfd = Buffer.alloc(8);
    pollfd.writeInt32LE(fd, 0);
    pollfd.writeInt16LE(POLLIN, 4);
    if (libc().poll(pollfd, 1, timeoutMs) === 0) throw new SyscallError('ETIMEDOUT', 'recv', 'netlink reply');
  }
}
