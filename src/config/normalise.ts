// The one function from what the operator wrote (ConfigInput, entries that passed the schema) to
// the resolved Config every other layer uses: every default filled in, names sorted, addresses
// canonical. Tolerant by design: it never throws on values the rules reject, so the rules can run
// on the same result and every problem is reported at once.

import {
  IPVLAN_FLAGS,
  IPVLAN_MODES,
  MACVLAN_MODES,
  type Config,
  type EndpointConfig,
  type HostAccessConfig,
  type NetworkConfig,
  type SubnetConfig,
  type VlanConfig,
} from '../model/types.js';
import { type Cidr, canonical, firstUsable, isPointToPoint, parseAddress, parseCidr, within } from '../model/address.js';
import type { Locator, YamlPath } from './locate.js';
import { oneOf } from '../model/collections.js';
import { dummyName, hostAccessName, VLAN_PARENT } from './names.js';
import type { EndpointInput, NetworkInput, SubnetInput, VlanInput } from './schema.js';
import { VLAN_ID_MAX, VLAN_ID_MIN } from './schema.js';

/** The entries of each section that passed the schema, by name. */
export interface Input {
  vlans: Record<string, VlanInput>;
  networks: Record<string, NetworkInput>;
  endpoints: Record<string, EndpointInput>;
}

/** The netns word for vlannet's own namespace. */
export const HOST_NETNS = 'host';
export const DEFAULT_IFNAME = 'eth0';

const byName = <T>(record: Record<string, T>) =>
  Object.keys(record)
    .sort()
    .map((name) => [name, record[name]!] as const);

export function normalise(input: Input, loc: Locator): Config {
  const where = (path: YamlPath, key = true) => ({ at: loc.at(path, key), path: loc.path(path) });

  const vlans = new Map<string, VlanConfig>();
  for (const [name, v] of byName(input.vlans)) {
    vlans.set(name, { name, parent: v.parent, id: v.id, source: 'vlans', mtu: v.mtu ?? null, ...where(['vlans', name]) });
  }

  const networks: NetworkConfig[] = [];
  for (const [name, n] of byName(input.networks)) {
    const resolved = resolveParent(name, n, input.vlans);
    if (resolved.implied && !vlans.has(resolved.parent)) {
      vlans.set(resolved.parent, { ...resolved.implied, source: 'implied', mtu: null, ...where(['networks', name, 'parent'], false) });
    }
    const internal = resolved.kind === 'dummy';
    // A mode or flag the driver does not have is the rules' error; the default stands in for it.
    const ipvlanMode = oneOf(IPVLAN_MODES, n.mode, 'l2');
    const routed = n.driver === 'ipvlan' && (ipvlanMode === 'l3' || ipvlanMode === 'l3s');
    const base = {
      name,
      parent: resolved.parent,
      parentKind: resolved.kind,
      internal,
      mtu: n.mtu ?? null,
      subnets: (n.subnets ?? []).map((s, i) => subnet(s, !(routed || internal), ['networks', name, 'subnets', i], loc)),
      hostAccess: hostAccess(name, n.host_access, where(['networks', name, 'host_access'])),
      ...where(['networks', name]),
    };
    networks.push(
      n.driver === 'macvlan'
        ? { ...base, driver: 'macvlan', mode: oneOf(MACVLAN_MODES, n.mode, 'bridge'), flag: null }
        : { ...base, driver: 'ipvlan', mode: ipvlanMode, flag: oneOf(IPVLAN_FLAGS, n.flag, 'bridge') },
    );
  }

  const internalNetworks = new Set(networks.filter((n) => n.internal).map((n) => n.name));
  const endpoints: EndpointConfig[] = byName(input.endpoints).map(([name, e]) => {
    const netnsWord = e.netns ?? name;
    const netns = netnsWord === HOST_NETNS ? null : netnsWord;
    return {
      name,
      network: e.network,
      netns,
      ifname: e.ifname ?? DEFAULT_IFNAME,
      ipv4: address(e.ipv4, 4),
      ipv6: address(e.ipv6, 6),
      mac: e.mac?.toLowerCase() ?? null,
      defaultRoute: e.default_route ?? (netns !== null && !internalNetworks.has(e.network)),
      ...where(['endpoints', name]),
    };
  });

  return {
    version: 1,
    file: loc.file,
    vlans: [...vlans.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    networks,
    endpoints,
  };
}

function hostAccess(network: string, h: NetworkInput['host_access'], at: { at: string; path: string }): HostAccessConfig | null {
  if (h === undefined || h === false) return null;
  const given = h === true ? {} : h;
  return { ifname: given.ifname ?? hostAccessName(network), ipv4: address(given.ipv4, 4), ipv6: address(given.ipv6, 6), ...at };
}

interface ResolvedParent {
  parent: string;
  kind: NetworkConfig['parentKind'];
  implied?: Pick<VlanConfig, 'name' | 'parent' | 'id'>;
}

/** How a network's parent comes to exist (see NetworkConfig.parentKind). */
export function resolveParent(network: string, n: NetworkInput, vlans: Record<string, VlanInput>): ResolvedParent {
  if (n.parent === undefined || n.internal === true) return { parent: dummyName(network), kind: 'dummy' };
  if (Object.hasOwn(vlans, n.parent)) return { parent: n.parent, kind: 'vlan' };
  const vid = impliedVlan(n.parent);
  if (vid) return { parent: n.parent, kind: 'vlan', implied: { name: n.parent, parent: vid.parent, id: vid.id } };
  return { parent: n.parent, kind: 'link' };
}

/** NAME.VID with a valid VLAN id: the 802.1q link it implies. */
export function impliedVlan(name: string): { parent: string; id: number } | null {
  const m = VLAN_PARENT.exec(name);
  if (!m) return null;
  const id = Number(m[2]);
  return id >= VLAN_ID_MIN && id <= VLAN_ID_MAX ? { parent: m[1]!, id } : null;
}

function subnet(s: SubnetInput, hasGateway: boolean, path: YamlPath, loc: Locator): SubnetConfig {
  const parsed = parseCidr(s.subnet);
  const cidr = parsed.ok?.text ?? s.subnet;
  const family = parsed.ok?.family ?? (s.subnet.includes(':') ? 6 : 4);
  let gateway: string | null = null;
  if (hasGateway && s.gateway !== undefined) gateway = address(s.gateway, family) ?? s.gateway;
  else if (hasGateway && parsed.ok) gateway = firstUsable(parsed.ok);
  const range = s.ip_range === undefined ? null : parseCidr(s.ip_range);
  const auxAddresses = Object.entries(s.aux_addresses ?? {}).map(([name, text]) => ({
    name,
    address: address(text, family) ?? text,
    at: loc.at([...path, 'aux_addresses', name]),
  }));
  return {
    cidr,
    family,
    gateway,
    reservedGateway: hasGateway ? gateway : parsed.ok && unroutedGateway(s.gateway, parsed.ok),
    ipRange: range ? (range.ok?.text ?? s.ip_range!) : null,
    auxAddresses,
    at: loc.at(path, false),
    path: loc.path(path),
  };
}

/**
 * The gateway an internal or ipvlan l3/l3s subnet reserves though no route goes through it: Docker's
 * IPAM reserves one on every network, so that by default the first automatic address is the second
 * usable one whatever the driver and mode. The one written when it lies in the subnet, else the
 * first usable address; none on /31, /32, /127 and /128, which hold nothing back (as before, and as
 * Docker does on /31 and /127).
 */
function unroutedGateway(written: string | undefined, cidr: Cidr): string | null {
  if (isPointToPoint(cidr)) return null;
  const gw = written === undefined ? null : parseAddress(written, cidr.family).ok;
  return gw && within(gw, cidr) ? canonical(gw) : firstUsable(cidr);
}

function address(text: string | undefined, family: 4 | 6): string | null {
  if (text === undefined) return null;
  const parsed = parseAddress(text, family);
  return parsed.ok ? canonical(parsed.ok) : text;
}
