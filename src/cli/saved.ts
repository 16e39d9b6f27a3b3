// Saved plans: `plan --out PLANFILE` writes one, `apply PLANFILE` executes it exactly when the
// config file and the kernel are still as it was computed from, `plan PLANFILE` shows it (and with
// --check says whether it still holds). What the fingerprint covers, and why, is in
// src/plan/saved.ts.
//
// The file is the document `plan --json` prints, with a `saved` block:
//   config_file           the config file, absolute; apply reads it again
//   config_hash           sha256 of its bytes, as the daemon's revision (readConfigSource)
//   observed_fingerprint  sha256 of the fingerprinted part of the observed state
//   created_at, vlannet_version
//   scope, observed       what the fingerprint covers and its content, to say what changed
//   actions, warnings     the plan exactly as the executor runs it (`changes` says the same ops
//                         for people and programs; the two must agree)
//   host                  the host the config was resolved for (name, machine_id, labels as
//                         KEY=VALUE): `apply PLANFILE` resolves the file's `hosts:` for it again
//
// Saved plans are always computed in this process (as with --local), never by a daemon: the
// fingerprint must be of the very state the plan was computed from. `apply PLANFILE` is refused
// while a daemon runs: it enforces its own file and would undo or race this apply.

import fs from 'node:fs';
import path from 'node:path';
import { contentHash, readConfigSource, shortHash } from '../daemon/config-source.js';
import { StalePlanError, UsageError } from '../errors.js';
import type { Action, Config, Diagnostic, ObservedState, Plan } from '../model/types.js';
import {
  canonicalJson,
  describeStaleness,
  fingerprint,
  fingerprintedState,
  type FingerprintedState,
  type FingerprintScope,
} from '../plan/saved.js';
import { camelKeys, type Document, OUTPUT_FORMAT_VERSION } from './output.js';
import { VERSION } from './program.js';
import { unreadable } from '../config/unreadable.js';
import type { HostIdentity } from '../config/hosts.js';
import { hostIdentity, identityOfSaved, type SavedHost, savedHost } from './identity.js';

export interface SavedBlock {
  configFile: string;
  configHash: string;
  observedFingerprint: string;
  createdAt: string;
  vlannetVersion: string;
  scope: FingerprintScope;
  observed: FingerprintedState;
  actions: Action[];
  warnings: Diagnostic[];
  /** The host the config was resolved for (its `hosts:` entries); absent in plans saved before there were any. */
  host?: SavedHost;
}

export interface SavedPlan {
  file: string;
  saved: SavedBlock;
  plan: Plan;
  /** The document as read (snake_case keys). */
  document: Document;
}

/** The `saved` block of a plan computed from `observed` for the config `configText` of `configFile`, resolved for `identity`. */
export function savedBlock(
  configFile: string,
  configText: string,
  plan: Plan,
  observed: ObservedState,
  scope: FingerprintScope,
  identity: HostIdentity = hostIdentity({}),
): SavedBlock {
  const state = fingerprintedState(observed, scope);
  return {
    configFile: path.resolve(configFile),
    configHash: contentHash(configText),
    observedFingerprint: fingerprint(state),
    createdAt: new Date().toISOString(),
    vlannetVersion: VERSION,
    scope,
    observed: state,
    actions: plan.actions,
    warnings: plan.warnings,
    host: savedHost(identity),
  };
}

/** The host a saved plan was computed for: `apply PLANFILE` resolves the config for the same one. */
export function identityOf(plan: SavedPlan): HostIdentity {
  const host = plan.saved.host;
  if (!host || typeof host.name !== 'string' || !Array.isArray(host.labels)) return hostIdentity({});
  return identityOfSaved(host);
}

/** Write the document to `file` whole (a temporary file renamed over it): never half a plan. */
export function writeSavedPlan(file: string, document: Document): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temporary, `${JSON.stringify(document, null, 2)}\n`, { mode: 0o644 });
    fs.renameSync(temporary, file);
  } catch (e) {
    fs.rmSync(temporary, { force: true });
    throw new UsageError(`cannot write the plan to ${file}: ${unreadable(e as NodeJS.ErrnoException)}`);
  }
}

const HOW = 'save one with `vlannet plan -f FILE --out PLANFILE`';

/** Read a saved plan; anything but a plan file vlannet wrote is a usage error that says so. */
export function readSavedPlan(file: string): SavedPlan {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the saved plan ${file}: ${unreadable(e as NodeJS.ErrnoException)}`);
  }
  let document: Document;
  try {
    document = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not a saved plan: not JSON (${e instanceof Error ? e.message : String(e)}); ${HOW}`);
  }
  const raw = document?.saved as Record<string, unknown> | undefined;
  if (
    document?.format_version !== OUTPUT_FORMAT_VERSION ||
    document.command !== 'plan' ||
    !raw ||
    typeof raw !== 'object' ||
    !Array.isArray(document.changes)
  ) {
    throw new UsageError(
      `${file}: not a saved plan (expected the JSON document \`vlannet plan --out\` writes, with "command": "plan" and a "saved" block); ${HOW}`,
    );
  }
  const saved = camelKeys(raw) as SavedBlock;
  const missing = (
    ['configFile', 'configHash', 'observedFingerprint', 'createdAt', 'vlannetVersion', 'scope', 'observed', 'actions', 'warnings'] as const
  ).filter((k) => saved[k] === undefined || saved[k] === null);
  if (missing.length) throw new UsageError(`${file}: not a saved plan: its "saved" block lacks ${missing.join(', ')}; ${HOW}`);
  // `changes` is what people and programs read: it must say the very operations that will run.
  const changes = document.changes as { op?: unknown }[];
  if (
    changes.length !== saved.actions.length ||
    changes.some((c, i) => canonicalJson(camelKeys(c.op)) !== canonicalJson(saved.actions[i]!.op))
  ) {
    throw new UsageError(`${file}: the plan's "changes" and its saved actions disagree (was the file edited?); ${HOW}`);
  }
  const upstreamRoutes = camelKeys(document.upstream_routes ?? []) as Plan['upstreamRoutes'];
  return { file, saved, plan: { actions: saved.actions, warnings: saved.warnings, upstreamRoutes }, document };
}

/** The config file a saved plan names, if it is still the revision the plan was made from: its text. Throws StalePlanError. */
export function currentConfigText(plan: SavedPlan): string {
  const { saved } = plan;
  if (saved.vlannetVersion !== VERSION)
    throw stale(plan, [`${plan.file} was made by vlannet ${saved.vlannetVersion}, and this is vlannet ${VERSION}`]);
  const source = readConfigSource(saved.configFile);
  if (!source.ok) throw stale(plan, [`the config file ${saved.configFile} cannot be read (${source.message})`]);
  if (source.hash !== saved.configHash)
    throw stale(plan, [
      `the config file ${saved.configFile} changed (revision ${shortHash(saved.configHash)} → ${shortHash(source.hash)})`,
    ]);
  return source.text;
}

/** Whether the kernel still holds what the plan was computed from; throws StalePlanError with what changed. */
export function checkObserved(plan: SavedPlan, observed: ObservedState): void {
  const now = fingerprintedState(observed, plan.saved.scope);
  if (fingerprint(now) === plan.saved.observedFingerprint) return;
  throw stale(plan, [
    `the kernel changed since ${plan.file} was saved:`,
    ...describeStaleness(plan.saved.observed, now).map((l) => `  ${l}`),
  ]);
}

function stale(plan: SavedPlan, what: string[]): StalePlanError {
  const [first, ...rest] = what;
  return new StalePlanError(
    [
      `stale plan: ${first}`,
      ...rest,
      `Nothing was changed. Plan again (vlannet plan -f ${plan.saved.configFile} --out ${plan.file}), review it, and apply that.`,
    ].join('\n'),
  );
}

/** Config checked as apply checks it, for `identity`, from the text whose revision was checked (not read again). */
export async function loadText(text: string, file: string, identity: HostIdentity): Promise<{ config: Config; warnings: Diagnostic[] }> {
  const { loadConfig } = await import('../config/load.js');
  const { DiagnosticsError } = await import('../errors.js');
  const { config, diagnostics } = loadConfig(text, file, identity);
  if (!config || diagnostics.some((d) => d.severity === 'error')) throw new DiagnosticsError(diagnostics);
  return { config, warnings: diagnostics.filter((d) => d.severity === 'warning') };
}
