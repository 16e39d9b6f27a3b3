// Reading /etc/vlannet.yaml: YAML syntax errors, schema issues and cross-field rules are all
// reported at once, each at the line and column of the offending node. The config is null when
// there is any error; warnings alone leave it usable. A file with `hosts:` entries (hosts.ts) is
// resolved for one host, or checked for every host it names: the rules run on each host's objects,
// found where they are written (`hosts.web-1.endpoints.web1`) through a moved Locator.

import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import type { Config, Diagnostic } from '../model/types.js';
import { duplicateKeys } from './duplicates.js';
import {
  applies,
  crossHostRules,
  type HostCheck,
  type HostEntry,
  type HostIdentity,
  type HostMatch,
  hostChecks,
  identityText,
  perHost,
  rangeOverride,
  type Section,
  SECTIONS,
} from './hosts.js';
import { Locator, pathText, type YamlPath } from './locate.js';
import { normalise, type Input } from './normalise.js';
import { runRules } from './rules.js';
import { ConfigInput, type HostMatchInput, show } from './schema.js';
import { unreadable } from './unreadable.js';

export interface LoadResult {
  config: Config | null;
  diagnostics: Diagnostic[];
  /** Only for a file with entries under `hosts:`: how it was resolved (see HostResolution). */
  hosts?: HostResolution;
}

/**
 * How a file with `hosts:` entries was read. With an identity, the config is that host's: the shared
 * sections and every entry that applies. Without, every host configuration the file names was
 * checked (hostChecks), and the config is the shared part alone, which a host no entry applies to
 * gets.
 */
export interface HostResolution {
  /** The host the file was resolved for; null when every host was checked. */
  identity: HostIdentity | null;
  /** With an identity, the keys of the entries that apply to it, in file order; else []. */
  applied: string[];
  /** The host configurations checked, with each one's config (null when it has errors). */
  checks: Array<{ kind: HostCheck['kind']; name: string; entries: string[]; config: Config | null }>;
}

/**
 * The config of `text`. With `identity`, a file with `hosts:` entries is resolved for that host
 * (diagnostics for that host only); without, such a file is checked for every host it names, and
 * each diagnostic that does not concern all of them says which. A file without entries under
 * `hosts:` reads the same either way.
 */
export function loadConfig(text: string, file: string, identity: HostIdentity | null = null): LoadResult {
  const cut = truncation(text, file);
  if (cut) return finish(null, [cut]);
  const lines = new LineCounter();
  // yaml's own duplicate-key check is quadratic in the size of a map; duplicateKeys is linear.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const loc = new Locator(doc, lines, file);
  const diagnostics: Diagnostic[] = [];
  const report = reporter(loc, (d) => diagnostics.push(d));

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
  const hosts = isRecord(js) && isRecord(js.hosts) && Object.keys(js.hosts).length > 0 ? js.hosts : null;
  if (!hosts) {
    for (const issue of issues) schemaIssue(issue, js, report);
    const input = partialInput(js, issues);
    const record = (js as Record<string, unknown>).networks;
    const config = check(input, new Set(isRecord(record) ? Object.keys(record) : []), loc, report);
    return finish(config, diagnostics);
  }
  const fleet = readFleet(js as Record<string, unknown>, hosts, issues, loc);
  return identity === null ? everyHost(fleet, issues, js, loc, diagnostics) : oneHost(fleet, identity, issues, js, loc, diagnostics);
}

type Report = (severity: Diagnostic['severity'], path: YamlPath, message: string, key?: boolean) => void;

/** A report function: diagnostics at `loc`'s places (moved, for objects of a host entry), into `sink`. */
function reporter(loc: Locator, sink: (d: Diagnostic) => void): Report {
  return (severity, path, message, key = false) => sink({ severity, at: loc.at(path, key), path: loc.path(path), message });
}

/** Normalise the objects that passed the schema and run every rule over them. */
function check(input: Input, writtenNetworks: ReadonlySet<string>, loc: Locator, report: Report): Config {
  const config = normalise(input, loc);
  runRules({
    input,
    config,
    writtenNetworks,
    error: (path, message, key) => report('error', path, message, key),
    warn: (path, message, key) => report('warning', path, message, key),
  });
  return config;
}

// --- hosts: ---------------------------------------------------------------------------------------

interface Fleet {
  shared: Input;
  sharedNetworks: string[];
  entries: HostEntry[];
  /** Names written twice across the file: errors at the later one. */
  duplicates: Array<{ path: YamlPath; message: string }>;
}

const SECTION_WORD: Record<Section, string> = { vlans: 'vlan', networks: 'network', endpoints: 'endpoint' };

/** The shared sections and each entry, as far as they passed the schema, with names repeated across the file left out. */
function readFleet(js: Record<string, unknown>, hosts: Record<string, unknown>, issues: readonly z.core.$ZodIssue[], loc: Locator): Fleet {
  const failed = new Set(issues.map((i) => i.path.map(String).join('\0')));
  const failedUnder = (...path: string[]) => {
    const prefix = path.join('\0');
    for (const f of failed) if (f === prefix || f.startsWith(`${prefix}\0`)) return true;
    return false;
  };
  const shared = partialInput(js, issues);
  const sharedNetworks = isRecord(js.networks) ? Object.keys(js.networks) : [];
  const first = new Map<string, { path: YamlPath; where: string }>();
  for (const section of SECTIONS) {
    const written = js[section];
    if (isRecord(written))
      for (const name of Object.keys(written)) first.set(`${section}\0${name}`, { path: [section, name], where: `the shared ${section}` });
  }
  const duplicates: Fleet['duplicates'] = [];
  const entries: HostEntry[] = [];
  for (const [key, value] of Object.entries(hosts)) {
    if (!isRecord(value)) continue; // the schema's error says what it should be
    const entry: HostEntry = { key, match: null, input: { vlans: {}, networks: {}, endpoints: {} }, writtenNetworks: [], ranges: [] };
    if (value.match !== undefined) entry.match = failedUnder('hosts', key, 'match') ? 'invalid' : matchOf(value.match as HostMatchInput);
    for (const section of SECTIONS) {
      const objects = value[section];
      if (!isRecord(objects)) continue;
      if (section === 'networks') entry.writtenNetworks = Object.keys(objects);
      for (const name of Object.keys(objects)) {
        const path = ['hosts', key, section, name];
        const before = first.get(`${section}\0${name}`);
        if (before) {
          duplicates.push({
            path,
            message: `${SECTION_WORD[section]} ${show(name)} is already defined in ${before.where} (${loc.at(before.path, true)}): names of vlans, networks and endpoints are unique across the whole file, shared sections and host entries alike`,
          });
          continue;
        }
        first.set(`${section}\0${name}`, { path, where: `host entry ${key}` });
        if (!failedUnder(...path)) (entry.input[section] as Record<string, unknown>)[name] = objects[name];
      }
    }
    if (isRecord(value.ip_ranges)) {
      for (const [network, cidrs] of Object.entries(value.ip_ranges)) {
        if (failedUnder('hosts', key, 'ip_ranges', network)) continue;
        const path = ['hosts', key, 'ip_ranges', network];
        if (!Array.isArray(cidrs)) entry.ranges.push({ network, cidr: String(cidrs), path });
        else for (const [i, cidr] of cidrs.entries()) entry.ranges.push({ network, cidr: String(cidr), path: [...path, i] });
      }
    }
    entries.push(entry);
  }
  return { shared, sharedNetworks, entries, duplicates };
}

function matchOf(m: HostMatchInput): HostMatch {
  const list = (x: string | string[] | undefined) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
  return { hostnames: list(m.hostname), machineIds: list(m.machine_id).map((id) => id.toLowerCase()), labels: { ...(m.labels ?? {}) } };
}

/**
 * The config of one host: the shared sections and `entries`, each object found where it is written,
 * with the entries' ip_ranges in place of the ranges of the subnets they replace.
 */
function checkHost(
  fleet: Fleet,
  entries: readonly HostEntry[],
  loc: Locator,
  sink: (d: Diagnostic) => void,
): { config: Config; input: Input; real: (path: YamlPath) => YamlPath } {
  const report = reporter(loc, sink);
  const input: Input = {
    vlans: { ...fleet.shared.vlans },
    networks: { ...fleet.shared.networks },
    endpoints: { ...fleet.shared.endpoints },
  };
  const origin = new Map<string, string>();
  const written = new Set(fleet.sharedNetworks);
  for (const entry of entries) {
    for (const section of SECTIONS) {
      for (const [name, value] of Object.entries(entry.input[section])) {
        (input[section] as Record<string, unknown>)[name] = value;
        origin.set(`${section}\0${name}`, entry.key);
      }
    }
    for (const name of entry.writtenNetworks) written.add(name);
  }
  const ranges = new Map<string, { text: string; path: YamlPath; entry: string }>(); // network, subnet index → range
  for (const entry of entries) {
    for (const r of entry.ranges) {
      const n = input.networks[r.network];
      if (!n) {
        const known = Object.keys(input.networks).sort();
        report(
          'error',
          r.path,
          `ip_ranges names network ${show(r.network)}, which this host does not have; its networks: ${known.length ? known.join(', ') : 'none'}`,
          r.path.length === 4,
        );
        continue;
      }
      const o = rangeOverride(r.network, n, r.cidr);
      if ('error' in o) {
        report('error', r.path, o.error);
        continue;
      }
      const before = ranges.get(`${r.network}\0${o.index}`);
      if (before) {
        report(
          'error',
          r.path,
          `range ${o.range.text} for the IPv${o.range.family} subnet of network ${show(r.network)} on this host, which already has ${before.text} from ${before.entry === entry.key ? 'this entry' : `host entry ${before.entry}`} (${loc.at(before.path)}): give one`,
        );
        continue;
      }
      ranges.set(`${r.network}\0${o.index}`, { text: o.range.text, path: r.path, entry: entry.key });
    }
  }
  for (const [key, r] of ranges) {
    const [network, index] = key.split('\0') as [string, string];
    const n = input.networks[network]!;
    input.networks[network] = { ...n, subnets: n.subnets!.map((s, i) => (i === Number(index) ? { ...s, ip_range: r.text } : s)) };
  }
  const moved = origin.size
    ? loc.moved((path) => {
        const entry = path.length >= 2 ? origin.get(`${path[0]}\0${path[1]}`) : undefined;
        return entry === undefined ? path : ['hosts', entry, ...path];
      })
    : loc;
  return { config: check(input, written, moved, reporter(moved, sink)), input, real: (path) => moved.real(path) };
}

/** The objects of `hosts.KEY.SECTION` (and ip_ranges): what concerns only the hosts the entry applies to. */
const ENTRY_PARTS = new Set<string>([...SECTIONS, 'ip_ranges']);

/** The file resolved for one host: its diagnostics only (what the entries that do not apply to it hold is theirs). */
function oneHost(
  fleet: Fleet,
  identity: HostIdentity,
  issues: readonly z.core.$ZodIssue[],
  js: unknown,
  loc: Locator,
  diagnostics: Diagnostic[],
): LoadResult {
  const applying = fleet.entries.filter((e) => applies(e, identity));
  const others = new Set(fleet.entries.filter((e) => !applying.includes(e)).map((e) => e.key));
  const mine = (path: ReadonlyArray<PropertyKey>) =>
    !(path[0] === 'hosts' && path.length >= 3 && others.has(String(path[1])) && ENTRY_PARTS.has(String(path[2])));
  const report = reporter(loc, (d) => diagnostics.push(d));
  for (const issue of issues) if (mine(issue.path)) schemaIssue(issue, js, report);
  for (const d of fleet.duplicates) if (mine(d.path)) report('error', d.path, d.message, true);
  // Refused, not a warning: the shared part alone would remove whatever an entry made on this host
  // before (a renamed host, a mistyped --host, a daemon started without its --label).
  if (applying.length === 0)
    report(
      'error',
      ['hosts'],
      `no entry of hosts applies to this host (${identityText(identity)}): the shared part alone is not applied, since that would remove what an entry made here before (a renamed host, a mistyped --host or --label). Give the host an entry (${JSON.stringify(identity.name)}: {} for the shared part alone)`,
      true,
    );
  const result = finish(checkHost(fleet, applying, loc, (d) => diagnostics.push(d)).config, diagnostics);
  const entries = applying.map((e) => e.key);
  return {
    ...result,
    hosts: { identity, applied: entries, checks: [{ kind: 'host', name: identity.name, entries, config: result.config }] },
  };
}

/**
 * The file checked for every host it names, each group that can apply to hosts it does not name, and
 * a host no entry applies to (hostChecks); then what hosts sharing a wire must not both do. The
 * config is the shared part alone.
 */
function everyHost(fleet: Fleet, issues: readonly z.core.$ZodIssue[], js: unknown, loc: Locator, diagnostics: Diagnostic[]): LoadResult {
  const report = reporter(loc, (d) => diagnostics.push(d));
  for (const issue of issues) schemaIssue(issue, js, report);
  for (const d of fleet.duplicates) report('error', d.path, d.message, true);
  const results = hostChecks(fleet.entries).map((check) => {
    const found: Diagnostic[] = [];
    const { config, input, real } = checkHost(fleet, check.entries, loc, (d) => found.push(d));
    return { check, diagnostics: found, config, input, real };
  });
  diagnostics.push(...perHost(results));
  crossHostRules({
    shared: fleet.shared,
    hosts: results,
    at: (path, key) => loc.at(path, key),
    error: (path, message, key) => report('error', path, message, key),
    warn: (path, message, key) => report('warning', path, message, key),
  });
  const result = finish(results.find((r) => r.check.kind === 'shared')!.config, diagnostics);
  const checks = results.map(({ check, config }) => ({
    kind: check.kind,
    name: check.name,
    entries: check.entries.map((e) => e.key),
    config: result.config === null ? null : config,
  }));
  return { ...result, hosts: { identity: null, applied: [], checks } };
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

/** Read and load a config file (for `identity`, as loadConfig); a file that cannot be read is a diagnostic naming the path and errno. */
export function readConfig(path: string, identity: HostIdentity | null = null): LoadResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return {
      config: null,
      diagnostics: [{ severity: 'error', at: path, path: '', message: `cannot read ${path}: ${unreadable(e as NodeJS.ErrnoException)}` }],
    };
  }
  return loadConfig(text, path, identity);
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
