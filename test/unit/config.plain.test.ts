// The fast way in (plain-yaml.ts + conforms.ts) must give exactly what `yaml` + zod give: the same
// values, the same line:column for every path, the same config and diagnostics. Checked on the
// examples, on bench-shaped files, on hand-written edge cases, and on thousands of seeded random
// mutations of those (anything the fast way accepts is compared with the full way).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LineCounter, parseDocument } from 'yaml';
import { conforms, committedSchema } from '../../src/config/conforms.js';
import { loadConfig, loadFull, loadPlain } from '../../src/config/load.js';
import { Locator, PlainLocator, type YamlPath } from '../../src/config/locate.js';
import { readPlainYaml } from '../../src/config/plain-yaml.js';
import { inputSchemas } from '../../src/config/schema.js';
import { configYaml } from '../bench/workload.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => readFileSync(join(root, 'examples', f), 'utf8'));

const y = (...lines: string[]) => lines.join('\n') + '\n';

/** Texts inside the subset (each must be read by the fast way). */
const PLAIN = [
  ...examples,
  configYaml([1, 2, 3]),
  y('version: 1', 'vlans:', 'networks:', 'endpoints:'),
  y('# c', 'version: 1  # one', '', 'networks:', '  # before', '  n1:', '    driver: macvlan', '    parent: "eth0"', "    mode: 'bridge'", '    subnets:', '    - subnet: 10.0.0.0/24', '      gateway: 10.0.0.1 # gw', '    -   subnet: 2001:db8::/64', 'endpoints:', '  e1: {network: n1, ipv6: 2001:db8::5}', '  e2: { }', '  e3:'),
  y('version: 1', 'networks:', '  n:', '    driver: macvlan', '    mtu: 9000', '    internal: true', 'endpoints:', '  a: { network: n, default_route: false }', '  b:', '    network: n', '    netns: null'),
  'version: 1',
  y('version: 1', 'networks: ', 'endpoints: # none'),
];

/** Texts outside the subset: the fast way must refuse them (the full way reads them). */
const NOT_PLAIN = [
  '', '# only\n', 'version: 1\r\n', 'version:\t1\n', '\ufeffversion: 1\n', '---\nversion: 1\n', '%YAML 1.2\n---\nversion: 1\n',
  y('version: 1', 'version: 1'), y('version: 1', 'endpoints:', '  e1: { network: a, network: b }'),
  y('version: 1', 'networks:', '  n: { driver: macvlan, subnets: [] }'), y('version: 1', 'endpoints:', '  e1:', '    network: a', '      b'),
  y('version: 1', 'endpoints: &x', '  e1: *x'), y('version: 1', 'networks: !!map {}'), y('version: 1', 'endpoints:', '  "e1": { network: a }'),
  y('version: 1.0'), y('version: 0x1'), y('version: 01'), y('version: +1'), y('version: True'), y('version: ~'), y('version: .inf'), y('version: 1e0'),
  y('version: 1', 'endpoints:', '  1: { network: a }'), y('version: 1', 'endpoints:', '  null: { network: a }'), y('version: 1', 'endpoints:', '  __proto__: { network: a }'),
  y('version: 1', 'endpoints:', '  e1: { network: a b }'), y('version: 1', 'endpoints:', '  e1: { ipv6: fe80::1%eth0 }'), y('version: 1', 'endpoints:', '  e1: { ipv6: 2001:db8:: }'),
  y('version: 1', 'x: a:b: c'), y('version: 1', 'x: "a\\"b"'), y('version: 1', "x: 'it''s'"), y('version: 1', 'x: a#b'), y('version: 1', 'x: |', '  text'),
  y('  version: 1'), y('- version: 1'), y('version: 1', 'x:', '-'), y('version: 1', 'x: café'),
];

/** Every path of a value, and one path under each that does not exist. */
function paths(value: unknown, prefix: YamlPath = []): YamlPath[] {
  const out: YamlPath[] = [prefix, [...prefix, 'nope'], [...prefix, 7]];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** The fast reader agrees with `yaml` on values and positions, or refuses. Returns whether it accepted. */
function sameAsYaml(text: string): boolean {
  const plain = readPlainYaml(text);
  if (!plain) return false;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const context = `\n--- text:\n${text}`;
  assert.equal([...doc.errors, ...doc.warnings].map((e) => e.message), [], `yaml has problems with a text the fast reader accepted${context}`);
  assert.equal(plain.value, doc.toJS(), `values${context}`);
  const full = new Locator(doc, lines, 'f');
  const fast = new PlainLocator(plain.root, plain.lineStarts, 'f');
  for (const path of paths(plain.value)) {
    for (const key of [false, true]) assert.is(fast.at(path, key), full.at(path, key), `at(${JSON.stringify(path)}, ${key})${context}`);
  }
  return true;
}

/** Both ways in give the same result; returns whether the fast way took the file. */
function sameResult(text: string): boolean {
  const fast = loadPlain(text, 't.yaml');
  if (!fast) return false;
  assert.equal(fast, loadFull(text, 't.yaml'), `load result\n--- text:\n${text}`);
  return true;
}

test('the fast reader takes the examples and the bench file, and reads them as yaml does', () => {
  for (const text of PLAIN) assert.ok(sameAsYaml(text), `refused:\n${text}`);
});

test('the fast reader refuses what is outside its subset', () => {
  for (const text of NOT_PLAIN) assert.is(readPlainYaml(text), null, JSON.stringify(text));
});

test('words resolve as yaml resolves them, or are refused', () => {
  const words = ['1', '0', '10', '007', '-1', '+1', '1.5', '.5', '1.', '1e3', '1E3', '0x1F', '0o17', '.inf', '-.inf', '.nan', '.NaN', 'true', 'false', 'True', 'FALSE',
    'null', 'Null', 'NULL', '~', 'yes', 'no', 'on', 'off', 'y', 'n', '2001:db8::1', '10.0.0.0/24', '02:00:00:00:00:01', 'eth0.50', 'a.b', '1a', '1.2.3', '12:30',
    '1_000', '+', '.', '/x', 'x/', 'a:b', 'a:', 'e0001', '123456789012345', '1234567890123456', '9007199254740993', '"x"', "'y'", '""', "''", '"a # b"'];
  let accepted = 0;
  for (const word of words) for (const text of [y(`k: ${word}`), y(`k: { a: ${word} }`), y('k:', `  - ${word}`), y(`${word}: v`)]) if (sameAsYaml(text)) accepted++;
  assert.ok(accepted > 60, `only ${accepted} accepted`);
});

test('both ways in give the same config and diagnostics for the examples and edge cases', () => {
  let fast = 0;
  for (const text of PLAIN) if (sameResult(text)) fast++;
  assert.ok(fast >= examples.length, `${fast} took the fast way`);
  for (const text of NOT_PLAIN) assert.equal(loadConfig(text, 't.yaml'), loadFull(text, 't.yaml'));
});

test('the fast way takes files with rule errors (and reports them where the full way does)', () => {
  const text = y('version: 1', 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24 }] }', '  n2:', '    driver: macvlan', '    parent: eth0',
    '    subnets:', '      - subnet: 10.0.0.128/25', 'endpoints:', '  e1: { network: n2, ipv4: 10.0.1.1 }', '  e2: { network: n3 }');
  const multi = text.replace('subnets: [{ subnet: 10.0.0.0/24 }]', 'mode: bridge');
  assert.ok(sameResult(multi.replace('mode: bridge }', 'mode: bridge }\n  n3: { driver: ipvlan, parent: eth0 }')));
  assert.ok(loadPlain(multi, 't.yaml')!.diagnostics.length >= 2);
});

test('schema errors always take the full way, for zod to word them', () => {
  for (const text of [y('version: 2'), y('version: 1', 'networks:', '  n: { driver: macvlan, mtu: 40 }'), y('version: 1', 'endpoints:', '  e: { network: n, mac: 1 }'), y('version: 1', 'vlan: {}')]) {
    assert.is(loadPlain(text, 't.yaml'), null, text);
    assert.ok(loadConfig(text, 't.yaml').diagnostics.length > 0);
  }
});

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [' ', '  ', '\n', '#', ':', ': ', '- ', '-', '{', '}', ',', '"', "'", '0', '1', '4095', '65536', 'null', 'true', '~', '.', '/', 'a', 'eth0', 'x: y', 'mode: l3',
  'driver: ipvlan', 'internal: true', 'netns: host', 'ipv4: 10.0.0.1', 'gateway: 10.0.0.1', 'mac: 02:00:00:00:00:01', 'parent: eth0.7', 'network: n1', '2001:db8::/64'];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  let out = text;
  for (let n = 1 + Math.floor(rnd() * 3); n > 0; n--) {
    const at = Math.floor(rnd() * (out.length + 1));
    const lines = out.split('\n');
    const line = Math.floor(rnd() * lines.length);
    switch (Math.floor(rnd() * 6)) {
      case 0: out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rnd() * 4)); break;
      case 1: out = out.slice(0, at) + pick(PIECES) + out.slice(at); break;
      case 2: lines.splice(line, 0, lines[Math.floor(rnd() * lines.length)]!); out = lines.join('\n'); break;
      case 3: lines[line] = ' '.repeat(Math.floor(rnd() * 8)) + lines[line]!.trimStart(); out = lines.join('\n'); break;
      case 4: lines.splice(line, 1); out = lines.join('\n'); break;
      default: out = out.slice(0, at) + out.slice(Math.floor(rnd() * out.length)); break;
    }
  }
  return out;
}

test('random mutations: whatever the fast way takes, it reads and loads exactly as the full way', () => {
  const rnd = random(20240505);
  let taken = 0;
  let tried = 0;
  for (const base of PLAIN) {
    for (let i = 0; i < 80; i++) {
      const text = mutate(base, rnd);
      tried++;
      if (sameAsYaml(text)) {
        sameResult(text);
        taken++;
      }
    }
  }
  assert.ok(taken > tried / 10, `only ${taken} of ${tried} mutations were plain: the test would prove little`);
});

test('conforms never says yes where zod says no', () => {
  const schema = committedSchema();
  assert.ok(schema, 'schemas/vlannet.schema.json is readable');
  const rnd = random(7);
  const values: unknown[] = [0, 1, 68, 4094, 4095, 65536, 1.5, -1, NaN, Infinity, 2 ** 60, '', 'x', 'eth0', 'macvlan', 'ipvlan', 'l3', 'vepa', '02:00:00:00:00:01', '02:00:00:00:00:0g',
    true, false, null, [], [{}], [{ subnet: 'x' }], {}, { subnet: 'x' }, { network: 'n' }, { driver: 'macvlan' }, { parent: 'eth0', id: 5 }];
  const base = () => ({ version: 1, vlans: { v: { parent: 'eth0', id: 7, mtu: 1500 } }, networks: { n: { driver: 'ipvlan', parent: 'eth0', mode: 'l2', flag: 'bridge', internal: false, mtu: 1500,
    subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1', ip_range: '10.0.0.0/25' }] } }, endpoints: { e: { network: 'n', netns: 'x', ifname: 'eth0', ipv4: '10.0.0.2', ipv6: '::1',
    mac: '02:00:00:00:00:01', default_route: true } } });
  let yes = 0;
  for (let i = 0; i < 3000; i++) {
    const value: Record<string, unknown> = base();
    // Replace or add one value somewhere in the tree
    let node: Record<string, unknown> | unknown[] = value;
    for (let depth = 0; depth < 5; depth++) {
      const keys = Object.keys(node);
      const key = keys[Math.floor(rnd() * keys.length)]!;
      const child = (node as Record<string, unknown>)[key];
      if (rnd() < 0.3 || typeof child !== 'object' || child === null) {
        (node as Record<string, unknown>)[rnd() < 0.1 ? 'extra' : key] = values[Math.floor(rnd() * values.length)];
        break;
      }
      node = child as Record<string, unknown>;
    }
    const zod = inputSchemas().ConfigInput.safeParse(value).success;
    if (conforms(schema, value)) {
      yes++;
      assert.ok(zod, `conforms said yes, zod no: ${JSON.stringify(value)}`);
    }
  }
  assert.ok(yes > 100 && yes < 3000, `${yes} of 3000 conform`);
});

test.run();
