// The committed JSON Schema is what the zod schema generates: regenerate it with
// `npm run build && node dist/src/config/schema-gen.js` when this fails.

import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { jsonSchemaText, schemaPath } from '../../src/config/schema-gen.js';

test('schemas/vlannet.schema.json is up to date', () => {
  const committed = readFileSync(schemaPath(), 'utf8');
  assert.ok(committed === jsonSchemaText(), 'schemas/vlannet.schema.json is stale: run node dist/src/config/schema-gen.js');
});

test('every key of the schema is described, and the descriptions name defaults', () => {
  const schema = JSON.parse(jsonSchemaText());
  const undescribed: string[] = [];
  interface Node {
    description?: string;
    properties?: Record<string, Node>;
    additionalProperties?: Node | boolean;
    items?: Node;
    anyOf?: Node[];
  }
  const walk = (node: Node | boolean | undefined, path: string) => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (!child.description) undescribed.push(`${path}.${key}`);
      else if (!/Default|Required|must be/.test(child.description)) undescribed.push(`${path}.${key} (no default named)`);
      walk(child, `${path}.${key}`);
    }
    for (const sub of [node.additionalProperties, node.items, ...(node.anyOf ?? [])]) walk(sub, path);
  };
  walk(schema, '');
  assert.equal(undescribed, []);
});

test('the schema is strict and requires version 1', () => {
  const schema = JSON.parse(jsonSchemaText());
  assert.is(schema.additionalProperties, false);
  assert.equal(schema.required, ['version']);
  assert.is(schema.properties.version.const, 1);
});

test.run();
