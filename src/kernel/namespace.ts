// Making one named namespace, the way `ip netns add NAME` and then `ip -n NAME link set lo up`
// would, plus vlannet's ownership mark. Run by the main thread, or by the factory's worker thread
// (factory.ts): everything it returns is an fd, and fds belong to the whole process.

import { netnsMark } from '../model/owner.js';
import { RtnlHandle } from './handle.js';
import { IFF_UP, IFLA, ifinfomsg, RTM } from './messages.js';
import { createNamedNetns } from './netns.js';
import { closeSocket, openRequestSocket, type RequestSockets } from './sockets.js';
import { AttrWriter } from './nlattr.js';

/** lo is the first link of every namespace. */
export const LOOPBACK_INDEX = 1;

/** A named namespace just made: what Handles.adopt needs. */
export interface MadeNamespace {
  /** An fd on the namespace (for setns and IFLA_NET_NS_FD). */
  fd: number;
  /** Its inode, which tells it from a later namespace of the same name. */
  ino: number;
  /** A request socket opened inside it. */
  sockets: RequestSockets;
}

/**
 * `ip netns add NAME` with lo up and the alias `vlannet:netns/NAME`, on the calling thread: the
 * namespace's socket is opened and lo marked while the thread is inside the new namespace, before
 * it is bound to its name. On failure nothing of it is left.
 */
export function makeNamespace(name: string): MadeNamespace {
  const {
    fd,
    ino,
    value: sockets,
  } = createNamedNetns(name, () => {
    // lo up and marked while the namespace has no name yet (see createNamedNetns).
    const made = openRequestSocket(null, name);
    try {
      const body = Buffer.concat([
        ifinfomsg({ index: LOOPBACK_INDEX, flags: IFF_UP, change: IFF_UP }),
        new AttrWriter().string(IFLA.IFALIAS, netnsMark(name)).toBuffer(),
      ]);
      new RtnlHandle(name, null, made).request(RTM.NEWLINK, body);
    } catch (e) {
      closeSocket(made.fd!);
      throw e;
    }
    return made;
  });
  return { fd, ino, sockets };
}
