// Trials: `vlannet apply --confirm-timeout DURATION`, `vlannet confirm`, `vlannet revert`, and the
// reverter's own wait (`vlannet revert --trial ID --when-due`, started by armReverter). What a
// trial is and where it is kept: src/control/trial.ts. With a daemon running, the daemon holds the
// trial and answers all three (src/daemon/trials.ts); this module then only asks and reports.

import path from 'node:path';
import { askDaemon, type TrialAnswer } from '../control/protocol.js';
import {
  beginTrial,
  clock,
  describeReverter,
  dueInMs,
  endTrial,
  noTrialMessage,
  trialNotice,
  formatDuration,
  isPending,
  parseDuration,
  readTrial,
  refuseWhilePending,
  selfCommand,
  summary,
  trialApplied,
  TRIAL_MAX_MS,
  TRIAL_MIN_MS,
  type TrialRecord,
  type TrialSummary,
} from '../control/trial.js';
import { DaemonError, DiagnosticsError, LockBusyError, TrialError, UsageError } from '../errors.js';
import type { Lock } from '../kernel/flock.js';
import { runDir } from '../kernel/run-dir.js';
import { reportError } from '../report.js';
import { openKernel } from '../kernel/open.js';
import { renderPlan, planToJson } from '../plan/render.js';
import type { ApplyOptions, TrialOptions } from './program.js';
import { applyData, applySummary, color, injectedFailure, loadRevision, takeWarnings } from './commands.js';
import { hostIdentity, identityGiven } from './identity.js';
import { document, err, out, printJson } from './output.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The timeout given to --confirm-timeout, in ms; a usage error when it is not a duration in range. */
export function trialTimeout(text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new UsageError(`--confirm-timeout ${JSON.stringify(text)}: expected a duration such as 90s, 2m or 1m30s`);
  if (ms < TRIAL_MIN_MS || ms > TRIAL_MAX_MS)
    throw new UsageError(`--confirm-timeout ${text}: expected between ${formatDuration(TRIAL_MIN_MS)} and ${formatDuration(TRIAL_MAX_MS)}`);
  return ms;
}

/** `vlannet apply --confirm-timeout DURATION`. */
export async function applyTrial(file: string, o: ApplyOptions): Promise<number> {
  const timeoutMs = trialTimeout(o.confirmTimeout!);
  const json = o.json === true;
  // A daemon resolves the file for its own host: a trial for another one (--host) runs here.
  if (!o.local && !identityGiven(o)) {
    const answer = await askDaemon<TrialAnswer>(runDir(), { command: 'try', file: path.resolve(file), timeoutMs, force: o.force }, null);
    if (answer) return servedTrial(answer, file, json);
  }
  const dir = runDir();
  refuseWhilePending(dir);
  const { config, hash: configHash } = await loadRevision(file, hostIdentity(o));
  const { acquireLock } = await import('../kernel/flock.js');
  const lock = acquireLock('apply --confirm-timeout');
  const { reconcile, restore } = await import('../apply/reconcile.js');
  const kernel = await openKernel();
  let trial: TrialRecord | null = null;
  try {
    refuseWhilePending(dir); // again, under the lock
    const failAt = injectedFailure();
    const result = await reconcile(kernel, config, {
      force: o.force === true,
      ...(failAt ? { failAt } : {}),
      onPlan(plan, observed) {
        if (plan.actions.length === 0) return;
        if (!json) {
          takeWarnings(false, plan.warnings);
          out(renderPlan(planToJson(plan), { color: color() }));
        }
        // Recorded and armed before anything changes: from here on, whatever becomes of this
        // process, the kernel comes back to `observed` unless the trial is confirmed.
        trial = beginTrial(dir, { file: path.resolve(file), configHash, timeoutMs, daemonPid: null, before: observed }, selfCommand());
      },
    });
    const begun = trial as TrialRecord | null;
    if (begun) trialApplied(dir, begun);
    if (json) {
      printJson(
        document(
          'apply',
          { ...applyData(result, null, file), trial: begun ? summary(begun) : null },
          takeWarnings(true, result.plan.warnings),
        ),
      );
    } else {
      out(applySummary(result, 'Apply'));
      if (begun) out(trialNotice(begun));
      else out('Nothing changed, so there is nothing to confirm.');
    }
    return 0;
  } catch (error) {
    const begun = trial as TrialRecord | null;
    if (begun) {
      // A trial that failed part way is not left half done until its deadline: back at once.
      try {
        await restore(kernel, begun.before);
        endTrial(dir, begun, 'reverted', 'the failed apply of the trial', error);
      } catch (e) {
        err(
          `The trial's apply failed, and putting the kernel back failed too: ${(e as Error).message}. ${describeReverter(begun)} tries again at ${clock(begun.deadline)}.`,
        );
        throw error;
      }
      throw new TrialError(
        `${reportError(error).lines[0]}\nthe trial's apply failed, so the kernel was put back exactly as it was before it (trial ${begun.id}): nothing of it stays`,
      );
    }
    throw error;
  } finally {
    kernel.close();
    lock.release();
  }
}

/** Report the daemon's answer to try. */
function servedTrial(answer: TrialAnswer, file: string, json: boolean): number {
  switch (answer.outcome) {
    case 'invalid':
      throw new DiagnosticsError(answer.diagnostics);
    case 'failed':
      throw new DaemonError(`the running daemon (pid ${answer.pid}) could not apply ${file} as a trial:\n${answer.error}`);
    case 'refused':
    case 'none':
      throw new TrialError(answer.message);
    case 'confirmed':
    case 'reverted':
      throw new Error(`BUG: the daemon answered a trial with ${answer.outcome}`);
    case 'done': {
      const warnings = takeWarnings(json, [...answer.warnings, ...answer.result.plan.warnings]);
      if (json) printJson(document('apply', { ...applyData(answer.result, answer.pid, file), trial: answer.trial }, warnings));
      else {
        out(`${renderPlan(planToJson(answer.result.plan), { color: color() })}${applySummary(answer.result, 'Apply')}`);
        out(answer.trial ? trialNotice(answer.trial) : 'Nothing changed, so there is nothing to confirm.');
      }
      return 0;
    }
  }
}

/** `vlannet confirm` and `vlannet revert`. */
export async function endTrialCommand(command: 'confirm' | 'revert', o: TrialOptions): Promise<number> {
  if (command === 'revert' && o.trial !== undefined) {
    if (!o.whenDue) throw new UsageError('--trial is for the reverter vlannet starts itself (with --when-due)');
    return revertWhenDue(o.trial);
  }
  const json = o.json === true;
  const answer = await askDaemon<TrialAnswer>(runDir(), { command }, null);
  const report = answer ? fromDaemon(answer) : await endAlone(command);
  if (json)
    printJson(
      document(command, { outcome: report.outcome, message: report.message, trial: report.trial, daemonPid: answer?.pid ?? null }, []),
    );
  else out(report.message);
  return 0;
}

interface Ended {
  outcome: 'confirmed' | 'reverted';
  message: string;
  trial: TrialSummary | null;
}

function fromDaemon(answer: TrialAnswer): Ended {
  switch (answer.outcome) {
    case 'confirmed':
    case 'reverted':
      return { outcome: answer.outcome, message: answer.message, trial: answer.trial };
    case 'none':
    case 'refused':
      throw new TrialError(answer.message);
    case 'failed':
      throw new DaemonError(`the running daemon (pid ${answer.pid}) could not revert the trial:\n${answer.error}`);
    default:
      throw new DaemonError(`the running daemon answered ${answer.outcome}`);
  }
}

async function endAlone(command: 'confirm' | 'revert'): Promise<Ended> {
  const dir = runDir();
  const { acquireLockWaiting } = await import('../kernel/flock.js');
  const until = Date.now() + 60_000; // a reverter reverting, an apply finishing
  const lock = await acquireLockWaiting(command, () => Date.now() < until);
  try {
    const t = readTrial(dir);
    if (!isPending(t)) throw new TrialError(noTrialMessage(t, command));
    if (command === 'confirm') {
      endTrial(dir, t, 'confirmed', 'vlannet confirm');
      return { outcome: 'confirmed', message: `Confirmed trial ${t.id}: the kernel stays as ${t.file} made it.`, trial: summary(t) };
    }
    await revertNow(dir, t, 'vlannet revert');
    return { outcome: 'reverted', message: `Reverted trial ${t.id}: the kernel is back as it was before it.`, trial: summary(t) };
  } finally {
    lock.release();
  }
}

/** Put the kernel back as it was before trial `t`, and record it. The caller holds the lock. */
async function revertNow(dir: string, t: TrialRecord, by: string): Promise<void> {
  const { restore } = await import('../apply/reconcile.js');
  const kernel = await openKernel();
  try {
    const r = await restore(kernel, t.before);
    endTrial(dir, t, 'reverted', by);
    err(`trial ${t.id}: reverted by ${by}: ${r.executed.length} action${r.executed.length === 1 ? '' : 's'}`);
  } catch (e) {
    endTrial(dir, t, 'revert-failed', by, e);
    throw e;
  } finally {
    kernel.close();
  }
}

/**
 * The reverter: wait for trial `id`'s deadline (it moves once the apply is done), then revert it
 * under the lock, unless it was confirmed or reverted meanwhile. Behind a running daemon the lock
 * is the daemon's, and the daemon reverts on time itself: this waits as the backstop, and leaves
 * once the record says the trial is over.
 */
async function revertWhenDue(id: string): Promise<number> {
  const dir = runDir();
  const { acquireLock } = await import('../kernel/flock.js');
  for (;;) {
    const t = readTrial(dir);
    if (!isPending(t) || t.id !== id) return 0;
    const wait = dueInMs(t);
    if (wait > 0) {
      await sleep(Math.min(wait, 500));
      continue;
    }
    let lock: Lock;
    try {
      lock = acquireLock(`revert of trial ${id}`);
    } catch (e) {
      if (!(e instanceof LockBusyError)) throw e;
      await sleep(250);
      continue;
    }
    try {
      const now = readTrial(dir);
      if (!isPending(now) || now.id !== id) return 0;
      if (dueInMs(now) > 0) continue;
      err(`trial ${id}: not confirmed by ${now.deadline}: reverting`);
      await revertNow(dir, now, `its reverter (pid ${process.pid}) at the deadline`);
      return 0;
    } finally {
      lock.release();
    }
  }
}
