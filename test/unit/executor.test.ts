// The executor and the apply loop on the in-memory kernel: pipelining within a stage and never
// across stages, rollback to the exact previous state, error messages, verification, the lock.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApplyError, executePlan } from '../../src/apply/execute.js';
import { reconcile, VerifyError } from '../../src/apply/reconcile.js';
import { acquireLock, LockBusyError } from '../../src/kernel/flock.js';
import { makePlan } from '../../src/plan/plan.js';
import type { Config, Kernel, KernelOp, ObservedState } from '../../src/model/types.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { config, endpoint, link, network, subnet } from '../fixtures/plan/build.js';

/** The same kernel state, whatever the order the objects were listed in; ifindexes are new after a re-create. */
const canonical = (s: ObservedState) => Object.fromEntries(Object.entries(s).map(([k, v]) =>
  [k, Array.isArray(v) ? v.map((x) => JSON.stringify({ ...x, index: undefined })).sort() : v]));

const world = () => new MemoryKernel().seed({ links: [link('eth0', { index: 2 })] });
const trunk = (n: number): Config => config(
  [network('mac50', { parent: 'eth0.50', subnets: [subnet('192.168.50.0/24', '192.168.50.1'), subnet('2001:db8:50::/64', '2001:db8:50::1')] })],
  Array.from({ length: n }, (_, i) => endpoint(`web${i}`, 'mac50')),
);

/** Wraps a kernel to record which operations were in flight together. */
class Recorder implements Kernel {
  inFlight = 0;
  maxInFlight = 0;
  log: string[] = [];
  constructor(private readonly inner: Kernel) {}
  observe(netns: string[]) { return this.inner.observe(netns); }
  async apply(op: KernelOp) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    this.log.push(`start ${op.op}`);
    await new Promise((r) => setTimeout(r, 1));
    try { await this.inner.apply(op); } finally { this.inFlight--; this.log.push(`end ${op.op}`); }
  }
  close() {}
}

test('a stage is sent together; the next stage starts only when the previous one is done', async () => {
  const kernel = new Recorder(world());
  const cfg = trunk(20);
  const plan = makePlan(cfg, await kernel.observe(['web0']));
  const done = await executePlan(kernel, plan.actions);
  assert.is(done.length, plan.actions.length);
  assert.ok(kernel.maxInFlight >= 20, `expected 20 endpoint creations in flight, saw ${kernel.maxInFlight}`);
  // Every address is added after every link exists: no addr-add starts before the last link-add ends.
  const lastLinkEnd = kernel.log.lastIndexOf('end link-add');
  const firstAddrStart = kernel.log.indexOf('start addr-add');
  assert.ok(lastLinkEnd < firstAddrStart, 'addresses were added before their links existed');
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
  try { await reconcile(kernel, cfg); } catch (e) { error = e; }
  assert.instance(error, ApplyError);
  const e = error as ApplyError;
  assert.match(e.message, /endpoint\.web2: create macvlan link eth0 on eth0\.50 in netns web2 failed: the kernel said EBUSY/);
  assert.match(e.message, /hint: the parent eth0\.50 already carries links of another kind/);
  assert.is(e.rollback.failed.length, 0);
  assert.ok(e.rollback.undone > 0);
  assert.equal(canonical(await kernel.observe(['web0', 'web1', 'web2'])), canonical(before));
});

test('rolling back deletions restores the links with their addresses and routes', async () => {
  const kernel = world();
  await reconcile(kernel, trunk(2));
  const before = await kernel.observe(['web0', 'web1']);
  // Removing the network deletes both endpoints and the vlan; make the vlan deletion fail last.
  kernel.failNext((op) => op.op === 'link-del' && op.name === 'eth0.50', 'EPERM');
  const empty = config([], []);
  await reconcile(kernel, empty).then(() => assert.unreachable('should have failed'), (e) => {
    assert.instance(e, ApplyError);
    assert.match((e as Error).message, /EPERM[\s\S]*hint: vlannet needs CAP_NET_ADMIN/);
  });
  assert.equal(canonical(await kernel.observe(['web0', 'web1'])), canonical(before));
});

test('a kernel that does not do what it acknowledged fails verification, listing what remains', async () => {
  const inner = world();
  const lying: Kernel = {
    observe: (ns) => inner.observe(ns),
    apply: async (op) => { if (op.op !== 'route-add') await inner.apply(op); },
    close() {},
  };
  await reconcile(lying, trunk(1)).then(() => assert.unreachable('should have failed'), (e) => {
    assert.instance(e, VerifyError);
    assert.match((e as Error).message, /endpoint\.web0\.route4: add route default via 192\.168\.50\.1 dev eth0/);
  });
});

test('verification looks where the run acted: drift elsewhere is the next run\'s, and a full plan finds it', async () => {
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
  assert.ok(run.executed.every((a) => a.object.includes('web2')), run.executed.map((a) => a.object).join(', '));
  const next = await reconcile(inner, trunk(3));
  assert.equal(next.executed.map((a) => `${a.object} ${a.op.op}`), ['endpoint.web0.ipv4 addr-add'], 'the next run repairs web0');
});

test('the lock: a second holder fails at once and names the first; released, it can be taken again', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-lock-'));
  try {
    const first = acquireLock('apply', dir);
    assert.throws(() => acquireLock('daemon', dir), (e: unknown) =>
      e instanceof LockBusyError && e.message.includes(`pid ${process.pid}: apply`));
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
