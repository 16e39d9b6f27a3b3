// The daemon's side of trials (`vlannet apply --confirm-timeout`, src/control/trial.ts). While a
// trial is pending the daemon holds it: it does not enforce its file (that would undo the trial,
// or apply an edit nobody has tried), and at the deadline it puts the kernel back itself, then
// enforces its file again. `vlannet apply --confirm-timeout`, `vlannet confirm` and `vlannet
// revert` are answered here, between runs. A trial left by an apply without a daemon, or by a
// daemon that died, is taken over at start. The reverter armed outside the daemon stays as the
// backstop should the daemon die: it waits behind the daemon's lock.

import { restore as realRestore, type reconcile as realReconcile } from '../apply/reconcile.js';
import type { TrialAnswer } from '../control/protocol.js';
import {
  armReverter,
  beginTrial,
  endTrial,
  isPending,
  noTrialMessage,
  pendingMessage,
  readTrial,
  summary,
  trialApplied,
  trialNotice,
  writeTrial,
  clock,
  dueInMs,
  type TrialRecord,
} from '../control/trial.js';
import type { Config, Diagnostic, Kernel } from '../model/types.js';
import { reportError } from '../report.js';
import { readConfigSource } from './config-source.js';
import type { Logger } from './log.js';

export interface TrialsHost {
  /** The file the daemon enforces. */
  readonly file: string;
  readonly kernel: Kernel;
  readonly log: Logger;
  /** Where the trial record is (the run directory). */
  readonly dir: string;
  /** How to run vlannet, to arm the reverter; null: none is armed (tests of the daemon alone). */
  readonly command: string[] | null;
  loadConfig(text: string, file: string): { config: Config | null; diagnostics: Diagnostic[] };
  reconcile: typeof realReconcile;
  /** The daemon is stopping: no trial begins. */
  stopping(): boolean;
  /** Run `fn` with no run in progress and none starting until it is done. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Wake the daemon in `ms` (the deadline). */
  wakeIn(ms: number): void;
  /** The trial is over: forget what the planner knows, and run in full. */
  resume(): void;
}

export class Trials {
  /** The last trial since boot: pending, or how it ended. */
  current: TrialRecord | null = null;

  constructor(private readonly host: TrialsHost) {}

  get pending(): TrialRecord | null {
    return isPending(this.current) ? this.current : null;
  }

  /** At start: a trial left pending is the daemon's to hold from now on. */
  adopt(): void {
    let t: TrialRecord | null;
    try {
      t = readTrial(this.host.dir);
    } catch (e) {
      this.host.log.warning(`${(e as Error).message}: no trial is taken over`);
      return;
    }
    this.current = t;
    if (!isPending(t)) return;
    t.daemonPid = process.pid;
    writeTrial(this.host.dir, t);
    this.host.log.warning(`${pendingMessage(t)}: enforcement of ${this.host.file} is paused until it is confirmed or reverted`);
    this.host.wakeIn(Math.max(0, dueInMs(t)));
  }

  /** At stop: the reverter outside the daemon carries on; the record no longer names the daemon. */
  release(): void {
    const t = this.pending;
    if (!t) return;
    t.daemonPid = null;
    if (!t.reverter && this.host.command) t.reverter = armReverter(this.host.dir, t.id, Math.max(1000, dueInMs(t)), this.host.command);
    writeTrial(this.host.dir, t);
    this.host.log.info(`stopping with ${pendingMessage(t)}: left to its reverter`);
  }

  /**
   * At the start of a run: whether it may enforce the file. A pending trial that is due is
   * reverted first (then it may); one that is not stops the run, and the daemon wakes at the deadline.
   */
  async mayEnforce(): Promise<boolean> {
    const t = this.pending;
    if (!t) return true;
    const wait = dueInMs(t);
    if (wait > 0) {
      this.host.wakeIn(wait);
      return false;
    }
    this.host.log.warning(`trial ${t.id} was not confirmed by ${clock(t.deadline)}: putting the kernel back as it was`);
    await this.revert(t, 'the daemon at the deadline');
    return true;
  }

  /** `vlannet apply --confirm-timeout`: apply `file` as a trial. */
  async try(file: string, timeoutMs: number, force: boolean): Promise<TrialAnswer> {
    return this.host.exclusive(async () => {
      const pid = process.pid;
      if (this.host.stopping()) return { outcome: 'failed', error: 'the daemon is stopping; nothing was changed', pid };
      if (this.pending)
        return {
          outcome: 'refused',
          message: `${pendingMessage(this.pending)}: confirm or revert it first; nothing was changed`,
          trial: summary(this.pending),
          pid,
        };
      const src = readConfigSource(file);
      if (!src.ok) return { outcome: 'invalid', diagnostics: [{ severity: 'error', at: file, path: '', message: src.message }], pid };
      const { config, diagnostics } = this.host.loadConfig(src.text, file);
      if (!config) return { outcome: 'invalid', diagnostics, pid };
      let trial: TrialRecord | null = null;
      try {
        const result = await this.host.reconcile(this.host.kernel, config, {
          force,
          onPlan: (plan, observed) => {
            if (plan.actions.length === 0) return;
            trial = beginTrial(
              this.host.dir,
              { file, configHash: src.hash, timeoutMs, daemonPid: pid, before: observed },
              this.host.command,
            );
            this.current = trial;
          },
          onAction: (a) => this.host.log.info(`trial: ${a.change} ${a.object}`),
        });
        const begun = trial as TrialRecord | null;
        if (begun) {
          trialApplied(this.host.dir, begun);
          this.host.wakeIn(timeoutMs);
          this.host.log.info(`${file} applied as trial ${begun.id} (${result.executed.length} actions); ${trialNotice(summary(begun))}`);
        }
        return {
          outcome: 'done',
          result,
          warnings: diagnostics.filter((d) => d.severity === 'warning'),
          trial: begun ? summary(begun) : null,
          pid,
        };
      } catch (error) {
        const begun = trial as TrialRecord | null;
        let after = 'nothing was changed';
        if (begun) {
          try {
            await this.revert(begun, 'the failed apply of the trial');
            after = 'the kernel was put back as it was before the trial';
          } catch (e) {
            after = `putting the kernel back failed too (${(e as Error).message}); the daemon enforces ${this.host.file} again`;
          }
        }
        return { outcome: 'failed', error: `${reportError(error).lines.join('\n')}\n${after}`, pid };
      }
    });
  }

  /** `vlannet confirm`. */
  async confirm(): Promise<TrialAnswer> {
    return this.host.exclusive(async () => {
      const pid = process.pid;
      const t = this.pending;
      if (!t) return { outcome: 'none', message: noTrialMessage(this.current && summary(this.current), 'confirm'), trial: null, pid };
      const src = readConfigSource(this.host.file);
      if (src.ok && src.hash !== t.configHash) {
        const same = src.realPath === t.file || this.host.file === t.file;
        return {
          outcome: 'refused',
          message:
            `the daemon enforces ${this.host.file}, which ${same ? 'changed since it was tried' : `differs from ${t.file} as tried`}: once confirmed, ` +
            `the daemon would change the kernel back to it. Put the change in ${this.host.file} (it is not applied while the trial is pending), then confirm; or \`vlannet revert\`.`,
          trial: summary(t),
          pid,
        };
      }
      endTrial(this.host.dir, t, 'confirmed', 'vlannet confirm');
      this.host.log.info(`trial ${t.id} confirmed: enforcing ${this.host.file} again`);
      this.host.resume();
      return { outcome: 'confirmed', message: `Confirmed trial ${t.id}: the kernel stays as ${t.file} made it.`, trial: summary(t), pid };
    });
  }

  /** `vlannet revert`. */
  async revertNow(): Promise<TrialAnswer> {
    return this.host.exclusive(async () => {
      const pid = process.pid;
      const t = this.pending;
      if (!t) return { outcome: 'none', message: noTrialMessage(this.current && summary(this.current), 'revert'), trial: null, pid };
      try {
        await this.revert(t, 'vlannet revert');
      } catch (error) {
        return { outcome: 'failed', error: reportError(error).lines.join('\n'), pid };
      }
      return { outcome: 'reverted', message: `Reverted trial ${t.id}: the kernel is back as it was before it.`, trial: summary(t), pid };
    });
  }

  /** Put the kernel back as it was before `t`, record it, and enforce the file again. */
  private async revert(t: TrialRecord, by: string): Promise<void> {
    try {
      const r = await realRestore(this.host.kernel, t.before, { onAction: (a) => this.host.log.info(`revert: ${a.change} ${a.object}`) });
      endTrial(this.host.dir, t, 'reverted', by);
      this.host.log.info(`trial ${t.id} reverted by ${by}: ${r.executed.length} actions`);
    } catch (e) {
      endTrial(this.host.dir, t, 'revert-failed', by, e);
      this.host.log.error(`trial ${t.id}: putting the kernel back failed: ${reportError(e).lines.join(' ')}`);
      throw e;
    } finally {
      this.host.resume();
    }
  }
}
