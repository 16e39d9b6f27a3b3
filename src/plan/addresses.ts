// The planner's addresses: on owned endpoint links that stay, what differs; a new or replaced link
// gets all of its own. An address that changes is a replace (the old goes, the new comes: see
// order.ts). Pure.

import { isLinkLocal } from '../model/address.js';
import { groupBy } from '../model/collections.js';
import type { AddressState, Reason } from '../model/types.js';
import { ABSENT, UNCONFIGURED, isEndpoint, place, type PlanContext } from './context.js';
import type { Kept } from './links.js';

/** Whether two addresses of one link are the same (family, address and prefix length). */
const sameAddress = (a: AddressState, b: AddressState) =>
  a.address === b.address && a.prefixLength === b.prefixLength && a.family === b.family;
const cidr = (a: AddressState) => `${a.address}/${a.prefixLength}`;
const readdress = (from: AddressState, to: AddressState): Reason => ({
  code: 'cannot-update',
  forcedBy: [{ attribute: 'address', from: cidr(from), to: cidr(to) }],
});

/**
 * The drafts for addresses. Returns the kept links and families that lose an address
 * (`place|family`): the kernel may drop their routes with it (with the last address, and a
 * primary takes its secondaries along), so those routes are re-created (routes.ts).
 */
export function addressActions(ctx: PlanContext, kept: readonly Kept[]): Set<string> {
  const keptEndpoints = new Set(kept.filter((k) => isEndpoint(k.o.kind)).map((k) => place(k.o.netns, k.o.name)));
  // A link has one or two addresses: lists compared field by field, no keys to build.
  const wanted = groupBy(ctx.desired.addresses, (a) => place(a.netns, a.link));
  const object = (a: AddressState) => `${ctx.objectOn(a.netns, a.link)}.ipv${a.family}`;
  const isIn = (list: readonly AddressState[]) => (a: AddressState) => list.some((b) => sameAddress(a, b));
  const readdressed = new Set<string>();
  for (const [at, list] of wanted) {
    const have = keptEndpoints.has(at) ? (ctx.addressesAt.get(at) ?? []).filter((a) => !isLinkLocal(a.address)) : [];
    const had = isIn(have);
    const wantedHere = isIn(list);
    for (const a of list) {
      if (had(a)) continue;
      const old = have.find((h) => h.family === a.family && !wantedHere(h));
      ctx.add(object(a), old ? 'replace' : 'create', old ? readdress(old, a) : ABSENT, { op: 'addr-add', addr: a }, 'addrAdd', {
        after: { address: cidr(a) },
      });
    }
  }
  for (const at of keptEndpoints) {
    const list = wanted.get(at) ?? [];
    const wantedHere = isIn(list);
    const have = ctx.addressesAt.get(at) ?? [];
    for (const a of have) {
      if (isLinkLocal(a.address) || wantedHere(a)) continue;
      const next = list.find((w) => w.family === a.family && !have.some((h) => sameAddress(h, w)));
      readdressed.add(`${at}|${a.family}`);
      ctx.add(object(a), next ? 'replace' : 'delete', next ? readdress(a, next) : UNCONFIGURED, { op: 'addr-del', addr: a }, 'addrDel', {
        before: { address: cidr(a) },
      });
    }
  }
  return readdressed;
}
