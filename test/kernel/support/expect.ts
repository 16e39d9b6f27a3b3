// What the kernel must hold for a config, derived from the YAML itself (Docker's driver semantics,
// as README.md describes them) and checked with iproute2 — never with vlannet's own decoder. Returns the
// list of differences, so a failing test prints every one of them at once.

import { Address4, Address6 } from 'ip-address';
import { ipJson, run } from './sh.js';
import { endpointNetns, type RawConfig, type RawEndpoint, type RawNetwork } from './world.js';

export interface IpLink {
  ifindex: number;
  ifname: string;
  link?: string;
  link_index?: number;
  link_netnsid?: number;
  mtu: number;
  address: string;
  flags: string[];
  ifalias?: string;
  /** The link group: "default" (0), or vlannet's "201" (as iproute2 prints a group it has no name for). */
  group?: string;
  linkinfo?: { info_kind: string; info_data?: Record<string, unknown> };
}
interface IpAddr {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope: string;
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev: string;
  protocol?: string | number;
}

const nsArgs = (netns: string | null) => (netns ? ['-n', netns] : []);

export function link(name: string, netns: string | null = null): IpLink | null {
  const r = run('ip', [...nsArgs(netns), '-d', '-j', 'link', 'show', 'dev', name]);
  return r.status === 0 ? ((JSON.parse(r.stdout) as IpLink[])[0] ?? null) : null;
}

/** The parent's name in vlannet's namespace: `link` when local, else found by `link_index`. */
function parentName(l: IpLink): string | null {
  if (l.link) return l.link;
  if (l.link_index === undefined) return null;
  return ipJson<IpLink>('link', 'show').find((p) => p.ifindex === l.link_index)?.ifname ?? null;
}

const DEFAULT_MODE: Record<string, string> = { macvlan: 'bridge', ipvlan: 'l2' };

type Family = 4 | 6;
function subnetsOf(n: RawNetwork, family: Family) {
  return (n.subnets ?? []).filter((s) => (s.subnet.includes(':') ? 6 : 4) === family);
}
function inSubnet(address: string, cidr: string, family: Family): boolean {
  return family === 4 ? new Address4(address).isInSubnet(new Address4(cidr)) : new Address6(address).isInSubnet(new Address6(cidr));
}
function prefixOf(cidr: string): number {
  return Number(cidr.split('/')[1]);
}
function canonical(address: string, family: Family): string {
  return family === 4 ? new Address4(address).correctForm() : new Address6(address).correctForm();
}

/** Docker's default gateway: the first address after the network's, except for /31 and /127 (none). */
export function gatewayOf(s: { subnet: string; gateway?: string }, family: Family): string | null {
  if (s.gateway) return canonical(s.gateway, family);
  const prefix = prefixOf(s.subnet);
  if ((family === 4 && prefix >= 31) || (family === 6 && prefix >= 127)) return null;
  return family === 4
    ? Address4.fromBigInt(new Address4(s.subnet).startAddress().bigInt() + 1n).correctForm()
    : Address6.fromBigInt(new Address6(s.subnet).startAddress().bigInt() + 1n).correctForm();
}

/** No parent means isolated on vlannet's dummy: internal, like Docker's parentless networks. */
export function isInternal(n: RawNetwork): boolean {
  return n.internal === true || !n.parent;
}

/** What identifies a link and its configuration, without the state the kernel updates by itself (operstate). */
export function identity(l: IpLink | null): object | null {
  if (!l) return null;
  const { ifindex, ifname, address, mtu, flags, ifalias, linkinfo, link_index } = l;
  return { ifindex, ifname, address, mtu, flags, ifalias, linkinfo, link_index };
}

export function isL3(n: RawNetwork): boolean {
  return n.driver === 'ipvlan' && (n.mode === 'l3' || n.mode === 'l3s');
}

/** Every difference between the kernel and what `cfg` asks for. */
export function checkKernel(cfg: RawConfig): string[] {
  const problems: string[] = [];
  const networks = cfg.networks ?? {};
  const namespaces = run('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]);
  const defaults = new Map<string, string[]>(); // "netns/family" → default routes expected there

  for (const [name, e] of Object.entries(cfg.endpoints ?? {})) {
    const n = networks[e.network];
    if (!n) {
      problems.push(`endpoint ${name}: network ${e.network} is not in the config`);
      continue;
    }
    const ns = endpointNetns(name, e);
    if (ns && !namespaces.includes(ns)) problems.push(`endpoint ${name}: namespace ${ns} does not exist`);
    problems.push(...checkEndpoint(name, e, n, ns));
    const defaultRoute = e.default_route ?? !(isInternal(n) || ns === null);
    for (const family of [4, 6] as const) {
      const key = `${ns ?? 'host'}/${family}`;
      if (!defaults.has(key)) defaults.set(key, []);
      if (!defaultRoute || isInternal(n)) continue;
      const address = addressesOf(e.ifname ?? 'eth0', ns, family)[0];
      if (!address) continue;
      const ifname = e.ifname ?? 'eth0';
      if (isL3(n)) defaults.get(key)!.push(`default dev ${ifname}`);
      else {
        const subnet = subnetsOf(n, family).find((s) => inSubnet(address.local, s.subnet, family));
        const gw = subnet ? gatewayOf(subnet, family) : null;
        if (gw) defaults.get(key)!.push(`default via ${gw} dev ${ifname}`);
      }
    }
  }
  for (const [key, expected] of defaults) {
    const [ns, family] = key.split('/') as [string, string];
    if (ns === 'host') continue; // vlannet never touches the host's default route
    const routes = ipJson<IpRoute>('-n', ns, `-${family}`, 'route', 'show', 'default').map(
      (r) => `default${r.gateway ? ` via ${canonical(r.gateway, Number(family) as Family)}` : ''} dev ${r.dev}`,
    );
    if (JSON.stringify(routes.sort()) !== JSON.stringify(expected.sort())) {
      problems.push(`netns ${ns}: IPv${family} default routes ${JSON.stringify(routes)}, expected ${JSON.stringify(expected)}`);
    }
  }
  problems.push(...checkVlans(cfg));
  return problems;
}

function addressesOf(ifname: string, ns: string | null, family: Family): IpAddr[] {
  const r = run('ip', [...nsArgs(ns), `-${family}`, '-j', 'addr', 'show', 'dev', ifname]);
  if (r.status !== 0) return [];
  const entries = JSON.parse(r.stdout) as { addr_info: IpAddr[] }[];
  return (entries[0]?.addr_info ?? []).filter((a) => a.scope === 'global');
}

function checkEndpoint(name: string, e: RawEndpoint, n: RawNetwork, ns: string | null): string[] {
  const problems: string[] = [];
  const ifname = e.ifname ?? 'eth0';
  const where = `endpoint ${name} (${ifname} in ${ns ?? 'host'})`;
  const l = link(ifname, ns);
  if (!l) return [`${where}: no such link`];
  const data = l.linkinfo?.info_data ?? {};
  const want = (what: string, actual: unknown, expected: unknown) => {
    if (actual !== expected) problems.push(`${where}: ${what} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  };
  want('kind', l.linkinfo?.info_kind, n.driver);
  want('mode', data.mode, n.mode ?? DEFAULT_MODE[n.driver]);
  if (n.driver === 'ipvlan') {
    const flag = data.private ? 'private' : data.vepa ? 'vepa' : 'bridge';
    want('ipvlan flag', flag, n.flag ?? 'bridge');
  }
  want('up', l.flags.includes('UP'), true);
  if (e.mac) want('mac', l.address, e.mac.toLowerCase());
  const parent = parentName(l);
  const parentLink = parent ? link(parent) : null;
  if (!isInternal(n)) want('parent', parent, n.parent);
  else {
    want('parent kind', parentLink?.linkinfo?.info_kind, 'dummy');
    want('parent alias', parentLink?.ifalias, `vlannet:dummy/${e.network} dummy`);
  }
  want('mtu', l.mtu, n.mtu ?? parentLink?.mtu);
  for (const family of [4, 6] as const) {
    const subnets = subnetsOf(n, family);
    const got = addressesOf(ifname, ns, family);
    const fixed = family === 4 ? e.ipv4 : e.ipv6;
    if (subnets.length === 0) {
      if (got.length) problems.push(`${where}: IPv${family} addresses ${got.map((a) => a.local)} on a network without such subnets`);
      continue;
    }
    if (got.length !== 1) {
      problems.push(`${where}: ${got.length} global IPv${family} addresses, expected 1`);
      continue;
    }
    const a = got[0]!;
    const subnet = subnets.find((s) => inSubnet(a.local, s.subnet, family));
    if (fixed) want(`IPv${family} address`, canonical(a.local, family), canonical(fixed, family));
    if (!subnet) problems.push(`${where}: ${a.local} is in none of ${subnets.map((s) => s.subnet)}`);
    else want(`IPv${family} prefix length`, a.prefixlen, prefixOf(subnet.subnet));
  }
  if (subnetsOf(n, 6).length === 0 && ns) {
    // Like Docker: no IPv6 subnet, no IPv6 at all on the endpoint (not even link-local).
    const disabled = run('ip', ['netns', 'exec', ns, 'cat', `/proc/sys/net/ipv6/conf/${ifname}/disable_ipv6`]);
    want('disable_ipv6', disabled.stdout.trim(), '1');
  }
  return problems;
}

/** vlan links: each `vlans:` entry, and each NAME.VID parent (the test made none of them itself). */
function checkVlans(cfg: RawConfig): string[] {
  const problems: string[] = [];
  const vlans = new Map<string, { parent: string; id: number }>(Object.entries(cfg.vlans ?? {}));
  for (const n of Object.values(cfg.networks ?? {})) {
    const m = n.parent && !n.internal && !vlans.has(n.parent) ? /^(.+)\.(\d+)$/.exec(n.parent) : null;
    if (m) vlans.set(n.parent!, { parent: m[1]!, id: Number(m[2]) });
  }
  for (const [name, v] of vlans) {
    const l = link(name);
    if (!l) {
      problems.push(`vlan ${name}: no such link`);
      continue;
    }
    const data = l.linkinfo?.info_data ?? {};
    const got = `${l.linkinfo?.info_kind} ${data.protocol} id ${data.id} on ${l.link} ${l.flags.includes('UP') ? 'up' : 'down'}`;
    const expected = `vlan 802.1Q id ${v.id} on ${v.parent} up`;
    if (got !== expected) problems.push(`vlan ${name}: ${got}, expected ${expected}`);
  }
  return problems;
}
