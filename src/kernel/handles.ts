// The adapter's open namespaces: one rtnetlink handle (and, for named namespaces, one fd for
// IFLA_NET_NS_FD) per namespace, kept for the life of the adapter because the daemon reads the
// same namespaces again and again. A namespace deleted and re-created under the same name is a
// different namespace: the inode of /run/netns/NAME tells them apart. It is checked once per cycle
// (see newCycle()), not on every use: an apply's operations trust what its observe() checked; and
// only after a mount or unmount anywhere, since a namespace is replaced only through them.
// Each namespace also has a map from link name to ifindex, filled by observe() (which reads every
// link anyway) and by link-add, so adding an address or a route needs no lookup first.

import fs from 'node:fs';
import type { Netns } from '../model/types.js';
import { RtnlHandle } from './handle.js';
import { isNamespaceDev, mountsChanged, NETNS_DIR, openNetnsFd } from './netns.js';
import { readableSockets } from './sockets.js';

interface Entry {
  handle: RtnlHandle;
  fd: number | null;
  ino: number;
  /** The cycle in which /run/netns/NAME was last checked to be this namespace. */
  checked: number;
  indexes: Map<string, number>;
  /** Made by this process (adopt()): `indexes` holds every link, unless someone else added one since. */
  made: boolean;
  /** What observe() last read here, while nothing has changed since (see snapshot()). */
  snapshot: unknown;
}

export class Handles {
  private readonly entries = new Map<Netns, Entry>();
  private cycle = 0;
  /** Handles whose listener had nothing queued when sweep() last looked: unchanged since their reading. */
  private readonly quiet = new Set<RtnlHandle>();

  /** With `listen` false no namespace gets a listener: every observe() reads every namespace. */
  constructor(private readonly listen = true) {}

  /**
   * A new observe/apply cycle: each named namespace's file is checked again on its next use, so a
   * namespace deleted and re-created under the same name since the last cycle is opened afresh;
   * unless nothing was mounted or unmounted since (mountsChanged): then none can have been.
   */
  newCycle(): void {
    if (this.entries.size === 0 || mountsChanged()) this.cycle++;
    this.quiet.clear();
  }

  /**
   * Look at every listener at once (one poll(2)) for announced changes; snapshot() then trusts the
   * answer instead of asking each listener. A change announced after the look stays queued for
   * the next cycle, as it would have after asking each one.
   */
  sweep(): void {
    this.quiet.clear();
    const listening = [...this.entries.values()].map((e) => e.handle).filter((h) => h.listenerFd !== null);
    const ready = readableSockets(listening.map((h) => h.listenerFd!));
    for (const h of listening) if (!ready.has(h.listenerFd!)) this.quiet.add(h);
  }

  /** The handle of `netns`; throws code ENOENT when the namespace does not exist (any more). */
  get(netns: Netns): RtnlHandle {
    return this.entry(netns).handle;
  }

  /** An fd on the named namespace, for IFLA_NET_NS_FD. */
  fd(netns: string): number {
    return this.entry(netns).fd!;
  }

  /** Like get(), but null when the namespace is gone; with `listen`, a new handle notices changes at once. */
  tryGet(netns: Netns, listen = false): RtnlHandle | null {
    try {
      return this.entry(netns, listen && this.listen).handle;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** Name → ifindex of the links of `netns` as last seen (may be stale: a miss or ENODEV means look again). */
  indexes(netns: Netns): Map<string, number> {
    return this.entry(netns).indexes;
  }

  /**
   * The index the kernel would give the next link of `netns`, when this process made the
   * namespace and so knows its links (past the highest; the kernel counts up from lo's 1); else
   * null. Someone else may have added a link since: the kernel then refuses the index (EBUSY).
   */
  nextIndex(netns: string): number | null {
    const e = this.entry(netns);
    if (!e.made) return null;
    let highest = 0;
    for (const index of e.indexes.values()) highest = Math.max(highest, index);
    return highest + 1;
  }

  /**
   * What observe() last read in `netns`, when the kernel has announced no change of a link,
   * address or route there since and vlannet has done nothing there; else null.
   */
  snapshot<T>(netns: Netns): T | null {
    const e = this.entry(netns);
    if (!this.quiet.delete(e.handle) && e.handle.changed()) e.snapshot = null;
    return e.snapshot as T | null;
  }

  /** Remember what was read in `netns`; call listening() before reading. */
  setSnapshot(netns: Netns, snapshot: unknown): void {
    this.entry(netns).snapshot = snapshot;
  }

  /** Notice changes in `netns` from now on. */
  listening(netns: Netns): void {
    if (this.listen) this.entry(netns).handle.listen();
  }

  /** vlannet is changing `netns`: the next observe() reads it afresh, and until then nothing listens there. */
  touch(netns: Netns): void {
    const e = this.entries.get(netns);
    if (!e) return;
    e.snapshot = null;
    e.handle.unlisten();
  }

  /** Drop every remembered reading: the next observe() reads each namespace afresh. */
  forgetReadings(): void {
    for (const e of this.entries.values()) e.snapshot = null;
    this.cycle++;
    this.quiet.clear();
  }

  /**
   * A named namespace vlannet has just created (createNamedNetns), with its fd, inode and a
   * handle opened inside it: nothing to open again.
   */
  adopt(netns: string, fd: number, ino: number, handle: RtnlHandle): void {
    this.forget(netns);
    this.entries.set(netns, { handle, fd, ino, checked: this.cycle, indexes: new Map<string, number>(), made: true, snapshot: null });
  }

  forget(netns: Netns): void {
    const e = this.entries.get(netns);
    if (!e) return;
    this.entries.delete(netns);
    e.handle.close();
    if (e.fd !== null) fs.closeSync(e.fd);
  }

  close(): void {
    for (const netns of [...this.entries.keys()]) this.forget(netns);
  }

  private entry(netns: Netns, listen = false): Entry {
    const cached = this.entries.get(netns);
    if (cached && (netns === null || cached.checked === this.cycle)) return cached;
    if (netns === null) {
      const e = {
        handle: RtnlHandle.open(null, null, listen),
        fd: null,
        ino: 0,
        checked: 0,
        indexes: new Map<string, number>(),
        made: false,
        snapshot: null,
      };
      this.entries.set(null, e);
      return e;
    }
    if (cached) {
      let st: fs.Stats;
      try {
        st = fs.statSync(`${NETNS_DIR}/${netns}`);
      } catch (e) {
        this.forget(netns);
        throw e;
      }
      if (isNamespaceDev(st.dev) && st.ino === cached.ino) {
        cached.checked = this.cycle;
        return cached;
      }
      this.forget(netns);
    }
    // Opened first, then checked with fstat: one walk of the path instead of two.
    const fd = openNetnsFd(netns);
    try {
      const st = fs.fstatSync(fd);
      // A file nothing is mounted on (a process killed while creating it) is no namespace yet.
      if (!isNamespaceDev(st.dev)) throw Object.assign(new Error(`${NETNS_DIR}/${netns} is not a namespace`), { code: 'ENOENT' });
      const e = {
        handle: RtnlHandle.open(netns, fd, listen),
        fd,
        ino: st.ino,
        checked: this.cycle,
        indexes: new Map<string, number>(),
        made: false,
        snapshot: null,
      };
      this.entries.set(netns, e);
      return e;
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }
}
