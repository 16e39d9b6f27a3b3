// The real daemon (`node bin/vlannet.js daemon`) on a real kernel: converge at start; every way
// the config file is replaced (rename-over, in-place write, symlink flip, git commit + checkout)
// converges again; drift (a link deleted, an address removed, a managed namespace deleted, the
// parent deleted and re-created) is repaired without a restart; invalid and truncated files change
// nothing; SIGTERM exits 0 leaving the networks. Times from the change to convergence are printed,
// measured by polling the kernel with iproute2 (an independent witness) every few milliseconds.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkKernel } from './support/expect.js';
import { ip, ipJson, run } from './support/sh.js';
import { document, show, vlannet } from './support/vlannet.js';
import { sleep, startDaemon, until } from './support/daemon.js';
import { parseConfig, World } from './support/world.js';

/** checkKernel throws while a namespace it looks into is not there yet: that is "not yet". */
const converged = (text: string) => () => {
  try {
    return checkKernel(parseConfig(text)).length === 0;
  } catch {
    return false;
  }
};
const hasAddr = (ns: string, addr: string) => () => run('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', 'eth0']).stdout.includes(`"${addr}"`);
const times: string[] = [];
const report = (what: string, ms: number) => {
  times.push(`${what}: ${ms.toFixed(0)} ms`);
  console.log(`  daemon: ${what}: ${ms.toFixed(0)} ms`);
};
const status = () =>
  JSON.parse(vlannet('status', '--json').stdout) as {
    daemon: { running: boolean };
    config: { valid: boolean; errors: string[]; last_good: { hash: string } | null };
    applied: { hash: string; git: { commit: string } | null } | null;
    drift_repairs: number;
    plan: { changes: unknown[] } | null;
  };

function config(endpoints: Record<string, string>): string {
  return `${[
    'version: 1',
    'networks:',
    '  dnet:',
    '    driver: macvlan',
    '    parent: eth0',
    '    subnets: [{ subnet: 192.168.40.0/24 }]',
    'endpoints:',
    ...Object.entries(endpoints).map(([n, a]) => `  ${n}: { network: dnet, ipv4: ${a} }`),
  ].join('\n')}\n`;
}
const V1 = config({ 'dm-a': '192.168.40.10', 'dm-b': '192.168.40.11' });
const V2 = config({ 'dm-a': '192.168.40.10', 'dm-b': '192.168.40.11', 'dm-c': '192.168.40.12' });
const V3 = config({ 'dm-a': '192.168.40.20', 'dm-b': '192.168.40.11', 'dm-c': '192.168.40.12' });
const V4 = config({ 'dm-a': '192.168.40.20', 'dm-c': '192.168.40.12' });
const V5 = config({ 'dm-a': '192.168.40.21', 'dm-c': '192.168.40.12' });

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();
}

test('file edits of every kind converge; times printed', async () => {
  const w = new World();
  for (const t of [V1, V2, V3, V4, V5]) w.config(t, `all-${fs.readdirSync(w.dir).length}.yaml`); // namespaces to clean up
  w.veth('eth0');
  // -f names sync/current/vlannet.yaml, with current a symlink to a revision directory (git-sync).
  const sync = path.join(w.dir, 'sync');
  fs.mkdirSync(path.join(sync, 'rev1'), { recursive: true });
  fs.writeFileSync(path.join(sync, 'rev1', 'vlannet.yaml'), V1);
  fs.symlinkSync('rev1', path.join(sync, 'current'));
  const file = path.join(sync, 'current', 'vlannet.yaml');
  const d = startDaemon(file);
  try {
    report('start to converged (2 endpoints, includes node start-up)', await until('start', converged(V1), 20_000, d));
    await sleep(200);
    let t = performance.now();
    fs.writeFileSync(path.join(sync, 'rev1', '.tmp'), V2);
    fs.renameSync(path.join(sync, 'rev1', '.tmp'), path.join(sync, 'rev1', 'vlannet.yaml'));
    await until('rename-over', converged(V2), 15_000, d);
    report('rename-over (add an endpoint)', performance.now() - t);

    await sleep(200);
    t = performance.now();
    fs.writeFileSync(path.join(sync, 'rev1', 'vlannet.yaml'), V3);
    await until('in-place', hasAddr('dm-a', '192.168.40.20'), 15_000, d);
    report('in-place write (change an address)', performance.now() - t);
    await until('in-place: fully', converged(V3), 5000, d);

    await sleep(200);
    fs.mkdirSync(path.join(sync, 'rev2'));
    fs.writeFileSync(path.join(sync, 'rev2', 'vlannet.yaml'), V4);
    t = performance.now();
    fs.symlinkSync('rev2', path.join(sync, 'next'));
    fs.renameSync(path.join(sync, 'next'), path.join(sync, 'current'));
    const dmbGone = () => !fs.existsSync('/run/netns/dm-b');
    await until('symlink flip', () => dmbGone() && converged(V4)(), 15_000, d);
    report('symlink flip of the parent directory (remove an endpoint)', performance.now() - t);

    // A git checkout the symlink is flipped to; then commit and check out revisions in it.
    await sleep(200);
    const repo = path.join(sync, 'repo');
    fs.mkdirSync(repo);
    git(repo, 'init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(repo, 'vlannet.yaml'), V4);
    git(repo, 'add', 'vlannet.yaml');
    git(repo, 'commit', '-q', '-m', 'v4');
    const c4 = git(repo, 'rev-parse', 'HEAD');
    fs.symlinkSync('repo', path.join(sync, 'next'));
    fs.renameSync(path.join(sync, 'next'), path.join(sync, 'current'));
    await until('git commit named in status', () => status().applied?.git?.commit === c4, 15_000, d);
    fs.writeFileSync(path.join(repo, 'vlannet.yaml'), V5);
    git(repo, 'commit', '-q', '-am', 'v5');
    const c5 = git(repo, 'rev-parse', 'HEAD');
    await until('git commit', hasAddr('dm-a', '192.168.40.21'), 15_000, d);
    t = performance.now();
    git(repo, 'checkout', '-q', c4);
    await until('git checkout', hasAddr('dm-a', '192.168.40.20'), 15_000, d);
    report('git checkout of an older commit', performance.now() - t);
    await until('status names the commit', () => status().applied?.git?.commit === c4, 5000, d);
    t = performance.now();
    git(repo, 'checkout', '-q', 'main');
    await until('git checkout main', hasAddr('dm-a', '192.168.40.21'), 15_000, d);
    report('git checkout main', performance.now() - t);
    await until('status names the commit', () => status().applied?.git?.commit === c5, 5000, d);
    assert.equal(checkKernel(parseConfig(V5)), []);
    assert.is(await d.stop(), 0, 'SIGTERM exits 0');
    assert.equal(checkKernel(parseConfig(V5)), [], 'the networks outlive the daemon');
  } finally {
    await d.stop();
    w.cleanup();
  }
});

test('drift is repaired without a restart; times printed', async () => {
  const w = new World();
  w.veth('eth0');
  const file = w.config(V2);
  const d = startDaemon(file);
  try {
    await until('start', converged(V2), 20_000, d);
    const drift: [string, () => void, () => boolean][] = [
      ['ip link del of an endpoint', () => ip('-n', 'dm-a', 'link', 'del', 'eth0'), hasAddr('dm-a', '192.168.40.10')],
      ['an address removed', () => ip('-n', 'dm-b', 'addr', 'del', '192.168.40.11/24', 'dev', 'eth0'), hasAddr('dm-b', '192.168.40.11')],
      ['a managed namespace deleted', () => ip('netns', 'del', 'dm-c'), hasAddr('dm-c', '192.168.40.12')],
    ];
    for (const [what, breakIt, repaired] of drift) {
      await sleep(300);
      const t = performance.now();
      breakIt();
      await until(what, repaired, 15_000, d);
      report(`repair: ${what}`, performance.now() - t);
      await until(`${what}: fully`, converged(V2), 5000, d);
    }
    // The parent goes away (its macvlans with it) and comes back.
    await sleep(300);
    ip('link', 'del', 'eth0');
    await sleep(300);
    const t = performance.now();
    ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0-peer');
    ip('link', 'set', 'eth0-peer', 'up');
    ip('link', 'set', 'eth0', 'up');
    await until('parent re-created', converged(V2), 15_000, d);
    report('repair: parent deleted and re-created (from re-creation)', performance.now() - t);
    const s = status();
    assert.ok(s.drift_repairs >= 3, `drift repairs counted: ${s.drift_repairs}`);
    assert.equal(s.plan?.changes, [], 'status: converged, empty plan');
    assert.is(await d.stop(), 0);
  } finally {
    await d.stop();
    w.cleanup();
  }
});

test('invalid and truncated files remove nothing; status says why; valid again applies', async () => {
  const w = new World();
  w.veth('eth0');
  w.config(V3, 'later.yaml');
  const file = w.config(V2);
  const d = startDaemon(file);
  try {
    await until('start', converged(V2), 20_000, d);
    const good = status().config.last_good!.hash;
    for (const [what, text] of [
      ['invalid', V3.replace('driver: macvlan', 'driver: macvlna')],
      ['truncated', V3.slice(0, V3.indexOf('subnets'))],
      ['empty', ''],
    ] as const) {
      fs.writeFileSync(file, text);
      fs.utimesSync(file, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
      await until(`${what}: reported`, () => !status().config.valid, 5000, d);
      const s = status();
      assert.is(s.config.last_good!.hash, good, `${what}: last good kept`);
      assert.ok(
        s.config.errors.length > 0 && s.config.errors.every((e) => /:\d+:\d+: error|: E[A-Z]+/.test(e) || /vlannet\.yaml/.test(e)),
        `${what}: ${s.config.errors.join('; ')}`,
      );
      await sleep(300);
      assert.equal(checkKernel(parseConfig(V2)), [], `${what}: nothing removed`);
    }
    const text = vlannet('status').stdout;
    assert.match(text, /NOT VALID/);
    assert.match(text, /keeping the last good one/);
    // Drift is still repaired against the last good config.
    ip('-n', 'dm-a', 'link', 'del', 'eth0');
    await until('repair while invalid', converged(V2), 15_000, d);
    fs.writeFileSync(file, V3);
    await until('valid again', converged(V3), 15_000, d);
    assert.ok(status().config.valid);
    assert.match(d.log(), /<3>|ERROR/);
    assert.is(await d.stop(), 0);
  } finally {
    await d.stop();
    w.cleanup();
  }
});

test('plan and apply of its file are answered by the running daemon; other files and --local are refused', async () => {
  const w = new World();
  w.veth('eth0');
  const file = w.config(V1);
  const other = w.config(V2, 'other.yaml');
  const d = startDaemon(file);
  try {
    await until('start', converged(V1), 20_000, d);
    const plan = vlannet('plan', '-f', file, '--json');
    assert.is(plan.status, 0, plan.stderr);
    assert.equal(JSON.parse(plan.stdout).changes, []);
    const before = checkKernel(parseConfig(V1));
    // Without -f, commands speak of the daemon's file; status exits 0: running and converged.
    const followed = document<{ file: string; daemon_pid: number }>(['plan', '--json'], vlannet('plan', '--json'));
    assert.is(followed.file, path.resolve(file), 'plan without -f plans the daemon’s file');
    assert.is(followed.daemon_pid, d.child.pid);
    let st = vlannet('status', '--json');
    assert.is(st.status, 0, `status: running and converged → 0 (${st.stdout})`);
    document(['status', '--json'], st);
    // destroy is refused while the daemon runs, naming it and its file; nothing changes.
    const r0 = vlannet('destroy', '--yes', '-f', file);
    assert.is(r0.status, 1);
    assert.match(
      r0.stderr,
      new RegExp(
        `the vlannet daemon \\(pid ${d.child.pid}\\) is running and enforces ${file.replace(/[.]/g, '\\.')}: it would make everything again\\. Stop it first`,
      ),
    );
    assert.equal(checkKernel(parseConfig(V1)), before, 'destroy refused: nothing changed');
    // show filters: by namespace, by endpoint, by network (from the file).
    const only = (args: string[]) =>
      show(...args)
        .links.filter((l) => l.alias?.startsWith('vlannet:'))
        .map((l) => `${l.netns}/${l.name}`)
        .sort();
    assert.equal(only(['--netns', 'dm-a']), ['dm-a/eth0']);
    assert.equal(only(['--endpoint', 'dm-b', '--endpoint', 'dm-a']), ['dm-a/eth0', 'dm-b/eth0']);
    assert.equal(only(['--network', 'dnet', '--netns', 'dm-b']), ['dm-b/eth0']);
    assert.equal(only(['--netns', 'host']), [], 'nothing of vlannet in its own namespace');
    assert.equal(
      show('--netns', 'dm-a').addresses.map((a) => `${a.netns}/${a.address}/${a.prefix_length}`),
      ['dm-a/192.168.40.10/24'],
    );
    // The daemon holds the lock: apply works through it, and on its own it is refused.
    let r = vlannet('apply', '-f', file, '--json');
    assert.is(r.status, 0, r.stderr);
    assert.is(JSON.parse(r.stdout).daemon_pid, d.child.pid, 'apply answered by the daemon');
    r = vlannet('apply', '-f', file, '--local');
    assert.is(r.status, 1);
    assert.match(r.stderr, /the vlannet daemon \(pid \d+\) is running and holds .*lock: stop it first/);
    r = vlannet('apply', '-f', other);
    assert.is(r.status, 1, r.stderr);
    assert.match(r.stderr, /enforces .*vlannet\.yaml, not .*other\.yaml: it would undo this apply/);
    r = vlannet('plan', '-f', other, '--json');
    assert.is(r.status, 0, `plan of another file runs on its own: ${r.stderr}`);
    assert.ok(JSON.parse(r.stdout).changes.some((c: { object: string }) => c.object === 'endpoint.dm-c'));
    // An invalid file: its diagnostics, and nothing changes.
    fs.writeFileSync(file, V2.replace('driver: macvlan', 'driver: macvlna'));
    r = vlannet('apply', '-f', file);
    assert.is(r.status, 1);
    assert.match(r.stderr, /vlannet\.yaml:4:\d+: error: .*macvlna/);
    assert.equal(checkKernel(parseConfig(V1)), before, 'nothing changed');
    await until('status: the invalid file held back → 2', () => vlannet('status').status === 2, 10_000, d);
    st = vlannet('status', '--json');
    const held = document<{ config: { valid: boolean }; diagnostics: { line: number; path: string }[] }>(['status', '--json'], st);
    assert.is(held.config.valid, false);
    assert.ok(
      held.diagnostics.some((x) => x.line === 4),
      `the file's error at line 4, in fields: ${st.stdout}`,
    );
    // A valid edit applied through the daemon (or by its watcher first): either way, converged and reported.
    fs.writeFileSync(file, V2);
    r = vlannet('apply', '-f', file, '--json');
    assert.is(r.status, 0, r.stderr);
    assert.equal(checkKernel(parseConfig(V2)), [], 'V2 applied');
    assert.is(await d.stop(), 0);
    st = vlannet('status', '--json');
    assert.is(st.status, 3, 'status: no daemon → 3');
    assert.is(document<{ daemon: { running: boolean } }>(['status', '--json'], st).daemon.running, false);
  } finally {
    await d.stop();
    w.cleanup();
  }
});

test('kill -9 during a large apply, then start again: converged, no duplicates, no leftovers', async () => {
  const w = new World();
  w.veth('eth0');
  const n = 150;
  const endpoints: Record<string, string> = {};
  for (let i = 0; i < n; i++) endpoints[`dk-${i}`] = `10.77.${Math.floor(i / 250)}.${(i % 250) + 2}`;
  const text = `${[
    'version: 1',
    'networks:',
    '  knet:',
    '    driver: macvlan',
    '    parent: eth0',
    '    subnets: [{ subnet: 10.77.0.0/16 }]',
    'endpoints:',
    ...Object.entries(endpoints).map(([e, a]) => `  ${e}: { network: knet, ipv4: ${a} }`),
  ].join('\n')}\n`;
  const file = w.config(text);
  const netnsCount = () => fs.readdirSync('/run/netns').filter((x) => x.startsWith('dk-')).length;
  let d = startDaemon(file);
  try {
    await until('the apply has begun', () => netnsCount() > 0, 20_000, d);
    d.child.kill('SIGKILL');
    await d.stop();
    const partial = netnsCount();
    console.log(`  daemon: killed with ${partial} of ${n} namespaces made`);
    const t = performance.now();
    d = startDaemon(file);
    // The daemon says when its first run is done; the kernel is then checked independently.
    await until('first successful run after restart', () => /applied revision/.test(d.log()), 60_000, d);
    report(`restart after kill -9 to converged (${n} endpoints, includes node start-up)`, performance.now() - t);
    assert.is(netnsCount(), n);
    // Every namespace is there; every 10th endpoint is checked in full (each iproute2 process costs ~0.1 s in the VM under TCG).
    const all = parseConfig(text);
    const sample = { ...all, endpoints: Object.fromEntries(Object.entries(all.endpoints!).filter((_, i) => i % 10 === 0)) };
    assert.equal(checkKernel(sample), [], 'converged');
    for (let i = 0; i < n; i += 15) {
      const links = ipJson<{ ifname: string; ifalias?: string }>('-n', `dk-${i}`, 'link', 'show').filter((l) => l.ifname !== 'lo');
      assert.is(links.length, 1, `dk-${i}: one link`);
      const addrs = ipJson<{ addr_info: { family: string }[] }>('-n', `dk-${i}`, '-4', 'addr', 'show', 'dev', 'eth0')[0]!.addr_info;
      assert.is(addrs.length, 1, `dk-${i}: one address`);
    }
    const hostLeftovers = ipJson<{ ifname: string; ifalias?: string }>('link', 'show').filter((l) => l.ifalias?.startsWith('vlannet:'));
    assert.equal(
      hostLeftovers.map((l) => l.ifname),
      [],
      "nothing of vlannet's in the host namespace",
    );
    assert.is(await d.stop(), 0);
    // A restart on a converged system executes zero actions.
    d = startDaemon(file);
    await until('ready again', () => /ready: /.test(d.log()), 20_000, d);
    assert.not.match(d.log(), /<6>create |INFO +create /, 'restart: no actions');
    assert.is(await d.stop(), 0);
  } finally {
    await d.stop();
    w.cleanup();
  }
});

test.after(() => {
  if (times.length) console.log(`\n  daemon timings:\n    ${times.join('\n    ')}`);
});

test.run();
