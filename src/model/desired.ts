// Config + observed state → the desired state: every namespace, link, address and route that must
// hold, with Docker's macvlan/ipvlan semantics. Pure: reads the observed state only to keep
// addresses, to see which parents exist and which names are taken by links vlannet does not own.

import { hostAddressOn, isLinkLocal } from './address.js';
import { allocateAddresses, hostAccessKey } from './addressing.js';
import { groupBy } from './collections.js';
import { isUnfinished, markFor, ownerOf } from './owner.js';
import {
  VLANNET_ROUTE_PROTOCOL,
  type AddressState,
  type Config,
  type DesiredState,
  type Diagnostic,
  type EndpointConfig,
  type Family,
  type LinkIdentity,
  type LinkKind,
  type LinkSpec,
  type LinkState,
  type Netns,
  type NetworkConfig,
  type ObservedState,
  type RouteState,
  type UpstreamRoute,
} from './types.js';

export interface Resolved {
  desired: DesiredState;
  diagnostics: Diagnostic[];
}

const key = (netns: string | null, name: string) => `${netns ?? ''}\0${name}`;
/** The module that makes each kind of link. */
const MODULE: Record<LinkKind, string> = { macvlan: 'macvlan', ipvlan: 'ipvlan', vlan: '8021q', dummy: 'dummy' };
const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function error(at: string, path: string, message: string): Diagnostic {
  return { severity: 'error', at, path, message };
}

function describe(link: LinkState): string {
  const where = link.netns === null ? '' : ` in namespace ${link.netns}`;
  return `${link.name}${where} (${link.kind || 'device'}${link.alias ? `, alias "${link.alias}"` : ''})`;
}

export function resolveDesired(config: Config, observed: ObservedState): Resolved {
  const diagnostics: Diagnostic[] = [];
  const links = new Map(observed.links.map((l) => [key(l.netns, l.name), l]));
  const foreign = (netns: string | null, name: string): LinkState | undefined => {
    const l = links.get(key(netns, name));
    return l && !ownerOf(l) && !isUnfinished(l) ? l : undefined;
  };
  const desiredLinks: LinkSpec[] = [];
  const claimed = new Map<string, string>(); // netns+name → the object that wants it

  const claim = (spec: LinkSpec, object: string, at: string, path: string): boolean => {
    const k = key(spec.netns, spec.name);
    const other = claimed.get(k);
    if (other) {
      diagnostics.push(
        error(
          at,
          path,
          `${object} wants link name ${spec.name}${spec.netns ? ` in namespace ${spec.netns}` : ''}, which ${other} already uses`,
        ),
      );
      return false;
    }
    const f = foreign(spec.netns, spec.name);
    if (f) {
      diagnostics.push(
        error(
          at,
          path,
          `${object} needs the link name ${spec.name}, but ${describe(f)} is not vlannet's; vlannet never takes over a link it did not create: rename or remove it`,
        ),
      );
      return false;
    }
    claimed.set(k, object);
    desiredLinks.push(spec);
    return true;
  };

  // What the kernel will refuse, said before anything is touched: a link kind it cannot make (a
  // module missing), an MTU above the parent's.
  const unsupported = new Set(observed.unsupportedLinkKinds ?? []);
  const reportedKinds = new Set<string>();
  const refusedKind = (kind: LinkKind, at: string, path: string, what: string) => {
    if (!unsupported.has(kind) || reportedKinds.has(`${kind} ${path}`)) return;
    reportedKinds.add(`${kind} ${path}`);
    diagnostics.push(
      error(
        at,
        path,
        `${what} needs ${kind === 'ipvlan' ? 'an' : 'a'} ${kind} link, and this kernel cannot make one (it refused in a throwaway namespace): load the module (modprobe ${MODULE[kind]})`,
      ),
    );
  };
  const mtuOf = (name: string): number | null => {
    const desiredMtu = desiredLinks.find((l) => l.netns === null && l.name === name)?.mtu;
    if (desiredMtu !== undefined && desiredMtu !== null) return desiredMtu;
    const seen = links.get(key(null, name))?.mtu;
    if (seen !== undefined) return seen;
    const vlan = config.vlans.find((v) => v.name === name);
    return vlan ? mtuOf(vlan.parent) : null; // a vlan link takes its parent's MTU
  };
  const aboveParent = (what: string, mtu: number | null, parent: string | null, at: string, path: string) => {
    if (mtu === null || parent === null) return;
    const limit = mtuOf(parent);
    if (limit !== null && mtu > limit) {
      diagnostics.push(
        error(
          at,
          path,
          `${what} is above the MTU of its parent ${parent} (${limit}): the kernel refuses that (EINVAL); raise ${parent}'s MTU first, or lower this one`,
        ),
      );
    }
  };

  // Parents vlannet creates.
  const networksOnVlan = groupBy(
    config.networks.filter((n) => n.parentKind === 'vlan'),
    (n) => n.parent,
  );
  const createdParents = new Set<string>();
  for (const v of [...config.vlans].sort(byName)) {
    if (v.source === 'implied' && foreign(null, v.name)) continue; // an existing link of that name is the parent
    const mtus = (networksOnVlan.get(v.name) ?? []).map((n) => n.mtu).filter((m): m is number => m !== null);
    const identity = { role: 'vlan', name: v.name } as const;
    const spec: LinkSpec = {
      netns: null,
      name: v.name,
      kind: 'vlan',
      parent: v.parent,
      vlanId: v.id,
      mtu: v.mtu ?? (mtus.length ? Math.max(...mtus) : null),
      mac: null,
      up: true,
      identity,
      alias: markFor(identity, { kind: 'vlan', parent: v.parent, vlanId: v.id }),
    };
    if (!links.has(key(null, v.parent)) && !config.vlans.some((o) => o.name === v.parent)) {
      diagnostics.push(error(v.at, v.path, `parent link ${v.parent} of vlan ${v.name} does not exist`));
    }
    if (claim(spec, `vlan ${v.name}`, v.at, v.path)) createdParents.add(v.name);
    refusedKind('vlan', v.at, v.path, `vlan ${v.name}`);
    if (v.source === 'vlans') aboveParent(`mtu ${spec.mtu}`, spec.mtu, v.parent, v.at, `${v.path}.mtu`);
    else aboveParent(`the mtu of vlan ${v.name} (${spec.mtu}, for the networks on it)`, spec.mtu, v.parent, v.at, v.path);
  }
  for (const n of [...config.networks].sort(byName)) {
    if (n.parentKind !== 'dummy') continue;
    const identity = { role: 'dummy', name: n.name } as const;
    const spec: LinkSpec = {
      netns: null,
      name: n.parent,
      kind: 'dummy',
      parent: null,
      mtu: n.mtu,
      mac: null,
      up: true,
      identity,
      alias: markFor(identity, { kind: 'dummy', parent: null }),
    };
    if (claim(spec, `the dummy parent of network ${n.name}`, n.at, n.path)) createdParents.add(n.parent);
    refusedKind('dummy', n.at, n.path, `network ${n.name} (isolated, on a dummy link)`);
  }
  for (const n of config.networks) {
    if (n.parentKind === 'dummy' || createdParents.has(n.parent) || links.has(key(null, n.parent))) continue;
    if (n.parentKind === 'vlan' && config.vlans.some((v) => v.name === n.parent)) continue; // reported above
    diagnostics.push(
      error(
        n.at,
        `${n.path}.parent`,
        `parent link ${n.parent} does not exist; create it, or name it NAME.VID to have vlannet create an 802.1q link`,
      ),
    );
  }
  checkParentSharing(config, observed, diagnostics);

  // Endpoints.
  const addressing = allocateAddresses(config, observed);
  diagnostics.push(...addressing.diagnostics);
  const networks = new Map(config.networks.map((n) => [n.name, n]));
  const addresses: AddressState[] = [];
  const routes: RouteState[] = [];
  const defaultRouteOwner = new Map<string, EndpointConfig>();
  const mtuChecked = new Set<string>();
  const endpoints = [...config.endpoints].sort(byName);
  for (const ep of endpoints) {
    const net = networks.get(ep.network);
    if (!net) continue;
    const got = addressing.byEndpoint.get(ep.name) ?? {};
    const identity = { role: 'endpoint', name: ep.name } as const;
    const spec = memberLink(net, ep.netns, ep.ifname, identity, got[6] === undefined, ep.mac?.toLowerCase() ?? null);
    if (!claim(spec, `endpoint ${ep.name}`, ep.at, `${ep.path}.ifname`)) continue;
    refusedKind(net.driver, net.at, `${net.path}.driver`, `network ${net.name}`);
    if (!mtuChecked.has(net.name)) {
      mtuChecked.add(net.name);
      aboveParent(`mtu ${net.mtu}`, net.parentKind === 'dummy' ? null : net.mtu, net.parent, net.at, `${net.path}.mtu`);
    }
    for (const family of [4, 6] as Family[]) {
      const a = got[family];
      if (!a) continue;
      addresses.push({ netns: ep.netns, link: ep.ifname, family, address: a.address, prefixLength: a.prefixLength });
      const l3 = net.driver === 'ipvlan' && (net.mode === 'l3' || net.mode === 'l3s');
      if (!ep.defaultRoute || net.internal) {
        // ipvlan l3 routes between the subnets of one parent (the seed's parentless ipnet210
        // pings across its two subnets); without a default route that takes a route per subnet.
        if (l3) {
          for (const other of net.subnets) {
            if (other.family !== family || other.cidr === a.subnet.cidr) continue;
            routes.push({ netns: ep.netns, family, dst: other.cidr, gateway: null, dev: ep.ifname, protocol: VLANNET_ROUTE_PROTOCOL });
          }
        }
        continue;
      }
      const gateway = l3 ? null : a.subnet.gateway;
      if (!l3 && gateway === null) continue;
      const owner = defaultRouteOwner.get(`${ep.netns ?? ''}\0${family}`);
      if (owner) {
        diagnostics.push(
          error(
            ep.at,
            `${ep.path}.default_route`,
            `namespace ${ep.netns ?? 'host'} would get two IPv${family} default routes, through endpoints ${owner.name} and ${ep.name}; set default_route: false on one of them`,
          ),
        );
        continue;
      }
      defaultRouteOwner.set(`${ep.netns ?? ''}\0${family}`, ep);
      routes.push({ netns: ep.netns, family, dst: 'default', gateway, dev: ep.ifname, protocol: VLANNET_ROUTE_PROTOCOL });
    }
  }

  hostAccess(config, observed, addressing, claim, refusedKind, { addresses, routes }, diagnostics);

  for (const o of observed.orphans ?? []) {
    const pid = o.users[0]?.pid;
    diagnostics.push({
      severity: 'warning',
      at: '',
      path: `netns.${o.name}`,
      message:
        `namespace ${o.name} is gone from /run/netns, but ${o.users.map((u) => `pid ${u.pid} (${u.command})`).join(', ')} keep${o.users.length === 1 ? 's' : ''} it alive ` +
        `with vlannet's ${o.links.map((l) => `link ${l.name}`).join(', ')}${o.addresses.length ? ` (${o.addresses.map((a) => `${a.address}/${a.prefixLength}`).join(', ')})` : ''} ` +
        `still on the LAN: ${o.addresses.length ? 'those addresses are not handed out again; ' : ''}end the process${o.users.length === 1 ? '' : 'es'}, ` +
        `or remove the link${o.links.length === 1 ? '' : 's'} (nsenter --net=/proc/${pid}/ns/net ip link del ${o.links[0]?.name ?? 'LINK'})`,
    });
  }

  const namespaces = [...new Set(config.endpoints.map((e) => e.netns).filter((n): n is string => n !== null))].sort();
  const desired: DesiredState = { namespaces, links: desiredLinks, addresses, routes, upstreamRoutes: upstreamRoutes(config, observed) };
  return { desired, diagnostics };
}

/**
 * The link of a network's member in `netns`: an endpoint's, or the network's host access. Written
 * out per kind (no spread of a shared part, the keys in the order plan --json shows): this runs
 * for every endpoint on every run of the daemon.
 */
function memberLink(
  net: NetworkConfig,
  netns: Netns,
  name: string,
  identity: LinkIdentity,
  ipv6Disabled: boolean,
  mac: string | null,
): LinkSpec {
  const alias = markFor(identity, { kind: net.driver, parent: net.parent });
  return net.driver === 'macvlan'
    ? { netns, name, parent: net.parent, mtu: net.mtu, up: true, identity, alias, ipv6Disabled, kind: 'macvlan', mode: net.mode, mac }
    : {
        netns,
        name,
        parent: net.parent,
        mtu: net.mtu,
        up: true,
        identity,
        alias,
        ipv6Disabled,
        kind: 'ipvlan',
        mode: net.mode,
        flag: net.flag,
        mac: null,
      };
}

/**
 * Each network's host access: a link of the network's driver in vlannet's own namespace on the
 * parent (macvlan bridge, or ipvlan l2 as the network's), with its address as a host address (/32,
 * /128: no prefix route, so the host's own route to the rest of the subnet keeps its parent), and a
 * route to each endpoint's address through it. The host then reaches every endpoint from that
 * address, and the endpoints reach the host at it. A macvlan or ipvlan network without it, on a
 * parent that holds a host address, gets a warning: the host cannot reach those endpoints.
 */
function hostAccess(
  config: Config,
  observed: ObservedState,
  addressing: ReturnType<typeof allocateAddresses>,
  claim: (spec: LinkSpec, object: string, at: string, path: string) => boolean,
  refusedKind: (kind: LinkKind, at: string, path: string, what: string) => void,
  out: { addresses: AddressState[]; routes: RouteState[] },
  diagnostics: Diagnostic[],
): void {
  for (const n of [...config.networks].sort(byName)) {
    const h = n.hostAccess;
    if (!h) {
      const hostAddress =
        n.parentKind !== 'dummy' && observed.addresses.some((a) => a.netns === null && a.link === n.parent && !isLinkLocal(a.address));
      const reachable = config.endpoints.some((e) => e.network === n.name && e.netns !== null);
      if (hostAddress && reachable && (n.driver === 'macvlan' ? n.mode === 'bridge' : n.mode === 'l2')) {
        diagnostics.push({
          severity: 'warning',
          at: n.at,
          path: n.path,
          message: `the host cannot reach the endpoints of network ${n.name}: the kernel passes no frames between ${n.parent}, which holds the host's address, and its ${n.driver} children; add host_access: true to reach them through a link of vlannet's own`,
        });
      }
      continue;
    }
    if (n.internal || (n.driver === 'macvlan' ? n.mode !== 'bridge' : n.mode !== 'l2')) continue; // the config's rules say why
    const identity = { role: 'shim', name: n.name } as const;
    const got = addressing.byEndpoint.get(hostAccessKey(n.name)) ?? {};
    // The network's mode is bridge (ipvlan: l2) here: host access works in no other.
    const spec = memberLink(n, null, h.ifname, identity, got[6] === undefined, null);
    if (!claim(spec, `the host access of network ${n.name}`, h.at, h.path)) continue;
    refusedKind(n.driver, h.at, h.path, `the host access of network ${n.name}`);
    for (const family of [4, 6] as Family[]) {
      const a = got[family];
      if (!a) continue;
      const host = family === 4 ? 32 : 128;
      out.addresses.push({ netns: null, link: h.ifname, family, address: a.address, prefixLength: host });
      for (const e of config.endpoints) {
        if (e.network !== n.name || e.netns === null) continue;
        const to = addressing.byEndpoint.get(e.name)?.[family];
        if (to)
          out.routes.push({
            netns: null,
            family,
            dst: `${to.address}/${host}`,
            gateway: null,
            dev: h.ifname,
            protocol: VLANNET_ROUTE_PROTOCOL,
          });
      }
    }
  }
}

/** ipvlan l3/l3s: the routes upstream routers need to reach the subnets through this host. */
function upstreamRoutes(config: Config, observed: ObservedState): UpstreamRoute[] {
  const out: UpstreamRoute[] = [];
  for (const n of [...config.networks].sort(byName)) {
    if (n.driver !== 'ipvlan' || n.internal || (n.mode !== 'l3' && n.mode !== 'l3s')) continue;
    for (const s of n.subnets) {
      out.push({ network: n.name, subnet: s.cidr, via: hostAddressOn(observed.addresses, n.parent, s.family), parent: n.parent });
    }
  }
  return out;
}

/**
 * One parent, one driver, as the kernel has it (a macvlan on a link that carries ipvlans fails
 * with EBUSY, and the reverse; an ipvlan's mode and flag belong to its parent): against the links
 * vlannet does not own on a parent. Between the networks of the file the rule is the config's
 * (config/rules.ts, sharedParents).
 */
function checkParentSharing(config: Config, observed: ObservedState, diagnostics: Diagnostic[]): void {
  const firstOn = new Map<string, NetworkConfig>();
  for (const n of config.networks) {
    if (!firstOn.has(n.parent) && config.endpoints.some((e) => e.network === n.name)) firstOn.set(n.parent, n);
  }
  for (const l of observed.links) {
    const n = l.parent === null ? undefined : firstOn.get(l.parent);
    if (!n || ownerOf(l) || (l.kind !== 'macvlan' && l.kind !== 'ipvlan')) continue;
    if (l.kind !== n.driver) {
      diagnostics.push(
        error(
          n.at,
          `${n.path}.driver`,
          `parent ${n.parent} carries ${describe(l)}, which vlannet does not own; a ${n.driver} link cannot share a parent with ${l.kind} links (EBUSY)`,
        ),
      );
    } else if (l.kind === 'ipvlan' && (l.mode !== n.mode || (l.flag ?? 'bridge') !== (n.flag ?? 'bridge'))) {
      diagnostics.push(
        error(
          n.at,
          `${n.path}.mode`,
          `parent ${n.parent} carries ${describe(l)} in ipvlan ${l.mode} ${l.flag ?? 'bridge'}, which vlannet does not own; ipvlan ${n.mode} would change its mode too`,
        ),
      );
    }
  }
}
