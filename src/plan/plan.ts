// The planner: desired state vs observed state → ordered kernel operations. Pure.
//
// Only what vlannet owns is ever changed or deleted: links whose owner mark agrees with their
// kind, parent and vlan id (owner.ts), addresses on owned endpoint links, routes carrying
// VLANNET_ROUTE_PROTOCOL, namespaces whose loopback carries the netns mark. An owned link is
// matched to what is desired by the role and name in its mark (endpoint.web1, vlan.eth0.50,
// dummy.net1), not by where it is, so an endpoint that moved namespace or ifname is replaced.
//
// Order: make before break (order.ts): everything new first, parents first; removals after the
// point of no return, children first. Actions that share a stage are independent and may be sent
// together.

import { resolveDesired } from '../model/desired.js';
import { isLinkLocal } from '../model/address.js';
import { identityOf, isUnfinished, objectOf, ownerOf, type OwnerMark } from '../model/owner.js';
import { IPVLAN_MODES, MACVLAN_MODES, VLANNET_ROUTE_PROTOCOL, flagOf, modeOf, vlanIdOf, type Action, type LinkIdentity, type AddressState, type ChangeKind, type Config, type AttributeChange, type Reason, type DesiredState, type Diagnostic, type KernelOp, type LinkChange, type LinkSpec, type LinkState, type ObservedState, type Plan, type RemovedLink, type RouteState } from '../model/types.js';
import { DiagnosticsError } from '../errors.js';
import { groupBy, oneOf } from '../model/collections.js';
import { order, type Draft, type Step } from './order.js';
import { reasonText, routeText } from './describe.js';

export { POINT_OF_NO_RETURN, STAGE } from './order.js';

/** Plan the changes that make the kernel match `config`. Throws DiagnosticsError on any error. */
export function makePlan(config: Config, observed: ObservedState): Plan {
  return planWithDesired(config, observed).plan;
}

/** makePlan, with the desired state it planned towards (null config: destroy, nothing desired). */
export function planWithDesired(config: Config | null, observed: ObservedState): { plan: Plan; desired: DesiredState } {
  if (!config) return { plan: planDestroy(observed), desired: NOTHING };
  const { desired, warnings } = desiredOrThrow(config, observed);
  return { plan: planAgainst(desired, observed, warnings), desired };
}

/** The desired state for `config`, with its warnings. Throws DiagnosticsError on any error. */
export function desiredOrThrow(config: Config, observed: ObservedState): { desired: DesiredState; warnings: Diagnostic[] } {
  const { desired, diagnostics } = resolveDesired(config, observed);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new DiagnosticsError(errors);
  return { desired, warnings: diagnostics.filter((d) => d.severity === 'warning') };
}

const ABSENT: Reason = { code: 'absent' };
const UNCONFIGURED: Reason = { code: 'unconfigured' };
const NOTHING: DesiredState = { namespaces: [], links: [], addresses: [], routes: [], upstreamRoutes: [] };

/** Plan the removal of everything vlannet owns, and nothing else. */
export function planDestroy(observed: ObservedState): Plan {
  return planAgainst(NOTHING, observed, []);
}

/**
 * What is left to do in the namespaces of `scope` (null: vlannet's own) for `desired`: the check
 * after an apply, for the namespaces it acted in, without planning every other namespace again;
 * and the daemon's plan of the namespaces that changed (incremental.ts).
 * When vlannet's own namespace is in scope, links vlannet does not own are kept from everywhere:
 * they are never acted on, but a parent they hang from is kept for them, wherever they are.
 * Otherwise nothing outside the scope matters (no parent is planned), and `observed` may hold the
 * scope alone (ObserveOptions.only).
 */
export function planWithin(desired: DesiredState, observed: ObservedState, scope: ReadonlySet<string | null>, warnings: Diagnostic[] = []): Plan {
  const inScope = (x: { netns: string | null }) => scope.has(x.netns);
  const parents = scope.has(null);
  return planAgainst(
    {
      namespaces: desired.namespaces.filter((n) => scope.has(n)),
      links: desired.links.filter(inScope),
      addresses: desired.addresses.filter(inScope),
      routes: desired.routes.filter(inScope),
      upstreamRoutes: desired.upstreamRoutes,
    },
    {
      format_version: observed.format_version,
      namespaces: observed.namespaces.filter((n) => scope.has(n.name)),
      links: observed.links.filter((l) => inScope(l) || (parents && !ownerOf(l))),
      addresses: observed.addresses.filter(inScope),
      routes: observed.routes.filter(inScope),
    },
    warnings,
    parentMtus(desired, observed),
  );
}

const place = (netns: string | null, name: string) => `${netns ?? ''}\0${name}`;
const identity = (m: LinkIdentity) => `${m.role}/${m.name}`;
const where = (netns: string | null) => (netns === null ? 'host' : netns);
const isEndpoint = (kind: string) => kind === 'macvlan' || kind === 'ipvlan';
const routeKey = (r: RouteState) => `${r.netns ?? ''}|${r.family}|${r.dst}|${r.gateway ?? ''}|${r.dev}`;
/** Whether two addresses of one link are the same (family, address and prefix length). */
const sameAddress = (a: AddressState, b: AddressState) => a.address === b.address && a.prefixLength === b.prefixLength && a.family === b.family;

/** What an observed owned link is, as a LinkSpec (for link-del, so an undo can re-create it). */
export function specOf(l: LinkState): LinkSpec {
  const mark = ownerOf(l);
  const base = {
    netns: l.netns, name: l.name, mtu: l.mtu, up: l.up, alias: l.alias ?? '', identity: mark ? identityOf(mark) : null,
    ...(l.ipv6Disabled !== undefined ? { ipv6Disabled: l.ipv6Disabled } : {}),
  };
  const parent = l.parent ?? '';
  switch (l.kind) {
    case 'macvlan': return { ...base, kind: 'macvlan', parent, mode: oneOf(MACVLAN_MODES, l.mode, 'bridge'), mac: l.mac };
    case 'ipvlan': return { ...base, kind: 'ipvlan', parent, mode: oneOf(IPVLAN_MODES, l.mode, 'l2'), flag: l.flag ?? 'bridge', mac: null };
    case 'vlan': return { ...base, kind: 'vlan', parent, vlanId: l.vlanId ?? 0, mac: null };
    case 'dummy': return { ...base, kind: 'dummy', parent: null, mac: null };
    default: throw new Error(`BUG: ${l.name} is a ${l.kind || 'device'} link, not a kind vlannet makes`);
  }
}


function linkRecord(s: LinkSpec): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
}

/** What differs that cannot be set in place (replace_paths, in terraform's words): none when it can become `d` in place. */
function forcedChanges(o: LinkState, d: LinkSpec): AttributeChange[] {
  const forced: AttributeChange[] = [];
  const differs = (attribute: AttributeChange['attribute'], from: AttributeChange['from'], to: AttributeChange['from']) => {
    if (from !== to) forced.push({ attribute, from, to });
  };
  differs('kind', o.kind, d.kind);
  differs('parent', o.parent, d.parent);
  differs('vlanId', o.vlanId ?? null, vlanIdOf(d) ?? null);
  differs('netns', o.netns, d.netns);
  differs('name', o.name, d.name);
  if (d.kind === 'macvlan' && (o.mode === 'passthru' || d.mode === 'passthru')) differs('mode', o.mode ?? null, d.mode);
  return forced;
}

/**
 * The attributes that differ and can be set in place: [set, before]. `inherited`: the MTU the link
 * has when none is asked for (its parent's), so that an MTU dropped from the file is undone.
 */
function linkChanges(o: LinkState, d: LinkSpec, inherited: number | null): [LinkChange, LinkChange] {
  const set: LinkChange = {};
  const before: LinkChange = {};
  const mtu = d.mtu ?? inherited;
  if (mtu !== null && mtu !== o.mtu) { set.mtu = mtu; before.mtu = o.mtu; }
  const mode = modeOf(d);
  const flag = flagOf(d);
  if (mode !== undefined && mode !== o.mode) { set.mode = mode; if (o.mode !== undefined && o.mode !== 'source') before.mode = o.mode; }
  if (flag !== undefined && flag !== o.flag) { set.flag = flag; if (o.flag !== undefined) before.flag = o.flag; }
  if (d.mac !== null && d.mac !== o.mac.toLowerCase()) { set.mac = d.mac; before.mac = o.mac; }
  if (d.up !== o.up) { set.up = d.up; before.up = o.up; }
  if (d.alias !== o.alias) { set.alias = d.alias; if (o.alias !== null) before.alias = o.alias; }
  if (d.ipv6Disabled !== undefined && o.ipv6Disabled !== undefined && d.ipv6Disabled !== o.ipv6Disabled) {
    set.ipv6Disabled = d.ipv6Disabled; before.ipv6Disabled = o.ipv6Disabled;
  }
  return [set, before];
}

/** The MTU the kernel gives a new dummy link. */
const DUMMY_MTU = 1500;

/**
 * The MTU of a link of vlannet's namespace once a plan is done: what the file asks for, else (a
 * link vlannet makes) its parent's, else what the kernel shows. A link asked for no MTU inherits it.
 */
function parentMtus(desired: DesiredState, observed: ObservedState): (name: string) => number | null {
  const desiredHere = new Map(desired.links.filter((l) => l.netns === null).map((l) => [l.name, l]));
  const observedHere = new Map(observed.links.filter((l) => l.netns === null).map((l) => [l.name, l]));
  const mtuOf = (name: string, depth = 0): number | null => {
    const d = desiredHere.get(name);
    if (d?.mtu != null) return d.mtu;
    if (d && depth < 8) return d.parent === null ? DUMMY_MTU : mtuOf(d.parent, depth + 1);
    return observedHere.get(name)?.mtu ?? null;
  };
  return mtuOf;
}

/** `parentMtu`: the MTUs of parents, when the states given hold only part of vlannet's namespace (planWithin). */
export function planAgainst(desired: DesiredState, observed: ObservedState, warningsIn: Diagnostic[], parentMtu?: (name: string) => number | null): Plan {
  const drafts: Draft[] = [];
  const warnings = [...warningsIn];
  // Indexes, so a plan over thousands of endpoints stays linear.
  const addressesAt = groupBy(observed.addresses, (a) => place(a.netns, a.link));
  const routesOn = groupBy(observed.routes, (r) => place(r.netns, r.dev));
  const isStranger = (l: LinkState) => !ownerOf(l) && !isUnfinished(l);
  const strangersOn = groupBy(observed.links.filter((l) => l.parent !== null && isStranger(l)), (l) => l.parent!);
  const strangersIn = groupBy(observed.links.filter((l) => l.netns !== null && l.name !== 'lo' && isStranger(l)), (l) => l.netns!);
  const add = (object: string, change: ChangeKind, reason: Reason, op: KernelOp, step: Step, extra: Partial<Action> = {}) =>
    drafts.push({ object, change, reason, op, step, ...extra });

  // Owned links by identity; desired links by identity.
  const owned = groupBy(
    observed.links.flatMap((link) => { const mark = ownerOf(link); return mark ? [{ link, mark }] : []; }),
    ({ mark }) => identity(mark));
  const objectAt = new Map<string, string>(); // place → object address (owned and desired links)
  for (const list of owned.values()) for (const { link, mark } of list) objectAt.set(place(link.netns, link.name), objectOf(mark));

  // Match desired to owned; decide keep / replace / delete.
  type Fate = { link: LinkState; mark: OwnerMark; reason: Reason; replacedBy?: LinkSpec };
  const doomed: Fate[] = []; // owned links to delete (deleted or replaced)
  const kept: { o: LinkState; d: LinkSpec; object: string }[] = [];
  const created: { d: LinkSpec; object: string; reason: Reason; change: ChangeKind }[] = [];
  const matched = new Set<LinkState>();
  for (const d of desired.links) {
    if (!d.identity) throw new Error(`BUG: desired link ${d.name} has no identity`);
    const mark = d.identity;
    const object = objectOf(mark);
    objectAt.set(place(d.netns, d.name), object);
    const candidates = owned.get(identity(mark)) ?? [];
    const same = candidates.find((c) => c.link.netns === d.netns && c.link.name === d.name) ?? candidates[0];
    if (!same) { created.push({ d, object, reason: ABSENT, change: 'create' }); continue; }
    matched.add(same.link);
    const forced = forcedChanges(same.link, d);
    if (forced.length) doomed.push({ ...same, reason: { code: 'cannot-update', forcedBy: forced }, replacedBy: d });
    else kept.push({ o: same.link, d, object });
    for (const c of candidates) {
      if (c !== same) { matched.add(c.link); doomed.push({ ...c, reason: { code: 'duplicate', link: c.link.name, netns: c.link.netns } }); }
    }
  }
  for (const list of owned.values()) {
    for (const c of list) if (!matched.has(c.link)) doomed.push({ ...c, reason: UNCONFIGURED });
  }
  // Links vlannet began to make and never marked (it was killed in between): they go.
  for (const link of observed.links) {
    if (!isUnfinished(link)) continue;
    const role = isEndpoint(link.kind) ? 'endpoint' : link.kind === 'vlan' ? 'vlan' : 'dummy';
    const mark: OwnerMark = { role, name: `${where(link.netns)}.${link.name}`, kind: link.kind, parent: link.parent, vlanId: link.vlanId ?? null };
    doomed.push({ link, mark, reason: { code: 'unfinished' } });
  }

  // A parent vlannet deletes takes its children with it: keep it when it carries links vlannet
  // does not own; replace owned endpoints that would vanish with it.
  const doomedParents = new Map<string, Fate>();
  for (const f of [...doomed]) {
    if (isEndpoint(f.link.kind) || f.link.netns !== null) continue;
    const strangers = strangersOn.get(f.link.name) ?? [];
    if (strangers.length) {
      doomed.splice(doomed.indexOf(f), 1);
      warnings.push({ severity: 'warning', at: '', path: '', message:
        `${objectOf(f.mark)} should be deleted (${reasonText(f.reason)}) but carries links vlannet does not own (${strangers.map((l) => l.name).join(', ')}); kept` });
      // Kept as it is, but for what can change in place.
      if (f.replacedBy) kept.push({ o: f.link, d: { ...specOf(f.link), mtu: f.replacedBy.mtu, up: f.replacedBy.up }, object: objectOf(f.mark) });
      continue;
    }
    doomedParents.set(f.link.name, f);
  }
  for (let i = kept.length - 1; i >= 0; i--) {
    const k = kept[i]!;
    const parent = k.o.parent !== null && isEndpoint(k.o.kind) ? doomedParents.get(k.o.parent) : undefined;
    if (!parent) continue;
    kept.splice(i, 1);
    doomed.push({ link: k.o, mark: ownerOf(k.o)!, reason: { code: 'parent-replaced', parent: k.o.parent!, because: parent.reason }, replacedBy: k.d });
  }
  for (const f of doomed) if (f.replacedBy) created.push({ d: f.replacedBy, object: objectOf(f.mark), reason: f.reason, change: 'replace' });

  // Owned namespaces no longer wanted are deleted, unless they hold links vlannet does not own.
  const wantNs = new Set(desired.namespaces);
  const doomedNs = new Map<string, { links: RemovedLink[]; objects: string[] }>();
  for (const n of observed.namespaces) {
    if (!n.owned || wantNs.has(n.name)) continue;
    const strangers = strangersIn.get(n.name) ?? [];
    if (strangers.length) {
      warnings.push({ severity: 'warning', at: '', path: '', message:
        `namespace ${n.name} is no longer in the configuration but holds links vlannet does not own (${strangers.map((l) => l.name).join(', ')}); kept` });
      continue;
    }
    doomedNs.set(n.name, { links: [], objects: [] });
  }

  // Link deletes carry their addresses and vlannet's routes, so an undo can restore them. A link
  // in a namespace that is deleted goes with the namespace instead: the kernel removes it in one
  // batch with the namespace, where a link-del each costs ~15 ms of RCU grace periods; the
  // namespace's deletion carries it for the undo.
  const gone = new Set(doomed.map((f) => place(f.link.netns, f.link.name)));
  for (const f of doomed) {
    const l = f.link;
    const removed: RemovedLink = {
      before: specOf(l),
      addresses: (addressesAt.get(place(l.netns, l.name)) ?? []).filter((a) => !isLinkLocal(a.address)),
      routes: (routesOn.get(place(l.netns, l.name)) ?? []).filter((r) => r.protocol === VLANNET_ROUTE_PROTOCOL),
    };
    const withNamespace = l.netns !== null ? doomedNs.get(l.netns) : undefined;
    if (withNamespace) { withNamespace.links.push(removed); withNamespace.objects.push(objectOf(f.mark)); continue; }
    add(objectOf(f.mark), f.replacedBy ? 'replace' : 'delete', f.reason,
      { op: 'link-del', netns: l.netns, name: l.name, ...removed },
      isEndpoint(l.kind) ? 'endpointDel' : 'parentDel', { before: linkRecord(removed.before) });
  }
  for (const c of created) {
    add(c.object, c.change, c.reason, { op: 'link-add', link: c.d }, isEndpoint(c.d.kind) ? 'endpointAdd' : 'parentAdd', { after: linkRecord(c.d) });
  }
  const mtuOf = parentMtu ?? parentMtus(desired, observed);
  for (const k of kept) {
    const [set, before] = linkChanges(k.o, k.d, k.d.parent === null ? (k.d.kind === 'dummy' ? DUMMY_MTU : null) : mtuOf(k.d.parent));
    const keys = Object.keys(set) as (keyof LinkChange)[];
    if (!keys.length) continue;
    const changes = keys.map((key): AttributeChange => ({ attribute: key, from: before[key] ?? null, to: set[key] ?? null }));
    add(k.object, 'update', { code: 'drift', changes }, { op: 'link-set', netns: k.o.netns, name: k.o.name, set, before },
      isEndpoint(k.o.kind) ? 'linkSet' : 'parentSet', { before: { ...before }, after: { ...set } });
  }

  // Addresses: on owned endpoint links that stay; a new or replaced link gets all of its own. An
  // address that changes is a replace (the old goes, the new comes: see order.ts).
  const keptEndpoints = new Set(kept.filter((k) => isEndpoint(k.o.kind)).map((k) => place(k.o.netns, k.o.name)));
  // A link has one or two addresses: lists compared field by field, no keys to build.
  const wanted = groupBy(desired.addresses, (a) => place(a.netns, a.link));
  const addrObject = (a: AddressState) => `${objectAt.get(place(a.netns, a.link)) ?? `link.${where(a.netns)}.${a.link}`}.ipv${a.family}`;
  const cidr = (a: AddressState) => `${a.address}/${a.prefixLength}`;
  const readdress = (from: AddressState, to: AddressState): Reason => ({ code: 'cannot-update', forcedBy: [{ attribute: 'address', from: cidr(from), to: cidr(to) }] });
  const isIn = (list: readonly AddressState[]) => (a: AddressState) => list.some((b) => sameAddress(a, b));
  /**
   * Kept links and families that lose an address: the kernel may drop their routes with it (with
   * the last address, and a primary takes its secondaries along), so those routes are re-created.
   */
  const readdressed = new Set<string>();
  for (const [at, list] of wanted) {
    const have = keptEndpoints.has(at) ? (addressesAt.get(at) ?? []).filter((a) => !isLinkLocal(a.address)) : [];
    const had = isIn(have);
    const wantedHere = isIn(list);
    for (const a of list) {
      if (had(a)) continue;
      const old = have.find((h) => h.family === a.family && !wantedHere(h));
      add(addrObject(a), old ? 'replace' : 'create', old ? readdress(old, a) : ABSENT,
        { op: 'addr-add', addr: a }, 'addrAdd', { after: { address: cidr(a) } });
    }
  }
  for (const at of keptEndpoints) {
    const list = wanted.get(at) ?? [];
    const wantedHere = isIn(list);
    const have = addressesAt.get(at) ?? [];
    for (const a of have) {
      if (isLinkLocal(a.address) || wantedHere(a)) continue;
      const next = list.find((w) => w.family === a.family && !have.some((h) => sameAddress(h, w)));
      readdressed.add(`${at}|${a.family}`);
      add(addrObject(a), next ? 'replace' : 'delete', next ? readdress(a, next) : UNCONFIGURED,
        { op: 'addr-del', addr: a }, 'addrDel', { before: { address: cidr(a) } });
    }
  }

  // Routes: vlannet's own (by protocol) that are not wanted go; wanted ones missing come, unless
  // a default route vlannet does not own is in the way. Those through a link whose address of
  // their family is replaced are re-created after it.
  const routeObject = (r: RouteState) => `${objectAt.get(place(r.netns, r.dev)) ?? `link.${where(r.netns)}.${r.dev}`}.route${r.family}`;
  const desiredRoutes = new Set(desired.routes.map(routeKey));
  const present = new Set<string>();
  const recreated = new Set<string>();
  const defaultsIn = groupBy(observed.routes.filter((r) => r.dst === 'default'), (r) => `${r.netns ?? ''}|${r.family}`);
  for (const r of observed.routes) {
    if (r.protocol !== VLANNET_ROUTE_PROTOCOL || gone.has(place(r.netns, r.dev))) continue;
    const key = routeKey(r);
    if (desiredRoutes.has(key)) {
      if (!readdressed.has(`${place(r.netns, r.dev)}|${r.family}`)) { present.add(key); continue; }
      recreated.add(key);
      add(routeObject(r), 'replace', { code: 'readdressed', family: r.family }, { op: 'route-del', route: r }, 'routeDel', { before: { route: routeText(r) } });
      continue;
    }
    add(routeObject(r), 'delete', UNCONFIGURED, { op: 'route-del', route: r }, 'routeDel', { before: { route: routeText(r) } });
  }
  for (const r of desired.routes) {
    if (present.has(routeKey(r))) continue;
    const blocker = (defaultsIn.get(`${r.netns ?? ''}|${r.family}`) ?? []).find((o) => o.dst === r.dst &&
      o.protocol !== VLANNET_ROUTE_PROTOCOL && !gone.has(place(o.netns, o.dev)));
    if (blocker) {
      warnings.push({ severity: 'warning', at: '', path: '', message:
        `namespace ${where(r.netns)} already has a ${r.dst} route (${routeText(blocker)}) that vlannet does not own; not adding ${routeText(r)}` });
      continue;
    }
    const again = recreated.has(routeKey(r));
    add(routeObject(r), again ? 'replace' : 'create', again ? { code: 'readdressed', family: r.family } : ABSENT,
      { op: 'route-add', route: r }, 'routeAdd', { after: { route: routeText(r) } });
  }

  // Namespaces.
  const haveNs = new Set(observed.namespaces.map((n) => n.name));
  for (const n of desired.namespaces) {
    if (!haveNs.has(n)) add(`netns.${n}`, 'create', ABSENT, { op: 'netns-add', netns: n }, 'netnsAdd', { after: { netns: n } });
  }
  for (const [name, { links, objects }] of doomedNs) {
    add(`netns.${name}`, 'delete', objects.length ? { code: 'unconfigured', with: objects } : UNCONFIGURED, { op: 'netns-del', netns: name, ...(links.length ? { links } : {}) },
      'netnsDel', { before: { netns: name, ...(objects.length ? { with: objects } : {}) } });
  }

  const names = new Set(observed.links.map((l) => place(l.netns, l.name)));
  const actions = order(drafts, (netns, name) => names.has(place(netns, name)));
  return { actions, warnings, upstreamRoutes: desired.upstreamRoutes };
}
