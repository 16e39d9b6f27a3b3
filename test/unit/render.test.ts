import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { makePlan, planDestroy } from '../../src/plan/plan.js';
import { planToJson, renderPlan, summarize, type PlanJson } from '../../src/plan/render.js';
import type { Action, Config, ObservedState, Plan } from '../../src/model/types.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { config, endpoint, link, namespacesOf, network, subnet } from '../fixtures/plan/build.js';

// Golden cases: test/fixtures/plan/<case>/{config.json, observed.json, plan.txt, plan-compact.txt,
// plan.json}; a config.json of `null` plans a destroy. UPDATE_GOLDEN=1 rewrites the expected files
// (review the diff before committing: plan.txt and plan-compact.txt are what operators read).
const FIXTURES = path.resolve('test/fixtures/plan');
const read = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const cases = fs
  .readdirSync(FIXTURES)
  .filter((d) => fs.existsSync(path.join(FIXTURES, d, 'config.json')))
  .sort();

function planFor(name: string): Plan {
  return makePlan(
    read<Config | null>(path.join(FIXTURES, name, 'config.json')),
    read<ObservedState>(path.join(FIXTURES, name, 'observed.json')),
  );
}

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const plan = planFor(name);
    const text = renderPlan(planToJson(plan), { color: false });
    const compact = renderPlan(planToJson(plan), { color: false, compact: true });
    const json = `${JSON.stringify(planToJson(plan), null, 2)}\n`;
    const txtFile = path.join(FIXTURES, name, 'plan.txt');
    const compactFile = path.join(FIXTURES, name, 'plan-compact.txt');
    const jsonFile = path.join(FIXTURES, name, 'plan.json');
    if (process.env.UPDATE_GOLDEN) {
      fs.writeFileSync(txtFile, text);
      fs.writeFileSync(compactFile, compact);
      fs.writeFileSync(jsonFile, json);
    }
    assert.fixture(text, fs.readFileSync(txtFile, 'utf8'));
    assert.fixture(compact, fs.readFileSync(compactFile, 'utf8'));
    assert.fixture(json, fs.readFileSync(jsonFile, 'utf8'));
  });
}

test('there are golden cases', () => {
  assert.ok(cases.length >= 4, `found ${cases.length}`);
});

const full = (plan: Plan) => renderPlan(planToJson(plan), { color: false });
const compact = (plan: Plan) => renderPlan(planToJson(plan), { color: false, compact: true });

/** The blocks of the full form: the header comment's object, and the lines under it up to the blank line. */
function blocksOf(text: string): { object: string; lines: string[] }[] {
  return text
    .split('\n\n')
    .filter((chunk) => chunk.startsWith('  # '))
    .map((chunk) => {
      const [header, , ...lines] = chunk.split('\n');
      return { object: /^ {2}# (\S+) will be /.exec(header!)![1]!, lines };
    });
}

/** The object lines of the compact form: between the first blank line and the next. */
const compactLines = (text: string) => text.split('\n\n')[1]!.split('\n');

const lan = (over: Parameters<typeof network>[1] = {}) =>
  network('lan', { parent: 'eth0', subnets: [subnet('10.0.1.0/24', '10.0.1.1'), subnet('2001:db8:1::/64', '2001:db8:1::1')], ...over });
const five = () =>
  config(
    [lan()],
    [1, 2, 3, 4, 5].map((i) => endpoint(`web${i}`, 'lan', { ipv4: `10.0.1.1${i}` })),
  );
const host = () => [link('eth0', { index: 2, mtu: 1500 }), link('eth1', { index: 3, mtu: 1500 })];

/** The plan from `from` (applied to an empty kernel) to `to`. */
async function planBetween(from: Config, to: Config): Promise<Plan> {
  const kernel = new MemoryKernel().seed({ links: host() });
  for (const a of makePlan(from, await kernel.observe(namespacesOf(from))).actions) await kernel.apply(a.op);
  return makePlan(to, await kernel.observe([...new Set([...namespacesOf(from), ...namespacesOf(to)])]));
}

async function freshPlan(cfg: Config): Promise<Plan> {
  const kernel = new MemoryKernel().seed({ links: host() });
  return makePlan(cfg, await kernel.observe(namespacesOf(cfg)));
}

test('five new endpoints: five blocks and nothing else, each with its namespace, link, addresses and routes', async () => {
  const plan = await freshPlan(five());
  assert.is(plan.actions.length, 30, 'namespace, link, two addresses and two routes each');
  const text = full(plan);
  const blocks = blocksOf(text);
  assert.equal(
    blocks.map((b) => b.object),
    ['endpoint.web1', 'endpoint.web2', 'endpoint.web3', 'endpoint.web4', 'endpoint.web5'],
  );
  for (const [i, b] of blocks.entries()) {
    assert.is(b.lines.length, 6, `${b.object}: one line per change`);
    assert.ok(
      b.lines.every((l) => l.startsWith('      + ') && l.includes(` web${i + 1}`)),
      `${b.object}: its own changes only`,
    );
  }
  assert.match(text, /^ {2}# endpoint\.web1 will be created: not in the kernel\n {2}\+ endpoint\.web1\n/m);
  assert.not.match(text, /netns\.web|endpoint\.web\d\.(ipv|route)/, 'no block or label for a namespace, an address or a route');
  assert.ok(text.endsWith('\nPlan: 30 to add, 0 to change, 0 to replace, 0 to destroy.\n'), 'the summary counts object addresses');
  assert.ok(text.split('\n').length <= 50, `${text.split('\n').length} lines`);
});

test('an endpoint block nests its changes in stage order: namespace, link, addresses, routes', async () => {
  const block = blocksOf(full(await freshPlan(five())))[1]!;
  assert.equal(block.lines, [
    '      + netns add web2',
    '      + link add eth0 in web2 link eth0 type macvlan mode bridge',
    '      + addr add 10.0.1.12/24 dev eth0 in web2',
    '      + addr add 2001:db8:1::3/64 dev eth0 in web2',
    '      + route add default via 10.0.1.1 dev eth0 in web2',
    '      + route add -6 default via 2001:db8:1::1 dev eth0 in web2',
  ]);
});

test('a namespace shared by two endpoints is its own block; the JSON says where each change is shown', async () => {
  const cfg = config(
    [lan({ subnets: [subnet('10.0.1.0/24', '10.0.1.1')] })],
    [
      endpoint('db1', 'lan', { netns: 'shared' }),
      endpoint('db2', 'lan', { netns: 'shared', ifname: 'eth1', defaultRoute: false }),
      endpoint('web1', 'lan'),
    ],
  );
  const plan = await freshPlan(cfg);
  assert.equal(
    blocksOf(full(plan)).map((b) => b.object),
    ['netns.shared', 'endpoint.web1', 'endpoint.db1', 'endpoint.db2'],
  );
  const group = Object.fromEntries(planToJson(plan).changes.map((c) => [c.object, c.group]));
  assert.is(group['netns.shared'], 'netns.shared');
  assert.is(group['netns.web1'], 'endpoint.web1');
  assert.is(group['endpoint.db1.ipv4'], 'endpoint.db1');
  assert.is(group['endpoint.db1.route4'], 'endpoint.db1');
  assert.is(group['endpoint.db2'], 'endpoint.db2');
  assert.match(compact(plan), /\n {2}\+ netns\.shared {3}for endpoint\.db1, endpoint\.db2\n/);
});

test('the JSON form only gains "group"; a plan without it (an older vlannet) renders the same', () => {
  for (const name of cases) {
    const json = planToJson(planFor(name));
    for (const c of json.changes) assert.type(c.group, 'string', `${name}: ${c.object}`);
    const old: PlanJson = { ...json, changes: json.changes.map(({ group: _, ...c }) => c) };
    assert.is(renderPlan(old, { color: false }), renderPlan(json, { color: false }), name);
    assert.is(renderPlan(old, { color: false, compact: true }), renderPlan(json, { color: false, compact: true }), name);
  }
});

test('compact: one line per top-level object, within 100 columns', async () => {
  const text = compact(await freshPlan(five()));
  const lines = compactLines(text);
  assert.is(lines.length, 5);
  assert.is(lines[0], '  + endpoint.web1  macvlan on eth0 in netns web1, 10.0.1.11/24, 2001:db8:1::2/64, … (2 more)');
  for (const l of lines) assert.ok(l.length <= 100, `${l.length} columns: ${l}`);
  assert.ok(text.endsWith('\n\nPlan: 30 to add, 0 to change, 0 to replace, 0 to destroy.\n'));

  // Long names: whole items dropped first, then the line cut.
  const long = 'x'.repeat(90);
  const cfg = config([lan({ parent: 'eth1' })], [endpoint(`db-${long}`, 'lan', { netns: `ns-${long}` }), endpoint('web1', 'lan')]);
  const cut = compactLines(compact(await freshPlan(cfg)));
  assert.is(cut.length, 2);
  for (const l of cut) assert.ok(l.length <= 100, `${l.length} columns: ${l}`);
  assert.ok(cut[0]!.endsWith('…'), cut[0]);
  assert.match(
    cut[1]!,
    /^ {2}\+ endpoint\.web1 {2}macvlan on eth1 in netns web1, 10\.0\.1\.\d+\/24, 2001:db8:1::\d+\/64, … \(2 more\)$/,
    'a long object does not widen the column',
  );
});

test('compact keeps the upstream routes, the warnings and the summary of the full form', () => {
  const plan = planFor('ipvlan-l3-foreign-default-route');
  const text = compact(plan);
  const lines = compactLines(text);
  assert.is(lines.length, 2);
  assert.match(lines[0]!, /^ {2}\+ endpoint\.app {2}ipvlan l3 on eth0 in netns app, 192\.168\.110\.2\/24/);
  assert.match(lines[1]!, /^ {2}\+ endpoint\.db {3}ipvlan l3 on eth0 in netns db, 192\.168\.110\.50\/24/);
  const tail = (t: string) => t.slice(t.indexOf('Upstream routes'));
  assert.ok(tail(text).length > 100);
  assert.is(tail(text), tail(full(plan)));
  assert.match(text, /\nWarning: namespace db already has a default route/);
  assert.ok(text.endsWith('Plan: 10 to add, 0 to change, 0 to replace, 0 to destroy.\n'));
});

test('summary: a readdress counts once as a replace, and so does a link replace', async () => {
  const one = (ipv4: string) => config([lan()], [endpoint('web1', 'lan', { ipv4, defaultRoute: false })]);
  const readdress = await planBetween(one('10.0.1.10'), one('10.0.1.11'));
  assert.equal(
    readdress.actions.map((a) => `${a.object} ${a.op.op}`),
    ['endpoint.web1.ipv4 addr-del', 'endpoint.web1.ipv4 addr-add'],
  );
  assert.equal(summarize(readdress), { add: 0, change: 0, replace: 1, destroy: 0 });
  const text = full(readdress);
  assert.ok(text.endsWith('\nPlan: 0 to add, 0 to change, 1 to replace, 0 to destroy.\n'));
  assert.match(
    text,
    /# endpoint\.web1 will be updated in place: address changed from 10\.0\.1\.10\/24 to 10\.0\.1\.11\/24\n {2}~ endpoint\.web1\n {4}-\/\+ endpoint\.web1\.ipv4\n {10}- addr del 10\.0\.1\.10\/24 dev eth0 in web1\n {10}\+ addr add 10\.0\.1\.11\/24 dev eth0 in web1\n\n/,
  );
  assert.match(compact(readdress), /\n {2}~ endpoint\.web1 {2}10\.0\.1\.10\/24 → 10\.0\.1\.11\/24\n/);

  // A new parent: the link is made beside the old one, the old deleted, the new renamed.
  const parent = (p: string) => config([lan({ parent: p })], [endpoint('web1', 'lan', { ipv4: '10.0.1.10', defaultRoute: false })]);
  const replace = await planBetween(parent('eth0'), parent('eth1'));
  const link = replace.actions.filter((a) => a.object === 'endpoint.web1');
  assert.equal(
    link.map((a) => `${a.change} ${a.op.op}`),
    ['replace link-add', 'replace link-del', 'replace link-set'],
  );
  assert.equal(summarize(replace), { add: 2, change: 0, replace: 1, destroy: 0 }, 'its addresses come with the new link');
  assert.ok(full(replace).endsWith('\nPlan: 2 to add, 0 to change, 1 to replace, 0 to destroy.\n'));
  assert.match(full(replace), /# endpoint\.web1 will be replaced: parent changed from eth0 to eth1/);
  assert.match(compact(replace), /\n-\/\+ endpoint\.web1 {2}parent eth0 → eth1, 10\.0\.1\.10\/24, 2001:db8:1::2\/64\n/);

  // However the actions of an object are marked, a removal and a making count as one replace.
  const action = (change: Action['change'], op: Action['op']): Action => ({
    object: 'endpoint.web1.ipv4',
    change,
    reason: { code: 'absent' },
    op,
    stage: 1,
  });
  const addr = { netns: 'web1', link: 'eth0', family: 4 as const, address: '10.0.1.10', prefixLength: 24 };
  const marked = {
    actions: [action('delete', { op: 'addr-del', addr }), action('create', { op: 'addr-add', addr: { ...addr, address: '10.0.1.11' } })],
    warnings: [],
    upstreamRoutes: [],
  };
  assert.equal(summarize(marked), { add: 0, change: 0, replace: 1, destroy: 0 });
});

test('a destroy plan: one block per namespace (its endpoints go with it), per endpoint elsewhere and per vlan', () => {
  const observed = read<ObservedState>(path.join(FIXTURES, 'destroy-all', 'observed.json'));
  const plan = planDestroy(observed);
  const text = full(plan);
  const blocks = blocksOf(text);
  assert.equal(
    blocks.map((b) => b.object),
    ['endpoint.app', 'netns.shared', 'netns.web1', 'netns.web2', 'vlan.eth0.50'],
  );
  assert.is((text.match(/ will be destroyed: vlannet destroys what it made/g) ?? []).length, 5);
  assert.match(
    text,
    /# netns\.shared will be destroyed: vlannet destroys what it made; endpoint\.db1, endpoint\.db2 go with it\n {2}- netns\.shared\n {6}- netns del shared\n\n/,
  );
  assert.match(
    text,
    /# endpoint\.app will be destroyed: vlannet destroys what it made\n {2}- endpoint\.app\n {6}- link del eth0 in docker1\n\n/,
  );
  assert.ok(text.endsWith('\nPlan: 0 to add, 0 to change, 0 to replace, 5 to destroy.\n'));
  const lines = compactLines(compact(plan));
  assert.equal(
    lines.map((l) => l.slice(0, 16)),
    ['  - endpoint.app', '  - netns.shared', '  - netns.web1  ', '  - netns.web2  ', '  - vlan.eth0.50'],
  );
  assert.match(lines[2]!, /with endpoint\.web1 \(192\.168\.50\.\d+\/24 2001:db8:50::\d+\/64\)$/);
  assert.is(lines[4], '  - vlan.eth0.50  vlan 50 on eth0');
});

test('an endpoint moving to a new namespace takes both namespaces into its block', async () => {
  const at = (netns: string) => config([lan()], [endpoint('web1', 'lan', { ipv4: '10.0.1.10', netns })]);
  const plan = await planBetween(at('web1'), at('web1b'));
  const text = full(plan);
  const blocks = blocksOf(text);
  assert.equal(
    blocks.map((b) => b.object),
    ['endpoint.web1'],
  );
  const lines = blocks[0]!.lines;
  assert.is(lines[0], '      + netns add web1b', 'the new namespace first');
  assert.ok(
    lines.indexOf('          - netns del web1') > lines.indexOf('      - link del eth0 in web1'),
    'the old one after the link in it',
  );
  assert.match(text, /\n {6}- netns\.web1: no longer in the configuration; endpoint\.web1 goes with it\n {10}- netns del web1\n/);
  assert.match(text, /# endpoint\.web1 will be replaced: namespace changed from web1 to web1b/);
  assert.match(compact(plan), /\n-\/\+ endpoint\.web1 {2}netns web1 → web1b, -netns web1, 10\.0\.1\.10\/24, /);
});

test('a converged kernel renders the no-changes line', () => {
  const text = renderPlan(planToJson(planFor('converged')), { color: false });
  assert.is(text, 'No changes. The kernel matches the configuration.\n');
});

test('updates show an attribute diff; a replace counts once, its address and routes replaced with it', () => {
  const plan = planFor('mtu-update-rename-readdress');
  const text = renderPlan(planToJson(plan), { color: false });
  assert.match(text, /~ endpoint\.web2\n {6}~ link set eth0 in web2 mtu 1500\n {11}\{\n {10}- {2}mtu: 9000\n {10}\+ {2}mtu: 1500\n {11}\}/);
  // Made first, removed after the point of no return; the new link's addresses and routes with it.
  assert.match(
    text,
    /-\/\+ endpoint\.web1\n {6}\+ link add net0 in web1 .*\n {6}- link del eth0 in web1\n {6}\+ addr add 192\.168\.50\.2\/24 dev net0 in web1\n/,
  );
  // A static address that changes takes its default route with it: both are replaced, each under its own line.
  assert.match(
    text,
    /\n {4}-\/\+ endpoint\.web2\.ipv4: address changed from 192\.168\.50\.10\/24 to 192\.168\.50\.11\/24\n {10}- addr del 192\.168\.50\.10\/24 dev eth0 in web2\n {10}\+ addr add 192\.168\.50\.11\/24/,
  );
  assert.match(
    text,
    /\n {4}-\/\+ endpoint\.web2\.route4: its link loses an IPv4 address.*\n {10}- route del default via 192\.168\.50\.1 dev eth0 in web2\n {10}\+ route add default/,
  );
  assert.match(text, /# endpoint\.web2 will be updated in place: mtu 9000 → 1500\n/);
  assert.match(text, /# endpoint\.web1 will be replaced: name changed from eth0 to net0\n/);
  const s = summarize(plan);
  assert.equal(s, { add: 4, change: 2, replace: 3, destroy: 0 }, 'objects, not actions');
  assert.ok(text.endsWith('Plan: 4 to add, 2 to change, 3 to replace, 0 to destroy.\n'));
  assert.equal(
    blocksOf(text).map((b) => b.object),
    ['vlan.eth0.50', 'endpoint.web2', 'endpoint.web1'],
    'in the order of their first stage',
  );
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
  assert.not.ok(compact(plan).includes('\x1b['), 'no ANSI escapes in the compact form without color');
  const colored = renderPlan(planToJson(plan), { color: true, compact: true });
  assert.ok(colored.includes('\n\x1b[36m-/+\x1b[0m endpoint.web1  '), 'a cyan -/+ with color');
  assert.ok(colored.includes('\n  \x1b[33m~\x1b[0m vlan.eth0.50 '), 'a yellow ~, padded outside the colour');
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
  assert.equal(Object.keys(json.changes[0]!).slice(0, 5), ['object', 'change', 'reason', 'stage', 'group']);
  assert.equal(json.summary, { add: plan.actions.length, change: 0, replace: 0, destroy: 0 });
  assert.equal(json.warnings, []);
  assert.equal(JSON.parse(JSON.stringify(json)), json, 'plain JSON');
});

test.run();
