// `vlannet status`: the running daemon's report over its control socket, or the same report
// recomputed from the file and the kernel when no daemon runs. Its own module, so that asking a
// daemon loads neither the daemon's modules (the watcher, the loop) nor the config libraries.

import { openKernel } from '../kernel/open.js';
import path from 'node:path';
import { DEFAULT_CONFIG, STATUS_EXIT, type StatusOptions } from './program.js';
import { document, printJson } from './output.js';
import { runDir } from '../kernel/run-dir.js';
import type { Plan } from '../model/types.js';
import { formatDiagnostic } from '../errors.js';
import { planToJson } from '../plan/render.js';
import { readConfigSource } from '../daemon/config-source.js';
import { gitRevisionOf } from '../daemon/git.js';
import { queryStatus, STATUS_FORMAT_VERSION, type StatusReport } from '../control/protocol.js';
import type { GitRevision } from '../control/protocol.js';
import { shortHash } from '../daemon/config-source.js';
import { renderPlan } from '../plan/render.js';
import type { HostIdentity } from '../config/hosts.js';
import { hostIdentity } from './identity.js';
import { clock, describeReverter, formatDuration, readTrial, summary, type TrialSummary } from '../control/trial.js';

export async function statusCommand(o: StatusOptions): Promise<number> {
  const running = await queryStatus(runDir());
  if (running && !o.json && o.file !== undefined && path.resolve(running.config.file) !== path.resolve(o.file)) {
    process.stderr.write(`note: the running daemon enforces ${running.config.file}, not ${o.file}\n`);
  }
  const report = running ?? (await recompute(o.file ?? DEFAULT_CONFIG, hostIdentity(o)));
  if (o.json) {
    const { format_version: _, plan, ...data } = report;
    const { format_version: __, ...planData } = plan ?? { format_version: null };
    printJson(document('status', { ...data, plan: plan ? planData : null }, report.config.diagnostics ?? []));
  } else process.stdout.write(`${renderStatus(report)}\n`);
  return statusExit(report);
}

/** The exit code (STATUS_EXIT): whether the daemon runs, and whether it needs attention. */
export function statusExit(r: StatusReport): number {
  if (!r.daemon.running) return STATUS_EXIT.notRunning;
  if (r.trial && r.trial.state !== 'confirmed' && r.trial.state !== 'reverted') return STATUS_EXIT.attention;
  const converged = r.config.valid && r.failures === 0 && r.plan !== null && r.plan.changes.length === 0;
  return converged ? STATUS_EXIT.converged : STATUS_EXIT.attention;
}

/** The report without a daemon: the file as it is (resolved for `identity`) and the plan against the kernel now. */
async function recompute(file: string, identity: HostIdentity): Promise<StatusReport> {
  const [{ loadConfig }, { namespacesOf }, { makePlan }] = await Promise.all([
    import('../config/load.js'),
    import('../apply/reconcile.js'),
    import('../plan/plan.js'),
  ]);
  const src = readConfigSource(file);
  const loaded = src.ok
    ? loadConfig(src.text, file, identity)
    : { config: null, diagnostics: [{ severity: 'error' as const, at: file, path: '', message: src.message }] };
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
  const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
  const git = src.ok ? gitRevisionOf(src.realPath) : null;
  let plan: Plan | null = null;
  let planError: string | null = null;
  if (loaded.config) {
    const kernel = await openKernel();
    try {
      plan = makePlan(loaded.config, await kernel.observe(namespacesOf(loaded.config)));
    } catch (e) {
      planError = e instanceof Error ? e.message : String(e);
    } finally {
      kernel.close();
    }
  } else {
    planError = 'the config is not valid';
  }
  const converged = plan !== null && plan.actions.length === 0;
  const report: StatusReport = {
    format_version: STATUS_FORMAT_VERSION,
    daemon: { running: false, pid: null, since: null, busy: false },
    summary: !loaded.config
      ? 'daemon not running; config not valid'
      : converged
        ? 'daemon not running; the kernel matches the config'
        : `daemon not running; ${plan ? `${plan.actions.length} changes pending` : 'plan not computed'}`,
    config: {
      file,
      diagnostics: loaded.diagnostics,
      realPath: src.ok ? src.realPath : null,
      valid: loaded.config !== null,
      currentHash: src.ok ? src.hash : null,
      errors,
      warnings,
      lastGood: loaded.config && src.ok ? { hash: src.hash, loadedAt: new Date().toISOString(), git } : null,
    },
    applied: null,
    lastReconcile: null,
    lastChange: null,
    lastSuccessAt: null,
    reconciles: 0,
    driftRepairs: 0,
    failures: 0,
    plan: plan ? planToJson(plan) : null,
    planError,
    trial: lastTrial(),
  };
  return report;
}

/** The trial record of this boot, without the state it would restore; null when none can be read. */
function lastTrial(): TrialSummary | null {
  try {
    const t = readTrial(runDir());
    return t ? summary(t) : null;
  } catch {
    return null;
  }
}

/** A trial in one line: pending (until when, held by whom), or how it ended. */
export function trialLine(t: TrialSummary): string {
  if (t.state === 'pending') {
    const left = Date.parse(t.deadline) - Date.now();
    return `${t.id} of ${t.file} PENDING: reverted at ${clock(t.deadline)} (${left > 0 ? `in ${formatDuration(left)}` : 'due now'}) by ${describeReverter(t)} unless \`vlannet confirm\``;
  }
  return `${t.id} of ${t.file}: ${t.state} at ${t.endedAt ? clock(t.endedAt) : '?'} by ${t.endedBy ?? '?'}${t.error ? `: ${t.error}` : ''}`;
}

/** The report for people. */
export function renderStatus(r: StatusReport): string {
  const lines: string[] = [];
  const git = (g: GitRevision | null) =>
    g ? `, git commit ${g.commit.slice(0, 12)}${g.branch ? ` (${g.branch})` : ' (detached)'} in ${g.worktree}` : '';
  const d = r.daemon;
  lines.push(
    d.running
      ? `daemon:          running (pid ${d.pid}, since ${d.since})${d.busy ? ', reconciling now' : ''}`
      : 'daemon:          not running (report recomputed from the file and the kernel)',
  );
  lines.push(`summary:         ${r.summary}`);
  if (r.trial) lines.push(`trial:           ${trialLine(r.trial)}`);
  const c = r.config;
  lines.push(
    `config:          ${c.file}${c.realPath && c.realPath !== c.file ? ` -> ${c.realPath}` : ''}: ${c.valid ? 'valid' : 'NOT VALID'}${c.currentHash ? ` (revision ${shortHash(c.currentHash)})` : ''}`,
  );
  for (const e of c.errors) lines.push(`  ${e}`);
  for (const w of c.warnings) lines.push(`  ${w}`);
  if (d.running) {
    lines.push(
      `last good:       ${c.lastGood ? `revision ${shortHash(c.lastGood.hash)}, read ${c.lastGood.loadedAt}${git(c.lastGood.git)}` : 'none (nothing is enforced)'}`,
    );
    lines.push(`applied:         ${r.applied ? `revision ${shortHash(r.applied.hash)}${git(r.applied.git)}` : 'nothing yet'}`);
    const run = r.lastReconcile;
    lines.push(
      `last reconcile:  ${run ? `${run.startedAt} (${run.triggers.join('+')}): ${run.result}, ${run.executed} action${run.executed === 1 ? '' : 's'}, ${run.durationMs.toFixed(0)} ms` : 'none yet'}`,
    );
    if (run?.error) for (const l of run.error.split('\n')) lines.push(`  ${l}`);
    const change = r.lastChange;
    if (change && change !== run && change.startedAt !== run?.startedAt) {
      lines.push(
        `last change:     ${change.startedAt} (${change.triggers.join('+')}): ${change.result}, ${change.executed} action${change.executed === 1 ? '' : 's'}, ${change.durationMs.toFixed(0)} ms`,
      );
    }
    lines.push(`last success:    ${r.lastSuccessAt ?? 'never'}`);
    lines.push(
      `reconciles:      ${r.reconciles}, drift repairs: ${r.driftRepairs}${r.failures ? `, failing ${r.failures}× in a row` : ''}`,
    );
  } else if (c.lastGood?.git) {
    lines.push(`git:             ${git(c.lastGood.git).slice(2)}`);
  }
  const plan = r.plan;
  if (r.planError) lines.push(`plan:            not computed: ${r.planError}`);
  else if (!plan) lines.push('plan:            none (no valid config)');
  else if (plan.changes.length === 0) lines.push('plan:            no changes (the kernel matches the config)');
  else {
    const s = plan.summary;
    lines.push(`plan:            ${s.add} to add, ${s.change} to change, ${s.replace} to replace, ${s.destroy} to destroy`);
    lines.push(renderPlan(plan, { color: false }).trimEnd());
  }
  return lines.join('\n');
}
