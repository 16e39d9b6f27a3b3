// Whether a value read from YAML passes the committed JSON Schema (schemas/vlannet.schema.json,
// generated from the zod schema and kept fresh by test/unit/schema.test.ts). A yes lets loadConfig
// skip zod, which would say yes too; a no, or any keyword this check does not know, sends the file
// to zod for its own answer and messages. So it may say no too often, never yes too often: it is
// at least as strict as zod on every keyword it handles (integers must be safe, numbers finite).

import { readFileSync } from 'node:fs';
import { schemaPath } from './schema-gen.js';

type JsonSchema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', 'title', 'description']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  'type', 'properties', 'required', 'additionalProperties', 'propertyNames', 'items', 'anyOf', 'enum', 'const', 'minimum', 'maximum', 'pattern',
]);

let committed: JsonSchema | null | undefined;

/** The committed JSON Schema, read once; null when it cannot be read (then zod always decides). */
export function committedSchema(): JsonSchema | null {
  if (committed === undefined) {
    try {
      committed = JSON.parse(readFileSync(schemaPath(), 'utf8')) as JsonSchema;
    } catch {
      committed = null;
    }
  }
  return committed;
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

type Check = (value: unknown) => boolean;

const TYPES: Record<string, Check> = {
  object: isObject,
  array: Array.isArray,
  string: (v) => typeof v === 'string',
  integer: (v) => Number.isSafeInteger(v),
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  boolean: (v) => typeof v === 'boolean',
  null: (v) => v === null,
};

class Unknown extends Error {}

const compiled = new WeakMap<object, Check | null>();

/** Whether `value` passes `schema`; false also when the schema uses a keyword not handled here. */
export function conforms(schema: unknown, value: unknown): boolean {
  if (!isObject(schema)) return false;
  let check = compiled.get(schema);
  if (check === undefined) {
    try {
      check = compile(schema);
    } catch (e) {
      if (!(e instanceof Unknown)) throw e;
      check = null;
    }
    compiled.set(schema, check);
  }
  return check !== null && check(value);
}

/** One function per schema node, built once: the walk over 1000 entries then does no lookups of keywords. */
function compile(s: unknown): Check {
  if (!isObject(s)) throw new Unknown();
  for (const keyword of Object.keys(s)) if (!KNOWN.has(keyword)) throw new Unknown();
  const checks: Check[] = [];
  if ('type' in s) {
    const type = TYPES[String(s.type)];
    if (typeof s.type !== 'string' || !type) throw new Unknown();
    checks.push(type);
  }
  if ('const' in s) checks.push((v) => v === s.const);
  if ('enum' in s) {
    if (!Array.isArray(s.enum)) throw new Unknown();
    const allowed = new Set(s.enum);
    checks.push((v) => allowed.has(v));
  }
  for (const [keyword, holds] of [['minimum', (v: number, m: number) => v >= m], ['maximum', (v: number, m: number) => v <= m]] as const) {
    if (!(keyword in s)) continue;
    const bound = s[keyword];
    if (typeof bound !== 'number') throw new Unknown();
    checks.push((v) => typeof v !== 'number' || holds(v, bound));
  }
  if ('pattern' in s) {
    if (typeof s.pattern !== 'string') throw new Unknown();
    const re = new RegExp(s.pattern);
    checks.push((v) => typeof v !== 'string' || re.test(v));
  }
  if ('anyOf' in s) {
    if (!Array.isArray(s.anyOf)) throw new Unknown();
    const options = s.anyOf.map(compile);
    checks.push((v) => options.some((option) => option(v)));
  }
  if ('items' in s) {
    const item = compile(s.items);
    checks.push((v) => !Array.isArray(v) || v.every(item));
  }
  const objectKeywords = ['properties', 'required', 'additionalProperties', 'propertyNames'].filter((k) => k in s);
  if (objectKeywords.length > 0) checks.push(compileObject(s));
  return (v) => {
    for (const check of checks) if (!check(v)) return false;
    return true;
  };
}

function compileObject(s: Record<string, unknown>): Check {
  if (s.properties !== undefined && !isObject(s.properties)) throw new Unknown();
  const properties = new Map(Object.entries(s.properties ?? {}).map(([k, sub]) => [k, compile(sub)]));
  if (s.required !== undefined && !(Array.isArray(s.required) && s.required.every((k) => typeof k === 'string'))) throw new Unknown();
  const required = (s.required ?? []) as string[];
  const extra = s.additionalProperties === undefined || s.additionalProperties === true ? () => true : s.additionalProperties === false ? () => false : compile(s.additionalProperties);
  const names = s.propertyNames === undefined ? null : compile(s.propertyNames);
  return (v) => {
    if (!isObject(v)) return true;
    for (const k of required) if (!Object.hasOwn(v, k)) return false;
    for (const key in v) {
      if (!Object.hasOwn(v, key)) continue;
      if (names && !names(key)) return false;
      const property = properties.get(key);
      if (!(property ?? extra)(v[key])) return false;
    }
    return true;
  };
}
