// The daemon under a Kubernetes ConfigMap volume (deploy/kubernetes: the ConfigMap mounted whole at
// /etc/vlannet, `vlannet daemon -f /etc/vlannet/vlannet.yaml`), on a real kernel. The kubelet
// writes and updates such a volume its own way (AtomicWriter.Write, kubernetes
// pkg/volume/util/atomic_writer.go), replayed here step for step: the files live in a hidden
// directory `..YYYY_MM_DD_HH_MM_SS.DIGITS` (UTC, a random suffix, mode 0755), `..data` is a
// symlink to it, and each key is a symlink `KEY -> ..data/KEY`. An update writes a new hidden
// directory, makes `..data_tmp` point to it, renames that over `..data` (the one atomic step),
// adds links for new keys, removes the links of keys gone, and deletes the old directory. The
// content of vlannet.yaml thus changes only through the flip, and the file the daemon last read is
// gone a moment later. The volume is written in one directory and read through a read-only bind
// mount of it, as the container sees the kubelet's directory. After each update the kernel is
// checked with iproute2, and the daemon must hold the last good state through a bad revision.

import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Daemon, sleep, startDaemon, until } from './support/daemon.js';
import { checkKernel } from './support/expect.js';
import { must, run } from './support/sh.js';
import { vlannet } from './support/vlannet.js';
import { parseConfig, World } from './support/world.js';

/**
 * A ConfigMap volume as the kubelet keeps it. write() is AtomicWriter.Write for a payload of keys
 * and contents (the ConfigMap's data), each file with the volume's default mode, 0644.
 */
class ConfigMapVolume {
  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** The hidden directory ..data points to, or null before the first write. */
  current(): string | null {
    try {
      return fs.readlinkSync(path.join(this.dir, '..data'));
    } catch {
      return null;
    }
  }

  /** Returns whether anything was written (the kubelet writes nothing when nothing changed). */
  write(payload: Record<string, string>): boolean {
    const at = (...p: string[]) => path.join(this.dir, ...p);
    const old = this.current();
    // The keys of the old revision that the payload no longer has: their links go after the flip.
    const gone = old ? fs.readdirSync(at(old)).filter((k) => !Object.hasOwn(payload, k)) : [];
    const same = old !== null && Object.entries(payload).every(([k, v]) => readOr(at(old, k)) === v);
    if (!same || gone.length > 0) {
      const ts = timestampDir();
      fs.mkdirSync(at(ts));
      fs.chmodSync(at(ts), 0o755);
      for (const [k, v] of Object.entries(payload)) {
        fs.writeFileSync(at(ts, k), v, { mode: 0o644 });
        fs.chmodSync(at(ts, k), 0o644);
      }
      fs.symlinkSync(ts, at('..data_tmp'));
      fs.renameSync(at('..data_tmp'), at('..data'));
      this.links(payload);
      for (const k of gone) fs.unlinkSync(at(k));
      if (old) fs.rmSync(at(old), { recursive: true, force: true });
      return true;
    }
    this.links(payload); // made even when nothing else is (kubernetes issue 121472)
    return false;
  }

  /** The user-visible link of each key that has none yet. */
  private links(payload: Record<string, string>): void {
    for (const k of Object.keys(payload)) {
      const link = path.join(this.dir, k);
      if (!fs.existsSync(link) && !isLink(link)) fs.symlinkSync(path.join('..data', k), link);
    }
  }
}

/** Go's os.MkdirTemp(dir, "..2006_01_02_15_04_05.") name: the UTC time, then random digits. */
function timestampDir(): string {
  const t = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  const when = `${t.getUTCFullYear()}_${two(t.getUTCMonth() + 1)}_${two(t.getUTCDate())}_${two(t.getUTCHours())}_${two(t.getUTCMinutes())}_${two(t.getUTCSeconds())}`;
  return `..${when}.${randomInt(2 ** 32 - 1)}`;
}

function readOr(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

function config(endpoints: Record<string, string>, driver = 'macvlan'): string {
  return `${[
    'version: 1',
    'networks:',
    '  cmnet:',
    `    driver: ${driver}`,
    '    parent: eth0',
    '    subnets: [{ subnet: 192.168.41.0/24 }]',
    'endpoints:',
    ...Object.entries(endpoints).map(([n, a]) => `  ${n}: { network: cmnet, ipv4: ${a} }`),
  ].join('\n')}\n`;
}
const V1 = config({ 'cm-a': '192.168.41.10', 'cm-b': '192.168.41.11' });
const V2 = config({ 'cm-a': '192.168.41.10', 'cm-b': '192.168.41.11', 'cm-c': '192.168.41.12' });
const BAD = config({ 'cm-a': '192.168.41.20', 'cm-b': '192.168.41.11', 'cm-c': '192.168.41.12' }, 'macvlna');
const V3 = config({ 'cm-a': '192.168.41.20', 'cm-b': '192.168.41.11', 'cm-c': '192.168.41.12' });
const V4 = config({ 'cm-a': '192.168.41.20', 'cm-c': '192.168.41.12' });
const V5 = config({ 'cm-a': '192.168.41.20', 'cm-c': '192.168.41.12', 'cm-d': '192.168.41.13' });
const V6 = config({ 'cm-a': '192.168.41.21', 'cm-c': '192.168.41.12', 'cm-d': '192.168.41.13' });
const V7 = config({ 'cm-a': '192.168.41.22', 'cm-d': '192.168.41.13' });

/** checkKernel throws while a namespace it looks into is not there yet: that is "not yet". */
const converged = (text: string) => () => {
  try {
    return checkKernel(parseConfig(text)).length === 0;
  } catch {
    return false;
  }
};
const netnsGone = (name: string) => () => !fs.existsSync(`/run/netns/${name}`);
const status = () => JSON.parse(vlannet('status', '--json').stdout) as { config: { valid: boolean; errors: string[] } };

/** The directories the daemon's inotify instances watch (fdinfo lists one `inotify wd:` line per watch). */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    n += fs
      .readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('inotify wd:')).length;
  }
  return n;
}

const times: string[] = [];
/**
 * Wait for an update to be applied and report how long it took: first for the daemon's `applied
 * revision` line (stamped by its own clock, the same as this one: cheap to poll), then for iproute2
 * to see the kernel equal to `text` (each poll costs a few processes, seconds under TCG).
 */
async function converge(what: string, d: Daemon, since: { wall: number; mono: number }, text: string, also = () => true): Promise<void> {
  const stamp = () =>
    d
      .log()
      .split('\n')
      .map((l) => /^(\S+Z) INFO +applied revision /.exec(l)?.[1])
      .find((s) => s !== undefined && Date.parse(s) >= since.wall);
  await until(`${what}: applied revision logged`, () => stamp() !== undefined, 60_000, d);
  await until(`${what}: the kernel`, () => also() && converged(text)(), 30_000, d);
  const line = `${what}: applied after ${Date.parse(stamp()!) - since.wall} ms, seen by iproute2 after ${(performance.now() - since.mono).toFixed(0)} ms`;
  times.push(line);
  console.log(`  configmap: ${line}`);
}
const now = () => ({ wall: Date.now(), mono: performance.now() });

test('ConfigMap volume updates as the kubelet makes them are applied; a bad revision holds the last good state', async () => {
  const w = new World();
  for (const [i, t] of [V1, V2, V3, V4, V5, V6, V7].entries()) w.config(t, `ns-${i}.yaml`); // namespaces to clean up
  w.veth('eth0');
  // The kubelet's directory for the pod's volume, and the container's view of it.
  const volume = new ConfigMapVolume(path.join(w.dir, 'pods', 'uid', 'volumes', 'kubernetes.io~configmap', 'config'));
  const etc = path.join(w.dir, 'etc-vlannet');
  fs.mkdirSync(etc);
  let d: Daemon | null = null;
  let mounted = false;
  try {
    // (a) The volume as the pod starts: populated before the container runs.
    assert.ok(volume.write({ 'vlannet.yaml': V1 }));
    must('mount', ['--bind', volume.dir, etc]);
    mounted = true;
    must('mount', ['-o', 'remount,bind,ro', etc]);
    const first = volume.current()!;
    assert.match(first, /^\.\.\d{4}(_\d\d){5}\.\d+$/, 'the hidden directory is named as the kubelet names it');
    assert.equal(fs.readdirSync(etc).sort(), [first, '..data', 'vlannet.yaml'].sort());
    assert.is(fs.readlinkSync(path.join(etc, 'vlannet.yaml')), '..data/vlannet.yaml');
    assert.is(fs.statSync(path.join(etc, first)).mode & 0o777, 0o755);
    assert.is(fs.statSync(path.join(etc, 'vlannet.yaml')).mode & 0o777, 0o644);
    assert.throws(() => fs.writeFileSync(path.join(etc, 'x'), ''), /EROFS/, 'the container sees the volume read-only');

    const file = path.join(etc, 'vlannet.yaml');
    const daemon = startDaemon(file);
    d = daemon;
    const started = now();
    await converge('start (2 endpoints, includes node start-up)', daemon, started, V1);
    await until('ready', () => /ready: /.test(daemon.log()), 30_000, daemon);
    const watches = inotifyWatches(daemon.child.pid!);
    assert.ok(watches > 0, 'the daemon watches the volume');

    // (b) An update that adds an endpoint.
    await sleep(200);
    let t = now();
    assert.ok(volume.write({ 'vlannet.yaml': V2 }));
    await converge('update: add an endpoint', daemon, t, V2);
    assert.not.ok(fs.existsSync(path.join(volume.dir, first)), 'the old revision is deleted');

    // (c) An invalid revision: logged with its line and column, nothing changes, the last good one is enforced.
    await sleep(200);
    assert.ok(volume.write({ 'vlannet.yaml': BAD }));
    // The error and the warning after it are two writes: wait for both.
    await until(
      'invalid revision logged',
      () =>
        /vlannet\.yaml:4:\d+: error: .*macvlna[\s\S]*is not valid: nothing changes because of it; still enforcing revision/.test(
          daemon.log(),
        ),
      30_000,
      daemon,
    );
    const held = status();
    assert.is(held.config.valid, false);
    assert.ok(
      held.config.errors.some((e) => /macvlna/.test(e)),
      held.config.errors.join('; '),
    );
    await sleep(500);
    assert.equal(checkKernel(parseConfig(V2)), [], 'the invalid revision changed nothing');

    // (d) Fixed: the next revision is applied, and the log says the file is valid again.
    await sleep(200);
    t = now();
    assert.ok(volume.write({ 'vlannet.yaml': V3 }));
    await converge('update: valid again (an address changed)', daemon, t, V3);
    // The log is read between polls (the kernel checks block this process): wait for the line.
    await until('valid again logged', () => /config valid again/.test(daemon.log()), 10_000, daemon);

    // (e) An endpoint removed: the key's link is untouched, the content changes through the flip
    // alone, and the directory the daemon last read is deleted right after it.
    await sleep(200);
    const link = fs.lstatSync(path.join(volume.dir, 'vlannet.yaml')).ino;
    const before = volume.current()!;
    t = now();
    assert.ok(volume.write({ 'vlannet.yaml': V4 }));
    assert.is(fs.lstatSync(path.join(volume.dir, 'vlannet.yaml')).ino, link, 'the same user-visible link');
    assert.not.ok(fs.existsSync(path.join(volume.dir, before)), 'the directory last read is gone');
    await converge('update: remove an endpoint (flip, old directory deleted)', daemon, t, V4, netnsGone('cm-b'));

    // (f) The key set changes. A second key: a new revision whose vlannet.yaml has the same bytes
    // changes nothing. Then vlannet.yaml leaves the ConfigMap (its link is removed after the
    // flip): unreadable, nothing changes. Then it comes back with an endpoint more.
    await sleep(200);
    const revisions = () => (daemon.log().match(/revision [0-9a-f]{12}/g) ?? []).length;
    const seen = revisions();
    assert.ok(volume.write({ 'vlannet.yaml': V4, 'notes.txt': 'fleet notes\n' }));
    assert.is(fs.readlinkSync(path.join(etc, 'notes.txt')), '..data/notes.txt');
    await sleep(1000);
    assert.is(revisions(), seen, 'the same bytes in a new directory are no new revision');
    assert.equal(checkKernel(parseConfig(V4)), []);
    assert.ok(volume.write({ 'notes.txt': 'fleet notes\n' }));
    assert.not.ok(isLink(path.join(etc, 'vlannet.yaml')), "the key's link is removed");
    await until('the file is gone: reported', () => /cannot read .*vlannet\.yaml: .*ENOENT/.test(daemon.log()), 30_000, daemon);
    assert.is(status().config.valid, false);
    await sleep(500);
    assert.equal(checkKernel(parseConfig(V4)), [], 'a missing file changed nothing');
    t = now();
    assert.ok(volume.write({ 'vlannet.yaml': V5 }));
    assert.not.ok(fs.existsSync(path.join(etc, 'notes.txt')), 'notes.txt is gone with its key');
    await converge('update: the key back after it was removed', daemon, t, V5);

    // (g) Two revisions published faster than the daemon reads: the last one is what stays.
    await sleep(200);
    t = now();
    assert.ok(volume.write({ 'vlannet.yaml': V6 }));
    assert.ok(volume.write({ 'vlannet.yaml': V7 }));
    await converge('two updates in a row', daemon, t, V7, netnsGone('cm-c'));
    assert.equal(fs.readdirSync(volume.dir).filter((e) => e.startsWith('..') && e !== '..data').length, 1, 'one hidden directory left');

    // The watches followed the flips instead of piling up on deleted directories.
    assert.is(inotifyWatches(daemon.child.pid!), watches, 'as many inotify watches as at the start');
    assert.not.ok(volume.write({ 'vlannet.yaml': V7 }), 'the same payload again: the kubelet writes nothing');
    assert.is(await daemon.stop(), 0, 'SIGTERM exits 0');
    assert.equal(checkKernel(parseConfig(V7)), [], 'the networks outlive the daemon');
  } catch (e) {
    // What the daemon said (each line with its time) is what explains a failure.
    if (d && e instanceof Error && !e.message.includes('--- daemon log')) e.message += `\n--- daemon log\n${d.log()}`;
    throw e;
  } finally {
    await d?.stop();
    if (mounted) run('umount', [etc]);
    w.cleanup();
  }
});

test.after(() => {
  if (times.length) console.log(`\n  configmap timings:\n    ${times.join('\n    ')}`);
});

test.run();
