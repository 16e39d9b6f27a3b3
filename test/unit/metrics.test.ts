// The Prometheus metrics as a scraper sees them: a daemon on the in-memory kernel with the metrics
// server on 127.0.0.1:0, scraped over HTTP after a converged run, a failed run, an invalid config
// and a config valid again. The names follow the conventions (no doubled process_ prefix, counters
// end in _total), every name the example alert rules use is exported, and every vlannet_ metric is
// documented in examples/prometheus/README.md.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { RunRecord } from '../../src/control/protocol.js';
import { memoryLogger } from '../../src/daemon/log.js';
import { Daemon } from '../../src/daemon/loop.js';
import { serveMetrics } from '../../src/daemon/metrics.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { configText, ETH0, get } from '../support/daemon-world.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = here.includes(`${path.sep}dist${path.sep}`) ? path.join(here, '..', '..', '..') : path.join(here, '..', '..');
const ALERTS = path.join(root, 'examples', 'prometheus', 'vlannet-alerts.yml');
const README = path.join(root, 'examples', 'prometheus', 'README.md');

interface Scrape {
  text: string;
  /** Metric family → its TYPE. */
  types: Map<string, string>;
  /** Sample name (with _bucket, _sum … for histograms) → `{labels}` → value. */
  samples: Map<string, Map<string, number>>;
  value(name: string, labels?: string): number | undefined;
}

function parseScrape(text: string): Scrape {
  const types = new Map<string, string>();
  const samples = new Map<string, Map<string, number>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const byLabels = samples.get(m![1]!) ?? new Map<string, number>();
    byLabels.set(m![2] ?? '', Number(m![3]));
    samples.set(m![1]!, byLabels);
  }
  return { text, types, samples, value: (name, labels = '') => samples.get(name)?.get(labels) };
}

/** The metric names the alert rules' expressions use (`up` is made by Prometheus itself). */
function alertMetricNames(): { alerts: string[]; names: string[] } {
  const doc = parse(fs.readFileSync(ALERTS, 'utf8')) as { groups: { name: string; rules: { alert?: string; expr: string }[] }[] };
  const alerts: string[] = [];
  const names = new Set<string>();
  for (const group of doc.groups) {
    for (const rule of group.rules) {
      if (rule.alert) alerts.push(rule.alert);
      // Label values name no metric: `job="vlannet"` must not count.
      const expr = String(rule.expr).replace(/"(?:[^"\\]|\\.)*"/g, '""');
      for (const m of expr.matchAll(/\b(vlannet_\w+|process_\w+|up)\b/g)) names.add(m[1]!);
    }
  }
  return { alerts, names: [...names].sort() };
}

interface World {
  file: string;
  kernel: MemoryKernel;
  daemon: Daemon;
  scrape(): Promise<Scrape>;
  nextRun(): Promise<RunRecord>;
  write(text: string): void;
  close(): Promise<void>;
}

/** Run `body` on a fresh world, and close it whatever happens (a failed assertion must not leave the server open). */
async function inWorld(body: (w: World) => Promise<void>): Promise<void> {
  const w = await world();
  try {
    await body(w);
  } finally {
    await w.close();
  }
}

async function world(): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-metrics-'));
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, configText(['a']));
  const kernel = new MemoryKernel().seed({ links: [ETH0] });
  const m = await serveMetrics('127.0.0.1:0');
  const waiters: ((r: RunRecord) => void)[] = [];
  const daemon = new Daemon({
    file,
    kernel,
    log: memoryLogger(),
    loadConfig,
    // No retry during the test: a failed run stays the last one until the test asks for another.
    timing: { configDebounceMs: 5, configMaxWaitMs: 50, kernelDebounceMs: 0, retryBaseMs: 60_000, retryMaxMs: 60_000, resyncMs: 120_000 },
    observers: [m.observer, { runFinished: (r) => waiters.shift()?.(r) }],
  });
  return {
    file,
    kernel,
    daemon,
    async scrape() {
      const { status, body } = await get(`http://127.0.0.1:${m.address.port}/metrics`);
      assert.is(status, 200);
      return parseScrape(body);
    },
    nextRun: () =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no run within 3 s')), 3000);
        waiters.push((r) => {
          clearTimeout(t);
          resolve(r);
        });
      }),
    write(text) {
      fs.writeFileSync(`${file}.tmp`, text);
      fs.renameSync(`${file}.tmp`, file);
    },
    async close() {
      await daemon.stop();
      await m.close();
    },
  };
}

test('metric names: standard process_* names, never process_process_*; counters end in _total; vlannet_ for the rest', async () => {
  await inWorld(async (w) => {
    await w.daemon.start();
    const s = await w.scrape();
    assert.not.match(s.text, /process_process/);
    assert.not.match(s.text, /vlannet_process_/);
    for (const name of ['process_cpu_seconds_total', 'process_start_time_seconds', 'process_resident_memory_bytes', 'process_open_fds']) {
      assert.ok(s.samples.has(name), `${name} is scraped`);
    }
    const vlannet = [...s.types].filter(([name]) => name.startsWith('vlannet_'));
    assert.ok(vlannet.length >= 12, vlannet.map(([n]) => n).join(' '));
    for (const [name, type] of s.types) {
      assert.ok(/^(vlannet|process|nodejs)_[a-z0-9_]+$/.test(name), `${name}: vlannet_, process_ or nodejs_, lower case`);
      if (type === 'counter') assert.ok(name.endsWith('_total'), `counter ${name} ends in _total`);
      // (prom-client's own nodejs_active_resources_total is a gauge: not ours to rename.)
      else if (name.startsWith('vlannet_')) assert.not.ok(name.endsWith('_total'), `${type} ${name} does not end in _total`);
      assert.not.ok(/_(ms|milliseconds|kb|mb|minutes|hours)(_|$)/.test(name), `${name}: base units`);
    }
  });
});

test('every metric the example alert rules use is exported, and every vlannet_ metric is documented', async () => {
  const { alerts, names } = alertMetricNames();
  for (const alert of ['VlannetDaemonDown', 'VlannetNotConverged', 'VlannetConfigInvalid']) assert.ok(alerts.includes(alert), alert);
  assert.ok(names.includes('up'));
  assert.ok(names.includes('vlannet_converged'));
  assert.ok(names.includes('vlannet_config_valid'));
  await inWorld(async (w) => {
    await w.daemon.start();
    const s = await w.scrape();
    for (const name of names) {
      if (name === 'up') continue;
      assert.ok(s.samples.has(name), `${name} (used by ${path.basename(ALERTS)}) is scraped`);
    }
    const readme = fs.readFileSync(README, 'utf8');
    for (const name of s.types.keys()) {
      if (name.startsWith('vlannet_')) assert.ok(readme.includes(`\`${name}\``), `${name} is in examples/prometheus/README.md`);
    }
  });
});

test('converged, failures and config validity after a converged run, a failed run, an invalid config and a valid one again', async () => {
  await inWorld(async (w) => {
    const before = await w.scrape();
    assert.is(before.value('vlannet_converged'), 0, 'not converged before the first run');
    assert.is(before.value('vlannet_last_success_timestamp_seconds'), 0);

    // 1. The first run applies the config: converged, valid.
    const t0 = Date.now() / 1000;
    assert.is((await w.daemon.start()).result, 'applied');
    let s = await w.scrape();
    assert.is(s.value('vlannet_converged'), 1);
    assert.is(s.value('vlannet_config_valid'), 1);
    assert.is(s.value('vlannet_reconcile_consecutive_failures'), 0);
    assert.is(s.value('vlannet_reconciles_total', '{result="applied"}'), 1);
    assert.is(s.value('vlannet_managed_endpoints'), 1);
    assert.is(s.value('vlannet_managed_networks'), 1);
    assert.is(s.value('vlannet_resync_interval_seconds'), 120);
    const success = s.value('vlannet_last_success_timestamp_seconds')!;
    assert.ok(success >= t0 - 1 && success <= Date.now() / 1000 + 1, `last success ${success}`);
    assert.is(s.value('vlannet_last_reconcile_timestamp_seconds'), success);

    // 2. Drift that cannot be repaired: the run fails; not converged; the last success stays.
    const ep = (await w.kernel.observe(['a'])).links.find((l) => l.netns === 'a' && l.kind === 'macvlan')!;
    await w.kernel.apply({ op: 'link-del', netns: 'a', name: ep.name, before: {} as never, addresses: [], routes: [] });
    w.kernel.failNext((op) => op.op === 'link-add', 'EBUSY', 'injected');
    let next = w.nextRun();
    w.daemon.schedule('kernel');
    assert.is((await next).result, 'failed');
    s = await w.scrape();
    assert.is(s.value('vlannet_converged'), 0);
    assert.is(s.value('vlannet_config_valid'), 1);
    assert.is(s.value('vlannet_reconcile_consecutive_failures'), 1);
    assert.is(s.value('vlannet_reconciles_total', '{result="failed"}'), 1);
    assert.is(s.value('vlannet_last_success_timestamp_seconds'), success);
    assert.ok(s.value('vlannet_last_reconcile_timestamp_seconds')! >= success);

    // 3. The file becomes invalid: the last good config is still enforced (the drift is repaired
    //    against it), so converged again, but the config is not valid.
    next = w.nextRun();
    w.write(configText(['a', 'b']).replace('driver: macvlan', 'driver: macvlna'));
    w.daemon.schedule('config');
    assert.is((await next).result, 'repaired');
    s = await w.scrape();
    assert.is(s.value('vlannet_converged'), 1);
    assert.is(s.value('vlannet_config_valid'), 0);
    assert.is(s.value('vlannet_reconcile_consecutive_failures'), 0);
    assert.is(s.value('vlannet_drift_repairs_total'), 1);
    assert.is(s.value('vlannet_managed_endpoints'), 1, 'the enforced config still has one endpoint');

    // 4. Valid again, with a second endpoint: applied; valid; converged.
    next = w.nextRun();
    w.write(configText(['a', 'b']));
    w.daemon.schedule('config');
    assert.is((await next).result, 'applied');
    s = await w.scrape();
    assert.is(s.value('vlannet_converged'), 1);
    assert.is(s.value('vlannet_config_valid'), 1);
    assert.is(s.value('vlannet_managed_endpoints'), 2);
    assert.is(s.value('vlannet_reconciles_total', '{result="applied"}'), 2);
    assert.ok(s.value('vlannet_actions_total', '{op="link-add",change="create"}')! >= 3);
    assert.is(s.value('vlannet_reconcile_duration_seconds_count'), 4);
  });
});

test.run();
