// Saved plans (`vlannet plan --out FILE`, `vlannet apply FILE`): the fingerprint of the observed
// state a plan was computed from, and what changed since, in words. Pure: the command line reads
// and writes the files (src/cli/saved.ts).
//
// The fingerprint covers what the planner reads, and nothing else, so that a change elsewhere on
// the host does not make every saved plan stale, while anything that could change what the plan
// does makes it stale:
// - every named namespace vlannet looked at (those the config names, those it marked, those that
//   hold its links: kernel.observe reads no other) with whether it is marked;
// - in full (every attribute but the ifindex, which changes nothing): every link vlannet owns or
//   began, anywhere; every link at a place the config or the plan names, as the link itself or as
//   the parent it hangs from, present or not (a foreign link taking the name, a parent's MTU);
//   and the parents of all of those;
// - by identity (name, kind, parent, mode, flag, vlan id: not its MTU, MAC or state): every other
//   link in a named namespace (it keeps the namespace, it takes a name), and every link in
//   vlannet's own namespace hanging from a link of the above (it keeps its parent, it shares it);
// - every address in a named namespace, on a link above, or inside a subnet of the config (it is
//   not free to hand out), link-local ones on other links excepted;
// - the routes vlannet owns, and the routes to a destination the config wants a route to in the
//   same namespace (a route vlannet does not own blocks it);
// - namespaces vlannet made that lost their name (their addresses are held), and the link kinds
//   this kernel cannot make.
// Left out: ifindexes; links, addresses and routes of vlannet's own namespace that nothing above
// names (another program's veths, bridges, their addresses outside the config's subnets, the
// host's routing table); the processes in namespaces (checked again when the plan is applied, as
// for any apply); namespaces vlannet neither looked at nor marked.

import { createHash } from 'node:crypto';
import { addressInSubnet } from '../model/address.js';
import { isUnfinished, ownerOf } from '../model/owner.js';
import type {
  AddressState,
  DesiredState,
  KernelOp,
  LinkState,
  NamespaceState,
  Netns,
  ObservedState,
  Plan,
  RouteState,
} from '../model/types.js';
import { place } from './context.js';

/** What a saved plan depends on beyond what vlannet owns: derived from the config and the plan, kept in the file. */
export interface FingerprintScope {
  /** Links the config or the plan names, as a link or as a parent: fingerprinted in full, present or absent. */
  places: { netns: Netns; name: string }[];
  /** Destinations of the routes the config wants, per namespace. */
  routes: { netns: Netns; dst: string }[];
  /** The config's subnets. */
  subnets: string[];
}

/** A link as fingerprinted: `full` with every attribute but the ifindex; otherwise its identity alone. */
export type FingerprintedLink =
  | Omit<LinkState, 'index'>
  | Pick<LinkState, 'netns' | 'name' | 'kind' | 'parent' | 'mode' | 'flag' | 'vlanId'>;

/** The part of an observed state a plan depends on, in a canonical order. */
export interface FingerprintedState {
  namespaces: NamespaceState[];
  links: FingerprintedLink[];
  addresses: AddressState[];
  routes: RouteState[];
  orphans: { name: string; links: FingerprintedLink[]; addresses: AddressState[] }[];
  unsupportedLinkKinds: string[];
}

/** The names of links an operation acts on or hangs from, with their namespace. */
function placesOfOp(op: KernelOp): { netns: Netns; name: string }[] {
  switch (op.op) {
    case 'netns-add':
      return [];
    case 'netns-del':
      return (op.links ?? []).flatMap((l) => [{ netns: l.before.netns, name: l.before.name }, ...parentPlace(l.before.parent)]);
    case 'link-add':
      return [{ netns: op.link.netns, name: op.link.name }, ...parentPlace(op.link.parent)];
    case 'link-set':
      return [{ netns: op.netns, name: op.name }, ...(op.set.name ? [{ netns: op.netns, name: op.set.name }] : [])];
    case 'link-del':
      return [{ netns: op.netns, name: op.name }, ...parentPlace(op.before.parent)];
    case 'addr-add':
    case 'addr-del':
      return [{ netns: op.addr.netns, name: op.addr.link }];
    case 'route-add':
    case 'route-del':
      return [{ netns: op.route.netns, name: op.route.dev }];
  }
}
const parentPlace = (parent: string | null) => (parent === null ? [] : [{ netns: null, name: parent }]);

/** The scope of a plan's fingerprint: what the desired state and the plan name. */
export function fingerprintScope(desired: DesiredState, plan: Plan, subnets: readonly string[]): FingerprintScope {
  const places = new Map<string, { netns: Netns; name: string }>();
  const add = (p: { netns: Netns; name: string }) => places.set(place(p.netns, p.name), p);
  for (const l of desired.links) {
    add({ netns: l.netns, name: l.name });
    for (const p of parentPlace(l.parent)) add(p);
  }
  for (const a of plan.actions) for (const p of placesOfOp(a.op)) add(p);
  const routes = new Map<string, { netns: Netns; dst: string }>();
  for (const r of desired.routes) routes.set(`${r.netns ?? ''}\0${r.dst}`, { netns: r.netns, dst: r.dst });
  return {
    places: [...places.values()].sort(byKey((p) => place(p.netns, p.name))),
    routes: [...routes.values()].sort(byKey((r) => `${r.netns ?? ''}\0${r.dst}`)),
    subnets: [...new Set(subnets)].sort(),
  };
}

const byKey =
  <T>(key: (x: T) => string) =>
  (a: T, b: T) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };

const fullLink = (l: LinkState): FingerprintedLink => {
  const { index: _, ...rest } = l;
  return rest;
};
const identityLink = (l: LinkState): FingerprintedLink => ({
  netns: l.netns,
  name: l.name,
  kind: l.kind,
  parent: l.parent,
  ...(l.mode !== undefined ? { mode: l.mode } : {}),
  ...(l.flag !== undefined ? { flag: l.flag } : {}),
  ...(l.vlanId !== undefined ? { vlanId: l.vlanId } : {}),
});
const linkKey = (l: { netns: Netns; name: string }) => place(l.netns, l.name);
const addressKey = (a: AddressState) => `${place(a.netns, a.link)}\0${a.address}/${a.prefixLength}`;
const routeKey = (r: RouteState) =>
  `${r.netns ?? ''}\0${r.family}\0${r.dst}\0${r.dev}\0${r.gateway ?? ''}\0${r.protocol}\0${r.metric ?? ''}`;
const isLinkLocal = (address: string) => /^fe[89ab]/i.test(address) || address.startsWith('169.254.');

/** The part of `observed` a plan with this scope depends on (see the top of this file). */
export function fingerprintedState(observed: ObservedState, scope: FingerprintScope): FingerprintedState {
  const named = new Set(scope.places.map(linkKey));
  const full = new Set<string>();
  for (const l of observed.links) if (named.has(linkKey(l)) || ownerOf(l) || isUnfinished(l)) full.add(linkKey(l));
  // Parents (of vlannet's own namespace) of the links above.
  for (const l of observed.links) if (full.has(linkKey(l)) && l.parent !== null) full.add(place(null, l.parent));
  const links: FingerprintedLink[] = [];
  for (const l of observed.links) {
    if (full.has(linkKey(l))) links.push(fullLink(l));
    else if (l.netns !== null || (l.parent !== null && full.has(place(null, l.parent)))) links.push(identityLink(l));
  }
  const linked = new Set(links.map(linkKey));
  const addresses = observed.addresses.filter(
    (a) =>
      a.netns !== null ||
      linked.has(place(a.netns, a.link)) ||
      (!isLinkLocal(a.address) && scope.subnets.some((s) => inSubnet(a.address, s))),
  );
  const wantedRoutes = new Set(scope.routes.map((r) => `${r.netns ?? ''}\0${r.dst}`));
  const routes = observed.routes.filter((r) => r.protocol === 201 || wantedRoutes.has(`${r.netns ?? ''}\0${r.dst}`));
  return {
    namespaces: observed.namespaces.map((n) => ({ name: n.name, owned: n.owned })).sort(byKey((n) => n.name)),
    links: links.sort(byKey(linkKey)),
    addresses: addresses.map((a) => ({ ...a })).sort(byKey(addressKey)),
    routes: routes.map((r) => ({ ...r })).sort(byKey(routeKey)),
    orphans: (observed.orphans ?? [])
      .map((o) => ({
        name: o.name,
        links: o.links.map(fullLink).sort(byKey(linkKey)),
        addresses: o.addresses.map((a) => ({ ...a })).sort(byKey(addressKey)),
      }))
      .sort(byKey((o) => o.name)),
    unsupportedLinkKinds: [...(observed.unsupportedLinkKinds ?? [])].sort(),
  };
}

function inSubnet(address: string, cidr: string): boolean {
  try {
    return addressInSubnet(address, cidr);
  } catch {
    return false;
  }
}

/** JSON with object keys sorted and undefined left out: the same state, the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const entries = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The fingerprint of a fingerprinted state: sha256 of its canonical JSON. */
export function fingerprint(state: FingerprintedState): string {
  return createHash('sha256').update(canonicalJson(state)).digest('hex');
}

/** At most this many changes are listed; the rest are counted. */
const SHOWN = 8;

/**
 * What changed between the state a plan was saved with and the kernel now, in words, one line per
 * change, grouped by namespace ("in namespace web1: link eth0 appeared (macvlan on eth1, not vlannet's)").
 */
export function describeStaleness(saved: FingerprintedState, now: FingerprintedState): string[] {
  const lines: { netns: Netns; text: string }[] = [];
  diff(saved.namespaces, now.namespaces, (n) => n.name, {
    gone: (n) => lines.push({ netns: n.name, text: 'the namespace is gone' }),
    appeared: (n) => lines.push({ netns: n.name, text: `the namespace appeared${n.owned ? '' : " (not vlannet's)"}` }),
    changed: (_, n) =>
      lines.push({ netns: n.name, text: n.owned ? "the namespace is now marked as vlannet's" : "the namespace lost vlannet's mark" }),
  });
  diff(saved.links, now.links, linkKey, {
    gone: (l) => lines.push({ netns: l.netns, text: `link ${l.name} is gone` }),
    appeared: (l) => lines.push({ netns: l.netns, text: `link ${l.name} appeared (${linkWords(l)})` }),
    changed: (a, b) => lines.push({ netns: b.netns, text: `link ${b.name}: ${attributeChanges(a, b)}` }),
  });
  diff(saved.addresses, now.addresses, addressKey, {
    gone: (a) => lines.push({ netns: a.netns, text: `address ${a.address}/${a.prefixLength} on ${a.link} is gone` }),
    appeared: (a) => lines.push({ netns: a.netns, text: `address ${a.address}/${a.prefixLength} appeared on ${a.link}` }),
    changed: () => {},
  });
  const routeWords = (r: RouteState) =>
    `route ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}${r.protocol === 201 ? '' : ` (proto ${r.protocol})`}`;
  diff(saved.routes, now.routes, routeKey, {
    gone: (r) => lines.push({ netns: r.netns, text: `${routeWords(r)} is gone` }),
    appeared: (r) => lines.push({ netns: r.netns, text: `${routeWords(r)} appeared` }),
    changed: () => {},
  });
  diff(saved.orphans, now.orphans, (o) => o.name, {
    gone: (o) => lines.push({ netns: null, text: `the orphaned namespace ${o.name} is gone` }),
    appeared: (o) => lines.push({ netns: null, text: `the namespace ${o.name} lost its name but lives on in processes` }),
    changed: (o) => lines.push({ netns: null, text: `the orphaned namespace ${o.name} changed` }),
  });
  if (canonicalJson(saved.unsupportedLinkKinds) !== canonicalJson(now.unsupportedLinkKinds))
    lines.push({
      netns: null,
      text: `the link kinds this kernel cannot make changed (${saved.unsupportedLinkKinds.join(', ') || 'none'} → ${now.unsupportedLinkKinds.join(', ') || 'none'})`,
    });
  if (lines.length === 0) return ['the observed state differs from the one the plan was saved with'];
  const shown = lines
    .slice(0, SHOWN)
    .map((l) => `${l.netns === null ? "in vlannet's own namespace" : `in namespace ${l.netns}`}: ${l.text}`);
  return lines.length > SHOWN ? [...shown, `and ${lines.length - SHOWN} more change${lines.length - SHOWN === 1 ? '' : 's'}`] : shown;
}

function diff<T>(
  before: readonly T[],
  after: readonly T[],
  key: (x: T) => string,
  on: { gone(x: T): void; appeared(x: T): void; changed(a: T, b: T): void },
): void {
  const was = new Map(before.map((x) => [key(x), x]));
  const is = new Map(after.map((x) => [key(x), x]));
  for (const [k, x] of was) {
    const y = is.get(k);
    if (y === undefined) on.gone(x);
    else if (canonicalJson(x) !== canonicalJson(y)) on.changed(x, y);
  }
  for (const [k, y] of is) if (!was.has(k)) on.appeared(y);
}

function linkWords(l: FingerprintedLink): string {
  const kind = l.kind || 'device';
  const on = l.parent ? ` on ${l.parent}` : '';
  const owner = 'alias' in l && ownerOf(l as LinkState) ? "vlannet's" : "not vlannet's";
  return `${kind}${on}, ${owner}`;
}

function attributeChanges(a: FingerprintedLink, b: FingerprintedLink): string {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const show = (v: unknown) => (v === undefined ? 'unknown' : JSON.stringify(v));
  const changes = keys
    .filter((k) => canonicalJson((a as Record<string, unknown>)[k]) !== canonicalJson((b as Record<string, unknown>)[k]))
    .map((k) => `${k} ${show((a as Record<string, unknown>)[k])} → ${show((b as Record<string, unknown>)[k])}`);
  return changes.join(', ');
}
