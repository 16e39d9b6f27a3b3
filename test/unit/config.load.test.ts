// Reading files: empty, half-written and unreadable files are errors, never "own nothing".

import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDocument } from 'yaml';
import { duplicateKeys } from '../../src/config/duplicates.js';
import { loadConfig, readConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'vlannet-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const FULL =
  'version: 1\nnetworks:\n  n1:\n    driver: macvlan\n    parent: eth0\n    subnets:\n      - subnet: 10.0.0.0/24\nendpoints:\n  e1:\n    network: n1\n';

test('empty, whitespace-only and comment-only files are errors', () => {
  for (const text of ['', '   \n\n\t\n', '# nothing yet\n']) {
    const { config, diagnostics } = loadConfig(text, 'e.yaml');
    assert.is(config, null, JSON.stringify(text));
    assert.is(diagnostics.length, 1);
    assert.is(diagnostics[0]!.at, 'e.yaml:1:1');
    assert.match(diagnostics[0]!.message, 'the file is empty');
  }
});

test('a file truncated before or inside `version: 1` is an error, as is one cut mid-key', () => {
  // version comes first in a file vlannet writes, so a prefix without it never loads as "own nothing"
  for (let cut = 0; cut < 'version: 1'.length; cut++) {
    assert.is(loadConfig(FULL.slice(0, cut), 't.yaml').config, null, `prefix of ${cut} bytes`);
  }
  assert.match(loadConfig('versi', 't.yaml').diagnostics[0]!.message, 'ends in the middle of a line');
  const cutInVersion = loadConfig('versi\n', 't.yaml');
  assert.match(cutInVersion.diagnostics[0]!.message, 'expected a map with version');
  for (const text of ['version: 1\nnetworks:\n  n1:\n    dri', 'version: 1\nnetworks:\n  n1:\n', 'version: 1\nendpoints:\n  e1: { netw']) {
    assert.is(loadConfig(text, 't.yaml').config, null, JSON.stringify(text));
  }
});

test('a top level that is not a map', () => {
  const { config, diagnostics } = loadConfig('- version: 1\n', 'l.yaml');
  assert.is(config, null);
  assert.equal(
    diagnostics.map((d) => [d.at, d.message]),
    [['l.yaml:1:1', 'expected a map with version, vlans, networks and endpoints at the top, got a list']],
  );
});

test('readConfig: a missing file is a diagnostic naming the path and errno', () => {
  const path = join(dir, 'missing.yaml');
  const { config, diagnostics } = readConfig(path);
  assert.is(config, null);
  assert.equal(diagnostics, [{ severity: 'error', at: path, path: '', message: `cannot read ${path}: no such file (ENOENT)` }]);
});

test('readConfig: a directory is EISDIR, an unreadable file EACCES (unless root)', () => {
  assert.match(readConfig(dir).diagnostics[0]!.message, 'EISDIR');
  const path = join(dir, 'secret.yaml');
  writeFileSync(path, FULL);
  chmodSync(path, 0o000);
  const r = readConfig(path);
  if (process.getuid?.() === 0) assert.ok(r.config, 'root reads anyway');
  else assert.match(r.diagnostics[0]!.message, 'EACCES');
});

test('readConfig: positions name the file', () => {
  const path = join(dir, 'bad.yaml');
  writeFileSync(path, 'version: 1\nendpoints:\n  e1: { network: nope }\n');
  const { config, diagnostics } = readConfig(path);
  assert.is(config, null);
  assert.equal(
    diagnostics.map((d) => d.at),
    [`${path}:3:18`],
  );
});

test('an entry the schema rejects is left to the schema alone; the entries beside it still go through the rules', () => {
  const text = 'version: 1\nendpoints:\n  e1: { network: nope, mac: 5 }\n  e2: { network: nope }\n';
  const { config, diagnostics } = loadConfig(text, 's.yaml');
  assert.is(config, null);
  assert.equal(
    diagnostics.map((d) => [d.at, d.path]),
    [
      ['s.yaml:3:29', 'endpoints.e1.mac'],
      ['s.yaml:4:18', 'endpoints.e2.network'],
    ],
  );
  assert.match(diagnostics[0]!.message, 'expected a MAC address (a string), got 5');
  assert.match(diagnostics[1]!.message, 'network "nope" is not defined');
});

test('a duplicate key: where it is, its path, and where the first one is', () => {
  const text =
    'version: 1\nnetworks: { n1: { driver: macvlan, parent: eth0 } }\nendpoints:\n  e1: { network: n1 }\n  e2: { network: n1 }\n  e1: { network: n1, netns: x, netns: y }\n';
  const { config, diagnostics } = loadConfig(text, 'd.yaml');
  assert.is(config, null);
  assert.equal(
    diagnostics.map((d) => [d.at, d.path, d.message]),
    [
      ['d.yaml:6:3', 'endpoints.e1', 'duplicate key "e1" (already at line 4, column 3): the keys of a map must be unique'],
      ['d.yaml:6:32', 'endpoints.e1.netns', 'duplicate key "netns" (already at line 6, column 22): the keys of a map must be unique'],
    ],
  );
});

test('duplicate keys are found where the yaml package finds them, in block and flow maps, at any depth', () => {
  const docs = [
    'a: 1\nb: 2\na: 3\na: 4\n',
    'x:\n  - { k: 1, k: 2 }\n  - k: 1\n    j: 2\n    k: 3\n',
    '1: a\n"1": b\n1.0: c\ntrue: d\n"true": e\n~: f\nnull: g\n',
    '&a k: 1\n!!str k: 2\n? k\n: 3\n',
    '? [a, b]\n: 1\n? [a, b]\n: 2\n? { m: 1, m: 2 }\n: 3\n',
    'top:\n  deep:\n    deeper: [ { z: 1 }, { z: 1, y: 2, z: 3 } ]\n    deeper: no\n',
    'fine: 1\nalso: { fine: 2 }\n',
  ];
  for (const text of docs) {
    const reference = parseDocument(text)
      .errors.filter((e) => e.code === 'DUPLICATE_KEY')
      .map((e) => e.pos[0]);
    const ours = duplicateKeys(parseDocument(text, { uniqueKeys: false })).map((d) => d.key.range![0]);
    assert.equal(ours, reference, JSON.stringify(text));
  }
  assert.ok(duplicateKeys(parseDocument(docs[0]!, { uniqueKeys: false })).length === 2, 'the reference itself finds duplicates');
  const paths = duplicateKeys(parseDocument(docs[5]!, { uniqueKeys: false })).map((d) => d.path);
  assert.equal(paths, [
    ['top', 'deep', 'deeper', 1, 'z'],
    ['top', 'deep', 'deeper'],
  ]);
});

test.run();
