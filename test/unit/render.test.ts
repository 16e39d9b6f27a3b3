import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { makePlan } from '../../src/plan/plan.js';
import { planToJson, renderPlan, summarize } from '../../src/plan/render.js';
import type { Config, ObservedState, Plan } from '../../src/model/types.js';

// Golden cases: test/fixtures/plan/<case>/{config.json, observed.json, plan.txt, plan.json}.
// UPDATE_GOLDEN=1 rewrites the expected files (review the diff before committing).
const FIXTURES = path.resolve('test/fixtures/plan');
const read = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const cases = fs
  .readdirSync(FIXTURES)
  .filter((d) => fs.existsSync(path.join(FIXTURES, d, 'config.json')))
  .sort();

function planFor(name: string): Plan {
  return makePlan(read<Config>(path.join(FIXTURES, name, 'config.json')), read<ObservedState>(path.join(FIXTURES, name, 'observed.json')));
}

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const plan = planFor(name);
    const text = renderPlan(planToJson(plan), { color: false });
    const json = `${JSON.stringify(planToJson(plan), null, 2)}\n`;
    const txtFile = path.join(FIXTURES, name, 'plan.txt');
    const jsonFile = path.join(FIXTURES, name, 'plan.json');
    if (process.env.UPDATE_GOLDEN) {
      fs.writeFileSync(txtFile, text);
      fs.writeFileSync(jsonFile, json);
    }
    assert.fixture(text, fs.readFileSync(txtFile, 'utf8'));
    assert.fixture(json, fs.readFileSync(jsonFile, 'utf8'));
  });
}

test('there are golden cases', () => {
  assert.ok(cases.length >= 4, `found ${cases.length}`);
});

test('a converged kernel renders the no-changes line', () => {
  const text = renderPlan(planToJson(planFor('converged')), { color: false });
  assert.is(text, 'No changes. The kernel matches the configuration.\n');
});

test('updates show an attribute diff; a replace counts once, its address and routes replaced with it', () => {
  const plan = planFor('mtu-update-rename-readdress');
  const text = renderPlan(planToJson(plan), { color: false });
  assert.match(text, /~ endpoint\.web2\n {6}~ link set eth0 in web2 mtu 1500\n {11}\{\n {10}- {2}mtu: 9000\n {10}\+ {2}mtu: 1500\n {11}\}/);
  // Made first, removed after the point of no return.
  assert.match(text, /-\/\+ endpoint\.web1\n {6}\+ link add net0 in web1 .*\n {6}- link del eth0 in web1\n/);
  // A static address that changes takes its default route with it: both are replaced.
  assert.match(
    text,
    /-\/\+ endpoint\.web2\.ipv4\n {6}- addr del 192\.168\.50\.10\/24 dev eth0 in web2\n {6}\+ addr add 192\.168\.50\.11\/24/,
  );
  assert.match(
    text,
    /-\/\+ endpoint\.web2\.route4\n {6}- route del default via 192\.168\.50\.1 dev eth0 in web2\n {6}\+ route add default/,
  );
  const s = summarize(plan);
  assert.equal(s, { add: 4, change: 2, replace: 3, destroy: 0 }, 'objects, not actions');
  assert.ok(text.endsWith('Plan: 4 to add, 2 to change, 3 to replace, 0 to destroy.\n'));
  assert.match(text, /# endpoint\.web2\.ipv4 will be replaced: address changed from 192\.168\.50\.10\/24 to 192\.168\.50\.11\/24\n/);
});

test('upstream routes and warnings are shown', () => {
  const text = renderPlan(planToJson(planFor('ipvlan-l3-foreign-default-route')), { color: false });
  assert.match(text, /Upstream routes .*\n {2}192\.168\.110\.0\/24 via 192\.168\.1\.249 {3}\(network ipvlan118, parent eth0\)/);
  assert.match(text, /Warning: namespace db already has a default route \(default via 172\.17\.0\.1 dev veth0\) that vlannet does not own/);
});

test('colour only when asked', () => {
  const plan = planFor('mtu-update-rename-readdress');
  assert.not.ok(renderPlan(planToJson(plan), { color: false }).includes('\x1b['), 'no ANSI escapes without color');
  assert.ok(renderPlan(planToJson(plan), { color: true }).includes('\x1b[32m+\x1b[0m'), 'a green + with color');
});

test('the JSON format is versioned and carries every change', () => {
  const plan = planFor('fresh-dual-stack-trunk');
  const json = planToJson(plan) as {
    format_version: string;
    changes: { object: string; change: string; op: { op: string } }[];
    summary: object;
    upstream_routes: unknown[];
    warnings: unknown[];
  };
  assert.is(json.format_version, '1');
  assert.is(json.changes.length, plan.actions.length);
  assert.equal(Object.keys(json.changes[0]!).slice(0, 4), ['object', 'change', 'reason', 'stage']);
  assert.equal(json.summary, { add: plan.actions.length, change: 0, replace: 0, destroy: 0 });
  assert.equal(json.warnings, []);
  assert.equal(JSON.parse(JSON.stringify(json)), json, 'plain JSON');
});

test.run();
