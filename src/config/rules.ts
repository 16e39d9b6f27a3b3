// Cross-field rules: small named checks over the normalised config (and, where what was written
// matters, the input). Each quotes the bad value and the allowed range, built from the constants
// the check uses. Shape and ranges of single values are the schema's job (schema.ts).

import { formatMark, netnsMark } from '../model/owner.js';
import type { Config, EndpointConfig, Family, NetworkConfig } from '../model/types.js';
import { IPVLAN_FLAGS, IPVLAN_MODES, MACVLAN_MODES } from '../model/types.js';
import type { Cidr } from '../model/address.js';
import {
  broadcastAddress,
  canonical,
  isLinkLocal6,
  isPointToPoint,
  networkAddress,
  overlap,
  parseAddress,
  parseCidr,
  within,
} from '../model/address.js';
import type { YamlPath } from './locate.js';
import { ifnameProblem, LOOPBACK, markProblem, netnsProblem, objectNameProblem, VLAN_PARENT } from './names.js';
import type { Input } from './normalise.js';
import { HOST_NETNS, impliedVlan } from './normalise.js';
import { VLAN_ID_MAX, VLAN_ID_MIN } from './schema.js';
import { groupBy } from '../model/collections.js';

export interface RuleContext {
  input: Input;
  config: Config;
  /** Every network name written in the file, valid or not: an endpoint of a broken network is not "unknown". */
  writtenNetworks: ReadonlySet<string>;
  error(path: YamlPath, message: string, key?: boolean): void;
  warn(path: YamlPath, message: string, key?: boolean): void;
}

export type Rule = (ctx: RuleContext) => void;

const q = (s: string) => JSON.stringify(s);
const list = (xs: readonly string[]) => xs.join(', ');
const modesOf = (n: NetworkConfig): readonly string[] => (n.driver === 'macvlan' ? MACVLAN_MODES : IPVLAN_MODES);

function networksOf(ctx: RuleContext): Map<string, NetworkConfig> {
  return new Map(ctx.config.networks.map((n) => [n.name, n]));
}

const attachedCache = new WeakMap<Config, ReadonlyArray<{ e: EndpointConfig; n: NetworkConfig }>>();

/** Endpoints whose network is known and valid, with it (computed once per config: several rules ask). */
function attached(ctx: RuleContext): ReadonlyArray<{ e: EndpointConfig; n: NetworkConfig }> {
  let list = attachedCache.get(ctx.config);
  if (!list) {
    const nets = networksOf(ctx);
    const found: Array<{ e: EndpointConfig; n: NetworkConfig }> = [];
    for (const e of ctx.config.endpoints) {
      const n = nets.get(e.network);
      if (n) found.push({ e, n });
    }
    attachedCache.set(ctx.config, found);
    list = found;
  }
  return list;
}

/** Parents shared by networks: dummies are per network, so only written parents can be shared. */
function byParent(ctx: RuleContext): Map<string, NetworkConfig[]> {
  return groupBy(ctx.config.networks, (n) => n.parent);
}

// --- keys, names -------------------------------------------------------------------------------

export const driverKeys: Rule = (ctx) => {
  for (const n of ctx.config.networks) {
    if (n.driver === 'macvlan' && ctx.input.networks[n.name]?.flag !== undefined) {
      ctx.error(['networks', n.name, 'flag'], `flag is for ipvlan networks only; this network's driver is macvlan`, true);
    }
  }
  for (const { e, n } of attached(ctx)) {
    if (n.driver === 'ipvlan' && e.mac !== null) {
      ctx.error(
        ['endpoints', e.name, 'mac'],
        `mac is for macvlan networks only; ${q(n.name)} is ipvlan (its endpoints share the parent's MAC address)`,
        true,
      );
    }
  }
};

/** The modes and flags as written (the normalised config holds only valid ones: the default stands in). */
export const driverModes: Rule = (ctx) => {
  for (const n of ctx.config.networks) {
    const written = ctx.input.networks[n.name];
    const mode = written?.mode;
    if (mode !== undefined && !(modesOf(n) as readonly string[]).includes(mode)) {
      ctx.error(
        ['networks', n.name, 'mode'],
        `mode ${q(mode)} is not ${n.driver === 'ipvlan' ? 'an' : 'a'} ${n.driver} mode: expected one of ${list(modesOf(n))}`,
      );
    }
    const flag = written?.flag;
    if (n.driver === 'ipvlan' && flag !== undefined && !(IPVLAN_FLAGS as readonly string[]).includes(flag)) {
      ctx.error(['networks', n.name, 'flag'], `flag ${q(flag)} is not an ipvlan flag: expected one of ${list(IPVLAN_FLAGS)}`);
    }
  }
};

export const interfaceNames: Rule = (ctx) => {
  const check = (path: YamlPath, name: string | undefined, key = false) => {
    const problem = name === undefined ? null : ifnameProblem(name);
    if (problem) ctx.error(path, problem, key);
  };
  for (const [name, v] of Object.entries(ctx.input.vlans)) {
    check(['vlans', name], name, true);
    check(['vlans', name, 'parent'], v.parent);
  }
  for (const [name, n] of Object.entries(ctx.input.networks)) {
    check(['networks', name, 'parent'], n.parent);
    const base = n.parent === undefined ? undefined : VLAN_PARENT.exec(n.parent)?.[1];
    if (base !== undefined && ifnameProblem(n.parent!) === null) check(['networks', name, 'parent'], base);
  }
  for (const e of ctx.config.endpoints) check(['endpoints', e.name, 'ifname'], e.ifname);
};

export const objectNames: Rule = (ctx) => {
  for (const n of ctx.config.networks) {
    const problem =
      objectNameProblem('network', n.name) ??
      markProblem(formatMark({ role: 'dummy', name: n.name, kind: 'dummy', parent: null, vlanId: null })) ??
      (n.hostAccess ? markProblem(formatMark({ role: 'shim', name: n.name, kind: n.driver, parent: n.parent, vlanId: null })) : null);
    if (problem) ctx.error(['networks', n.name], problem, true);
  }
  const nets = networksOf(ctx);
  for (const e of ctx.config.endpoints) {
    const n = nets.get(e.network);
    const mark = formatMark({ role: 'endpoint', name: e.name, kind: n?.driver ?? 'macvlan', parent: n?.parent ?? '', vlanId: null });
    const problem = objectNameProblem('endpoint', e.name) ?? markProblem(mark);
    if (problem) ctx.error(['endpoints', e.name], problem, true);
  }
};

export const netnsNames: Rule = (ctx) => {
  for (const e of ctx.config.endpoints) {
    if (e.netns === null) continue;
    const problem = netnsProblem(e.netns, netnsMark(e.netns));
    const written = ctx.input.endpoints[e.name]?.netns !== undefined;
    if (problem)
      ctx.error(
        written ? ['endpoints', e.name, 'netns'] : ['endpoints', e.name],
        written ? problem : `${problem} (the namespace defaults to the endpoint's name; set netns)`,
        !written,
      );
  }
};

// --- parents and vlans -------------------------------------------------------------------------

export const loopbackParent: Rule = (ctx) => {
  for (const [name, n] of Object.entries(ctx.input.networks)) {
    if (n.parent === LOOPBACK)
      ctx.error(['networks', name, 'parent'], `parent ${q(LOOPBACK)} is the loopback: macvlan and ipvlan need an Ethernet-like link`);
  }
  for (const [name, v] of Object.entries(ctx.input.vlans)) {
    if (v.parent === LOOPBACK)
      ctx.error(['vlans', name, 'parent'], `parent ${q(LOOPBACK)} is the loopback: an 802.1q link needs an Ethernet link`);
  }
};

export const internalParent: Rule = (ctx) => {
  for (const [name, n] of Object.entries(ctx.input.networks)) {
    if (n.internal === true && n.parent !== undefined) {
      ctx.error(
        ['networks', name, 'internal'],
        `internal: true isolates the network on its own dummy link, so it cannot have parent ${q(n.parent)}; remove one of them`,
      );
    }
    if (n.internal === false && n.parent === undefined) {
      ctx.warn(
        ['networks', name, 'internal'],
        'a network without parent is always internal (isolated on a dummy link); internal: false is ignored',
      );
    }
  }
};

export const vlanParentIds: Rule = (ctx) => {
  for (const [name, n] of Object.entries(ctx.input.networks)) {
    if (n.parent === undefined || n.internal === true || Object.hasOwn(ctx.input.vlans, n.parent)) continue;
    const m = VLAN_PARENT.exec(n.parent);
    if (m && impliedVlan(n.parent) === null) {
      ctx.error(['networks', name, 'parent'], `parent ${q(n.parent)} names VLAN ${m[2]}, outside ${VLAN_ID_MIN}–${VLAN_ID_MAX}`);
    }
  }
};

export const vlanNames: Rule = (ctx) => {
  for (const [name, v] of Object.entries(ctx.input.vlans)) {
    const m = VLAN_PARENT.exec(name);
    if (m && Number(m[2]) !== v.id) {
      ctx.error(
        ['vlans', name, 'id'],
        `vlan ${q(name)} is named for VLAN ${Number(m[2])} but has id ${v.id}; name it otherwise or use id ${Number(m[2])}`,
      );
    }
  }
};

export const vlanDuplicates: Rule = (ctx) => {
  const groups = groupBy(ctx.config.vlans, (v) => `${v.parent}#${v.id}`);
  for (const group of groups.values()) {
    for (const v of group.slice(1)) {
      const first = group[0]!;
      const path = v.source === 'vlans' ? ['vlans', v.name, 'id'] : impliedBy(ctx, v.name);
      ctx.error(
        path,
        `VLAN ${v.id} on ${q(v.parent)} is already ${q(first.name)} (${first.at}); the kernel allows one link per parent and id`,
      );
    }
  }
};

/** The parent key of the first network whose NAME.VID parent implies this vlan. */
function impliedBy(ctx: RuleContext, vlan: string): YamlPath {
  const n = ctx.config.networks.find((n) => n.parent === vlan);
  return n ? ['networks', n.name, 'parent'] : ['networks'];
}

export const sharedParents: Rule = (ctx) => {
  for (const [parent, nets] of byParent(ctx)) {
    const first = nets[0]!;
    for (const n of nets.slice(1)) {
      if (n.driver !== first.driver) {
        ctx.error(
          ['networks', n.name, 'driver'],
          `driver ${n.driver} on parent ${q(parent)}, which network ${q(first.name)} uses with ${first.driver}: the kernel takes one driver per parent (EBUSY)`,
        );
      } else if (n.driver === 'ipvlan' && n.mode !== first.mode) {
        ctx.error(
          ['networks', n.name, 'mode'],
          `ipvlan mode ${n.mode} on parent ${q(parent)}, which network ${q(first.name)} uses in mode ${first.mode}: the mode belongs to the parent, one per parent`,
          ctx.input.networks[n.name]?.mode === undefined,
        );
      } else if (n.driver === 'ipvlan' && n.flag !== first.flag) {
        ctx.error(
          ['networks', n.name, 'flag'],
          `ipvlan flag ${n.flag} on parent ${q(parent)}, which network ${q(first.name)} uses with flag ${first.flag}: the flag belongs to the parent, one per parent`,
          ctx.input.networks[n.name]?.flag === undefined,
        );
      }
    }
  }
};

/** The kernel refuses a macvlan/ipvlan link with a larger MTU than its parent (EINVAL). */
export const vlanMtus: Rule = (ctx) => {
  const vlans = new Map(ctx.config.vlans.map((v) => [v.name, v]));
  for (const n of ctx.config.networks) {
    const v = vlans.get(n.parent);
    if (n.mtu !== null && v?.mtu != null && n.mtu > v.mtu) {
      ctx.error(
        ['networks', n.name, 'mtu'],
        `MTU ${n.mtu} is larger than the MTU ${v.mtu} of its parent vlan ${q(v.name)} (${v.at}); the kernel refuses (EINVAL)`,
      );
    }
  }
};

export const passthru: Rule = (ctx) => {
  const onParent = groupBy(attached(ctx), ({ n }) => n.parent);
  for (const [parent, eps] of onParent) {
    const pt = eps.find(({ n }) => n.driver === 'macvlan' && n.mode === 'passthru');
    if (!pt || eps.length <= 1) continue;
    const second = eps.find(({ e }) => e !== pt.e) ?? eps[1]!;
    ctx.error(
      ['endpoints', second.e.name],
      `parent ${q(parent)} has passthru network ${q(pt.n.name)}, which allows 1 endpoint on it; ${eps.length} are configured (${list(eps.map(({ e }) => e.name))})`,
      true,
    );
  }
};

// --- subnets and addresses ---------------------------------------------------------------------

export interface ParsedSubnet {
  network: NetworkConfig;
  index: number;
  cidr: Cidr;
}

const parsedCache = new WeakMap<Config, ParsedSubnet[]>();

/** Every subnet that parses, with its network; parse errors are reported by `subnets`. */
function parsedSubnets(ctx: RuleContext): ParsedSubnet[] {
  const cached = parsedCache.get(ctx.config);
  if (cached) return cached;
  const parsed = ctx.config.networks.flatMap((network) =>
    network.subnets.flatMap((s, index) => {
      const p = parseCidr(s.cidr);
      return p.ok ? [{ network, index, cidr: p.ok }] : [];
    }),
  );
  parsedCache.set(ctx.config, parsed);
  return parsed;
}

/**
 * For each subnet, the first one before it in the list that overlaps it and is `related` to it;
 * the same answer as `list.slice(0, i).find(...)` for each i, without comparing every pair. Two
 * subnets overlap only when one contains the other, so after sorting by start (widest first) the
 * subnets containing each one are exactly those left on a stack of nested subnets: O(n log n) plus
 * the overlapping pairs.
 */
export function firstOverlapping(
  list: readonly ParsedSubnet[],
  related: (a: ParsedSubnet, b: ParsedSubnet) => boolean,
): Map<number, ParsedSubnet> {
  const sorted = list
    .map((s, i) => ({ s, i, start: s.cidr.net.bigInt() }))
    .sort(
      (a, b) =>
        a.s.cidr.family - b.s.cidr.family ||
        (a.start < b.start ? -1 : a.start > b.start ? 1 : 0) ||
        a.s.cidr.prefix - b.s.cidr.prefix ||
        a.i - b.i,
    );
  const earliest = new Map<number, number>();
  const open: typeof sorted = [];
  for (const x of sorted) {
    while (open.length > 0 && !overlap(open.at(-1)!.s.cidr, x.s.cidr)) open.pop();
    for (const outer of open) {
      const [first, later] = outer.i < x.i ? [outer, x] : [x, outer];
      if (related(later.s, first.s) && first.i < (earliest.get(later.i) ?? Infinity)) earliest.set(later.i, first.i);
    }
    open.push(x);
  }
  return new Map([...earliest].map(([i, j]) => [i, list[j]!]));
}

/**
 * Why a network's gateway is no route's next hop (ipvlan l3/l3s routes through the interface, an
 * internal network has no default route), as words after "next hop"; null when it is one.
 */
function unroutedWords(n: NetworkConfig): string | null {
  if (n.driver === 'ipvlan' && n.mode !== 'l2') return `in ${n.mode} mode (the default route points at the interface)`;
  return n.internal ? 'on an internal network (no default route)' : null;
}

export const subnets: Rule = (ctx) => {
  for (const n of ctx.config.networks) {
    const written = ctx.input.networks[n.name]?.subnets ?? [];
    for (const [i, s] of written.entries()) {
      const path = ['networks', n.name, 'subnets', i];
      const parsed = parseCidr(s.subnet);
      if (parsed.error !== null) {
        ctx.error([...path, 'subnet'], parsed.error);
        continue;
      }
      const cidr = parsed.ok;
      if (s.gateway !== undefined) {
        const gw = parseAddress(s.gateway, cidr.family);
        const unrouted = unroutedWords(n);
        if (gw.error !== null) ctx.error([...path, 'gateway'], gw.error);
        else if (unrouted) {
          // Docker's IPAM still reserves it (normalise.ts, unroutedGateway); say which address is.
          const reserved = n.subnets[i]?.reservedGateway ?? null;
          if (reserved === canonical(gw.ok)) {
            ctx.warn(
              [...path, 'gateway'],
              `gateway ${q(s.gateway)} is no route's next hop ${unrouted}; it is only reserved: no endpoint gets it automatically, as with Docker's IPAM`,
            );
          } else {
            const outside = within(gw.ok, cidr) ? '' : `, and it is outside subnet ${cidr.text}`;
            const instead = reserved ? `; ${reserved} is reserved as the gateway instead` : '';
            ctx.warn([...path, 'gateway'], `gateway ${q(s.gateway)} is ignored ${unrouted}${outside}${instead}`);
          }
        } else if (!within(gw.ok, cidr) && !isLinkLocal6(gw.ok)) {
          ctx.error(
            [...path, 'gateway'],
            `gateway ${q(s.gateway)} is outside subnet ${cidr.text}${cidr.family === 6 ? ' (an IPv6 gateway may also be link-local, fe80::/10)' : ''}`,
          );
        }
      }
      if (s.ip_range !== undefined) {
        const range = parseCidr(s.ip_range);
        if (range.error !== null) ctx.error([...path, 'ip_range'], range.error);
        else if (range.ok.family !== cidr.family || !within(range.ok.net, cidr))
          ctx.error([...path, 'ip_range'], `ip_range ${range.ok.text} is outside subnet ${cidr.text}`);
      }
    }
  }
  for (const mine of groupBy(parsedSubnets(ctx), (s) => s.network.name).values()) {
    const earlier = firstOverlapping(mine, () => true);
    for (const [i, a] of mine.entries()) {
      const b = earlier.get(i);
      if (b)
        ctx.error(
          ['networks', a.network.name, 'subnets', a.index, 'subnet'],
          `subnet ${a.cidr.text} overlaps ${b.cidr.text} of the same network`,
        );
    }
  }
};

/**
 * Docker's --aux-address: addresses of the subnet automatic assignment never hands out (a router, a
 * printer). Docker reserves each in the subnet's IPAM pool, so it refuses what that refuses: an
 * address outside the subnet, one already reserved (network, broadcast, gateway) and one given
 * twice. An endpoint's static address on one is the endpoints' rule (staticAddresses).
 */
export const auxAddresses: Rule = (ctx) => {
  for (const n of ctx.config.networks) {
    const written = ctx.input.networks[n.name]?.subnets ?? [];
    for (const [i, s] of written.entries()) {
      const cidr = parseCidr(s.subnet).ok;
      const seen = new Map<string, string>(); // canonical address → aux name
      for (const [name, text] of Object.entries(s.aux_addresses ?? {})) {
        const path = ['networks', n.name, 'subnets', i, 'aux_addresses', name];
        if (name === '') ctx.error(path, `aux address ${q(text)} has an empty name: write NAME: ADDRESS, e.g. router: ${text}`, true);
        if (!cidr) continue; // the subnet's own error says why
        const addr = parseAddress(text, cidr.family);
        if (addr.error !== null) {
          ctx.error(path, `aux address ${q(name)}: ${addr.error}`);
          continue;
        }
        const address = canonical(addr.ok);
        const it = `aux address ${q(name)} ${q(text)}`;
        const gateway = n.subnets[i]?.reservedGateway ?? null;
        if (!within(addr.ok, cidr)) ctx.error(path, `${it} is outside subnet ${cidr.text}`);
        else if (!isPointToPoint(cidr) && address === networkAddress(cidr)) ctx.error(path, `${it} is the network address of ${cidr.text}`);
        else if (address === broadcastAddress(cidr)) ctx.error(path, `${it} is the broadcast address of ${cidr.text}`);
        else if (address === gateway) {
          const unrouted = n.subnets[i]?.gateway === null ? unroutedWords(n) : null;
          ctx.error(
            path,
            `${it} is the gateway of ${cidr.text}${unrouted ? ` (no route's next hop ${unrouted}, but reserved all the same)` : ''}, which is reserved already: remove it`,
          );
        } else if (seen.has(address)) ctx.error(path, `${it} is already aux address ${q(seen.get(address)!)} of ${cidr.text}`);
        else seen.set(address, name);
      }
    }
  }
};

export const overlappingSubnets: Rule = (ctx) => {
  for (const shared of groupBy(parsedSubnets(ctx), (s) => s.network.parent).values()) {
    const earlier = firstOverlapping(shared, (a, b) => a.network !== b.network);
    for (const [i, a] of shared.entries()) {
      const b = earlier.get(i);
      if (b) {
        ctx.error(
          ['networks', a.network.name, 'subnets', a.index, 'subnet'],
          `subnet ${a.cidr.text} overlaps ${b.cidr.text} of network ${q(b.network.name)} on the same parent ${q(a.network.parent)}`,
        );
      }
    }
  }
};

const FAMILY_KEY = { 4: 'ipv4', 6: 'ipv6' } as const;

/**
 * A static address written for a network's endpoint or host access, checked against the network's
 * subnets: its canonical text and subnet, or null when it is an error (reported).
 */
function staticAddress(
  ctx: RuleContext,
  n: NetworkConfig,
  subnetsOf: Map<string, ParsedSubnet[]>,
  family: Family,
  written: string,
  path: YamlPath,
): { text: string; home: ParsedSubnet } | null {
  const key = FAMILY_KEY[family];
  const addr = parseAddress(written, family);
  if (addr.error !== null) {
    ctx.error(path, addr.error);
    return null;
  }
  const mine = (subnetsOf.get(n.name) ?? []).filter((s) => s.cidr.family === family);
  if (mine.length === 0) {
    ctx.error(path, `network ${q(n.name)} has no IPv${family} subnet, so ${key} ${q(written)} cannot be given`);
    return null;
  }
  const home = mine.find((s) => within(addr.ok, s.cidr));
  if (!home) {
    ctx.error(
      path,
      `${key} ${q(written)} is outside the IPv${family} subnets of network ${q(n.name)} (${list(mine.map((s) => s.cidr.text))})`,
    );
    return null;
  }
  const text = canonical(addr.ok);
  const reserved: Array<[string | null, string]> = [
    [isPointToPoint(home.cidr) ? null : networkAddress(home.cidr), 'the network address'],
    [broadcastAddress(home.cidr), 'the broadcast address'],
    [n.subnets[home.index]?.gateway ?? null, 'the gateway'],
  ];
  const clash = reserved.find(([a]) => a === text);
  if (clash) {
    ctx.error(path, `${key} ${q(written)} is ${clash[1]} of ${home.cidr.text}`);
    return null;
  }
  const aux = n.subnets[home.index]?.auxAddresses.find((a) => a.address === text);
  if (aux) {
    ctx.error(path, `${key} ${q(written)} is aux address ${q(aux.name)} of ${home.cidr.text} (${aux.at}), which no endpoint may have`);
    return null;
  }
  return { text, home };
}

export const staticAddresses: Rule = (ctx) => {
  const subnetsOf = groupBy(parsedSubnets(ctx), (s) => s.network.name);
  const taken = new Map<string, string>(); // parent|address → endpoint, or host access
  for (const n of ctx.config.networks) {
    for (const family of [4, 6] as Family[]) {
      const key = FAMILY_KEY[family];
      const given = ctx.input.networks[n.name]?.host_access;
      const written = typeof given === 'object' ? given[key] : undefined;
      if (written === undefined) continue;
      const ok = staticAddress(ctx, n, subnetsOf, family, written, ['networks', n.name, 'host_access', key]);
      if (ok) taken.set(`${n.parent}|${ok.text}`, `the host access of network ${q(n.name)}`);
    }
  }
  for (const { e, n } of attached(ctx)) {
    for (const family of [4, 6] as Family[]) {
      const key = FAMILY_KEY[family];
      const written = ctx.input.endpoints[e.name]?.[key];
      if (written === undefined) continue;
      const path = ['endpoints', e.name, key];
      const ok = staticAddress(ctx, n, subnetsOf, family, written, path);
      if (!ok) continue;
      const { text, home } = ok;
      const subnet = n.subnets[home.index];
      // Where the gateway is no route's next hop it is only kept out of automatic assignment. Docker
      // refuses a container's --ip on it; vlannet accepts it with a warning, because vlannet 0.1
      // handed that address out (a file may pin the address an endpoint got), a file the daemon runs
      // must not turn invalid on an upgrade, and nothing answers that address there: no route
      // points at it, and on an internal network there is nothing else on the link.
      if (subnet && subnet.gateway === null && subnet.reservedGateway === text) {
        ctx.warn(
          path,
          `${key} ${q(written)} is the gateway address ${home.cidr.text} reserves, which Docker refuses for a container; accepted, since it is no route's next hop ${unroutedWords(n) ?? 'here'}`,
        );
      }
      const other = taken.get(`${n.parent}|${text}`);
      if (other) ctx.error(path, `${key} ${q(written)} is already ${other}'s, on the same parent ${q(n.parent)}`);
      else taken.set(`${n.parent}|${text}`, `endpoint ${q(e.name)}`);
    }
  }
};

// --- endpoints ---------------------------------------------------------------------------------

export const endpointNetworks: Rule = (ctx) => {
  for (const e of ctx.config.endpoints) {
    if (!ctx.writtenNetworks.has(e.network)) {
      const known = [...ctx.writtenNetworks].sort();
      ctx.error(
        ['endpoints', e.name, 'network'],
        `network ${q(e.network)} is not defined; networks: ${known.length ? list(known) : 'none'}`,
      );
    }
  }
};

const netnsText = (netns: string | null) => (netns === null ? HOST_NETNS : netns);

export const endpointInterfaces: Rule = (ctx) => {
  const groups = groupBy(ctx.config.endpoints, (e) => `${netnsText(e.netns)}\0${e.ifname}`);
  for (const [, eps] of groups) {
    for (const e of eps.slice(1)) {
      const written = ctx.input.endpoints[e.name]?.ifname !== undefined;
      ctx.error(
        written ? ['endpoints', e.name, 'ifname'] : ['endpoints', e.name],
        `interface ${q(e.ifname)} in namespace ${q(netnsText(e.netns))} is already endpoint ${q(eps[0]!.name)}'s (${eps[0]!.at})`,
        !written,
      );
    }
  }
};

/** Links vlannet creates in its own namespace must not share a name with each other or with a parent. */
export const hostLinkNames: Rule = (ctx) => {
  const seen = new Map<string, string>();
  const claim = (name: string, what: string, path: YamlPath, key: boolean) => {
    const before = seen.get(name);
    if (before) ctx.error(path, `link name ${q(name)} (${what}) is already ${before} in vlannet's namespace`, key);
    else seen.set(name, what);
  };
  for (const n of ctx.config.networks) if (n.parentKind === 'link') seen.set(n.parent, `the parent of network ${q(n.name)}`);
  for (const v of ctx.config.vlans) if (!seen.has(v.parent)) seen.set(v.parent, `the parent of vlan ${q(v.name)}`);
  for (const v of ctx.config.vlans) if (!seen.has(v.name) || v.source === 'vlans') seen.set(v.name, `vlan ${q(v.name)}`);
  for (const n of ctx.config.networks)
    if (n.parentKind === 'dummy') claim(n.parent, `the dummy link of network ${q(n.name)}`, ['networks', n.name], true);
  for (const n of ctx.config.networks) {
    if (!n.hostAccess) continue;
    const given = ctx.input.networks[n.name]?.host_access;
    const written = typeof given === 'object' && given.ifname !== undefined;
    const path = written ? ['networks', n.name, 'host_access', 'ifname'] : ['networks', n.name, 'host_access'];
    claim(n.hostAccess.ifname, `the host access of network ${q(n.name)}`, path, !written);
  }
  for (const e of ctx.config.endpoints) {
    if (e.netns !== null) continue;
    const written = ctx.input.endpoints[e.name]?.ifname !== undefined;
    claim(e.ifname, `endpoint ${q(e.name)} in netns host`, written ? ['endpoints', e.name, 'ifname'] : ['endpoints', e.name], !written);
  }
};

/** Host access: where it can work, and under a valid name (its addresses are staticAddresses'). */
export const hostAccess: Rule = (ctx) => {
  for (const n of ctx.config.networks) {
    if (!n.hostAccess) continue;
    const path = ['networks', n.name, 'host_access'];
    if (n.internal) {
      ctx.error(path, `network ${q(n.name)} is internal: isolated on its own dummy link, it has no parent the host could reach it over`);
    } else if (n.driver === 'macvlan' && n.mode !== 'bridge') {
      ctx.error(
        path,
        `host access needs macvlan mode bridge: in mode ${n.mode} the kernel does not pass frames between the host's link and the endpoints${n.mode === 'vepa' ? ' (vepa sends them to the switch, which must hairpin them)' : ''}`,
      );
    } else if (n.driver === 'ipvlan' && n.mode !== 'l2') {
      ctx.error(
        path,
        `host access needs ipvlan mode l2; in mode ${n.mode} the host reaches the endpoints by routes through the parent's address, as the upstream routes vlannet prints say`,
      );
    }
    const given = ctx.input.networks[n.name]?.host_access;
    if (typeof given === 'object' && given.ifname !== undefined) {
      const problem = ifnameProblem(given.ifname);
      if (problem) ctx.error([...path, 'ifname'], problem);
    }
  }
};

export const defaultRoutes: Rule = (ctx) => {
  for (const { e, n } of attached(ctx)) {
    if (ctx.input.endpoints[e.name]?.default_route !== true) continue;
    const path = ['endpoints', e.name, 'default_route'];
    if (e.netns === null)
      ctx.error(path, `default_route: true in netns host would replace the host's default route, which vlannet never touches`);
    else if (n.internal) ctx.error(path, `default_route: true on internal network ${q(n.name)}, which is isolated and leads nowhere`);
  }
  for (const family of [4, 6] as Family[]) {
    const routed = attached(ctx).filter(({ e, n }) => e.defaultRoute && n.subnets.some((s) => s.family === family));
    for (const [netns, eps] of groupBy(routed, ({ e }) => netnsText(e.netns))) {
      for (const { e } of eps.slice(1)) {
        const written = ctx.input.endpoints[e.name]?.default_route !== undefined;
        ctx.error(
          written ? ['endpoints', e.name, 'default_route'] : ['endpoints', e.name],
          `namespace ${q(netns)} already gets its IPv${family} default route from endpoint ${q(eps[0]!.e.name)}; set default_route: false on one of them`,
          !written,
        );
      }
    }
  }
};

/** I/G bit: the least significant bit of the first octet marks a group (multicast) address. */
const isMulticastMac = (mac: string) => (parseInt(mac.slice(0, 2), 16) & 1) === 1;
const ZERO_MAC = '00:00:00:00:00:00';

export const macAddresses: Rule = (ctx) => {
  const taken = new Map<string, string>();
  for (const { e, n } of attached(ctx)) {
    if (e.mac === null) continue;
    const path = ['endpoints', e.name, 'mac'];
    if (e.mac === ZERO_MAC) ctx.error(path, `mac ${q(e.mac)} is all zeroes: a link needs a unicast address`);
    else if (isMulticastMac(e.mac))
      ctx.error(path, `mac ${q(e.mac)} is a multicast address (the first octet is odd): a link needs a unicast address`);
    else if (taken.has(`${n.parent}|${e.mac}`))
      ctx.error(path, `mac ${q(e.mac)} is already endpoint ${q(taken.get(`${n.parent}|${e.mac}`)!)}'s, on the same parent ${q(n.parent)}`);
    else taken.set(`${n.parent}|${e.mac}`, e.name);
  }
};

/** Every rule, in the order their diagnostics are listed. */
export const RULES: Record<string, Rule> = {
  driverKeys,
  driverModes,
  interfaceNames,
  objectNames,
  netnsNames,
  loopbackParent,
  internalParent,
  vlanParentIds,
  vlanNames,
  vlanDuplicates,
  sharedParents,
  vlanMtus,
  passthru,
  subnets,
  auxAddresses,
  overlappingSubnets,
  staticAddresses,
  endpointNetworks,
  endpointInterfaces,
  hostLinkNames,
  hostAccess,
  defaultRoutes,
  macAddresses,
};

export function runRules(ctx: RuleContext): void {
  for (const rule of Object.values(RULES)) rule(ctx);
}
