// The planner's routes: vlannet's own (by protocol) that are not wanted go; wanted ones missing
// come, unless a default route vlannet does not own is in the way. Those through a link whose
// address of their family is replaced are re-created after it. Pure.

import { groupBy } from '../model/collections.js';
import { VLANNET_ROUTE_PROTOCOL, type RouteState } from '../model/types.js';
import { ABSENT, UNCONFIGURED, place, type PlanContext } from './context.js';
import { routeText, where } from './describe.js';

const routeKey = (r: RouteState) => `${r.netns ?? ''}|${r.family}|${r.dst}|${r.gateway ?? ''}|${r.dev}`;

/**
 * The drafts for routes. `gone`: the places of links that go (their routes go with them);
 * `readdressed`: `place|family` of links that lose an address of that family (addresses.ts).
 */
export function routeActions(ctx: PlanContext, gone: ReadonlySet<string>, readdressed: ReadonlySet<string>): void {
  const object = (r: RouteState) => `${ctx.objectOn(r.netns, r.dev)}.route${r.family}`;
  const desired = new Set(ctx.desired.routes.map(routeKey));
  const present = new Set<string>();
  const recreated = new Set<string>();
  const defaultsIn = groupBy(
    ctx.observed.routes.filter((r) => r.dst === 'default'),
    (r) => `${r.netns ?? ''}|${r.family}`,
  );
  for (const r of ctx.observed.routes) {
    if (r.protocol !== VLANNET_ROUTE_PROTOCOL || gone.has(place(r.netns, r.dev))) continue;
    const key = routeKey(r);
    if (!desired.has(key)) {
      ctx.add(object(r), 'delete', UNCONFIGURED, { op: 'route-del', route: r }, 'routeDel', { before: { route: routeText(r) } });
      continue;
    }
    if (!readdressed.has(`${place(r.netns, r.dev)}|${r.family}`)) {
      present.add(key);
      continue;
    }
    recreated.add(key);
    ctx.add(object(r), 'replace', { code: 'readdressed', family: r.family }, { op: 'route-del', route: r }, 'routeDel', {
      before: { route: routeText(r) },
    });
  }
  for (const r of ctx.desired.routes) {
    if (present.has(routeKey(r))) continue;
    const blocker = (defaultsIn.get(`${r.netns ?? ''}|${r.family}`) ?? []).find(
      (o) => o.dst === r.dst && o.protocol !== VLANNET_ROUTE_PROTOCOL && !gone.has(place(o.netns, o.dev)),
    );
    if (blocker) {
      ctx.warn(
        `namespace ${where(r.netns)} already has a ${r.dst} route (${routeText(blocker)}) that vlannet does not own; not adding ${routeText(r)}`,
      );
      continue;
    }
    const again = recreated.has(routeKey(r));
    ctx.add(
      object(r),
      again ? 'replace' : 'create',
      again ? { code: 'readdressed', family: r.family } : ABSENT,
      { op: 'route-add', route: r },
      'routeAdd',
      { after: { route: routeText(r) } },
    );
  }
}
