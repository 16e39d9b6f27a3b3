// Trials (apply --confirm-timeout) on the in-memory kernel: the way back is exact, whatever the
// trial did and however far it got; the daemon holds a trial (pauses, reverts on time, confirms
// only what its file says), and takes over one left pending. The real kernel's side, with kill -9,
// the detached reverter and the systemd timer, is in test/kernel/trial.test.ts and test/systemd.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { reconcile, restore } from '../../src/apply/reconcile.js';
import { loadConfig } from '../../src/config/load.js';
import type { TrialAnswer } from '../../src/control/protocol.js';
import { formatDuration, parseDuration, readTrial, TRIAL_FORMAT_VERSION, writeTrial, type TrialRecord } from '../../src/control/trial.js';
import { Daemon } from '../../src/daemon/loop.js';
import { memoryLogger } from '../../src/daemon/log.js';
import { DiagnosticsError } from '../../src/errors.js';
import type { Config, ObservedState } from '../../src/model/types.js';
import { namespacesOf } from '../fixtures/plan/build.js';
import { configText, ETH0 } from '../support/daemon-world.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { prng, randomConfig, seedKernel } from '../support/random-world.js';

test('durations: seconds by default, units combined, nonsense refused', () => {
  assert.is(parseDuration('90'), 90_000);
  assert.is(parseDuration('90s'), 90_000);
  assert.is(parseDuration('2m'), 120_000);
  assert.is(parseDuration('1m30s'), 90_000);
  assert.is(parseDuration('1h'), 3_600_000);
  assert.is(parseDuration('1.5s'), 1500);
  assert.is(parseDuration('500ms'), 500);
  for (const bad of ['', 'soon', '2 m', '-1', '1d', 'm']) assert.is(parseDuration(bad), null, bad);
  assert.is(formatDuration(95_000), '1m35s');
  assert.is(formatDuration(3_600_000), '1h');
  assert.is(formatDuration(0), '0s');
});

/** A state in a canonical order: what the kernel holds, not the order it lists it in. */
function canonical(s: ObservedState): string[] {
  return [
    ...s.namespaces.map((n) => `netns ${JSON.stringify(n)}`),
    ...s.links.map((l) => `link ${JSON.stringify(l, Object.keys(l).sort())}`),
    ...s.addresses.map((a) => `addr ${JSON.stringify(a, Object.keys(a).sort())}`),
    ...s.routes.map((r) => `route ${JSON.stringify(r, Object.keys(r).sort())}`),
  ].sort();
}

const CASES = Number(process.env.FAULT_CASES ?? 200);

test(`the way back is exact, ifindexes and MACs included, after a whole trial or one that failed half way (${CASES} random pairs)`, async () => {
  let compared = 0;
  let failedHalfWay = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const r = prng(seed);
    const kernel = seedKernel(r);
    const a = randomConfig(r);
    const b = randomConfig(r);
    const names = (c: Config) => namespacesOf(c);
    try {
      await reconcile(kernel, a);
    } catch (e) {
      if (e instanceof DiagnosticsError) continue;
      throw e;
    }
    const watch = [...new Set([...names(a), ...names(b), 'theirs'])];
    const before = await kernel.observe(watch);
    // Every other pair fails at a random step of the trial: a trial killed half way, or one whose
    // apply failed after its point of no return, is brought back the same.
    const failAt = seed % 2 === 0 ? 1 + Math.floor(r.next() * 12) : undefined;
    try {
      await reconcile(kernel, b, failAt ? { failAt } : {});
    } catch (e) {
      if (e instanceof DiagnosticsError) continue;
      failedHalfWay++;
    }
    await restore(kernel, before);
    assert.equal(canonical(await kernel.observe(watch)), canonical(before), `seed ${seed}`);
    compared++;
  }
  assert.ok(compared >= CASES / 2, `only ${compared} pairs compared`);
  assert.ok(failedHalfWay > 0, 'no trial failed half way');
});

test('the way back leaves alone what vlannet does not own', async () => {
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  const config = (names: string[]) => loadConfig(configText(names), 'vlannet.yaml').config!;
  await reconcile(kernel, config(['a']));
  const before = await kernel.observe(['a', 'b']);
  await reconcile(kernel, config(['b']));
  // Someone else's link, made during the trial in vlannet's own namespace: not vlannet's to remove.
  await kernel.apply({
    op: 'link-add',
    link: { kind: 'dummy', netns: null, name: 'theirs0', parent: null, mtu: null, up: true, alias: '', identity: null, mac: null },
  });
  const theirs = (await kernel.observe([])).links.find((l) => l.name === 'theirs0')!;
  await kernel.apply({ op: 'link-set', netns: null, name: 'theirs0', set: { alias: 'not vlannet' }, before: { alias: '' } });
  await restore(kernel, before);
  const after = await kernel.observe(['a', 'b']);
  assert.ok(after.links.some((l) => l.name === 'theirs0' && l.index === theirs.index));
  assert.equal(canonical({ ...after, links: after.links.filter((l) => l.name !== 'theirs0') }), canonical(before));
});

// ---------------------------------------------------------------------------------------------
// The daemon holds trials.

interface World {
  dir: string;
  file: string;
  kernel: MemoryKernel;
  daemon: Daemon;
  log: ReturnType<typeof memoryLogger>;
  candidate(names: string[]): string;
}

function world(names: string[], prepare?: (dir: string) => void): World {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-trial-'));
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, configText(names));
  prepare?.(dir);
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  const log = memoryLogger();
  const daemon = new Daemon({
    file,
    kernel,
    log,
    loadConfig,
    runDir: dir,
    trialCommand: null,
    timing: { configDebounceMs: 10, kernelDebounceMs: 1, kernelMaxWaitMs: 10, settleMs: 50, resyncMs: 60_000 },
  });
  return {
    dir,
    file,
    kernel,
    daemon,
    log,
    candidate(endpoints) {
      const f = path.join(dir, `candidate-${endpoints.join('-')}.yaml`);
      fs.writeFileSync(f, configText(endpoints));
      return f;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ALL = ['a', 'b', 'c'];
const endpoints = async (k: MemoryKernel) => [
  ...new Set((await k.observe(ALL)).links.filter((l) => l.kind === 'macvlan').map((l) => l.netns)),
];

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

test('daemon: a trial pauses enforcement, is reverted exactly at its deadline, then the file is enforced again', async () => {
  const w = world(['a']);
  await w.daemon.start();
  const before = await w.kernel.observe(ALL);
  const answer = (await w.daemon.trials!.try(w.candidate(['a', 'b']), 400, false)) as TrialAnswer & { outcome: 'done' };
  assert.is(answer.outcome, 'done');
  assert.ok(answer.trial);
  assert.is(readTrial(w.dir)!.state, 'pending');
  assert.equal(await endpoints(w.kernel), ['a', 'b']);
  assert.match(w.daemon.summary(), /trial of .* is pending/);

  // Paused: a change of the file is not applied, a tampered link not repaired, an apply refused.
  w.daemon.schedule('resync');
  fs.writeFileSync(w.file, configText(['a', 'c']));
  w.daemon.schedule('config');
  await sleep(100);
  assert.equal(await endpoints(w.kernel), ['a', 'b']);
  const refused = await w.daemon.requests.apply(w.file);
  assert.is(refused.outcome, 'failed');
  fs.writeFileSync(w.file, configText(['a']));

  await until('the trial is reverted', () => readTrial(w.dir)!.state === 'reverted');
  assert.equal(canonical(await w.kernel.observe(ALL)), canonical(before));
  assert.match(readTrial(w.dir)!.endedBy!, /daemon at the deadline/);
  // And enforcing again: a tampered endpoint is repaired.
  const link = (await w.kernel.observe(ALL)).links.find((l) => l.netns === 'a' && l.kind === 'macvlan')!;
  await w.kernel.apply({ op: 'link-del', netns: 'a', name: link.name, before: {} as never, addresses: [], routes: [] });
  w.daemon.schedule('kernel');
  await until('the endpoint is repaired', async () => (await endpoints(w.kernel)).includes('a'));
  await w.daemon.stop();
});

test('daemon: confirm is refused while its file differs from the file tried, then keeps the trial', async () => {
  const w = world(['a']);
  await w.daemon.start();
  const candidate = w.candidate(['a', 'b']);
  assert.is((await w.daemon.trials!.try(candidate, 60_000, false)).outcome, 'done');
  const refused = await w.daemon.trials!.confirm();
  assert.is(refused.outcome, 'refused');
  assert.match((refused as { message: string }).message, /differs from .*candidate-a-b.yaml as tried/);
  assert.is(readTrial(w.dir)!.state, 'pending');

  fs.copyFileSync(candidate, w.file); // the change goes into the daemon's file (a commit, a sync)
  const confirmed = await w.daemon.trials!.confirm();
  assert.is(confirmed.outcome, 'confirmed');
  assert.is(readTrial(w.dir)!.state, 'confirmed');
  await sleep(100);
  assert.equal(await endpoints(w.kernel), ['a', 'b']);
  const again = await w.daemon.trials!.confirm();
  assert.is(again.outcome, 'none');
  assert.match((again as { message: string }).message, /was confirmed at/);
  await w.daemon.stop();
});

test('daemon: revert now; a second trial is refused while one is pending; a failed trial is undone at once', async () => {
  const w = world(['a']);
  await w.daemon.start();
  const before = await w.kernel.observe(ALL);
  assert.is((await w.daemon.trials!.try(w.candidate(['b']), 60_000, false)).outcome, 'done');
  const second = await w.daemon.trials!.try(w.candidate(['c']), 60_000, false);
  assert.is(second.outcome, 'refused');
  assert.equal(await endpoints(w.kernel), ['b']);
  assert.is((await w.daemon.trials!.revertNow()).outcome, 'reverted');
  assert.equal(canonical(await w.kernel.observe(ALL)), canonical(before));

  // A trial whose apply fails after its point of no return is not left half done.
  w.kernel.failNext((op) => op.op === 'netns-del', 'EIO', 'failure injected');
  const failed = await w.daemon.trials!.try(w.candidate(['c']), 60_000, false);
  assert.is(failed.outcome, 'failed');
  assert.match((failed as { error: string }).error, /put back as it was before the trial/);
  assert.equal(canonical(await w.kernel.observe(ALL)), canonical(before));
  assert.is(readTrial(w.dir)!.state, 'reverted');
  await w.daemon.stop();
});

test('daemon: no trial begins once the daemon is stopping', async () => {
  const w = world(['a']);
  await w.daemon.start();
  await w.daemon.stop();
  const answer = await w.daemon.trials!.try(w.candidate(['a', 'b']), 60_000, false);
  assert.is(answer.outcome, 'failed');
  assert.equal(await endpoints(w.kernel), ['a']);
  assert.is(readTrial(w.dir), null);
});

test('daemon: a trial left pending (by an apply, or a daemon that died) is taken over at start', async () => {
  let left: TrialRecord | null = null;
  const w = world(['a'], (dir) => {
    left = {
      format_version: TRIAL_FORMAT_VERSION,
      id: 'feedc0ffee00',
      state: 'pending',
      file: path.join(dir, 'other.yaml'),
      configHash: 'x',
      startedAt: new Date().toISOString(),
      timeoutMs: 300,
      deadline: new Date(Date.now() + 300).toISOString(),
      applied: true,
      daemonPid: null,
      reverter: null,
      // Before the trial: nothing of vlannet's at all.
      before: { format_version: 1, namespaces: [], links: [ETH0], addresses: [], routes: [] },
    };
    writeTrial(dir, left);
  });
  const first = w.daemon.start();
  await first;
  // Paused: the file's endpoint is not made while the trial is pending.
  assert.equal(await endpoints(w.kernel), []);
  assert.is(readTrial(w.dir)!.daemonPid, process.pid);
  await until('the trial is reverted and the file enforced', async () => (await endpoints(w.kernel)).includes('a'));
  assert.is(readTrial(w.dir)!.state, 'reverted');
  assert.ok(left);
  await w.daemon.stop();
});

test.run();
