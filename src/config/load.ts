// Reading /etc/vlannet.yaml: YAML syntax errors, schema issues and cross-field rules are all
// reported at once, each at the line and column of the offending node. The config is null when
// there is any error; warnings alone leave it usable.

import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { Config, Diagnostic } from '../model/types.js';
import { duplicateKeys } from './duplicates.js';
import { Locator, pathText, type YamlPath } from './locate.js';
import { normalise, type Input } from './normalise.js';
import { runRules } from './rules.js';
import { ConfigInput, show } from './schema.js';
import { unreadable } from './unreadable.js';

export interface LoadResult {
  config: Config | null;
  diagnostics: Diagnostic[];
}

const SECTIONS = ['vlans', 'networks', 'endpoints'] as const;

export function loadConfig(text: string, file: string): LoadResult {
  const cut = truncation(text, file);
  if (cut) return finish(null, [cut]);
  const lines = new LineCounter();
  // yaml's own duplicate-key check is quadratic in the size of a map; duplicateKeys is linear.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const loc = new Locator(doc, lines, file);
  const diagnostics: Diagnostic[] = [];
  const report = (severity: Diagnostic['severity'], path: YamlPath, message: string, key = false) =>
    diagnostics.push({ severity, at: loc.at(path, key), path: pathText(path), message });

  for (const e of doc.errors) diagnostics.push({ severity: 'error', at: loc.offset(e.pos[0]), path: '', message: yamlMessage(e.message) });
  for (const d of duplicateKeys(doc)) {
    const first = lines.linePos(d.first.range?.[0] ?? 0);
    diagnostics.push({
      severity: 'error',
      at: loc.offset(d.key.range?.[0] ?? 0),
      path: pathText(d.path),
      message: `duplicate key ${show(d.value)} (already at line ${first.line}, column ${first.col}): the keys of a map must be unique`,
    });
  }
  for (const w of doc.warnings)
    diagnostics.push({ severity: 'warning', at: loc.offset(w.pos[0]), path: '', message: yamlMessage(w.message) });

  let js: unknown = null;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    diagnostics.push({ severity: 'error', at: `${file}:1:1`, path: '', message: (e as Error).message });
  }
  if (js === null || js === undefined) {
    diagnostics.push({
      severity: 'error',
      at: `${file}:1:1`,
      path: '',
      message:
        'the file is empty (or holds only comments): it must say at least `version: 1`, so that an empty or half-written file is never read as "own nothing"',
    });
    return finish(null, diagnostics);
  }

  const issues = ConfigInput.safeParse(js).error?.issues ?? [];
  for (const issue of issues) schemaIssue(issue, js, report);

  const input = partialInput(js, issues);
  const config = normalise(input, loc);
  const record = (js as Record<string, unknown>).networks;
  runRules({
    input,
    config,
    writtenNetworks: new Set(isRecord(record) ? Object.keys(record) : []),
    error: (path, message, key) => report('error', path, message, key),
    warn: (path, message, key) => report('warning', path, message, key),
  });
  return finish(config, diagnostics);
}

/**
 * The one rule for a complete file, the same for validate, plan, apply and the daemon: a file
 * that stops mid-line is taken as truncated or half written, however old: a writer that died half
 * way (or a full disk) must not turn into "delete the rest". Editors, git and YAML emitters all
 * end files with a newline. (A cut exactly at a line end cannot be told from an edit: the
 * `version: 1` rule, the daemon's wait for a file written in place to be still, and its guard
 * against a file that moves while it is read are what is left for that.)
 */
function truncation(text: string, file: string): Diagnostic | null {
  if (text.length === 0 || text.endsWith('\n')) return null;
  const lines = text.split('\n');
  const last = lines[lines.length - 1]!;
  return {
    severity: 'error',
    at: `${file}:${lines.length}:${last.length + 1}`,
    path: '',
    message: 'the file ends in the middle of a line: it looks truncated or half written, so it is not used (end the file with a newline)',
  };
}

/** Read and load a config file; a file that cannot be read is a diagnostic naming the path and errno. */
export function readConfig(path: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return {
      config: null,
      diagnostics: [{ severity: 'error', at: path, path: '', message: `cannot read ${path}: ${unreadable(e as NodeJS.ErrnoException)}` }],
    };
  }
  return loadConfig(text, path);
}

function finish(config: Config | null, diagnostics: Diagnostic[]): LoadResult {
  const sorted = diagnostics
    .map((d, i) => ({ d, i, pos: position(d.at) }))
    .sort((a, b) => a.pos[0] - b.pos[0] || a.pos[1] - b.pos[1] || a.i - b.i)
    .map(({ d }) => d);
  return { config: sorted.some((d) => d.severity === 'error') ? null : config, diagnostics: sorted };
}

function position(at: string): [number, number] {
  const m = /:(\d+):(\d+)$/.exec(at);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** yaml's message without its own "at line L, column C" (the diagnostic says where). */
function yamlMessage(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * The entries of each section that pass the schema, so rules can run on them: those the one parse
 * of the whole file raised no issue under. The schema has no defaults or transforms, so an entry
 * that passes is its own parsed value.
 */
function partialInput(js: unknown, issues: readonly z.core.$ZodIssue[]): Input {
  const input: Input = { vlans: {}, networks: {}, endpoints: {} };
  if (!isRecord(js)) return input;
  const failed = new Set<string>();
  for (const { path } of issues) if (path.length >= 2) failed.add(`${String(path[0])}\0${String(path[1])}`);
  for (const section of SECTIONS) {
    const entries = js[section];
    if (!isRecord(entries)) continue;
    const into = input[section] as Record<string, unknown>;
    for (const name of Object.keys(entries)) if (!failed.has(`${section}\0${name}`)) into[name] = entries[name];
  }
  return input;
}

type Report = (severity: Diagnostic['severity'], path: YamlPath, message: string, key?: boolean) => void;

function schemaIssue(issue: z.core.$ZodIssue, js: unknown, report: Report): void {
  const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeys(path);
    for (const key of issue.keys) {
      report(
        'error',
        [...path, key],
        `unknown key ${JSON.stringify(key)}${allowed.length ? `; allowed here: ${allowed.join(', ')}` : ''}`,
        true,
      );
    }
    return;
  }
  const value = valueAt(js, path);
  const last = path[path.length - 1];
  if (value === undefined && path.length > 0 && typeof last === 'string') {
    const why = last === 'version' ? ' (it must be present, so that an empty or truncated file is never read as "own nothing")' : '';
    report('error', path, `${last} is required${why}`);
    return;
  }
  if (issue.code === 'invalid_type' && path.length === 0) {
    report('error', path, `expected a map with version, vlans, networks and endpoints at the top, got ${show(value)}`);
    return;
  }
  report('error', path, issue.message);
}

function valueAt(js: unknown, path: YamlPath): unknown {
  let v = js;
  for (const seg of path) v = isRecord(v) || Array.isArray(v) ? (v as Record<string | number, unknown>)[seg] : undefined;
  return v;
}

/** Keys the schema allows at an object path (walking records and lists by their element). */
function allowedKeys(path: YamlPath): string[] {
  let schema: z.core.$ZodType = ConfigInput;
  const unwrap = () => {
    for (;;) {
      const def = schema._zod.def as { type: string; innerType?: z.core.$ZodType };
      if ((def.type === 'optional' || def.type === 'nullable') && def.innerType) schema = def.innerType;
      else
        return def as unknown as {
          type: string;
          shape?: Record<string, z.core.$ZodType>;
          valueType?: z.core.$ZodType;
          element?: z.core.$ZodType;
        };
    }
  };
  for (const seg of path) {
    const def = unwrap();
    const next =
      def.type === 'object'
        ? def.shape?.[String(seg)]
        : def.type === 'record'
          ? def.valueType
          : def.type === 'array'
            ? def.element
            : undefined;
    if (!next) return [];
    schema = next;
  }
  const def = unwrap();
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}
