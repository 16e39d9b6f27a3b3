// The Kernel of types.ts over rtnetlink: observe() reads every namespace at once, apply() sends
// one operation's requests. One adapter holds one socket per namespace for its whole life (the
// daemon keeps one adapter); close() releases them.

import {
  netnsOfOp,
  type Kernel,
  type KernelOp,
  type LinkKind,
  type NamespaceUser,
  type ObservedState,
  type ObserveOptions,
} from '../model/types.js';
import { KernelError, SyscallError, NetlinkError } from '../errors.js';
import { OrphanFinder } from './orphans.js';
import { unsupportedLinkKinds } from './probe.js';
import { usersOf } from './processes.js';

import { NamespaceFactory } from './factory.js';
import { Handles } from './handles.js';
import { observe } from './observe.js';
import { addAddress, addLink, addNetns, addRoute, delAddress, delLink, delNetns, delRoute, setLink } from './operations.js';

import { closeSysctls } from './sysctl.js';

export interface NetlinkKernelOptions {
  /**
   * Keep a listener socket (rtnetlink multicast groups) in every namespace read, so that a later
   * observe() re-reads only the namespaces where something changed: for a process that observes
   * again and again (the daemon). Default true. A one-shot command is faster without: the kernel
   * walks every such socket of every namespace to open or close one (netlink_update_listeners,
   * ~140 µs each at a thousand) and to deliver any rtnetlink notification anywhere.
   */
  listen?: boolean;
  /**
   * Make namespaces on a second thread when an execution makes at least this many (see
   * factory.ts); Infinity: never. Default 64: below that, the worker's start (~50 ms, most of it
   * on its own thread) is not paid back.
   */
  factoryThreshold?: number;
}

export class NetlinkKernel implements Kernel {
  private readonly handles: Handles;
  private readonly factoryThreshold: number;
  private factory: NamespaceFactory | null = null;
  /** Namespaces made on the factory's thread, for as long as this adapter lives (tests, benchmarks). */
  madeElsewhere = 0;
  /** What the kernel refused to make in a throwaway namespace: tried once, and again after refresh(). */
  private unsupported: LinkKind[] | null = null;
  private readonly orphans = new OrphanFinder();

  constructor(options: NetlinkKernelOptions = {}) {
    this.handles = new Handles(options.listen ?? true);
    this.factoryThreshold = options.factoryThreshold ?? 64;
  }

  prepare(ops: readonly KernelOp[]): void {
    const names = ops.flatMap((op) => (op.op === 'netns-add' ? [op.netns] : []));
    if (names.length >= this.factoryThreshold && !this.factory) this.factory = new NamespaceFactory(names);
  }

  idle(): boolean {
    return this.factory?.help() ?? false;
  }

  /** Resolves once the namespace worker prepare() started (if any) takes namespaces (tests, benchmarks). */
  async workerStarted(): Promise<void> {
    await this.factory?.whenStarted();
  }

  async finish(): Promise<void> {
    const factory = this.factory;
    if (!factory) return;
    this.factory = null;
    await factory.close();
    this.madeElsewhere += factory.made;
  }

  async observe(netns: string[], opts: ObserveOptions = {}): Promise<ObservedState> {
    const state = observe(this.handles, netns, opts.afterApply ?? false, opts.only);
    this.unsupported ??= unsupportedLinkKinds();
    if (this.unsupported.length) state.unsupportedLinkKinds = this.unsupported;
    // The check after an apply reads only what the apply touched; orphans are not its business.
    if (!opts.afterApply) {
      const orphans = this.orphans.find();
      if (orphans.length) state.orphans = orphans;
    }
    return state;
  }

  async namespaceUsers(names: readonly string[]): Promise<Record<string, NamespaceUser[]>> {
    return Object.fromEntries(usersOf(names));
  }

  async apply(op: KernelOp): Promise<void> {
    this.factory?.tick();
    try {
      await this.perform(op);
    } catch (e) {
      throw asKernelError(e, op);
    }
  }

  refresh(): void {
    this.handles.forgetReadings();
    this.unsupported = null; // a module may have been loaded since
  }

  close(): void {
    // An execution always finishes itself; this is for an adapter closed in the middle of one.
    void this.finish().catch(() => {
      /* closing anyway */
    });
    this.handles.close();
    closeSysctls();
  }

  private async perform(op: KernelOp): Promise<void> {
    const h = this.handles;
    // Most changes are announced to the listener of their namespace anyway; not the IPv6 sysctl.
    h.touch(netnsOfOp(op));
    switch (op.op) {
      case 'netns-add':
        return addNetns(h, op.netns, this.factory);
      case 'netns-del':
        return delNetns(h, op.netns);
      case 'link-add':
        return addLink(h, op.link);
      case 'link-set':
        return setLink(h, op.netns, op.name, op.set);
      case 'link-del':
        return delLink(h, op.netns, op.name);
      case 'addr-add':
        return addAddress(h, op.addr);
      case 'addr-del':
        return delAddress(h, op.addr);
      case 'route-add':
        return addRoute(h, op.route);
      case 'route-del':
        return delRoute(h, op.route);
    }
  }
}

/** Every failure of an operation as KernelError: the errno name, then what the kernel said. */
function asKernelError(e: unknown, op: KernelOp): KernelError {
  if (e instanceof KernelError) return e;
  if (e instanceof NetlinkError) return new KernelError(e.errno, e.detail, op);
  if (e instanceof SyscallError) return new KernelError(e.code, e.message, op);
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
    // A namespace missing when its handle was opened (ENOENT on /run/netns/NAME).
    const path = (e as NodeJS.ErrnoException).path;
    return new KernelError(code, path ? `${(e as NodeJS.ErrnoException).syscall ?? 'open'} ${path}` : String((e as Error).message), op);
  }
  return new KernelError('EINVAL', String((e as Error).message ?? e), op);
}
