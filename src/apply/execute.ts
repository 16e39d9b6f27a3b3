// The executor: runs a plan's kernel operations and nothing else, in two phases split by the
// plan's point of no return (src/plan/order.ts). Before it, everything new is made; if any of it
// fails, nothing new starts, what is in flight settles, and everything this execution did is
// undone exactly, in reverse order of completion. After it, what the plan removes is removed and
// what had to wait for that is made; a failure there is not undone (the steps before it cannot be
// brought back as they were): the error says what is done and what is not, and the next apply
// (or the daemon's next run) finishes the work. Deleting something already gone counts as done.
//
// Within a phase an action waits only for what it can depend on (see dependsOn): the earlier
// stages of its own namespace and of vlannet's own, and every earlier deletion. So the namespaces
// of a plan proceed independently: while one is still being created, the links, addresses and
// routes of those already made go ahead, and an adapter that creates namespaces on another thread
// (src/kernel/factory.ts) keeps both busy.

import { inverse, netnsOfOp, type Action, type Kernel, type KernelOp, type Netns } from '../model/types.js';
import { KernelError, ApplyError, type RollbackReport } from '../errors.js';
import { POINT_OF_NO_RETURN, isRemoval } from '../plan/order.js';
import { describeFailure } from '../plan/describe.js';

/**
 * At most this many operations of one stage in flight (namespaces waiting for the thread that makes
 * them, requests to a slow kernel): enough to keep that busy, few enough to undo little after a failure.
 */
const WINDOW = 64;

export interface ExecuteOptions {
  /** Called after each action completes (progress bars, logs). */
  onAction?(action: Action, done: number, total: number): void;
  /**
   * Fault injection for tests (`VLANNET_FAIL_AT=K` in the command line): the K-th action to start
   * fails with EIO instead of reaching the kernel.
   */
  failAt?: number;
}

/** Errors that say a deletion's object is gone already: the deletion is done. */
const GONE: Partial<Record<KernelOp['op'], readonly string[]>> = {
  'netns-del': ['ENOENT'],
  'link-del': ['ENODEV'],
  'addr-del': ['EADDRNOTAVAIL', 'ENODEV'],
  'route-del': ['ESRCH', 'ENOENT', 'ENODEV'],
};

/** kernel.apply, where deleting what is already gone succeeds. */
async function perform(kernel: Kernel, op: KernelOp): Promise<void> {
  try {
    await kernel.apply(op);
  } catch (e) {
    if (e instanceof KernelError && GONE[op.op]?.includes(e.errno)) return;
    throw e;
  }
}

/**
 * Execute a plan's actions (sorted by stage, as plans are); returns them in the order they
 * completed. Throws ApplyError: after rolling back, for a failure before the point of no return.
 */
export async function executePlan(kernel: Kernel, actions: Action[], opts: ExecuteOptions = {}): Promise<Action[]> {
  const done: Action[] = [];
  let started = 0;
  const step = async (action: Action): Promise<unknown> => {
    try {
      if (++started === opts.failAt) throw new KernelError('EIO', 'failure injected by VLANNET_FAIL_AT', action.op);
      await perform(kernel, action.op);
      done.push(action);
      opts.onAction?.(action, done.length, actions.length);
      return null;
    } catch (cause) {
      return cause ?? new Error('unknown failure');
    }
  };
  const make = actions.filter((a) => a.stage < POINT_OF_NO_RETURN);
  const rest = actions.filter((a) => a.stage >= POINT_OF_NO_RETURN);
  kernel.prepare?.(actions.map((a) => a.op));
  try {
    let failures = await new Schedule(make).run(() => kernel.idle?.() ?? false, step);
    if (failures.length > 0) {
      const rollback = await undo(kernel, done);
      const [first, ...others] = failures;
      throw new ApplyError(first!.action, first!.cause, rollback, others, [], describeFailure(first!.action, first!.cause));
    }
    failures = await new Schedule(rest).run(() => kernel.idle?.() ?? false, step);
    if (failures.length > 0) {
      const [first, ...others] = failures;
      const finished = new Set(done);
      throw new ApplyError(
        first!.action,
        first!.cause,
        null,
        others,
        rest.filter((a) => !finished.has(a)),
        describeFailure(first!.action, first!.cause),
      );
    }
  } finally {
    await kernel.finish?.();
  }
  return done;
}

/**
 * Whether `later` must wait for `earlier` (of a lower stage) to complete. Within a namespace the
 * stages are the planner's order (a namespace before its links, a link before its addresses, an
 * address before the routes through it). vlannet's own namespace holds the parents every other
 * namespace's links hang from. A deletion frees a name, a MAC address or an IP address that a
 * create anywhere may take. Nothing else orders the namespaces: a link, address or route in one
 * namespace cannot clash with a create in another.
 */
export function dependsOn(later: Action, earlier: Action): boolean {
  if (earlier.stage >= later.stage) return false;
  const at = netnsOfOp(earlier.op);
  return at === null || at === netnsOfOp(later.op) || isRemoval(earlier.op);
}

/**
 * The order of an execution, as dependsOn says, counted instead of compared pairwise: per
 * namespace and stage the actions not yet completed, and per stage those that block everything
 * (in vlannet's own namespace, or deletions). Each namespace keeps its actions in stage order;
 * its next stage starts when nothing it depends on is left. Of the actions that may start, the
 * lowest stage goes first (namespaces before links), at most WINDOW per stage in flight.
 */
class Schedule {
  private readonly queues = new Map<Netns, { actions: Action[]; next: number }>();
  /** Per namespace, per stage: actions not completed yet. */
  private readonly left = new Map<Netns, number[]>();
  /** Per stage: actions in vlannet's own namespace or deletions not completed yet. */
  private readonly blocking: number[];
  private readonly inFlight: number[];
  /** Per stage, the actions that may start, in plan order (those before `at` have started). */
  private readonly ready: { actions: Action[]; at: number }[];
  private readonly stages: number;

  constructor(private readonly actions: Action[]) {
    this.stages = actions.reduce((m, a) => Math.max(m, a.stage + 1), 0);
    this.blocking = new Array<number>(this.stages).fill(0);
    this.inFlight = new Array<number>(this.stages).fill(0);
    this.ready = Array.from({ length: this.stages }, () => ({ actions: [], at: 0 }));
    for (const a of actions) {
      const ns = netnsOfOp(a.op);
      let q = this.queues.get(ns);
      if (!q) {
        q = { actions: [], next: 0 };
        this.queues.set(ns, q);
        this.left.set(ns, new Array<number>(this.stages).fill(0));
      }
      if (q.actions.length && q.actions[q.actions.length - 1]!.stage > a.stage) throw new Error('BUG: actions are not in stage order');
      q.actions.push(a);
      this.left.get(ns)![a.stage]!++;
      if (ns === null || isRemoval(a.op)) this.blocking[a.stage]!++;
    }
    for (const ns of this.queues.keys()) this.release(ns);
  }

  /**
   * Run every action through `step` (it resolves with null, or with why it failed). When nothing
   * can start, `idle` may do prepared work (true: it did, look again). After a failure nothing new
   * starts; returns the failures once everything started has settled.
   */
  async run(idle: () => boolean, step: (a: Action) => Promise<unknown>): Promise<{ action: Action; cause: unknown }[]> {
    const failures: { action: Action; cause: unknown }[] = [];
    let running = 0;
    let failed = false;
    let wake: (() => void) | null = null;
    let started = 0;
    for (;;) {
      const a = failed ? undefined : this.take();
      if (a) {
        running++;
        started++;
        this.inFlight[a.stage]!++;
        void step(a).then((cause) => {
          running--;
          this.inFlight[a.stage]!--;
          if (cause === null) this.complete(a);
          else {
            failed = true;
            failures.push({ action: a, cause });
          }
          const w = wake;
          wake = null;
          w?.();
        });
        // Let an operation that finished at once be counted before the next is chosen.
        await null;
        continue;
      }
      if (running === 0) break;
      if (!failed && idle()) {
        // Let what that work settled run its course (and messages arrive) before looking again.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    if (!failed && started !== this.actions.length) throw new Error(`BUG: ${this.actions.length - started} actions never became ready`);
    return failures;
  }

  /** The next action that may start: the lowest stage first, within its window. */
  private take(): Action | undefined {
    for (let s = 0; s < this.stages; s++) {
      const r = this.ready[s]!;
      if (r.at < r.actions.length && this.inFlight[s]! < WINDOW) return r.actions[r.at++];
    }
    return undefined;
  }

  private complete(a: Action): void {
    const ns = netnsOfOp(a.op);
    const left = this.left.get(ns)!;
    const emptied = --left[a.stage]! === 0;
    const unblocked = (ns === null || isRemoval(a.op)) && --this.blocking[a.stage]! === 0;
    if (unblocked) for (const other of this.queues.keys()) this.release(other);
    else if (emptied) this.release(ns);
  }

  /** Move the next stage of namespace `ns` to ready, if nothing it depends on is left. */
  private release(ns: Netns): void {
    const q = this.queues.get(ns)!;
    const head = q.actions[q.next];
    if (!head) return;
    const left = this.left.get(ns)!;
    for (let s = 0; s < head.stage; s++) if (left[s]! > 0 || this.blocking[s]! > 0) return;
    while (q.next < q.actions.length && q.actions[q.next]!.stage === head.stage) this.ready[head.stage]!.actions.push(q.actions[q.next++]!);
  }
}

/** Undo completed actions, last first. Undo is sequential: it is the rare path and must be exact. */
async function undo(kernel: Kernel, done: Action[]): Promise<RollbackReport> {
  const report: RollbackReport = { undone: 0, failed: [] };
  for (const action of [...done].reverse()) {
    for (const op of inverse(action.op)) {
      try {
        await perform(kernel, op);
      } catch (error) {
        report.failed.push({ op, error: error instanceof Error ? error.message : String(error) });
      }
    }
    report.undone++;
  }
  return report;
}
