// --json everywhere: the documents the command prints (run as operators run it) match the
// committed output schema under a real validator (ajv, strict), the schema is generated from
// src/cli/output-schema.ts and current, errors come out as documents too, and `plan --observed`
// reads back what `show --json` prints. Commands that need a kernel are checked the same way in
// the kernel suite (test/kernel/cli-converge.test.ts).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { camelKeys, diagnosticJson, document, snakeKeys } from '../../src/cli/output.js';
import { outputSchemaPath, outputSchemaText } from '../../src/cli/output-schema.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'vlannet-output-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const ajv = new Ajv2020({ strict: true, allErrors: true });
const check = ajv.compile(JSON.parse(readFileSync(outputSchemaPath(), 'utf8')));

function vlannet(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'vlannet.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', VLANNET_RUN_DIR: join(dir, 'run') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The one JSON document a --json command printed, checked against the schema. */
function parsed(r: { stdout: string; stderr: string }, what: string): Record<string, unknown> {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`${what}: stdout is not one JSON document:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  assert.ok(check(doc), `${what}: ${ajv.errorsText(check.errors)}`);
  assert.is(doc.format_version, 2, `${what}: format_version is the integer 2`);
  const keys = JSON.stringify(doc).match(/"[A-Za-z_]+":/g) ?? [];
  for (const key of keys) assert.not.match(key, /[A-Z]/, `${what}: key ${key} is snake_case`);
  return doc;
}

const CONFIG = `version: 1
networks:
  n1:
    driver: macvlan
    parent: eth0
    subnets:
      - subnet: 10.0.0.0/24
        gateway: 10.0.0.1
      - subnet: 10.0.1.0/24
endpoints:
  e1: { network: n1, ipv4: 10.0.0.12 }
  e2: { network: n1 }
`;
const BAD = CONFIG.replace('ipv4: 10.0.0.12', 'ipv4: 10.0.9.12');
const good = join(dir, 'good.yaml');
const bad = join(dir, 'bad.yaml');
writeFileSync(good, CONFIG);
writeFileSync(bad, BAD);

/** A kernel with only the parent, as `show --json` of vlannet 0.1 printed it (bare, version 1). */
const OBSERVED_V1 = {
  format_version: 1,
  namespaces: [],
  links: [{ netns: null, name: 'eth0', index: 2, kind: '', parent: null, mtu: 1500, mac: '02:00:00:00:00:01', up: true, alias: null }],
  addresses: [{ netns: null, link: 'eth0', family: 4, address: '10.0.0.2', prefixLength: 24 }],
  routes: [],
};

test('the committed output schema is generated from src/cli/output-schema.ts (npm run schema)', () => {
  assert.fixture(readFileSync(outputSchemaPath(), 'utf8'), outputSchemaText());
});

test('validate --json: a valid file, and an invalid one as a failure document with each diagnostic in fields', () => {
  const ok = vlannet('validate', '-f', good, '--json');
  assert.is(ok.status, 0, ok.stderr);
  const doc = parsed(ok, 'validate good');
  assert.equal(
    { ...doc, file: '<file>' },
    {
      format_version: 2,
      command: 'validate',
      ok: true,
      diagnostics: [],
      error: null,
      file: '<file>',
      valid: true,
      counts: { networks: 1, endpoints: 2, vlans: 0 },
    },
  );
  const no = vlannet('validate', '-f', bad, '--json');
  assert.is(no.status, 1);
  assert.is(no.stderr, '', 'with --json, nothing on stderr');
  const failed = parsed(no, 'validate bad');
  assert.is(failed.ok, false);
  assert.equal((failed.error as { kind: string }).kind, 'config');
  const [d] = failed.diagnostics as Record<string, unknown>[];
  assert.equal(d, {
    severity: 'error',
    file: bad,
    line: 11,
    column: 28,
    path: 'endpoints.e1.ipv4',
    message: (d as { message: string }).message,
  });
  assert.match((d as { message: string }).message, '10.0.9.12');
});

test('plan --json: an invalid file, an unreadable one, a usage error of the file: documents, exit 1', () => {
  const r = vlannet('plan', '-f', bad, '--json', '--observed', join(dir, 'nothing.json'));
  assert.is(r.status, 1);
  const doc = parsed(r, 'plan of a bad file');
  assert.is((doc.error as { kind: string }).kind, 'config');
  const missing = vlannet('plan', '-f', join(dir, 'missing.yaml'), '--json');
  assert.is(missing.status, 1);
  const m = parsed(missing, 'plan of a missing file');
  assert.equal((m.diagnostics as { message: string }[])[0]!.message, `cannot read ${join(dir, 'missing.yaml')}: no such file (ENOENT)`);
  const observed = vlannet('plan', '-f', good, '--json', '--observed', join(dir, 'nothing.json'));
  assert.is(observed.status, 1);
  const o = parsed(observed, 'plan against a missing observed state');
  assert.equal(o.error, { kind: 'usage', message: (o.error as { message: string }).message, errno: null });
  assert.match((o.error as { message: string }).message, 'no such file (ENOENT)');
});

test('plan --observed reads the bare state of 0.1 and the document of `show --json` alike; the plan matches the schema', () => {
  const v1 = join(dir, 'observed-v1.json');
  writeFileSync(v1, JSON.stringify(OBSERVED_V1));
  const v2 = join(dir, 'observed-v2.json');
  const { format_version: _, ...state } = OBSERVED_V1;
  writeFileSync(v2, JSON.stringify(document('show', state)));
  const plans = [v1, v2].map((file) => {
    const r = vlannet('plan', '-f', good, '--json', '--observed', file);
    assert.is(r.status, 0, r.stderr);
    return parsed(r, `plan --observed ${file}`);
  });
  assert.equal(plans[1], plans[0]);
  const plan = plans[0]!;
  assert.is(plan.command, 'plan');
  assert.equal(plan.summary, { add: 8, change: 0, replace: 0, destroy: 0 });
  const add = (plan.changes as { object: string; op: Record<string, unknown> }[]).find((c) => c.object === 'endpoint.e1');
  assert.ok(add, 'endpoint.e1 is created');
  assert.ok('link' in add.op, 'the kernel operation is there, in snake_case');
});

test('snakeKeys and camelKeys are inverse on vlannet’s own keys; values (names) are never touched', () => {
  const state = { vlanId: 50, prefixLength: 24, unsupportedLinkKinds: ['ipvlan'], name: 'web_1', links: [{ vlanProtocol: '802.1Q' }] };
  const snaked = snakeKeys(state);
  assert.equal(snaked, {
    vlan_id: 50,
    prefix_length: 24,
    unsupported_link_kinds: ['ipvlan'],
    name: 'web_1',
    links: [{ vlan_protocol: '802.1Q' }],
  });
  assert.equal(camelKeys(snaked), state);
});

test('diagnosticJson: FILE:LINE:COLUMN in fields, also for paths with colons; the file alone; nothing', () => {
  const d = { severity: 'error' as const, path: 'p', message: 'm' };
  assert.equal(diagnosticJson({ ...d, at: '/etc/a:b.yaml:3:14' }), { ...d, file: '/etc/a:b.yaml', line: 3, column: 14 });
  assert.equal(diagnosticJson({ ...d, at: '/etc/vlannet.yaml' }), { ...d, file: '/etc/vlannet.yaml', line: null, column: null });
  assert.equal(diagnosticJson({ ...d, at: '' }), { ...d, file: null, line: null, column: null });
});

test.run();
