// Saved plans with the real program on a real kernel: `plan --out` then `apply PLANFILE` runs
// exactly the saved plan and the kernel matches the file; a change in between (a link the plan
// touches, a name it needs) makes `apply PLANFILE` refuse with `stale plan:`, exit 1, and leave
// the kernel byte-for-byte as it was; a fresh plan then works.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { checkKernel } from './support/expect.js';
import { ip } from './support/sh.js';
import { snapshotWorld } from './support/snapshot.js';
import { type ApplyOutput, document, type PlanOutput, vlannet } from './support/vlannet.js';
import { parseConfig, World } from './support/world.js';

const CONFIG = `version: 1
networks:
  net50:
    driver: macvlan
    parent: eth0.50
    subnets: [{ subnet: 192.168.50.0/24 }]
endpoints:
  sp-a: { network: net50 }
  sp-b: { network: net50 }
`;

test('plan --out, then apply PLANFILE: exactly the saved actions, and the kernel matches the file', () => {
  const w = new World();
  try {
    w.veth('eth0');
    const file = w.config(CONFIG);
    const planFile = `${w.dir}/plan.json`;
    const saved = vlannet('plan', '-f', file, '--out', planFile);
    assert.is(saved.status, 0, saved.stderr);
    assert.match(saved.stdout, `Saved the plan to ${planFile}: apply it with vlannet apply ${planFile}`);
    const doc = document<PlanOutput & { saved: { actions: unknown[] } }>(['plan'], { ...saved, stdout: readFileSync(planFile, 'utf8') });
    assert.ok(doc.changes.length > 0);
    const shown = document<PlanOutput>(['plan'], vlannet('plan', planFile, '--json', '--check'));
    assert.equal(shown.changes, doc.changes, 'plan PLANFILE shows the saved plan');
    const applied = document<ApplyOutput>(['apply'], vlannet('apply', planFile, '--json'));
    assert.equal(applied.executed.map((a) => a.op).sort(byJson), doc.changes.map((c) => c.op).sort(byJson), 'exactly the saved operations');
    assert.equal(checkKernel(parseConfig(CONFIG)), []);
    assert.is(vlannet('plan', '-f', file, '--detailed-exitcode').status, 0, 'converged');
  } finally {
    w.cleanup();
  }
});

const byJson = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);

test('a kernel change after plan --out: apply PLANFILE refuses, exit 1, the kernel untouched; a fresh plan works', () => {
  const w = new World();
  try {
    w.veth('eth0');
    const file = w.config(CONFIG);
    // Converge, then let sp-a drift: the saved plan sets its MTU back.
    assert.is(vlannet('apply', '-f', file).status, 0);
    ip('-n', 'sp-a', 'link', 'set', 'eth0', 'mtu', '1400');
    const planFile = `${w.dir}/plan.json`;
    assert.is(vlannet('plan', '-f', file, '--out', planFile).status, 0);
    // Someone changes the link the plan touches.
    ip('-n', 'sp-a', 'link', 'set', 'eth0', 'mtu', '1300');
    const before = snapshotWorld();
    const r = vlannet('apply', planFile);
    assert.is(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^error: stale plan: the kernel changed since .* was saved:\n {2}in namespace sp-a: link eth0: mtu 1400 → 1300\n/,
    );
    assert.is(vlannet('plan', planFile, '--check').status, 1, '--check says stale');
    const failed = JSON.parse(vlannet('apply', planFile, '--json').stdout);
    assert.is(failed.error.kind, 'stale');
    assert.equal(snapshotWorld(), before, 'nothing was touched');

    // A name the plan needs taken by someone else: also stale.
    const grown = w.config(`${CONFIG}  sp-c: { network: net50 }\n`, 'grown.yaml');
    assert.is(vlannet('plan', '-f', grown, '--out', planFile).status, 0);
    w.netns('sp-c');
    ip('-n', 'sp-c', 'link', 'add', 'eth0', 'type', 'dummy');
    const before2 = snapshotWorld();
    const r2 = vlannet('apply', planFile);
    assert.is(r2.status, 1, r2.stderr);
    assert.match(r2.stderr, /stale plan: .*\n.*in namespace sp-c: /);
    assert.equal(snapshotWorld(), before2, 'nothing was touched');
    ip('-n', 'sp-c', 'link', 'del', 'eth0');

    // Planned again, it applies.
    assert.is(vlannet('plan', '-f', grown, '--out', planFile).status, 0);
    const again = vlannet('apply', planFile);
    assert.is(again.status, 0, again.stderr);
    assert.equal(checkKernel(parseConfig(`${CONFIG}  sp-c: { network: net50 }\n`)), []);
  } finally {
    w.cleanup();
  }
});

test('apply PLANFILE -f FILE is a usage error; a file that is not a plan says what was expected', () => {
  const w = new World();
  try {
    const file = w.config(CONFIG);
    const r = vlannet('apply', file, '-f', file);
    assert.is(r.status, 1);
    assert.match(r.stderr, /^error: apply PLANFILE cannot be combined with -f/);
    const n = vlannet('apply', file);
    assert.is(n.status, 1);
    assert.match(n.stderr, /not a saved plan: not JSON/);
    assert.not.match(n.stderr, /at .*\.js/);
  } finally {
    w.cleanup();
  }
});

test.run();
