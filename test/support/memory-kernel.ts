// An in-memory kernel for fast executor, daemon and property tests. It models what vlannet relies
// on, with the kernel's answers: EEXIST for a taken name, address or route; ENODEV for a missing
// link or parent; ENOENT for a missing namespace; EBUSY for macvlan and ipvlan on one parent;
// deleting a parent deletes its macvlan/ipvlan/vlan children; deleting a namespace deletes its
// links; ipvlan mode and flag belong to the parent (the port); routes need the link up (ENETDOWN)
// and a gateway needs an on-link address (ENETUNREACH); a link going down loses its routes and
// IPv6 addresses; deleting an IPv4 primary address deletes its secondaries, and the last IPv4
// address takes the link's IPv4 routes with it; two macvlans of one MAC on one parent cannot both
// be up (EADDRINUSE); a link is renamed by link-set. Anything a test claims about the real kernel is tested against the real kernel.

import { addressInSubnet, networkOf } from '../../src/model/address.js';
import { netnsMark, ownerOf } from '../../src/model/owner.js';
import {
  OBSERVED_FORMAT_VERSION,
  VLANNET_ROUTE_PROTOCOL,
  type AddressState,
  type IpvlanFlag,
  type IpvlanMode,
  type Kernel,
  type KernelOp,
  type LinkChange,
  type LinkKind,
  type LinkState,
  type Netns,
  type ObservedState,
  type ObserveOptions,
  type RouteState,
} from '../../src/model/types.js';
import { KernelError } from '../../src/errors.js';

const RTPROT_KERNEL = 2;
const HOST = '';

interface Namespace {
  owned: boolean;
  links: Map<string, LinkState>;
  nextIndex: number;
}

const nsKey = (netns: Netns) => netns ?? HOST;
const clone = <T>(v: T): T => structuredClone(v);
const sameRoute = (a: RouteState, b: RouteState) =>
  a.netns === b.netns && a.family === b.family && a.dst === b.dst && (a.gateway ?? null) === (b.gateway ?? null) && a.dev === b.dev;
const defaultMetric = (r: RouteState) => r.metric ?? (r.family === 6 ? 1024 : 0);

export class MemoryKernel implements Kernel {
  private namespaces = new Map<string, Namespace>([[HOST, { owned: false, links: new Map(), nextIndex: 1 }]]);
  private addresses: AddressState[] = [];
  private routes: RouteState[] = [];
  /** ipvlan port state, by parent name. */
  private ports = new Map<string, { mode: IpvlanMode; flag: IpvlanFlag }>();
  private failures: { when: (op: KernelOp) => boolean; errno: string; detail: string }[] = [];
  private macCounter = 0;
  /** Every operation applied successfully, in order. */
  readonly applied: KernelOp[] = [];

  /** Pre-populate the kernel (parents, foreign links, drifted owned links …). Taken verbatim. */
  seed(state: Partial<Omit<ObservedState, 'format_version'>>): this {
    for (const n of state.namespaces ?? []) this.createNamespace(n.name, n.owned);
    for (const l of state.links ?? []) {
      if (l.netns !== null && !this.namespaces.has(l.netns)) this.createNamespace(l.netns, false);
      const ns = this.namespaces.get(nsKey(l.netns))!;
      const link = clone(l);
      ns.links.set(l.name, link);
      ns.nextIndex = Math.max(ns.nextIndex, l.index + 1);
      if (l.kind === 'ipvlan' && l.parent) this.ports.set(l.parent, { mode: (l.mode ?? 'l2') as IpvlanMode, flag: l.flag ?? 'bridge' });
    }
    this.addresses.push(...clone(state.addresses ?? []));
    this.routes.push(...clone(state.routes ?? []));
    return this;
  }

  /** Link kinds this kernel cannot make (a module missing): link-add refuses them, observe says so. */
  private unsupported: LinkKind[] = [];
  without(...kinds: LinkKind[]): this {
    this.unsupported = kinds;
    return this;
  }

  /** Make the next operation matching `when` fail with `errno`, without changing anything. */
  failNext(when: (op: KernelOp) => boolean, errno: string, detail = ''): this {
    this.failures.push({ when, errno, detail });
    return this;
  }

  async observe(netns: string[], opts: ObserveOptions = {}): Promise<ObservedState> {
    const look = new Set<string>();
    for (const [name, ns] of this.namespaces) {
      if (name === HOST) continue;
      if (opts.only) {
        if (opts.only.has(name)) look.add(name);
        continue;
      }
      const holdsOwned =
        [...ns.links.values()].some((l) => ownerOf(l)) ||
        this.routes.some((r) => r.netns === name && r.protocol === VLANNET_ROUTE_PROTOCOL);
      if (netns.includes(name) || ns.owned || holdsOwned) look.add(name);
    }
    const seen = (n: Netns) => n === null || look.has(n);
    const links = [...this.namespaces.entries()]
      .filter(([name]) => name === HOST || look.has(name))
      .flatMap(([, ns]) => [...ns.links.values()])
      .map((l) => this.withPort(l));
    return clone({
      format_version: OBSERVED_FORMAT_VERSION,
      ...(this.unsupported.length ? { unsupportedLinkKinds: this.unsupported } : {}),
      namespaces: [...look].sort().map((name) => ({ name, owned: this.namespaces.get(name)!.owned })),
      links,
      addresses: this.addresses.filter((a) => seen(a.netns)),
      routes: this.routes.filter((r) => seen(r.netns)),
    });
  }

  async apply(op: KernelOp): Promise<void> {
    const i = this.failures.findIndex((f) => f.when(op));
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw new KernelError(f!.errno, f!.detail, op);
    }
    this.perform(op);
    this.applied.push(clone(op));
  }

  close(): void {}

  private fail(errno: string, detail: string, op: KernelOp): never {
    throw new KernelError(errno, detail, op);
  }

  private ns(netns: Netns, op: KernelOp): Namespace {
    const ns = this.namespaces.get(nsKey(netns));
    if (!ns) this.fail('ENOENT', `namespace ${netns} does not exist`, op);
    return ns;
  }

  private link(netns: Netns, name: string, op: KernelOp): LinkState {
    const l = this.ns(netns, op).links.get(name);
    if (!l) this.fail('ENODEV', `no link ${name}${netns ? ` in ${netns}` : ''}`, op);
    return l;
  }

  private withPort(l: LinkState): LinkState {
    const port = l.kind === 'ipvlan' && l.parent ? this.ports.get(l.parent) : undefined;
    return port ? { ...l, mode: port.mode, flag: port.flag } : l;
  }

  private children(parent: string): LinkState[] {
    const out: LinkState[] = [];
    for (const ns of this.namespaces.values()) for (const l of ns.links.values()) if (l.parent === parent) out.push(l);
    return out;
  }

  private createNamespace(name: string, owned: boolean): void {
    const links = new Map<string, LinkState>();
    links.set('lo', {
      netns: name,
      name: 'lo',
      index: 1,
      kind: '',
      parent: null,
      mtu: 65536,
      mac: '00:00:00:00:00:00',
      up: true,
      alias: owned ? netnsMark(name) : null,
    });
    this.namespaces.set(name, { owned, links, nextIndex: 2 });
  }

  private nextMac(): string {
    const n = ++this.macCounter;
    return `02:00:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
  }

  private perform(op: KernelOp): void {
    switch (op.op) {
      case 'netns-add':
        if (this.namespaces.has(op.netns)) this.fail('EEXIST', `namespace ${op.netns} exists`, op);
        this.createNamespace(op.netns, true);
        return;
      case 'netns-del': {
        const ns = this.ns(op.netns, op);
        for (const l of [...ns.links.values()]) this.removeLink(l);
        this.namespaces.delete(op.netns);
        return;
      }
      case 'link-add':
        this.addLink(op);
        return;
      case 'link-set':
        this.setLink(op.netns, op.name, op.set, op);
        return;
      case 'link-del':
        this.removeLink(this.link(op.netns, op.name, op));
        return;
      case 'addr-add': {
        const a = op.addr;
        const l = this.link(a.netns, a.link, op);
        if (a.family === 6 && l.ipv6Disabled) this.fail('EACCES', 'IPv6 is disabled on the device', op);
        if (this.addresses.some((x) => x.netns === a.netns && x.link === a.link && x.address === a.address))
          this.fail('EEXIST', 'address exists', op);
        this.addresses.push(clone(a));
        // As the kernel: an IPv4 host address (/32) makes no prefix route.
        if (a.family === 4 && a.prefixLength === 32) return;
        this.routes.push({
          netns: a.netns,
          family: a.family,
          dst: networkOf(a.address, a.prefixLength),
          gateway: null,
          dev: a.link,
          protocol: RTPROT_KERNEL,
        });
        return;
      }
      case 'addr-del': {
        const a = op.addr;
        this.link(a.netns, a.link, op);
        const i = this.addresses.findIndex(
          (x) => x.netns === a.netns && x.link === a.link && x.address === a.address && x.prefixLength === a.prefixLength,
        );
        if (i < 0) this.fail('EADDRNOTAVAIL', 'no such address', op);
        const prefix = networkOf(a.address, a.prefixLength);
        const onLink = (x: { netns: Netns }, dev: string) => x.netns === a.netns && dev === a.link;
        // IPv4: deleting a subnet's primary address deletes its secondaries too (promote_secondaries
        // is off by default); when the link has no IPv4 address left, its IPv4 routes go.
        const doomed = new Set([this.addresses[i]!]);
        if (a.family === 4) {
          const primary = this.addresses.find(
            (x) => onLink(x, x.link) && x.family === 4 && networkOf(x.address, x.prefixLength) === prefix,
          );
          if (primary === this.addresses[i]) {
            for (const x of this.addresses)
              if (onLink(x, x.link) && x.family === 4 && networkOf(x.address, x.prefixLength) === prefix) doomed.add(x);
          }
        }
        this.addresses = this.addresses.filter((x) => !doomed.has(x));
        this.routes = this.routes.filter((r) => !(onLink(r, r.dev) && r.protocol === RTPROT_KERNEL && r.dst === prefix));
        if (a.family === 4 && !this.addresses.some((x) => onLink(x, x.link) && x.family === 4)) {
          this.routes = this.routes.filter((r) => !(onLink(r, r.dev) && r.family === 4));
        }
        return;
      }
      case 'route-add': {
        const r = op.route;
        const l = this.link(r.netns, r.dev, op);
        if (!l.up) this.fail('ENETDOWN', `${r.dev} is down`, op);
        if (
          r.gateway &&
          !this.addresses.some(
            (a) =>
              a.netns === r.netns &&
              a.link === r.dev &&
              a.family === r.family &&
              addressInSubnet(r.gateway!, `${a.address}/${a.prefixLength}`),
          )
        ) {
          this.fail('ENETUNREACH', `gateway ${r.gateway} is not on-link on ${r.dev}`, op);
        }
        if (
          this.routes.some((x) => x.netns === r.netns && x.family === r.family && x.dst === r.dst && defaultMetric(x) === defaultMetric(r))
        ) {
          this.fail('EEXIST', 'route exists', op);
        }
        this.routes.push(clone(r));
        return;
      }
      case 'route-del': {
        const i = this.routes.findIndex((x) => sameRoute(x, op.route));
        this.ns(op.route.netns, op);
        if (i < 0) this.fail('ESRCH', 'no such route', op);
        this.routes.splice(i, 1);
        return;
      }
    }
  }

  private addLink(op: Extract<KernelOp, { op: 'link-add' }>): void {
    const s = op.link;
    const ns = this.ns(s.netns, op);
    if (this.unsupported.includes(s.kind)) this.fail('EOPNOTSUPP', 'Unknown device type', op);
    if (ns.links.has(s.name)) this.fail('EEXIST', `link ${s.name} exists`, op);
    let parent: LinkState | undefined;
    if (s.kind !== 'dummy') {
      parent = this.namespaces.get(HOST)!.links.get(s.parent ?? '');
      if (!parent) this.fail('ENODEV', `parent ${s.parent} does not exist`, op);
      const siblings = this.children(parent.name);
      const other = s.kind === 'macvlan' ? 'ipvlan' : s.kind === 'ipvlan' ? 'macvlan' : null;
      if (other && siblings.some((c) => c.kind === other)) this.fail('EBUSY', `${parent.name} carries ${other} links`, op);
      if (s.kind === 'vlan' && siblings.some((c) => c.kind === 'vlan' && c.vlanId === s.vlanId))
        this.fail('EEXIST', `vlan ${s.vlanId} exists on ${parent.name}`, op);
      if (s.mtu !== null && s.mtu > parent.mtu) this.fail('EINVAL', `mtu ${s.mtu} is greater than ${parent.name}'s ${parent.mtu}`, op);
    }
    const link: LinkState = {
      netns: s.netns,
      name: s.name,
      // As the kernel does with `index N`: the index asked for when it is free, else the next one.
      index: s.index !== undefined && ![...ns.links.values()].some((l) => l.index === s.index) ? s.index : ns.nextIndex++,
      kind: s.kind,
      parent: s.kind === 'dummy' ? null : s.parent,
      mtu: s.mtu ?? parent?.mtu ?? 1500,
      mac: s.kind === 'macvlan' || s.kind === 'dummy' ? (s.mac ?? this.nextMac()) : parent!.mac,
      up: s.up,
      alias: s.alias || null,
      ipv6Disabled: s.ipv6Disabled ?? false,
    };
    if (s.kind === 'macvlan') link.mode = s.mode;
    if (link.up) this.checkMacFree(link, op);
    if (s.kind === 'vlan') {
      link.vlanId = s.vlanId;
      link.vlanProtocol = '802.1Q';
    }
    if (s.kind === 'ipvlan') {
      this.ports.set(parent!.name, { mode: s.mode, flag: s.flag });
    }
    ns.nextIndex = Math.max(ns.nextIndex, link.index + 1);
    ns.links.set(s.name, link);
  }

  private setLink(netns: Netns, name: string, set: LinkChange, op: KernelOp): void {
    const l = this.link(netns, name, op);
    const parent = l.parent !== null ? this.namespaces.get(HOST)!.links.get(l.parent) : undefined;
    if (set.mtu !== undefined && parent && set.mtu > parent.mtu)
      this.fail('EINVAL', `mtu ${set.mtu} is greater than ${parent.name}'s ${parent.mtu}`, op);
    if (set.mode !== undefined && l.kind === 'macvlan' && (set.mode === 'passthru') !== (l.mode === 'passthru'))
      this.fail('EINVAL', 'cannot change to or from passthru', op);
    if (set.name !== undefined && set.name !== name) {
      const ns = this.ns(netns, op);
      if (ns.links.has(set.name)) this.fail('EEXIST', `link ${set.name} exists`, op);
      ns.links.delete(name);
      l.name = set.name;
      ns.links.set(set.name, l);
      for (const a of this.addresses) if (a.netns === netns && a.link === name) a.link = set.name;
      for (const r of this.routes) if (r.netns === netns && r.dev === name) r.dev = set.name;
      name = set.name;
    }
    if (set.mtu !== undefined) l.mtu = set.mtu;
    if (l.kind === 'ipvlan' && (set.mode !== undefined || set.flag !== undefined)) {
      const port = this.ports.get(l.parent!)!;
      this.ports.set(l.parent!, { mode: (set.mode ?? port.mode) as IpvlanMode, flag: set.flag ?? port.flag });
    } else if (set.mode !== undefined) l.mode = set.mode;
    if (set.mac !== undefined) l.mac = set.mac;
    if (set.alias !== undefined) l.alias = set.alias || null;
    if (set.ipv6Disabled !== undefined) {
      l.ipv6Disabled = set.ipv6Disabled;
      if (set.ipv6Disabled) this.forget(netns, name, 6);
    }
    if (set.up !== undefined && set.up !== l.up) {
      if (set.up) this.checkMacFree(l, op);
      l.up = set.up;
      if (set.up) {
        for (const a of this.addresses) {
          if (a.netns !== netns || a.link !== name || a.family !== 4 || a.prefixLength === 32) continue;
          this.routes.push({
            netns,
            family: 4,
            dst: networkOf(a.address, a.prefixLength),
            gateway: null,
            dev: name,
            protocol: RTPROT_KERNEL,
          });
        }
      } else {
        this.routes = this.routes.filter((r) => !(r.netns === netns && r.dev === name));
        this.forget(netns, name, 6);
      }
    }
  }

  /** A macvlan comes up only with a MAC no other macvlan that is up on its parent has (EADDRINUSE). */
  private checkMacFree(l: LinkState, op: KernelOp): void {
    if (l.kind !== 'macvlan' || !l.parent) return;
    const twin = this.children(l.parent).find(
      (c) => c !== l && c.kind === 'macvlan' && c.up && c.mac.toLowerCase() === l.mac.toLowerCase(),
    );
    if (twin) this.fail('EADDRINUSE', `${twin.name} on ${l.parent} has MAC ${l.mac}`, op);
  }

  /** Drop a link's addresses and routes of one family (IPv6 disabled, link down). */
  private forget(netns: Netns, name: string, family: 6): void {
    this.addresses = this.addresses.filter((a) => !(a.netns === netns && a.link === name && a.family === family));
    this.routes = this.routes.filter((r) => !(r.netns === netns && r.dev === name && r.family === family));
  }

  private removeLink(l: LinkState): void {
    if (l.netns === null) for (const c of this.children(l.name)) if (c !== l) this.removeLink(c);
    this.namespaces.get(nsKey(l.netns))?.links.delete(l.name);
    this.addresses = this.addresses.filter((a) => !(a.netns === l.netns && a.link === l.name));
    this.routes = this.routes.filter((r) => !(r.netns === l.netns && r.dev === l.name));
    if (l.kind === 'ipvlan' && l.parent && !this.children(l.parent).some((c) => c.kind === 'ipvlan')) this.ports.delete(l.parent);
  }
}

export { RTPROT_KERNEL };
