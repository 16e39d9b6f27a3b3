// The daemon's outputs: sd_notify datagrams (received on a real unix datagram socket), the status
// socket (root-only, JSON), Prometheus metrics over HTTP, and journald-style log lines.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, underSystemd } from '../../src/daemon/log.js';
import { Daemon } from '../../src/daemon/loop.js';
import { parseListen, serveMetrics } from '../../src/daemon/metrics.js';
import { createNotifier, sockaddrUn, watchdogInterval } from '../../src/daemon/sdnotify.js';
import { serveDaemon } from '../../src/daemon/status.js';
import { queryStatus } from '../../src/control/protocol.js';
import { memoryLogger } from '../../src/daemon/log.js';
import { formatDiagnostic } from '../../src/errors.js';
import { askDaemon, type ServedAnswer } from '../../src/control/protocol.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { ETH0, get } from '../support/daemon-world.js';
import { renderStatus } from '../../src/cli/status.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-parts-'));

/** A unix datagram socket bound at `where`, read without blocking: what systemd's end does. */
function receiver(where: string) {
  const lib = koffi.load('libc.so.6');
  const socket = lib.func('int socket(int, int, int)') as (a: number, b: number, c: number) => number;
  const bind = lib.func('int bind(int, const void *, uint32_t)') as (fd: number, a: Buffer, l: number) => number;
  const recv = lib.func('intptr_t recv(int, _Out_ uint8_t *buf, size_t, int)') as (fd: number, b: Buffer, l: number, f: number) => number;
  const close = lib.func('int close(int)') as (fd: number) => number;
  const fd = socket(1, 2, 0);
  const { addr, len } = sockaddrUn(where);
  assert.is(bind(fd, addr, len), 0, `bind ${where}`);
  return {
    next(): string | null {
      const buf = Buffer.alloc(4096);
      const n = recv(fd, buf, buf.length, 0x40 /* MSG_DONTWAIT */);
      return n > 0 ? buf.subarray(0, n).toString('utf8') : null;
    },
    close: () => close(fd),
  };
}

test('sd_notify: datagrams reach $NOTIFY_SOCKET (path and abstract), one line per key', () => {
  for (const where of [path.join(tmp(), 'notify'), `@vlannet-test-${process.pid}`]) {
    const r = receiver(where);
    const n = createNotifier({ NOTIFY_SOCKET: where });
    assert.ok(n.enabled);
    assert.ok(n.send({ READY: '1', STATUS: 'converged\non two lines' }));
    assert.ok(n.send({ WATCHDOG: '1' }));
    assert.is(r.next(), 'READY=1\nSTATUS=converged on two lines');
    assert.is(r.next(), 'WATCHDOG=1');
    assert.is(r.next(), null);
    n.close();
    r.close();
  }
  const off = createNotifier({});
  assert.not.ok(off.enabled);
  assert.not.ok(off.send({ READY: '1' }));
});

test('sd_notify: the watchdog interval is half of WATCHDOG_USEC, only for this pid', () => {
  assert.is(watchdogInterval({}), null);
  assert.is(watchdogInterval({ WATCHDOG_USEC: '10000000' }), 5000);
  assert.is(watchdogInterval({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: String(process.pid) }), 5000);
  assert.is(watchdogInterval({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '1' }), null);
});

test('logs: `<N>` priorities under systemd, time and level otherwise, one line per event, no colour', () => {
  const lines: string[] = [];
  const j = createLogger({ journal: true, write: (l) => void lines.push(l) });
  j.error('bad\n  hint: do this');
  j.warning('w');
  j.info('i');
  j.debug('hidden');
  assert.equal(lines, ['<3>bad; hint: do this\n', '<4>w\n', '<6>i\n']);
  lines.length = 0;
  createLogger({ journal: false, write: (l) => void lines.push(l) }).info('plain');
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {4}plain\n$/);
  assert.not.ok(lines.join('').includes('\x1b'), 'no ANSI escapes');
  assert.ok(underSystemd({ INVOCATION_ID: 'x' }));
  assert.ok(underSystemd({ JOURNAL_STREAM: '8:1' }));
  assert.not.ok(underSystemd({}));
});

const CONFIG =
  'version: 1\nnetworks:\n  net1:\n    driver: macvlan\n    parent: eth0\n    subnets:\n      - subnet: 192.168.1.0/24\nendpoints:\n  a:\n    network: net1\n';

test('status socket: 0600, JSON with config revision, last reconcile, repairs and the current plan', async () => {
  const dir = tmp();
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, CONFIG);
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  const daemon = new Daemon({ file, kernel, log: memoryLogger(), loadConfig });
  await daemon.start();
  const server = await serveDaemon(path.join(dir, 'run'), daemon);
  assert.is(fs.statSync(server.path).mode & 0o777, 0o600);
  let r = (await queryStatus(path.join(dir, 'run')))!;
  assert.ok(r.daemon.running);
  assert.is(r.daemon.pid, process.pid);
  assert.ok(r.config.valid);
  assert.is(r.config.lastGood!.hash, daemon.lastGood!.hash);
  assert.is(r.applied!.hash, daemon.lastGood!.hash);
  assert.is(r.lastReconcile!.result, 'applied');
  assert.equal((r.plan as { changes: unknown[] }).changes, []);
  assert.match(renderStatus(r), /plan: +no changes/);

  // Drift not yet repaired shows in the plan; an invalid file shows with its line:column.
  const link = (await kernel.observe(['a'])).links.find((l) => l.netns === 'a' && l.kind === 'macvlan')!;
  await kernel.apply({ op: 'link-del', netns: 'a', name: link.name, before: {} as never, addresses: [], routes: [] });
  fs.writeFileSync(file, 'version: 1\nnetworks: [\n');
  r = (await queryStatus(path.join(dir, 'run')))!;
  const changes = (r.plan as { changes: { object: string }[] }).changes;
  assert.ok(
    changes.some((c) => c.object === 'endpoint.a'),
    JSON.stringify(changes),
  );
  await server.close();
  assert.is(await queryStatus(path.join(dir, 'run')), null, 'no daemon: null');
  await daemon.stop();
});

test('status socket: a still-invalid file is reported with line:column and the last good revision', async () => {
  const dir = tmp();
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, CONFIG);
  const daemon = new Daemon({
    file,
    kernel: new MemoryKernel().seed({ links: [ETH0] }),
    log: memoryLogger(),
    loadConfig,
    timing: { configDebounceMs: 0 },
  });
  await daemon.start();
  fs.writeFileSync(file, CONFIG.replace('macvlan', 'macvlna'));
  fs.utimesSync(file, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
  daemon.reload();
  while (daemon.runs < 2) await new Promise((r) => setTimeout(r, 5));
  const server = await serveDaemon(path.join(dir, 'run'), daemon);
  const r = (await queryStatus(path.join(dir, 'run')))!;
  assert.not.ok(r.config.valid);
  assert.match(r.config.errors[0]!, /vlannet\.yaml:\d+:\d+/);
  const text = renderStatus(r);
  assert.match(text, /NOT VALID/);
  assert.match(text, /keeping the last good one/);
  await server.close();
  await daemon.stop();
});

test('control socket: plan and apply of the enforced file are answered by the daemon; other files are declined', async () => {
  const dir = tmp();
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, CONFIG);
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  const daemon = new Daemon({
    file,
    kernel,
    log: memoryLogger(),
    loadConfig,
    timing: { configDebounceMs: 60_000, configMaxWaitMs: 60_000 },
  });
  await daemon.start();
  const run = path.join(dir, 'run');
  const server = await serveDaemon(run, daemon);
  const ask = (command: 'plan' | 'apply', f = file) => askDaemon<ServedAnswer>(run, { command, file: f }, null);

  let a = (await ask('plan'))!;
  assert.is(a.outcome, 'done');
  if (a.outcome === 'done') assert.equal(a.result.plan.actions, [], 'converged: nothing to do');
  // The same file by another path (a symlink) is the daemon's; another file is not.
  fs.symlinkSync(file, path.join(dir, 'link.yaml'));
  assert.is((await ask('plan', path.join(dir, 'link.yaml')))!.outcome, 'done');
  a = (await ask('apply', path.join(dir, 'other.yaml')))!;
  assert.is(a.outcome, 'declined');
  if (a.outcome === 'declined') assert.is(a.enforced, file);

  // An edit the watcher has not delivered yet (debounce of a minute here): plan sees it, apply makes it so.
  fs.writeFileSync(`${file}.new`, `${CONFIG}  b:\n    network: net1\n`);
  fs.renameSync(`${file}.new`, file); // as an editor saves

  a = (await ask('plan'))!;
  assert.is(a.outcome, 'done');
  if (a.outcome === 'done')
    assert.ok(
      a.result.plan.actions.some((x) => x.object === 'endpoint.b'),
      'plan shows endpoint.b',
    );
  assert.not.ok(
    (await kernel.observe(['b'])).namespaces.some((n) => n.name === 'b'),
    'plan changed nothing',
  );
  a = (await ask('apply'))!;
  assert.is(a.outcome, 'done');
  if (a.outcome === 'done') {
    assert.ok(
      a.result.executed.length > 0 && a.result.executed.every((x) => /\bb\b/.test(x.object)),
      JSON.stringify(a.result.executed.map((x) => x.object)),
    );
    assert.ok(a.result.timings.verifyMs >= 0);
  }
  assert.ok(
    (await kernel.observe(['b'])).namespaces.some((n) => n.name === 'b'),
    'apply created namespace b',
  );
  assert.is(daemon.lastRun!.triggers.join(), 'cli');
  assert.ok(
    daemon.lastRun!.actions.some((x) => x.startsWith('create endpoint.b')),
    daemon.lastRun!.actions.join('; '),
  );

  // A broken file: its diagnostics with line:column, and nothing changes.
  fs.writeFileSync(`${file}.new`, CONFIG.replace('macvlan', 'macvlna'));
  fs.renameSync(`${file}.new`, file);
  const runs = daemon.runs;
  a = (await ask('apply'))!;
  assert.is(a.outcome, 'invalid');
  if (a.outcome === 'invalid') assert.match(formatDiagnostic(a.diagnostics[0]!), /vlannet\.yaml:4:\d+/);
  assert.is(daemon.runs, runs, 'no run for an invalid file');
  await server.close();
  await daemon.stop();
});

test('metrics: reconciles by result, actions by op, drift repairs, config validity, last success, endpoints', async () => {
  assert.equal(parseListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.equal(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
  assert.equal(parseListen(':9464'), { host: '::', port: 9464 });
  assert.throws(() => parseListen('9464'), /ADDRESS:PORT/);
  const m = await serveMetrics('127.0.0.1:0');
  const dir = tmp();
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, CONFIG);
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  const daemon = new Daemon({ file, kernel, log: memoryLogger(), loadConfig, observers: [m.observer], timing: { kernelDebounceMs: 0 } });
  await daemon.start();
  const link = (await kernel.observe(['a'])).links.find((l) => l.netns === 'a' && l.kind === 'macvlan')!;
  await kernel.apply({ op: 'link-del', netns: 'a', name: link.name, before: {} as never, addresses: [], routes: [] });
  daemon.schedule('kernel');
  while (daemon.runs < 2) await new Promise((r) => setTimeout(r, 5));
  const { status, body } = await get(`http://127.0.0.1:${m.address.port}/metrics`);
  assert.is(status, 200);
  assert.match(body, /vlannet_reconciles_total\{result="applied"\} 1/);
  assert.match(body, /vlannet_reconciles_total\{result="repaired"\} 1/);
  assert.match(body, /vlannet_actions_total\{op="link-add",change="create"\} 2/);
  assert.match(body, /vlannet_drift_repairs_total 1/);
  assert.match(body, /vlannet_config_valid 1/);
  assert.match(body, /vlannet_managed_endpoints 1/);
  assert.match(body, /vlannet_last_success_timestamp_seconds \d{10}/);
  assert.is((await get(`http://127.0.0.1:${m.address.port}/other`)).status, 404);
  await daemon.stop();
  await m.close();
});

test.run();
