import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makePlan, planDestroy } from '../../src/plan/plan.js';
import { pastPointOfNoReturn } from '../../src/plan/order.js';
import { reasonText } from '../../src/plan/describe.js';
import type { Config, Plan } from '../../src/model/types.js';
import { DiagnosticsError } from '../../src/errors.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import {
  address,
  config,
  defaultRoute,
  endpoint,
  link,
  namespacesOf,
  network,
  observed,
  ownedEndpoint,
  ownedVlan,
  subnet,
  linkSpec,
} from '../fixtures/plan/build.js';

const eth0 = () => link('eth0', { index: 2, mac: '52:54:00:00:00:01' });

async function applyPlan(kernel: MemoryKernel, plan: Plan): Promise<void> {
  for (const a of plan.actions) await kernel.apply(a.op);
}

async function converge(kernel: MemoryKernel, cfg: Config): Promise<Plan> {
  const plan = makePlan(cfg, await kernel.observe(namespacesOf(cfg)));
  await applyPlan(kernel, plan);
  return plan;
}

async function replan(kernel: MemoryKernel, cfg: Config): Promise<Plan> {
  return makePlan(cfg, await kernel.observe(namespacesOf(cfg)));
}

const summary = (plan: Plan) => plan.actions.map((a) => `${a.change} ${a.object} ${a.op.op}`);

const trunk = () =>
  config(
    [network('mac50', { parent: 'eth0.50', subnets: [subnet('192.168.50.0/24', '192.168.50.1')] })],
    [endpoint('web1', 'mac50'), endpoint('web2', 'mac50')],
  );

test('an empty kernel gets namespaces, the implied vlan, endpoints, addresses and routes, in order', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  const plan = await converge(kernel, trunk());
  assert.equal(summary(plan), [
    'create netns.web1 netns-add',
    'create netns.web2 netns-add',
    'create vlan.eth0.50 link-add',
    'create endpoint.web1 link-add',
    'create endpoint.web2 link-add',
    'create endpoint.web1.ipv4 addr-add',
    'create endpoint.web2.ipv4 addr-add',
    'create endpoint.web1.route4 route-add',
    'create endpoint.web2.route4 route-add',
  ]);
  const stages = plan.actions.map((a) => a.stage);
  assert.equal(
    stages,
    [...stages].sort((a, b) => a - b),
  );
  const addrs = plan.actions.flatMap((a) => (a.op.op === 'addr-add' ? [a.op.addr.address] : []));
  assert.equal(addrs, ['192.168.50.2', '192.168.50.3']);
  const route = plan.actions.find((a) => a.op.op === 'route-add')!.op;
  assert.equal(route.op === 'route-add' && route.route.gateway, '192.168.50.1');
  const ep = plan.actions.find((a) => a.object === 'endpoint.web1')!.op;
  assert.ok(
    ep.op === 'link-add' &&
      ep.link.kind === 'macvlan' &&
      ep.link.mode === 'bridge' &&
      ep.link.alias === 'vlannet:endpoint/web1 macvlan@eth0.50',
  );
});

test('a converged kernel plans nothing', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  await converge(kernel, trunk());
  assert.equal((await replan(kernel, trunk())).actions, []);
});

test('adding an endpoint plans only its own actions and renumbers nobody', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  const cfg = config(trunk().networks, [endpoint('web2', 'mac50')]);
  await converge(kernel, cfg);
  const more = config(cfg.networks, [endpoint('a0', 'mac50'), endpoint('web2', 'mac50')]);
  const plan = await replan(kernel, more);
  assert.equal(summary(plan), [
    'create netns.a0 netns-add',
    'create endpoint.a0 link-add',
    'create endpoint.a0.ipv4 addr-add',
    'create endpoint.a0.route4 route-add',
  ]);
  const a = plan.actions.find((x) => x.op.op === 'addr-add')!.op;
  assert.equal(a.op === 'addr-add' && a.addr.address, '192.168.50.3', 'web2 keeps .2, which it holds in the kernel');
});

test('removing a network deletes exactly its objects, children first', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  const both = config(
    [...trunk().networks, network('mac60', { parent: 'eth0.60', subnets: [subnet('192.168.60.0/24', '192.168.60.1')] })],
    [...trunk().endpoints, endpoint('db1', 'mac60')],
  );
  await converge(kernel, both);
  const plan = await replan(kernel, trunk());
  // The endpoint goes with its namespace (one kernel batch, not a slow link-del), before its parent.
  assert.equal(summary(plan), ['delete netns.db1 netns-del', 'delete vlan.eth0.60 link-del']);
  assert.match(reasonText(plan.actions[0]!.reason), /endpoint\.db1 goes with it/);
  assert.equal(plan.actions[0]!.reason, { code: 'unconfigured', with: ['endpoint.db1'] });
  const del = plan.actions[0]!.op;
  assert.ok(del.op === 'netns-del');
  assert.equal(
    del.links!.map((l) => l.before.alias),
    ['vlannet:endpoint/db1 macvlan@eth0.60'],
  );
  assert.equal(
    del.links![0]!.addresses.map((a) => a.address),
    ['192.168.60.2'],
    "the netns-del carries its links' addresses for an undo",
  );
  assert.equal(
    del.links![0]!.routes.map((r) => r.gateway),
    ['192.168.60.1'],
  );
  await applyPlan(kernel, plan);
  assert.equal((await replan(kernel, trunk())).actions, []);
});

test('an mtu change is an update in place with the changed keys only', async () => {
  const kernel = new MemoryKernel().seed({ links: [link('eth0', { mtu: 9000 })] });
  const withMtu = (mtu: number) => config([network('mac50', { ...trunk().networks[0]!, mtu })], trunk().endpoints);
  await converge(kernel, withMtu(1500));
  const jumbo = withMtu(9000);
  const plan = await replan(kernel, jumbo);
  assert.equal(summary(plan), ['update vlan.eth0.50 link-set', 'update endpoint.web1 link-set', 'update endpoint.web2 link-set']);
  assert.equal(plan.actions[1]!.before, { mtu: 1500 });
  assert.equal(plan.actions[1]!.after, { mtu: 9000 });
  assert.is(reasonText(plan.actions[1]!.reason), 'mtu 1500 → 9000');
  assert.equal(plan.actions[1]!.reason, { code: 'drift', changes: [{ attribute: 'mtu', from: 1500, to: 9000 }] });
  await applyPlan(kernel, plan);
  assert.equal((await replan(kernel, jumbo)).actions, []);
});

test('a parent change replaces the endpoints and says why', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  await converge(kernel, trunk());
  const moved = config([network('mac50', { ...trunk().networks[0]!, parent: 'eth0.60' })], trunk().endpoints);
  const plan = await replan(kernel, moved);
  // Make before break: the new vlan and the new endpoint links (down, under temporary names,
  // beside the old ones) first; after the point of no return the old ones go, the new ones take
  // their names, come up, and get their addresses and routes.
  assert.equal(summary(plan), [
    'create vlan.eth0.60 link-add',
    'replace endpoint.web1 link-add',
    'replace endpoint.web2 link-add',
    'replace endpoint.web1 link-del',
    'replace endpoint.web2 link-del',
    'delete vlan.eth0.50 link-del',
    'replace endpoint.web1 link-set',
    'replace endpoint.web2 link-set',
    'create endpoint.web1.ipv4 addr-add',
    'create endpoint.web2.ipv4 addr-add',
    'create endpoint.web1.route4 route-add',
    'create endpoint.web2.route4 route-add',
  ]);
  assert.is(reasonText(plan.actions[1]!.reason), 'parent changed from eth0.50 to eth0.60 (cannot be changed in place)');
  assert.equal(
    plan.actions[1]!.reason,
    { code: 'cannot-update', forcedBy: [{ attribute: 'parent', from: 'eth0.50', to: 'eth0.60' }] },
    'the attribute that forced the replace',
  );
  const made = plan.actions[1]!.op;
  assert.ok(
    made.op === 'link-add' && made.link.name !== 'eth0' && !made.link.up && made.link.parent === 'eth0.60',
    'made down under another name',
  );
  const renamed = plan.actions[6]!.op;
  assert.ok(renamed.op === 'link-set' && made.op === 'link-add' && renamed.name === made.link.name);
  assert.equal(renamed.op === 'link-set' && renamed.set, { name: 'eth0', up: true });
  assert.ok(
    plan.actions.slice(0, 3).every((a) => !pastPointOfNoReturn(a)) && plan.actions.slice(3).every(pastPointOfNoReturn),
    'the point of no return falls before the first removal',
  );
  const readd = plan.actions.filter((a) => a.op.op === 'addr-add').map((a) => a.op.op === 'addr-add' && a.op.addr.address);
  assert.equal(readd, ['192.168.50.2', '192.168.50.3'], 'a replaced endpoint keeps its address');
  await applyPlan(kernel, plan);
  assert.equal((await replan(kernel, moved)).actions, []);
});

test('a vlan id change replaces the vlan and the endpoints that would vanish with it', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  const cfg = (id: number) =>
    config(
      [network('mac50', { parent: 'trunk50', parentKind: 'vlan', subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })],
      [endpoint('web1', 'mac50')],
      [{ name: 'trunk50', parent: 'eth0', id, source: 'vlans', at: 'vlannet.yaml:1:1', path: 'vlans.trunk50' }],
    );
  await converge(kernel, cfg(50));
  const plan = await replan(kernel, cfg(51));
  assert.equal(
    summary(plan).filter((s) => s.includes('link-')),
    ['replace endpoint.web1 link-del', 'replace vlan.trunk50 link-del', 'replace vlan.trunk50 link-add', 'replace endpoint.web1 link-add'],
  );
  assert.match(reasonText(plan.actions[0]!.reason), /its parent trunk50 is deleted \(vlan id changed from 50 to 51/);
  assert.is(plan.actions[0]!.reason.code, 'parent-replaced');
  await applyPlan(kernel, plan);
  assert.equal((await replan(kernel, cfg(51))).actions, []);
});

test('a link vlannet does not own in the way is an error naming it, never a takeover', () => {
  const obs = observed({
    namespaces: [{ name: 'web1', owned: false }],
    links: [eth0(), link('eth0', { netns: 'web1', kind: 'veth', alias: null })],
  });
  try {
    makePlan(trunk(), obs);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, DiagnosticsError);
    const d = (e as DiagnosticsError).diagnostics;
    assert.is(d.length, 1);
    assert.match(d[0]!.message, /endpoint web1 needs the link name eth0, but eth0 in namespace web1 \(veth\) is not vlannet's/);
    assert.is(d[0]!.path, 'endpoints.web1.ifname');
  }
});

test("a copied owner mark does not make a link vlannet's", () => {
  const fake = link('eth0', { netns: 'web1', kind: 'veth', alias: 'vlannet:endpoint/web1 macvlan@eth0.50' });
  assert.throws(
    () => makePlan(trunk(), observed({ namespaces: [{ name: 'web1', owned: false }], links: [eth0(), fake] })),
    /not vlannet's/,
  );
});

test("an implied vlan that exists and is not vlannet's is used as the parent, not created", () => {
  const theirs = link('eth0.50', { index: 3, kind: 'vlan', parent: 'eth0', vlanId: 50 });
  const plan = makePlan(trunk(), observed({ links: [eth0(), theirs] }));
  assert.not.ok(plan.actions.some((a) => a.object.startsWith('vlan.')));
  const ep = plan.actions.find((a) => a.object === 'endpoint.web1')!.op;
  assert.ok(ep.op === 'link-add' && ep.link.parent === 'eth0.50');
  assert.equal(planDestroy(observed({ links: [eth0(), theirs] })).actions, []);
});

test('a vlan from vlans: whose name is taken by a foreign link is an error', () => {
  const cfg = config(trunk().networks, trunk().endpoints, [
    { name: 'eth0.50', parent: 'eth0', id: 50, source: 'vlans', at: 'vlannet.yaml:3:5', path: 'vlans.eth0.50' },
  ]);
  const theirs = link('eth0.50', { index: 3, kind: 'vlan', parent: 'eth0', vlanId: 50 });
  assert.throws(() => makePlan(cfg, observed({ links: [eth0(), theirs] })), /vlans.eth0.50: vlan eth0.50 needs the link name eth0.50/);
});

test('a missing link parent is an error that says what to do', () => {
  const cfg = config([network('n', { parent: 'eth9', subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })], [endpoint('a', 'n')]);
  assert.throws(() => makePlan(cfg, observed()), /networks.n.parent: parent link eth9 does not exist; create it, or name it NAME.VID/);
});

test('destroy removes only what vlannet owns', async () => {
  const kernel = new MemoryKernel().seed({
    namespaces: [{ name: 'theirs', owned: false }],
    links: [
      eth0(),
      link('mv0', { index: 9, kind: 'macvlan', parent: 'eth0', mode: 'bridge' }),
      link('veth0', { netns: 'theirs', kind: 'veth' }),
    ],
  });
  await converge(kernel, trunk());
  const plan = planDestroy(await kernel.observe(['theirs']));
  assert.equal(summary(plan), ['delete netns.web1 netns-del', 'delete netns.web2 netns-del', 'delete vlan.eth0.50 link-del']);
  await applyPlan(kernel, plan);
  const after = await kernel.observe(['theirs']);
  assert.equal(after.links.map((l) => `${l.netns ?? 'host'}/${l.name}`).sort(), ['host/eth0', 'host/mv0', 'theirs/lo', 'theirs/veth0']);
  assert.equal(after.namespaces, [{ name: 'theirs', owned: false }]);
});

test('an owned vlan carrying a foreign link is kept, with a warning', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  await converge(kernel, trunk());
  await kernel.apply({ op: 'link-add', link: linkSpec({ name: 'mine', parent: 'eth0.50' }) });
  const plan = planDestroy(await kernel.observe([]));
  assert.not.ok(plan.actions.some((a) => a.object === 'vlan.eth0.50'));
  assert.match(plan.warnings[0]!.message, /vlan.eth0.50 should be deleted .* carries links vlannet does not own \(mine\); kept/);
});

test('ipvlan mode belongs to the parent: l2 → l3 sets every link and turns routes into dev routes', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  const cfg = (mode: 'l2' | 'l3') =>
    config(
      [network('ip', { driver: 'ipvlan', mode, subnets: [subnet('10.1.0.0/24', mode === 'l2' ? '10.1.0.1' : null)] })],
      [endpoint('a', 'ip'), endpoint('b', 'ip')],
    );
  await converge(kernel, cfg('l2'));
  const plan = await replan(kernel, cfg('l3'));
  assert.equal(summary(plan), [
    'update endpoint.a link-set',
    'update endpoint.b link-set',
    'replace endpoint.a.route4 route-del',
    'replace endpoint.b.route4 route-del',
    'replace endpoint.a.route4 route-add',
    'replace endpoint.b.route4 route-add',
  ]);
  const r = plan.actions[4]!.op;
  assert.ok(r.op === 'route-add' && r.route.gateway === null && r.route.dev === 'eth0');
  await applyPlan(kernel, plan);
  assert.equal((await replan(kernel, cfg('l3'))).actions, []);
  assert.equal(plan.upstreamRoutes, [{ network: 'ip', subnet: '10.1.0.0/24', via: null, parent: 'eth0' }]);
});

test("a macvlan network on a parent that carries someone else's ipvlan is an error (EBUSY)", () => {
  const cfg = config([network('m', { subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })], [endpoint('a', 'm')]);
  const theirs = link('their-ipvlan', { netns: 'theirs', kind: 'ipvlan', parent: 'eth0', mode: 'l2', flag: 'bridge' });
  assert.throws(
    () => makePlan(cfg, observed({ links: [eth0(), theirs] })),
    /networks\.m\.driver: parent eth0 carries their-ipvlan in namespace theirs \(ipvlan\), which vlannet does not own; a macvlan link cannot share a parent with ipvlan links \(EBUSY\)/,
  );
});

test('a default route vlannet does not own is left alone, with a warning', () => {
  const obs = observed({
    namespaces: [{ name: 'web1', owned: false }],
    links: [eth0(), link('lo', { netns: 'web1' }), link('eth1', { netns: 'web1', kind: 'veth' })],
    addresses: [address('web1', 'eth1', '172.17.0.2/16')],
    routes: [defaultRoute('web1', 'eth1', '172.17.0.1', 4, 3)],
  });
  const plan = makePlan(config(trunk().networks, [endpoint('web1', 'mac50')]), obs);
  assert.not.ok(plan.actions.some((a) => a.op.op === 'route-add' || a.op.op === 'route-del'));
  assert.match(
    plan.warnings[0]!.message,
    /namespace web1 already has a default route \(default via 172.17.0.1 dev eth1\) that vlannet does not own/,
  );
  assert.not.ok(
    plan.actions.some((a) => a.object === 'netns.web1'),
    'an existing namespace is used',
  );
});

test('drift on an owned endpoint is put back; foreign addresses on it go, kernel routes stay', () => {
  const web1 = ownedEndpoint('web1', 'macvlan', 'eth0.50', { up: false, mode: 'vepa' });
  const obs = observed({
    namespaces: [{ name: 'web1', owned: true }],
    links: [eth0(), ownedVlan('eth0.50', 'eth0', 50, { index: 3 }), web1],
    addresses: [
      address('web1', 'eth0', '192.168.50.2/24'),
      address('web1', 'eth0', '192.168.50.99/24'),
      address('web1', 'eth0', 'fe80::1/64'),
    ],
    routes: [{ netns: 'web1', family: 4, dst: '192.168.50.0/24', gateway: null, dev: 'eth0', protocol: 2 }],
  });
  const plan = makePlan(config(trunk().networks, [endpoint('web1', 'mac50')]), obs);
  // The route comes after the address removal, which might otherwise take it away again.
  assert.equal(summary(plan), [
    'update endpoint.web1 link-set',
    'delete endpoint.web1.ipv4 addr-del',
    'create endpoint.web1.route4 route-add',
  ]);
  assert.equal(plan.actions[0]!.after, { mode: 'bridge', up: true });
});

test('an endpoint that moved namespace is replaced, and its old owned namespace removed', async () => {
  const kernel = new MemoryKernel().seed({ links: [eth0()] });
  await converge(kernel, trunk());
  const moved = config(trunk().networks, [endpoint('web1', 'mac50', { netns: 'other' }), endpoint('web2', 'mac50')]);
  const plan = await replan(kernel, moved);
  // The new link first; its address (the old one's) only once the old link is gone: deleted on
  // its own before its namespace, since the kernel removes a namespace's links after the request
  // returns. One address never answers twice on the LAN.
  assert.equal(summary(plan), [
    'create netns.other netns-add',
    'replace endpoint.web1 link-add',
    'replace endpoint.web1 link-del',
    'delete netns.web1 netns-del',
    'create endpoint.web1.ipv4 addr-add',
    'create endpoint.web1.route4 route-add',
  ]);
  assert.match(reasonText(plan.actions[1]!.reason), /namespace changed from web1 to other/);
  await applyPlan(kernel, plan);
  assert.equal((await replan(kernel, moved)).actions, []);
});

test("preflight: an MTU above the parent's is a plan error before anything is touched", () => {
  const jumbo = config(
    [network('big', { parent: 'eth0', mtu: 9000, subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })],
    [endpoint('a', 'big')],
  );
  assert.throws(
    () => makePlan(jumbo, observed({ links: [eth0()] })),
    /networks\.big\.mtu: mtu 9000 is above the MTU of its parent eth0 \(1500\): the kernel refuses that \(EINVAL\); raise eth0's MTU first/,
  );
  assert.ok(makePlan(jumbo, observed({ links: [link('eth0', { index: 2, mtu: 9000 })] })).actions.length > 0, 'fine on a jumbo parent');
  // On an implied vlan, the vlan gets the largest MTU of its networks and must fit its own parent.
  const onVlan = config(
    [network('big', { parent: 'eth0.10', mtu: 9000, subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })],
    [endpoint('a', 'big')],
    [{ name: 'eth0.10', parent: 'eth0', id: 10, source: 'implied', at: 'vlannet.yaml:4:13', path: 'networks.big.parent' }],
  );
  assert.throws(
    () => makePlan(onVlan, observed({ links: [eth0()] })),
    /networks\.big\.parent: the mtu of vlan eth0\.10 \(9000, for the networks on it\) is above the MTU of its parent eth0 \(1500\)/,
  );
});

test('preflight: a link kind the kernel cannot make is a plan error naming the module', () => {
  const cfg = config(
    [network('i', { driver: 'ipvlan', parent: 'eth0.7', subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })],
    [endpoint('a', 'i'), endpoint('b', 'i')],
    [{ name: 'eth0.7', parent: 'eth0', id: 7, source: 'implied', at: 'vlannet.yaml:4:13', path: 'networks.i.parent' }],
  );
  const state = { ...observed({ links: [eth0()] }), unsupportedLinkKinds: ['ipvlan', 'vlan'] as ('ipvlan' | 'vlan')[] };
  const error = (() => {
    try {
      makePlan(cfg, state);
      return null;
    } catch (e) {
      return e;
    }
  })();
  assert.instance(error, DiagnosticsError);
  const messages = (error as DiagnosticsError).diagnostics.map((d) => `${d.path}: ${d.message}`);
  assert.equal(
    messages,
    [
      'networks.i.parent: vlan eth0.7 needs a vlan link, and this kernel cannot make one (it refused in a throwaway namespace): load the module (modprobe 8021q)',
      'networks.i.driver: network i needs an ipvlan link, and this kernel cannot make one (it refused in a throwaway namespace): load the module (modprobe ipvlan)',
    ],
    'once per network, not per endpoint',
  );
});

test('a link vlannet began and never marked (killed in between) is deleted, and its name is taken over by the endpoint', () => {
  const obs = observed({
    namespaces: [{ name: 'web1', owned: true }],
    links: [
      eth0(),
      ownedVlan('eth0.50', 'eth0', 50, { index: 3 }),
      link('eth0', { netns: 'web1', index: 2, kind: 'macvlan', parent: 'eth0.50', mode: 'bridge', up: false, group: 201 }),
    ],
  });
  const plan = makePlan(config(trunk().networks, [endpoint('web1', 'mac50')]), obs);
  const del = plan.actions.find((a) => a.op.op === 'link-del')!;
  assert.match(reasonText(del.reason), /interrupted before it was marked/);
  assert.ok(pastPointOfNoReturn(del));
  const made = plan.actions.find((a) => a.op.op === 'link-add')!.op;
  assert.ok(made.op === 'link-add' && made.link.name !== 'eth0', 'the new link is made beside it and renamed after it is gone');
  assert.ok(plan.actions.some((a) => a.op.op === 'link-set' && a.op.set.name === 'eth0'));
  // Not in vlannet's group: someone else's link, never touched.
  const theirs = observed({
    ...obs,
    links: [
      eth0(),
      ownedVlan('eth0.50', 'eth0', 50, { index: 3 }),
      link('eth0', { netns: 'web1', index: 2, kind: 'macvlan', parent: 'eth0.50' }),
    ],
  });
  assert.throws(() => makePlan(config(trunk().networks, [endpoint('web1', 'mac50')]), theirs), /is not vlannet's/);
});

test.run();
