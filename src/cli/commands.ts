// validate, plan, apply, show, destroy: thin layers over the pure core and the executor.

import fs from 'node:fs';
import { readConfig } from '../config/load.js';
import { allocateAddresses, hostAddressOn, networkOf } from '../model/addressing.js';
import { ownerOf } from '../model/owner.js';
import { renderPlan, planToJson, routeText } from '../plan/render.js';
import { reconcile, planFor, namespacesOf, type ReconcileResult } from '../apply/reconcile.js';
import { describeOp } from '../apply/execute.js';
import { openKernel } from './kernel.js';
import { parseFlags, FILE_FLAG, JSON_FLAG, UsageError } from './args.js';
import {
  DiagnosticsError, OBSERVED_FORMAT_VERSION, formatDiagnostic,
  type Config, type Diagnostic, type Kernel, type ObservedState, type Plan,
} from '../model/types.js';

const EMPTY: ObservedState = { format_version: OBSERVED_FORMAT_VERSION, namespaces: [], links: [], addresses: [], routes: [] };

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : s + '\n');
const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');
const color = () => process.stdout.isTTY === true && !process.env.NO_COLOR;

/** Read and check a config file: errors throw (nothing is changed), warnings go to stderr. */
export function loadChecked(file: string): Config {
  const { config, diagnostics } = readConfig(file);
  printWarnings(diagnostics);
  if (!config || diagnostics.some((d) => d.severity === 'error')) throw new DiagnosticsError(diagnostics);
  return config;
}

function printWarnings(diagnostics: Diagnostic[]): void {
  for (const d of diagnostics) if (d.severity === 'warning') err(formatDiagnostic(d));
}

export async function validateCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...FILE_FLAG });
  const config = loadChecked(values.file);
  // Addressing needs no kernel to find exhausted pools: from an empty kernel the result is the file's alone.
  const { diagnostics } = allocateAddresses(config, EMPTY);
  const problems = diagnostics.filter((d) => d.severity === 'error');
  if (problems.length) throw new DiagnosticsError(problems);
  out(`${values.file}: valid (${config.networks.length} networks, ${config.endpoints.length} endpoints, ${config.vlans.length} vlan links)`);
  return 0;
}

export async function planCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    ...FILE_FLAG, ...JSON_FLAG,
    observed: { type: 'string' },
    destroy: { type: 'boolean', default: false },
    'detailed-exitcode': { type: 'boolean', default: false },
  });
  const config = values.destroy ? null : loadChecked(values.file);
  let plan: Plan;
  if (values.observed !== undefined) {
    plan = planFor(config, readObserved(values.observed));
  } else {
    const kernel = await openKernel();
    try {
      plan = planFor(config, await kernel.observe(namespacesOf(config)));
    } finally {
      kernel.close();
    }
  }
  printWarnings(plan.warnings);
  out(values.json ? JSON.stringify(planToJson(plan), null, 2) : renderPlan(plan, { color: color() }));
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
  if (s?.format_version !== OBSERVED_FORMAT_VERSION || !Array.isArray(s.links) || !Array.isArray(s.addresses) || !Array.isArray(s.routes) || !Array.isArray(s.namespaces)) {
    throw new UsageError(`${file}: not an observed state of format_version ${OBSERVED_FORMAT_VERSION} (as printed by \`vlannet show --json\`)`);
  }
  return s as ObservedState;
}

export async function applyCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...FILE_FLAG, ...JSON_FLAG });
  return change(loadChecked(values.file), values.json, 'apply');
}

export async function destroyCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...JSON_FLAG });
  return change(null, values.json, 'destroy');
}

/** apply and destroy: lock, reconcile, report. */
async function change(config: Config | null, json: boolean, role: string): Promise<number> {
  const { acquireLock } = await import('../kernel/flock.js');
  const lock = acquireLock(role);
  const kernel = await openKernel();
  const progress = !json && process.stderr.isTTY === true;
  try {
    const result = await reconcile(kernel, config, {
      onPlan(plan) {
        printWarnings(plan.warnings);
        if (!json) out(renderPlan(plan, { color: color() }));
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

function applySummary(r: ReconcileResult): string {
  const t = r.timings;
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  if (r.executed.length === 0) return `Nothing to do (observe ${ms(t.observeMs)}, plan ${ms(t.planMs)}).`;
  return [
    ...r.executed.map((a) => `  ${a.object}: ${describeOp(a.op)}`),
    `Apply complete: ${r.executed.length} action${r.executed.length === 1 ? '' : 's'} executed and verified ` +
      `(observe ${ms(t.observeMs)}, plan ${ms(t.planMs)}, execute ${ms(t.executeMs)}, verify ${ms(t.verifyMs)}).`,
  ].join('\n');
}

/** The --json output of apply and destroy. format_version "1". */
export function applyJson(r: ReconcileResult): object {
  return {
    format_version: '1',
    plan: planToJson(r.plan),
    executed: r.executed.map((a) => ({ object: a.object, change: a.change, op: a.op })),
    timings_ms: r.timings,
  };
}

export async function showCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { ...JSON_FLAG, netns: { type: 'string', multiple: true, default: [] } });
  const kernel: Kernel = await openKernel();
  let state: ObservedState;
  try {
    state = ownedView(await kernel.observe(values.netns));
  } finally {
    kernel.close();
  }
  out(values.json ? JSON.stringify(state, null, 2) : renderShow(state));
  return 0;
}

/** What vlannet owns, plus the parents its links hang from (so `plan --observed` can read it back). */
export function ownedView(state: ObservedState): ObservedState {
  const owned = state.links.filter((l) => ownerOf(l) !== null);
  const parents = new Set(owned.map((l) => l.parent).filter((p): p is string => p !== null));
  const links = state.links.filter((l) => ownerOf(l) !== null || (l.netns === null && parents.has(l.name)));
  const key = (netns: string | null, name: string) => `${netns ?? ''}/${name}`;
  const ownedKeys = new Set(owned.map((l) => key(l.netns, l.name)));
  const keep = new Set(links.map((l) => key(l.netns, l.name)));
  const usedNs = new Set(owned.map((l) => l.netns));
  return {
    format_version: state.format_version,
    namespaces: state.namespaces.filter((n) => n.owned || usedNs.has(n.name)),
    links,
    addresses: state.addresses.filter((a) => keep.has(key(a.netns, a.link))),
    routes: state.routes.filter((r) => ownedKeys.has(key(r.netns, r.dev))),
  };
}

function renderShow(state: ObservedState): string {
  const lines: string[] = [];
  const byNs = new Map<string | null, ObservedState['links']>();
  for (const l of state.links) byNs.set(l.netns, [...(byNs.get(l.netns) ?? []), l]);
  const owned = state.links.filter((l) => ownerOf(l) !== null);
  if (owned.length === 0) return 'vlannet owns nothing in the kernel.';
  for (const [netns, links] of [...byNs].sort(([a], [b]) => (a ?? '').localeCompare(b ?? ''))) {
    const ns = state.namespaces.find((n) => n.name === netns);
    lines.push(netns === null ? 'host namespace' : `netns ${netns}${ns?.owned ? ' (created by vlannet)' : ''}`);
    for (const l of links) {
      const mark = ownerOf(l);
      const what = [l.kind || 'device', l.mode, l.flag, l.vlanId !== undefined ? `id ${l.vlanId}` : undefined].filter(Boolean).join(' ');
      const addrs = state.addresses.filter((a) => a.netns === netns && a.link === l.name).map((a) => `${a.address}/${a.prefixLength}`);
      lines.push(`  ${l.name}${l.parent ? `@${l.parent}` : ''}  ${what}  mtu ${l.mtu}  ${l.up ? 'up' : 'DOWN'}  ${mark ? `${mark.role} ${mark.name}` : '(parent, not vlannet\'s)'}${addrs.length ? `  ${addrs.join(' ')}` : ''}`);
      for (const r of state.routes.filter((r) => r.netns === netns && r.dev === l.name)) {
        lines.push(`    route ${routeText(r)}`);
      }
    }
  }
  const upstream = upstreamFromKernel(state);
  if (upstream.length) {
    lines.push('', 'ipvlan l3 networks: upstream routers need these routes (vlannet does not distribute them):');
    for (const u of upstream) lines.push(`  ip route add ${u.subnet} via ${u.via ?? '<this host\'s address on ' + u.parent + '>'}`);
  }
  return lines.join('\n');
}

/** For owned ipvlan l3/l3s endpoints: the subnets of their addresses, via the host's address on the parent. */
function upstreamFromKernel(state: ObservedState): { subnet: string; via: string | null; parent: string }[] {
  const seen = new Map<string, { subnet: string; via: string | null; parent: string }>();
  for (const l of state.links) {
    if (l.kind !== 'ipvlan' || (l.mode !== 'l3' && l.mode !== 'l3s') || !ownerOf(l) || !l.parent) continue;
    for (const a of state.addresses.filter((x) => x.netns === l.netns && x.link === l.name)) {
      const subnet = networkOf(a.address, a.prefixLength);
      seen.set(subnet, { subnet, via: hostAddressOn(state.addresses, l.parent, a.family), parent: l.parent });
    }
  }
  return [...seen.values()];
}
