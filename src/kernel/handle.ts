// One rtnetlink socket bound to one namespace, with requests and dumps on it, both synchronous:
// the kernel handles an rtnetlink request inside send(2) and has its answer queued before send
// returns (a dump's first part too, and each next part inside the previous recv), so reading the
// answer at once never waits. At a thousand namespaces this costs a fraction of going through the
// event loop, and "in flight together" gains nothing: the kernel serialises rtnetlink requests
// under one lock anyway. The socket joins no multicast group, so only answers arrive on it.

import { errnoName } from './libc.js';
import { changedSince, closeSocket, openRequestSocket, receiveNow, sendNow, type RequestSockets } from './sockets.js';
import { NLM_F, NLMSG_ERROR, NLMSGERR_ATTR_MSG } from './messages.js';
import { attrString, parseAttrs } from './nlattr.js';
import { NetlinkError } from '../errors.js';

const NLMSG_DONE = 3;
const HEADER = 16;
/** How long an answer may take to arrive (a module being loaded for the request, say). */
const TIMEOUT_MS = 5000;

export class RtnlHandle {
  private seq = 0;
  private closed = false;
  private readonly fd: number;
  /** Whether the kernel honours dump filters on this socket (NETLINK_GET_STRICT_CHK, 4.20+). */
  readonly strict: boolean;
  /** The nsid this namespace gives vlannet's own namespace, once known (stable while both live). */
  ownNsid: number | null = null;

  private listener: number | null;

  /**
   * A handle in vlannet's own namespace (`nsFd` null) or in the named namespace open as `nsFd`,
   * on sockets from openRequestSocket (see open()).
   */
  constructor(
    readonly netns: string | null,
    private readonly nsFd: number | null,
    sockets: RequestSockets,
  ) {
    this.fd = sockets.fd!;
    this.strict = sockets.strict;
    this.listener = sockets.listener;
  }

  /** Open a handle in `netns` (open as `nsFd`); with `listen`, also a socket that notices changes there (see changed()). */
  static open(netns: string | null, nsFd: number | null, listen = false): RtnlHandle {
    return new RtnlHandle(netns, nsFd, openRequestSocket(nsFd, netns ?? "vlannet's namespace", true, listen));
  }

  /**
   * Whether a link, address or route of this namespace may have changed since listen() or the
   * last call: true whenever there is no listener. Forgets what it saw.
   */
  changed(): boolean {
    if (this.listener === null || this.closed) return true;
    return changedSince(this.listener);
  }

  /** The socket that notices changes, while there is one. */
  get listenerFd(): number | null {
    return this.closed ? null : this.listener;
  }

  /** Start noticing changes (before reading what is there, so that nothing falls in between). */
  listen(): void {
    if (this.listener !== null || this.closed) return;
    this.listener = openRequestSocket(this.nsFd, this.netns ?? "vlannet's namespace", false, true).listener;
  }

  /** Stop noticing changes (vlannet is about to change the namespace itself). */
  unlisten(): void {
    if (this.listener === null) return;
    closeSocket(this.listener);
    this.listener = null;
  }

  /** Send one request with NLM_F_REQUEST|NLM_F_ACK (+ `flags`); the replies before its ACK. */
  request(type: number, body: Buffer, flags = 0): Buffer[] {
    const replies: Buffer[] = [];
    this.exchange(type, body, NLM_F.REQUEST | NLM_F.ACK | flags, (reply) => {
      replies.push(Buffer.from(reply));
    });
    return replies;
  }

  /**
   * Dump (NLM_F_DUMP): every message body of the answer through `decode`, skipping nulls. A body
   * is a view of a buffer reused for the next part: `decode` must keep nothing of it but what it
   * copies out (numbers, strings), which spares a copy of every message.
   */
  dump<T>(type: number, body: Buffer, decode: (body: Buffer) => T | null): T[] {
    const out: T[] = [];
    this.exchange(type, body, NLM_F.REQUEST | NLM_F.DUMP, (part) => {
      const value = decode(part);
      if (value !== null) out.push(value);
    });
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSocket(this.fd);
    this.unlisten();
  }

  private static readonly scratch = Buffer.alloc(64 << 10);

  /** Send a request and hand each message body of its answer to `each`, until the ACK or NLMSG_DONE. */
  private exchange(type: number, body: Buffer, flags: number, each: (body: Buffer) => void): void {
    if (this.closed) throw new NetlinkError('EBADF', 'netlink handle is closed');
    this.seq = (this.seq % 0x7fffffff) + 1;
    const seq = this.seq;
    sendNow(this.fd, Buffer.concat([header(type, flags, seq, body.length), body]));
    for (;;) {
      const buf = RtnlHandle.scratch.subarray(0, receiveNow(this.fd, RtnlHandle.scratch, TIMEOUT_MS));
      let at = 0;
      while (at + HEADER <= buf.length) {
        const len = buf.readUInt32LE(at);
        if (len < HEADER || at + len > buf.length) break;
        // An answer to an earlier request given up on (a timeout) is skipped.
        if (buf.readUInt32LE(at + 8) === seq) {
          const kind = buf.readUInt16LE(at + 4);
          const body = buf.subarray(at + HEADER, at + len);
          if (kind === NLMSG_ERROR) {
            const e = errorOf(body, buf.readUInt16LE(at + 6));
            if (e) throw e;
            return;
          }
          if (kind === NLMSG_DONE) {
            if (body.length >= 4 && body.readInt32LE(0) < 0) throw errorOf(body, 0)!;
            return;
          }
          each(body);
        }
        at += (len + 3) & ~3;
      }
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
