// Reading the kernel into ObservedState: vlannet's own namespace, the named namespaces asked for,
// and every other named namespace that vlannet marked or that holds a link vlannet owns. Every
// namespace is read in turn on its own socket: three dumps (links, addresses, main-table routes),
// each answered inside the system calls that ask for it (see handle.ts). A namespace where the
// kernel announced no change since it was last read, and where vlannet did nothing, is not read
// again (Handles.snapshot): the daemon and the check after an apply read only what changed.

import {
  OBSERVED_FORMAT_VERSION,
  VLANNET_ROUTE_PROTOCOL,
  type AddressState,
  type LinkState,
  type NamespaceState,
  type Netns,
  type ObservedState,
  type RouteState,
} from '../model/types.js';
import { isNetnsMark, isOwned } from '../model/owner.js';
import { decodeAddress, decodeLink, decodeRoute, type RawAddress, type RawLink, type RawRoute } from './decode.js';
import type { RtnlHandle } from './handle.js';
import type { Handles } from './handles.js';
import {
  AF_UNSPEC,
  IFLA,
  NETNSA,
  RT_SCOPE,
  RT_TABLE_MAIN,
  RTEXT_FILTER_SKIP_STATS,
  RTM,
  RTN_UNICAST,
  ifaddrmsg,
  ifinfomsg,
  rtgenmsg,
  rtmsg,
} from './messages.js';
import { AttrWriter, attrS32, parseAttrs } from './nlattr.js';
import { listNamedNetns, ownNetnsFd } from './netns.js';

interface NamespaceDump {
  netns: Netns;
  links: RawLink[];
  addresses: RawAddress[];
  routes: RawRoute[];
  /** The nsid of vlannet's own namespace as this namespace knows it (-1: none), when asked. */
  ownNsid: number;
  /**
   * What this reading contributes to an ObservedState, worked out against the names of the links
   * of vlannet's namespace (`ownNames`: parents are named from them). Kept with the reading: a
   * daemon observing a thousand unchanged namespaces reuses these instead of rebuilding them (and
   * their garbage). Keyed by the names, not by the reading of vlannet's namespace, which is read
   * again whenever an endpoint comes or goes (its parent's list of upper devices changes).
   */
  derived?: { ownNames: string; part: Part };
}

/** One namespace's share of an ObservedState; `namespace` null for vlannet's own. */
interface Part {
  namespace: NamespaceState | null;
  /** Whether any of its links is vlannet's. */
  ownsLinks: boolean;
  links: LinkState[];
  addresses: AddressState[];
  routes: RouteState[];
}

/**
 * `sameCycle`: the check right after an apply, which trusts the namespace files as the observe
 * before it checked them, as the apply's own operations did (see Handles.newCycle). `only`: read
 * just these named namespaces (and vlannet's own).
 */
export function observe(handles: Handles, wanted: string[], sameCycle = false, only?: ReadonlySet<string>): ObservedState {
  if (!sameCycle) handles.newCycle();
  handles.sweep();
  const names = only ? [...only].sort() : [...new Set([...listNamedNetns(), ...wanted])].sort();
  const own = dumpNamespace(handles, null)!;
  const dumps = [own];
  for (const n of names) {
    const d = dumpNamespace(handles, n);
    if (d) dumps.push(d);
  }
  const ownNames = new Map(own.links.map((l) => [l.index, l.name]));
  const ownNamesKey = own.links.map((l) => `${l.index}:${l.name}`).join('/');

  const state: ObservedState = { format_version: OBSERVED_FORMAT_VERSION, namespaces: [], links: [], addresses: [], routes: [] };
  const wantedSet = new Set(only ?? wanted);
  for (const dump of dumps) {
    if (dump.derived?.ownNames !== ownNamesKey) dump.derived = { ownNames: ownNamesKey, part: partOf(dump, ownNames) };
    const { namespace, links, addresses, routes } = dump.derived.part;
    if (namespace) {
      if (!wantedSet.has(namespace.name) && !namespace.owned && !dump.derived.part.ownsLinks) continue;
      state.namespaces.push(namespace);
    }
    for (const l of links) state.links.push(l);
    for (const a of addresses) state.addresses.push(a);
    for (const r of routes) state.routes.push(r);
  }
  return state;
}

function partOf(dump: NamespaceDump, ownNames: Map<number, string>): Part {
  const links = dump.links.map((l) => linkState(dump, l, ownNames));
  const names = new Map(dump.links.map((l) => [l.index, l.name]));
  const namespace =
    dump.netns === null
      ? null
      : ({ name: dump.netns, owned: links.some((l) => l.name === 'lo' && isNetnsMark(l.alias, dump.netns!)) } satisfies NamespaceState);
  return { namespace, ownsLinks: links.some(isOwned), links, addresses: addressStates(dump, names), routes: routeStates(dump, names) };
}

/** Links, addresses and routes of one namespace; null when it does not exist. */
function dumpNamespace(handles: Handles, netns: Netns): NamespaceDump | null {
  const h = handles.tryGet(netns, true);
  if (!h) return null;
  try {
    const known = handles.snapshot<NamespaceDump>(netns);
    if (known) return known;
    handles.listening(netns);
    const links = h.dump(RTM.GETLINK, LINK_DUMP, decodeLink);
    const indexes = handles.indexes(netns);
    indexes.clear();
    for (const l of links) indexes.set(l.name, l.index);
    const addresses = h.dump(RTM.GETADDR, ADDRESS_DUMP, decodeAddress);
    // With strict checking the kernel sends the main table's unicast routes only; else all of them.
    const routes = h.dump(RTM.GETROUTE, h.strict ? ROUTE_DUMP_STRICT : ROUTE_DUMP, decodeMainUnicast);
    const ownNsid = netns !== null && links.some((l) => l.linkNetnsid !== undefined) ? nsidOfOwn(h) : -1;
    const dump = { netns, links, addresses, routes, ownNsid };
    handles.setSnapshot(netns, dump);
    return dump;
  } catch (e) {
    // The namespace vanished between listing and reading it.
    if ((e as { errno?: string }).errno === 'ENOENT') return null;
    throw e;
  }
}

const LINK_DUMP = Buffer.concat([ifinfomsg(), new AttrWriter().u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS).toBuffer()]);
/** A whole struct ifaddrmsg (strict checking refuses the short rtgenmsg form), filtering nothing. */
const ADDRESS_DUMP = ifaddrmsg({ family: AF_UNSPEC, prefixlen: 0, flags: 0, scope: 0, index: 0 });
const ROUTE_DUMP = rtgenmsg(AF_UNSPEC);
/** Kernel-side filter (4.20+, strict checking): the main table's unicast routes only. */
const ROUTE_DUMP_STRICT = rtmsg({ family: AF_UNSPEC, dstLen: 0, table: RT_TABLE_MAIN, protocol: 0, scope: 0, type: RTN_UNICAST });

/** A main-table unicast route, told from its struct rtmsg (rtm_table, rtm_type) before decoding its attributes. */
function decodeMainUnicast(body: Buffer): RawRoute | null {
  return body.length >= 12 && body[4] === RT_TABLE_MAIN && body[7] === RTN_UNICAST ? decodeRoute(body) : null;
}

/** RTM_GETNSID: which nsid the namespace behind `h` gives to vlannet's own namespace (-1: none). */
function nsidOfOwn(h: RtnlHandle): number {
  if (h.ownNsid !== null) return h.ownNsid;
  const request = Buffer.concat([rtgenmsg(AF_UNSPEC), new AttrWriter().u32(NETNSA.FD, ownNetnsFd()).toBuffer()]);
  const [reply] = h.request(RTM.GETNSID, request);
  const nsid = reply ? (attrS32(parseAttrs(reply, 4).get(NETNSA.NSID)) ?? -1) : -1;
  if (nsid >= 0) h.ownNsid = nsid;
  return nsid;
}

function linkState(dump: NamespaceDump, l: RawLink, ownNames: Map<number, string>): LinkState {
  // The lower link's name, only when it lives in vlannet's own namespace (see LinkState.parent).
  let parent: string | null = null;
  // The kernel leaves IFLA_LINK out when the lower link's index equals the link's own index
  // (rtnl_fill_link_ifindex), which happens across namespaces: an endpoint re-created as index 3
  // in its namespace on a parent that is index 3 in vlannet's. IFLA_LINK_NETNSID says there is one.
  const lower = l.link ?? (l.linkNetnsid !== undefined ? l.index : undefined);
  if (lower !== undefined) {
    const inOwn = dump.netns === null ? l.linkNetnsid === undefined : l.linkNetnsid !== undefined && l.linkNetnsid === dump.ownNsid;
    if (inOwn) parent = ownNames.get(lower) ?? null;
  }
  const s: LinkState = {
    netns: dump.netns,
    name: l.name,
    index: l.index,
    kind: l.kind,
    parent,
    mtu: l.mtu,
    mac: l.mac,
    up: l.up,
    alias: l.alias,
  };
  if (l.group !== undefined) s.group = l.group;
  if (l.mode !== undefined) s.mode = l.mode;
  if (l.flag !== undefined) s.flag = l.flag;
  if (l.vlanId !== undefined) s.vlanId = l.vlanId;
  if (l.vlanProtocol !== undefined) s.vlanProtocol = l.vlanProtocol;
  if (l.ipv6Disabled !== undefined) s.ipv6Disabled = l.ipv6Disabled;
  return s;
}

/**
 * Addresses the operator could have configured: not loopback's (scope host) and not the IPv6
 * link-local addresses the kernel gives every link by itself.
 */
function addressStates(dump: NamespaceDump, names: Map<number, string>): AddressState[] {
  return dump.addresses
    .filter((a) => a.scope !== RT_SCOPE.HOST && !(a.family === 6 && a.scope === RT_SCOPE.LINK))
    .flatMap((a) => {
      const link = names.get(a.index);
      return link === undefined ? [] : [{ netns: dump.netns, link, family: a.family, address: a.address, prefixLength: a.prefixLength }];
    });
}

/**
 * Unicast routes of the main table with an outgoing device (multipath and blackhole routes are
 * never vlannet's), without the kernel's fe80::/64; in vlannet's own namespace only vlannet's
 * routes and default routes.
 */
function routeStates(dump: NamespaceDump, names: Map<number, string>): RouteState[] {
  return dump.routes
    .filter((r) => r.table === RT_TABLE_MAIN && r.type === RTN_UNICAST && r.oif !== undefined)
    .filter((r) => !(r.family === 6 && r.dst === 'fe80::/64')) // the kernel's, with each link-local address
    .filter((r) => dump.netns !== null || r.protocol === VLANNET_ROUTE_PROTOCOL || r.dst === 'default')
    .flatMap((r) => {
      const dev = names.get(r.oif!);
      if (dev === undefined) return [];
      const s: RouteState = { netns: dump.netns, family: r.family, dst: r.dst, gateway: r.gateway, dev, protocol: r.protocol };
      if (r.metric !== undefined) s.metric = r.metric;
      return [s];
    });
}
