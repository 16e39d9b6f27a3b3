// The planner: desired state vs observed state → ordered kernel operations. Pure.
//
// Only what vlannet owns is ever changed or deleted: links whose owner mark agrees with their
// kind, parent and vlan id (owner.ts), addresses on owned endpoint links, routes carrying
// VLANNET_ROUTE_PROTOCOL, namespaces whose loopback carries the netns mark. Each resource is
// planned in its own module (links.ts, namespaces.ts, addresses.ts, routes.ts), in that order:
// what happens to a link decides what happens to its addresses and routes.
//
// Order: make before break (order.ts): everything new first, parents first; removals after the
// point of no return, children first. Actions that share a stage are independent and may be sent
// together.

import { resolveDesired } from '../model/desired.js';
import { ownerOf } from '../model/owner.js';
import type { Config, DesiredState, Diagnostic, ObservedState, Plan } from '../model/types.js';
import { DiagnosticsError } from '../errors.js';
import { addressActions } from './addresses.js';
import { PlanContext, place } from './context.js';
import { decideLinks, linkActions, parentMtus } from './links.js';
import { doomedNamespaces, namespaceActions } from './namespaces.js';
import { order } from './order.js';
import { routeActions } from './routes.js';

export { POINT_OF_NO_RETURN, STAGE } from './order.js';

/** Plan the changes that make the kernel match `config` (null: destroy everything vlannet owns). Throws DiagnosticsError on any error. */
export function makePlan(config: Config | null, observed: ObservedState): Plan {
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

const NOTHING: DesiredState = { namespaces: [], links: [], addresses: [], routes: [], upstreamRoutes: [] };

/** Plan the removal of everything vlannet owns, and nothing else. */
export function planDestroy(observed: ObservedState): Plan {
  const plan = planAgainst(NOTHING, observed, []);
  // Nothing is wanted because nothing is asked for, not because a config left it out.
  for (const a of plan.actions) if (a.reason.code === 'unconfigured') a.reason = { ...a.reason, code: 'destroy' };
  return plan;
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
export function planWithin(
  desired: DesiredState,
  observed: ObservedState,
  scope: ReadonlySet<string | null>,
  warnings: Diagnostic[] = [],
): Plan {
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

/** `parentMtu`: the MTUs of parents, when the states given hold only part of vlannet's namespace (planWithin). */
export function planAgainst(
  desired: DesiredState,
  observed: ObservedState,
  warnings: Diagnostic[],
  parentMtu?: (name: string) => number | null,
): Plan {
  const ctx = new PlanContext(desired, observed, warnings);
  const links = decideLinks(ctx);
  const namespaces = doomedNamespaces(ctx);
  const gone = linkActions(ctx, links, namespaces, parentMtu ?? parentMtus(desired, observed));
  const readdressed = addressActions(ctx, links.kept);
  routeActions(ctx, gone, readdressed);
  namespaceActions(ctx, namespaces);

  const names = new Set(observed.links.map((l) => place(l.netns, l.name)));
  const actions = order(ctx.drafts, (netns, name) => names.has(place(netns, name)));
  return { actions, warnings: ctx.warnings, upstreamRoutes: desired.upstreamRoutes };
}
