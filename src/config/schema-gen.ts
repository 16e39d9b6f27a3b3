// Writes schemas/vlannet.schema.json from the zod schema (z.toJSONSchema), for editors and
// validators. `node dist/src/config/schema-gen.js` rewrites the file; test/unit/schema.test.ts
// fails when the committed file is stale.

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJSONSchema } from 'zod/mini';
import { ConfigInput } from './schema.js';

/** The JSON Schema text of vlannet.yaml, as committed (two-space indent, final newline). */
export function jsonSchemaText(): string {
  const schema = toJSONSchema(ConfigInput, { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify({ ...schema, title: 'vlannet.yaml' }, null, 2)}\n`;
}

/** The repository root, from dist/src/config or src/config. */
export function schemaPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
  return join(root, 'schemas', 'vlannet.schema.json');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(schemaPath(), jsonSchemaText());
  console.log(`wrote ${schemaPath()}`);
}
