// Kernel notifications for the daemon: links, addresses and routes changing in vlannet's own
// namespace and in each namespace the config uses, and namespaces appearing or disappearing under
// /run/netns. Events only say "something changed here"; the daemon re-reads everything.

import fs from 'node:fs';
import type { RawNetlinkSocket } from 'netlink';
import type { Netns } from '../model/types.js';
import { RTM } from './messages.js';
import { NETNS_DIR, openNetnsFd } from './netns.js';
import { droppedMessages, openRtnetlink, openRtnetlinkInFd, type Rtnetlink } from './sockets.js';

export type KernelEventKind = 'link' | 'addr' | 'route' | 'overflow' | 'netns';
export interface KernelEvent {
  netns: Netns;
  kind: KernelEventKind;
}

export interface KernelWatch {
  /** Watch exactly these named namespaces (and vlannet's own, always). */
  setNamespaces(netns: string[]): void;
  /** These namespaces may have been created, deleted or replaced: follow them if they are watched. */
  recheck(netns: string[]): void;
  close(): void;
}

// enum rtnetlink_groups (linux/rtnetlink.h)
const RTNLGRP_LINK = 1;
const RTNLGRP_IPV4_IFADDR = 5;
const RTNLGRP_IPV4_ROUTE = 7;
const RTNLGRP_IPV6_IFADDR = 9;
const RTNLGRP_IPV6_ROUTE = 11;
const GROUPS = [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE];

/** Big enough that a burst (a thousand endpoints created at once) rarely overflows. */
const RECEIVE_BUFFER = 4 << 20;

function kindOf(type: number): KernelEventKind | null {
  switch (type) {
    case RTM.NEWLINK:
    case RTM.DELLINK:
      return 'link';
    case RTM.NEWADDR:
    case RTM.DELADDR:
      return 'addr';
    case RTM.NEWROUTE:
    case RTM.DELROUTE:
      return 'route';
    default:
      return null;
  }
}

interface Subscription {
  socket: RawNetlinkSocket;
  /** Inode of /run/netns/NAME when subscribed: a namespace re-created under the name is another one. */
  ino: number;
}

export function watchKernel(netns: string[], onEvent: (e: KernelEvent) => void): KernelWatch {
  const subscriptions = new Map<Netns, Subscription>();
  let closed = false;

  const listen = (ns: Netns, { socket, fd }: Rtnetlink): void => {
    // The socket never reports a full receive queue as an error (see openRtnetlink): the kernel
    // counts what it dropped, and a count that went up is an 'overflow'.
    let drops = droppedMessages(fd);
    socket.on('message', (buf: Buffer) => {
      // One event per kind per datagram: the daemon only needs to know that something changed.
      const kinds = new Set<KernelEventKind>();
      for (let at = 0; at + 16 <= buf.length; ) {
        const len = buf.readUInt32LE(at);
        if (len < 16) break;
        const kind = kindOf(buf.readUInt16LE(at + 4));
        if (kind) kinds.add(kind);
        at += (len + 3) & ~3;
      }
      const now = droppedMessages(fd);
      if (now !== drops) {
        drops = now;
        kinds.add('overflow');
      }
      for (const kind of kinds) onEvent({ netns: ns, kind });
    });
    socket.on('error', () => onEvent({ netns: ns, kind: 'overflow' }));
    for (const group of GROUPS) socket.addMembership(group);
  };

  const own = openRtnetlink({ ref: true, recvBufferSize: RECEIVE_BUFFER });
  listen(null, own);
  subscriptions.set(null, { socket: own.socket, ino: 0 });

  const unsubscribe = (ns: Netns): void => {
    const s = subscriptions.get(ns);
    if (!s) return;
    subscriptions.delete(ns);
    s.socket.close();
  };

  const subscribe = (ns: string): void => {
    let fd: number;
    try {
      fd = openNetnsFd(ns);
    } catch {
      unsubscribe(ns); // not there (yet): the /run/netns watcher reports when it appears
      return;
    }
    try {
      const ino = fs.fstatSync(fd).ino;
      const current = subscriptions.get(ns);
      if (current && current.ino === ino) return;
      unsubscribe(ns);
      const rtnl = openRtnetlinkInFd(fd, ns, { ref: true, recvBufferSize: RECEIVE_BUFFER });
      listen(ns, rtnl);
      subscriptions.set(ns, { socket: rtnl.socket, ino });
    } finally {
      fs.closeSync(fd);
    }
    // Followed from now on: a change made there before (between the run that made the namespace,
    // or a trial that did, and this subscription) announced nothing here. One look catches it.
    onEvent({ netns: ns, kind: 'netns' });
  };

  let wanted = new Set<string>();
  const setNamespaces = (names: string[]): void => {
    if (closed) return;
    wanted = new Set(names);
    for (const ns of [...subscriptions.keys()]) if (ns !== null && !wanted.has(ns)) unsubscribe(ns);
    for (const ns of wanted) subscribe(ns);
  };
  const recheck = (names: string[]): void => {
    if (closed) return;
    for (const ns of names) if (wanted.has(ns)) subscribe(ns);
  };

  let dirWatcher: fs.FSWatcher | null = null;
  const watchDir = (): void => {
    try {
      fs.mkdirSync(NETNS_DIR, { recursive: true });
      dirWatcher = fs.watch(NETNS_DIR, (_event, name) => {
        if (closed) return;
        // Follow namespaces that appeared, went, or were re-created: the one named, else all.
        if (name) recheck([name.toString()]);
        else setNamespaces([...wanted]);
        onEvent({ netns: null, kind: 'netns' });
      });
      dirWatcher.on('error', () => {
        /* the resync timer still covers it */
      });
    } catch {
      dirWatcher = null;
    }
  };
  watchDir();
  setNamespaces(netns);

  return {
    setNamespaces,
    recheck,
    close() {
      if (closed) return;
      closed = true;
      dirWatcher?.close();
      for (const ns of [...subscriptions.keys()]) unsubscribe(ns);
    },
  };
}
