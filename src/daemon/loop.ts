// The daemon's reconcile loop, controller-runtime style. Level-based: events (the config file
// changed, the kernel changed, the resync timer, SIGHUP) only schedule a run; a run re-reads the
// config file and the kernel and reconciles the whole state. Triggers are debounced (a burst of
// writes or netlink notifications becomes one run), and one function, `decide`, turns a run's
// outcome into the next deadlines: retry with exponential backoff after a failure, hold kernel
// events back while a link flaps, resync on a timer.
//
// An invalid or unreadable config never changes anything: the last good config stays enforced
// (drift is still repaired against it). With no good config yet, nothing is done at all: an
// empty or truncated file is never read as "own nothing".

import fs from 'node:fs';
import path from 'node:path';
import { describeOp, reasonText } from '../plan/describe.js';
import { reportError } from '../report.js';
import { ApplyError } from '../errors.js';
import { reconcile as realReconcile, type ReconcileResult } from '../apply/reconcile.js';
import { VerifyError } from '../errors.js';
import { IncrementalPlanner } from '../plan/incremental.js';
import { type Action, type Config, type Diagnostic, type Kernel, type Plan } from '../model/types.js';
import { formatDiagnostic, DiagnosticsError, KernelError } from '../errors.js';
import { readConfigSource, shortHash, type ConfigSource } from './config-source.js';
import type { ServedAnswer } from '../control/protocol.js';
import { gitRevisionOf } from './git.js';
import { type GitRevision } from '../control/protocol.js';
import type { Logger } from './log.js';
import type { Notifier } from './sdnotify.js';
import { type RunRecord, type ConfigState, type Trigger } from '../control/protocol.js';

export interface Timing {
  /** A config change runs after this much quiet… */
  configDebounceMs: number;
  /** …or this long after the first event of a burst, whichever is first. */
  configMaxWaitMs: number;
  kernelDebounceMs: number;
  kernelMaxWaitMs: number;
  /** Full resync this long after the last run. */
  resyncMs: number;
  /** Retry after a failed run: base × 2^(failures-1), at most max. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** While runs keep failing, kernel events wait at most this long after the last run. */
  failingKernelHoldMs: number;
  /** Two drift repairs closer than this count as a flap… */
  flapWindowMs: number;
  /** …and from the third on, kernel events are held back base × 2^(n-3), at most max. */
  flapHoldBaseMs: number;
  flapHoldMaxMs: number;
  /** A file that changed while it was read is read again after this long. */
  unsettledRetryMs: number;
  /**
   * A file written in place (the inode read last time) is used only once it has been still this
   * long, so that a write in pieces is applied once, whole. A new inode (a rename-over, a symlink
   * flip) is used at once: it was complete when it took the name.
   */
  settleMs: number;
}

export const DEFAULT_TIMING: Timing = {
  configDebounceMs: 100,
  configMaxWaitMs: 1000,
  kernelDebounceMs: 3,
  kernelMaxWaitMs: 30,
  resyncMs: 300_000,
  retryBaseMs: 500,
  retryMaxMs: 60_000,
  failingKernelHoldMs: 1000,
  flapWindowMs: 2000,
  flapHoldBaseMs: 250,
  flapHoldMaxMs: 30_000,
  unsettledRetryMs: 250,
  settleMs: 1000,
};

export interface GoodConfig {
  config: Config;
  hash: string;
  loadedAt: string;
  git: GitRevision | null;
}

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
  /** Replaceable for tests of the scheduler alone. */
  reconcile?: typeof realReconcile;
  now?(): number;
}

interface Pending { first: number; due: number }

/** How a run ended, for whoever asked for it (`vlannet apply` through the control socket): what it did, or why not. */
type RunOutcome = { result: ReconcileResult; error: null } | { result: null; error: string };

/**
 * Whether the file as it is now is valid, and what loading it said; `settlesInMs`: it is being
 * written, and may be read again after that long.
 */
type ConfigVerdict = { valid: boolean; diagnostics: Diagnostic[]; settlesInMs?: number };

export class Daemon {
  readonly timing: Timing;
  readonly startedAt = new Date().toISOString();
  config: ConfigState;
  lastGood: GoodConfig | null = null;
  /** The config revision the kernel last matched after a successful run. */
  appliedHash: string | null = null;
  appliedGit: GitRevision | null = null;
  lastRun: RunRecord | null = null;
  /** The last run that executed actions (the runs after it, prompted by its own changes, find nothing to do). */
  lastChange: RunRecord | null = null;
  lastSuccessAt: string | null = null;
  runs = 0;
  driftRepairs = 0;
  failures = 0;
  stopping = false;

  private readonly pending = new Map<Trigger, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private kernelNotBefore = 0;
  /** Recent repairs per object, for flap detection. */
  private flaps = new Map<string, { streak: number; at: number }>();
  private lastReadHash: string | null = null;
  /** The identity (real path and inode) of the file as last read: another one is a replacement. */
  private lastIdentity: string | null = null;
  /** Everything loadConfig said about the file with lastReadHash. */
  private lastDiagnostics: Diagnostic[] = [];
  /** `vlannet apply` requests waiting for the next run. */
  private waiters: Array<(outcome: RunOutcome) => void> = [];
  private reloading = false;
  /** `vlannet apply --force` asked the daemon: its run may remove endpoints from namespaces in use. */
  private forceNext = false;
  private readonly now: () => number;
  private readonly reconcile: typeof realReconcile;
  private readonly observers: DaemonObserver[];
  private readonly planner = new IncrementalPlanner();

  constructor(private readonly opts: DaemonOptions) {
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.now = opts.now ?? Date.now;
    this.reconcile = opts.reconcile ?? realReconcile;
    this.observers = opts.observers ?? [];
    this.config = { file: opts.file, realPath: null, valid: false, currentHash: null, errors: [], warnings: [] };
  }

  get log(): Logger { return this.opts.log; }
  get busy(): boolean { return this.running !== null; }

  /** The first reconcile; the daemon is ready (READY=1) when it resolves. */
  async start(): Promise<RunRecord> {
    this.pending.set('start', { first: this.now(), due: this.now() });
    await this.runNow();
    this.notify({ READY: '1' });
    return this.lastRun!;
  }

  /** Something happened: run after the trigger's debounce. Safe to call at any rate. */
  schedule(trigger: Trigger): void {
    if (this.stopping) return;
    const t = this.timing;
    const now = this.now();
    const [debounce, maxWait] =
      trigger === 'config' ? [t.configDebounceMs, t.configMaxWaitMs]
      : trigger === 'kernel' || trigger === 'overflow' ? [t.kernelDebounceMs, t.kernelMaxWaitMs]
      : [0, 0];
    const first = this.pending.get(trigger)?.first ?? now;
    let due = Math.min(now + debounce, first + maxWait);
    if (trigger === 'kernel' || trigger === 'overflow') due = Math.max(due, this.kernelNotBefore);
    this.pending.set(trigger, { first, due });
    this.arm();
  }

  /** SIGHUP: tell systemd we reload, re-read the config now, READY=1 when the run is done. */
  reload(): void {
    this.log.info('reload requested (SIGHUP): re-reading the config');
    this.reloading = true;
    this.lastReadHash = null; // parse again, so a still-invalid file's errors are logged again
    this.notify({ RELOADING: '1', STATUS: 'reloading the config' });
    this.schedule('reload');
  }

  /** SIGTERM: start nothing new, let a run in progress finish (or roll back), then resolve. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.notify({ STOPPING: '1', STATUS: this.running ? 'stopping: finishing the apply in progress' : 'stopping' });
    if (this.running) {
      this.log.info('stopping: waiting for the reconcile in progress to finish');
      await this.running;
    }
    for (const w of this.waiters.splice(0)) w({ result: null, error: 'the daemon stopped before running this apply; nothing was changed by it' });
  }

  /**
   * `vlannet plan` served: the file as it is now, planned against the kernel as the daemon reads
   * it (unchanged namespaces from its readings). Waits for a run in progress to end.
   */
  async servePlan(file: string): Promise<ServedAnswer> {
    const declined = this.declines(file);
    if (declined) return declined;
    while (this.running) await this.running;
    const verdict = await this.readSettledConfig();
    if (!verdict.valid) return { outcome: 'invalid', diagnostics: verdict.diagnostics, pid: process.pid };
    const { plan, timings } = await this.reconcile(this.opts.kernel, this.lastGood!.config, { dryRun: true });
    return { outcome: 'done', result: { plan, executed: [], timings }, warnings: warningsOf(verdict.diagnostics), pid: process.pid };
  }

  /**
   * `vlannet apply` served: a run now (after the one in progress), answered with what it did. A
   * file that is not valid is refused with its diagnostics, as `vlannet apply` alone would.
   */
  async serveApply(file: string, force = false): Promise<ServedAnswer> {
    const declined = this.declines(file);
    if (declined) return declined;
    if (this.stopping) return { outcome: 'failed', error: 'the daemon is stopping; nothing was changed', pid: process.pid };
    const verdict = await this.readSettledConfig();
    if (!verdict.valid) return { outcome: 'invalid', diagnostics: verdict.diagnostics, pid: process.pid };
    const outcome = await new Promise<RunOutcome>((resolve) => {
      this.waiters.push(resolve);
      if (force) this.forceNext = true;
      this.schedule('cli');
    });
    if (outcome.error !== null) return { outcome: 'failed', error: outcome.error, pid: process.pid };
    return { outcome: 'done', result: outcome.result, warnings: warningsOf(this.lastDiagnostics), pid: process.pid };
  }

  /** readConfig, waiting (a few times at most) for a file being written to be still. */
  private async readSettledConfig(): Promise<ConfigVerdict> {
    let verdict = this.readConfig();
    for (let i = 0; i < 5 && verdict.settlesInMs !== undefined && !this.stopping; i++) {
      await new Promise((resolve) => setTimeout(resolve, verdict.settlesInMs! + 5));
      verdict = this.readConfig();
    }
    return verdict;
  }

  /** A request about another file than the one enforced is not the daemon's to answer. */
  private declines(file: string): ServedAnswer | null {
    const real = (f: string) => { try { return fs.realpathSync(f); } catch { return path.resolve(f); } };
    return real(file) === real(this.opts.file) ? null : { outcome: 'declined', enforced: this.opts.file, pid: process.pid };
  }

  /** What a run would do now against the last good config (observe and plan only). */
  async currentPlan(): Promise<Plan | null> {
    if (!this.lastGood) return null;
    const { plan } = await this.reconcile(this.opts.kernel, this.lastGood.config, { dryRun: true });
    return plan;
  }

  /** One line for systemd's STATUS= and the top of `vlannet status`. */
  summary(): string {
    const parts: string[] = [];
    const run = this.lastRun;
    if (!this.lastGood) parts.push('no valid config: nothing enforced');
    else if (run?.result === 'failed') parts.push(`reconcile failed (${this.failures}×): ${firstLine(run.error ?? '')}`);
    else parts.push(`converged on ${shortHash(this.lastGood.hash)}${this.appliedGit ? ` (git ${this.appliedGit.commit.slice(0, 12)})` : ''}`);
    if (!this.config.valid && this.lastGood) parts.push(`config invalid (${this.config.errors.length} error${this.config.errors.length === 1 ? '' : 's'}), keeping the last good one`);
    if (this.lastGood) parts.push(`${this.lastGood.config.endpoints.length} endpoints`);
    parts.push(`${this.driftRepairs} drift repair${this.driftRepairs === 1 ? '' : 's'}`);
    return parts.join('; ');
  }

  // -------------------------------------------------------------------------------------------

  private arm(): void {
    if (this.running || this.stopping) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const due = Math.min(...[...this.pending.values()].map((p) => p.due));
    this.timer = setTimeout(() => { this.timer = null; void this.runNow(); }, Math.max(0, due - this.now()));
    // The resync timer alone must not keep a finished process alive.
    if ([...this.pending].every(([k]) => k === 'resync')) this.timer.unref();
  }

  /** Run for every trigger that is due; the rest stay pending for the next run. */
  private async runNow(): Promise<void> {
    if (this.running || this.stopping) return;
    const now = this.now();
    const due = [...this.pending].filter(([, p]) => p.due <= now).map(([k]) => k);
    if (due.length === 0) return this.arm();
    for (const k of due) this.pending.delete(k);
    const run = this.run(due).finally(() => {
      this.running = null;
      this.arm();
    });
    this.running = run;
    await run;
  }

  private async run(triggers: Trigger[]): Promise<void> {
    const started = this.now();
    const startedAt = new Date(started).toISOString();
    const waiters = triggers.includes('cli') ? this.waiters.splice(0) : [];
    this.readConfig();
    const good = this.lastGood;
    let record: RunRecord;
    let outcome: RunOutcome = { result: null, error: 'the run did nothing' };
    if (!good) {
      record = { triggers, startedAt, durationMs: this.now() - started, result: 'no-config', executed: 0, objects: [], actions: [], configHash: null, error: null, timings: null };
    } else {
      try {
        // A resync, a start or a lost notification reads the kernel afresh and plans every
        // namespace; otherwise a namespace is read again only if the kernel announced a change
        // there (see Kernel.refresh), and planned only if it changed (IncrementalPlanner).
        if (!triggers.every((t) => t === 'kernel' || t === 'config' || t === 'cli')) {
          this.opts.kernel.refresh?.();
          this.planner.forget();
        }
        const force = this.opts.force === true || (triggers.includes('cli') && this.forceNext);
        if (triggers.includes('cli')) this.forceNext = false;
        const result = await this.reconcile(this.opts.kernel, good.config, {
          planner: this.planner,
          force,
          onAction: (action) => {
            this.log.info(`${action.change} ${action.object}: ${describeOp(action.op)} (${reasonText(action.reason)})`);
            this.tell((o) => o.actionExecuted?.(action));
          },
        });
        outcome = { result, error: null };
        const executed = result.executed.length;
        const repaired = executed > 0 && this.appliedHash === good.hash;
        record = { triggers, startedAt, durationMs: this.now() - started, result: executed === 0 ? 'converged' : repaired ? 'repaired' : 'applied', executed, objects: rootsOf(result.executed), actions: actionLines(result.executed), configHash: good.hash, error: null, timings: result.timings };
        this.appliedHash = good.hash;
        this.appliedGit = good.git;
        this.lastSuccessAt = new Date().toISOString();
      } catch (error) {
        record = { triggers, startedAt, durationMs: this.now() - started, result: 'failed', executed: 0, objects: [], actions: [], configHash: good.hash, error: describeError(error), timings: null };
        if (!(error instanceof ApplyError || error instanceof VerifyError || error instanceof KernelError || error instanceof DiagnosticsError)) {
          this.log.debug(error instanceof Error && error.stack ? error.stack : String(error));
        }
      }
    }
    this.runs++;
    this.lastRun = record;
    if (record.executed > 0) this.lastChange = record;
    this.decide(record);
    this.logRun(record);
    this.tell((o) => o.runFinished?.(record, this));
    if (record.error !== null) outcome = { result: null, error: record.error };
    for (const w of waiters) w(outcome);
    if (this.reloading && triggers.includes('reload')) {
      this.reloading = false;
      this.notify({ READY: '1', STATUS: this.summary() });
    } else {
      this.notify({ STATUS: this.summary() });
    }
  }

  /**
   * Re-read the file; keep the last good config unless the file is readable, settled and valid.
   * Says whether the file as it is now is valid, and what loading it said.
   */
  private readConfig(): ConfigVerdict {
    const src = readConfigSource(this.opts.file);
    if (!src.ok) {
      const changed = this.config.valid || this.config.errors[0] !== src.message;
      this.config = { ...this.config, valid: false, currentHash: null, errors: [src.message], warnings: [] };
      this.lastReadHash = null;
      if (changed) {
        this.log.error(src.message);
        this.logKeeping();
        this.tell((o) => o.configRead?.(false, this.lastGood));
      }
      return { valid: false, diagnostics: [{ severity: 'error', at: src.file, path: '', message: src.message }] };
    }
    const wait = this.settling(src);
    if (wait !== null) {
      this.log.debug(`${src.realPath} is being written: reading it again in ${Math.round(wait)} ms`);
      this.pending.set('config', { first: this.now(), due: this.now() + wait });
      this.arm(); // a no-op during a run (it arms when it ends); needed when a plan or apply request read the file
      return {
        valid: false, settlesInMs: wait,
        diagnostics: [{ severity: 'error', at: src.file, path: '', message: `the file is being written: it is read again once it has been still for ${this.timing.settleMs} ms` }],
      };
    }
    this.lastIdentity = src.identity;
    if (src.hash === this.lastReadHash) {
      // Same bytes as last time: same verdict. Only the git revision may have moved.
      const same = this.config.valid && this.lastGood?.hash === src.hash;
      if (same) this.lastGood!.git = gitRevisionOf(src.realPath);
      return { valid: same, diagnostics: this.lastDiagnostics };
    }
    this.lastReadHash = src.hash;
    const { config, diagnostics } = this.opts.loadConfig(src.text, this.opts.file);
    this.lastDiagnostics = diagnostics;
    const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
    const warnings = diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
    for (const w of warnings) this.log.warning(w);
    if (config && errors.length === 0) {
      this.config = { file: this.opts.file, realPath: src.realPath, valid: true, currentHash: src.hash, errors: [], warnings };
      const git = gitRevisionOf(src.realPath);
      const changed = this.lastGood?.hash !== src.hash;
      this.lastGood = { config, hash: src.hash, loadedAt: new Date().toISOString(), git };
      if (changed) {
        this.log.info(`config ${this.opts.file} revision ${shortHash(src.hash)}${git ? ` (git ${git.commit.slice(0, 12)}${git.branch ? ` on ${git.branch}` : ''})` : ''}: ${config.networks.length} networks, ${config.endpoints.length} endpoints`);
      }
      this.tell((o) => o.configRead?.(true, this.lastGood));
      return { valid: true, diagnostics };
    }
    const reported = errors.length > 0 ? errors : [`${this.opts.file}: error: the file was rejected without a message`];
    this.config = { file: this.opts.file, realPath: src.realPath, valid: false, currentHash: src.hash, errors: reported, warnings };
    for (const e of reported) this.log.error(e);
    this.logKeeping();
    this.tell((o) => o.configRead?.(false, this.lastGood));
    return { valid: false, diagnostics };
  }

  /**
   * How long to wait before the file as read may be used, or null: now. A file that moved while it
   * was read is read again shortly; one written in place, once it has been still for settleMs.
   */
  private settling(src: Extract<ConfigSource, { ok: true }>): number | null {
    if (src.moving) return this.timing.unsettledRetryMs;
    if (src.identity !== this.lastIdentity || src.hash === this.lastReadHash) return null;
    const still = Date.now() - src.mtimeMs; // file times are the wall clock's
    return still >= this.timing.settleMs ? null : this.timing.settleMs - still;
  }

  private logKeeping(): void {
    if (this.lastGood) this.log.warning(`config ${this.opts.file} is not valid: nothing changes because of it; still enforcing revision ${shortHash(this.lastGood.hash)}`);
    else this.log.warning(`config ${this.opts.file} is not valid and there is no good config yet: changing nothing`);
  }

  /** The one place that decides what happens next from a run's outcome. */
  private decide(run: RunRecord): void {
    const t = this.timing;
    const end = this.now();
    this.kernelNotBefore = 0;
    if (run.result === 'failed') {
      this.failures++;
      const backoff = Math.min(t.retryMaxMs, t.retryBaseMs * 2 ** (this.failures - 1));
      this.pending.set('retry', { first: end, due: end + backoff });
      // Our own rollback makes kernel events too: they must not turn a failure into a spin.
      this.kernelNotBefore = end + Math.min(backoff, t.failingKernelHoldMs);
    } else {
      this.failures = 0;
      this.pending.delete('retry');
    }
    if (run.result === 'repaired') {
      this.driftRepairs++;
      // A flap is the same object repaired again and again, not many objects repaired once each
      // (an operator deleting a few endpoints by hand is not a flap).
      let worst: { object: string; streak: number } | null = null;
      for (const object of run.objects) {
        const prev = this.flaps.get(object);
        const streak = prev && end - prev.at < t.flapWindowMs ? prev.streak + 1 : 1;
        this.flaps.set(object, { streak, at: end });
        if (!worst || streak > worst.streak) worst = { object, streak };
      }
      if (worst && worst.streak >= 3) {
        const hold = Math.min(t.flapHoldMaxMs, t.flapHoldBaseMs * 2 ** (worst.streak - 3));
        this.kernelNotBefore = Math.max(this.kernelNotBefore, end + hold);
        this.log.warning(`${worst.object} repaired ${worst.streak} times in a row within ${t.flapWindowMs} ms of each other (something keeps changing it): kernel events wait ${hold} ms`);
      }
    }
    for (const [object, f] of this.flaps) if (end - f.at >= t.flapWindowMs) this.flaps.delete(object);
    for (const k of ['kernel', 'overflow'] as const) {
      const p = this.pending.get(k);
      if (p) p.due = Math.max(p.due, this.kernelNotBefore);
    }
    this.pending.set('resync', { first: end, due: end + t.resyncMs });
  }

  private logRun(run: RunRecord): void {
    const why = run.triggers.join('+');
    const ms = run.durationMs.toFixed(0);
    switch (run.result) {
      case 'converged': this.log.debug(`reconciled (${why}) in ${ms} ms: no changes`); break;
      case 'applied': this.log.info(`applied revision ${shortHash(run.configHash ?? '')} (${why}): ${run.executed} action${run.executed === 1 ? '' : 's'} in ${ms} ms`); break;
      case 'repaired': this.log.info(`repaired drift (${why}): ${run.executed} action${run.executed === 1 ? '' : 's'} in ${ms} ms`); break;
      case 'no-config': this.log.debug(`no valid config (${why}): nothing done`); break;
      case 'failed': {
        const retry = this.pending.get('retry');
        this.log.error(`reconcile (${why}) failed: ${run.error}`);
        if (retry) this.log.info(`retrying in ${Math.round(retry.due - this.now())} ms (failure ${this.failures})`);
        break;
      }
    }
    if (run.triggers.includes('overflow')) this.log.warning('the kernel event queue overflowed (ENOBUFS): did a full resync');
  }

  /** Observers (metrics, the kernel watcher) must never break the loop: their errors are logged. */
  private tell(fn: (o: DaemonObserver) => void): void {
    for (const o of this.observers) {
      try { fn(o); } catch (e) { this.log.warning(`internal: an observer failed: ${e instanceof Error ? e.message : String(e)}`); }
    }
  }

  private notify(state: Record<string, string>): void {
    this.opts.notifier?.send(state);
  }
}

/** An error as one message for people: object, operation, errno, hint, and what rollback did. */
export function describeError(error: unknown): string {
  return reportError(error).lines.join('\n');
}

function warningsOf(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === 'warning');
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
