// validate, plan, apply, destroy: thin layers over the pure core and the executor.
// `plan` and `apply` of the file a running daemon enforces are answered by that daemon (see
// src/control/protocol.ts): it already holds the lock and a current reading of the kernel. The
// config and kernel modules are loaded only when the command does the work itself.

import fs from 'node:fs';
import path from 'node:path';
import { renderPlan, planToJson, type PlanJson } from '../plan/render.js';
import { describeOp } from '../plan/describe.js';
import { askDaemon, type ServedAnswer, type ServedResult } from '../control/protocol.js';
import { DaemonError, UsageError } from '../errors.js';
import { runDir } from '../kernel/run-dir.js';
import { openKernel } from '../kernel/open.js';
import type { ApplyOptions, DestroyOptions, PlanOptions, ValidateOptions } from './program.js';
import { configFile, daemonIdentity } from './files.js';
import { camelKeys, document, err, out, OUTPUT_FORMAT_VERSION, printJson } from './output.js';
import { unreadable } from '../config/unreadable.js';
import { OBSERVED_FORMAT_VERSION, type Config, type Diagnostic, type ObservedState, type Plan } from '../model/types.js';
import { DiagnosticsError, formatDiagnostic } from '../errors.js';
import type { HostIdentity } from '../config/hosts.js';
import type { LoadResult } from '../config/load.js';
import { hostIdentity, identityGiven, validFor } from './identity.js';

const reconciler = () => import('../apply/reconcile.js');

const EMPTY: ObservedState = { format_version: OBSERVED_FORMAT_VERSION, namespaces: [], links: [], addresses: [], routes: [] };

export const color = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

/** Warnings of the file read, for this command's output (stderr, or the JSON document's diagnostics). */
let warnings: Diagnostic[] = [];

/**
 * Read and check a config file, resolved for `identity` (its `hosts:` entries; default: this
 * machine; null: checked for every host, the shared part returned): errors throw (nothing is
 * changed), warnings are kept for the output.
 */
export async function loadChecked(file: string, identity: HostIdentity | null = hostIdentity({})): Promise<Config> {
  const { readConfig } = await import('../config/load.js');
  return checked(readConfig(file, identity));
}

/** The config of a load: its errors thrown, its warnings kept for the output. */
function checked({ config, diagnostics }: LoadResult): Config {
  if (!config || diagnostics.some((d) => d.severity === 'error')) throw new DiagnosticsError(diagnostics);
  warnings.push(...diagnostics.filter((d) => d.severity === 'warning'));
  return config;
}

/**
 * loadChecked, with the bytes it checked and their revision (sha256): read once, for a command that
 * records which revision it applies (a trial).
 */
export async function loadRevision(file: string, identity: HostIdentity): Promise<{ config: Config; hash: string }> {
  const { readConfigSource } = await import('../daemon/config-source.js');
  const source = readConfigSource(file);
  if (!source.ok) throw new DiagnosticsError([{ severity: 'error', at: file, path: '', message: source.message }]);
  const { loadConfig } = await import('../config/load.js');
  return { config: checked(loadConfig(source.text, file, identity)), hash: source.hash };
}

/** The warnings kept so far and `more`, printed to stderr (when not JSON) and returned for a document. */
export function takeWarnings(json: boolean, more: Diagnostic[] = []): Diagnostic[] {
  const all = [...warnings, ...more];
  warnings = [];
  if (!json) for (const d of all) if (d.severity === 'warning') err(formatDiagnostic(d));
  return all;
}

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
      warnings.push(...answer.warnings);
      if (process.stderr.isTTY)
        err(
          `(${command === 'plan' ? 'planned' : 'applied'} by the running daemon, pid ${answer.pid}; --local reads the kernel afresh in this process)`,
        );
      return { ...answer.result, daemonPid: answer.pid };
  }
}

export async function validateCommand(o: ValidateOptions): Promise<number> {
  const file = await configFile(o.file);
  // A file with hosts: entries is checked for every host it names, or with --host (--label, --machine-id) for that one.
  const { readConfig } = await import('../config/load.js');
  const { config, diagnostics: found, hosts } = readConfig(file, identityGiven(o) ? hostIdentity(o) : null);
  if (!config || found.some((d) => d.severity === 'error')) throw new DiagnosticsError(found);
  warnings.push(...found.filter((d) => d.severity === 'warning'));
  const [{ allocateAddresses }, { perHost }] = await Promise.all([import('../model/addressing.js'), import('../config/hosts.js')]);
  // Addressing needs no kernel to find exhausted pools: from an empty kernel the result is the file's alone (each host's own).
  const checks = hosts?.checks ?? [{ kind: 'host' as const, name: '', entries: [], config }];
  const problems = perHost(
    checks.map((check) => ({
      check,
      diagnostics: allocateAddresses(check.config ?? config, EMPTY).diagnostics.filter((d) => d.severity === 'error'),
    })),
  );
  if (problems.length) throw new DiagnosticsError([...warnings, ...problems]);
  const countsOf = (c: Config) => ({ networks: c.networks.length, endpoints: c.endpoints.length, vlans: c.vlans.length });
  const counts = countsOf(config);
  const diagnostics = takeWarnings(o.json === true);
  const perHostCounts = hosts?.checks.map((c) => ({
    kind: c.kind,
    name: c.name,
    entries: c.entries,
    counts: countsOf(c.config ?? config),
  }));
  if (o.json)
    printJson(document('validate', { file, valid: true, counts, ...(perHostCounts ? { hosts: perHostCounts } : {}) }, diagnostics));
  else
    out(
      `${file}: valid ${hosts ? `${validFor(hosts)} ` : ''}(${hosts && !hosts.identity ? 'shared: ' : ''}${counts.networks} networks, ${counts.endpoints} endpoints, ${counts.vlans} vlan links)`,
    );
  return 0;
}

export async function planCommand(planFile: string | undefined, o: PlanOptions): Promise<number> {
  if (planFile !== undefined) return showSavedPlan(planFile, o);
  if (o.check) throw new UsageError('--check checks a saved plan: vlannet plan --check PLANFILE');
  if (o.out !== undefined) return savePlan(o);
  const file = await configFile(o.file);
  // The daemon answers for its own host: a plan for a host named on the command line is made here.
  const served = o.observed === undefined && !o.destroy && !o.local && !identityGiven(o) ? await servedByDaemon('plan', file) : null;
  let plan: Plan;
  if (served) {
    plan = served.plan;
  } else if (o.observed !== undefined) {
    const { makePlan } = await import('../plan/plan.js');
    plan = makePlan(o.destroy ? null : await loadChecked(file, hostIdentity(o)), readObserved(o.observed));
  } else {
    const config = o.destroy ? null : await loadChecked(file, hostIdentity(o));
    const { reconcile } = await reconciler();
    const kernel = await openKernel();
    try {
      plan = (await reconcile(kernel, config, { dryRun: true })).plan;
    } finally {
      kernel.close();
    }
  }
  const diagnostics = takeWarnings(o.json === true, plan.warnings);
  if (o.json) {
    printJson(document('plan', { file: o.destroy ? null : file, daemonPid: served?.daemonPid ?? null, ...planData(plan) }, diagnostics));
  } else if (o.destroy && plan.actions.length === 0) out('vlannet owns nothing in the kernel: nothing to destroy.');
  else out(renderPlan(planToJson(plan), { color: color(), compact: o.compact }));
  return o.detailedExitcode && plan.actions.length > 0 ? 2 : 0;
}

/**
 * An observed state saved by `show --json`: its document (format 2), or the bare state vlannet 0.1
 * printed (format_version 1).
 */
function readObserved(file: string): ObservedState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the observed state ${file}: ${unreadable(e as NodeJS.ErrnoException)}`);
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      `${file}: not JSON (${e instanceof Error ? e.message : String(e)}); save it with \`vlannet show --json > ${file}\``,
    );
  }
  const s = (
    parsed?.format_version === OUTPUT_FORMAT_VERSION && parsed.command === 'show'
      ? { ...(camelKeys(parsed) as object), format_version: OBSERVED_FORMAT_VERSION }
      : parsed
  ) as Partial<ObservedState>;
  if (
    s?.format_version !== OBSERVED_FORMAT_VERSION ||
    !Array.isArray(s.links) ||
    !Array.isArray(s.addresses) ||
    !Array.isArray(s.routes) ||
    !Array.isArray(s.namespaces)
  ) {
    throw new UsageError(`${file}: not an observed state as \`vlannet show --json\` prints it`);
  }
  return s as ObservedState;
}

export async function applyCommand(planFile: string | undefined, o: ApplyOptions): Promise<number> {
  if (planFile !== undefined) return applySavedPlan(planFile, o);
  const file = await configFile(o.file);
  if (o.confirmTimeout !== undefined) return (await import('./trial.js')).applyTrial(file, o);
  const served = o.local || identityGiven(o) ? null : await servedByDaemon('apply', file, o.force === true);
  if (served) {
    const diagnostics = takeWarnings(o.json === true, served.plan.warnings);
    if (o.json) printJson(document('apply', applyData(served, served.daemonPid, file), diagnostics));
    else out(`${renderPlan(planToJson(served.plan), { color: color() })}${applySummary(served, 'Apply')}`);
    return 0;
  }
  return change(await loadChecked(file, hostIdentity(o)), file, o.json === true, o.force === true);
}

export async function destroyCommand(o: DestroyOptions): Promise<number> {
  const daemon = await daemonIdentity();
  if (daemon) {
    const mismatch = o.file && path.resolve(o.file) !== daemon.file ? ` (not ${o.file})` : '';
    throw new DaemonError(
      `the vlannet daemon (pid ${daemon.pid}) is running and enforces ${daemon.file}${mismatch}: it would make everything again. Stop it first (systemctl stop vlannet), then destroy.`,
    );
  }
  if (!o.yes) {
    if (!process.stdin.isTTY || o.json)
      throw new UsageError('destroy removes everything vlannet owns in the kernel: pass --yes to confirm (there is no terminal to ask on)');
    const { reconcile } = await reconciler();
    const kernel = await openKernel();
    let plan: Plan;
    try {
      plan = (await reconcile(kernel, null, { dryRun: true })).plan;
    } finally {
      kernel.close();
    }
    if (plan.actions.length === 0) {
      out('vlannet owns nothing in the kernel: nothing to destroy.');
      return 0;
    }
    out(renderPlan(planToJson(plan), { color: color() }));
    if (!(await confirm('Remove all of this from the kernel? Only "yes" is accepted: '))) {
      out('Destroy cancelled; nothing was changed.');
      return 1;
    }
  }
  return change(null, null, o.json === true, o.force === true);
}

/** Ask on the terminal; true only for "yes". */
async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

/**
 * VLANNET_FAIL_AT=K: the K-th action of the apply fails with EIO instead of reaching the kernel.
 * For tests of what a failure leaves behind (test/README.md); never set in production.
 */
export function injectedFailure(): number | undefined {
  const k = Number(process.env.VLANNET_FAIL_AT);
  return Number.isInteger(k) && k > 0 ? k : undefined;
}

/** apply (`config` of `file`) and destroy (null): lock, reconcile, report. */
async function change(config: Config | null, file: string | null, json: boolean, force: boolean): Promise<number> {
  const verb = config ? 'apply' : 'destroy';
  const { acquireLock } = await import('../kernel/flock.js');
  const { reconcile } = await reconciler();
  const lock = acquireLock(verb);
  try {
    (await import('../control/trial.js')).refuseWhilePending(runDir());
  } catch (e) {
    lock.release();
    throw e;
  }
  const kernel = await openKernel();
  const progress = !json && process.stderr.isTTY === true;
  try {
    const failAt = injectedFailure();
    const result = await reconcile(kernel, config, {
      force,
      ...(failAt ? { failAt } : {}),
      onPlan(plan) {
        if (!json && plan.actions.length > 0) {
          takeWarnings(false, plan.warnings);
          out(renderPlan(planToJson(plan), { color: color() }));
        }
      },
      onAction(_action, done, total) {
        if (progress && total >= 50 && (done % 25 === 0 || done === total)) process.stderr.write(`\r  ${done}/${total} actions`);
      },
    });
    if (progress && result.executed.length >= 50) process.stderr.write('\n');
    if (json) printJson(document(verb, applyData(result, null, file), takeWarnings(true, result.plan.warnings)));
    else out(applySummary(result, config ? 'Apply' : 'Destroy'));
    return 0;
  } finally {
    kernel.close();
    lock.release();
  }
}

export function applySummary(r: ServedResult, verb: 'Apply' | 'Destroy'): string {
  const t = r.timings;
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  if (r.executed.length === 0)
    return verb === 'Apply'
      ? `No changes: the kernel matches the file (observe ${ms(t.observeMs)}, plan ${ms(t.planMs)}).`
      : `vlannet owns nothing in the kernel: nothing to destroy (observe ${ms(t.observeMs)}).`;
  return [
    ...r.executed.map((a) => `  ${a.object}: ${describeOp(a.op)}`),
    `${verb} complete: ${r.executed.length} action${r.executed.length === 1 ? '' : 's'} executed and verified ` +
      `(observe ${ms(t.observeMs)}, plan ${ms(t.planMs)}, execute ${ms(t.executeMs)}, verify ${ms(t.verifyMs)}).`,
  ].join('\n');
}

/** A plan in a document: its JSON form, without what the envelope says (version, warnings). */
export function planData(plan: Plan): Omit<PlanJson, 'format_version' | 'warnings'> {
  const { format_version: _, warnings: __, ...data } = planToJson(plan);
  return data;
}

/** The data of apply's and destroy's document; daemon_pid: the daemon that did it, or null. */
export function applyData(r: ServedResult, daemonPid: number | null, file: string | null): Record<string, unknown> {
  return {
    file,
    daemonPid,
    plan: planData(r.plan),
    executed: r.executed.map((a) => ({ object: a.object, change: a.change, op: a.op })),
    timingsMs: r.timings,
  };
}

// Saved plans (src/cli/saved.ts): plan --out, plan PLANFILE [--check], apply PLANFILE.

/** Options that make no sense with a saved plan: a usage error naming them. */
function refuseWithSaved(what: string, given: [string, unknown][]): void {
  const bad = given.filter(([, v]) => v !== undefined && v !== false).map(([k]) => k);
  if (bad.length) throw new UsageError(`${what} cannot be combined with ${bad.join(', ')}`);
}

/** `plan -f FILE --out PLANFILE`: plan in this process (never the daemon: see saved.ts), save, show. */
async function savePlan(o: PlanOptions): Promise<number> {
  refuseWithSaved('plan --out', [
    ['--observed (a saved plan is of the kernel as it is)', o.observed],
    ['--destroy', o.destroy],
  ]);
  const file = await configFile(o.file);
  const { readConfigSource } = await import('../daemon/config-source.js');
  const source = readConfigSource(file);
  if (!source.ok) throw new UsageError(source.message);
  const saved = await import('./saved.js');
  const { config, warnings: fileWarnings } = await saved.loadText(source.text, file, hostIdentity(o));
  warnings.push(...fileWarnings);
  const { planToSave } = await reconciler();
  const { fingerprintScope } = await import('../plan/saved.js');
  const kernel = await openKernel();
  let block: ReturnType<typeof saved.savedBlock>;
  let plan: Plan;
  try {
    const planned = await planToSave(kernel, config);
    plan = planned.plan;
    const subnets = config.networks.flatMap((n) => n.subnets.map((s) => s.cidr));
    block = saved.savedBlock(file, source.text, plan, planned.observed, fingerprintScope(planned.desired, plan, subnets), hostIdentity(o));
  } finally {
    kernel.close();
  }
  const diagnostics = takeWarnings(o.json === true, plan.warnings);
  const doc = document('plan', { file: path.resolve(file), daemonPid: null, ...planData(plan), saved: block }, diagnostics);
  saved.writeSavedPlan(o.out!, doc);
  if (o.json) printJson(doc);
  else {
    out(renderPlan(planToJson(plan), { color: color(), compact: o.compact }));
    out(`Saved the plan to ${o.out}: apply it with vlannet apply ${o.out}`);
  }
  return o.detailedExitcode && plan.actions.length > 0 ? 2 : 0;
}

/** `plan PLANFILE`: the saved plan, without the kernel; with --check, whether it still holds. */
async function showSavedPlan(planFile: string, o: PlanOptions): Promise<number> {
  refuseWithSaved('a saved plan (plan PLANFILE)', [
    ['-f', o.file],
    ['--out', o.out],
    ['--observed', o.observed],
    ['--destroy', o.destroy],
    ['--local', o.local],
    ['--host, --label, --machine-id (the plan names its host)', identityGiven(o) || undefined],
  ]);
  const saved = await import('./saved.js');
  const planned = saved.readSavedPlan(planFile);
  if (o.check) {
    const { namespacesOf } = await reconciler();
    const { config } = await saved.loadText(saved.currentConfigText(planned), planned.saved.configFile, saved.identityOf(planned));
    const kernel = await openKernel();
    try {
      saved.checkObserved(planned, await kernel.observe(namespacesOf(config)));
    } finally {
      kernel.close();
    }
  }
  const { plan } = planned;
  if (o.json) {
    printJson(o.check ? { ...planned.document, current: true } : planned.document);
  } else {
    out(renderPlan(planToJson(plan), { color: color(), compact: o.compact }));
    out(
      `Saved by vlannet ${planned.saved.vlannetVersion} at ${planned.saved.createdAt} from ${planned.saved.configFile} ` +
        `(revision ${planned.saved.configHash.slice(0, 12)}).`,
    );
    if (o.check) out('The plan is current: the config file and the kernel are as it was computed from.');
  }
  return o.detailedExitcode && plan.actions.length > 0 ? 2 : 0;
}

/** `apply PLANFILE`: exactly the saved actions, if the config file and the kernel still hold; else refused. */
async function applySavedPlan(planFile: string, o: ApplyOptions): Promise<number> {
  refuseWithSaved('apply PLANFILE', [
    ['-f (the plan names its config file)', o.file],
    ['--force (a saved plan runs as it was planned; apply -f FILE --force plans anew)', o.force],
    ['--host, --label, --machine-id (the plan names its host)', identityGiven(o) || undefined],
    ['--confirm-timeout (a trial applies a file: apply -f FILE --confirm-timeout)', o.confirmTimeout],
  ]);
  const saved = await import('./saved.js');
  const planned = saved.readSavedPlan(planFile);
  const daemon = await daemonIdentity();
  if (daemon) {
    throw new DaemonError(
      `the vlannet daemon (pid ${daemon.pid}) is running and enforces ${daemon.file}: a saved plan is not applied under it (it would undo or race it). Stop the daemon, or let it apply the file (vlannet apply -f ${planned.saved.configFile}).`,
    );
  }
  const text = saved.currentConfigText(planned);
  const file = planned.saved.configFile;
  const { config, warnings: fileWarnings } = await saved.loadText(text, file, saved.identityOf(planned));
  warnings.push(...fileWarnings);
  const json = o.json === true;
  const { acquireLock } = await import('../kernel/flock.js');
  const { applySaved } = await reconciler();
  const lock = acquireLock('apply');
  try {
    (await import('../control/trial.js')).refuseWhilePending(runDir());
  } catch (e) {
    lock.release();
    throw e;
  }
  const kernel = await openKernel();
  try {
    const failAt = injectedFailure();
    const result = await applySaved(kernel, config, planned.plan.actions, (observed) => saved.checkObserved(planned, observed), {
      ...(failAt ? { failAt } : {}),
      onPlan(plan) {
        if (!json && plan.actions.length > 0) {
          takeWarnings(false, plan.warnings);
          out(renderPlan(planToJson(plan), { color: color() }));
        }
      },
    });
    if (json)
      printJson(document('apply', { ...applyData(result, null, file), savedPlan: planFile }, takeWarnings(true, result.plan.warnings)));
    else out(applySummary(result, 'Apply'));
    return 0;
  } finally {
    kernel.close();
    lock.release();
  }
}
