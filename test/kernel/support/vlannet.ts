// Driving the real program, `node bin/vlannet.js …`, as an operator would, and reading its --json.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { run, type RunResult } from './sh.js';

/** The repository: this file is dist/test/kernel/support/vlannet.js. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const BIN = path.join(REPO, 'bin', 'vlannet.js');

/** Run vlannet with ARGS; never throws on a non-zero exit. NO_COLOR keeps the text plain. */
export function vlannet(...args: string[]): RunResult {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 300_000 });
}

/** The same, without waiting: for two vlannets at once. `done` resolves with the result and when it ended. */
export function startVlannet(...args: string[]): { pid: number; done: Promise<RunResult & { endedAt: number }> } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
  const done = new Promise<RunResult & { endedAt: number }>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr, endedAt: performance.now() }));
  });
  return { pid: child.pid!, done };
}

export interface ExecutedAction {
  object: string;
  change: 'create' | 'update' | 'delete' | 'replace';
  op: { op: string; [k: string]: unknown };
}

export interface ApplyOutput {
  format_version: number;
  executed: ExecutedAction[];
}

export interface PlanChange {
  object: string;
  change: string;
  reason: string;
  stage: number;
  op: { op: string; [k: string]: unknown };
}

export interface PlanOutput {
  format_version: number;
  changes: PlanChange[];
  summary: { add: number; change: number; replace: number; destroy: number };
  upstream_routes: { network: string; subnet: string; via: string | null; parent: string }[];
}

function describe(args: string[], r: RunResult): string {
  return `vlannet ${args.join(' ')} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

const ajv = new Ajv2020({ strict: true, allErrors: true });
const outputSchema = ajv.compile(JSON.parse(readFileSync(path.join(REPO, 'schemas', 'vlannet-output.schema.json'), 'utf8')));

/** A --json document, checked against the committed output schema (a real validator, ajv). */
export function document<T>(args: string[], r: RunResult): T {
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON: ${describe(args, r)}`);
  }
  if (!outputSchema(doc))
    throw new Error(`not as schemas/vlannet-output.schema.json says (${ajv.errorsText(outputSchema.errors)}): ${describe(args, r)}`);
  return doc as T;
}

/** Run a command that must exit 0 and print JSON; the parsed JSON, checked against the output schema. */
function json<T>(args: string[]): T {
  const r = vlannet(...args);
  if (r.status !== 0) throw new Error(describe(args, r));
  return document<T>(args, r);
}

/** `vlannet apply -f FILE --json`, which must succeed. */
export function apply(file: string): ApplyOutput {
  return json<ApplyOutput>(['apply', '-f', file, '--json']);
}

/** `vlannet plan -f FILE --json`, which must succeed. */
export function plan(file: string): PlanOutput {
  return json<PlanOutput>(['plan', '-f', file, '--json']);
}

/** `vlannet destroy --yes --json`, which must succeed. */
export function destroy(): ApplyOutput {
  return json<ApplyOutput>(['destroy', '--yes', '--json']);
}

/** `vlannet show --json` (what vlannet owns), which must succeed. */
export function show(...filters: string[]): ShowOutput {
  return json<ShowOutput>(['show', ...filters, '--json']);
}

export interface ShowOutput {
  namespaces: { name: string; owned: boolean }[];
  links: { netns: string | null; name: string; kind: string; parent: string | null; alias: string | null }[];
  addresses: { netns: string | null; link: string; address: string; prefix_length: number }[];
  routes: { netns: string | null; dev: string; dst: string }[];
}

/** The object addresses of executed actions or planned changes, sorted, with their change kind. */
export function objects(actions: { object: string; change: string }[]): string[] {
  return [...new Set(actions.map((a) => `${a.change} ${a.object}`))].sort();
}
