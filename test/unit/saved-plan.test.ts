// Saved plans: the fingerprint of what a plan depends on (stable under what changes nothing,
// different, with the right words, under what does), and plan --out → apply PLANFILE on the
// in-memory kernel: exactly the saved operations, or refused with nothing applied.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applySaved, namespacesOf, planToSave, reconcile } from '../../src/apply/reconcile.js';
import { StalePlanError } from '../../src/errors.js';
import { checkObserved, currentConfigText, readSavedPlan, savedBlock, writeSavedPlan, type SavedPlan } from '../../src/cli/saved.js';
import { camelKeys, document, snakeKeys } from '../../src/cli/output.js';
import { planData } from '../../src/cli/commands.js';
import { describeStaleness, fingerprint, fingerprintedState, fingerprintScope } from '../../src/plan/saved.js';
import type { Config, KernelOp, ObservedState } from '../../src/model/types.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { config, endpoint, link, network, subnet } from '../fixtures/plan/build.js';

const cfg: Config = config(
  [network('mac50', { parent: 'eth0', subnets: [subnet('192.168.50.0/24', '192.168.50.1')] })],
  [endpoint('web1', 'mac50'), endpoint('web2', 'mac50')],
);
const subnetsOf = (c: Config) => c.networks.flatMap((n) => n.subnets.map((s) => s.cidr));
const world = () => new MemoryKernel().seed({ links: [link('eth0', { index: 2 }), link('lo', { index: 1, mtu: 65536 })] });

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-saved-'));
let n = 0;

/** What `plan -f FILE --out PLANFILE` does, on `kernel`: the saved plan read back from its file. */
async function saveOn(kernel: MemoryKernel, c: Config = cfg): Promise<{ planned: SavedPlan; configFile: string }> {
  const configFile = path.join(tmp, `vlannet-${++n}.yaml`);
  fs.writeFileSync(configFile, `# revision ${n}\n`);
  const { plan, observed, desired } = await planToSave(kernel, c);
  const block = savedBlock(configFile, fs.readFileSync(configFile, 'utf8'), plan, observed, fingerprintScope(desired, plan, subnetsOf(c)));
  const planFile = path.join(tmp, `plan-${n}.json`);
  writeSavedPlan(planFile, document('plan', { file: configFile, daemonPid: null, ...planData(plan), saved: block }));
  return { planned: readSavedPlan(planFile), configFile };
}

/** What `apply PLANFILE` does, on `kernel`. */
async function applyOn(kernel: MemoryKernel, planned: SavedPlan, c: Config = cfg) {
  currentConfigText(planned);
  return applySaved(kernel, c, planned.plan.actions, (observed) => checkObserved(planned, observed));
}

const stateOf = async (kernel: MemoryKernel, c: Config = cfg) => {
  const observed = await kernel.observe(namespacesOf(c));
  const { plan, desired } = await planToSave(kernel, c);
  return { observed, scope: fingerprintScope(desired, plan, subnetsOf(c)) };
};

const shuffled = (s: ObservedState): ObservedState => ({
  ...s,
  namespaces: [...s.namespaces].reverse(),
  links: [...s.links].reverse().map((l) => ({ ...l, index: l.index + 100 })),
  addresses: [...s.addresses].reverse(),
  routes: [...s.routes].reverse(),
});

test('the same state in another order, with other ifindexes, has the same fingerprint', async () => {
  const kernel = world();
  await reconcile(kernel, cfg);
  const { observed, scope } = await stateOf(kernel);
  assert.is(fingerprint(fingerprintedState(shuffled(observed), scope)), fingerprint(fingerprintedState(observed, scope)));
});

test('what the plan does not depend on changes nothing: another namespace, a foreign link elsewhere, a host address outside the subnets', async () => {
  const kernel = world();
  const { observed: before, scope } = await stateOf(kernel);
  kernel.seed({
    links: [
      link('veth0', { netns: 'unrelated', kind: 'veth', index: 5 }),
      link('docker0', { kind: 'bridge', index: 7 }),
      link('eth9', { index: 8 }),
    ],
    addresses: [{ netns: null, link: 'docker0', family: 4, address: '172.17.0.1', prefixLength: 16 }],
  });
  await kernel.apply({ op: 'link-set', netns: null, name: 'lo', set: { mtu: 1500 }, before: { mtu: 65536 } });
  const after = await kernel.observe(namespacesOf(cfg));
  assert.is(fingerprint(fingerprintedState(after, scope)), fingerprint(fingerprintedState(before, scope)));
});

test('what the plan depends on changes the fingerprint, and is said', async () => {
  const cases: [string, (k: MemoryKernel) => Promise<void> | void, RegExp][] = [
    [
      'the parent MTU',
      (k) => k.apply({ op: 'link-set', netns: null, name: 'eth0', set: { mtu: 9000 }, before: { mtu: 1500 } }),
      /^in vlannet's own namespace: link eth0: mtu 1500 → 9000$/,
    ],
    [
      'the parent gone',
      (k) => k.apply({ op: 'link-del', netns: null, name: 'eth0', before: cfgParent(), addresses: [], routes: [] }),
      /link eth0 is gone/,
    ],
    [
      'a foreign link taking a name',
      (k) => void k.seed({ links: [link('eth0', { netns: 'web1', kind: 'dummy', index: 3 })] }),
      /in namespace web1: link eth0 appeared \(dummy, not vlannet's\)/,
    ],
    [
      'a namespace appearing',
      (k) => void k.seed({ namespaces: [{ name: 'web2', owned: false }] }),
      /in namespace web2: the namespace appeared \(not vlannet's\)/,
    ],
    [
      'an address taken in a subnet',
      (k) =>
        void k.seed({
          links: [link('eth1', { index: 4 })],
          addresses: [{ netns: null, link: 'eth1', family: 4, address: '192.168.50.2', prefixLength: 24 }],
        }),
      /address 192\.168\.50\.2\/24 appeared on eth1/,
    ],
    [
      'a foreign macvlan on the parent',
      (k) => void k.seed({ links: [link('mv0', { kind: 'macvlan', parent: 'eth0', mode: 'bridge', index: 6 })] }),
      /link mv0 appeared \(macvlan on eth0, not vlannet's\)/,
    ],
  ];
  for (const [what, change, words] of cases) {
    const kernel = world();
    const { observed: before, scope } = await stateOf(kernel);
    await change(kernel);
    const after = await kernel.observe(namespacesOf(cfg));
    const [a, b] = [fingerprintedState(before, scope), fingerprintedState(after, scope)];
    assert.is.not(fingerprint(b), fingerprint(a), what);
    const lines = describeStaleness(a, b);
    assert.ok(
      lines.some((l) => words.test(l)),
      `${what}: ${lines.join(' | ')}`,
    );
  }
});
const cfgParent = () => ({
  netns: null,
  name: 'eth0',
  kind: 'dummy' as const,
  parent: null,
  mtu: 1500,
  up: true,
  alias: '',
  identity: null,
  mac: null,
});

test('a kernel operation survives the round trip through the JSON file', async () => {
  const { planned } = await saveOn(world());
  const { plan } = await planToSave(world(), cfg);
  assert.ok(plan.actions.length > 0);
  assert.equal(planned.plan.actions, plan.actions);
  for (const a of plan.actions) assert.equal(camelKeys(snakeKeys(a.op)) as KernelOp, a.op);
});

test('plan --out, then apply PLANFILE: exactly the saved operations, then the kernel matches the config', async () => {
  const kernel = world();
  const { planned } = await saveOn(kernel);
  assert.is(kernel.applied.length, 0);
  const result = await applyOn(kernel, planned);
  assert.equal(
    kernel.applied,
    planned.plan.actions.map((a) => a.op),
  );
  assert.is(result.executed.length, planned.plan.actions.length);
  assert.is((await reconcile(kernel, cfg, { dryRun: true })).plan.actions.length, 0);
});

test('a saved plan with nothing to do is current and does nothing', async () => {
  const kernel = world();
  await reconcile(kernel, cfg);
  const done = kernel.applied.length;
  const { planned } = await saveOn(kernel);
  assert.is(planned.plan.actions.length, 0);
  await applyOn(kernel, planned);
  assert.is(kernel.applied.length, done);
});

const refused = async (kernel: MemoryKernel, planned: SavedPlan, words: RegExp) => {
  const before = kernel.applied.length;
  try {
    await applyOn(kernel, planned);
    assert.unreachable('a stale plan was applied');
  } catch (e) {
    if (!(e instanceof StalePlanError)) throw e;
    assert.match(e.message, /^stale plan: /);
    assert.match(e.message, words);
    assert.match(e.message, /Nothing was changed/);
  }
  assert.is(kernel.applied.length, before, 'nothing was applied');
};

test('refused, nothing applied: drift of a link the plan touches', async () => {
  const kernel = world();
  await reconcile(kernel, cfg);
  // web1's endpoint drifted: the saved plan sets its MTU back; then someone changes it again.
  await kernel.apply({ op: 'link-set', netns: 'web1', name: 'eth0', set: { mtu: 1400 }, before: { mtu: 1500 } });
  const { planned } = await saveOn(kernel);
  assert.ok(planned.plan.actions.some((a) => a.op.op === 'link-set'));
  await kernel.apply({ op: 'link-set', netns: 'web1', name: 'eth0', set: { mtu: 1300 }, before: { mtu: 1400 } });
  await refused(kernel, planned, /in namespace web1: link eth0: mtu 1400 → 1300/);
});

test('refused, nothing applied: a foreign link takes a name the plan needs', async () => {
  const kernel = world();
  const { planned } = await saveOn(kernel);
  kernel.seed({ links: [link('eth0', { netns: 'web2', kind: 'dummy', index: 9 })] });
  await refused(kernel, planned, /the kernel changed since .* was saved:\n {2}in namespace web2: the namespace appeared/);
});

test('refused, nothing applied: the config file changed', async () => {
  const kernel = world();
  const { planned, configFile } = await saveOn(kernel);
  fs.appendFileSync(configFile, '# edited\n');
  await refused(kernel, planned, /the config file .* changed \(revision [0-9a-f]{12} → [0-9a-f]{12}\)/);
});

test('a file that is not a saved plan, or whose changes and actions disagree, is refused with what was expected', async () => {
  const bad = path.join(tmp, 'bad.json');
  fs.writeFileSync(bad, '{"format_version": 2, "command": "show"}');
  assert.throws(() => readSavedPlan(bad), /not a saved plan \(expected the JSON document `vlannet plan --out` writes/);
  fs.writeFileSync(bad, 'nope');
  assert.throws(() => readSavedPlan(bad), /not a saved plan: not JSON/);
  const { planned } = await saveOn(world());
  const edited = { ...planned.document, changes: (planned.document.changes as unknown[]).slice(1) };
  fs.writeFileSync(bad, JSON.stringify(edited));
  assert.throws(() => readSavedPlan(bad), /disagree/);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
