// Adoption, the reverse of desired.ts: what vlannet owns in the kernel → the config that reproduces
// it (`vlannet show --as-config`), so that a running host can be put into git. Pure: the result is
// plain data in the shape of the file (the CLI writes it as YAML), with notes that become comments
// at their place.
//
// The kernel records less than the file says: no network names (but an internal network's, in its
// dummy link's mark), no subnets, gateways or pools. What it does record is reproduced exactly:
// every address as a static `ipv4:`/`ipv6:` (an automatic allocation might pick another), every
// MTU, mode and flag, namespace and interface name, and which endpoints route a namespace's default
// traffic. Networks are made from the endpoints: one per driver, parent, mode, flag and MTU (and
// per dummy link), split where endpoints share no subnet, with the subnets their addresses are in.
// Whatever the file cannot say exactly (an endpoint without the address family its subnet-mates
// have, two gateways in one subnet, an empty namespace vlannet made …) is a note with `changes`:
// applying the file would change the kernel there. The CLI plans the file against the same state
// as a last check.

import { firstUsable, ipOf, isLinkLocal, isPointToPoint, networkOf, overlap, parseCidr, within } from './address.js';
import { groupBy } from './collections.js';
import { isUnfinished, ownerOf, type OwnerMark } from './owner.js';
import {
  VLANNET_ROUTE_PROTOCOL,
  type AddressState,
  type Diagnostic,
  type Family,
  type LinkState,
  type ObservedState,
  type RouteState,
} from './types.js';

// The file's shape (config/schema.ts's input; model may not import config), keys in the order
// they are written. Defaults are left out.
export interface AdoptedVlan {
  parent: string;
  id: number;
  mtu?: number;
}
export interface AdoptedSubnet {
  subnet: string;
  gateway?: string;
}
export interface AdoptedNetwork {
  driver: 'macvlan' | 'ipvlan';
  parent?: string;
  internal?: true;
  mode: string;
  flag?: string;
  mtu?: number;
  subnets?: AdoptedSubnet[];
  /** Written out whole (name and addresses as the kernel holds them), so that the file is exact. */
  host_access?: { ifname: string; ipv4?: string; ipv6?: string };
}
export interface AdoptedEndpoint {
  network: string;
  netns?: string;
  ifname?: string;
  ipv4?: string;
  ipv6?: string;
  default_route?: false;
}
export interface AdoptedConfig {
  version: 1;
  vlans: Record<string, AdoptedVlan>;
  networks: Record<string, AdoptedNetwork>;
  endpoints: Record<string, AdoptedEndpoint>;
}

/** A comment for the file, before the entry at `path` ([]: the top of the file). */
export interface AdoptNote {
  path: (string | number)[];
  text: string;
  /** Applying the file would change the kernel here: the file cannot say what the kernel holds. */
  changes: boolean;
}

export interface Adopted {
  config: AdoptedConfig;
  notes: AdoptNote[];
}

export interface AdoptOptions {
  /** The name vlannet gives the dummy link of an internal network (config/names.ts). */
  dummyName(network: string): string;
}

/** Interface names an endpoint gets when the file does not say (config/normalise.ts). */
const DEFAULT_IFNAME = 'eth0';
const HOST_NETNS = 'host';
/** The MTU a dummy link vlannet makes gets, and keeps when the file names none (plan/links.ts). */
const DUMMY_MTU = 1500;
const DEFAULT_MODE = { macvlan: 'bridge', ipvlan: 'l2' } as const;
const DEFAULT_FLAG = 'bridge';

const place = (netns: string | null, name: string) => `${netns ?? ''}\0${name}`;
const where = (netns: string | null) => (netns === null ? 'the host namespace' : `namespace ${netns}`);
const cidrText = (a: AddressState) => `${a.address}/${a.prefixLength}`;
const routeText = (r: Pick<RouteState, 'family' | 'dst' | 'gateway'>) =>
  `${r.family === 6 ? 'IPv6 ' : 'IPv4 '}${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}`;
const routeKey = (r: Pick<RouteState, 'family' | 'dst' | 'gateway'>) => `${r.family}|${r.dst}|${r.gateway ?? ''}`;
const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const isRouted = (driver: string, mode: string) => driver === 'ipvlan' && (mode === 'l3' || mode === 'l3s');

/** Addresses in numeric order (ip-address's numbers); IPv4 before IPv6. */
function byAddress(a: string, b: string): number {
  const [x, y] = [ipOf(a), ipOf(b)];
  const fa = a.includes(':') ? 6 : 4;
  const fb = b.includes(':') ? 6 : 4;
  if (fa !== fb) return fa - fb;
  const d = x.bigInt() - y.bigInt();
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** Subnets (canonical CIDRs) in numeric order, IPv4 first, then by prefix. */
function byCidr(a: string, b: string): number {
  const [na, pa] = a.split('/');
  const [nb, pb] = b.split('/');
  return byAddress(na!, nb!) || Number(pa) - Number(pb);
}

/** An endpoint link vlannet owns, with what the kernel holds on it. */
interface Held {
  name: string;
  mark: OwnerMark;
  link: LinkState;
  /** Its addresses per family, link-local ones aside, in the kernel's order. */
  addresses: Record<Family, AddressState[]>;
  /** vlannet's routes through it. */
  routes: RouteState[];
}

/** Endpoints that become one network. */
interface Group {
  driver: 'macvlan' | 'ipvlan';
  parent: string;
  /** The network named by the dummy link's mark, for an internal network. */
  internal: string | null;
  mode: string;
  flag: string | null;
  mtu: number | null;
  endpoints: Held[];
  subnets: string[];
}

export function adoptConfig(observed: ObservedState, options: AdoptOptions): Adopted {
  const notes: AdoptNote[] = [];
  const note = (path: AdoptNote['path'], text: string, changes = true) => notes.push({ path, text, changes });
  const hostLinks = new Map(observed.links.filter((l) => l.netns === null).map((l) => [l.name, l]));
  const addressesAt = groupBy(
    observed.addresses.filter((a) => !isLinkLocal(a.address)),
    (a) => place(a.netns, a.link),
  );
  const ours = observed.routes.filter((r) => r.protocol === VLANNET_ROUTE_PROTOCOL);
  const routesOn = groupBy(ours, (r) => place(r.netns, r.dev));
  const explained = new Set<RouteState>();

  // What vlannet owns, by role; what the file cannot describe goes (apply deletes it).
  const vlanLinks: LinkState[] = [];
  const dummies = new Map<string, { link: LinkState; network: string }>(); // by link name
  const shims: { link: LinkState; network: string; taken: boolean }[] = [];
  const endpointLinks = new Map<string, { link: LinkState; mark: OwnerMark }[]>();
  const sorted = [...observed.links].sort((a, b) => byText(a.netns ?? '', b.netns ?? '') || byText(a.name, b.name));
  for (const link of sorted) {
    const mark = ownerOf(link);
    if (!mark) {
      if (isUnfinished(link))
        note([], `link ${link.name} in ${where(link.netns)} is one vlannet began to make and never marked: apply deletes it`);
      continue;
    }
    if (mark.role === 'vlan' && link.kind === 'vlan' && link.netns === null) {
      vlanLinks.push(link);
      if (mark.name !== link.name)
        note(
          ['vlans', link.name],
          `its mark names it ${mark.name}, which apply would make it again as: the file names it as the kernel does`,
        );
    } else if (mark.role === 'dummy' && link.kind === 'dummy' && link.netns === null) {
      const twin = [...dummies.values()].find((d) => d.network === mark.name);
      if (twin)
        note(
          [],
          `network ${mark.name} has a second dummy link, ${link.name} (the file keeps ${twin.link.name}): apply would delete it and the endpoints on it`,
        );
      else dummies.set(link.name, { link, network: mark.name });
    } else if (mark.role === 'shim' && (link.kind === 'macvlan' || link.kind === 'ipvlan') && link.netns === null) {
      shims.push({ link, network: mark.name, taken: false });
    } else if (mark.role === 'endpoint' && (link.kind === 'macvlan' || link.kind === 'ipvlan') && link.mode !== 'source') {
      endpointLinks.set(mark.name, [...(endpointLinks.get(mark.name) ?? []), { link, mark }]);
    } else {
      const what = [link.kind || 'device', link.mode].filter(Boolean).join(' ');
      note(
        [],
        `link ${link.name} in ${where(link.netns)} carries vlannet's mark "${link.alias}" but is a ${what} there, which the file cannot describe: apply would delete it`,
      );
    }
  }

  // Endpoints: one link each (a second one for the same name is deleted by any apply).
  const held: Held[] = [];
  for (const [name, links] of [...endpointLinks].sort(([a], [b]) => byText(a, b))) {
    const { link, mark } = links[0]!;
    for (const other of links.slice(1))
      note(
        [],
        `endpoint ${name} has a second link, ${other.link.name} in ${where(other.link.netns)}: the file keeps ${link.name} in ${where(link.netns)}, so apply would delete the other`,
      );
    const at = addressesAt.get(place(link.netns, link.name)) ?? [];
    held.push({
      name,
      mark,
      link,
      addresses: { 4: at.filter((a) => a.family === 4), 6: at.filter((a) => a.family === 6) },
      routes: routesOn.get(place(link.netns, link.name)) ?? [],
    });
  }

  // Networks: endpoints grouped by what a network decides for its links.
  const groups = new Map<string, Group>();
  const mtuOf = (name: string) => hostLinks.get(name)?.mtu ?? null;
  for (const e of held) {
    const l = e.link;
    const driver = l.kind as 'macvlan' | 'ipvlan';
    const mode = l.mode ?? DEFAULT_MODE[driver];
    const flag = driver === 'ipvlan' ? (l.flag ?? DEFAULT_FLAG) : null;
    const dummy = dummies.get(l.parent!);
    if (dummy) {
      // One network per dummy link, whatever its endpoints are: its name is in the dummy's mark.
      const key = `dummy\0${dummy.link.name}`;
      const g = groups.get(key);
      if (g) g.endpoints.push(e);
      else {
        const mtu = dummy.link.mtu === DUMMY_MTU ? null : dummy.link.mtu;
        groups.set(key, { driver, parent: dummy.link.name, internal: dummy.network, mode, flag, mtu, endpoints: [e], subnets: [] });
      }
      continue;
    }
    const mtu = l.mtu === mtuOf(l.parent!) ? null : l.mtu;
    const key = [driver, l.parent, mode, flag, mtu].join('\0');
    const g = groups.get(key);
    if (g) g.endpoints.push(e);
    else groups.set(key, { driver, parent: l.parent!, internal: null, mode, flag, mtu, endpoints: [e], subnets: [] });
  }
  // An internal network without endpoints: only its dummy link says it exists.
  const empty = [...dummies.values()].filter((d) => ![...groups.values()].some((g) => g.internal === d.network));

  const networks: { name: string; group: Group }[] = [];
  const taken = new Set<string>([...dummies.values()].map((d) => d.network));
  for (const d of [...dummies.values()].sort((a, b) => byText(a.network, b.network))) {
    const expected = options.dummyName(d.network);
    if (d.link.name !== expected)
      note(
        ['networks', d.network],
        `its dummy link is ${d.link.name}, where vlannet names it ${expected}: apply would replace it and the endpoints on it`,
      );
  }
  const ordered = [...groups.values()].sort((a, b) => byText(groupKey(a), groupKey(b)));
  const hostAccessOf = new Map<Group, LinkState>();
  for (const g of ordered) {
    if (g.internal !== null) {
      subnetsOf(g);
      networks.push({ name: g.internal, group: g });
      continue;
    }
    const parts = splitBySubnets(g);
    const base = [
      `${g.driver}-${g.parent}`,
      g.mode !== DEFAULT_MODE[g.driver] ? g.mode : '',
      g.flag !== null && g.flag !== DEFAULT_FLAG ? g.flag : '',
      g.mtu !== null ? `mtu${g.mtu}` : '',
    ]
      .filter(Boolean)
      .join('-')
      .replace(/[^A-Za-z0-9_.-]/g, '_');
    for (const part of parts) {
      // A host-access link names its network (its mark): the network it serves takes that name.
      const shim = shimOf(part, shims, addressesAt);
      let name = shim && !taken.has(shim.network) ? shim.network : base;
      for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
      taken.add(name);
      networks.push({ name, group: part });
      if (shim) hostAccessOf.set(part, shim.link);
    }
  }
  for (const s of shims)
    if (!s.taken)
      note(
        [],
        `link ${s.link.name} is the host access of network ${s.network}, but no network of this file is one it could serve (a ${s.link.kind} ${s.link.kind === 'macvlan' ? 'bridge' : 'l2'} network on ${s.link.parent} with its addresses): apply would delete it`,
      );
  networks.sort((a, b) => byText(a.name, b.name));
  // Subnets of networks on one parent must not overlap (the rules refuse it): endpoints of one
  // subnet whose links differ in mode or MTU cannot be described.
  const seen: { cidr: string; network: string; parent: string }[] = [];
  for (const { name, group: g } of networks) {
    for (const [i, cidr] of g.subnets.entries()) {
      const c = parseCidr(cidr).ok!;
      const other = seen.find((o) => o.parent === g.parent && overlap(parseCidr(o.cidr).ok!, c));
      if (other)
        note(
          ['networks', name, 'subnets', i],
          `${cidr} overlaps ${other.cidr} of ${other.network === name ? 'this network' : `network ${other.network}`} on the same parent: its endpoints' links differ in what one network decides (mode, MTU) or in the prefix of their addresses, which the file cannot say`,
        );
      seen.push({ cidr, network: name, parent: g.parent });
    }
    const limit = mtuOf(g.parent);
    if (g.mtu !== null && limit !== null && g.mtu > limit)
      note(
        ['networks', name],
        `its endpoints' MTU ${g.mtu} is above the MTU ${limit} of their parent ${g.parent}, which the file cannot ask for (the kernel refuses it)`,
      );
  }

  // The networks as the file says them, and what each gives its endpoints.
  const config: AdoptedConfig = { version: 1, vlans: {}, networks: {}, endpoints: {} };
  const endpointOf = new Map<string, { network: string; group: Group; gateways: Map<string, string | null> }>();
  for (const { name, group: g } of networks) {
    const routed = isRouted(g.driver, g.mode);
    const net: AdoptedNetwork = {
      driver: g.driver,
      ...(g.internal !== null ? { internal: true as const } : { parent: g.parent }),
      mode: g.mode,
      ...(g.flag !== null && g.flag !== DEFAULT_FLAG ? { flag: g.flag } : {}),
      ...(g.mtu !== null ? { mtu: g.mtu } : {}),
    };
    // Each subnet's gateway: the one its endpoints' default routes go through (where they agree).
    const gateways = new Map<string, string | null>();
    const subnets: AdoptedSubnet[] = g.subnets.map((cidr, i) => {
      const c = parseCidr(cidr).ok!;
      const family = c.family;
      const inside = g.endpoints.filter((e) => e.addresses[family].some((a) => networkOf(a.address, a.prefixLength) === cidr));
      const statics = new Set(inside.flatMap((e) => e.addresses[family].slice(0, 1).map((a) => a.address)));
      const s: AdoptedSubnet = { subnet: cidr };
      if (isPointToPoint(c)) {
        gateways.set(cidr, null);
        return s;
      }
      const through = new Map<string, string[]>();
      if (!routed && g.internal === null) {
        for (const e of inside) {
          const r = e.routes.find((r) => r.dst === 'default' && r.family === family && r.gateway !== null);
          if (r) through.set(r.gateway!, [...(through.get(r.gateway!) ?? []), e.name]);
        }
      }
      const ranked = [...through].sort(([a, x], [b, y]) => y.length - x.length || byAddress(a, b));
      let gateway = firstUsable(c);
      if (ranked.length) {
        gateway = ranked[0]![0];
        s.gateway = gateway;
        if (ranked.length > 1)
          note(
            ['networks', name, 'subnets', i],
            `endpoints in ${cidr} route through different gateways (${ranked.map(([gw, eps]) => `${eps.join(', ')} via ${gw}`).join('; ')}); a subnet has one, ${gateway}: apply would change the others' default routes`,
          );
      } else if (gateway !== null && statics.has(gateway) && !routed && g.internal === null) {
        // The default gateway is an endpoint's address (the one written is not recorded): another
        // address no endpoint holds stands in, so that the file is valid.
        const last = c.net.endAddressExclusive().correctForm();
        if (!statics.has(last)) {
          gateway = last;
          s.gateway = last;
          note(
            ['networks', name, 'subnets', i],
            `gateway: not recorded in the kernel (no endpoint here has a default route through it); ${last} stands in, as the first usable address is an endpoint's`,
            false,
          );
        }
      } else if (!routed && g.internal === null && inside.length) {
        note(
          ['networks', name, 'subnets', i],
          `gateway: not recorded in the kernel (no endpoint here has a default route through it); the default is ${gateway}`,
          false,
        );
      }
      gateways.set(cidr, routed || g.internal !== null ? null : gateway);
      return s;
    });
    if (subnets.length) net.subnets = subnets;
    const shim = hostAccessOf.get(g);
    if (shim) {
      const at = addressesAt.get(place(null, shim.name)) ?? [];
      const [v4, v6] = ([4, 6] as Family[]).map((f) => at.find((a) => a.family === f)?.address);
      net.host_access = { ifname: shim.name, ...(v4 ? { ipv4: v4 } : {}), ...(v6 ? { ipv6: v6 } : {}) };
      for (const r of routesOn.get(place(null, shim.name)) ?? []) explained.add(r);
    }
    config.networks[name] = net;
    for (const e of g.endpoints) endpointOf.set(e.name, { network: name, group: g, gateways });
  }
  for (const d of empty.sort((a, b) => byText(a.network, b.network))) {
    // The driver and mode do not matter without endpoints; the dummy's MTU is the network's.
    config.networks[d.network] = {
      driver: 'macvlan',
      internal: true,
      mode: 'bridge',
      ...(d.link.mtu !== DUMMY_MTU ? { mtu: d.link.mtu } : {}),
    };
    note(['networks', d.network], "no endpoints: the kernel keeps only this network's dummy link, not its driver, mode or subnets", false);
  }
  config.networks = Object.fromEntries(Object.entries(config.networks).sort(([a], [b]) => byText(a, b)));

  // Internal networks whose endpoints disagree on what the network decides.
  for (const { name, group: g } of networks) {
    if (g.internal === null) continue;
    const dummyMtu = hostLinks.get(g.parent)?.mtu ?? DUMMY_MTU;
    for (const e of g.endpoints) {
      const l = e.link;
      if (
        l.kind !== g.driver ||
        (l.mode ?? DEFAULT_MODE[g.driver]) !== g.mode ||
        (l.kind === 'ipvlan' && (l.flag ?? DEFAULT_FLAG) !== g.flag)
      )
        note(
          ['endpoints', e.name],
          `its link is a ${[l.kind, l.mode, l.flag].filter(Boolean).join(' ')}, but network ${name} is ${[g.driver, g.mode, g.flag].filter(Boolean).join(' ')}: apply would replace it`,
        );
      else if (l.mtu !== dummyMtu)
        note(
          ['endpoints', e.name],
          `its MTU is ${l.mtu}, but network ${name} has the MTU of its dummy link, ${dummyMtu}: apply would set it`,
        );
    }
  }

  // Endpoints, by name.
  const defaultsIn = new Set<string>(); // netns|family: a default route the file gives already
  for (const e of held) {
    const at = endpointOf.get(e.name);
    if (!at) continue;
    const { network, group: g, gateways } = at;
    const l = e.link;
    const internal = g.internal !== null;
    const routed = isRouted(g.driver, g.mode);
    const path = ['endpoints', e.name];
    const ep: AdoptedEndpoint = { network };
    if (l.netns === null) ep.netns = HOST_NETNS;
    else if (l.netns !== e.name) ep.netns = l.netns;
    if (l.netns === HOST_NETNS)
      note(path, `its namespace is named "host", which the file reads as vlannet's own namespace: apply would move it there`);
    if (l.name !== DEFAULT_IFNAME) ep.ifname = l.name;
    const families = new Set(g.subnets.map((s) => (s.includes(':') ? 6 : 4)));
    for (const family of [4, 6] as Family[]) {
      const [first, ...more] = e.addresses[family];
      if (first) ep[family === 4 ? 'ipv4' : 'ipv6'] = first.address;
      for (const a of more)
        note(path, `it has a second IPv${family} address, ${cidrText(a)}; an endpoint has one per family: apply would remove it`);
      if (!first && families.has(family))
        note(
          path,
          `it has no IPv${family} address, but its network has an IPv${family} subnet (its other endpoints have one): apply would give it one`,
        );
    }
    // default_route: the file's default unless the kernel says otherwise.
    const fallback = l.netns !== null && !internal;
    const routes = e.routes.filter((r) => r.dst === 'default');
    let defaultRoute = routes.length > 0 && fallback;
    const claims = [4, 6].filter((f) => families.has(f as Family)).map((f) => `${l.netns ?? ''}|${f}`);
    if (defaultRoute && claims.some((c) => defaultsIn.has(c))) defaultRoute = false; // a second one in a namespace: the rules refuse it
    if (defaultRoute) for (const c of claims) defaultsIn.add(c);
    if (fallback && !defaultRoute && g.subnets.length) ep.default_route = false;
    // The routes the file gives it (as desired.ts makes them), against the kernel's.
    const expected: Pick<RouteState, 'family' | 'dst' | 'gateway'>[] = [];
    for (const family of [4, 6] as Family[]) {
      const a = e.addresses[family][0];
      if (!a) continue;
      const home = networkOf(a.address, a.prefixLength);
      if (!defaultRoute || internal) {
        if (routed)
          for (const other of g.subnets)
            if (other !== home && other.includes(':') === (family === 6)) expected.push({ family, dst: other, gateway: null });
        continue;
      }
      const gateway = routed ? null : (gateways.get(home) ?? null);
      if (routed || gateway !== null) expected.push({ family, dst: 'default', gateway });
    }
    const want = new Set(expected.map(routeKey));
    const have = new Set(e.routes.map(routeKey));
    for (const r of e.routes) {
      explained.add(r);
      // A family it lacks an address of, that its network has: which address (and route) it gets is the allocation's.
      if (!e.addresses[r.family].length && families.has(r.family)) continue;
      if (!want.has(routeKey(r))) note(path, `its route ${routeText(r)} is not one the file can give it: apply would remove it`);
    }
    for (const r of expected)
      if (!have.has(routeKey(r)))
        note(path, `the file gives it the route ${routeText(r)}, which the kernel does not have: apply would add it`);
    if (!l.up) note(path, 'its link is down: apply would set it up');
    const noIpv6 = ep.ipv6 === undefined && !families.has(6);
    if (l.ipv6Disabled !== undefined && l.ipv6Disabled !== noIpv6)
      note(path, `IPv6 is ${l.ipv6Disabled ? 'disabled' : 'enabled'} on its link: apply would ${noIpv6 ? 'disable' : 'enable'} it`);
    config.endpoints[e.name] = ep;
  }
  for (const r of ours)
    if (!explained.has(r))
      note(
        [],
        `vlannet's route ${routeText(r)} dev ${r.dev} in ${where(r.netns)} is on no endpoint the file describes: apply would remove it`,
      );

  // 802.1q links: each as a `vlans:` entry, with its MTU where what the file says otherwise would differ.
  for (const v of vlanLinks) {
    const entry: AdoptedVlan = { parent: v.parent!, id: v.vlanId! };
    // Without an mtu, a vlan link gets the largest MTU of the networks on it, else its parent's.
    const onIt = Object.values(config.networks).flatMap((n) => (n.parent === v.name && n.mtu !== undefined ? [n.mtu] : []));
    const implied = onIt.length ? Math.max(...onIt) : mtuOf(v.parent!);
    if (v.mtu !== implied) entry.mtu = v.mtu;
    config.vlans[v.name] = entry;
    if (!v.up) note(['vlans', v.name], 'the link is down: apply would set it up');
  }
  for (const d of dummies.values())
    if (!d.link.up) note(['networks', d.network], `its dummy link ${d.link.name} is down: apply would set it up`);

  // Namespaces vlannet made that no endpoint keeps: apply deletes them (unless others' links are in them).
  const used = new Set<string>();
  for (const e of held) if (endpointOf.has(e.name) && e.link.netns !== null) used.add(e.link.netns);
  for (const n of observed.namespaces) {
    if (!n.owned || used.has(n.name)) continue;
    const strangers = observed.links.some((l) => l.netns === n.name && l.name !== 'lo' && !ownerOf(l) && !isUnfinished(l));
    if (!strangers)
      note(
        [],
        `namespace ${n.name} was made by vlannet and holds none of its endpoints: no file keeps an empty namespace, so apply would delete it`,
      );
  }
  for (const o of observed.orphans ?? [])
    note(
      [],
      `namespace ${o.name} lost its name but lives on in processes, with vlannet's ${o.links.map((l) => l.name).join(', ')}: not described here`,
      false,
    );

  return { config, notes };
}

const SECTION_ORDER = ['', 'vlans', 'networks', 'endpoints'];

/** The notes that say applying the file would change the kernel, as warnings, in the order of the file. */
export function adoptWarnings(adopted: Adopted): Diagnostic[] {
  const rank = (n: AdoptNote) => SECTION_ORDER.indexOf(String(n.path[0] ?? ''));
  return adopted.notes
    .filter((n) => n.changes)
    .map((n, i) => ({ n, i }))
    .sort((a, b) => rank(a.n) - rank(b.n) || byText(String(a.n.path[1] ?? ''), String(b.n.path[1] ?? '')) || a.i - b.i)
    .map(({ n }): Diagnostic => ({ severity: 'warning', at: '', path: pathText(n.path), message: n.text }));
}

/** `networks.n1.subnets[0]`, as the config's diagnostics write a path. */
export function pathText(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

const groupKey = (g: Group) => [g.internal ?? '', g.driver, g.parent, g.mode, g.flag ?? '', g.mtu ?? ''].join('\0');

/**
 * The host-access link (not yet given to another network) that serves a group: on its parent, of
 * its driver in the mode host access uses, with its addresses inside the group's subnets.
 */
function shimOf(
  g: Group,
  shims: { link: LinkState; network: string; taken: boolean }[],
  addressesAt: Map<string, AddressState[]>,
): { link: LinkState; network: string } | null {
  if (g.internal !== null || g.mode !== (g.driver === 'macvlan' ? 'bridge' : 'l2')) return null;
  const cidrs = g.subnets.map((s) => parseCidr(s).ok!);
  const found = shims.find((s) => {
    if (s.taken || s.link.kind !== g.driver || s.link.parent !== g.parent) return false;
    if (g.driver === 'ipvlan' && (s.link.flag ?? DEFAULT_FLAG) !== g.flag) return false;
    const at = addressesAt.get(place(null, s.link.name)) ?? [];
    return at.every((a) => cidrs.some((c) => c.family === a.family && within(ipOf(a.address), c)));
  });
  if (found) found.taken = true;
  return found ?? null;
}

/** The subnets of a group's endpoints: their addresses' networks and, on ipvlan l3/l3s, the subnets their routes lead to. */
function subnetsOf(g: Group): void {
  const all = new Set<string>();
  for (const e of g.endpoints) for (const s of subnetsHeld(e, g)) all.add(s);
  g.subnets = [...all].sort(byCidr);
}

function subnetsHeld(e: Held, g: Group): string[] {
  const own = ([4, 6] as Family[]).flatMap((f) => e.addresses[f].map((a) => networkOf(a.address, a.prefixLength)));
  const routed = isRouted(g.driver, g.mode) ? e.routes.filter((r) => r.dst !== 'default' && r.gateway === null).map((r) => r.dst) : [];
  return [...own, ...routed];
}

/**
 * A group split where its endpoints share no subnet (an endpoint joins its IPv4 and IPv6 subnet,
 * and on l3 the subnets its routes lead to): each part is a network, so that networks made apart
 * stay apart and a network's endpoints all have the address families it has. Endpoints without
 * addresses make one part.
 */
function splitBySubnets(g: Group): Group[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(x, root);
    return root;
  };
  const join = (a: string, b: string) => {
    const [ra, rb] = [find(a), find(b)];
    if (ra !== rb) parent.set(byCidr(ra, rb) < 0 ? rb : ra, byCidr(ra, rb) < 0 ? ra : rb);
  };
  const held = g.endpoints.map((e) => ({ e, subnets: subnetsHeld(e, g) }));
  for (const { subnets } of held) for (const s of subnets) if (!parent.has(s)) parent.set(s, s);
  for (const { subnets } of held) for (const s of subnets.slice(1)) join(subnets[0]!, s);
  const parts = groupBy(held, ({ subnets }) => (subnets.length ? find(subnets[0]!) : ''));
  const result = [...parts].map(([, members]) => {
    const part: Group = { ...g, endpoints: members.map((m) => m.e), subnets: [] };
    subnetsOf(part);
    return part;
  });
  // By their first subnet; endpoints without addresses last.
  return result.sort((a, b) =>
    a.subnets.length && b.subnets.length ? byCidr(a.subnets[0]!, b.subnets[0]!) : b.subnets.length - a.subnets.length,
  );
}
