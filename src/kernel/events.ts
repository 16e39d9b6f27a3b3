// Kernel notifications for the daemon: links, addresses and routes changing in vlannet's own
// namespace and in each namespace the config uses, and namespaces appearing or disappearing under
// /run/netns. Events only say "something changed here"; the daemon re-reads everything.

import fs from 'node:fs';
import type { NetlinkMessage, NetlinkSocket } from 'netlink';
import type { Netns } from '../model/types.js';
import { RTM } from './messages.js';
import { NETNS_DIR, openNetnsFd, openRtnetlinkInFd, openRtnetlink } from './netns.js';

export type KernelEventKind = 'link' | 'addr' | 'route' | 'overflow' | 'netns';
export interface KernelEvent {
  netns: Netns;
  kind: KernelEventKind;
}

export interface KernelWatch {
  /** Watch exactly these named namespaces (and vlannet's own, always). */
  setNamespaces(netns: string[]): void;
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
    case RTM.NEWLINK: case RTM.DELLINK: return 'link';
    case RTM.NEWADDR: case RTM.DELADDR: return 'addr';
    case RTM.NEWROUTE: case RTM.DELROUTE: return 'route';
    default: return null;
  }
}

interface Subscription {
  socket: NetlinkSocket;
  /** Inode of /run/netns/NAME when subscribed: a namespace re-created under the name is another one. */
  ino: number;
}

export function watchKernel(netns: string[], onEvent: (e: KernelEvent) => void): KernelWatch {
  const subscriptions = new Map<Netns, Subscription>();
  let closed = false;

  const listen = (ns: Netns, socket: NetlinkSocket): void => {
    socket.on('message', (msgs: NetlinkMessage[]) => {
      // One event per kind per batch: the daemon only needs to know that something changed.
      const kinds = new Set(msgs.map((m) => kindOf(m.type)).filter((k): k is KernelEventKind => k !== null));
      for (const kind of kinds) onEvent({ netns: ns, kind });
    });
    // ENOBUFS: the kernel dropped notifications because the receive queue was full. Any other
    // receive error loses notifications just the same: both mean "re-read everything".
    socket.on('error', () => onEvent({ netns: ns, kind: 'overflow' }));
    for (const group of GROUPS) socket.addMembership(group);
  };

  const own = openRtnetlink({ ref: true, recvBufferSize: RECEIVE_BUFFER });
  listen(null, own);
  subscriptions.set(null, { socket: own, ino: 0 });

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
      const socket = openRtnetlinkInFd(fd, ns, { ref: true, recvBufferSize: RECEIVE_BUFFER });
      listen(ns, socket);
      subscriptions.set(ns, { socket, ino });
    } finally {
      fs.closeSync(fd);
    }
  };

  let wanted: string[] = [];
  const setNamespaces = (names: string[]): void => {
    if (closed) return;
    wanted = [...new Set(names)];
    for (const ns of [...subscriptions.keys()]) if (ns !== null && !wanted.includes(ns)) unsubscribe(ns);
    for (const ns of wanted) subscribe(ns);
  };

  let dirWatcher: fs.FSWatcher | null = null;
  const watchDir = (): void => {
    try {
      fs.mkdirSync(NETNS_DIR, { recursive: true });
      dirWatcher = fs.watch(NETNS_DIR, () => {
        if (closed) return;
        setNamespaces(wanted); // follow namespaces that appeared, went, or were re-created
        onEvent({ netns: null, kind: 'netns' });
      });
      dirWatcher.on('error', () => { /* the resync timer still covers it */ });
    } catch {
      dirWatcher = null;
    }
  };
  watchDir();
  setNamespaces(netns);

  return {
    setNamespaces,
    close() {
      if (closed) return;
      closed = true;
      dirWatcher?.close();
      for (const ns of [...subscriptions.keys()]) unsubscribe(ns);
    },
  };
}
