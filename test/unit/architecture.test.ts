// The rooms of src/ and what each may import (ARCHITECTURE.md). A new import across rooms that
// the table does not allow fails here: the pure core never reaches the kernel, and no two rooms
// import each other.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

/** Room → the rooms it may import (besides itself). Keep in step with ARCHITECTURE.md. */
const MAY_IMPORT: Record<string, string[]> = {
  errors: ['model'],
  model: [],
  config: ['model', 'errors'],
  plan: ['model', 'errors'],
  report: ['plan', 'model', 'errors'],
  apply: ['plan', 'model', 'errors'],
  kernel: ['model', 'errors'],
  control: ['plan', 'model', 'errors'],
  import: ['model', 'config', 'errors'],
  daemon: ['apply', 'config', 'control', 'kernel', 'plan', 'report', 'model', 'errors'],
  cli: ['apply', 'config', 'control', 'daemon', 'import', 'kernel', 'plan', 'report', 'model', 'errors'],
};
/** Packages that only the kernel adapter loads. */
const KERNEL_ONLY = ['koffi', 'netlink'];

const SRC = path.resolve('src');
const roomOf = (file: string) => path.relative(SRC, file).split(path.sep)[0]!.replace(/\.ts$/, '');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module a source file imports: static, type-only and dynamic imports alike. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*)'([^']+)'/g)].map((m) => m[1]!);
}

test('every room of src/ is in the table', () => {
  const rooms = new Set(sources(SRC).map(roomOf));
  assert.equal([...rooms].sort(), Object.keys(MAY_IMPORT).sort());
});

test('each room imports only the rooms it may, and only the kernel adapter loads koffi and netlink', () => {
  const wrong: string[] = [];
  for (const file of sources(SRC)) {
    const room = roomOf(file);
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) {
        const target = roomOf(path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts'));
        if (target !== room && !MAY_IMPORT[room]!.includes(target))
          wrong.push(`${path.relative(SRC, file)} imports ${spec} (${room} → ${target})`);
      } else if (KERNEL_ONLY.includes(spec) && room !== 'kernel') {
        wrong.push(`${path.relative(SRC, file)} imports ${spec}, which only kernel/ may load`);
      }
    }
  }
  assert.equal(wrong, []);
});

test('no two rooms import each other', () => {
  for (const [room, may] of Object.entries(MAY_IMPORT)) {
    for (const other of may) assert.not.ok(MAY_IMPORT[other]?.includes(room), `${room} and ${other} may import each other`);
  }
});

test.run();

test('no bundled module loads a package with import(): the bundle gives a CommonJS package only its default there', () => {
  // esbuild turns `await import('yaml')` into a chunk whose only export is the package's default:
  // `const { parse } = await import('yaml')` works from dist/src and fails from the bundle. A module
  // that needs a package late is itself loaded late, and imports the package statically.
  const BUILD_TIME_ONLY = new Set([path.join(SRC, 'cli', 'manual.ts')]); // not in the bundle: it makes man/
  const offenders = sources(SRC)
    .filter((f) => !BUILD_TIME_ONLY.has(f) && !f.endsWith('.d.ts'))
    .flatMap((f) =>
      // Loads, not types: `typeof import('json-diff')` names a type and loads nothing.
      [...fs.readFileSync(f, 'utf8').matchAll(/(?<!typeof\s*)\bimport\s*\(\s*'([^'.][^']*)'/g)]
        .map((m) => m[1]!)
        .filter((spec) => !spec.startsWith('node:'))
        .map((spec) => `${path.relative(SRC, f)}: import('${spec}')`),
    );
  assert.equal(offenders, []);
});
