// validate, plan, apply, show, destroy: thin layers over the pure core and the executor.
// `plan` and `apply` of the file a running daemon enforces are answered by that daemon (see
// src/control/protocol.ts): it already holds the lock and a current reading of the kernel. The
// config and kernel modules are loaded only when the command does the work itself.

import fs from 'node:fs';
import path from 'node:path';
import { renderPlan, planToJson } from '../plan/render.js';
import { describeOp } from '../plan/describe.js';
import { askDaemon, type ServedAnswer, type ServedResult } from '../control/protocol.js';
import { DaemonError, UsageError } from '../errors.js';
import { runDir } from '../kernel/run-dir.js';
import { openKernel } from '../kernel/open.js';
import { parseFlags, FILE_FLAG, JSON_FLAG } from './args.js';
import { OBSERVED_FORMAT_VERSION, type Config, type Diagnostic, type ObservedState, type Plan } from '../model/types.js';
import { DiagnosticsError, formatDiagnostic } from '../errors.js';

const reconciler = () => import('../apply/reconcile.js');

const EMPTY: ObservedState = { format_version: OBSERVED_FORMAT_VERSION, namespaces: [], links: [], addresses: [], routes: [] };

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
const color = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

/** Read and check a config file: errors throw (nothing is changed), warnings go to stderr. */
export async function loadChecked(file: string): Promise<Config> {
  const { readConfig } = await import('../config/load.js');
  const { config, diagnostics } = readConfig(file);
  printWarnings(diagnostics);
  if (!config || diagnostics.some((d) => d.severity === 'error')) throw new DiagnosticsError(diagnostics);
  return config;
}

function printWarnings(diagnostics: Diagnostic[]): void {
  for (const d of diagnostics) if (d.severity === 'warning') err(formatDiagnostic(d));
}

/** The flag that keeps a command from asking the daemon: it reads the kernel itself. */
const LOCAL_FLAG = { local: { type: 'boolean', default: false } } as const;

/**
 * Ask the running daemon to plan or apply `file`; null when no daemon runs or it enforces another
 * file (plan then works alone; apply is refused, since the daemon would undo it). The file's
 * errors and a failed run throw as they would without the daemon.
 */
async function servedByDaemon(
  command: 'plan' | 'apply',
  file: string,
  force = false,
): Promise<(ServedResult & { daemonPid: number }) | null> {
  const request = command === 'apply' ? { command, file: path.resolve(file), force } : { command, file: path.resolve(file) };
  const answer = await askDaemon<ServedAnswer>(runDir(), request, command === 'apply' ? null : 60_000);
  if (!answer) return null;
  switch (answer.outcome) {
    case 'declined':
      if (command === 'plan') return null;
      throw new DaemonError(
        `the running daemon (pid ${answer.pid}) enforces ${answer.enforced}, not ${file}: it would undo this apply. Point the daemon at ${file} (vlannet daemon -f) or stop it first.`,
      );
    case 'invalid':
      throw new DiagnosticsError(answer.diagnostics);
    case 'failed':
      throw new DaemonError(`the running daemon (pid ${answer.pid}) could not apply ${file}:\n${answer.error}`);
    case 'done':
      printWarnings(answer.warnings);
      if (process.stderr.isTTY)
        err(
          `(${command === 'plan' ? 'planned' : 'applied'} by the running daemon, pid ${answer.pid}; --local reads the kernel afresh in this process)`,
        );
      return { ...answer.result, daemonPid: answer.pid };
  }
}

export async function validateCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...FILE_FLAG });
  const config = await loadChecked(values.file);
  const { allocateAddresses } = await import('../model/addressing.js');
  // Addressing needs no kernel to find exhausted pools: from an empty kernel the result is the file's alone.
  const { diagnostics } = allocateAddresses(config, EMPTY);
  const problems = diagnostics.filter((d) => d.severity === 'error');
  if (problems.length) throw new DiagnosticsError(problems);
  out(
    `${values.file}: valid (${config.networks.length} networks, ${config.endpoints.length} endpoints, ${config.vlans.length} vlan links)`,
  );
  return 0;
}

export async function planCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    ...FILE_FLAG,
    ...JSON_FLAG,
    ...LOCAL_FLAG,
    observed: { type: 'string' },
    destroy: { type: 'boolean', default: false },
    'detailed-exitcode': { type: 'boolean', default: false },
  });
  const served = values.observed === undefined && !values.destroy && !values.local ? await servedByDaemon('plan', values.file) : null;
  let plan: Plan;
  if (served) {
    plan = served.plan;
  } else if (values.observed !== undefined) {
    const { makePlan } = await import('../plan/plan.js');
    plan = makePlan(values.destroy ? null : await loadChecked(values.file), readObserved(values.observed));
  } else {
    const config = values.destroy ? null : await loadChecked(values.file);
    const { reconcile } = await reconciler();
    const kernel = await openKernel();
    try {
      plan = (await reconcile(kernel, config, { dryRun: true })).plan;
    } finally {
      kernel.close();
    }
  }
  printWarnings(plan.warnings);
  out(values.json ? JSON.stringify(planToJson(plan), null, 2) : renderPlan(planToJson(plan), { color: color() }));
  return values['detailed-exitcode'] && plan.actions.length > 0 ? 2 : 0;
}

function readObserved(file: string): ObservedState {
  let state: unknown;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read observed state ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const s = state as Partial<ObservedState>;
  if (
    s?.format_version !== OBSERVED_FORMAT_VERSION ||
    !Array.isArray(s.links) ||
    !Array.isArray(s.addresses) ||
    !Array.isArray(s.routes) ||
    !Array.isArray(s.namespaces)
  ) {
    throw new UsageError(
      `${file}: not an observed state of format_version ${OBSERVED_FORMAT_VERSION} (as printed by \`vlannet show --json\`)`,
    );
  }
  return s as ObservedState;
}

/** Remove or replace endpoints even in namespaces processes use (their links go first). */
const FORCE_FLAG = { force: { type: 'boolean', default: false } } as const;

export async function applyCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...FILE_FLAG, ...JSON_FLAG, ...LOCAL_FLAG, ...FORCE_FLAG });
  const served = values.local ? null : await servedByDaemon('apply', values.file, values.force);
  if (served) {
    if (!values.json) out(renderPlan(planToJson(served.plan), { color: color() }));
    out(values.json ? JSON.stringify(applyJson(served, served.daemonPid), null, 2) : applySummary(served));
    return 0;
  }
  return change(await loadChecked(values.file), values.json, 'apply', values.force);
}

export async function destroyCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...JSON_FLAG, ...FORCE_FLAG });
  return change(null, values.json, 'destroy', values.force);
}

/**
 * VLANNET_FAIL_AT=K: the K-th action of the apply fails with EIO instead of reaching the kernel.
 * For tests of what a failure leaves behind (test/README.md); never set in production.
 */
function injectedFailure(): number | undefined {
  const k = Number(process.env.VLANNET_FAIL_AT);
  return Number.isInteger(k) && k > 0 ? k : undefined;
}

/** apply and destroy: lock, reconcile, report. */
async function change(config: Config | null, json: boolean, role: string, force: boolean): Promise<number> {
  const { acquireLock } = await import('../kernel/flock.js');
  const { reconcile } = await reconciler();
  const lock = acquireLock(role);
  const kernel = await openKernel();
  const progress = !json && process.stderr.isTTY === true;
  try {
    const failAt = injectedFailure();
    const result = await reconcile(kernel, config, {
      force,
      ...(failAt ? { failAt } : {}),
      onPlan(plan) {
        printWarnings(plan.warnings);
        if (!json) out(renderPlan(planToJson(plan), { color: color() }));
      },
      onAction(_action, done, total) {
        if (progress && total >= 50 && (done % 25 === 0 || done === total)) process.stderr.write(`\r  ${done}/${total} actions`);
      },
    });
    if (progress && result.executed.length >= 50) process.stderr.write('\n');
    out(json ? JSON.stringify(applyJson(result), null, 2) : applySummary(result));
    return 0;
  } finally {
    kernel.close();
    lock.release();
  }
}

function applySummary(r: ServedResult): string {
  const t = r.timings;
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  if (r.executed.length === 0) return `Nothing to do (observe ${ms(t.observeMs)}, plan ${ms(t.planMs)}).`;
  return [
    ...r.executed.map((a) => `  ${a.object}: ${describeOp(a.op)}`),
    `Apply complete: ${r.executed.length} action${r.executed.length === 1 ? '' : 's'} executed and verified ` +
      `(observe ${ms(t.observeMs)}, plan ${ms(t.planMs)}, execute ${ms(t.executeMs)}, verify ${ms(t.verifyMs)}).`,
  ].join('\n');
}

/** The --json output of apply and destroy. format_version "1"; daemon_pid: the daemon that did it, or null. */
export function applyJson(r: ServedResult, daemonPid: number | null = null): object {
  return {
    format_version: '1',
    daemon_pid: daemonPid,
    plan: planToJson(r.plan),
    executed: r.executed.map((a) => ({ object: a.object, change: a.change, op: a.op })),
    timings_ms: r.timings,
  };
}

export async function showCommand(argv: string[]): Promise<number> {
  return (await import('./show.js')).showCommand(argv);
}
