// `vlannet status`: the running daemon's report over its control socket, or the same report
// recomputed from the file and the kernel when no daemon runs. Its own module, so that asking a
// daemon loads neither the daemon's modules (the watcher, the loop) nor the config libraries.

import { openKernel } from '../cli/kernel.js';
import { FILE_FLAG, JSON_FLAG, parseFlags } from '../cli/args.js';
import { runDir } from '../kernel/run-dir.js';
import { type Plan } from '../model/types.js';
import { formatDiagnostic } from '../errors.js';
import { planToJson } from '../plan/render.js';
import { readConfigSource } from './config-source.js';
import { gitRevisionOf } from './git.js';
import { queryStatus, renderStatus, STATUS_FORMAT_VERSION, type StatusReport } from './status.js';

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...FILE_FLAG, ...JSON_FLAG });
  const running = await queryStatus(runDir());
  if (running) {
    if (!values.json && running.config.file !== values.file && argv.some((a) => a === '-f' || a.startsWith('--file'))) {
      process.stderr.write(`note: the running daemon enforces ${running.config.file}, not ${values.file}\n`);
    }
    process.stdout.write((values.json ? JSON.stringify(running, null, 2) : renderStatus(running, null)) + '\n');
    return 0;
  }
  const { report, plan } = await recompute(values.file);
  process.stdout.write((values.json ? JSON.stringify(report, null, 2) : renderStatus(report, plan)) + '\n');
  return 0;
}

/** The report without a daemon: the file as it is and the plan against the kernel now. */
async function recompute(file: string): Promise<{ report: StatusReport; plan: Plan | null }> {
  const [{ loadConfig }, { namespacesOf, planFor }] = await Promise.all([import('../config/load.js'), import('../apply/reconcile.js')]);
  const src = readConfigSource(file);
  const loaded = src.ok ? loadConfig(src.text, file) : { config: null, diagnostics: [{ severity: 'error' as const, at: file, path: '', message: src.message }] };
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
  const warnings = loaded.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
  const git = src.ok ? gitRevisionOf(src.realPath) : null;
  let plan: Plan | null = null;
  let planError: string | null = null;
  if (loaded.config) {
    const kernel = await openKernel();
    try {
      plan = planFor(loaded.config, await kernel.observe(namespacesOf(loaded.config)));
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
    summary: !loaded.config ? 'daemon not running; config not valid' : converged ? 'daemon not running; the kernel matches the config' : `daemon not running; ${plan ? `${plan.actions.length} changes pending` : 'plan not computed'}`,
    config: {
      file, realPath: src.ok ? src.realPath : null, valid: loaded.config !== null, currentHash: src.ok ? src.hash : null, errors, warnings,
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
  };
  return { report, plan };
}
