// Make before break: the order of a plan's actions, and its point of no return. Pure.
//
// An apply makes everything new first and removes only once every create and update has
// succeeded. Before the point of no return every step can be undone exactly (a namespace or link
// just made is deleted, an address or route just added is removed, an attribute set is set back),
// so a failure there leaves the kernel exactly as it was. Deletions come after it: a deleted
// namespace or link cannot be brought back as it was (its processes, its ifindex, its
// neighbours are gone), so none runs until nothing can fail for want of what it removes.
//
// Some new things cannot exist beside what they replace. Each deletion frees keys (a link's name
// in its namespace, its MAC on its parent, a VLAN id on a parent, a parent free of the other
// driver, an address on the LAN, a route's destination); a create that needs a freed key waits:
//   - a link that only needs a name or a MAC is made before the point anyway, down, under a
//     temporary name (a MAC is checked only when a link comes up): the kernel has accepted its
//     kind, mode, parent and MTU before anything is removed. After the point, once the old link
//     is gone, one request renames it and brings it up; then its addresses and routes follow;
//   - a link that needs a VLAN id or a parent without links of the other driver (the kernel
//     refuses it outright), or an ipvlan of another mode than those removed from its parent (it
//     would change their mode, for good), is made after the point, and so is what hangs from it;
//   - an address held by a link being removed (the same address must never answer twice on the
//     LAN), or a route whose destination is taken, is added after the point;
//   - an address that replaces another of its family on a link comes after the old one is gone
//     (added beside it first, it would be a secondary address, which the kernel deletes with the
//     primary), and the routes through that link in that family are re-created after it (the
//     kernel drops them with the last address).
// Disabling IPv6 on a link and changing a MAC address come after the point too: the first removes
// addresses, the second may need a MAC another link frees.

import { objectOf } from '../model/owner.js';
import type { Action, KernelOp, LinkSpec, Netns, RemovedLink } from '../model/types.js';

/** What an action does, before it is given its stage. */
export type Step =
  | 'netnsAdd'
  | 'parentAdd'
  | 'parentSet'
  | 'endpointAdd'
  | 'linkSet'
  | 'addrAdd'
  | 'routeAdd'
  | 'routeDel'
  | 'addrDel'
  | 'endpointDel'
  | 'netnsDel'
  | 'parentDel';

/** An action as the planner makes it; order() gives it its stage. */
export type Draft = Omit<Action, 'stage'> & { step: Step };

/**
 * The stages, in order. An action waits for the lower stages of its own namespace, of vlannet's
 * own namespace (parents) and for lower-stage deletions anywhere (src/apply/execute.ts).
 */
export const STAGE = {
  // Before the point of no return: each step is undone exactly if a later one fails. Links are
  // changed before new ones are made beside them: a new ipvlan sets the mode of every ipvlan on its
  // parent, which deleting it again would not undo; a mode changed first is set back by its undo.
  netnsAdd: 1,
  parentAdd: 2,
  linkSet: 3,
  endpointAdd: 4,
  addrAdd: 5,
  routeAdd: 6,
  // After it: removals, children before parents; then what had to wait for them.
  routeDel: 7,
  addrDel: 8,
  endpointDel: 9,
  netnsDel: 10,
  parentDel: 11,
  parentAddAfter: 12,
  endpointAddAfter: 13,
  linkSetAfter: 14,
  addrAddAfter: 15,
  routeAddAfter: 16,
} as const;

/** The first stage whose actions are not undone when a later one fails. */
export const POINT_OF_NO_RETURN = STAGE.routeDel;

export function pastPointOfNoReturn(a: Pick<Action, 'stage'>): boolean {
  return a.stage >= POINT_OF_NO_RETURN;
}

const place = (netns: Netns, name: string) => `${netns ?? ''}\0${name}`;

const isEndpointKind = (kind: string) => kind === 'macvlan' || kind === 'ipvlan';

/** Keys a link holds that a new link cannot share, and whether the kernel refuses the create outright. */
function linkKeys(l: LinkSpec): { soft: string[]; hard: string[] } {
  const soft = [`name ${l.netns ?? ''} ${l.name}`];
  const hard: string[] = [];
  if (l.kind === 'macvlan' && l.mac) soft.push(`mac ${l.parent} ${l.mac.toLowerCase()}`);
  if (l.kind === 'vlan') hard.push(`vlan ${l.parent} ${l.vlanId}`);
  return { soft, hard };
}

/** The key a parent holds while it carries links of `kind`: links of the other driver must wait. */
const driverKey = (parent: string | null, kind: string) => `driver ${parent} ${kind}`;
const otherDriver = (kind: string) => (kind === 'macvlan' ? 'ipvlan' : 'macvlan');
const addressKey = (address: string) => `address ${address}`;
const routeKey = (r: { netns: Netns; family: number; dst: string }) => `route ${r.netns ?? ''} ${r.family} ${r.dst}`;

function removedKeys(l: RemovedLink): string[] {
  const { soft, hard } = linkKeys(l.before);
  return [
    ...soft,
    ...hard,
    ...(isEndpointKind(l.before.kind) ? [driverKey(l.before.parent, l.before.kind)] : []),
    ...l.addresses.map((a) => addressKey(a.address)),
    ...l.routes.map(routeKey),
  ];
}

/** The keys a create needs free. */
function neededBy(op: KernelOp): string[] {
  switch (op.op) {
    case 'link-add': {
      const { soft, hard } = linkKeys(op.link);
      return [...soft, ...hard, ...(isEndpointKind(op.link.kind) ? [driverKey(op.link.parent, otherDriver(op.link.kind))] : [])];
    }
    case 'addr-add':
      return [addressKey(op.addr.address)];
    case 'route-add':
      return [routeKey(op.route)];
    default:
      return [];
  }
}

/**
 * The kernel finishes removing a namespace after the request that unbinds it returns (in a work
 * queue, once nothing holds it): its links live on for a moment, on their parents, with their
 * MACs and addresses. A link of a namespace being removed whose name, MAC, VLAN id, parent or
 * address something new needs is therefore deleted on its own first: a link deletion is done
 * when the kernel answers.
 */
function deleteLinksBeforeNamespaces(drafts: Draft[]): Draft[] {
  const needed = new Set(drafts.flatMap((d) => neededBy(d.op)));
  return drafts.flatMap((d): Draft[] => {
    if (d.op.op !== 'netns-del' || !d.op.links?.length) return [d];
    const netns = d.op.netns;
    const early = d.op.links.filter((l) => removedKeys(l).some((k) => needed.has(k)));
    if (early.length === 0) return [d];
    const rest = d.op.links.filter((l) => !early.includes(l));
    return [
      ...early.map((l): Draft => {
        const id = l.before.identity;
        return {
          object: id ? objectOf(id) : `link.${netns}.${l.before.name}`,
          change: 'delete',
          step: 'endpointDel',
          reason: { code: 'freed-first', netns },
          op: { op: 'link-del', netns, name: l.before.name, ...l },
          before: { name: l.before.name },
        };
      }),
      { ...d, op: { ...d.op, links: rest } },
    ];
  });
}

/** The links a deletion removes. */
function removedLinks(op: KernelOp): RemovedLink[] {
  return op.op === 'link-del' ? [op] : op.op === 'netns-del' ? (op.links ?? []) : [];
}

/** The keys a deletion frees. */
function freedBy(op: KernelOp): string[] {
  switch (op.op) {
    case 'route-del':
      return [routeKey(op.route)];
    case 'addr-del':
      return [addressKey(op.addr.address)];
    default:
      return removedLinks(op).flatMap(removedKeys);
  }
}

/** A short name no link of `netns` has, for a link made beside the one it replaces (≤ 15 bytes). */
function temporaryName(object: string, taken: (name: string) => boolean): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < object.length; i++) h = Math.imul(h ^ object.charCodeAt(i), 0x01000193) >>> 0;
  const base = `vnt-${h.toString(36)}`;
  for (let n = 0; ; n++) {
    const name = n === 0 ? base : `${base.slice(0, 12)}-${n.toString(36)}`;
    if (!taken(name)) return name;
  }
}

/**
 * Stages for a plan's drafts, with links that must be made beside what they replace put under a
 * temporary name (and renamed after the point of no return). `taken(netns, name)`: whether the
 * kernel has a link of that name there. Returns the actions sorted by stage, then object.
 */
export function order(planned: Draft[], taken: (netns: Netns, name: string) => boolean): Action[] {
  const drafts = deleteLinksBeforeNamespaces(planned);
  const freed = new Set(drafts.flatMap((d) => freedBy(d.op)));
  const isFreed = (k: string) => freed.has(k);
  // An ipvlan's mode and flag belong to its parent: a new one of another mode would change the
  // ipvlans being removed there (and deleting it again would not change them back).
  const removedPorts = new Map<string, Set<string>>();
  for (const l of drafts.flatMap((d) => removedLinks(d.op))) {
    if (l.before.kind !== 'ipvlan' || l.before.parent === null) continue;
    const modes = removedPorts.get(l.before.parent) ?? new Set<string>();
    modes.add(`${l.before.mode} ${l.before.flag}`);
    removedPorts.set(l.before.parent, modes);
  }
  const changesPort = (spec: LinkSpec) =>
    spec.kind === 'ipvlan' &&
    spec.parent !== null &&
    [...(removedPorts.get(spec.parent) ?? [])].some((m) => m !== `${spec.mode} ${spec.flag}`);
  const readdressed = new Set(
    drafts.flatMap((d) => (d.op.op === 'addr-del' ? [`${place(d.op.addr.netns, d.op.addr.link)}\0${d.op.addr.family}`] : [])),
  );
  /** Links made after the point (deferred, or renamed into place then): their addresses and routes follow. */
  const late = new Set<string>();
  /** Link and family whose address is added after the point: its routes follow. */
  const lateFamily = new Set<string>();
  const usedTemporary = new Set<string>();
  const out: Action[] = [];
  const push = (d: Draft, stage: number, op: KernelOp = d.op, extra: Partial<Action> = {}) => {
    const { step: _, ...action } = d;
    out.push({ ...action, op, stage, ...extra });
  };

  // Parents first: an endpoint hanging from a parent made after the point is made after it too.
  const byStep = (s: Step) => drafts.filter((d) => d.step === s);
  for (const d of byStep('parentAdd')) {
    if (d.op.op !== 'link-add') continue;
    const { soft, hard } = linkKeys(d.op.link);
    if ([...soft, ...hard].some(isFreed)) {
      late.add(place(null, d.op.link.name));
      push(d, STAGE.parentAddAfter);
    } else push(d, STAGE.parentAdd);
  }
  for (const d of byStep('endpointAdd')) {
    if (d.op.op !== 'link-add') continue;
    const spec = d.op.link;
    const here = place(spec.netns, spec.name);
    const { soft, hard } = linkKeys(spec);
    hard.push(driverKey(spec.parent, otherDriver(spec.kind)));
    if ((spec.parent !== null && late.has(place(null, spec.parent))) || hard.some(isFreed) || changesPort(spec)) {
      late.add(here);
      push(d, STAGE.endpointAddAfter);
    } else if (soft.some(isFreed)) {
      const temporary = temporaryName(
        `${d.object} ${spec.netns ?? ''}`,
        (n) => taken(spec.netns, n) || usedTemporary.has(place(spec.netns, n)),
      );
      usedTemporary.add(place(spec.netns, temporary));
      late.add(here);
      push(d, STAGE.endpointAdd, { op: 'link-add', link: { ...spec, name: temporary, up: false } });
      push(
        { ...d, reason: { code: 'staged', temporary } },
        STAGE.linkSetAfter,
        { op: 'link-set', netns: spec.netns, name: temporary, set: { name: spec.name, up: true }, before: { name: temporary, up: false } },
        { before: { name: temporary, up: false }, after: { name: spec.name, up: true } },
      );
    } else push(d, STAGE.endpointAdd);
  }
  // A change that must wait (see the top) takes the link's whole change, and its new addresses
  // and routes, after the point: enabling IPv6 goes with it, and must come before IPv6 addresses.
  for (const d of byStep('linkSet')) {
    if (d.op.op !== 'link-set') continue;
    if (d.op.set.mac !== undefined || d.op.set.ipv6Disabled === true) {
      late.add(place(d.op.netns, d.op.name));
      push(d, STAGE.linkSetAfter);
    } else push(d, STAGE.linkSet);
  }
  for (const d of drafts) {
    const op = d.op;
    switch (d.step) {
      case 'netnsAdd':
        push(d, STAGE.netnsAdd);
        break;
      case 'parentSet':
        push(d, STAGE.parentAdd);
        break;
      case 'addrAdd': {
        if (op.op !== 'addr-add') break;
        const at = place(op.addr.netns, op.addr.link);
        const after = late.has(at) || isFreed(addressKey(op.addr.address)) || readdressed.has(`${at}\0${op.addr.family}`);
        if (after) lateFamily.add(`${at}\0${op.addr.family}`);
        push(d, after ? STAGE.addrAddAfter : STAGE.addrAdd);
        break;
      }
      case 'routeAdd': {
        if (op.op !== 'route-add') break;
        const at = place(op.route.netns, op.route.dev);
        const family = `${at}\0${op.route.family}`;
        const after = late.has(at) || lateFamily.has(family) || readdressed.has(family) || isFreed(routeKey(op.route));
        push(d, after ? STAGE.routeAddAfter : STAGE.routeAdd);
        break;
      }
      case 'routeDel':
        push(d, STAGE.routeDel);
        break;
      case 'addrDel':
        push(d, STAGE.addrDel);
        break;
      case 'endpointDel':
        push(d, STAGE.endpointDel);
        break;
      case 'netnsDel':
        push(d, STAGE.netnsDel);
        break;
      case 'parentDel':
        push(d, STAGE.parentDel);
        break;
      case 'parentAdd':
      case 'endpointAdd':
      case 'linkSet':
        break; // above
    }
  }
  // An object removed and made again in one plan (a route that changes, say) is replaced.
  const removed = new Set(out.filter((a) => isRemoval(a.op)).map((a) => a.object));
  const made = new Set(out.filter((a) => isMaking(a.op)).map((a) => a.object));
  for (const a of out) if (removed.has(a.object) && made.has(a.object)) a.change = 'replace';
  return out.sort(compareActions);
}

export const isRemoval = (op: KernelOp) => op.op === 'link-del' || op.op === 'addr-del' || op.op === 'route-del' || op.op === 'netns-del';
const isMaking = (op: KernelOp) => op.op === 'link-add' || op.op === 'addr-add' || op.op === 'route-add' || op.op === 'netns-add';

function compareActions(a: Action, b: Action): number {
  if (a.stage !== b.stage) return a.stage - b.stage;
  if (a.object !== b.object) return a.object < b.object ? -1 : 1;
  const ka = JSON.stringify(a.op);
  const kb = JSON.stringify(b.op);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
