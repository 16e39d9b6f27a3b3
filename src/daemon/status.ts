// `vlannet status`: what the daemon knows, served as JSON on its root-only control socket
// (control.ts), and the same report recomputed from the file and the kernel when no daemon runs.

import { planToJson, renderPlan, summarize } from '../plan/render.js';
import type { Plan } from '../model/types.js';
import { shortHash } from './config-source.js';
import { askDaemon, serveControl, type ControlServer } from './control.js';
import type { GitRevision } from './git.js';
import type { ConfigState, Daemon, RunRecord } from './loop.js';

export const STATUS_FORMAT_VERSION = '1';

export interface StatusReport {
  format_version: typeof STATUS_FORMAT_VERSION;
  daemon: { running: boolean; pid: number | null; since: string | null; busy: boolean };
  summary: string;
  config: ConfigState & { lastGood: { hash: string; loadedAt: string; git: GitRevision | null } | null };
  /** The revision the kernel last matched, and the commit it came from. */
  applied: { hash: string; git: GitRevision | null } | null;
  lastReconcile: RunRecord | null;
  /** The last reconcile that changed the kernel. */
  lastChange: RunRecord | null;
  lastSuccessAt: string | null;
  reconciles: number;
  driftRepairs: number;
  failures: number;
  /** What a run would do now (planToJson form); null when it could not be computed. */
  plan: object | null;
  planError: string | null;
}

/** The daemon's report, with the current plan computed now (unless a run is in progress). */
export async function daemonReport(daemon: Daemon): Promise<{ report: StatusReport; plan: Plan | null }> {
  let plan: Plan | null = null;
  let planError: string | null = null;
  if (daemon.busy) planError = 'a reconcile is in progress';
  else {
    try { plan = await daemon.currentPlan(); } catch (e) { planError = e instanceof Error ? e.message : String(e); }
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
  };
  return { report, plan };
}

/**
 * Serve the daemon's control socket (control.ts): its report to `vlannet status`, and plans and
 * applies of the file it enforces to `vlannet plan` and `vlannet apply`.
 */
export function serveDaemon(dir: string, daemon: Daemon): Promise<ControlServer> {
  return serveControl(dir, async (request) => {
    switch (request.command) {
      case 'status': return (await daemonReport(daemon)).report;
      case 'plan': return daemon.servePlan(request.file);
      case 'apply': return daemon.serveApply(request.file, request.force ?? false);
      default: throw new Error(`unknown request ${JSON.stringify((request as { command?: unknown }).command)}`);
    }
  });
}

/** Ask a running daemon for its report; null when no daemon listens. */
export function queryStatus(dir: string, timeoutMs = 10_000): Promise<StatusReport | null> {
  return askDaemon<StatusReport>(dir, { command: 'status' }, timeoutMs);
}

/** The report for people. */
export function renderStatus(r: StatusReport, plan: Plan | null): string {
  const lines: string[] = [];
  const git = (g: GitRevision | null) => (g ? `, git commit ${g.commit.slice(0, 12)}${g.branch ? ` (${g.branch})` : ' (detached)'} in ${g.worktree}` : '');
  const d = r.daemon;
  lines.push(d.running ? `daemon:          running (pid ${d.pid}, since ${d.since})${d.busy ? ', reconciling now' : ''}` : 'daemon:          not running (report recomputed from the file and the kernel)');
  lines.push(`summary:         ${r.summary}`);
  const c = r.config;
  lines.push(`config:          ${c.file}${c.realPath && c.realPath !== c.file ? ` -> ${c.realPath}` : ''}: ${c.valid ? 'valid' : 'NOT VALID'}${c.currentHash ? ` (revision ${shortHash(c.currentHash)})` : ''}`);
  for (const e of c.errors) lines.push(`  ${e}`);
  for (const w of c.warnings) lines.push(`  ${w}`);
  if (d.running) {
    lines.push(`last good:       ${c.lastGood ? `revision ${shortHash(c.lastGood.hash)}, read ${c.lastGood.loadedAt}${git(c.lastGood.git)}` : 'none (nothing is enforced)'}`);
    lines.push(`applied:         ${r.applied ? `revision ${shortHash(r.applied.hash)}${git(r.applied.git)}` : 'nothing yet'}`);
    const run = r.lastReconcile;
    lines.push(`last reconcile:  ${run ? `${run.startedAt} (${run.triggers.join('+')}): ${run.result}, ${run.executed} action${run.executed === 1 ? '' : 's'}, ${run.durationMs.toFixed(0)} ms` : 'none yet'}`);
    if (run?.error) for (const l of run.error.split('\n')) lines.push(`  ${l}`);
    const change = r.lastChange;
    if (change && change !== run && change.startedAt !== run?.startedAt) {
      lines.push(`last change:     ${change.startedAt} (${change.triggers.join('+')}): ${change.result}, ${change.executed} action${change.executed === 1 ? '' : 's'}, ${change.durationMs.toFixed(0)} ms`);
    }
    lines.push(`last success:    ${r.lastSuccessAt ?? 'never'}`);
    lines.push(`reconciles:      ${r.reconciles}, drift repairs: ${r.driftRepairs}${r.failures ? `, failing ${r.failures}× in a row` : ''}`);
  } else if (c.lastGood?.git) {
    lines.push(`git:             ${git(c.lastGood.git).slice(2)}`);
  }
  if (r.planError) lines.push(`plan:            not computed: ${r.planError}`);
  else if (!plan && !r.plan) lines.push('plan:            none (no valid config)');
  else if (plan && plan.actions.length === 0) lines.push('plan:            no changes (the kernel matches the config)');
  else if (plan) {
    const s = summarize(plan);
    lines.push(`plan:            ${s.add} to add, ${s.change} to change, ${s.replace} to replace, ${s.destroy} to destroy`);
    lines.push(renderPlan(plan, { color: false }).trimEnd());
  } else {
    const p = r.plan as { changes?: { object: string; change: string; reason: string }[] };
    const changes = p.changes ?? [];
    lines.push(`plan:            ${changes.length === 0 ? 'no changes (the kernel matches the config)' : `${changes.length} change${changes.length === 1 ? '' : 's'}`}`);
    for (const ch of changes) lines.push(`  ${ch.change} ${ch.object}: ${ch.reason}`);
  }
  return lines.join('\n');
}
