// The daemon's reconcile loop: each run re-reads the config file and the kernel and reconciles
// the whole state (level-based). Three parts, each one job: TrackedConfig knows the file and the
// last good config; Scheduler decides when runs happen (debounce, retry, flap hold, resync);
// Requests answers `vlannet plan` and `vlannet apply` sent over the control socket. This class
// runs, and tells systemd, the log and the observers what happened.
//
// An invalid or unreadable config never changes anything: the last good config stays enforced
// (drift is still repaired against it). With no good config yet, nothing is done at all: an
// empty or truncated file is never read as "own nothing".

import { describeOp, reasonText } from '../plan/describe.js';
import { reportError } from '../report.js';
import { ApplyError, VerifyError, DiagnosticsError, KernelError } from '../errors.js';
import { reconcile as realReconcile } from '../apply/reconcile.js';
import { IncrementalPlanner } from '../plan/incremental.js';
import type { Action, Config, Diagnostic, Kernel, Plan } from '../model/types.js';
import type { ConfigState, GitRevision, RunRecord, Trigger } from '../control/protocol.js';
import { shortHash } from './config-source.js';
import type { Logger } from './log.js';
import type { Notifier } from './sdnotify.js';
import { DEFAULT_TIMING, Scheduler, type Timing } from './scheduler.js';
import { TrackedConfig, type GoodConfig } from './tracked-config.js';
import { Requests, type RunOutcome } from './requests.js';
import { Trials } from './trials.js';
import { pendingMessage } from '../control/trial.js';

export { DEFAULT_TIMING, type Timing } from './scheduler.js';

/** Hooks for metrics and the kernel watcher. */
export interface DaemonObserver {
  configRead?(valid: boolean, good: GoodConfig | null): void;
  actionExecuted?(action: Action): void;
  runFinished?(run: RunRecord, daemon: Daemon): void;
}

export interface DaemonOptions {
  file: string;
  kernel: Kernel;
  log: Logger;
  loadConfig(text: string, file: string): { config: Config | null; diagnostics: Diagnostic[] };
  notifier?: Notifier;
  timing?: Partial<Timing>;
  observers?: DaemonObserver[];
  /** Remove endpoints from namespaces processes still use (their links first); else such a run fails. */
  force?: boolean;
  /** The run directory, where a trial is recorded (src/control/trial.ts); without it the daemon takes no trials. */
  runDir?: string;
  /** How to run vlannet, to arm a trial's reverter outside the daemon (its backstop); null: none. */
  trialCommand?: string[] | null;
  /** Replaceable for tests of the scheduler alone. */
  reconcile?: typeof realReconcile;
  now?(): number;
}

export class Daemon {
  readonly timing: Timing;
  readonly startedAt = new Date().toISOString();
  readonly requests: Requests;
  /** The config revision the kernel last matched after a successful run. */
  appliedHash: string | null = null;
  appliedGit: GitRevision | null = null;
  lastRun: RunRecord | null = null;
  /** The last run that executed actions (the runs after it, prompted by its own changes, find nothing to do). */
  lastChange: RunRecord | null = null;
  lastSuccessAt: string | null = null;
  runs = 0;
  stopping = false;

  private readonly tracked: TrackedConfig;
  private readonly scheduler: Scheduler;
  private running: Promise<void> | null = null;
  private reloading = false;
  private readonly now: () => number;
  private readonly reconcile: typeof realReconcile;
  private readonly observers: DaemonObserver[];
  private readonly planner = new IncrementalPlanner();
  /** Trials (apply --confirm-timeout) the daemon holds; null without a run directory. */
  readonly trials: Trials | null;

  constructor(private readonly opts: DaemonOptions) {
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.now = opts.now ?? Date.now;
    this.reconcile = opts.reconcile ?? realReconcile;
    this.observers = opts.observers ?? [];
    this.tracked = new TrackedConfig({
      file: opts.file,
      loadConfig: opts.loadConfig,
      log: opts.log,
      settleMs: this.timing.settleMs,
      unsettledRetryMs: this.timing.unsettledRetryMs,
      onRead: (valid, good) => this.tell((o) => o.configRead?.(valid, good)),
      onUnsettled: (ms) => this.scheduler.after('config', ms),
    });
    this.scheduler = new Scheduler({
      timing: this.timing,
      log: opts.log,
      now: this.now,
      busy: () => this.running !== null,
      fire: () => void this.runNow(),
    });
    this.requests = new Requests({
      file: opts.file,
      stopping: () => this.stopping,
      idle: async () => {
        while (this.running) await this.running;
      },
      readSettledConfig: () => this.tracked.readSettled(() => this.stopping),
      dryRun: () => this.reconcile(this.opts.kernel, this.tracked.lastGood!.config, { dryRun: true }),
      warnings: () => this.tracked.warnings,
      schedule: (trigger) => this.schedule(trigger),
    });
    this.trials = opts.runDir
      ? new Trials({
          file: opts.file,
          kernel: opts.kernel,
          log: opts.log,
          dir: opts.runDir,
          command: opts.trialCommand ?? null,
          loadConfig: opts.loadConfig,
          reconcile: this.reconcile,
          stopping: () => this.stopping,
          exclusive: (fn) => this.exclusive(fn),
          wakeIn: (ms) => this.scheduler.after('trial', ms),
          resume: () => {
            this.planner.forget();
            this.scheduler.after('trial', 0);
          },
        })
      : null;
  }

  /** Run `fn` with no run in progress and none starting until it is done (a trial's apply, confirm, revert). */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running) await this.running;
    const result = fn();
    const settled = result.then(
      () => {},
      () => {},
    );
    this.running = settled.finally(() => {
      this.running = null;
      this.scheduler.arm();
    });
    return result;
  }

  get log(): Logger {
    return this.opts.log;
  }
  get busy(): boolean {
    return this.running !== null;
  }
  /** What is known of the config file (status). */
  get config(): ConfigState {
    return this.tracked.state;
  }
  get lastGood(): GoodConfig | null {
    return this.tracked.lastGood;
  }
  get failures(): number {
    return this.scheduler.failures;
  }
  get driftRepairs(): number {
    return this.scheduler.driftRepairs;
  }

  /** The first reconcile; the daemon is ready (READY=1) when it resolves. */
  async start(): Promise<RunRecord> {
    this.trials?.adopt();
    this.scheduler.after('start', 0);
    await this.runNow();
    this.notify({ READY: '1' });
    return this.lastRun!;
  }

  /** Something happened: run after the trigger's debounce. Safe to call at any rate. */
  schedule(trigger: Trigger): void {
    if (!this.stopping) this.scheduler.schedule(trigger);
  }

  /** SIGHUP: tell systemd we reload, re-read the config now, READY=1 when the run is done. */
  reload(): void {
    this.log.info('reload requested (SIGHUP): re-reading the config');
    this.reloading = true;
    this.tracked.forget(); // parse again, so a still-invalid file's errors are logged again
    this.notify({ RELOADING: '1', STATUS: 'reloading the config' });
    this.schedule('reload');
  }

  /** SIGTERM: start nothing new, let a run in progress finish (or roll back), then resolve. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.scheduler.stop();
    this.notify({ STOPPING: '1', STATUS: this.running ? 'stopping: finishing the apply in progress' : 'stopping' });
    if (this.running) {
      this.log.info('stopping: waiting for the reconcile in progress to finish');
      await this.running;
    }
    this.trials?.release();
    this.requests.refuseAll();
  }

  /** What a run would do now against the last good config (observe and plan only). */
  async currentPlan(): Promise<Plan | null> {
    const good = this.tracked.lastGood;
    if (!good) return null;
    const { plan } = await this.reconcile(this.opts.kernel, good.config, { dryRun: true });
    return plan;
  }

  /** One line for systemd's STATUS= and the top of `vlannet status`. */
  summary(): string {
    const parts: string[] = [];
    const run = this.lastRun;
    const good = this.tracked.lastGood;
    const config = this.tracked.state;
    if (!good) parts.push('no valid config: nothing enforced');
    else if (run?.result === 'failed') parts.push(`reconcile failed (${this.failures}×): ${firstLine(run.error ?? '')}`);
    else parts.push(`converged on ${shortHash(good.hash)}${this.appliedGit ? ` (git ${this.appliedGit.commit.slice(0, 12)})` : ''}`);
    if (!config.valid && good)
      parts.push(`config invalid (${config.errors.length} error${config.errors.length === 1 ? '' : 's'}), keeping the last good one`);
    const trial = this.trials?.pending;
    if (trial) parts.push(`${pendingMessage(trial)}: enforcement paused`);
    if (good) parts.push(`${good.config.endpoints.length} endpoints`);
    parts.push(`${this.driftRepairs} drift repair${this.driftRepairs === 1 ? '' : 's'}`);
    return parts.join('; ');
  }

  // -------------------------------------------------------------------------------------------

  /** Run for every trigger that is due; the rest stay pending for the next run. */
  private async runNow(): Promise<void> {
    if (this.running || this.stopping) return;
    const due = this.scheduler.takeDue();
    if (due.length === 0) return this.scheduler.arm();
    const run = this.run(due).finally(() => {
      this.running = null;
      this.scheduler.arm();
    });
    this.running = run;
    await run;
  }

  private async run(triggers: Trigger[]): Promise<void> {
    const started = this.now();
    const startedAt = new Date(started).toISOString();
    const cli = triggers.includes('cli') ? this.requests.take() : null;
    if (!(await this.mayEnforce())) {
      const t = this.trials!.pending!;
      this.log.debug(`${pendingMessage(t)}: not enforcing ${this.opts.file} (${triggers.join('+')})`);
      cli?.answer({
        result: null,
        error: `${pendingMessage(t)}: the daemon does not apply ${this.opts.file} until it is confirmed or reverted`,
      });
      this.notify({ STATUS: this.summary() });
      return;
    }
    this.tracked.read();
    const good = this.tracked.lastGood;
    let outcome: RunOutcome = { result: null, error: 'the run did nothing' };
    const recordOf = (result: RunRecord['result'], more: Partial<RunRecord> = {}): RunRecord => ({
      triggers,
      startedAt,
      durationMs: this.now() - started,
      result,
      executed: 0,
      objects: [],
      actions: [],
      configHash: good?.hash ?? null,
      error: null,
      timings: null,
      ...more,
    });
    let record: RunRecord;
    if (!good) {
      record = recordOf('no-config');
    } else {
      try {
        // A resync, a start or a lost notification reads the kernel afresh and plans every
        // namespace; otherwise a namespace is read again only if the kernel announced a change
        // there (see Kernel.refresh), and planned only if it changed (IncrementalPlanner).
        if (!triggers.every((t) => t === 'kernel' || t === 'config' || t === 'cli')) {
          this.opts.kernel.refresh?.();
          this.planner.forget();
        }
        const result = await this.reconcile(this.opts.kernel, good.config, {
          planner: this.planner,
          force: this.opts.force === true || cli?.force === true,
          onAction: (action) => {
            this.log.info(`${action.change} ${action.object}: ${describeOp(action.op)} (${reasonText(action.reason)})`);
            this.tell((o) => o.actionExecuted?.(action));
          },
        });
        outcome = { result, error: null };
        const executed = result.executed.length;
        const repaired = executed > 0 && this.appliedHash === good.hash;
        record = recordOf(executed === 0 ? 'converged' : repaired ? 'repaired' : 'applied', {
          executed,
          objects: rootsOf(result.executed),
          actions: actionLines(result.executed),
          timings: result.timings,
        });
        this.appliedHash = good.hash;
        this.appliedGit = good.git;
        this.lastSuccessAt = new Date().toISOString();
      } catch (error) {
        record = recordOf('failed', { error: describeError(error) });
        if (
          !(
            error instanceof ApplyError ||
            error instanceof VerifyError ||
            error instanceof KernelError ||
            error instanceof DiagnosticsError
          )
        ) {
          this.log.debug(error instanceof Error && error.stack ? error.stack : String(error));
        }
      }
    }
    this.runs++;
    this.lastRun = record;
    if (record.executed > 0) this.lastChange = record;
    this.scheduler.decide(record);
    this.logRun(record);
    this.tell((o) => o.runFinished?.(record, this));
    if (record.error !== null) outcome = { result: null, error: record.error };
    cli?.answer(outcome);
    if (this.reloading && triggers.includes('reload')) {
      this.reloading = false;
      this.notify({ READY: '1', STATUS: this.summary() });
    } else {
      this.notify({ STATUS: this.summary() });
    }
  }

  /** Whether this run may enforce the file: not while a trial is pending (one that is due is reverted first). */
  private async mayEnforce(): Promise<boolean> {
    if (!this.trials) return true;
    try {
      return await this.trials.mayEnforce();
    } catch {
      return true; // the revert failed (logged, recorded): the file is enforced again
    }
  }

  private logRun(run: RunRecord): void {
    const why = run.triggers.join('+');
    const ms = run.durationMs.toFixed(0);
    switch (run.result) {
      case 'converged':
        this.log.debug(`reconciled (${why}) in ${ms} ms: no changes`);
        break;
      case 'applied':
        this.log.info(
          `applied revision ${shortHash(run.configHash ?? '')} (${why}): ${run.executed} action${run.executed === 1 ? '' : 's'} in ${ms} ms`,
        );
        break;
      case 'repaired':
        this.log.info(`repaired drift (${why}): ${run.executed} action${run.executed === 1 ? '' : 's'} in ${ms} ms`);
        break;
      case 'no-config':
        this.log.debug(`no valid config (${why}): nothing done`);
        break;
      case 'failed': {
        const retry = this.scheduler.retryInMs();
        this.log.error(`reconcile (${why}) failed: ${run.error}`);
        if (retry !== null) this.log.info(`retrying in ${retry} ms (failure ${this.failures})`);
        break;
      }
    }
    if (run.triggers.includes('overflow')) this.log.warning('the kernel event queue overflowed (ENOBUFS): did a full resync');
  }

  /** Observers (metrics, the kernel watcher) must never break the loop: their errors are logged. */
  private tell(fn: (o: DaemonObserver) => void): void {
    for (const o of this.observers) {
      try {
        fn(o);
      } catch (e) {
        this.log.warning(`internal: an observer failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private notify(state: Record<string, string>): void {
    this.opts.notifier?.send(state);
  }
}

/** An error as one message for people: object, operation, errno, hint, and what rollback did. */
function describeError(error: unknown): string {
  return reportError(error).lines.join('\n');
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}

/** How many actions a RunRecord lists (a first apply of a thousand endpoints has thousands). */
const ACTIONS_RECORDED = 100;

function actionLines(actions: Action[]): string[] {
  return actions.slice(0, ACTIONS_RECORDED).map((a) => `${a.change} ${a.object} (${a.op.op})`);
}

/** The objects actions touched, by their root (endpoint.web1.ipv4 counts as endpoint.web1). */
function rootsOf(actions: { object: string }[]): string[] {
  return [...new Set(actions.map((a) => a.object.replace(/\.(ipv[46]|route[46])$/, '')))];
}
