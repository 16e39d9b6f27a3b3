// host_access: the link that lets the host reach its own macvlan/ipvlan endpoints. From the file:
// the link, its host address, a host route per endpoint, Docker's numbering kept for endpoints;
// what validate refuses, with line:column; the warning for a network the host cannot reach; and on
// the in-memory kernel: converged after one apply, repaired, its address kept, removed with the
// network. Traffic through it is the kernel suite's (test/kernel/host-access.test.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { reconcile } from '../../src/apply/reconcile.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveDesired } from '../../src/model/desired.js';
import { makePlan } from '../../src/plan/plan.js';
import { type Config, type ObservedState, VLANNET_ROUTE_PROTOCOL } from '../../src/model/types.js';
import { address, link, observed } from '../fixtures/plan/build.js';
import { MemoryKernel } from '../support/memory-kernel.js';

const file = (network: string, endpoints = '  web1: { network: lan }\n  web2: { network: lan }\n') =>
  `version: 1\nnetworks:\n  lan:\n${network}\nendpoints:\n${endpoints}`;
const LAN = `    driver: macvlan
    parent: eth0
    subnets: [{ subnet: 192.168.1.0/24, gateway: 192.168.1.1 }, { subnet: "2001:db8:1::/64" }]`;

function load(text: string): Config {
  const { config, diagnostics } = loadConfig(text, 'vlannet.yaml');
  assert.ok(config, JSON.stringify(diagnostics));
  assert.equal(
    diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  return config!;
}

function problems(text: string): string[] {
  const { diagnostics } = loadConfig(text, 'vlannet.yaml');
  return diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.at}: ${d.path}: ${d.message}`);
}

/** The host's parent with an address of its own, as on a real LAN. */
const HOST: ObservedState = observed({ addresses: [address(null, 'eth0', '192.168.1.10/24')] });

test('host_access: true makes a macvlan bridge link of its own on the parent, a host address, and a route to each endpoint', () => {
  const { desired, diagnostics } = resolveDesired(load(file(`${LAN}\n    host_access: true`)), HOST);
  assert.equal(diagnostics, []);
  const shim = desired.links.find((l) => l.identity?.role === 'shim');
  assert.equal(shim, {
    netns: null,
    name: 'vh-lan',
    parent: 'eth0',
    mtu: null,
    up: true,
    identity: { role: 'shim', name: 'lan' },
    alias: 'vlannet:shim/lan macvlan@eth0',
    ipv6Disabled: false,
    kind: 'macvlan',
    mode: 'bridge',
    mac: null,
  });
  // The highest free address, so that the endpoints get .2 and .3 as Docker's containers would.
  assert.equal(
    desired.addresses.filter((a) => a.netns === null),
    [
      { netns: null, link: 'vh-lan', family: 4, address: '192.168.1.254', prefixLength: 32 },
      { netns: null, link: 'vh-lan', family: 6, address: '2001:db8:1:0:ffff:ffff:ffff:ffff', prefixLength: 128 },
    ],
  );
  assert.equal(
    desired.addresses.filter((a) => a.netns !== null && a.family === 4).map((a) => `${a.netns} ${a.address}`),
    ['web1 192.168.1.2', 'web2 192.168.1.3'],
  );
  assert.equal(
    desired.routes
      .filter((r) => r.netns === null)
      .map((r) => `${r.dst} dev ${r.dev} gw ${r.gateway}`)
      .sort(),
    [
      '192.168.1.2/32 dev vh-lan gw null',
      '192.168.1.3/32 dev vh-lan gw null',
      '2001:db8:1::2/128 dev vh-lan gw null',
      '2001:db8:1::3/128 dev vh-lan gw null',
    ],
  );
});

test('host_access with a name and addresses; on ipvlan l2, an ipvlan l2 link with the network flag', () => {
  const given = `${LAN}\n    host_access: { ifname: lanhost, ipv4: 192.168.1.100, ipv6: "2001:db8:1::100" }`;
  const d = resolveDesired(load(file(given)), HOST).desired;
  assert.equal(
    d.addresses.filter((a) => a.netns === null).map((a) => `${a.link} ${a.address}/${a.prefixLength}`),
    ['lanhost 192.168.1.100/32', 'lanhost 2001:db8:1::100/128'],
  );
  const ipvlan = file(
    `    driver: ipvlan\n    parent: eth0\n    flag: private\n    subnets: [{ subnet: 10.1.0.0/24 }]\n    host_access: true`,
  );
  const shim = resolveDesired(load(ipvlan), HOST).desired.links.find((l) => l.identity?.role === 'shim');
  assert.is(shim?.kind, 'ipvlan');
  assert.equal(shim?.kind === 'ipvlan' && [shim.mode, shim.flag, shim.ipv6Disabled], ['l2', 'private', true]);
});

test('a long network name gets a hashed link name within 15 bytes', () => {
  const text = `version: 1\nnetworks:\n  production-frontend-lan:\n${LAN.replace(/^/gm, '')}\n    host_access: true\n`;
  const shim = resolveDesired(load(text), HOST).desired.links.find((l) => l.identity?.role === 'shim')!;
  assert.match(shim.name, /^vh-[0-9a-f]{12}$/);
});

test('what validate refuses about host_access, each at its line:column', () => {
  const cases: [string, string, RegExp][] = [
    [
      'internal',
      `    driver: macvlan\n    subnets: [{ subnet: 10.9.0.0/24 }]\n    host_access: true`,
      /:6:\d+: networks\.lan\.host_access: network "lan" is internal/,
    ],
    [
      'macvlan private',
      `${LAN}\n    mode: private\n    host_access: true`,
      /networks\.lan\.host_access: host access needs macvlan mode bridge: in mode private/,
    ],
    [
      'ipvlan l3',
      `    driver: ipvlan\n    parent: eth0\n    mode: l3\n    subnets: [{ subnet: 10.1.0.0/24 }]\n    host_access: true`,
      /host access needs ipvlan mode l2/,
    ],
    [
      'outside the subnet',
      `${LAN}\n    host_access: { ipv4: 10.0.0.1 }`,
      /networks\.lan\.host_access\.ipv4: ipv4 "10\.0\.0\.1" is outside the IPv4 subnets of network "lan"/,
    ],
    [
      'the gateway',
      `${LAN}\n    host_access: { ipv4: 192.168.1.1 }`,
      /host_access\.ipv4: ipv4 "192\.168\.1\.1" is the gateway of 192\.168\.1\.0\/24/,
    ],
    [
      'no such family',
      `    driver: macvlan\n    parent: eth0\n    subnets: [{ subnet: 10.1.0.0/24 }]\n    host_access: { ipv6: "fd00::1" }`,
      /network "lan" has no IPv6 subnet/,
    ],
    ['a bad name', `${LAN}\n    host_access: { ifname: "has space" }`, /networks\.lan\.host_access\.ifname: /],
    [
      'the name of the parent',
      `${LAN}\n    host_access: { ifname: eth0 }`,
      /host_access\.ifname: link name "eth0" \(the host access of network "lan"\) is already the parent of network "lan"/,
    ],
    ['not a map or boolean', `${LAN}\n    host_access: yes please`, /expected true, false or a map/],
    ['an unknown key', `${LAN}\n    host_access: { address: 192.168.1.5 }`, /address/],
  ];
  for (const [what, network, expected] of cases) {
    const found = problems(file(network));
    assert.ok(
      found.some((p) => expected.test(p)),
      `${what}: ${found.join(' | ')}`,
    );
  }
  const taken = problems(file(`${LAN}\n    host_access: { ipv4: 192.168.1.50 }`, '  web1: { network: lan, ipv4: 192.168.1.50 }\n'));
  assert.ok(
    taken.some((p) => /endpoints\.web1\.ipv4: ipv4 "192\.168\.1\.50" is already the host access of network "lan"'s/.test(p)),
    taken.join(' | '),
  );
});

test('a network the host cannot reach is a warning: its parent holds the host address and there is no host_access', () => {
  const warnings = (text: string, state: ObservedState) =>
    resolveDesired(load(text), state)
      .diagnostics.filter((d) => d.severity === 'warning')
      .map((d) => d.message);
  const [w] = warnings(file(LAN), HOST);
  assert.match(w!, 'the host cannot reach the endpoints of network lan');
  assert.match(w!, 'add host_access: true');
  assert.equal(warnings(file(`${LAN}\n    host_access: true`), HOST), []);
  assert.equal(warnings(file(LAN), observed()), [], 'a parent without an address of the host');
  assert.equal(warnings(file(`${LAN}\n    mode: private`), HOST), [], 'private: the endpoints cannot reach each other either, by choice');
});

test('on a kernel: one apply converges; the link and its routes are repaired; its address is kept; it goes with host_access', async () => {
  const kernel = new MemoryKernel().seed({ links: [link('eth0', { index: 2 })], addresses: [address(null, 'eth0', '192.168.1.10/24')] });
  const withAccess = load(file(`${LAN}\n    host_access: true`));
  await reconcile(kernel, withAccess);
  const after = await kernel.observe(['web1', 'web2']);
  assert.equal(makePlan(withAccess, after).actions, [], 'converged');
  assert.ok(after.links.some((l) => l.netns === null && l.name === 'vh-lan' && l.alias === 'vlannet:shim/lan macvlan@eth0'));
  assert.equal(
    after.routes.filter((r) => r.netns === null && r.family === 4 && r.protocol === VLANNET_ROUTE_PROTOCOL).map((r) => r.dst),
    ['192.168.1.2/32', '192.168.1.3/32'],
  );

  // Someone deletes it: the plan makes it again, with its address and routes.
  const removal = makePlan(load(file(LAN)), after).actions.find((a) => a.object === 'shim.lan')!;
  await kernel.apply(removal.op);
  const repair = makePlan(withAccess, await kernel.observe(['web1', 'web2']));
  assert.equal([...new Set(repair.actions.map((a) => `${a.change} ${a.object}`))].sort(), [
    'create shim.lan',
    'create shim.lan.ipv4',
    'create shim.lan.ipv6',
    'create shim.lan.route4',
    'create shim.lan.route6',
  ]);
  await reconcile(kernel, withAccess);

  // A new endpoint: the host access keeps its address, and gets a route to the new one.
  const grown = load(
    file(`${LAN}\n    host_access: true`, '  web1: { network: lan }\n  web2: { network: lan }\n  web3: { network: lan }\n'),
  );
  const add = makePlan(grown, await kernel.observe(['web1', 'web2', 'web3']));
  assert.equal(
    add.actions.filter((a) => a.object.startsWith('shim.')).map((a) => `${a.change} ${a.object} ${a.op.op}`),
    ['create shim.lan.route4 route-add', 'create shim.lan.route6 route-add'],
  );
  await reconcile(kernel, grown);

  // Without host_access: the link goes, and its routes with it.
  const without = load(file(LAN, '  web1: { network: lan }\n  web2: { network: lan }\n  web3: { network: lan }\n'));
  const remove = makePlan(without, await kernel.observe(['web1', 'web2', 'web3']));
  assert.equal(
    remove.actions.map((a) => `${a.change} ${a.object} ${a.op.op}`),
    ['delete shim.lan link-del'],
  );
  await reconcile(kernel, without);
  const gone = await kernel.observe(['web1', 'web2', 'web3']);
  assert.not.ok(gone.links.some((l) => l.name === 'vh-lan'));
  assert.equal(
    gone.routes.filter((r) => r.netns === null && r.protocol === VLANNET_ROUTE_PROTOCOL),
    [],
  );
});

test.run();
