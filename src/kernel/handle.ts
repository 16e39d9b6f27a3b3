// One rtnetlink socket bound to one namespace, with requests and dumps on it. Requests are
// pipelined (many in flight, matched by sequence number). A dump is exclusive: the kernel runs
// one dump per socket, and the netlink package cuts a multipart reply short when another reply
// arrives in the middle of it, so a dump waits for the requests before it and requests wait for it.

import type { NetlinkMessage, NetlinkSocket } from 'netlink';
import { errnoName, openRtnetlinkIn, openRtnetlinkInFd } from './netns.js';
import { NLM_F, NLMSG_ERROR, NLMSGERR_ATTR_MSG } from './messages.js';
import { attrString, parseAttrs } from './nlattr.js';

/** The kernel refused a request: errno name and the extended ack message, if any. */
export class NetlinkError extends Error {
  constructor(public readonly errno: string, public readonly detail: string) {
    super(`${errno}${detail ? `: ${detail}` : ''}`);
    this.name = 'NetlinkError';
  }
}

export class RtnlHandle {
  private dumpDone: Promise<void> = Promise.resolve();
  private readonly active = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(readonly netns: string | null, private readonly socket: NetlinkSocket) {
    // Replies nobody waits for (the ACK after a GET's answer) arrive as 'message': ignore them.
    socket.on('error', () => { /* surfaced through the pending requests */ });
  }

  /** Open a handle in `netns`; throws code ENOENT when the namespace does not exist. */
  static open(netns: string | null): RtnlHandle {
    return new RtnlHandle(netns, openRtnetlinkIn(netns));
  }

  /** Open a handle in the named namespace open as `fd`. */
  static openFd(fd: number, netns: string): RtnlHandle {
    return new RtnlHandle(netns, openRtnetlinkInFd(fd, netns));
  }

  /** Send one request with NLM_F_REQUEST|NLM_F_ACK (+ `flags`); resolve with the replies (none for a bare ACK). */
  request(type: number, body: Buffer, flags = 0): Promise<Buffer[]> {
    const run = this.dumpDone.then(() => this.send(type, body, flags));
    this.track(run);
    return run;
  }

  /** Dump (NLM_F_DUMP) and resolve with every message body. */
  dump(type: number, body: Buffer): Promise<Buffer[]> {
    const before = [this.dumpDone, ...this.active];
    const run = Promise.allSettled(before).then(() => this.send(type, body, NLM_F.DUMP));
    this.dumpDone = run.then(() => undefined, () => undefined);
    return run;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private track(p: Promise<unknown>): void {
    this.active.add(p);
    const done = (): void => { this.active.delete(p); };
    p.then(done, done);
  }

  private async send(type: number, body: Buffer, flags: number): Promise<Buffer[]> {
    if (this.closed) throw new NetlinkError('EBADF', 'netlink handle is closed');
    let msgs: NetlinkMessage[];
    try {
      [msgs] = await this.socket.request(type, body, { flags, checkError: false });
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new NetlinkError(code ?? 'EIO', code ? '' : String((e as Error).message));
    }
    const first = msgs[0];
    if (first && first.type === NLMSG_ERROR) {
      checkAck(first);
      return [];
    }
    return msgs.map((m) => m.data);
  }
}

/** Throw NetlinkError for an NLMSG_ERROR carrying a negative errno; return for an ACK (errno 0). */
export function checkAck(msg: Pick<NetlinkMessage, 'data' | 'flags'>): void {
  const errno = -msg.data.readInt32LE(0);
  if (errno === 0) return;
  throw new NetlinkError(errnoName(errno), extackMessage(msg));
}

/**
 * struct nlmsgerr is the errno, then the request's header (and, unless NLM_F_CAPPED, its whole
 * body), then with NLM_F_ACK_TLVS the extended ack attributes.
 */
function extackMessage(msg: Pick<NetlinkMessage, 'data' | 'flags'>): string {
  if (!(msg.flags & NLM_F.ACK_TLVS) || msg.data.length < 20) return '';
  const requestLength = msg.flags & NLM_F.CAPPED ? 16 : msg.data.readUInt32LE(4);
  const attrs = parseAttrs(msg.data, 4 + ((requestLength + 3) & ~3));
  return attrString(attrs.get(NLMSGERR_ATTR_MSG)) ?? '';
}
