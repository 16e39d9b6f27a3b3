// rtnetlink sockets: the bare fds handle.ts sends requests and reads dumps on (openRequestSocket),
// the listeners that notice changes (changedSince, readableSockets), and the netlink package's
// sockets the daemon's event watcher reads (openRtnetlink). A socket belongs to the namespace it
// was opened in: netns.ts enters one to open it there.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import koffi from 'koffi';
import type { RawNetlinkSocket } from 'netlink';
import { SyscallError } from '../errors.js';
import { errnoName, libc, POLLIN, readyNow } from './libc.js';
import { inNetnsFd } from './netns.js';

// <sys/socket.h>, <linux/netlink.h> (values checked against the headers).
const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_NO_ENOBUFS = 5;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const NETLINK_GET_STRICT_CHK = 12;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOCK_NONBLOCK = 0o4000;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
const SO_MEMINFO = 55;
const SK_MEMINFO_VARS = 9;
const SK_MEMINFO_DROPS = 8;

let netlinkPackage: typeof import('netlink') | null = null;

/**
 * The netlink package, loaded on first use: only the event sockets (events.ts) need it, and
 * loading its native module costs a one-shot command 60-80 ms of start-up.
 */
function netlink(): typeof import('netlink') {
  netlinkPackage ??= createRequire(import.meta.url)('netlink') as typeof import('netlink');
  return netlinkPackage;
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
  const int = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return b;
  };
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
export interface RequestSockets {
  fd: number | null;
  strict: boolean;
  listener: number | null;
}

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
      for (const [opt, what] of [
        [NETLINK_EXT_ACK, 'NETLINK_EXT_ACK'],
        [NETLINK_CAP_ACK, 'NETLINK_CAP_ACK'],
      ] as const) {
        if (libc().setsockopt(sock, SOL_NETLINK, opt, one, 4) !== 0) throw new SyscallError(errnoName(koffi.errno()), 'setsockopt', what);
      }
      strict = libc().setsockopt(sock, SOL_NETLINK, NETLINK_GET_STRICT_CHK, one, 4) === 0;
    }
    if (listener !== undefined) {
      const addr = Buffer.alloc(12); // struct sockaddr_nl
      addr.writeUInt16LE(AF_NETLINK, 0);
      addr.writeUInt32LE(CHANGE_GROUPS, 8);
      if (libc().bind(listener, addr, addr.length) !== 0)
        throw new SyscallError(errnoName(koffi.errno()), 'bind', `rtnetlink groups in ${name}`);
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
    if (n > 0) {
      changed = true;
      continue;
    }
    if (n === 0) return changed;
    const code = errnoName(koffi.errno());
    if (code === 'EINTR') continue;
    if (code === 'EAGAIN') return changed;
    return true; // ENOBUFS: notifications were lost
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
