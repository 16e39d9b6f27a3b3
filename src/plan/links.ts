// The planner's links: match what is desired to what vlannet owns, by identity; decide for each
// owned link whether it stays (changed in place), is replaced or is deleted; say so as drafts.
// Pure.
//
// An owned link is matched by the role and name in its mark (endpoint.web1, vlan.eth0.50,
// dummy.net1), not by where it is, so an endpoint that moved namespace or ifname is replaced.

import { isLinkLocal } from '../model/address.js';
import { groupBy, oneOf } from '../model/collections.js';
import { identityOf, isUnfinished, objectOf, ownerOf, type OwnerMark } from '../model/owner.js';
import {
  IPVLAN_MODES,
  MACVLAN_MODES,
  VLANNET_ROUTE_PROTOCOL,
  flagOf,
  modeOf,
  vlanIdOf,
  type AttributeChange,
  type ChangeKind,
  type DesiredState,
  type LinkChange,
  type LinkIdentity,
  type LinkSpec,
  type LinkState,
  type ObservedState,
  type Reason,
  type RemovedLink,
} from '../model/types.js';
import { reasonText, where } from './describe.js';
import { ABSENT, UNCONFIGURED, isEndpoint, isStranger, place, type PlanContext } from './context.js';
import type { DoomedNamespaces } from './namespaces.js';

/** An owned link to delete (deleted, or replaced by `replacedBy`). */
export interface Doomed {
  link: LinkState;
  mark: OwnerMark;
  reason: Reason;
  replacedBy?: LinkSpec;
}
/** An owned link that stays, changed in place to what is desired. */
export interface Kept {
  o: LinkState;
  d: LinkSpec;
  object: string;
}
/** What happens to links. */
export interface LinkFates {
  doomed: Doomed[];
  kept: Kept[];
  created: { d: LinkSpec; object: string; reason: Reason; change: ChangeKind }[];
}

const identity = (m: LinkIdentity) => `${m.role}/${m.name}`;

/** The MTU the kernel gives a new dummy link. */
const DUMMY_MTU = 1500;

/** What an observed owned link is, as a LinkSpec (for link-del, so an undo can re-create it). */
export function specOf(l: LinkState): LinkSpec {
  const mark = ownerOf(l);
  const base = {
    netns: l.netns,
    name: l.name,
    mtu: l.mtu,
    up: l.up,
    alias: l.alias ?? '',
    identity: mark ? identityOf(mark) : null,
    ...(l.ipv6Disabled !== undefined ? { ipv6Disabled: l.ipv6Disabled } : {}),
  };
  const parent = l.parent ?? '';
  switch (l.kind) {
    case 'macvlan':
      return { ...base, kind: 'macvlan', parent, mode: oneOf(MACVLAN_MODES, l.mode, 'bridge'), mac: l.mac };
    case 'ipvlan':
      return { ...base, kind: 'ipvlan', parent, mode: oneOf(IPVLAN_MODES, l.mode, 'l2'), flag: l.flag ?? 'bridge', mac: null };
    case 'vlan':
      return { ...base, kind: 'vlan', parent, vlanId: l.vlanId ?? 0, mac: null };
    case 'dummy':
      return { ...base, kind: 'dummy', parent: null, mac: null };
    default:
      throw new Error(`BUG: ${l.name} is a ${l.kind || 'device'} link, not a kind vlannet makes`);
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
  if (mtu !== null && mtu !== o.mtu) {
    set.mtu = mtu;
    before.mtu = o.mtu;
  }
  const mode = modeOf(d);
  const flag = flagOf(d);
  if (mode !== undefined && mode !== o.mode) {
    set.mode = mode;
    if (o.mode !== undefined && o.mode !== 'source') before.mode = o.mode;
  }
  if (flag !== undefined && flag !== o.flag) {
    set.flag = flag;
    if (o.flag !== undefined) before.flag = o.flag;
  }
  if (d.mac !== null && d.mac !== o.mac.toLowerCase()) {
    set.mac = d.mac;
    before.mac = o.mac;
  }
  if (d.up !== o.up) {
    set.up = d.up;
    before.up = o.up;
  }
  if (d.alias !== o.alias) {
    set.alias = d.alias;
    if (o.alias !== null) before.alias = o.alias;
  }
  if (d.ipv6Disabled !== undefined && o.ipv6Disabled !== undefined && d.ipv6Disabled !== o.ipv6Disabled) {
    set.ipv6Disabled = d.ipv6Disabled;
    before.ipv6Disabled = o.ipv6Disabled;
  }
  return [set, before];
}

/**
 * The MTU of a link of vlannet's namespace once a plan is done: what the file asks for, else (a
 * link vlannet makes) its parent's, else what the kernel shows. A link asked for no MTU inherits it.
 */
export function parentMtus(desired: DesiredState, observed: ObservedState): (name: string) => number | null {
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

/** Match desired links to owned ones and decide the fate of each. */
export function decideLinks(ctx: PlanContext): LinkFates {
  const { desired, observed } = ctx;
  const owned = groupBy(
    observed.links.flatMap((link) => {
      const mark = ownerOf(link);
      return mark ? [{ link, mark }] : [];
    }),
    ({ mark }) => identity(mark),
  );
  const fates: LinkFates = { doomed: [], kept: [], created: [] };
  const { doomed, kept, created } = fates;
  const matched = new Set<LinkState>();
  for (const d of desired.links) {
    if (!d.identity) throw new Error(`BUG: desired link ${d.name} has no identity`);
    const object = objectOf(d.identity);
    ctx.objectAt.set(place(d.netns, d.name), object);
    const candidates = owned.get(identity(d.identity)) ?? [];
    const same = candidates.find((c) => c.link.netns === d.netns && c.link.name === d.name) ?? candidates[0];
    if (!same) {
      created.push({ d, object, reason: ABSENT, change: 'create' });
      continue;
    }
    matched.add(same.link);
    const forced = forcedChanges(same.link, d);
    if (forced.length) doomed.push({ ...same, reason: { code: 'cannot-update', forcedBy: forced }, replacedBy: d });
    else kept.push({ o: same.link, d, object });
    for (const c of candidates) {
      if (c !== same) {
        matched.add(c.link);
        doomed.push({ ...c, reason: { code: 'duplicate', link: c.link.name, netns: c.link.netns } });
      }
    }
  }
  for (const list of owned.values()) {
    for (const c of list) if (!matched.has(c.link)) doomed.push({ ...c, reason: UNCONFIGURED });
  }
  // Links vlannet began to make and never marked (it was killed in between): they go.
  for (const link of observed.links) {
    if (!isUnfinished(link)) continue;
    const role = isEndpoint(link.kind) ? 'endpoint' : link.kind === 'vlan' ? 'vlan' : 'dummy';
    const mark: OwnerMark = {
      role,
      name: `${where(link.netns)}.${link.name}`,
      kind: link.kind,
      parent: link.parent,
      vlanId: link.vlanId ?? null,
    };
    doomed.push({ link, mark, reason: { code: 'unfinished' } });
  }
  cascadeParents(ctx, fates);
  for (const f of doomed)
    if (f.replacedBy) created.push({ d: f.replacedBy, object: objectOf(f.mark), reason: f.reason, change: 'replace' });
  return fates;
}

/**
 * A parent vlannet deletes takes its children with it: keep it when it carries links vlannet does
 * not own; replace owned endpoints that would vanish with it.
 */
function cascadeParents(ctx: PlanContext, { doomed, kept }: LinkFates): void {
  const strangersOn = groupBy(
    ctx.observed.links.filter((l) => l.parent !== null && isStranger(l)),
    (l) => l.parent!,
  );
  const doomedParents = new Map<string, Doomed>();
  for (const f of [...doomed]) {
    if (isEndpoint(f.link.kind) || f.link.netns !== null) continue;
    const strangers = strangersOn.get(f.link.name) ?? [];
    if (strangers.length) {
      doomed.splice(doomed.indexOf(f), 1);
      ctx.warn(
        `${objectOf(f.mark)} should be deleted (${reasonText(f.reason)}) but carries links vlannet does not own (${strangers.map((l) => l.name).join(', ')}); kept`,
      );
      // Kept as it is, but for what can change in place.
      if (f.replacedBy)
        kept.push({ o: f.link, d: { ...specOf(f.link), mtu: f.replacedBy.mtu, up: f.replacedBy.up }, object: objectOf(f.mark) });
      continue;
    }
    doomedParents.set(f.link.name, f);
  }
  for (let i = kept.length - 1; i >= 0; i--) {
    const k = kept[i]!;
    const parent = k.o.parent !== null && isEndpoint(k.o.kind) ? doomedParents.get(k.o.parent) : undefined;
    if (!parent) continue;
    kept.splice(i, 1);
    doomed.push({
      link: k.o,
      mark: ownerOf(k.o)!,
      reason: { code: 'parent-replaced', parent: k.o.parent!, because: parent.reason },
      replacedBy: k.d,
    });
  }
}

/**
 * The drafts for links. Link deletes carry their addresses and vlannet's routes, so an undo can
 * restore them. A link in a namespace that is deleted goes with the namespace instead: the kernel
 * removes it in one batch with the namespace, where a link-del each costs ~15 ms of RCU grace
 * periods; the namespace's deletion carries it for the undo (added to `doomedNs`).
 * Returns the places of the links that go.
 */
export function linkActions(
  ctx: PlanContext,
  { doomed, kept, created }: LinkFates,
  doomedNs: DoomedNamespaces,
  mtuOf: (name: string) => number | null,
): Set<string> {
  const gone = new Set(doomed.map((f) => place(f.link.netns, f.link.name)));
  for (const f of doomed) {
    const l = f.link;
    const removed: RemovedLink = {
      before: specOf(l),
      addresses: (ctx.addressesAt.get(place(l.netns, l.name)) ?? []).filter((a) => !isLinkLocal(a.address)),
      routes: (ctx.routesOn.get(place(l.netns, l.name)) ?? []).filter((r) => r.protocol === VLANNET_ROUTE_PROTOCOL),
    };
    const withNamespace = l.netns !== null ? doomedNs.get(l.netns) : undefined;
    if (withNamespace) {
      withNamespace.links.push(removed);
      withNamespace.objects.push(objectOf(f.mark));
      continue;
    }
    ctx.add(
      objectOf(f.mark),
      f.replacedBy ? 'replace' : 'delete',
      f.reason,
      { op: 'link-del', netns: l.netns, name: l.name, ...removed },
      isEndpoint(l.kind) ? 'endpointDel' : 'parentDel',
      { before: linkRecord(removed.before) },
    );
  }
  for (const c of created) {
    ctx.add(c.object, c.change, c.reason, { op: 'link-add', link: c.d }, isEndpoint(c.d.kind) ? 'endpointAdd' : 'parentAdd', {
      after: linkRecord(c.d),
    });
  }
  for (const k of kept) {
    const [set, before] = linkChanges(k.o, k.d, k.d.parent === null ? (k.d.kind === 'dummy' ? DUMMY_MTU : null) : mtuOf(k.d.parent));
    const keys = Object.keys(set) as (keyof LinkChange)[];
    if (!keys.length) continue;
    const changes = keys.map((key): AttributeChange => ({ attribute: key, from: before[key] ?? null, to: set[key] ?? null }));
    ctx.add(
      k.object,
      'update',
      { code: 'drift', changes },
      { op: 'link-set', netns: k.o.netns, name: k.o.name, set, before },
      isEndpoint(k.o.kind) ? 'linkSet' : 'parentSet',
      { before: { ...before }, after: { ...set } },
    );
  }
  return gone;
}
