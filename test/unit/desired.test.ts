import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveDesired } from '../../src/model/desired.js';
import { address, config, endpoint, link, network, observed, subnet } from '../fixtures/plan/build.js';
import { flagOf } from '../../src/model/types.js';

const errors = (r: ReturnType<typeof resolveDesired>) => r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);

test('macvlan endpoint: mode always sent, mac kept, IPv6 off without an IPv6 address, default via the gateway', () => {
  const cfg = config(
    [network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1')], mode: 'vepa' })],
    [endpoint('a', 'n', { mac: '02:AA:BB:CC:DD:EE' })],
  );
  const { desired, diagnostics } = resolveDesired(cfg, observed());
  assert.equal(diagnostics, []);
  assert.equal(desired.namespaces, ['a']);
  assert.equal(desired.links, [
    {
      netns: 'a',
      name: 'eth0',
      kind: 'macvlan',
      parent: 'eth0',
      mode: 'vepa',
      mtu: null,
      mac: '02:aa:bb:cc:dd:ee',
      up: true,
      alias: 'vlannet:endpoint/a macvlan@eth0',
      identity: { role: 'endpoint', name: 'a' },
      ipv6Disabled: true,
    },
  ]);
  assert.equal(desired.addresses, [{ netns: 'a', link: 'eth0', family: 4, address: '10.0.0.2', prefixLength: 24 }]);
  assert.equal(desired.routes, [{ netns: 'a', family: 4, dst: 'default', gateway: '10.0.0.1', dev: 'eth0', protocol: 201 }]);
});

test('ipvlan l3: default dev routes in both families, flag sent, upstream routes via the host address on the parent', () => {
  const cfg = config(
    [network('l3', { driver: 'ipvlan', mode: 'l3', parent: 'eth0', subnets: [subnet('192.168.110.0/24'), subnet('fe90::/64')] })],
    [endpoint('a', 'l3')],
  );
  const obs = observed({
    links: [link('eth0')],
    addresses: [address(null, 'eth0', 'fe80::1/64'), address(null, 'eth0', '192.168.1.249/24')],
  });
  const { desired } = resolveDesired(cfg, obs);
  assert.is(flagOf(desired.links[0]!), 'bridge');
  assert.is(desired.links[0]!.mac, null);
  assert.is(desired.links[0]!.ipv6Disabled, false);
  assert.equal(
    desired.routes.map((r) => `${r.family} ${r.dst} ${r.gateway} ${r.dev}`),
    ['4 default null eth0', '6 default null eth0'],
  );
  assert.equal(desired.upstreamRoutes, [
    { network: 'l3', subnet: '192.168.110.0/24', via: '192.168.1.249', parent: 'eth0' },
    { network: 'l3', subnet: 'fe90::/64', via: null, parent: 'eth0' },
  ]);
});

test('internal networks and endpoints without default_route get no routes; a subnet without a gateway neither', () => {
  const cfg = config(
    [
      network('iso', { parent: 'dm-iso', parentKind: 'dummy', internal: true, subnets: [subnet('10.9.0.0/24', '10.9.0.1')] }),
      network('n', { subnets: [subnet('10.0.0.0/24')] }),
    ],
    [endpoint('a', 'iso'), endpoint('b', 'n'), endpoint('c', 'n', { netns: null, ifname: 'mvc', defaultRoute: false })],
  );
  const { desired, diagnostics } = resolveDesired(cfg, observed());
  assert.equal(diagnostics, []);
  assert.equal(desired.routes, []);
  assert.equal(desired.namespaces, ['a', 'b']);
  const dummy = desired.links.find((l) => l.kind === 'dummy')!;
  assert.equal([dummy.name, dummy.alias, dummy.parent], ['dm-iso', 'vlannet:dummy/iso dummy', null]);
});

test("an internal ipvlan l3 network routes between its own subnets (the seed's ipnet210), with no default route", () => {
  const cfg = config(
    [
      network('ipnet210', {
        driver: 'ipvlan',
        mode: 'l3',
        flag: null,
        parent: 'vn-ipnet210',
        parentKind: 'dummy',
        internal: true,
        subnets: [subnet('192.168.214.0/24'), subnet('10.1.214.0/24'), subnet('2001:db8:214::/64')],
      }),
    ],
    [endpoint('a', 'ipnet210', { ipv4: '192.168.214.10' }), endpoint('b', 'ipnet210', { ipv4: '10.1.214.10' })],
  );
  const { desired, diagnostics } = resolveDesired(cfg, observed());
  assert.equal(diagnostics, []);
  assert.equal(
    desired.routes.map((r) => `${r.netns} ${r.dst} ${r.gateway} ${r.dev}`),
    ['a 10.1.214.0/24 null eth0', 'b 192.168.214.0/24 null eth0'],
  );
});

test('implied vlans: created when absent, used when someone else made them; mtu from the networks on it', () => {
  const cfg = config(
    [
      network('a', { parent: 'eth0.50', mtu: 9000, subnets: [subnet('10.0.0.0/24', '10.0.0.1')] }),
      network('b', { parent: 'eth0.60', subnets: [subnet('10.1.0.0/24', '10.1.0.1')] }),
    ],
    [endpoint('x', 'a'), endpoint('y', 'b')],
  );
  const theirs = link('eth0.60', { kind: 'vlan', parent: 'eth0', vlanId: 60, index: 4 });
  const { desired } = resolveDesired(cfg, observed({ links: [link('eth0', { mtu: 9000 }), theirs] }));
  assert.equal(
    desired.links.filter((l) => l.kind === 'vlan').map((l) => `${l.name} ${l.vlanId} ${l.mtu} ${l.alias}`),
    ['eth0.50 50 9000 vlannet:vlan/eth0.50 vlan@eth0#50'],
  );
});

test('two default routes in one namespace, a taken name and a missing vlan parent are errors', () => {
  const cfg = config(
    [
      network('a', { parent: 'eth7.50', subnets: [subnet('10.0.0.0/24', '10.0.0.1')] }),
      network('b', { subnets: [subnet('10.1.0.0/24', '10.1.0.1')] }),
    ],
    [
      endpoint('x', 'b', { netns: 'shared', ifname: 'e1' }),
      endpoint('y', 'b', { netns: 'shared', ifname: 'e2' }),
      endpoint('z', 'b', { netns: 'shared', ifname: 'e2', defaultRoute: false }),
    ],
  );
  assert.equal(errors(resolveDesired(cfg, observed())), [
    'parent link eth7 of vlan eth7.50 does not exist',
    'namespace shared would get two IPv4 default routes, through endpoints x and y; set default_route: false on one of them',
    'endpoint z wants link name e2 in namespace shared, which endpoint y already uses',
  ]);
});

test("a foreign ipvlan on the parent in another mode is an error: the mode is the parent's", () => {
  const cfg = config([network('i', { driver: 'ipvlan', mode: 'l3', subnets: [subnet('10.0.0.0/24')] })], [endpoint('a', 'i')]);
  const foreign = link('ipv0', { kind: 'ipvlan', parent: 'eth0', mode: 'l2', flag: 'bridge', index: 5 });
  assert.match(
    errors(resolveDesired(cfg, observed({ links: [link('eth0'), foreign] })))[0]!,
    /parent eth0 carries ipv0 \(ipvlan\) in ipvlan l2 bridge, which vlannet does not own; ipvlan l3 would change its mode too/,
  );
});

test.run();
