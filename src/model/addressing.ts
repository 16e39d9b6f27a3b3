// Automatic addresses without a datastore. The kernel is the memory: an endpoint that already
// holds an address in its network keeps it, so adding, removing or reordering other endpoints
// never renumbers a running one. Everything else is deterministic from the file and the addresses
// the kernel shows: static addresses first, then kept ones, then the lowest free address of the
// first pool that has one and that no link anywhere holds (an address must never answer twice on
// the LAN), endpoints taken in name order. From an empty kernel the result is the file's alone.
// As in Docker's IPAM, every subnet but a point-to-point one reserves a gateway (by default its
// first usable address, so the first automatic one is the second), internal and ipvlan l3/l3s
// ones too where no route goes through it, and its aux addresses.
//
// Address math goes through ip-address only. Addresses are compared as bigints; each pool keeps a
// cursor that only moves forward, so allocating N endpoints is linear in N (plus skipped addresses).

import { Address4, Address6 } from 'ip-address';
import { ipOf, isLinkLocal } from './address.js';
import { ownerOf } from './owner.js';
import { groupBy } from './collections.js';
import type { AddressState, Config, Diagnostic, EndpointConfig, Family, NetworkConfig, ObservedState, SubnetConfig } from './types.js';

// The daemon allocates the same thousands of addresses on every run: their conversions between
// text and number are remembered (bounded, like isLinkLocal's).
const MEMO_LIMIT = 100_000;
const numbers = new Map<string, bigint>();
const texts = [new Map<bigint, string>(), new Map<bigint, string>()];

/** An address (no prefix) as a number; throws on invalid input. */
function addressNumber(text: string): bigint {
  let n = numbers.get(text);
  if (n === undefined) {
    n = ipOf(text).bigInt();
    if (numbers.size >= MEMO_LIMIT) numbers.clear();
    numbers.set(text, n);
  }
  return n;
}

function fromBigInt(family: Family, n: bigint): string {
  const memo = texts[family === 4 ? 0 : 1]!;
  let text = memo.get(n);
  if (text === undefined) {
    text = family === 4 ? Address4.fromBigInt(n).correctForm() : Address6.fromBigInt(n).correctForm();
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(n, text);
  }
  return text;
}

/** An address an endpoint gets, and where it came from. */
export interface EndpointAddress {
  family: Family;
  address: string;
  prefixLength: number;
  subnet: SubnetConfig;
  source: 'static' | 'observed' | 'automatic';
}

export interface Addressing {
  /** Endpoint name → its address per family (absent when it gets none in that family). */
  byEndpoint: Map<string, Partial<Record<Family, EndpointAddress>>>;
  diagnostics: Diagnostic[];
}

/**
 * Why an address is held back from automatic assignment though an endpoint may still have it: the
 * gateway a subnet reserves where it is no route's next hop, or an aux address.
 */
interface Withheld {
  what: string;
  /** An endpoint that already holds it keeps it (true), or gives it up (false). */
  keep: boolean;
}

/** A subnet's numbers: its bounds, the addresses no endpoint may get, those withheld, and its pool's cursor. */
class Pool {
  readonly first: bigint;
  readonly last: bigint;
  /** The network, broadcast and gateway (a route's next hop) addresses: no endpoint gets one. */
  readonly reserved = new Set<bigint>();
  /** Never handed out automatically; see Withheld. */
  readonly withheld = new Map<bigint, Withheld>();
  readonly prefixLength: number;
  private cursor: bigint;
  private readonly start: bigint;
  private readonly end: bigint;

  constructor(readonly subnet: SubnetConfig) {
    const net = ipOf(subnet.cidr);
    this.first = net.startAddress().bigInt();
    this.last = net.endAddress().bigInt();
    const prefix = net.subnetMask;
    this.prefixLength = prefix;
    const pointToPoint = subnet.family === 4 ? prefix >= 31 : prefix >= 127;
    if (!pointToPoint) this.reserved.add(this.first);
    if (!pointToPoint && subnet.family === 4) this.reserved.add(this.last);
    if (subnet.gateway) this.reserved.add(ipOf(subnet.gateway).bigInt());
    // The gateway that is no route's next hop (internal, ipvlan l3/l3s) answers nowhere: an endpoint
    // that holds it (vlannet 0.1 handed it out) keeps it. An aux address is another device's (a
    // router, a printer): an endpoint holding it gives it up, as it gives up an address that becomes
    // the gateway or another endpoint's static one, for an address must never answer twice.
    if (subnet.reservedGateway !== null && subnet.reservedGateway !== subnet.gateway) {
      this.withheld.set(ipOf(subnet.reservedGateway).bigInt(), { what: `the gateway address ${subnet.cidr} reserves`, keep: true });
    }
    for (const aux of subnet.auxAddresses) {
      const n = numberOf(aux.address);
      if (n === null || !this.contains(n) || this.reserved.has(n) || this.withheld.has(n)) continue; // the config's rules say why
      this.withheld.set(n, { what: `aux address ${aux.name} of ${subnet.cidr}`, keep: false });
    }
    let start = this.first;
    let end = this.last;
    if (subnet.ipRange) {
      const range = ipOf(subnet.ipRange);
      // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max takes numbers)
      start = range.startAddress().bigInt() > start ? range.startAddress().bigInt() : start;
      // biome-ignore lint/complexity/useMathMinMax: bigints (Math.min takes numbers)
      end = range.endAddress().bigInt() < end ? range.endAddress().bigInt() : end;
    }
    this.cursor = start;
    this.start = start;
    this.end = end;
  }

  contains(n: bigint): boolean {
    return n >= this.first && n <= this.last;
  }

  /** The lowest address at or after the cursor that is neither reserved, withheld nor used; null when none is left. */
  next(used: Set<bigint>): bigint | null {
    while (this.cursor <= this.end) {
      const n = this.cursor;
      this.cursor += 1n;
      if (!this.reserved.has(n) && !this.withheld.has(n) && !used.has(n)) return n;
    }
    return null;
  }

  /** The highest free address of the pool (cursor untouched): a host access link's, out of the endpoints' way. */
  highest(used: Set<bigint>): bigint | null {
    for (let n = this.end; n >= this.cursor; n--) {
      if (!this.reserved.has(n) && !this.withheld.has(n) && !used.has(n)) return n;
    }
    return null;
  }

  /** How many aux addresses lie in the pool (ip_range, or the whole subnet): for the message of an exhausted pool. */
  auxInPool(): number {
    let count = 0;
    for (const [n, w] of this.withheld) if (!w.keep && n >= this.start && n <= this.end) count++;
    return count;
  }
}

/** An address as a number, or null when it is not one (the config's rules report it). */
function numberOf(text: string): bigint | null {
  try {
    return addressNumber(text);
  } catch {
    return null;
  }
}

const FAMILIES: Family[] = [4, 6];

function staticOf(ep: EndpointConfig, family: Family): string | null {
  return family === 4 ? ep.ipv4 : ep.ipv6;
}

function familyName(family: Family): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

/** Addresses on owned endpoint links, by endpoint name (the name in the link's owner mark). */
/**
 * The name a network's host access is allocated under, beside its endpoints: one no endpoint can
 * have (names are [A-Za-z0-9_.-]+).
 */
export function hostAccessKey(network: string): string {
  return `host_access(${network})`;
}

/** The host access of `network` as the allocator sees it: a member of the network in vlannet's own namespace. */
function hostAccessMember(network: NetworkConfig): EndpointConfig | null {
  const h = network.hostAccess;
  if (!h) return null;
  const name = hostAccessKey(network.name);
  return {
    name,
    network: network.name,
    netns: null,
    ifname: h.ifname,
    ipv4: h.ipv4,
    ipv6: h.ipv6,
    mac: null,
    defaultRoute: false,
    at: h.at,
    path: h.path,
  };
}

function observedByEndpoint(observed: ObservedState): Map<string, AddressState[]> {
  const endpointOf = new Map<string, string>();
  for (const link of observed.links) {
    const mark = ownerOf(link);
    if (mark?.role === 'endpoint') endpointOf.set(`${link.netns ?? ''}\0${link.name}`, mark.name);
    if (mark?.role === 'shim') endpointOf.set(`${link.netns ?? ''}\0${link.name}`, hostAccessKey(mark.name));
  }
  const held = observed.addresses.filter((a) => endpointOf.has(`${a.netns ?? ''}\0${a.link}`));
  return groupBy(held, (a) => endpointOf.get(`${a.netns ?? ''}\0${a.link}`)!);
}

/**
 * Give every endpoint its addresses: static, else kept from the kernel, else the lowest free one.
 * Problems (a static address outside every subnet, two endpoints with one address, an exhausted
 * pool) come back as error diagnostics; the endpoint then gets no address in that family.
 */
export function allocateAddresses(config: Config, observed: ObservedState): Addressing {
  const diagnostics: Diagnostic[] = [];
  const byEndpoint = new Map<string, Partial<Record<Family, EndpointAddress>>>();
  const networks = new Map(config.networks.map((n) => [n.name, n]));
  const kept = observedByEndpoint(observed);
  const endpoints = [...config.endpoints].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const give = (ep: EndpointConfig, a: EndpointAddress) => {
    const entry = byEndpoint.get(ep.name) ?? {};
    entry[a.family] = a;
    byEndpoint.set(ep.name, entry);
  };

  const held = heldAddresses(observed);
  for (const network of config.networks) {
    const shim = hostAccessMember(network);
    const members = [...(shim ? [shim] : []), ...endpoints.filter((ep) => ep.network === network.name)];
    for (const family of FAMILIES) {
      const subnets = network.subnets.filter((s) => s.family === family);
      allocateFamily(network, family, subnets, members, kept, held, give, diagnostics);
    }
  }
  for (const ep of endpoints) {
    if (networks.has(ep.network)) continue;
    diagnostics.push({ severity: 'error', at: ep.at, path: `${ep.path}.network`, message: `network ${ep.network} is not defined` });
  }
  return { byEndpoint, diagnostics };
}

/**
 * Every address the kernel shows anywhere vlannet looked (any link, owned or not, in orphaned
 * namespaces too), as numbers: an automatic address is never one of them. An address held by a
 * link being removed or by a process's orphaned namespace is still on the LAN; the host's own
 * address on a parent is the host's.
 */
function heldAddresses(observed: ObservedState): Set<bigint> {
  const held = new Set<bigint>();
  const add = (a: AddressState) => {
    if (!isLinkLocal(a.address)) held.add(addressNumber(a.address));
  };
  for (const a of observed.addresses) add(a);
  for (const o of observed.orphans ?? []) for (const a of o.addresses) add(a);
  return held;
}

function allocateFamily(
  network: NetworkConfig,
  family: Family,
  subnets: SubnetConfig[],
  members: EndpointConfig[],
  kept: Map<string, AddressState[]>,
  held: ReadonlySet<bigint>,
  give: (ep: EndpointConfig, a: EndpointAddress) => void,
  diagnostics: Diagnostic[],
): void {
  const field = family === 4 ? 'ipv4' : 'ipv6';
  if (subnets.length === 0) {
    for (const ep of members) {
      if (staticOf(ep, family) === null) continue;
      diagnostics.push({
        severity: 'error',
        at: ep.at,
        path: `${ep.path}.${field}`,
        message: `network ${network.name} has no ${familyName(family)} subnet, so ${field} ${staticOf(ep, family)} cannot be given`,
      });
    }
    return;
  }
  const pools = subnets.map((s) => new Pool(s));
  const used = new Map<bigint, string>();
  const poolOf = (n: bigint) => pools.find((p) => p.contains(n));
  const record = (ep: EndpointConfig, n: bigint, pool: Pool, source: EndpointAddress['source']) => {
    used.set(n, ep.name);
    give(ep, { family, address: fromBigInt(family, n), prefixLength: pool.prefixLength, subnet: pool.subnet, source });
  };
  const pending: EndpointConfig[] = [];

  // 1. Static addresses.
  for (const ep of members) {
    const text = staticOf(ep, family);
    if (text === null) continue;
    let n: bigint;
    try {
      n = addressNumber(text);
    } catch {
      diagnostics.push({
        severity: 'error',
        at: ep.at,
        path: `${ep.path}.${field}`,
        message: `${text} is not an ${familyName(family)} address`,
      });
      continue;
    }
    const pool = poolOf(n);
    const other = used.get(n);
    if (!pool) {
      diagnostics.push({
        severity: 'error',
        at: ep.at,
        path: `${ep.path}.${field}`,
        message: `${text} is in none of network ${network.name}'s subnets (${subnets.map((s) => s.cidr).join(', ')})`,
      });
    } else if (pool.reserved.has(n)) {
      diagnostics.push({
        severity: 'error',
        at: ep.at,
        path: `${ep.path}.${field}`,
        message: `${text} is the network, broadcast or gateway address of ${pool.subnet.cidr}`,
      });
    } else if (pool.withheld.get(n)?.keep === false) {
      diagnostics.push({
        severity: 'error',
        at: ep.at,
        path: `${ep.path}.${field}`,
        message: `${text} is ${pool.withheld.get(n)!.what}, which no endpoint may have`,
      });
    } else if (other !== undefined) {
      diagnostics.push({
        severity: 'error',
        at: ep.at,
        path: `${ep.path}.${field}`,
        message: `${text} is also given to endpoint ${other}`,
      });
    } else {
      record(ep, n, pool, 'static');
    }
  }

  // 2. Addresses the endpoints already hold in the kernel.
  for (const ep of members) {
    if (staticOf(ep, family) !== null) continue;
    const candidates = (kept.get(ep.name) ?? []).filter((a) => a.family === family);
    let found = false;
    for (const a of candidates) {
      const n = addressNumber(a.address);
      const pool = poolOf(n);
      if (!pool || pool.reserved.has(n) || used.has(n)) continue;
      const withheld = pool.withheld.get(n);
      if (withheld) {
        diagnostics.push({
          severity: 'warning',
          at: ep.at,
          path: ep.path,
          message: withheld.keep
            ? `endpoint ${ep.name} keeps ${a.address}, though it is ${withheld.what} (as Docker's IPAM does; vlannet 0.1 handed it out): once freed, it is not handed out again`
            : `endpoint ${ep.name} gives up ${a.address}, now ${withheld.what}, for another address: an address must never answer twice`,
        });
        if (!withheld.keep) continue;
      }
      record(ep, n, pool, 'observed');
      found = true;
      break;
    }
    if (!found) pending.push(ep);
  }

  // 3. The lowest free address of the first pool that has one, and that the kernel shows nowhere.
  const taken = new Set(used.keys());
  for (const n of held) taken.add(n);
  // Host access takes the highest free address, so that endpoints are numbered as Docker numbers containers.
  const shimKey = hostAccessKey(network.name);
  const waiting = pending.filter((ep) => ep.name !== shimKey);
  const shim = pending.find((ep) => ep.name === shimKey);
  if (shim) {
    const pool = pools.find((x) => x.highest(taken) !== null);
    const n = pool?.highest(taken) ?? null;
    if (pool && n !== null) {
      taken.add(n);
      record(shim, n, pool, 'automatic');
    } else waiting.unshift(shim); // reported below, as an endpoint's would be
  }
  let p = 0;
  for (const ep of waiting) {
    let n: bigint | null = null;
    for (; p < pools.length; p++) {
      n = pools[p]!.next(taken);
      if (n !== null) break;
    }
    if (n === null) {
      const s = subnets[0]!;
      const aux = pools.reduce((sum, pool) => sum + pool.auxInPool(), 0);
      diagnostics.push({
        severity: 'error',
        at: s.at,
        path: s.path,
        message: `no free ${familyName(family)} address left for endpoint ${ep.name} in network ${network.name} (${subnets.map((x) => x.ipRange ?? x.cidr).join(', ')}${aux ? `, where aux_addresses hold ${aux} back` : ''})`,
      });
      continue;
    }
    taken.add(n);
    record(ep, n, pools[p]!, 'automatic');
  }
}
