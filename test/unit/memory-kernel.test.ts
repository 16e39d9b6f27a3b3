// The in-memory kernel answers like the real one where vlannet depends on it (the facts in
// test/README.md and the kernel suite). These tests pin the fake's behaviour;
// when the fake and the kernel disagree, the kernel is right and the fake gets fixed.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { KernelOp, LinkSpec } from '../../src/model/types.js';
import { KernelError } from '../../src/errors.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { link, linkSpec } from '../fixtures/plan/build.js';

const spec = (over: Record<string, unknown>): LinkSpec => linkSpec(over);
const fresh = () => new MemoryKernel().seed({ links: [link('eth0', { index: 2, mtu: 1500 })] });

async function errno(k: MemoryKernel, op: KernelOp): Promise<string> {
  try {
    await k.apply(op);
    return 'ok';
  } catch (e) {
    assert.instance(e, KernelError);
    return (e as KernelError).errno;
  }
}

test('names, parents and namespaces: EEXIST, ENODEV, ENOENT', async () => {
  const k = fresh();
  assert.is(await errno(k, { op: 'link-add', link: spec({}) }), 'ok');
  assert.is(await errno(k, { op: 'link-add', link: spec({}) }), 'EEXIST');
  assert.is(await errno(k, { op: 'link-add', link: spec({ name: 'mv1', parent: 'eth9' }) }), 'ENODEV');
  assert.is(await errno(k, { op: 'link-add', link: spec({ netns: 'nope' }) }), 'ENOENT');
  assert.is(await errno(k, { op: 'netns-add', netns: 'a' }), 'ok');
  assert.is(await errno(k, { op: 'netns-add', netns: 'a' }), 'EEXIST');
  assert.is(await errno(k, { op: 'link-add', link: spec({ netns: 'a', name: 'eth0' }) }), 'ok', 'a name is per namespace');
  assert.is(await errno(k, { op: 'link-set', netns: null, name: 'nope', set: { up: true }, before: {} }), 'ENODEV');
});

test('macvlan and ipvlan cannot share a parent: EBUSY', async () => {
  const k = fresh();
  await k.apply({ op: 'link-add', link: spec({ kind: 'ipvlan', mode: 'l2', name: 'ip0' }) });
  assert.is(await errno(k, { op: 'link-add', link: spec({}) }), 'EBUSY');
  await k.apply({ op: 'link-del', netns: null, name: 'ip0', before: spec({}), addresses: [], routes: [] });
  assert.is(await errno(k, { op: 'link-add', link: spec({}) }), 'ok');
  assert.is(await errno(k, { op: 'link-add', link: spec({ kind: 'ipvlan', mode: 'l2', name: 'ip0' }) }), 'EBUSY');
});

test('ipvlan mode and flag belong to the parent', async () => {
  const k = fresh();
  await k.apply({ op: 'link-add', link: spec({ kind: 'ipvlan', mode: 'l2', flag: 'bridge', name: 'a' }) });
  await k.apply({ op: 'link-add', link: spec({ kind: 'ipvlan', mode: 'l2', flag: 'bridge', name: 'b' }) });
  await k.apply({ op: 'link-set', netns: null, name: 'a', set: { mode: 'l3', flag: 'private' }, before: {} });
  const links = (await k.observe([])).links.filter((l) => l.kind === 'ipvlan');
  assert.equal(
    links.map((l) => `${l.name} ${l.mode} ${l.flag}`),
    ['a l3 private', 'b l3 private'],
  );
});

test('deleting a parent deletes its children, their addresses and routes; deleting a namespace its links', async () => {
  const k = fresh();
  await k.apply({ op: 'netns-add', netns: 'a' });
  await k.apply({ op: 'link-add', link: spec({ kind: 'vlan', name: 'eth0.50', vlanId: 50, mode: undefined }) });
  await k.apply({ op: 'link-add', link: spec({ netns: 'a', name: 'eth0', parent: 'eth0.50' }) });
  await k.apply({ op: 'addr-add', addr: { netns: 'a', link: 'eth0', family: 4, address: '10.0.0.2', prefixLength: 24 } });
  await k.apply({ op: 'route-add', route: { netns: 'a', family: 4, dst: 'default', gateway: '10.0.0.1', dev: 'eth0', protocol: 201 } });
  await k.apply({ op: 'link-del', netns: null, name: 'eth0.50', before: spec({}), addresses: [], routes: [] });
  const obs = await k.observe(['a']);
  assert.equal(obs.links.map((l) => l.name).sort(), ['eth0', 'lo'], 'host eth0 and the namespace loopback remain');
  assert.equal(obs.addresses, []);
  assert.equal(obs.routes, []);
  await k.apply({ op: 'link-add', link: spec({ netns: 'a', name: 'eth0' }) });
  await k.apply({ op: 'netns-del', netns: 'a' });
  assert.equal((await k.observe(['a'])).namespaces, []);
  assert.is(await errno(k, { op: 'netns-del', netns: 'a' }), 'ENOENT');
});

test('routes need the link up and an on-link gateway; one default route per family', async () => {
  const k = fresh();
  await k.apply({ op: 'link-add', link: spec({ up: false }) });
  const route = { netns: null, family: 4 as const, dst: 'default', gateway: '10.0.0.1', dev: 'mv0', protocol: 201 };
  assert.is(await errno(k, { op: 'route-add', route }), 'ENETDOWN');
  await k.apply({ op: 'link-set', netns: null, name: 'mv0', set: { up: true }, before: {} });
  assert.is(await errno(k, { op: 'route-add', route }), 'ENETUNREACH');
  await k.apply({ op: 'addr-add', addr: { netns: null, link: 'mv0', family: 4, address: '10.0.0.2', prefixLength: 24 } });
  assert.is(await errno(k, { op: 'route-add', route }), 'ok');
  assert.is(await errno(k, { op: 'route-add', route: { ...route, gateway: '10.0.0.254' } }), 'EEXIST');
  assert.is(await errno(k, { op: 'route-del', route: { ...route, gateway: '10.0.0.254' } }), 'ESRCH');
  const kernelRoute = (await k.observe([])).routes.find((r) => r.protocol === 2);
  assert.equal(kernelRoute?.dst, '10.0.0.0/24', 'an address brings its prefix route');
  await k.apply({ op: 'link-set', netns: null, name: 'mv0', set: { up: false }, before: {} });
  assert.equal((await k.observe([])).routes, [], 'a link going down loses its routes');
});

test('IPv6 disabled: addresses refused (EACCES) and dropped', async () => {
  const k = fresh();
  await k.apply({ op: 'link-add', link: spec({ ipv6Disabled: false }) });
  const addr = { netns: null, link: 'mv0', family: 6 as const, address: '2001:db8::2', prefixLength: 64 };
  await k.apply({ op: 'addr-add', addr });
  await k.apply({ op: 'link-set', netns: null, name: 'mv0', set: { ipv6Disabled: true }, before: {} });
  assert.equal((await k.observe([])).addresses, []);
  assert.is(await errno(k, { op: 'addr-add', addr }), 'EACCES');
});

test('mtu above the parent is refused (EINVAL); unset mtu and mac are inherited or random', async () => {
  const k = fresh();
  assert.is(await errno(k, { op: 'link-add', link: spec({ mtu: 9000 }) }), 'EINVAL');
  await k.apply({ op: 'link-add', link: spec({ kind: 'ipvlan', mode: 'l2', name: 'ip0', parent: 'eth0' }) }).catch(() => undefined);
  await k.apply({ op: 'link-add', link: spec({ kind: 'dummy', name: 'dm0', parent: null, mode: undefined }) });
  const obs = await k.observe([]);
  const ip0 = obs.links.find((l) => l.name === 'ip0')!;
  assert.is(ip0.mtu, 1500);
  assert.is(ip0.mac, obs.links.find((l) => l.name === 'eth0')!.mac, "an ipvlan shares its parent's mac");
  assert.match(obs.links.find((l) => l.name === 'dm0')!.mac, /^02:/);
});

test('failNext injects one failure and changes nothing', async () => {
  const k = fresh().failNext((op) => op.op === 'link-add', 'ENOBUFS', 'injected');
  try {
    await k.apply({ op: 'link-add', link: spec({}) });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, KernelError);
    assert.is((e as KernelError).errno, 'ENOBUFS');
    assert.is((e as KernelError).detail, 'injected');
  }
  assert.not.ok((await k.observe([])).links.some((l) => l.name === 'mv0'));
  await k.apply({ op: 'link-add', link: spec({}) });
  assert.is(k.applied.length, 1);
});

test('observe looks at asked, owned and vlannet-holding namespaces only', async () => {
  const k = new MemoryKernel().seed({
    namespaces: [
      { name: 'other', owned: false },
      { name: 'asked', owned: false },
    ],
    links: [link('eth0'), link('x', { netns: 'other', kind: 'veth' })],
  });
  await k.apply({ op: 'netns-add', netns: 'mine' });
  const obs = await k.observe(['asked', 'missing']);
  assert.equal(obs.namespaces, [
    { name: 'asked', owned: false },
    { name: 'mine', owned: true },
  ]);
  assert.is(obs.links.find((l) => l.netns === 'mine')!.alias, 'vlannet:netns/mine');
  assert.not.ok(obs.links.some((l) => l.netns === 'other'));
});

test.run();
