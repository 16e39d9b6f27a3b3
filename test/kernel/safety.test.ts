// What README.md's Safety section promises, each with a failure injected on the real kernel:
//   - a plan the kernel would refuse (an MTU above the parent's) is refused whole: nothing touched;
//   - a namespace a process still uses is not removed (the pids are named); --force takes the
//     endpoint's link away first; an orphaned namespace's address is never handed out again;
//   - a static address that changes keeps its default route (replace means replace);
//   - a step that fails before the point of no return leaves the kernel exactly as it was; after
//     it, the next apply finishes the work; apply(A) then apply(B) builds what apply(B) builds;
//   - kill -9 at any moment of a 200-endpoint apply: the next apply converges, destroy leaves nothing;
//   - the daemon's watcher survives a symlink becoming a file, and SIGTERM still ends it at once;
//     a file written in place in two pieces is applied once, whole; validate refuses what it does;
//   - user mistakes are one line and exit 1, never "internal error".

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sleep, startDaemon, until } from './support/daemon.js';
import { checkKernel } from './support/expect.js';
import { ip, ipJson, ping, run } from './support/sh.js';
import { snapshotWorld } from './support/snapshot.js';
import { apply, destroy, plan, REPO, startVlannet, vlannet } from './support/vlannet.js';
import { parseConfig, World } from './support/world.js';

const NET = `  lan:
    driver: macvlan
    parent: eth0
    subnets: [{ subnet: 10.0.1.0/24, gateway: 10.0.1.1 }]`;

const yaml = (networks: string, endpoints: string) => `version: 1\nnetworks:\n${networks}\nendpoints:\n${endpoints}\n`;
const namespaces = () =>
  run('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean)
    .sort();

/** A process sleeping inside namespace `ns` (as a container would be); killed by the test by its pid. */
/** A process in namespace `ns`, returned once it is inside and has become `sleep`. */
function sleeper(ns: string): { pid: number; kill(): void } {
  const want = `net:[${fs.statSync(`/run/netns/${ns}`).ino}]`;
  const child = spawn('ip', ['netns', 'exec', ns, 'sleep', '600'], { stdio: 'ignore' });
  const settled = () => {
    try {
      return fs.readlinkSync(`/proc/${child.pid}/ns/net`) === want && fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim() === 'sleep';
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 20_000;
  while (!settled()) {
    if (Date.now() > deadline) throw new Error(`ip netns exec ${ns} sleep did not start within 20 s`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  return {
    pid: child.pid!,
    kill: () => {
      child.kill('SIGKILL');
    },
  };
}

/** Addresses in the network namespace of a process, read through /proc/PID/ns/net. */
function addressesOfPid(pid: number): string[] {
  const r = run('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-j', 'addr', 'show']);
  return (JSON.parse(r.stdout || '[]') as { ifname: string; addr_info: { local: string }[] }[])
    .filter((l) => l.ifname !== 'lo')
    .flatMap((l) => l.addr_info.map((a) => a.local));
}

test("case 1: a network whose MTU is above its parent's is refused by plan and apply, whole: nothing touched", () => {
  const w = new World();
  try {
    w.veth('eth0');
    apply(w.config(yaml(NET, '  web1: { network: lan, ipv4: 10.0.1.12 }\n  x: { network: lan }')));
    const b = w.config(
      yaml(
        `${NET}
  jumbo:
    driver: macvlan
    parent: eth0
    mtu: 9000
    subnets: [{ subnet: 10.0.9.0/24 }]`,
        '  web1: { network: lan, ipv4: 10.0.1.12 }\n  big: { network: jumbo }',
      ),
      'b.yaml',
    );
    const before = snapshotWorld();
    for (const command of ['plan', 'apply']) {
      const r = vlannet(command, '-f', b);
      assert.is(r.status, 1, `${command} refuses: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        /networks\.jumbo\.mtu: mtu 9000 is above the MTU of its parent eth0 \(1500\): the kernel refuses that \(EINVAL\)/,
      );
      assert.match(r.stderr, /nothing was changed/);
      assert.not.match(r.stderr, /ROLLBACK|internal error/);
    }
    assert.equal(snapshotWorld(), before, 'x is still there, with its link and address; nothing else moved');
  } finally {
    w.cleanup();
  }
});

test("case 2: a namespace a process uses is not removed; --force removes the link first; an orphan's address is never handed out", () => {
  const w = new World();
  const sleepers: { kill(): void }[] = [];
  try {
    w.veth('eth0');
    const a = w.config(yaml(NET, '  web1: { network: lan }\n  x: { network: lan }'));
    apply(a);
    const xAddress = ipJson<{ addr_info: { local: string }[] }>('-n', 'x', 'addr', 'show', 'dev', 'eth0')[0]!.addr_info[0]!.local;
    const s = sleeper('x');
    sleepers.push(s);
    const b = w.config(yaml(NET, '  web1: { network: lan }'), 'b.yaml');
    const before = snapshotWorld();

    const planned = vlannet('plan', '-f', b);
    assert.is(planned.status, 0);
    assert.match(
      planned.stderr,
      new RegExp(`apply will refuse this: removing namespace x .* while pid ${s.pid} \\(sleep\\) still uses that namespace`),
    );
    const refused = vlannet('apply', '-f', b);
    assert.is(refused.status, 1, refused.stdout + refused.stderr);
    assert.match(
      refused.stderr,
      new RegExp(
        `netns\\.x: removing namespace x .*link eth0 \\(${xAddress.replace(/\./g, '\\.')}/24\\).* pid ${s.pid} \\(sleep\\) still uses that namespace: the process would keep vlannet's link, with its address, on the LAN`,
      ),
    );
    assert.match(refused.stderr, /nothing was changed/);
    assert.equal(snapshotWorld(), before, 'nothing changed');

    const forced = vlannet('apply', '-f', b, '--force');
    assert.is(forced.status, 0, forced.stdout + forced.stderr);
    assert.equal(addressesOfPid(s.pid), [], "the process is left with its loopback: no address of vlannet's on the LAN");
    assert.not.ok(namespaces().includes('x'));
    assert.equal(checkKernel(parseConfig(fs.readFileSync(b, 'utf8'))), []);

    // Someone deletes a namespace by hand while a process uses it: an orphan, with its address live.
    const c = w.config(yaml(NET, '  web1: { network: lan }\n  z: { network: lan }'), 'c.yaml');
    apply(c);
    const zAddress = ipJson<{ addr_info: { local: string }[] }>('-n', 'z', 'addr', 'show', 'dev', 'eth0')[0]!.addr_info[0]!.local;
    const orphanHolder = sleeper('z');
    sleepers.push(orphanHolder);
    ip('netns', 'del', 'z');
    assert.equal(addressesOfPid(orphanHolder.pid), [zAddress], 'the orphan keeps its address');
    const d = w.config(yaml(NET, '  web1: { network: lan }\n  y: { network: lan }'), 'd.yaml');
    const p = vlannet('plan', '-f', d);
    assert.match(
      p.stderr,
      new RegExp(
        `namespace z is gone from /run/netns, but pid ${orphanHolder.pid} \\(sleep\\) keeps it alive with vlannet's link eth0 \\(${zAddress.replace(/\./g, '\\.')}/24\\)`,
      ),
    );
    apply(d);
    const yAddress = ipJson<{ addr_info: { local: string }[] }>('-n', 'y', 'addr', 'show', 'dev', 'eth0')[0]!.addr_info[0]!.local;
    assert.is.not(yAddress, zAddress, 'the new endpoint does not get the address the orphan still holds');
  } finally {
    for (const s of sleepers) s.kill();
    w.cleanup();
  }
});

test('case 3: a static IPv4 address that changes keeps its default route; the plan counts the replaces', () => {
  const w = new World();
  try {
    w.veth('eth0');
    ip('addr', 'add', '10.0.1.1/24', 'dev', 'eth0-peer'); // the gateway, on the far end of the veth
    apply(w.config(yaml(NET, '  web1: { network: lan, ipv4: 10.0.1.11 }')));
    const b = w.config(yaml(NET, '  web1: { network: lan, ipv4: 10.0.1.12 }'), 'b.yaml');
    assert.equal(plan(b).summary, { add: 0, change: 0, replace: 2, destroy: 0 }, 'the address and the default route through it');
    apply(b);
    assert.equal(checkKernel(parseConfig(fs.readFileSync(b, 'utf8'))), []);
    const routes = ipJson<{ gateway?: string }>('-n', 'web1', '-4', 'route', 'show', 'default');
    assert.equal(
      routes.map((r) => r.gateway),
      ['10.0.1.1'],
      'the default route is there',
    );
    assert.ok(ping('web1', '10.0.1.1'), 'and works');
  } finally {
    w.cleanup();
  }
});

/** The kernel as the operator sees it, without what the kernel picks itself (ifindexes, MACs, automatic addresses). */
function picture(statics: string[]): string[] {
  const out: string[] = [];
  for (const ns of [null, ...namespaces()]) {
    const at = ns ?? '(vlannet)';
    for (const l of ipJson<{
      ifname: string;
      ifalias?: string;
      mtu: number;
      flags: string[];
      link?: string;
      linkinfo?: { info_kind: string; info_data?: Record<string, unknown> };
    }>(...(ns ? ['-n', ns] : []), '-d', 'link', 'show')) {
      if (l.ifname === 'lo' && !l.ifalias) continue;
      out.push(
        `${at} link ${l.ifname} ${l.linkinfo?.info_kind ?? ''} ${JSON.stringify(l.linkinfo?.info_data ?? {})} ${l.mtu} ${l.flags.includes('UP')} ${l.ifalias ?? ''}`,
      );
    }
    for (const l of ipJson<{ ifname: string; addr_info: { local: string; prefixlen: number; scope: string }[] }>(
      ...(ns ? ['-n', ns] : []),
      'addr',
      'show',
    )) {
      for (const a of l.addr_info)
        if (a.scope === 'global') out.push(`${at} addr ${l.ifname} ${statics.includes(a.local) ? a.local : '*'}/${a.prefixlen}`);
    }
    for (const r of ipJson<{ dst: string; gateway?: string; dev: string; protocol?: string }>(...(ns ? ['-n', ns] : []), 'route', 'show')) {
      if (r.protocol === 'kernel') continue;
      out.push(`${at} route ${r.dst} ${r.gateway ?? ''} ${r.dev} ${r.protocol ?? ''}`);
    }
  }
  return out.sort();
}

// Pairs A → B that exercise every kind of replace: a driver change on one parent (made after the
// point of no return), an ifname change in place (made beside, renamed into place), a namespace
// move (the address waits for the old link to go), a VLAN parent change, a static address change.
const PAIRS: [string, string, string, string[]][] = [
  [
    'driver macvlan → ipvlan on one parent, an endpoint renamed and one moved',
    yaml(
      NET,
      '  p-a: { network: lan, ipv4: 10.0.1.21 }\n  p-b: { network: lan, ipv4: 10.0.1.22 }\n  p-c: { network: lan, ipv4: 10.0.1.23 }',
    ),
    yaml(
      NET.replace('macvlan', 'ipvlan'),
      '  p-a: { network: lan, ipv4: 10.0.1.21, ifname: net1 }\n  p-b: { network: lan, ipv4: 10.0.1.22, netns: p-moved }\n  p-c: { network: lan, ipv4: 10.0.1.24 }',
    ),
    ['10.0.1.21', '10.0.1.22', '10.0.1.23', '10.0.1.24'],
  ],
  [
    'a VLAN parent changed, a static MAC added, dual stack added',
    yaml(
      '  v:\n    driver: macvlan\n    parent: eth0.30\n    subnets: [{ subnet: 10.0.30.0/24 }]',
      '  q-a: { network: v }\n  q-b: { network: v }',
    ),
    yaml(
      '  v:\n    driver: macvlan\n    parent: eth0.31\n    subnets: [{ subnet: 10.0.30.0/24 }, { subnet: "2001:db8:30::/64" }]',
      '  q-a: { network: v, mac: "02:00:00:00:30:0a" }\n  q-b: { network: v }',
    ),
    [],
  ],
];

test('replace means replace, on the real kernel: apply(A) then apply(B) builds what apply(B) builds', () => {
  for (const [what, a, b, statics] of PAIRS) {
    const w = new World();
    try {
      w.veth('eth0');
      w.config(a, 'a.yaml');
      w.config(b, 'b.yaml');
      apply(`${w.dir}/a.yaml`);
      apply(`${w.dir}/b.yaml`);
      assert.equal(checkKernel(parseConfig(b)), [], `${what}: A then B holds what B asks`);
      const after = picture(statics);
      destroy();
      apply(`${w.dir}/b.yaml`);
      assert.equal(picture(statics), after, `${what}: the same as B from scratch`);
    } finally {
      w.cleanup();
    }
  }
});

test('an injected failure before the point of no return leaves the kernel exactly as it was; after it, the next apply finishes', () => {
  const [, a, b] = PAIRS[0]!;
  const w = new World();
  try {
    w.veth('eth0');
    const fa = w.config(a, 'a.yaml');
    const fb = w.config(b, 'b.yaml');
    apply(fa);
    const steps = plan(fb).changes.map((c) => c.stage);
    const firstAfter = steps.findIndex((s) => s >= 7) + 1;
    assert.ok(firstAfter > 1 && firstAfter < steps.length, `the plan has steps on both sides of the point of no return: ${steps}`);
    // A sample of steps: the first, the last before the point of no return, the first and the last after it.
    for (const k of [1, firstAfter - 1, firstAfter, steps.length]) {
      const before = snapshotWorld();
      const r = run(process.execPath, [`${REPO}/bin/vlannet.js`, 'apply', '-f', fb], {
        env: { ...process.env, NO_COLOR: '1', VLANNET_FAIL_AT: String(k) },
      });
      assert.is(r.status, 1, `step ${k}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /failure injected by VLANNET_FAIL_AT/);
      if (k < firstAfter) {
        assert.match(r.stderr, /rolled back: \d+ actions? undone; the kernel is as it was before this apply/, `step ${k}`);
        assert.equal(snapshotWorld(), before, `step ${k}: the kernel is exactly as it was`);
      } else {
        assert.match(
          r.stderr,
          /point of no return: everything new is in place, nothing was undone, and \d+ steps? w(as|ere) not done/,
          `step ${k}`,
        );
        apply(fb);
        assert.equal(checkKernel(parseConfig(b)), [], `step ${k}: the next apply finished the work`);
        destroy();
        apply(fa);
      }
    }
  } finally {
    w.cleanup();
  }
});

test('kill -9 at any moment of a 200-endpoint apply: the next apply converges, nothing stray, destroy leaves nothing', async () => {
  const w = new World();
  try {
    w.veth('eth0');
    const text = yaml(
      '  big:\n    driver: macvlan\n    parent: eth0\n    subnets: [{ subnet: 10.80.0.0/16 }]',
      Array.from({ length: 200 }, (_, i) => `  k${i}: { network: big }`).join('\n'),
    );
    const file = w.config(text);
    // Killed early (namespaces being made), in the middle, and late (addresses and routes).
    for (const fraction of [0.1, 0.5, 0.9]) {
      const started = startVlannet('apply', '-f', file);
      await until(`the apply has made ${fraction * 100} % of the namespaces`, () => namespaces().length >= 200 * fraction, 120_000);
      process.kill(started.pid, 'SIGKILL');
      await started.done;
      const again = vlannet('apply', '-f', file);
      assert.is(again.status, 0, `after kill -9 at ${fraction}: ${again.stderr}`);
      assert.is(vlannet('plan', '-f', file, '--detailed-exitcode').status, 0, 'converged');
      assert.is(namespaces().length, 200, 'exactly the 200 namespaces');
      // Every namespace holds lo and its endpoint, nothing else (one ip process for all of them).
      const links = run('ip', ['-all', 'netns', 'exec', 'ip', '-o', 'link', 'show'])
        .stdout.split('\n')
        .filter((l) => /^\d+:/.test(l));
      assert.is(links.length, 400, 'lo and eth0 in each, no stray link');
      const down = destroy();
      assert.ok(down.executed.length > 0);
      assert.equal(namespaces(), [], 'destroy leaves no namespace');
      assert.equal(
        ipJson<{ ifalias?: string }>('link', 'show').filter((l) => l.ifalias?.startsWith('vlannet:')),
        [],
        "and no link of vlannet's",
      );
    }
  } finally {
    w.cleanup();
  }
});

test('daemon: the watcher survives a symlink becoming a file and more; SIGTERM ends it at once after that', async () => {
  const w = new World();
  try {
    w.veth('eth0');
    const v = (n: number) =>
      yaml(NET, Array.from({ length: n }, (_, i) => `  wd-${i}: { network: lan, ipv4: 10.0.1.${30 + i} }`).join('\n'));
    for (let n = 1; n <= 4; n++) w.config(v(n), `v${n}.yaml`);
    const file = `${w.dir}/vlannet.yaml`;
    fs.symlinkSync('v1.yaml', file);
    const d = startDaemon(file);
    try {
      const has = (n: number) => () => namespaces().filter((x) => x.startsWith('wd-')).length === n;
      await until('start', has(1), 30_000, d);
      const renameOver = (text: string) => {
        fs.writeFileSync(`${file}.tmp`, text);
        fs.renameSync(`${file}.tmp`, file);
      };
      renameOver(v(2)); // the symlink becomes a plain file
      await until('symlink → file', has(2), 15_000, d);
      renameOver(v(3)); // and that file is replaced again (this was never seen)
      await until('rename-over after it', has(3), 15_000, d);
      fs.rmSync(file);
      fs.symlinkSync('v4.yaml', file); // deleted, then a symlink again
      await until('a symlink again', has(4), 15_000, d);
      const t0 = performance.now();
      const code = await d.stop();
      assert.is(code, 0, d.log());
      assert.ok(performance.now() - t0 < 2000, `SIGTERM ended the daemon in ${(performance.now() - t0).toFixed(0)} ms`);
    } finally {
      await d.stop();
    }
  } finally {
    w.cleanup();
  }
});

test('daemon: a file written in place in two pieces is applied once, whole; validate refuses what the daemon refuses', async () => {
  const w = new World();
  try {
    w.veth('eth0');
    const full = yaml(NET, ['tw-a', 'tw-b', 'tw-c', 'tw-d'].map((n, i) => `  ${n}: { network: lan, ipv4: 10.0.1.${40 + i} }`).join('\n'));
    const file = w.config(full);
    const d = startDaemon(file);
    try {
      await until('start', () => namespaces().filter((x) => x.startsWith('tw-')).length === 4, 30_000, d);
      // Rewritten in place: first up to tw-b (a line end: valid YAML that would remove c and d), then the rest.
      const edited = full.replace('10.0.1.40', '10.0.1.50');
      const cut = edited.indexOf('  tw-c');
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, edited.slice(0, cut));
      let lost = false;
      const watching = setInterval(() => {
        if (namespaces().filter((x) => x.startsWith('tw-')).length < 4) lost = true;
      }, 20);
      await sleep(500);
      fs.writeSync(fd, edited.slice(cut));
      fs.closeSync(fd);
      await until(
        'the whole edit',
        () => run('ip', ['-n', 'tw-a', '-j', 'addr', 'show', 'dev', 'eth0']).stdout.includes('10.0.1.50'),
        15_000,
        d,
      );
      await sleep(300);
      clearInterval(watching);
      assert.not.ok(lost, 'no namespace was removed: the first piece was never applied');
      assert.not.match(d.log(), /delete netns\.tw-/, 'nothing was deleted and made again');
    } finally {
      assert.is(await d.stop(), 0);
    }
    // A file that stops mid-line: the same verdict from validate, plan and apply as from the daemon.
    const torn = `${w.dir}/torn.yaml`;
    fs.writeFileSync(torn, full.slice(0, -5));
    for (const command of ['validate', 'plan', 'apply']) {
      const r = vlannet(command, '-f', torn);
      assert.is(r.status, 1, command);
      assert.match(
        r.stderr,
        /torn\.yaml:\d+:\d+: error: the file ends in the middle of a line: it looks truncated or half written/,
        command,
      );
    }
  } finally {
    w.cleanup();
  }
});

test('user mistakes are one line and exit 1, never an internal error', async () => {
  const w = new World();
  const server = http.createServer();
  try {
    w.veth('eth0');
    const file = w.config(yaml(NET, '  um-a: { network: lan }'));
    apply(file); // /run/vlannet exists from here on
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    const cases: [string, string[], RegExp, string[]?][] = [
      ['--metrics without an address', ['daemon', '-f', file, '--metrics', '9464'], /--metrics 9464: expected ADDRESS:PORT/],
      [
        'a metrics port in use',
        ['daemon', '-f', file, '--metrics', `127.0.0.1:${port}`],
        new RegExp(`127\\.0\\.0\\.1:${port} is already in use \\(EADDRINUSE\\)`),
      ],
      ['an unknown flag', ['plan', '--bogus'], /unknown option '--bogus'/],
      ['a missing file', ['apply', '-f', `${w.dir}/missing.yaml`], /cannot read .*missing\.yaml: no such file \(ENOENT\)/],
      [
        'plan as a user who is not root',
        ['plan', '-f', file],
        /root/,
        ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'],
      ],
    ];
    for (const [what, args, message, prefix] of cases) {
      const argv = [...(prefix ?? []), process.execPath, `${REPO}/bin/vlannet.js`, ...args];
      const r = run(argv[0]!, argv.slice(1), { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 60_000 });
      assert.is(r.status, 1, `${what}: exit 1 (${r.stdout}${r.stderr})`);
      assert.match(r.stderr, message, what);
      assert.not.match(r.stderr, /internal error| {4}at /, `${what}: no stack trace`);
    }
  } finally {
    server.close();
    w.cleanup();
  }
});

test.run();
