// Apply = observe → plan → execute → observe again → verify (nmstate's loop). Used by `vlannet
// apply`, `vlannet destroy` and every run of the daemon. The caller holds the lock.
//
// Verification plans again, towards the same desired state, in every namespace the run acted in
// (vlannet's own included when it acted there): nothing may be left to do. Namespaces it did not
// act in were found to need nothing and were not touched; what changes there meanwhile is the
// next run's business, not a failure of this one. At a thousand endpoints this keeps the check
// after adding one endpoint at the cost of reading and planning that one namespace.

import { desiredOrThrow, planAgainst, planWithDesired, planWithin } from '../plan/plan.js';
import { desiredFrom } from '../plan/restore.js';
import type { IncrementalPlanner } from '../plan/incremental.js';
import { netnsOfOp, type Action, type Config, type DesiredState, type Kernel, type ObservedState, type Plan } from '../model/types.js';
import { DiagnosticsError, VerifyError } from '../errors.js';
import { guardNamespacesInUse, namespacesAtRisk } from '../plan/in-use.js';
import { describeOp, reasonText } from '../plan/describe.js';
import { executePlan, type ExecuteOptions } from './execute.js';

export interface Timings {
  observeMs: number;
  planMs: number;
  executeMs: number;
  verifyMs: number;
}

export interface ReconcileResult {
  plan: Plan;
  executed: Action[];
  timings: Timings;
}

/** The plan as guardNamespacesInUse lets it run; a dry run that would be refused says so in warnings. */
async function guardUsers(kernel: Kernel, plan: Plan, opts: ReconcileOptions): Promise<Plan> {
  const atRisk = namespacesAtRisk(plan);
  if (atRisk.length === 0 || !kernel.namespaceUsers) return plan;
  const users = await kernel.namespaceUsers(atRisk);
  try {
    return guardNamespacesInUse(plan, users, opts.force ?? false);
  } catch (e) {
    if (!(opts.dryRun && e instanceof DiagnosticsError)) throw e;
    return {
      ...plan,
      warnings: [
        ...plan.warnings,
        ...e.diagnostics.map((d) => ({ ...d, severity: 'warning' as const, message: `apply will refuse this: ${d.message}` })),
      ],
    };
  }
}

/** Named namespaces a config puts endpoints in: observed even when nothing of vlannet's is there yet. */
export function namespacesOf(config: Config | null): string[] {
  if (!config) return [];
  let names = namespacesByConfig.get(config);
  if (!names) {
    names = [...new Set(config.endpoints.flatMap((e) => (e.netns === null ? [] : [e.netns])))];
    namespacesByConfig.set(config, names);
  }
  return names;
}
/** A config is read once and planned many times (every run of the daemon). */
const namespacesByConfig = new WeakMap<Config, string[]>();

export interface ReconcileOptions extends ExecuteOptions {
  /** Only observe and plan. */
  dryRun?: boolean;
  /**
   * Remove or replace endpoints in namespaces that processes still use, their links first
   * (src/plan/in-use.ts). Without it such a plan is refused (a dry run warns).
   */
  force?: boolean;
  /**
   * Called with the plan, and the state it was planned from, before anything is executed; awaited
   * (a trial records the state to come back to before it changes anything).
   */
  onPlan?(plan: Plan, observed: ObservedState): void | Promise<void>;
  /**
   * The daemon's: plan only the namespaces that changed since they last matched, and remember
   * what matches after this run. Not used for a dry run or a destroy (they plan everything).
   */
  planner?: IncrementalPlanner;
}

export async function reconcile(kernel: Kernel, config: Config | null, opts: ReconcileOptions = {}): Promise<ReconcileResult> {
  if (!config) opts.planner?.forget();
  const planner = opts.dryRun || !config ? undefined : opts.planner;
  try {
    return await reconcileWith(kernel, config, opts, planner);
  } catch (error) {
    planner?.forget(); // a run that failed or left something undone proves nothing about any namespace
    throw error;
  }
}

async function reconcileWith(
  kernel: Kernel,
  config: Config | null,
  opts: ReconcileOptions,
  planner: IncrementalPlanner | undefined,
): Promise<ReconcileResult> {
  const namespaces = namespacesOf(config);
  const t0 = performance.now();
  const observed = await kernel.observe(namespaces);
  const t1 = performance.now();
  const planned = planner ? planner.plan(config!, observed) : planWithDesired(config, observed);
  const { desired } = planned;
  const plan = await guardUsers(kernel, planned.plan, opts);
  const t2 = performance.now();
  await opts.onPlan?.(plan, observed);
  const timings: Timings = { observeMs: t1 - t0, planMs: t2 - t1, executeMs: 0, verifyMs: 0 };
  if (opts.dryRun || plan.actions.length === 0) {
    planner?.converged();
    return { plan, executed: [], timings };
  }

  const executed = await executePlan(kernel, plan.actions, opts);
  const t3 = performance.now();
  const { observedAfter, scope } = await verify(kernel, namespaces, desired, executed);
  const t4 = performance.now();
  timings.executeMs = t3 - t2;
  timings.verifyMs = t4 - t3;
  planner?.applied(observedAfter, scope);
  return { plan, executed, timings };
}

/**
 * Observe again, in the namespaces the executed actions acted in, and check that nothing is left
 * to do for `desired`; throws VerifyError otherwise.
 */
async function verify(
  kernel: Kernel,
  namespaces: string[],
  desired: DesiredState,
  executed: Action[],
): Promise<{ observedAfter: ObservedState; scope: Set<string | null> }> {
  const scope = new Set(executed.map((a) => netnsOfOp(a.op)));
  // Outside vlannet's own namespace, a plan of some namespaces needs nothing from the others.
  const only = scope.has(null) ? undefined : (scope as Set<string>);
  const observedAfter = await kernel.observe(namespaces, { afterApply: true, ...(only ? { only } : {}) });
  const after = planWithin(desired, observedAfter, scope);
  if (after.actions.length > 0) {
    throw new VerifyError(
      after.actions,
      `the kernel does not match after apply; still to do:\n${after.actions.map((a) => `  ${a.object}: ${describeOp(a.op)} (${reasonText(a.reason)})`).join('\n')}`,
    );
  }
  return { observedAfter, scope };
}

/** A plan to save (`plan --out`): planned as a dry run plans, with the states it was computed from. */
export async function planToSave(kernel: Kernel, config: Config): Promise<{ plan: Plan; desired: DesiredState; observed: ObservedState }> {
  const observed = await kernel.observe(namespacesOf(config));
  const { plan, desired } = planWithDesired(config, observed);
  return { plan: await guardUsers(kernel, plan, { dryRun: true }), desired, observed };
}

/**
 * Apply a saved plan (`apply PLANFILE`): observe, let `check` refuse (it throws) when the kernel
 * is no longer as the plan was saved from, then execute exactly `actions`, and verify against
 * `config` as reconcile does. Processes in namespaces the plan would remove are checked again: a
 * saved plan is never rewritten (no --force), so such a plan is refused. The caller holds the lock.
 */
export async function applySaved(
  kernel: Kernel,
  config: Config,
  actions: Action[],
  check: (observed: ObservedState) => void,
  opts: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const namespaces = namespacesOf(config);
  const t0 = performance.now();
  const observed = await kernel.observe(namespaces);
  const t1 = performance.now();
  check(observed);
  const { desired, warnings } = desiredOrThrow(config, observed);
  const plan = await guardUsers(kernel, { actions, warnings, upstreamRoutes: desired.upstreamRoutes }, { force: false });
  const t2 = performance.now();
  await opts.onPlan?.(plan, observed);
  const timings: Timings = { observeMs: t1 - t0, planMs: t2 - t1, executeMs: 0, verifyMs: 0 };
  if (actions.length === 0) return { plan, executed: [], timings };
  const executed = await executePlan(kernel, actions, opts);
  const t3 = performance.now();
  await verify(kernel, namespaces, desired, executed);
  timings.executeMs = t3 - t2;
  timings.verifyMs = performance.now() - t3;
  return { plan, executed, timings };
}

/**
 * Bring what vlannet owns back to exactly what `before` held (a trial that was not confirmed):
 * observe, plan towards desiredFrom(before), execute, verify, as reconcile does. Namespaces in use
 * do not stop it (as with --force: their links go first): a way back that could be refused is no
 * way back. The caller holds the lock.
 */
export async function restore(kernel: Kernel, before: ObservedState, opts: ExecuteOptions = {}): Promise<ReconcileResult> {
  const namespaces = before.namespaces.map((n) => n.name);
  const t0 = performance.now();
  const observed = await kernel.observe(namespaces);
  const t1 = performance.now();
  const desired = desiredFrom(before);
  const plan = await guardUsers(kernel, planAgainst(desired, observed, []), { force: true });
  const t2 = performance.now();
  const timings: Timings = { observeMs: t1 - t0, planMs: t2 - t1, executeMs: 0, verifyMs: 0 };
  if (plan.actions.length === 0) return { plan, executed: [], timings };
  const executed = await executePlan(kernel, plan.actions, opts);
  const t3 = performance.now();
  await verify(kernel, namespaces, desired, executed);
  timings.executeMs = t3 - t2;
  timings.verifyMs = performance.now() - t3;
  return { plan, executed, timings };
}
