// A trial's way back (`vlannet apply --confirm-timeout`): the state read before the trial, taken as
// the desired state. Everything vlannet owned then is wanted exactly as it was: every owned
// namespace; every owned link with its name, place, kind, parent, mode, MTU, state and mark, its
// ifindex asked for again and its MAC pinned where the kernel would otherwise choose another (a
// macvlan's, a dummy's); the addresses of its endpoint links; its routes. What it did not own then
// is not wanted, so the planner removes what the trial made, and nothing else, as always. Pure:
// apply/restore.ts reads the kernel and runs the plan.
//
// Planned this way, and not as the undo of the trial's operations, the way back does not depend
// on how far the trial got: a trial killed half way, failed after its point of no return, or
// tampered with since, is brought back all the same.

import { isLinkLocal } from '../model/address.js';
import { ownerOf } from '../model/owner.js';
import { VLANNET_ROUTE_PROTOCOL, type DesiredState, type LinkSpec, type LinkState, type ObservedState } from '../model/types.js';
import { isEndpoint, place } from './context.js';
import { specOf } from './links.js';

/** What must hold for the kernel to be as `before` was, in what vlannet owns. */
export function desiredFrom(before: ObservedState): DesiredState {
  const owned = before.links.filter((l) => ownerOf(l) !== null);
  const endpoints = new Set(owned.filter((l) => isEndpoint(l.kind)).map((l) => place(l.netns, l.name)));
  return {
    namespaces: before.namespaces.filter((n) => n.owned).map((n) => n.name),
    links: owned.map(exactSpec),
    addresses: before.addresses.filter((a) => endpoints.has(place(a.netns, a.link)) && !isLinkLocal(a.address)),
    routes: before.routes.filter((r) => r.protocol === VLANNET_ROUTE_PROTOCOL),
    upstreamRoutes: [],
  };
}

function exactSpec(l: LinkState): LinkSpec {
  const spec = specOf(l);
  const index = { index: l.index };
  switch (spec.kind) {
    case 'macvlan':
    case 'dummy':
      return { ...spec, ...index, mac: l.mac.toLowerCase() };
    default:
      return { ...spec, ...index };
  }
}
