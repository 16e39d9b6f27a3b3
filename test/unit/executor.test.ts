// The executor and the apply loop on the in-memory kernel: each namespace in its stages' order and
// independent of the others, rollback to the exact previous state, error messages, verification, the lock.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dependsOn, executePlan } from '../../src/apply/execute.js';
import { describeApplyError } from '../../src/plan/describe.js';
import { ApplyError } from '../../src/errors.js';
import { reconcile } from '../../src/apply/reconcile.js';
import { VerifyError } from '../../src/errors.js';
import { acquireLock } from '../../src/kernel/flock.js';
import { LockBusyError } from '../../src/errors.js';
import { makePlan, STAGE } from '../../src/plan/plan.js';
import { pastPointOfNoReturn } from '../../src/plan/order.js';
import {
  netnsOfOp,
  type Action,
  type Config,
  type Kernel,
  type KernelOp,
  type LinkSpec,
  type ObservedState,
} from '../../src/model/types.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { prng } from '../support/random-world.js';
import { config, endpoint, link, network, subnet, linkSpec } from '../fixtures/plan/build.js';

/** The same kernel state, whatever the order the objects were listed in; ifindexes are new after a re-create. */
const canonical = (s: ObservedState) =>
  Object.fromEntries(
    Object.entries(s).map(([k, v]) => [k, Array.isArray(v) ? v.map((x) => JSON.stringify({ ...x, index: undefined })).sort() : v]),
  );

const world = () => new MemoryKernel().seed({ links: [link('eth0', { index: 2 })] });
const trunk = (n: number): Config =>
  config(
    [
      network('mac50', {
        parent: 'eth0.50',
        subnets: [subnet('192.168.50.0/24', '192.168.50.1'), subnet('2001:db8:50::/64', '2001:db8:50::1')],
      }),
    ],
    Array.from({ length: n }, (_, i) => endpoint(`web${i}`, 'mac50')),
  );

/** Wraps a kernel to record which operations were in flight together; `delayMs` says how long each takes. */
class Recorder implements Kernel {
  inFlight = 0;
  maxInFlight = 0;
  readonly maxPerStage = new Map<string, number>();
  private readonly perStage = new Map<string, number>();
  /** `start|end OP NETNS`, in order. */
  log: string[] = [];
  constructor(
    private readonly inner: Kernel,
    private readonly delayMs: (op: KernelOp) => number = () => 1,
  ) {}
  observe(netns: string[]) {
    return this.inner.observe(netns);
  }
  async apply(op: KernelOp) {
    const what = `${op.op} ${netnsOfOp(op) ?? 'host'}`;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.perStage.set(op.op, (this.perStage.get(op.op) ?? 0) + 1);
    this.maxPerStage.set(op.op, Math.max(this.maxPerStage.get(op.op) ?? 0, this.perStage.get(op.op)!));
    this.log.push(`start ${what}`);
    await new Promise((r) => setTimeout(r, this.delayMs(op)));
    try {
      await this.inner.apply(op);
    } finally {
      this.inFlight--;
      this.perStage.set(op.op, this.perStage.get(op.op)! - 1);
      this.log.push(`end ${what}`);
    }
  }
  close() {}
}

const STAGE_ORDER = ['netns-add', 'link-add', 'addr-add', 'route-add'];
const spec = (netns: string | null): LinkSpec => linkSpec({ netns, name: 'eth0', parent: 'eth0.50' });

test('one stage is sent together; within a namespace the next stage waits for the one before', async () => {
  const kernel = new Recorder(world());
  const names = Array.from({ length: 20 }, (_, i) => `web${i}`);
  const plan = makePlan(trunk(20), await kernel.observe(names));
  const done = await executePlan(kernel, plan.actions);
  assert.is(done.length, plan.actions.length);
  assert.ok(kernel.maxInFlight >= 20, `expected 20 endpoint creations in flight, saw ${kernel.maxInFlight}`);
  for (const ns of names) {
    // In each namespace: its namespace, then its link, then its addresses, then its routes.
    const starts = STAGE_ORDER.map((op) => kernel.log.indexOf(`start ${op} ${ns}`));
    const ends = STAGE_ORDER.map((op) => kernel.log.lastIndexOf(`end ${op} ${ns}`));
    for (let k = 1; k < STAGE_ORDER.length; k++)
      assert.ok(ends[k - 1]! < starts[k]!, `${ns}: ${STAGE_ORDER[k]} started before ${STAGE_ORDER[k - 1]} ended`);
    // And every endpoint link after the vlan parent it hangs from (vlannet's own namespace).
    assert.ok(kernel.log.indexOf('end link-add host') < starts[1]!, `${ns}: link created before its parent`);
  }
});

test('namespaces do not wait for each other: a slow one holds back only itself', async () => {
  // web0's namespace takes 60 ms to make; the others 1 ms.
  const kernel = new Recorder(world(), (op) => (op.op === 'netns-add' && op.netns === 'web0' ? 60 : 1));
  const names = ['web0', 'web1', 'web2'];
  const plan = makePlan(trunk(3), await kernel.observe(names));
  await executePlan(kernel, plan.actions);
  const slowDone = kernel.log.indexOf('end netns-add web0');
  assert.ok(kernel.log.indexOf('end route-add web1') < slowDone, `web1 waited for web0:\n${kernel.log.join('\n')}`);
  assert.ok(kernel.log.indexOf('end route-add web2') < slowDone, 'web2 waited for web0');
  assert.ok(slowDone < kernel.log.indexOf('start link-add web0'), 'web0 itself kept its order');
});

test('at most a window of one stage is in flight; the rest follows as slots free', async () => {
  const kernel = new Recorder(world());
  const names = Array.from({ length: 150 }, (_, i) => `web${i}`);
  const plan = makePlan(trunk(150), await kernel.observe(names));
  await executePlan(kernel, plan.actions);
  for (const [op, max] of kernel.maxPerStage) assert.ok(max <= 64, `${max} ${op} in flight at once`);
  assert.is(kernel.maxPerStage.get('netns-add'), 64);
});

test("what an action waits for: its namespace and vlannet's own at lower stages, and every lower-stage deletion", () => {
  const action = (op: KernelOp, stage: number): Action => ({ object: 'x', change: 'create', reason: { code: 'absent' }, op, stage });
  const netnsAdd = (netns: string) => action({ op: 'netns-add', netns }, STAGE.netnsAdd);
  const link = (netns: string | null) =>
    action({ op: 'link-add', link: spec(netns) }, netns === null ? STAGE.parentAdd : STAGE.endpointAdd);
  const addr = (netns: string, stage: number = STAGE.addrAdd) =>
    action({ op: 'addr-add', addr: { netns, link: 'eth0', family: 4, address: '10.0.0.2', prefixLength: 24 } }, stage);
  const del = (netns: string) =>
    action({ op: 'link-del', netns, name: 'eth0', before: spec(netns), addresses: [], routes: [] }, STAGE.endpointDel);
  assert.ok(dependsOn(link('a'), netnsAdd('a')), 'a link waits for its namespace');
  assert.not.ok(dependsOn(link('a'), netnsAdd('b')), 'not for another namespace');
  assert.ok(dependsOn(link('a'), link(null)), "a link waits for the parents in vlannet's namespace");
  assert.ok(
    dependsOn(addr('a', STAGE.addrAddAfter), del('b')),
    'a create after the point of no return waits for a deletion anywhere (it may free a MAC or an address)',
  );
  assert.not.ok(dependsOn(addr('a'), del('b')), 'creates before the point of no return come before every deletion');
  assert.not.ok(dependsOn(addr('a'), addr('b')), 'one stage: independent');
  assert.not.ok(dependsOn(netnsAdd('a'), link('a')), 'never on a later stage');
});

test('property: no action starts before everything it depends on has completed, nor past the point of no return before every step before it (200 random executions)', async () => {
  const kinds = [
    (netns: string | null): KernelOp =>
      netns === null ? { op: 'link-del', netns, name: 'x', before: spec(null), addresses: [], routes: [] } : { op: 'netns-add', netns },
    (netns: string | null): KernelOp => ({ op: 'link-add', link: spec(netns) }),
    (netns: string | null): KernelOp => ({
      op: 'addr-del',
      addr: { netns, link: 'eth0', family: 4, address: '10.0.0.2', prefixLength: 24 },
    }),
    (netns: string | null): KernelOp => ({
      op: 'route-add',
      route: { netns, family: 4, dst: 'default', gateway: '10.0.0.1', dev: 'eth0', protocol: 201 },
    }),
  ];
  for (let seed = 1; seed <= 200; seed++) {
    const r = prng(seed);
    const actions: Action[] = Array.from({ length: 5 + r.int(40) }, (_, i) => {
      const netns = r.chance(0.15) ? null : `ns${r.int(6)}`;
      return {
        object: `o${i}`,
        change: 'create' as const,
        reason: { code: 'absent' as const },
        op: r.pick(kinds)(netns),
        stage: 1 + r.int(16),
      };
    }).sort((a, b) => a.stage - b.stage);
    const span = new Map<Action, { start: number; end: number }>();
    let clock = 0;
    const byOp = new Map(actions.map((a) => [a.op, a]));
    const kernel: Kernel = {
      observe: async () => {
        throw new Error('not used');
      },
      apply: async (op) => {
        const s = { start: ++clock, end: 0 };
        span.set(byOp.get(op)!, s);
        if (r.chance(0.6)) await new Promise((resolve) => setTimeout(resolve, r.int(3)));
        s.end = ++clock;
      },
      close() {},
    };
    const done = await executePlan(kernel, actions);
    assert.is(done.length, actions.length, `seed ${seed}: every action ran`);
    for (const later of actions) {
      for (const earlier of actions) {
        if (pastPointOfNoReturn(later) && !pastPointOfNoReturn(earlier)) {
          assert.ok(
            span.get(earlier)!.end < span.get(later)!.start,
            `seed ${seed}: stage ${later.stage} started before stage ${earlier.stage} (before the point of no return) ended`,
          );
        }
        if (!dependsOn(later, earlier)) continue;
        assert.ok(
          span.get(earlier)!.end < span.get(later)!.start,
          `seed ${seed}: ${later.op.op} (stage ${later.stage}, ${netnsOfOp(later.op)}) started before ${earlier.op.op} (stage ${earlier.stage}, ${netnsOfOp(earlier.op)}) ended`,
        );
      }
    }
  }
});

test('a failure starts nothing new; what was in flight settles and is rolled back with the rest', async () => {
  const inner = world();
  const names = ['web0', 'web1', 'web2'];
  const before = await inner.observe(names);
  // web1's namespace is still being made when web0's link fails.
  inner.failNext((op) => op.op === 'link-add' && op.link.netns === 'web0', 'EBUSY');
  const kernel = new Recorder(inner, (op) => (op.op === 'netns-add' && op.netns === 'web1' ? 40 : 1));
  const plan = makePlan(trunk(3), before);
  const error = await executePlan(kernel, plan.actions).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(error, ApplyError);
  assert.is((error as ApplyError).rollback?.failed.length, 0);
  assert.ok(
    kernel.log.indexOf('end netns-add web1') > kernel.log.indexOf('end link-add web0'),
    "web1's namespace was in flight at the failure",
  );
  assert.not.ok(kernel.log.includes('start link-add web1'), 'nothing new started after the failure');
  assert.equal(canonical(await inner.observe(names)), canonical(before));
});

test('reconcile converges, verifies, and a second run executes nothing', async () => {
  const kernel = world();
  const first = await reconcile(kernel, trunk(3));
  assert.ok(first.executed.length > 0);
  const second = await reconcile(kernel, trunk(3));
  assert.is(second.executed.length, 0);
  assert.is(second.plan.actions.length, 0);
});

test('a kernel refusal half way rolls everything back and names object, operation, errno and hint', async () => {
  const kernel = world();
  const cfg = trunk(3);
  const before = await kernel.observe(['web0', 'web1', 'web2']);
  kernel.failNext((op) => op.op === 'link-add' && op.link.name === 'eth0' && op.link.netns === 'web2', 'EBUSY');
  let error: unknown;
  try {
    await reconcile(kernel, cfg);
  } catch (e) {
    error = e;
  }
  assert.instance(error, ApplyError);
  const e = error as ApplyError;
  assert.match(e.message, /endpoint\.web2: link add eth0 in web2 link eth0\.50 type macvlan mode bridge .*failed: the kernel said EBUSY/);
  assert.match(e.message, /hint: the parent eth0\.50 already carries links of another kind/);
  assert.is(e.rollback?.failed.length, 0);
  assert.ok(e.rollback!.undone > 0);
  assert.equal(canonical(await kernel.observe(['web0', 'web1', 'web2'])), canonical(before));
});

test('a refusal after the point of no return undoes nothing, says what is not done, and the next apply finishes', async () => {
  const kernel = world();
  await reconcile(kernel, trunk(2));
  // Removing the network deletes both namespaces and the vlan; the vlan's deletion (last) fails.
  kernel.failNext((op) => op.op === 'link-del' && op.name === 'eth0.50', 'EPERM');
  const empty = config([], []);
  const error = await reconcile(kernel, empty).then(
    () => null,
    (e: unknown) => e,
  );
  assert.instance(error, ApplyError);
  const e = error as ApplyError;
  assert.is(e.rollback, null, 'nothing is undone after the point of no return');
  assert.equal(
    e.notDone.map((a) => a.object),
    ['vlan.eth0.50'],
  );
  const text = describeApplyError(e).join('\n');
  assert.match(text, /EPERM[\s\S]*hint: vlannet needs CAP_NET_ADMIN/);
  assert.match(text, /point of no return: everything new is in place, nothing was undone, and 1 step was not done \(vlan\.eth0\.50\)/);
  const after = await kernel.observe(['web0', 'web1']);
  assert.equal(after.namespaces, [], 'the namespaces were removed before the failure');
  const next = await reconcile(kernel, empty);
  assert.equal(
    next.executed.map((a) => `${a.object} ${a.op.op}`),
    ['vlan.eth0.50 link-del'],
    'the next apply finishes the work',
  );
});

test('a kernel that does not do what it acknowledged fails verification, listing what remains', async () => {
  const inner = world();
  const lying: Kernel = {
    observe: (ns) => inner.observe(ns),
    apply: async (op) => {
      if (op.op !== 'route-add') await inner.apply(op);
    },
    close() {},
  };
  await reconcile(lying, trunk(1)).then(
    () => assert.unreachable('should have failed'),
    (e) => {
      assert.instance(e, VerifyError);
      assert.match((e as Error).message, /endpoint\.web0\.route4: route add default via 192\.168\.50\.1 dev eth0 in web0/);
    },
  );
});

test("verification looks where the run acted: drift elsewhere is the next run's, and a full plan finds it", async () => {
  const inner = world();
  await reconcile(inner, trunk(2));
  // While web0's address is removed behind vlannet's back, a run that adds web2 verifies web2's namespace (clean) and leaves web0 to the next run.
  let drifted = false;
  const meddling: Kernel = {
    observe: (ns) => inner.observe(ns),
    apply: async (op) => {
      await inner.apply(op);
      if (!drifted && op.op === 'route-add') {
        drifted = true;
        const addr = (await inner.observe(['web0'])).addresses.find((a) => a.netns === 'web0' && a.family === 4)!;
        await inner.apply({ op: 'addr-del', addr });
      }
    },
    close() {},
  };
  const run = await reconcile(meddling, trunk(3));
  assert.ok(
    run.executed.every((a) => a.object.includes('web2')),
    run.executed.map((a) => a.object).join(', '),
  );
  const next = await reconcile(inner, trunk(3));
  // The kernel dropped web0's default route with its last IPv4 address: both come back.
  assert.equal(
    next.executed.map((a) => `${a.object} ${a.op.op}`),
    ['endpoint.web0.ipv4 addr-add', 'endpoint.web0.route4 route-add'],
    'the next run repairs web0',
  );
});

test('the lock: a second holder fails at once and names the first; released, it can be taken again', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-lock-'));
  try {
    const first = acquireLock('apply', dir);
    assert.throws(
      () => acquireLock('daemon', dir),
      (e: unknown) => e instanceof LockBusyError && e.message.includes(`pid ${process.pid}: apply`),
    );
    first.release();
    acquireLock('daemon', dir).release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('observed state round-trips through JSON unchanged (show --json feeds plan --observed)', async () => {
  const kernel = world();
  await reconcile(kernel, trunk(2));
  const state: ObservedState = await kernel.observe(['web0', 'web1']);
  const back = JSON.parse(JSON.stringify(state)) as ObservedState;
  assert.is(makePlan(trunk(2), back).actions.length, 0);
});

test.run();
