// One rtnetlink socket bound to one namespace, with requests and dumps on it. Messages are framed
// and matched to their request by sequence number here, on the netlink package's raw socket: at a
// thousand namespaces the package's parsed layer cost several times what the kernel does.
// Requests are pipelined, up to WINDOW in flight per socket so their replies always fit in the
// receive queue. Dumps are synchronous (dumpSync), so one socket never has two at a time, which
// the kernel would refuse. A reply the kernel had to drop all the same is noticed (SO_MEMINFO drops) and fails the
// requests then in flight with ENOBUFS instead of leaving them waiting forever.

import type { RawNetlinkSocket } from 'netlink';
import { droppedMessages, errnoName, openRtnetlinkIn, openRtnetlinkInFd, receiveNow, sendNow, type Rtnetlink } from './netns.js';
import { NLM_F, NLMSG_ERROR, NLMSGERR_ATTR_MSG } from './messages.js';
import { attrString, parseAttrs } from './nlattr.js';

const NLMSG_DONE = 3;
const HEADER = 16;
/** Requests in flight per socket: a reply is at most a few KiB, the receive queue 1 MiB. */
const WINDOW = 64;
const WATCHDOG_MS = 1000;

/** The kernel refused a request: errno name and the extended ack message, if any. */
export class NetlinkError extends Error {
  constructor(public readonly errno: string, public readonly detail: string) {
    super(`${errno}${detail ? `: ${detail}` : ''}`);
    this.name = 'NetlinkError';
  }
}

interface Pending {
  dump: boolean;
  parts: Buffer[];
  resolve(parts: Buffer[]): void;
  reject(e: Error): void;
}

export class RtnlHandle {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;
  private readonly socket: RawNetlinkSocket;
  private readonly fd: number;
  private drops = 0;
  private watchdog: NodeJS.Timeout | null = null;
  /** The nsid this namespace gives vlannet's own namespace, once known (stable while both live). */
  ownNsid: number | null = null;

  private constructor(readonly netns: string | null, rtnl: Rtnetlink) {
    this.socket = rtnl.socket;
    this.fd = rtnl.fd;
    this.drops = droppedMessages(this.fd);
    this.socket.on('message', (buf: Buffer) => this.receive(buf));
    this.socket.on('error', (err: { code?: string }) => this.failAll(new NetlinkError(err.code ?? 'EIO', 'netlink socket error')));
  }

  /** Open a handle in `netns`; throws code ENOENT when the namespace does not exist. */
  static open(netns: string | null): RtnlHandle {
    return new RtnlHandle(netns, openRtnetlinkIn(netns));
  }

  /** Open a handle in the named namespace open as `fd`. */
  static openFd(fd: number, netns: string): RtnlHandle {
    return new RtnlHandle(netns, openRtnetlinkInFd(fd, netns));
  }

  /** Send one request with NLM_F_REQUEST|NLM_F_ACK (+ `flags`); resolve at the ACK with the replies before it. */
  request(type: number, body: Buffer, flags = 0): Promise<Buffer[]> {
    return this.send(type, body, NLM_F.REQUEST | NLM_F.ACK | flags, false);
  }

  /**
   * Dump (NLM_F_DUMP): every message body. Done synchronously with send(2)/recv(2) on the
   * socket's fd: the kernel makes each part of a dump inside those calls, so nothing waits, and at
   * a thousand namespaces this costs a fifth of going through the event loop. Replies to requests
   * in flight that arrive meanwhile are handed to them as usual.
   */
  dumpSync(type: number, body: Buffer): Buffer[] {
    if (this.closed) throw new NetlinkError('EBADF', 'netlink handle is closed');
    const seq = (this.seq = (this.seq % 0x7fffffff) + 1);
    sendNow(this.fd, Buffer.concat([header(type, NLM_F.REQUEST | NLM_F.DUMP, seq, body.length), body]));
    const parts: Buffer[] = [];
    for (;;) {
      const n = receiveNow(this.fd, RtnlHandle.scratch, 5000);
      const buf = RtnlHandle.scratch.subarray(0, n);
      let done: NetlinkError | null | undefined;
      this.receive(buf, (type, flags, msg) => {
        if (type === NLMSG_ERROR) done = errorOf(msg, flags) ?? null;
        else if (type === NLMSG_DONE) done = msg.length >= 4 && msg.readInt32LE(0) < 0 ? errorOf(msg, 0) : null;
        else parts.push(Buffer.from(msg)); // the scratch buffer is reused: copy
      }, seq);
      if (done !== undefined) {
        if (done) throw done;
        return parts;
      }
    }
  }

  /** Dump (NLM_F_DUMP) and resolve with every message body (see dumpSync). */
  dump(type: number, body: Buffer): Promise<Buffer[]> {
    try {
      return Promise.resolve(this.dumpSync(type, body));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private static readonly scratch = Buffer.alloc(64 << 10);

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new NetlinkError('EBADF', 'netlink handle is closed'));
    for (const wake of this.waiting.splice(0)) wake();
    this.stopWatch();
    this.socket.close();
  }

  private async send(type: number, body: Buffer, flags: number, dump: boolean): Promise<Buffer[]> {
    while (this.pending.size >= WINDOW && !this.closed) await new Promise<void>((wake) => this.waiting.push(wake));
    if (this.closed) throw new NetlinkError('EBADF', 'netlink handle is closed');
    const seq = (this.seq = (this.seq % 0x7fffffff) + 1);
    return new Promise<Buffer[]>((resolve, reject) => {
      if (this.pending.size === 0) this.startWatch();
      this.pending.set(seq, { dump, parts: [], resolve, reject });
      this.socket.send([header(type, flags, seq, body.length), body], {}, (err) => {
        if (err) this.settle(seq, new NetlinkError(err.code ?? 'EIO', `sending to the kernel: ${err.message}`));
      });
    });
  }

  private settle(seq: number, outcome: Error | null): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    if (this.pending.size === 0) this.stopWatch();
    this.waiting.shift()?.();
    if (outcome) p.reject(outcome);
    else p.resolve(p.parts);
  }

  /** While requests are in flight: keep the process alive, and look for dropped replies. */
  private startWatch(): void {
    if (!this.closed) this.socket.ref();
    this.watchdog ??= setInterval(() => {
      const drops = droppedMessages(this.fd);
      if (drops === this.drops) return;
      this.drops = drops;
      this.failAll(new NetlinkError('ENOBUFS', 'the kernel dropped replies: its receive queue for vlannet was full'));
    }, WATCHDOG_MS);
  }

  private stopWatch(): void {
    if (!this.closed) this.socket.unref();
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private failAll(e: Error): void {
    for (const seq of [...this.pending.keys()]) this.settle(seq, e);
  }

  /**
   * One datagram: any number of messages, each for the request with its sequence number; those
   * for `mine` (a synchronous dump) go to `onMine`.
   */
  private receive(buf: Buffer, onMine?: (type: number, flags: number, body: Buffer) => void, mine?: number): void {
    let at = 0;
    while (at + HEADER <= buf.length) {
      const len = buf.readUInt32LE(at);
      if (len < HEADER || at + len > buf.length) break;
      const type = buf.readUInt16LE(at + 4);
      const flags = buf.readUInt16LE(at + 6);
      const seq = buf.readUInt32LE(at + 8);
      const body = buf.subarray(at + HEADER, at + len);
      if (onMine && seq === mine) {
        onMine(type, flags, body);
      } else {
        const p = this.pending.get(seq);
        if (p) {
          if (type === NLMSG_ERROR) this.settle(seq, errorOf(body, flags));
          else if (type === NLMSG_DONE) this.settle(seq, body.length >= 4 && body.readInt32LE(0) < 0 ? errorOf(body, 0) : null);
          else p.parts.push(onMine ? Buffer.from(body) : body);
        }
      }
      at += (len + 3) & ~3;
    }
  }
}

function header(type: number, flags: number, seq: number, bodyLength: number): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt32LE(HEADER + bodyLength, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return h;
}

/**
 * NLMSG_ERROR (or a failed NLMSG_DONE): a negative errno, then the request's header (and, unless
 * NLM_F_CAPPED, its whole body), then with NLM_F_ACK_TLVS the extended ack attributes.
 * Null for an ACK (errno 0).
 */
export function errorOf(body: Buffer, flags: number): NetlinkError | null {
  const errno = -body.readInt32LE(0);
  if (errno === 0) return null;
  return new NetlinkError(errnoName(errno), extackMessage(body, flags));
}

function extackMessage(body: Buffer, flags: number): string {
  if (!(flags & NLM_F.ACK_TLVS) || body.length < 4 + HEADER) return '';
  const requestLength = flags & NLM_F.CAPPED ? HEADER : body.readUInt32LE(4);
  const attrs = parseAttrs(body, 4 + ((requestLength + 3) & ~3));
  return attrString(attrs.get(NLMSGERR_ATTR_MSG)) ?? '';
}
