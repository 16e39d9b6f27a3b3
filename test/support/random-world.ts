// Random worlds for property tests: configurations, kernels seeded with links vlannet does not
// own, and changes made behind vlannet's back. Seeded, so a failing case replays from its seed.

import { ownerOf } from '../../src/model/owner.js';
import {
  VLANNET_ROUTE_PROTOCOL,
  type Config,
  type EndpointConfig,
  type KernelOp,
  type NetworkConfig,
  type ObservedState,
} from '../../src/model/types.js';
import { MemoryKernel } from './memory-kernel.js';
import { config, defaultRoute, endpoint, link, linkSpec, network, subnet } from '../fixtures/plan/build.js';

/** mulberry32: a tiny seeded PRNG, so a failing case can be replayed from its seed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!, chance: (p: number) => next() < p };
}
export type Rng = ReturnType<typeof prng>;

const PARENTS = ['eth0', 'eth1', 'eth0.50', 'eth0.60', 'eth1.70', 'eth0.77'] as const;

export function randomConfig(r: Rng): Config {
  const networks: NetworkConfig[] = [];
  const parentDriver = new Map<string, { driver: 'macvlan' | 'ipvlan'; mode: string; flag: string }>();
  const count = 1 + r.int(4);
  for (let i = 0; i < count; i++) {
    const dummy = r.chance(0.15);
    const parent = dummy ? `dm${i}` : r.pick(PARENTS);
    const shared = parentDriver.get(parent) ?? {
      driver: r.pick(['macvlan', 'ipvlan'] as const),
      mode: r.pick(['l2', 'l3', 'l3s']),
      flag: r.pick(['bridge', 'private', 'vepa']),
    };
    parentDriver.set(parent, shared);
    const { driver } = shared;
    const l3 = driver === 'ipvlan' && shared.mode !== 'l2';
    const third = r.int(2);
    const subnets = [subnet(`10.${i}.${third}.0/${r.pick([24, 28])}`, l3 || r.chance(0.2) ? null : `10.${i}.${third}.1`)];
    if (r.chance(0.4)) subnets.push(subnet(`fd00:${i}::/64`, l3 ? null : `fd00:${i}::1`));
    const mode = driver === 'macvlan' ? r.pick(['bridge', 'private', 'vepa']) : (shared.mode as 'l2');
    const reachable = !dummy && (mode === 'bridge' || (driver === 'ipvlan' && mode === 'l2'));
    networks.push(
      network(`n${i}`, {
        driver,
        parent,
        parentKind: dummy ? 'dummy' : /\./.test(parent) ? 'vlan' : 'link',
        internal: dummy,
        mode,
        flag: driver === 'ipvlan' ? (shared.flag as 'bridge') : null,
        mtu: r.pick([null, null, 1400, 1500]),
        subnets,
        hostAccess:
          reachable && r.chance(0.3)
            ? { ifname: `vh-n${i}`, ipv4: null, ipv6: null, at: 'vlannet.yaml:9:5', path: `networks.n${i}.host_access` }
            : null,
      }),
    );
  }
  const endpoints: EndpointConfig[] = [];
  const used = new Set<string>();
  const defaults = new Set<string>();
  for (let i = 0; i < r.int(7); i++) {
    const net = r.pick(networks);
    const name = `e${r.int(9)}`;
    if (endpoints.some((e) => e.name === name)) continue;
    const netns = r.pick([name, name, name, 'shared', 'theirs', null]);
    const ifname = netns === 'shared' || netns === 'theirs' || netns === null ? `v${name}` : r.pick(['eth0', 'eth0', 'net1']);
    if (used.has(`${netns}/${ifname}`)) continue;
    used.add(`${netns}/${ifname}`);
    const wantsDefault = netns !== null && !net.internal && !defaults.has(`${netns}`);
    if (wantsDefault) defaults.add(`${netns}`);
    const s = net.subnets[0]!;
    const ipv4 = r.chance(0.2) ? `${s.cidr.split('.').slice(0, 3).join('.')}.${10 + Number(name.slice(1))}` : null;
    endpoints.push(
      endpoint(name, net.name, {
        netns,
        ifname,
        ipv4,
        defaultRoute: wantsDefault,
        mac: net.driver === 'macvlan' && r.chance(0.2) ? `02:aa:00:00:00:0${name.slice(1)}` : null,
      }),
    );
  }
  return config(networks, endpoints);
}

export function seedKernel(r: Rng): MemoryKernel {
  const k = new MemoryKernel();
  k.seed({
    namespaces: [{ name: 'theirs', owned: false }],
    links: [
      link('eth0', { index: 2, mtu: 9000 }),
      link('eth1', { index: 3 }),
      link('veth9', { index: 4, kind: 'veth' }),
      link('veth0', { netns: 'theirs', index: 2, kind: 'veth' }),
      ...(r.chance(0.5) ? [link('eth0.77', { index: 5, kind: 'vlan', parent: 'eth0', vlanId: 77 })] : []),
    ],
    addresses: [
      { netns: null, link: 'eth0', family: 4, address: '192.168.1.249', prefixLength: 24 },
      { netns: 'theirs', link: 'veth0', family: 4, address: '172.17.0.2', prefixLength: 16 },
    ],
    routes: [defaultRoute(null, 'eth0', '192.168.1.1', 4, 3), defaultRoute('theirs', 'veth0', '172.17.0.1', 4, 3)],
  });
  return k;
}

/** Random changes behind vlannet's back to what it owns (the kernel may refuse some: ignored). */
export async function drift(k: MemoryKernel, r: Rng, obs: ObservedState): Promise<void> {
  const owned = obs.links.filter((l) => ownerOf(l));
  for (let i = 0; i < r.int(4); i++) {
    const l = owned.length ? r.pick(owned) : undefined;
    if (!l) return;
    const ops: KernelOp[] = [
      { op: 'link-set', netns: l.netns, name: l.name, set: { up: false }, before: {} },
      { op: 'link-set', netns: l.netns, name: l.name, set: { mtu: 1300 }, before: {} },
      { op: 'link-set', netns: l.netns, name: l.name, set: { mode: l.kind === 'macvlan' ? 'private' : 'l3' }, before: {} },
      {
        op: 'link-del',
        netns: l.netns,
        name: l.name,
        before: linkSpec({ netns: l.netns, name: l.name, kind: 'dummy', parent: null, mode: undefined }),
        addresses: [],
        routes: [],
      },
      { op: 'addr-add', addr: { netns: l.netns, link: l.name, family: 4, address: '10.0.0.99', prefixLength: 24 } },
      ...obs.addresses.filter((a) => a.netns === l.netns && a.link === l.name).map((addr): KernelOp => ({ op: 'addr-del', addr })),
      ...obs.routes.filter((x) => x.protocol === VLANNET_ROUTE_PROTOCOL).map((route): KernelOp => ({ op: 'route-del', route })),
      ...obs.namespaces.filter((n) => n.owned).map((n): KernelOp => ({ op: 'netns-del', netns: n.name })),
    ];
    if (l.netns === null && (l.kind === 'vlan' || l.kind === 'dummy')) {
      // Someone else's link on a parent vlannet created: that parent must never be deleted now.
      const kind = r.pick(['macvlan', 'ipvlan'] as const);
      ops.push({
        op: 'link-add',
        link: linkSpec({
          name: `x${r.int(100)}`,
          kind,
          parent: l.name,
          mode: kind === 'macvlan' ? 'bridge' : 'l2',
          flag: kind === 'ipvlan' ? 'bridge' : undefined,
        }),
      });
    }
    await k.apply(r.pick(ops)).catch(() => undefined);
  }
}
