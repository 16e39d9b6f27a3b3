// The daemon's loop on the in-memory kernel: converge, drift repair, invalid and truncated
// configs keep the last good one, reload, stop finishing an apply, retry backoff, flap hold,
// debounce. Timings are shortened; the real file system and the real config loader are used.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { namespacesOf } from '../../src/apply/reconcile.js';
import { makePlan } from '../../src/plan/plan.js';
import { loadConfig } from '../../src/config/load.js';
import { Daemon, type Timing } from '../../src/daemon/loop.js';
import type { RunRecord } from '../../src/control/protocol.js';
import { memoryLogger } from '../../src/daemon/log.js';
import type { Notifier } from '../../src/daemon/sdnotify.js';
import type { Config, KernelOp } from '../../src/model/types.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { configText, ETH0 } from '../support/daemon-world.js';

interface World {
  dir: string;
  file: string;
  kernel: MemoryKernel;
  daemon: Daemon;
  log: ReturnType<typeof memoryLogger>;
  notes: Record<string, string>[];
  runs: RunRecord[];
  nextRun(): Promise<RunRecord>;
  write(text: string): void;
  converged(): Promise<boolean>;
}

const FAST: Partial<Timing> = {
  configDebounceMs: 10,
  configMaxWaitMs: 100,
  kernelDebounceMs: 1,
  kernelMaxWaitMs: 10,
  resyncMs: 60_000,
  retryBaseMs: 20,
  retryMaxMs: 200,
  failingKernelHoldMs: 20,
  flapWindowMs: 500,
  flapHoldBaseMs: 40,
  flapHoldMaxMs: 400,
  unsettledRetryMs: 30,
  settleMs: 150,
};

function world(text: string, opts: { kernel?: MemoryKernel; timing?: Partial<Timing> } = {}): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-daemon-'));
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, text);
  const kernel = opts.kernel ?? new MemoryKernel().seed({ links: [ETH0] });
  const log = memoryLogger();
  const notes: Record<string, string>[] = [];
  const notifier: Notifier = {
    enabled: true,
    watchdogMs: null,
    send: (s) => {
      notes.push(s);
      return true;
    },
    close() {},
  };
  const runs: RunRecord[] = [];
  const waiters: ((r: RunRecord) => void)[] = [];
  const daemon = new Daemon({
    file,
    kernel,
    log,
    loadConfig,
    notifier,
    timing: { ...FAST, ...opts.timing },
    observers: [
      {
        runFinished: (r) => {
          runs.push(r);
          waiters.shift()?.(r);
        },
      },
    ],
  });
  return {
    dir,
    file,
    kernel,
    daemon,
    log,
    notes,
    runs,
    nextRun: () =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no run within 3 s')), 3000);
        waiters.push((r) => {
          clearTimeout(t);
          resolve(r);
        });
      }),
    // Written to a temporary file and renamed over, with an mtime in the past, as an editor does.
    write(t: string) {
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, t);
      fs.renameSync(tmp, file);
    },
    async converged() {
      const config = daemon.lastGood!.config as Config;
      return makePlan(config, await kernel.observe(namespacesOf(config))).actions.length === 0;
    },
  };
}

const endpointLinks = async (k: MemoryKernel) =>
  (await k.observe(['a', 'b', 'c'])).links
    .filter((l) => l.kind === 'macvlan')
    .map((l) => l.name)
    .sort();

test('the first run converges; a second executes nothing; READY=1 comes after the first run', async () => {
  const w = world(configText(['a', 'b']));
  const first = await w.daemon.start();
  assert.is(first.result, 'applied');
  assert.ok(first.executed > 0);
  assert.ok(await w.converged());
  assert.ok(w.notes.some((n) => n.READY === '1'));
  assert.equal(await endpointLinks(w.kernel), ['eth0', 'eth0']);
  const next = w.nextRun();
  w.daemon.schedule('resync');
  const second = await next;
  assert.is(second.result, 'converged');
  assert.is(second.executed, 0);
  await w.daemon.stop();
});

test('drift: an endpoint deleted behind its back is repaired and counted', async () => {
  const w = world(configText(['a']));
  await w.daemon.start();
  const link = (await w.kernel.observe(['a'])).links.find((l) => l.netns === 'a' && l.kind === 'macvlan')!;
  await w.kernel.apply({ op: 'link-del', netns: 'a', name: link.name, before: {} as never, addresses: [], routes: [] });
  assert.not.ok(await w.converged());
  const next = w.nextRun();
  w.daemon.schedule('kernel');
  const run = await next;
  assert.is(run.result, 'repaired');
  assert.is(w.daemon.driftRepairs, 1);
  assert.ok(await w.converged());
  assert.ok(
    w.log.lines.some((l) => l.startsWith('<6>create endpoint.a')),
    w.log.lines.join('\n'),
  );
  await w.daemon.stop();
});

test('an invalid config changes nothing, keeps the last good one enforced and says why with line:column', async () => {
  const w = world(configText(['a', 'b']));
  await w.daemon.start();
  const good = w.daemon.lastGood!.hash;
  const before = await endpointLinks(w.kernel);
  let next = w.nextRun();
  w.write(configText(['a']).replace('driver: macvlan', 'driver: macvlna'));
  w.daemon.schedule('config');
  let run = await next;
  assert.is(run.result, 'converged');
  assert.is(run.executed, 0);
  assert.is(w.daemon.config.valid, false);
  assert.is(w.daemon.lastGood!.hash, good);
  assert.match(w.daemon.config.errors.join('\n'), /vlannet\.yaml:\d+:\d+/);
  assert.match(w.daemon.summary(), /config invalid/);
  assert.equal(await endpointLinks(w.kernel), before);
  assert.ok(w.log.lines.some((l) => l.startsWith('<3>') && /:\d+:\d+/.test(l)));

  // Drift is still repaired against the last good config while the file is bad.
  const link = (await w.kernel.observe(['b'])).links.find((l) => l.netns === 'b' && l.kind === 'macvlan')!;
  await w.kernel.apply({ op: 'link-del', netns: 'b', name: link.name, before: {} as never, addresses: [], routes: [] });
  next = w.nextRun();
  w.daemon.schedule('kernel');
  run = await next;
  assert.is(run.result, 'repaired');

  // Valid again: applied (b goes away).
  next = w.nextRun();
  w.write(configText(['a']));
  w.daemon.schedule('config');
  run = await next;
  assert.is(run.result, 'applied');
  assert.ok(w.daemon.config.valid);
  assert.equal(await endpointLinks(w.kernel), ['eth0']);
  await w.daemon.stop();
});

test('a config valid again after being invalid says so in one info line; not at start-up, not on later reads', async () => {
  const w = world(configText(['a']));
  await w.daemon.start();
  const good = w.daemon.lastGood!.hash;
  const again = () => w.log.lines.filter((l) => l.includes('config valid again'));
  assert.equal(again(), [], 'not on the first valid read');
  /**
   * Wait for `next`, then for more runs until `done`: an in-place write read within the settle
   * time is read again once the file has been still, a run or two later.
   */
  const settled = async (next: Promise<unknown>, done: () => boolean) => {
    await next;
    for (let tries = 0; !done(); tries++) {
      assert.ok(tries < 5, `settled within 5 runs:\n${w.log.lines.join('\n')}`);
      await w.nextRun();
    }
  };

  // Invalid, read twice (a config event, then a resync): still nothing said about valid again.
  let next = w.nextRun();
  w.write(configText(['a']).replace('driver: macvlan', 'driver: macvlna'));
  w.daemon.schedule('config');
  await next;
  assert.is(w.daemon.config.valid, false);
  next = w.nextRun();
  w.daemon.schedule('resync');
  await next;
  assert.equal(again(), []);

  // Back to the good bytes (the same revision as the one enforced): one info line.
  next = w.nextRun();
  w.write(configText(['a']));
  w.daemon.schedule('config');
  await next;
  assert.ok(w.daemon.config.valid);
  assert.is(again().length, 1, w.log.lines.join('\n'));
  const since = /^<6>config valid again: (.+) revision ([0-9a-f]{12}) \(was invalid since (\S+)\)$/.exec(again()[0]!);
  assert.ok(since, again()[0]);
  assert.is(since![1], w.file);
  assert.is(since![2], good.slice(0, 12));
  assert.ok(!Number.isNaN(Date.parse(since![3]!)) && since![3]!.endsWith('Z'), since![3]);

  // Later reads of the same valid file, a reload (which parses it again) and a new valid
  // revision say nothing more.
  next = w.nextRun();
  w.daemon.schedule('resync');
  await next;
  next = w.nextRun();
  w.daemon.reload();
  await next;
  next = w.nextRun();
  w.write(configText(['a', 'b']));
  w.daemon.schedule('config');
  await settled(next, () => w.daemon.config.valid && w.daemon.appliedHash === w.daemon.lastGood?.hash);
  assert.is(again().length, 1, w.log.lines.join('\n'));

  // Unreadable (deleted), then back: valid again, once more.
  next = w.nextRun();
  fs.rmSync(w.file);
  w.daemon.schedule('config');
  await next;
  assert.is(w.daemon.config.valid, false);
  next = w.nextRun();
  w.write(configText(['a', 'b']));
  w.daemon.schedule('config');
  await settled(next, () => w.daemon.config.valid);
  assert.is(again().length, 2, w.log.lines.join('\n'));
  await w.daemon.stop();
});

test('a file that was never valid is not "valid again" when it becomes valid', async () => {
  const w = world('');
  assert.is((await w.daemon.start()).result, 'no-config');
  const next = w.nextRun();
  w.write(configText(['a']));
  w.daemon.schedule('config');
  assert.is((await next).result, 'applied');
  assert.not.ok(
    w.log.lines.some((l) => l.includes('config valid again')),
    w.log.lines.join('\n'),
  );
  assert.ok(w.log.lines.some((l) => l.startsWith(`<6>config ${w.file} revision`)));
  await w.daemon.stop();
});

test('an empty or truncated file is invalid: nothing removed', async () => {
  const w = world(configText(['a', 'b']));
  await w.daemon.start();
  const cut = configText(['a']);
  for (const text of ['', '\n', 'vers', cut.slice(0, cut.indexOf('endpoints:') + 3), cut.slice(0, cut.indexOf('network: net1') + 13)]) {
    const next = w.nextRun();
    w.write(text);
    fs.utimesSync(w.file, new Date(Date.now() - 5000), new Date(Date.now() - 5000)); // an old write: settled
    w.daemon.schedule('config');
    const run = await next;
    assert.is(run.executed, 0, JSON.stringify(text));
    assert.is(w.daemon.config.valid, false, JSON.stringify(text));
    assert.equal(await endpointLinks(w.kernel), ['eth0', 'eth0']);
  }
  await w.daemon.stop();
});

test('a file written in place in two pieces is applied once, whole, after it has been still for the settle time', async () => {
  const w = world(configText(['a', 'b']));
  await w.daemon.start();
  // The first piece ends at a line end: valid YAML that would delete b and not add c.
  const full = configText(['a', 'c']);
  const piece = full.slice(0, full.indexOf('  c:'));
  const earlier = w.runs.length;
  const written = performance.now();
  fs.writeFileSync(w.file, piece);
  w.daemon.schedule('config');
  await new Promise((resolve) => setTimeout(resolve, FAST.settleMs! / 2));
  fs.writeFileSync(w.file, full); // the writer finishes, half the settle time later
  const finished = performance.now();
  w.daemon.schedule('config');
  let run: RunRecord;
  do run = await w.nextRun();
  while (run.result !== 'applied');
  // File times are coarser than performance.now(): a few ms of slack.
  assert.ok(performance.now() - finished >= FAST.settleMs! - 10, 'applied only once the file had been still for the settle time');
  assert.ok(finished - written >= FAST.settleMs! / 2);
  assert.ok(
    w.runs.slice(earlier).every((r) => r.result !== 'applied' || r === run),
    'the first piece was never applied',
  );
  assert.ok(
    w.log.lines.some((l) => l.includes('is being written')),
    w.log.lines.join('\n'),
  );
  assert.equal(
    (await w.kernel.observe(['a', 'b', 'c'])).namespaces.map((n) => n.name),
    ['a', 'c'],
  );
  await w.daemon.stop();
});

test('a file renamed over (or a symlink flipped) is applied at once, without the settle time', async () => {
  const w = world(configText(['a']), { timing: { settleMs: 5000 } });
  await w.daemon.start();
  const next = w.nextRun();
  const t0 = performance.now();
  w.write(configText(['a', 'b']));
  w.daemon.schedule('config');
  const run = await next;
  assert.is(run.result, 'applied');
  assert.ok(performance.now() - t0 < 1000, 'well before the 5 s settle time');
  await w.daemon.stop();
});

test('with no good config at all, nothing is done (never "own nothing")', async () => {
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  const seeded = world(configText(['a']), { kernel });
  await seeded.daemon.start();
  await seeded.daemon.stop();
  fs.writeFileSync(seeded.file, '');
  const w = world('', { kernel });
  const run = await w.daemon.start();
  assert.is(run.result, 'no-config');
  assert.equal(await endpointLinks(kernel), ['eth0']);
  await w.daemon.stop();
});

test('reload: RELOADING=1, the file is read again, READY=1 after the run', async () => {
  const w = world(configText(['a']));
  await w.daemon.start();
  w.notes.length = 0;
  const next = w.nextRun();
  fs.writeFileSync(w.file, configText(['a', 'b']));
  fs.utimesSync(w.file, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
  w.daemon.reload();
  const run = await next;
  assert.ok(run.triggers.includes('reload'));
  assert.is(run.result, 'applied');
  assert.is(w.notes[0]!.RELOADING, '1');
  assert.is(w.notes[w.notes.length - 1]!.READY, '1');
  assert.match(w.notes[w.notes.length - 1]!.STATUS!, /converged/);
  await w.daemon.stop();
});

class SlowKernel extends MemoryKernel {
  override async apply(op: KernelOp): Promise<void> {
    await new Promise((r) => setTimeout(r, 10));
    return super.apply(op);
  }
}

test('stop during an apply lets it finish, then nothing more runs', async () => {
  const names = Array.from({ length: 40 }, (_, i) => `e${i}`);
  const w = world(configText(names), { kernel: new SlowKernel().seed({ links: [ETH0] }) });
  const started = w.daemon.start();
  while (w.kernel.applied.length === 0) await new Promise((r) => setTimeout(r, 1));
  assert.ok(w.daemon.busy);
  const applied = w.kernel.applied.length;
  assert.ok(applied > 0 && applied < 160, `mid-apply: ${applied} of 160`);
  await w.daemon.stop();
  assert.not.ok(w.daemon.busy);
  const run = await started;
  assert.is(run.result, 'applied');
  assert.ok(await w.converged());
  const count = w.runs.length;
  w.daemon.schedule('kernel');
  await new Promise((r) => setTimeout(r, 30));
  assert.is(w.runs.length, count, 'no run after stop');
});

test('failures are retried with exponential backoff, then succeed', async () => {
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  for (let i = 0; i < 3; i++) kernel.failNext((op) => op.op === 'link-add', 'EBUSY', 'injected');
  const w = world(configText(['a']), { kernel });
  const t0 = performance.now();
  const first = await w.daemon.start();
  assert.is(first.result, 'failed');
  assert.match(first.error!, /EBUSY/);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await w.nextRun();
    times.push(performance.now() - t0);
    if (i < 2) assert.is(r.result, 'failed');
    else assert.is(r.result, 'applied');
  }
  // Retries at 20, 40, 80 ms after each failure.
  assert.ok(times[0]! >= 18, `first retry at ${times[0]}`);
  assert.ok(times[1]! - times[0]! >= 38, `second retry ${times[1]! - times[0]!} ms later`);
  assert.ok(times[2]! - times[1]! >= 78, `third retry ${times[2]! - times[1]!} ms later`);
  assert.is(w.daemon.failures, 0);
  assert.ok(await w.converged());
  await w.daemon.stop();
});

test('kernel events during failures do not spin the daemon', async () => {
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  for (let i = 0; i < 1000; i++) kernel.failNext((op) => op.op === 'link-add', 'EBUSY', 'injected');
  const w = world(configText(['a']), { kernel, timing: { retryBaseMs: 50, retryMaxMs: 50, failingKernelHoldMs: 50 } });
  await w.daemon.start();
  const storm = setInterval(() => w.daemon.schedule('kernel'), 1);
  await new Promise((r) => setTimeout(r, 300));
  clearInterval(storm);
  assert.ok(w.runs.length <= 8, `${w.runs.length} runs in 300 ms of events while failing`);
  await w.daemon.stop();
});

test('a flapping endpoint: repairs back off instead of spinning', async () => {
  const w = world(configText(['a']));
  await w.daemon.start();
  const gaps: number[] = [];
  let last = performance.now();
  for (let i = 0; i < 6; i++) {
    const link = (await w.kernel.observe(['a'])).links.find((l) => l.netns === 'a' && l.kind === 'macvlan')!;
    await w.kernel.apply({ op: 'link-del', netns: 'a', name: link.name, before: {} as never, addresses: [], routes: [] });
    const next = w.nextRun();
    w.daemon.schedule('kernel');
    const r = await next;
    assert.is(r.result, 'repaired');
    gaps.push(performance.now() - last);
    last = performance.now();
  }
  // The first repairs are immediate; from the fourth on they wait 40, 80, 160 ms.
  assert.ok(gaps[0]! < 30 && gaps[1]! < 30, gaps.join(' '));
  assert.ok(gaps[3]! >= 38 && gaps[4]! >= 78 && gaps[5]! >= 150, gaps.map((g) => g.toFixed(0)).join(' '));
  assert.ok(w.log.lines.some((l) => l.startsWith('<4>') && l.includes('kernel events wait')));
  await w.daemon.stop();
});

test('repairs of different endpoints one after another are not a flap: none waits', async () => {
  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
  const w = world(configText(names));
  await w.daemon.start();
  for (const name of names) {
    const link = (await w.kernel.observe([name])).links.find((l) => l.netns === name && l.kind === 'macvlan')!;
    await w.kernel.apply({ op: 'link-del', netns: name, name: link.name, before: {} as never, addresses: [], routes: [] });
    const next = w.nextRun();
    const t0 = performance.now();
    w.daemon.schedule('kernel');
    const r = await next;
    assert.is(r.result, 'repaired');
    assert.ok(performance.now() - t0 < 30, `repair of ${name} waited ${(performance.now() - t0).toFixed(0)} ms`);
  }
  assert.not.ok(w.log.lines.some((l) => l.includes('kernel events wait')));
  await w.daemon.stop();
});

test('a periodic resync reads the kernel afresh; a kernel event may reuse readings', async () => {
  class Counting extends MemoryKernel {
    refreshes = 0;
    refresh() {
      this.refreshes++;
    }
  }
  const kernel = new Counting().seed({ links: [ETH0] });
  const w = world(configText(['a']), { kernel });
  await w.daemon.start();
  const atStart = kernel.refreshes;
  assert.ok(atStart >= 1, 'the first reconcile reads afresh');
  let next = w.nextRun();
  w.daemon.schedule('kernel');
  await next;
  assert.is(kernel.refreshes, atStart, 'a kernel event reused the readings');
  next = w.nextRun();
  w.daemon.schedule('resync');
  await next;
  assert.is(kernel.refreshes, atStart + 1, 'the resync read afresh');
  await w.daemon.stop();
});

test('a burst of config events is one run', async () => {
  const w = world(configText(['a']));
  await w.daemon.start();
  const count = w.runs.length;
  for (let i = 0; i < 50; i++) w.daemon.schedule('config');
  await new Promise((r) => setTimeout(r, 80));
  assert.is(w.runs.length, count + 1);
  await w.daemon.stop();
});

test.run();
