// What the daemon tells `vlannet status`, as JSON on its root-only control socket
// (control/protocol.ts); cli/status.ts recomputes the same report when no daemon runs.

import path from 'node:path';
import { planToJson } from '../plan/render.js';
import type { Plan } from '../model/types.js';
import { serveControl, type ControlServer } from '../control/protocol.js';
import type { Daemon } from './loop.js';
import { summary } from '../control/trial.js';
import type { TrialAnswer } from '../control/protocol.js';

/** A daemon without a run directory takes no trials (in-process tests). */
function noTrials(): TrialAnswer {
  return { outcome: 'refused', message: 'this daemon takes no trials', trial: null, pid: process.pid };
}
import { type StatusReport, STATUS_FORMAT_VERSION } from '../control/protocol.js';

/** The daemon's report, with the current plan computed now (unless a run is in progress). */
export async function daemonReport(daemon: Daemon): Promise<{ report: StatusReport; plan: Plan | null }> {
  let plan: Plan | null = null;
  let planError: string | null = null;
  if (daemon.busy) planError = 'a reconcile is in progress';
  else {
    try {
      plan = await daemon.currentPlan();
    } catch (e) {
      planError = e instanceof Error ? e.message : String(e);
    }
  }
  const good = daemon.lastGood;
  const report: StatusReport = {
    format_version: STATUS_FORMAT_VERSION,
    daemon: { running: true, pid: process.pid, since: daemon.startedAt, busy: daemon.busy },
    summary: daemon.summary(),
    config: { ...daemon.config, lastGood: good ? { hash: good.hash, loadedAt: good.loadedAt, git: good.git } : null },
    applied: daemon.appliedHash ? { hash: daemon.appliedHash, git: daemon.appliedGit } : null,
    lastReconcile: daemon.lastRun,
    lastChange: daemon.lastChange,
    lastSuccessAt: daemon.lastSuccessAt,
    reconciles: daemon.runs,
    driftRepairs: daemon.driftRepairs,
    failures: daemon.failures,
    plan: plan ? planToJson(plan) : null,
    planError,
    trial: daemon.trials?.current ? summary(daemon.trials.current) : null,
  };
  return { report, plan };
}

/**
 * Serve the daemon's control socket (control/protocol.ts): its report to `vlannet status`, and plans and
 * applies of the file it enforces to `vlannet plan` and `vlannet apply`.
 */
export function serveDaemon(dir: string, daemon: Daemon): Promise<ControlServer> {
  return serveControl(dir, async (request) => {
    switch (request.command) {
      case 'status':
        return (await daemonReport(daemon)).report;
      case 'identify':
        return { pid: process.pid, file: path.resolve(daemon.config.file) };
      case 'plan':
        return daemon.requests.plan(request.file);
      case 'apply':
        return daemon.requests.apply(request.file, request.force ?? false);
      case 'try':
        return daemon.trials ? daemon.trials.try(request.file, request.timeoutMs, request.force ?? false) : noTrials();
      case 'confirm':
        return daemon.trials ? daemon.trials.confirm() : noTrials();
      case 'revert':
        return daemon.trials ? daemon.trials.revertNow() : noTrials();
      default:
        throw new Error(`unknown request ${JSON.stringify((request as { command?: unknown }).command)}`);
    }
  });
}
