// The daemon's planner: plans only the namespaces that changed since the kernel last matched.
//
// At a thousand endpoints a run of the daemon almost always concerns one namespace: an endpoint
// added to the file, or one link someone deleted. Planning all thousand again costs ~15–30 ms and
// ~7 MB of garbage per run. So the planner remembers, per namespace, what it desired there and
// what it read there the last time that namespace was known to match: after a plan that found
// nothing to do there, or after an apply that verified it. A run then plans (planWithin) only the
// namespaces where either differs, compared field by field; the desired state itself is still
// resolved from the whole config and the whole kernel, so addressing and name checks see
// everything.
//
// Why that plan is the full plan: every action of a namespace depends only on what is desired and
// observed in that namespace, except for links matched across namespaces by their owner mark (an
// endpoint that moved changes what is desired in both namespaces, so both are planned) and for
// parents, which live in vlannet's own namespace. A change there plans everything. A property test
// (incremental.test.ts) checks the two plans are the same after random edits and tampering.
//
// Not remembered, so planned in full: the first run, a run after a failure, after forget() (the
// daemon's resync timer), and a destroy.

import type {
  AddressState,
  Config,
  DesiredState,
  LinkSpec,
  LinkState,
  NamespaceState,
  Netns,
  ObservedState,
  Plan,
  RouteState,
} from '../model/types.js';
import { desiredOrThrow, planAgainst, planWithin } from './plan.js';

/**
 * One namespace's share of a desired or observed state, flat: its own entry (its name when desired,
 * its NamespaceState when observed, or null), then its links, addresses and routes, each list
 * ended by SEPARATOR. One array per namespace: a thousand namespaces are read every run.
 */
type Share = unknown[];
type Shares = Map<Netns, Share>;
const SEPARATOR = Symbol('end of list');

interface Reading {
  desired: Shares;
  observed: Shares;
}

/** What `plan` planned: null scope for everything. */
export interface IncrementalPlan {
  plan: Plan;
  desired: DesiredState;
  scope: ReadonlySet<Netns> | null;
}

export class IncrementalPlanner {
  /** Per namespace, what was desired and read when it last matched. */
  private matched: Reading | null = null;
  /** The reading the last plan was made from, until the run that follows it ends. */
  private planned: Reading | null = null;

  /** The plan for `config`: of the namespaces that changed, or of all. Throws DiagnosticsError. */
  plan(config: Config, observed: ObservedState): IncrementalPlan {
    const { desired, warnings } = desiredOrThrow(config, observed);
    const reading: Reading = { desired: sharesOf(desired.namespaces, desired), observed: sharesOf(observed.namespaces, observed) };
    this.planned = reading;
    const scope = this.matched ? changedSince(this.matched, reading) : null;
    if (scope === null || scope.has(null)) return { plan: planAgainst(desired, observed, warnings), desired, scope: null };
    return { plan: planWithin(desired, observed, scope, warnings), desired, scope };
  }

  /** The last plan had nothing to do: every namespace matches what it was planned from. */
  converged(): void {
    this.matched = this.planned;
    this.planned = null;
  }

  /**
   * The last plan was executed and verified in the namespaces of `acted`: those match as `after`
   * read them; the others as they were read for the plan (they had nothing to do).
   */
  applied(after: ObservedState, acted: ReadonlySet<Netns>): void {
    const reading = this.planned;
    this.planned = null;
    if (!reading) {
      this.forget();
      return;
    }
    const now = sharesOf(after.namespaces, after, acted);
    for (const ns of acted) {
      const share = now.get(ns);
      if (share) reading.observed.set(ns, share);
      else reading.observed.delete(ns);
    }
    this.matched = reading;
  }

  /** Remember nothing: the next plan covers every namespace. */
  forget(): void {
    this.matched = null;
    this.planned = null;
  }
}

/** Namespaces whose desired or observed share differs between two readings. */
function changedSince(before: Reading, now: Reading): Set<Netns> {
  const changed = new Set<Netns>();
  for (const kind of ['desired', 'observed'] as const) {
    const was = before[kind];
    const is = now[kind];
    for (const [ns, share] of is) if (!sameShare(share, was.get(ns))) changed.add(ns);
    for (const ns of was.keys()) if (!is.has(ns)) changed.add(ns);
  }
  return changed;
}

function sharesOf<N extends string | NamespaceState>(
  namespaces: readonly N[],
  state: { links: readonly (LinkSpec | LinkState)[]; addresses: readonly AddressState[]; routes: readonly RouteState[] },
  only?: ReadonlySet<Netns>,
): Shares {
  const shares: Shares = new Map();
  // Lists ended so far: a namespace first met among the addresses starts with an empty link list.
  let ended = 0;
  const add = (ns: Netns, item: unknown): void => {
    if (only && !only.has(ns)) return;
    const share = shares.get(ns);
    if (share) share.push(item);
    else shares.set(ns, [null, ...Array<symbol>(ended).fill(SEPARATOR), item]); // its own entry is set below
  };
  const end = (): void => {
    for (const share of shares.values()) share.push(SEPARATOR);
    ended++;
  };
  for (const l of state.links) add(l.netns, l);
  end();
  for (const a of state.addresses) add(a.netns, a);
  end();
  for (const r of state.routes) add(r.netns, r);
  end();
  for (const n of namespaces) {
    const name = typeof n === 'string' ? n : n.name;
    if (only && !only.has(name)) continue;
    const share = shares.get(name);
    if (share) share[0] = n;
    else shares.set(name, [n, SEPARATOR, SEPARATOR, SEPARATOR]);
  }
  return shares;
}

function sameShare(a: Share, b: Share | undefined): boolean {
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameRecord(a[i], b[i])) return false;
  return true;
}

/** Records of primitives and records (a link's identity): same keys, same values. */
function sameRecord(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  let keys = 0;
  for (const k in a) {
    const x = (a as Record<string, unknown>)[k];
    const y = (b as Record<string, unknown>)[k];
    if (x !== y && !(typeof x === 'object' && typeof y === 'object' && sameRecord(x, y))) return false;
    keys++;
  }
  for (const _ in b) keys--;
  return keys === 0;
}
