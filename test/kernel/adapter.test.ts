// NetlinkKernel on a real kernel: every operation, then iproute2 (an independent reader) and
// observe() must both see the result. Run inside a private namespace or the test VM
// (scripts/kernel-test.sh adapter), on a kernel with every link kind. Each test makes its own parent
// (a veth pair) and namespaces and removes them.

import { writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ownerOf, netnsMark } from '../../src/model/owner.js';
import { VLANNET_ROUTE_PROTOCOL, type KernelOp, type LinkSpec, type ObservedState } from '../../src/model/types.js';
import { KernelError } from '../../src/errors.js';
import { NetlinkKernel } from '../../src/kernel/rtnetlink.js';
import { ip, ipJson, run } from './support/sh.js';
import type { IpLink } from './support/expect.js';
import { linkSpec } from '../fixtures/plan/build.js';

const NS = ['ad-a', 'ad-b', 'ad-c'];
let kernel: NetlinkKernel;

function cleanup(): void {
  for (const ns of NS) run('ip', ['netns', 'del', ns]);
  for (const l of ['ad-v0', 'ad-eth0', 'ad-d0', 'ad-mv']) run('ip', ['link', 'del', l]);
}

test.before.each(() => {
  cleanup();
  ip('link', 'add', 'ad-v0', 'type', 'veth', 'peer', 'name', 'ad-v1');
  ip('link', 'set', 'ad-v0', 'up');
  kernel = new NetlinkKernel();
});
test.after.each(() => {
  kernel.close();
  cleanup();
});

function endpoint(netns: string | null, name: string, more: Record<string, unknown> = {}): LinkSpec {
  return linkSpec({ netns, name, parent: 'ad-v0', alias: `vlannet:endpoint/${netns ?? name} macvlan@ad-v0`, ...more });
}

function showLink(netns: string | null, name: string): IpLink {
  return ipJson<IpLink>(...(netns ? ['-n', netns] : []), '-d', 'link', 'show', 'dev', name)[0]!;
}

async function refused(op: KernelOp): Promise<KernelError> {
  try {
    await kernel.apply(op);
  } catch (e) {
    assert.instance(e, KernelError);
    return e as KernelError;
  }
  assert.unreachable(`${op.op} was not refused`);
  throw new Error('unreachable');
}

function linksOf(state: ObservedState, netns: string | null): string[] {
  return state.links
    .filter((l) => l.netns === netns)
    .map((l) => l.name)
    .sort();
}

test('netns-add creates a named namespace with lo up and marked; netns-del removes it', async () => {
  await kernel.apply({ op: 'netns-add', netns: 'ad-a' });
  assert.ok(ip('netns', 'list').includes('ad-a'));
  const lo = showLink('ad-a', 'lo');
  assert.is(lo.ifalias, netnsMark('ad-a'));
  assert.ok(lo.flags.includes('UP'));
  const state = await kernel.observe([]);
  assert.equal(
    state.namespaces.filter((n) => n.name === 'ad-a'),
    [{ name: 'ad-a', owned: true }],
  );

  assert.is((await refused({ op: 'netns-add', netns: 'ad-a' })).errno, 'EEXIST');
  await kernel.apply({ op: 'netns-del', netns: 'ad-a' });
  assert.not.ok(ip('netns', 'list').includes('ad-a'));
  assert.is((await refused({ op: 'netns-del', netns: 'ad-a' })).errno, 'ENOENT');
  const after = await kernel.observe(['ad-a']);
  assert.equal(
    after.namespaces.filter((n) => n.name === 'ad-a'),
    [],
    'a listed namespace that does not exist is empty, not an error',
  );
});

test('link-add creates a macvlan directly in its namespace with mode, mtu, mac, alias, up and IPv6 off', async () => {
  ip('netns', 'add', 'ad-a');
  const spec = endpoint('ad-a', 'eth0', { mtu: 1400, mac: '02:42:c0:a8:32:0a', ipv6Disabled: true });
  await kernel.apply({ op: 'link-add', link: spec });
  const l = showLink('ad-a', 'eth0');
  assert.is(l.linkinfo?.info_kind, 'macvlan');
  assert.is(l.linkinfo?.info_data?.mode, 'bridge');
  assert.is(l.mtu, 1400);
  assert.is(l.address, '02:42:c0:a8:32:0a');
  assert.is(l.ifalias, spec.alias);
  assert.ok(l.flags.includes('UP'));
  assert.is(run('ip', ['netns', 'exec', 'ad-a', 'cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6']).stdout.trim(), '1');
  assert.equal(
    ipJson<IpLink>('link', 'show')
      .map((x) => x.ifname)
      .filter((n) => n.startsWith('vt-')),
    [],
    'no temporary link left behind',
  );

  const state = await kernel.observe(['ad-a']);
  const seen = state.links.find((x) => x.netns === 'ad-a' && x.name === 'eth0')!;
  assert.equal(
    { ...seen, index: 0 },
    {
      netns: 'ad-a',
      name: 'eth0',
      index: 0,
      kind: 'macvlan',
      parent: 'ad-v0',
      mode: 'bridge',
      mtu: 1400,
      mac: '02:42:c0:a8:32:0a',
      up: true,
      alias: spec.alias,
      ipv6Disabled: true,
      group: 201,
    },
  );
  assert.is(l.group, '201', "in vlannet's link group from its create request (iproute2 shows the number)");
  assert.ok(ownerOf(seen), "the link is recognised as vlannet's");
  assert.equal(
    state.namespaces.find((n) => n.name === 'ad-a'),
    { name: 'ad-a', owned: false },
  );
});

test('the mode is always sent: a macvlan without one is bridge, not the kernel default vepa', async () => {
  ip('netns', 'add', 'ad-a');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0', { mode: undefined }) });
  assert.is(showLink('ad-a', 'eth0').linkinfo?.info_data?.mode, 'bridge');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth1', { mode: 'private' }) });
  assert.is(showLink('ad-a', 'eth1').linkinfo?.info_data?.mode, 'private');
});

test("an endpoint may have the name of a link in vlannet's own namespace (created under a temporary name)", async () => {
  ip('link', 'add', 'link', 'ad-v0', 'name', 'ad-eth0', 'type', 'macvlan', 'mode', 'bridge');
  ip('netns', 'add', 'ad-a');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'ad-eth0') });
  assert.is(showLink('ad-a', 'ad-eth0').linkinfo?.info_kind, 'macvlan');
  assert.ok(showLink(null, 'ad-eth0'), "the own namespace's link is untouched");
  const left = ipJson<IpLink>('link', 'show')
    .map((x) => x.ifname)
    .filter((n) => n.startsWith('vt-'));
  assert.equal(left, []);
});

test('a name taken in the target namespace is EEXIST, and the temporary link is removed', async () => {
  ip('netns', 'add', 'ad-a');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  const e = await refused({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  assert.is(e.errno, 'EEXIST');
  assert.match(e.message, /eth0/);
  assert.equal(
    ipJson<IpLink>('-n', 'ad-a', 'link', 'show')
      .map((x) => x.ifname)
      .sort(),
    ['eth0', 'lo'],
  );
  assert.equal(
    ipJson<IpLink>('link', 'show')
      .map((x) => x.ifname)
      .filter((n) => n.startsWith('vt-')),
    [],
  );
});

test("refusals carry the errno name and the kernel's own words", async () => {
  ip('netns', 'add', 'ad-a');
  const noParent = await refused({ op: 'link-add', link: endpoint('ad-a', 'eth0', { parent: 'ad-nope' }) });
  assert.is(noParent.errno, 'ENODEV');
  assert.match(noParent.detail, /ad-nope/);
  const mtu = await refused({ op: 'link-add', link: endpoint('ad-a', 'eth0', { mtu: 65000 }) });
  assert.is(mtu.errno, 'EINVAL');
  assert.match(mtu.message, /^EINVAL/);
  const gone = await refused({ op: 'link-add', link: endpoint('ad-b', 'eth0') });
  assert.is(gone.errno, 'ENOENT');
  assert.is(
    (await refused({ op: 'link-del', netns: 'ad-a', name: 'eth9', before: endpoint('ad-a', 'eth9'), addresses: [], routes: [] })).errno,
    'ENODEV',
  );
});

test('link-set changes mode, mtu, alias, up and IPv6 in place; link-del removes the link', async () => {
  ip('netns', 'add', 'ad-a');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0', { ipv6Disabled: true }) });
  await kernel.apply({
    op: 'link-set',
    netns: 'ad-a',
    name: 'eth0',
    set: { mode: 'private', mtu: 1300, alias: 'renamed', up: false, ipv6Disabled: false, mac: '02:00:00:00:00:07' },
    before: {},
  });
  const l = showLink('ad-a', 'eth0');
  assert.is(l.linkinfo?.info_data?.mode, 'private');
  assert.is(l.mtu, 1300);
  assert.is(l.ifalias, 'renamed');
  assert.is(l.address, '02:00:00:00:00:07');
  assert.not.ok(l.flags.includes('UP'));
  assert.is(run('ip', ['netns', 'exec', 'ad-a', 'cat', '/proc/sys/net/ipv6/conf/eth0/disable_ipv6']).stdout.trim(), '0');
  const seen = (await kernel.observe(['ad-a'])).links.find((x) => x.name === 'eth0')!;
  assert.equal([seen.mode, seen.mtu, seen.alias, seen.up, seen.ipv6Disabled], ['private', 1300, 'renamed', false, false]);

  await kernel.apply({ op: 'link-del', netns: 'ad-a', name: 'eth0', before: endpoint('ad-a', 'eth0'), addresses: [], routes: [] });
  assert.equal(
    ipJson<IpLink>('-n', 'ad-a', 'link', 'show').map((x) => x.ifname),
    ['lo'],
  );
});

test("addresses (IPv6 without DAD) and default routes with vlannet's protocol, added and removed", async () => {
  ip('netns', 'add', 'ad-a');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  const v4 = { netns: 'ad-a', link: 'eth0', family: 4 as const, address: '192.168.50.10', prefixLength: 24 };
  const v6 = { netns: 'ad-a', link: 'eth0', family: 6 as const, address: '2001:db8:50::10', prefixLength: 64 };
  const r4 = { netns: 'ad-a', family: 4 as const, dst: 'default', gateway: '192.168.50.1', dev: 'eth0', protocol: VLANNET_ROUTE_PROTOCOL };
  const r6 = { netns: 'ad-a', family: 6 as const, dst: 'default', gateway: null, dev: 'eth0', protocol: VLANNET_ROUTE_PROTOCOL };
  await Promise.all([kernel.apply({ op: 'addr-add', addr: v4 }), kernel.apply({ op: 'addr-add', addr: v6 })]);
  await Promise.all([kernel.apply({ op: 'route-add', route: r4 }), kernel.apply({ op: 'route-add', route: r6 })]);

  const addrs = ipJson<{ addr_info: { local: string; prefixlen: number; nodad?: boolean; broadcast?: string }[] }>(
    '-n',
    'ad-a',
    'addr',
    'show',
    'dev',
    'eth0',
  )[0]!.addr_info;
  assert.ok(addrs.some((a) => a.local === '192.168.50.10' && a.prefixlen === 24 && a.broadcast === '192.168.50.255'));
  assert.ok(addrs.some((a) => a.local === '2001:db8:50::10' && a.nodad === true));
  assert.match(ip('-n', 'ad-a', 'route', 'show', 'default'), /default via 192\.168\.50\.1 dev eth0 proto 201/);
  assert.match(ip('-n', 'ad-a', '-6', 'route', 'show', 'default'), /default dev eth0 proto 201/);

  const state = await kernel.observe(['ad-a']);
  assert.equal(
    state.addresses.filter((a) => a.netns === 'ad-a'),
    [v4, v6],
  );
  const routes = state.routes.filter((r) => r.netns === 'ad-a' && r.protocol === VLANNET_ROUTE_PROTOCOL).map(({ metric: _m, ...r }) => r);
  assert.equal(
    routes.sort((a, b) => a.family - b.family),
    [r4, r6],
  );

  assert.is((await refused({ op: 'addr-add', addr: v4 })).errno, 'EEXIST');
  assert.is((await refused({ op: 'route-add', route: r4 })).errno, 'EEXIST');
  await Promise.all([kernel.apply({ op: 'route-del', route: r4 }), kernel.apply({ op: 'route-del', route: r6 })]);
  await Promise.all([kernel.apply({ op: 'addr-del', addr: v4 }), kernel.apply({ op: 'addr-del', addr: v6 })]);
  const empty = await kernel.observe(['ad-a']);
  assert.equal(
    empty.addresses.filter((a) => a.netns === 'ad-a'),
    [],
  );
  assert.equal(
    empty.routes.filter((r) => r.netns === 'ad-a' && r.protocol === VLANNET_ROUTE_PROTOCOL),
    [],
  );
});

test("route-del removes only a route with vlannet's protocol", async () => {
  ip('netns', 'add', 'ad-a');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  ip('-n', 'ad-a', 'addr', 'add', '192.168.50.10/24', 'dev', 'eth0');
  ip('-n', 'ad-a', 'route', 'add', 'default', 'via', '192.168.50.1', 'proto', 'static');
  const route = {
    netns: 'ad-a',
    family: 4 as const,
    dst: 'default',
    gateway: '192.168.50.1',
    dev: 'eth0',
    protocol: VLANNET_ROUTE_PROTOCOL,
  };
  assert.is((await refused({ op: 'route-del', route })).errno, 'ESRCH');
  assert.match(ip('-n', 'ad-a', 'route', 'show', 'default'), /proto static/);
});

test("own namespace: only vlannet's and default routes are read; other namespaces only when asked, marked or holding vlannet's links", async () => {
  ip('addr', 'add', '10.99.0.1/24', 'dev', 'ad-v0');
  ip('route', 'add', '10.98.0.0/24', 'via', '10.99.0.2', 'proto', 'static');
  ip('route', 'add', '10.97.0.0/24', 'via', '10.99.0.2', 'proto', String(VLANNET_ROUTE_PROTOCOL));
  ip('netns', 'add', 'ad-a'); // holds a vlannet link
  ip('netns', 'add', 'ad-b'); // foreign and empty
  await kernel.apply({ op: 'netns-add', netns: 'ad-c' }); // marked
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });

  const state = await kernel.observe([]);
  const own = state.routes.filter((r) => r.netns === null).map((r) => r.dst);
  assert.ok(own.includes('10.97.0.0/24'));
  assert.not.ok(own.includes('10.98.0.0/24'));
  assert.not.ok(own.includes('10.99.0.0/24'));
  assert.equal(
    state.namespaces.filter((n) => n.name.startsWith('ad-')),
    [
      { name: 'ad-a', owned: false },
      { name: 'ad-c', owned: true },
    ],
  );
  assert.ok(state.addresses.some((a) => a.netns === null && a.link === 'ad-v0' && a.address === '10.99.0.1'));
  const asked = await kernel.observe(['ad-b']);
  assert.ok(asked.namespaces.some((n) => n.name === 'ad-b'));
});

test('a namespace deleted and re-created under the same name is read afresh', async () => {
  ip('netns', 'add', 'ad-a');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  assert.equal(linksOf(await kernel.observe(['ad-a']), 'ad-a'), ['eth0', 'lo']);
  ip('netns', 'del', 'ad-a');
  ip('netns', 'add', 'ad-a');
  assert.equal(linksOf(await kernel.observe(['ad-a']), 'ad-a'), ['lo']);
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  assert.equal(
    ipJson<IpLink>('-n', 'ad-a', 'link', 'show')
      .map((x) => x.ifname)
      .sort(),
    ['eth0', 'lo'],
  );
});

test('a namespace read before is read again after a change by anyone: links, addresses, routes, IPv6 off', async () => {
  ip('netns', 'add', 'ad-a');
  ip('netns', 'add', 'ad-b');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  const addrs = (s: ObservedState) =>
    s.addresses
      .filter((a) => a.netns === 'ad-a')
      .map((a) => `${a.link} ${a.address}/${a.prefixLength}`)
      .sort();
  const first = await kernel.observe(['ad-a', 'ad-b']);
  assert.equal(first, await kernel.observe(['ad-a', 'ad-b']), 'nothing changed: the same state');
  // Changes by someone else (iproute2), in each kind of object the snapshot holds.
  ip('-n', 'ad-a', 'addr', 'add', '10.9.0.2/24', 'dev', 'eth0');
  assert.equal(addrs(await kernel.observe(['ad-a'])), ['eth0 10.9.0.2/24']);
  ip('-n', 'ad-a', 'route', 'add', 'default', 'via', '10.9.0.1', 'dev', 'eth0');
  assert.ok((await kernel.observe(['ad-a'])).routes.some((r) => r.netns === 'ad-a' && r.dst === 'default' && r.gateway === '10.9.0.1'));
  ip('-n', 'ad-a', 'link', 'set', 'eth0', 'down');
  assert.is((await kernel.observe(['ad-a'])).links.find((l) => l.netns === 'ad-a' && l.name === 'eth0')?.up, false);
  ip('link', 'add', 'ad-eth0', 'netns', 'ad-b', 'type', 'veth', 'peer', 'name', 'ad-mv');
  assert.equal(linksOf(await kernel.observe(['ad-a', 'ad-b']), 'ad-b'), ['ad-eth0', 'lo']);
  // vlannet's own changes, including the IPv6 sysctl (no notification for a link that is down).
  await kernel.apply({ op: 'link-set', netns: 'ad-a', name: 'eth0', set: { ipv6Disabled: true }, before: { ipv6Disabled: false } });
  assert.is((await kernel.observe(['ad-a'])).links.find((l) => l.netns === 'ad-a' && l.name === 'eth0')?.ipv6Disabled, true);
  await kernel.apply({ op: 'addr-del', addr: { netns: 'ad-a', link: 'eth0', family: 4, address: '10.9.0.2', prefixLength: 24 } });
  assert.equal(addrs(await kernel.observe(['ad-a'])), []);
  // A fresh adapter reads the same.
  const fresh = new NetlinkKernel();
  try {
    assert.equal(await fresh.observe(['ad-a', 'ad-b']), await kernel.observe(['ad-a', 'ad-b']));
  } finally {
    fresh.close();
  }
});

test('without listeners (a one-shot command) every observe reads every namespace afresh', async () => {
  const oneShot = new NetlinkKernel({ listen: false });
  try {
    await oneShot.apply({ op: 'netns-add', netns: 'ad-a' });
    await oneShot.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
    const addrs = (s: ObservedState) =>
      s.addresses.filter((a) => a.netns === 'ad-a').map((a) => `${a.link} ${a.address}/${a.prefixLength}`);
    assert.equal(addrs(await oneShot.observe(['ad-a'])), []);
    ip('-n', 'ad-a', 'addr', 'add', '10.9.0.2/24', 'dev', 'eth0');
    assert.equal(addrs(await oneShot.observe(['ad-a'])), ['eth0 10.9.0.2/24']);
    // /proc/net/netlink of the namespace: protocol 0 (rtnetlink) sockets with groups are listeners.
    const listeners = () =>
      run('ip', ['netns', 'exec', 'ad-a', 'cat', '/proc/net/netlink'])
        .stdout.trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f[1] === '0' && !/^0+$/.test(f[3]!)).length;
    assert.is(listeners(), 0, 'the one-shot adapter listens nowhere');
    assert.equal(await oneShot.observe(['ad-a']), await kernel.observe(['ad-a']), 'the same as an adapter with listeners');
    assert.is(listeners(), 1, 'the adapter with listeners has one there');
  } finally {
    oneShot.close();
  }
});

test("addresses and routes on a link re-created behind vlannet's back go to the new link (stale ifindex)", async () => {
  ip('netns', 'add', 'ad-a');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  await kernel.observe(['ad-a']);
  ip('-n', 'ad-a', 'link', 'del', 'eth0');
  ip('link', 'add', 'link', 'ad-v0', 'name', 'eth0', 'netns', 'ad-a', 'type', 'macvlan', 'mode', 'bridge');
  ip('-n', 'ad-a', 'link', 'set', 'eth0', 'up');
  await kernel.apply({ op: 'addr-add', addr: { netns: 'ad-a', link: 'eth0', family: 4, address: '10.9.0.3', prefixLength: 24 } });
  await kernel.apply({
    op: 'route-add',
    route: { netns: 'ad-a', family: 4, dst: 'default', gateway: '10.9.0.1', dev: 'eth0', protocol: VLANNET_ROUTE_PROTOCOL },
  });
  assert.match(ip('-n', 'ad-a', '-4', 'addr', 'show', 'dev', 'eth0'), '10.9.0.3/24');
  assert.match(ip('-n', 'ad-a', 'route', 'show', 'default'), 'dev eth0');
});

test('a stale /run/netns file (a process killed while creating it) is no namespace; netns-add mounts over it', async () => {
  writeFileSync('/run/netns/ad-c', '');
  assert.equal(
    (await kernel.observe(['ad-c'])).namespaces.filter((n) => n.name === 'ad-c'),
    [],
  );
  await kernel.apply({ op: 'netns-add', netns: 'ad-c' });
  assert.equal(
    (await kernel.observe(['ad-c'])).namespaces.filter((n) => n.name === 'ad-c'),
    [{ name: 'ad-c', owned: true }],
  );
  assert.match(ip('-n', 'ad-c', 'link', 'show', 'lo'), 'UP');
  assert.is((await refused({ op: 'netns-add', netns: 'ad-c' })).errno, 'EEXIST');
});

test('operations in flight together all complete (pipelined, not serialised)', async () => {
  const names = Array.from({ length: 20 }, (_, i) => `ad-p${i}`);
  NS.push(...names);
  for (const n of names) ip('netns', 'add', n);
  const t0 = performance.now();
  await Promise.all(names.map((n) => kernel.apply({ op: 'link-add', link: endpoint(n, 'eth0') })));
  const ms = performance.now() - t0;
  const state = await kernel.observe(names);
  for (const n of names)
    assert.ok(
      state.links.some((l) => l.netns === n && l.name === 'eth0' && l.parent === 'ad-v0'),
      n,
    );
  console.log(`  20 macvlans in 20 namespaces, in flight together: ${ms.toFixed(1)} ms (${(ms / 20).toFixed(2)} ms each)`);
});

test('namespaces made on the worker thread: marked, lo up, usable at once; a refusal comes back with its errno', async () => {
  const names = Array.from({ length: 12 }, (_, i) => `ad-w${i}`);
  NS.push(...names);
  ip('netns', 'add', 'ad-b'); // taken: the worker's attempt must fail with EEXIST
  const threaded = new NetlinkKernel({ factoryThreshold: 1 });
  try {
    const ops: KernelOp[] = [...names, 'ad-b'].map((netns) => ({ op: 'netns-add', netns }));
    threaded.prepare(ops);
    await threaded.workerStarted();
    const results = await Promise.allSettled(ops.map((op) => threaded.apply(op)));
    assert.equal(
      results.slice(0, -1).map((r) => r.status),
      names.map(() => 'fulfilled'),
    );
    const failed = results.at(-1)!;
    assert.is(failed.status, 'rejected');
    const e = (failed as PromiseRejectedResult).reason as KernelError;
    assert.instance(e, KernelError);
    assert.is(e.errno, 'EEXIST');
    assert.match(e.message, /ad-b/);
    // The namespaces are the adapter's own: links go straight in, addresses follow without a lookup.
    await Promise.all(names.map((netns) => threaded.apply({ op: 'link-add', link: endpoint(netns, 'eth0', { ipv6Disabled: true }) })));
    await Promise.all(
      names.map((netns, i) =>
        threaded.apply({ op: 'addr-add', addr: { netns, link: 'eth0', family: 4, address: `10.9.0.${i + 2}`, prefixLength: 24 } }),
      ),
    );
    await threaded.finish();
    assert.is(threaded.madeElsewhere, names.length, 'every namespace was made on the worker thread');
    const state = await threaded.observe(names);
    for (const [i, n] of names.entries()) {
      assert.equal(
        state.namespaces.filter((x) => x.name === n),
        [{ name: n, owned: true }],
      );
      assert.ok(showLink(n, 'lo').flags.includes('UP'), `${n}: lo up`);
      assert.is(showLink(n, 'lo').ifalias, netnsMark(n));
      assert.ok(
        state.addresses.some((a) => a.netns === n && a.address === `10.9.0.${i + 2}`),
        `${n}: address`,
      );
    }
    // The worker's namespace fds outlive the worker (Node closes a worker's own fds when it exits).
    await new Promise((r) => setTimeout(r, 100));
    await threaded.apply({ op: 'link-add', link: endpoint(names[0]!, 'eth1') });
    assert.is(showLink(names[0]!, 'eth1').linkinfo?.info_kind, 'macvlan');
  } finally {
    threaded.close();
  }
});

test('namespaces made ahead for operations an execution never got to are removed when it ends', async () => {
  const names = Array.from({ length: 30 }, (_, i) => `ad-u${i}`);
  NS.push(...names);
  const threaded = new NetlinkKernel({ factoryThreshold: 1 });
  try {
    threaded.prepare(names.map((netns) => ({ op: 'netns-add', netns })));
    // Only the first five are asked for (as if the execution failed there); the main thread helps.
    const first = names.slice(0, 5);
    const applied = Promise.all(first.map((netns) => threaded.apply({ op: 'netns-add', netns })));
    while (threaded.idle()) await new Promise((r) => setImmediate(r));
    await applied;
    await threaded.finish();
    const left = ip('netns', 'list')
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n.startsWith('ad-u'))
      .sort();
    assert.equal(left, [...first].sort());
  } finally {
    threaded.close();
  }
});

test('a link in a namespace vlannet made gets the next index without a lookup; taken by someone else, the kernel picks one', async () => {
  await kernel.apply({ op: 'netns-add', netns: 'ad-a' });
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth0') });
  assert.is(
    ipJson<{ ifindex: number }>('-n', 'ad-a', 'link', 'show', 'dev', 'eth0')[0]!.ifindex,
    2,
    'the index the kernel itself would give',
  );
  // Someone adds links there behind vlannet's back: the index vlannet expects to be free is taken.
  ip('-n', 'ad-a', 'link', 'add', 'ad-x0', 'type', 'veth', 'peer', 'name', 'ad-x1');
  await kernel.apply({ op: 'link-add', link: endpoint('ad-a', 'eth1') });
  await kernel.apply({ op: 'addr-add', addr: { netns: 'ad-a', link: 'eth1', family: 4, address: '10.9.1.2', prefixLength: 24 } });
  assert.match(ip('-n', 'ad-a', 'addr', 'show', 'dev', 'eth1'), '10.9.1.2/24');
  assert.equal(
    ipJson<IpLink>('-n', 'ad-a', 'link', 'show')
      .map((x) => x.ifname)
      .sort(),
    ['ad-x0', 'ad-x1', 'eth0', 'eth1', 'lo'],
  );
});

// ipvlan, 802.1q and dummy: the harness (scripts/kernel-test.sh) runs the suite only on a kernel
// that has them, so a missing module fails here rather than skipping.
test('dummy, vlan and ipvlan: created, read back and changed', async () => {
  ip('netns', 'add', 'ad-a');
  ip('link', 'add', 'ad-eth0', 'type', 'dummy'); // vlannet's namespace has an eth0-like name the endpoint reuses
  await kernel.apply({
    op: 'link-add',
    link: linkSpec({ name: 'ad-d0', kind: 'dummy', parent: null, mode: undefined, alias: 'vlannet:dummy/net1 dummy' }),
  });
  await kernel.apply({
    op: 'link-add',
    link: linkSpec({
      name: 'ad-d0.50',
      kind: 'vlan',
      parent: 'ad-d0',
      vlanId: 50,
      mode: undefined,
      alias: 'vlannet:vlan/ad-d0.50 vlan@ad-d0#50',
    }),
  });
  const ipv = (name: string, mode: string, flag: string): LinkSpec =>
    linkSpec({ netns: 'ad-a', name, kind: 'ipvlan', parent: 'ad-d0.50', mode, flag, alias: `vlannet:endpoint/${name} ipvlan@ad-d0.50` });
  await kernel.apply({ op: 'link-add', link: ipv('ad-eth0', 'l3', 'private') });
  const vlan = showLink(null, 'ad-d0.50');
  assert.equal([vlan.linkinfo?.info_kind, vlan.linkinfo?.info_data?.id, vlan.linkinfo?.info_data?.protocol], ['vlan', 50, '802.1Q']);
  const l = showLink('ad-a', 'ad-eth0');
  assert.equal([l.linkinfo?.info_kind, l.linkinfo?.info_data?.mode, l.linkinfo?.info_data?.private], ['ipvlan', 'l3', true]);

  const state = await kernel.observe(['ad-a']);
  const seen = (netns: string | null, name: string) => state.links.find((x) => x.netns === netns && x.name === name)!;
  assert.equal([seen(null, 'ad-d0').kind, seen(null, 'ad-d0').parent], ['dummy', null]);
  assert.equal(
    [seen(null, 'ad-d0.50').vlanId, seen(null, 'ad-d0.50').vlanProtocol, seen(null, 'ad-d0.50').parent],
    [50, '802.1Q', 'ad-d0'],
  );
  assert.equal([seen('ad-a', 'ad-eth0').mode, seen('ad-a', 'ad-eth0').flag, seen('ad-a', 'ad-eth0').parent], ['l3', 'private', 'ad-d0.50']);
  for (const [netns, name] of [
    [null, 'ad-d0'],
    [null, 'ad-d0.50'],
    ['ad-a', 'ad-eth0'],
  ] as const)
    assert.ok(ownerOf(seen(netns, name)), name);

  await kernel.apply({ op: 'link-set', netns: 'ad-a', name: 'ad-eth0', set: { flag: 'vepa' }, before: { flag: 'private' } });
  const changed = showLink('ad-a', 'ad-eth0').linkinfo?.info_data;
  assert.equal([changed?.mode, changed?.vepa], ['l3', true], 'the flag changed, the mode kept');

  const busy = await refused({ op: 'link-add', link: endpoint('ad-a', 'mv0', { parent: 'ad-d0.50', alias: 'x' }) });
  assert.is(busy.errno, 'EBUSY', 'a macvlan on a parent that carries ipvlans');
  await kernel.apply({ op: 'link-del', netns: null, name: 'ad-d0', before: seen(null, 'ad-d0') as never, addresses: [], routes: [] });
});

test.run();
