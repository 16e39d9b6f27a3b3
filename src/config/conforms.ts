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
const patterns = new Map<string, RegExp>();

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

function isType(value: unknown, type: unknown): boolean {
  switch (type) {
    case 'object': return isObject(value);
    case 'array': return Array.isArray(value);
    case 'string': return typeof value === 'string';
    case 'integer': return Number.isSafeInteger(value);
    case 'number': return typeof value === 'number' && Number.isFinite(value);
    case 'boolean': return typeof value === 'boolean';
    case 'null': return value === null;
    default: return false;
  }
}

export function conforms(schema: unknown, value: unknown): boolean {
  if (!isObject(schema)) return false;
  for (const keyword of Object.keys(schema)) if (!KNOWN.has(keyword)) return false;
  const s = schema;
  if ('type' in s && !isType(value, s.type)) return false;
  if ('const' in s && value !== s.const) return false;
  if ('enum' in s && !(Array.isArray(s.enum) && s.enum.includes(value))) return false;
  if (typeof value === 'number') {
    if ('minimum' in s && !(typeof s.minimum === 'number' && value >= s.minimum)) return false;
    if ('maximum' in s && !(typeof s.maximum === 'number' && value <= s.maximum)) return false;
  }
  if (typeof value === 'string' && 'pattern' in s) {
    if (typeof s.pattern !== 'string') return false;
    let re = patterns.get(s.pattern);
    if (!re) patterns.set(s.pattern, (re = new RegExp(s.pattern)));
    if (!re.test(value)) return false;
  }
  if ('anyOf' in s && !(Array.isArray(s.anyOf) && s.anyOf.some((sub) => conforms(sub, value)))) return false;
  if (Array.isArray(value) && 'items' in s && !value.every((item) => conforms(s.items, item))) return false;
  if (isObject(value)) return objectConforms(s, value);
  return true;
}

function objectConforms(s: JsonSchema, value: Record<string, unknown>): boolean {
  const properties = (s.properties ?? {}) as Record<string, unknown>;
  if (!isObject(properties)) return false;
  if ('required' in s && !(Array.isArray(s.required) && s.required.every((k) => typeof k === 'string' && Object.hasOwn(value, k)))) return false;
  for (const key of Object.keys(value)) {
    if ('propertyNames' in s && !conforms(s.propertyNames, key)) return false;
    if (Object.hasOwn(properties, key)) {
      if (!conforms(properties[key], value[key])) return false;
    } else if ('additionalProperties' in s) {
      if (s.additionalProperties === false) return false;
      if (s.additionalProperties !== true && !conforms(s.additionalProperties, value[key])) return false;
    }
  }
  return true;
}
