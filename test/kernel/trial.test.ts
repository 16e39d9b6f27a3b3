// Trials on a real kernel (apply --confirm-timeout): the promise is that an unconfirmed apply is
// undone on time, whatever happens to the command that made it, and that what comes back is the
// kernel exactly as it was, byte for byte in `ip -d -j link/addr/route` of every namespace:
// names, ifindexes, MAC addresses, modes, MTUs, addresses, routes, namespaces.
//   - kill -9 of the CLI in the middle of the trial's apply, and after it: the detached reverter
//     (this VM has no systemd; the systemd timer is tested in test/systemd) reverts at the deadline;
//   - confirm keeps the trial, a second confirm says it is over, revert now, applies refused while
//     a trial is pending, a trial whose apply fails is undone at once;
//   - with the daemon: it holds the trial, does not repair drift meanwhile, reverts on time (the
//     drift too), refuses a confirm its file contradicts, and enforces its file again afterwards.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sleep, startDaemon, until } from './support/daemon.js';
import { ip, ipJson, run } from './support/sh.js';
import { snapshotWorld } from './support/snapshot.js';
import { document, REPO, startVlannet, vlannet } from './support/vlannet.js';
import { World } from './support/world.js';

const TRIAL = path.join(process.env.VLANNET_RUN_DIR ?? '/run/vlannet', 'trial.json');

interface Trial {
  id: string;
  state: string;
  deadline: string;
  applied: boolean;
  endedAt?: string;
  endedBy?: string;
  daemonPid: number | null;
  reverter: { kind: string; pid?: number } | null;
}
const trial = (): Trial | null => (fs.existsSync(TRIAL) ? (JSON.parse(fs.readFileSync(TRIAL, 'utf8')) as Trial) : null);

// Before: a macvlan network on an 802.1q link vlannet makes, an isolated network on its dummy, an
// ipvlan network; four endpoints. The trial changes all of it: a mode set in place, an endpoint
// readdressed, one removed with its namespace, one moved to another network, a new one, the
// isolated network gone with its dummy, a new vlan.
const BEFORE = `version: 1
networks:
  lan:
    driver: macvlan
    parent: eth0.50
    subnets: [{ subnet: 192.168.50.0/24 }, { subnet: 2001:db8:50::/64 }]
  iso:
    driver: macvlan
    subnets: [{ subnet: 10.9.0.0/24 }]
  ipl:
    driver: ipvlan
    parent: eth1
    subnets: [{ subnet: 192.168.60.0/24 }]
endpoints:
  tr-a: { network: lan, ipv4: 192.168.50.10 }
  tr-b: { network: lan }
  tr-i: { network: iso }
  tr-p: { network: ipl }
`;
const AFTER = `version: 1
networks:
  lan:
    driver: macvlan
    parent: eth0.50
    mode: private
    subnets: [{ subnet: 192.168.50.0/24 }, { subnet: 2001:db8:50::/64 }]
  lan70:
    driver: macvlan
    parent: eth0.70
    subnets: [{ subnet: 192.168.70.0/24 }]
  ipl:
    driver: ipvlan
    parent: eth1
    subnets: [{ subnet: 192.168.60.0/24 }]
endpoints:
  tr-a: { network: lan, ipv4: 192.168.50.20 }
  tr-b: { network: lan70 }
  tr-c: { network: lan }
  tr-p: { network: ipl }
`;

function setUp(w: World): { before: string; after: string } {
  w.veth('eth0');
  w.veth('eth1');
  const before = w.config(BEFORE);
  const after = w.config(AFTER, 'after.yaml');
  const r = vlannet('apply', '-f', before);
  assert.is(r.status, 0, r.stderr);
  return { before, after };
}

/**
 * Wait until no address is tentative (IPv6 duplicate address detection on a link just made or
 * brought up), in any namespace: a passing state of the kernel, not a difference, and it changes
 * what `ip` prints (the flag, and the local route that comes with the address).
 */
function settled(): void {
  const until = Date.now() + 20_000;
  const tentative = () =>
    [
      '',
      ...run('ip', ['netns', 'list'])
        .stdout.split('\n')
        .map((l) => l.split(' ')[0]!)
        .filter(Boolean),
    ].some((ns) => run('ip', [...(ns ? ['-n', ns] : []), '-j', 'addr', 'show']).stdout.includes('"tentative":true'));
  while (tentative()) {
    if (Date.now() > until) throw new Error('an address is still tentative after 20 s');
    run('sleep', ['0.2']);
  }
}

/** snapshotWorld, once duplicate address detection is over. */
function world(): ReturnType<typeof snapshotWorld> {
  settled();
  return snapshotWorld();
}

/**
 * The kernel is byte-identical to `before` (snapshotWorld); when it is not, the message names each
 * namespace and part that differs and the items that differ, rather than two walls of JSON. Two
 * things the kernel decides are allowed, and only those:
 * - the order of routes to the same prefix (the kernel lists them in the order they were added; a
 *   routing table is a set);
 * - the ifindex of a link in a named namespace when that index is in use in vlannet's own
 *   namespace: Linux 6.1 looks an index asked for up in the namespace the request comes from, and
 *   refuses it there (newer kernels look in the link's namespace). Every other index must be the same.
 */
function assertSameWorld(before: ReturnType<typeof snapshotWorld>, what: string, context = ''): void {
  settled();
  const now = snapshotWorld();
  const own = new Set((JSON.parse(now['(vlannet)']!.links!) as { ifindex: number }[]).map((l) => l.ifindex).filter((i) => i !== 1));
  const diffs: string[] = [];
  for (const ns of new Set([...Object.keys(before), ...Object.keys(now)])) {
    for (const part of new Set([...Object.keys(before[ns] ?? {}), ...Object.keys(now[ns] ?? {})])) {
      const a = before[ns]?.[part] ?? '(absent)';
      const b = now[ns]?.[part] ?? '(absent)';
      if (a === b) continue;
      const named = ns !== '(vlannet)' && (part === 'links' || part === 'addresses');
      type Item = { ifindex?: number; ifname?: string };
      const list = (t: string): Item[] | null => (t.startsWith('[') ? (JSON.parse(t) as Item[]) : null);
      const wanted = new Map((list(a) ?? []).map((x) => [x.ifname, x.ifindex]));
      const mask = (x: Item) => named && own.has(wanted.get(x.ifname) ?? -1);
      const items = (t: string) =>
        list(t)?.map((x) => JSON.stringify(mask(x) ? { ...x, ifindex: "taken in vlannet's namespace" } : x)) ?? [t];
      const [ia, ib] = [items(a), items(b)];
      const gone = ia.filter((x) => !ib.includes(x));
      const added = ib.filter((x) => !ia.includes(x));
      const sameSet = gone.length === 0 && added.length === 0;
      if (sameSet && (part.startsWith('routes') || ia.join() === ib.join())) continue;
      diffs.push(`${ns} ${part}:`, ...gone.map((x) => `  - ${x}`), ...added.map((x) => `  + ${x}`));
      if (sameSet) diffs.push('  (the same items, in another order)');
    }
  }
  assert.ok(diffs.length === 0, `${what}:\n${diffs.join('\n')}${context ? `\n${context}` : ''}`);
}

/** Whether the endpoint link of namespace `ns` is up (administratively). */
function isUp(ns: string): boolean {
  return ipJson<{ flags: string[] }>('-n', ns, 'link', 'show', 'eth0')[0]!.flags.includes('UP');
}

/** The trial's reverter is gone (it exits once the trial is over). */
function reverterGone(t: Trial | null): boolean {
  const pid = t?.reverter?.pid;
  return pid === undefined || !fs.existsSync(`/proc/${pid}`);
}

test('kill -9 of the CLI in the middle of the trial: reverted at the deadline, the kernel byte-identical', async () => {
  const w = new World();
  try {
    const { after } = setUp(w);
    const before = world();
    const cli = startVlannet('apply', '-f', after, '--confirm-timeout', '3s');
    // The record is written, and the reverter armed, before the first change: kill the CLI then.
    await until('the trial is recorded and its reverter armed', () => trial()?.reverter != null, 60_000);
    process.kill(cli.pid, 'SIGKILL');
    await cli.done;
    const t = trial()!;
    assert.is(t.reverter?.kind, 'process', 'no systemd here: a detached vlannet process reverts');
    await until('the trial is reverted', () => trial()?.state === 'reverted', 60_000);
    const ended = trial()!;
    assert.ok(Date.parse(ended.endedAt!) >= Date.parse(t.deadline), `reverted at ${ended.endedAt}, not before the deadline ${t.deadline}`);
    assert.match(ended.endedBy!, /reverter/);
    assertSameWorld(before, 'the kernel is exactly as before the trial');
    await until('the reverter has exited', () => reverterGone(t), 10_000);
  } finally {
    w.cleanup();
  }
});

test('kill -9 after the trial applied (the SSH session died): reverted on time, byte-identical; status showed it pending', async () => {
  const w = new World();
  try {
    const { after } = setUp(w);
    const before = world();
    const cli = startVlannet('apply', '-f', after, '--confirm-timeout', '25s');
    await until('the trial has applied', () => trial()?.applied === true, 120_000);
    process.kill(cli.pid, 'SIGKILL'); // whether it is still printing or gone already
    await cli.done;
    const t = trial()!;
    assert.is(vlannet('plan', '-f', after, '--detailed-exitcode').status, 0, 'the trial is applied in full');
    const status = vlannet('status', '-f', after);
    assert.match(status.stdout, new RegExp(`trial: +${t.id} of .*after.yaml PENDING: reverted at`));
    const json = document<{ trial: Trial }>(['status'], vlannet('status', '-f', after, '--json'));
    assert.is(json.trial.state, 'pending');
    const refused = vlannet('apply', '-f', after);
    assert.is(refused.status, 1);
    assert.match(
      refused.stderr,
      /a trial of .* is pending until .* \(trial [0-9a-f]+\)\. Run `vlannet confirm` or `vlannet revert` first; nothing was changed/,
    );
    await until('the trial is reverted', () => trial()?.state === 'reverted', 60_000);
    const lateBy = Date.parse(trial()!.endedAt!) - Date.parse(t.deadline);
    assert.ok(lateBy >= 0 && lateBy < 10_000, `reverted ${lateBy} ms after the deadline`);
    assertSameWorld(before, 'the kernel is exactly as before the trial');
    const confirm = vlannet('confirm');
    assert.is(confirm.status, 1, 'too late to confirm');
    assert.match(confirm.stderr, /no trial is pending: trial .* was reverted at .* by its reverter/);
  } finally {
    w.cleanup();
  }
});

test('confirm keeps the trial and stops the reverter; revert now; a failed trial is undone at once', async () => {
  const w = new World();
  try {
    const { before: first, after } = setUp(w);
    const tried = vlannet('apply', '-f', after, '--confirm-timeout', '1m');
    assert.is(tried.status, 0, tried.stderr);
    assert.match(
      tried.stdout,
      /Trial [0-9a-f]+: run `vlannet confirm` before .* to keep this; otherwise vlannet process \d+ puts the kernel back/,
    );
    const t = trial()!;
    const confirmed = vlannet('confirm', '--json');
    assert.is(confirmed.status, 0, confirmed.stderr);
    assert.is(document<{ outcome: string }>(['confirm'], confirmed).outcome, 'confirmed');
    await until('the reverter has exited', () => reverterGone(t), 10_000);
    assert.is(trial()!.state, 'confirmed');
    assert.is(vlannet('plan', '-f', after, '--detailed-exitcode').status, 0, 'the trial stays');

    // Back to the first file, then a trial reverted on demand.
    assert.is(vlannet('apply', '-f', first).status, 0);
    const again = world();
    assert.is(vlannet('apply', '-f', after, '--confirm-timeout', '1m').status, 0);
    const reverted = vlannet('revert');
    assert.is(reverted.status, 0, reverted.stderr);
    assert.match(reverted.stdout, /Reverted trial [0-9a-f]+: the kernel is back as it was before it/);
    assertSameWorld(again, 'revert now: exactly as before');
    assert.is(vlannet('revert').status, 1, 'nothing left to revert');

    // A trial whose apply fails (an injected EIO at its 6th step) is put back at once.
    const failed = run(process.execPath, [path.join(REPO, 'bin', 'vlannet.js'), 'apply', '-f', after, '--confirm-timeout', '1m'], {
      env: { ...process.env, VLANNET_FAIL_AT: '6' },
    });
    assert.is(failed.status, 1);
    assert.match(failed.stderr, /the trial's apply failed, so the kernel was put back exactly as it was before it/);
    assert.is(trial()!.state, 'reverted');
    assertSameWorld(again, 'a failed trial: exactly as before');
  } finally {
    w.cleanup();
  }
});

test('the daemon holds a trial: no drift repair meanwhile, reverted on time with the drift, confirm only what its file says', async () => {
  const w = new World();
  const { before: file, after } = setUp(w);
  const d = startDaemon(file);
  try {
    await until('the daemon is up', () => vlannet('status').status === 0, 60_000, d);
    const before = world();
    const tried = vlannet('apply', '-f', after, '--confirm-timeout', '8s', '--json');
    assert.is(tried.status, 0, tried.stderr);
    const t = document<{ trial: { daemon_pid: number }; daemon_pid: number }>(['apply'], tried);
    assert.is(t.trial.daemon_pid, d.child.pid, 'the daemon holds the trial');
    assert.is(t.daemon_pid, d.child.pid);
    assert.is(vlannet('status').status, 2, 'status: attention while a trial is pending');

    // Drift during the trial is not repaired: enforcement is paused.
    ip('-n', 'tr-c', 'link', 'set', 'eth0', 'down');
    await sleep(1500);
    assert.not.ok(isUp('tr-c'), 'not repaired while the trial is pending');

    // The daemon's file is not the file tried: confirming would hand the kernel back to it.
    const refused = vlannet('confirm');
    assert.is(refused.status, 1);
    assert.match(refused.stderr, /the daemon enforces .*vlannet.yaml, which differs from .*after.yaml as tried/);

    await until('the daemon reverts the trial', () => trial()?.state === 'reverted', 60_000, d);
    assert.match(trial()!.endedBy!, /the daemon at the deadline/);
    await until('the daemon is converged on its file', () => vlannet('plan', '-f', file, '--detailed-exitcode').status === 0, 30_000, d);
    assertSameWorld(before, 'reverted exactly, the drift with it', d.log());

    // A trial confirmed once the daemon's file holds it: the daemon then enforces it.
    assert.is(vlannet('apply', '-f', after, '--confirm-timeout', '1m').status, 0);
    fs.copyFileSync(after, file);
    await sleep(1500); // the daemon sees the edit, and does not apply it while the trial is pending
    const confirmed = vlannet('confirm');
    assert.is(confirmed.status, 0, confirmed.stderr);
    assert.match(confirmed.stdout, /Confirmed trial/);
    ip('-n', 'tr-c', 'link', 'set', 'eth0', 'down');
    await until('drift repaired again', () => isUp('tr-c'), 30_000, d);
    assert.is(vlannet('plan', '-f', after, '--detailed-exitcode').status, 0);
  } finally {
    await d.stop();
    w.cleanup();
  }
});

test.run();
