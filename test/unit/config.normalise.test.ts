// Normalisation: every default filled in, canonical addresses, gateways, implied vlans, dummy names.

import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/model/types.js';
import { formatDiagnostic } from '../../src/errors.js';

const y = (...lines: string[]) => `${lines.join('\n')}\n`;

function load(text: string): Config {
  const { config, diagnostics } = loadConfig(text, 't.yaml');
  assert.ok(config, diagnostics.map(formatDiagnostic).join('\n'));
  return config!;
}

test('defaults: macvlan bridge, ipvlan l2 with flag bridge, eth0, netns = endpoint name, default route', () => {
  const c = load(
    y(
      'version: 1',
      'networks:',
      '  m: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24 }] }',
      '  i: { driver: ipvlan, parent: eth1 }',
      'endpoints:',
      '  web1: { network: m }',
      '  db: { network: i, netns: host, ifname: ipv0 }',
    ),
  );
  const [i, m] = c.networks;
  assert.equal([i!.name, i!.mode, i!.flag, i!.mtu, i!.internal, i!.parentKind], ['i', 'l2', 'bridge', null, false, 'link']);
  assert.equal([m!.name, m!.mode, m!.flag, m!.subnets[0]!.gateway, m!.subnets[0]!.ipRange], ['m', 'bridge', null, '10.0.0.1', null]);
  const [db, web1] = c.endpoints;
  assert.equal(web1, {
    name: 'web1',
    network: 'm',
    netns: 'web1',
    ifname: 'eth0',
    ipv4: null,
    ipv6: null,
    mac: null,
    defaultRoute: true,
    at: 't.yaml:6:3',
    path: 'endpoints.web1',
  });
  assert.is(db!.netns, null, "netns host is vlannet's own namespace");
  assert.is(db!.defaultRoute, false, "never the host's default route");
  assert.equal(c.vlans, []);
});

test('an empty config owns nothing; sections may be empty or null', () => {
  for (const text of ['version: 1\n', y('version: 1', 'vlans: {}', 'networks:', 'endpoints: {}')]) {
    const c = load(text);
    assert.equal([c.vlans, c.networks, c.endpoints], [[], [], []]);
  }
});

test('gateways: first usable by default, none in l3/l3s, internal, /31 and /127; a given one is kept', () => {
  const c = load(
    y(
      'version: 1',
      'networks:',
      '  a: { driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.50.0/24 }, { subnet: "2001:db8:50::/64" }, { subnet: 10.9.9.0/31 }, { subnet: "2001:db8:1::/127" }] }',
      '  b: { driver: ipvlan, parent: eth1, mode: l3s, subnets: [{ subnet: 10.2.0.0/24 }] }',
      '  c: { driver: ipvlan, subnets: [{ subnet: 10.3.0.0/24 }] }',
      '  d: { driver: ipvlan, parent: eth2, subnets: [{ subnet: 10.4.0.0/24, gateway: 10.4.0.254 }, { subnet: "2001:db8:4::/64", gateway: "fe80::1" }] }',
    ),
  );
  const gw = (n: number) => c.networks[n]!.subnets.map((s) => s.gateway);
  assert.equal(gw(0), ['192.168.50.1', '2001:db8:50::1', null, null]);
  assert.equal(gw(1), [null]);
  assert.equal(gw(2), [null]);
  assert.equal(gw(3), ['10.4.0.254', 'fe80::1'], 'an IPv6 gateway may be link-local');
});

test('reserved gateways: the gateway where there is one, else the one written inside the subnet or the first usable; none on /31, /32, /127, /128', () => {
  const c = load(
    y(
      'version: 1',
      'networks:',
      '  a: { driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.50.0/24 }, { subnet: "2001:db8:4::/64", gateway: "fe80::1" }, { subnet: 10.9.9.0/31 }] }',
      '  b: { driver: ipvlan, parent: eth1, mode: l3s, subnets: [{ subnet: 10.2.0.0/24 }, { subnet: 10.2.1.0/24, gateway: 10.2.1.254 }, { subnet: 10.2.2.0/24, gateway: 10.9.0.1 }] }',
      '  c: { driver: ipvlan, subnets: [{ subnet: 10.3.0.0/24 }, { subnet: "2001:db8:3::/64" }, { subnet: 10.3.1.0/31, gateway: 10.3.1.1 }, { subnet: 10.3.2.1/32 }] }',
      '  d: { driver: ipvlan, parent: eth2, mode: l3, subnets: [{ subnet: "2001:db8:5::/127" }, { subnet: "2001:db8:6::1/128" }] }',
    ),
  );
  const reserved = (n: number) => c.networks[n]!.subnets.map((s) => [s.gateway, s.reservedGateway]);
  assert.equal(reserved(0), [
    ['192.168.50.1', '192.168.50.1'],
    ['fe80::1', 'fe80::1'],
    [null, null],
  ]);
  assert.equal(reserved(1), [
    [null, '10.2.0.1'],
    [null, '10.2.1.254'],
    [null, '10.2.2.1'],
  ]);
  assert.equal(reserved(2), [
    [null, '10.3.0.1'],
    [null, '2001:db8:3::1'],
    [null, null],
    [null, null],
  ]);
  assert.equal(reserved(3), [
    [null, null],
    [null, null],
  ]);
});

test('aux addresses: in the order written, canonical, with where each is; none by default', () => {
  const c = load(
    y(
      'version: 1',
      'networks:',
      '  n:',
      '    driver: macvlan',
      '    parent: eth0',
      '    subnets:',
      '      - subnet: "2001:db8:50::/64"',
      '        aux_addresses:',
      '          router: "2001:0DB8:50::00fe"',
      '          printer: "2001:db8:50::fd"',
      '      - subnet: 10.0.0.0/24',
    ),
  );
  assert.equal(c.networks[0]!.subnets[0]!.auxAddresses, [
    { name: 'router', address: '2001:db8:50::fe', at: 't.yaml:9:19' },
    { name: 'printer', address: '2001:db8:50::fd', at: 't.yaml:10:20' },
  ]);
  assert.equal(c.networks[0]!.subnets[1]!.auxAddresses, []);
});

test('addresses and subnets are canonical; MACs lower case', () => {
  const c = load(
    y(
      'version: 1',
      'networks:',
      '  n: { driver: macvlan, parent: eth0, subnets: [{ subnet: "2001:0db8:0050:0000::/64", ip_range: "2001:db8:50:0:8000::/65" }, { subnet: 10.0.0.0/24 }] }',
      'endpoints:',
      '  e: { network: n, ipv6: "2001:0DB8:50::0010", ipv4: 10.0.0.9, mac: "02:AB:00:00:00:01" }',
    ),
  );
  assert.equal(
    c.networks[0]!.subnets.map((s) => [s.cidr, s.family, s.ipRange]),
    [
      ['2001:db8:50::/64', 6, '2001:db8:50:0:8000::/65'],
      ['10.0.0.0/24', 4, null],
    ],
  );
  assert.equal([c.endpoints[0]!.ipv6, c.endpoints[0]!.ipv4, c.endpoints[0]!.mac], ['2001:db8:50::10', '10.0.0.9', '02:ab:00:00:00:01']);
});

test('/31 and /127: both addresses usable, network address allowed as a static address', () => {
  const c = load(
    y(
      'version: 1',
      'networks:',
      '  p: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/31 }, { subnet: "2001:db8::/127" }] }',
      'endpoints:',
      '  a: { network: p, ipv4: 10.0.0.0, ipv6: "2001:db8::" }',
      '  b: { network: p, ipv4: 10.0.0.1, ipv6: "2001:db8::1" }',
    ),
  );
  assert.equal(
    c.endpoints.map((e) => [e.ipv4, e.ipv6]),
    [
      ['10.0.0.0', '2001:db8::'],
      ['10.0.0.1', '2001:db8::1'],
    ],
  );
});

test('implied vlans: NAME.VID parents, deduplicated, sorted, alongside vlans: entries', () => {
  const c = load(
    y(
      'version: 1',
      'vlans:',
      '  foobar: { parent: eth0, id: 40 }',
      'networks:',
      '  z: { driver: macvlan, parent: eth0.50 }',
      '  a: { driver: macvlan, parent: eth0.50 }',
      '  f: { driver: ipvlan, parent: foobar }',
      '  b: { driver: ipvlan, parent: bond0.7 }',
    ),
  );
  assert.equal(
    c.vlans.map((v) => [v.name, v.parent, v.id, v.source]),
    [
      ['bond0.7', 'bond0', 7, 'implied'],
      ['eth0.50', 'eth0', 50, 'implied'],
      ['foobar', 'eth0', 40, 'vlans'],
    ],
  );
  assert.equal(
    c.networks.map((n) => [n.name, n.parent, n.parentKind]),
    [
      ['a', 'eth0.50', 'vlan'],
      ['b', 'bond0.7', 'vlan'],
      ['f', 'foobar', 'vlan'],
      ['z', 'eth0.50', 'vlan'],
    ],
  );
  assert.is(c.vlans[1]!.at, 't.yaml:6:33', 'an implied vlan points at the first network (by name) that implies it');
  assert.is(c.vlans[1]!.path, 'networks.a.parent');
});

test('a vlans: entry named NAME.VID is the vlan, not an implied one', () => {
  const c = load(
    y('version: 1', 'vlans:', '  eth0.60: { parent: eth0, id: 60, mtu: 1400 }', 'networks:', '  n: { driver: macvlan, parent: eth0.60 }'),
  );
  assert.equal(
    c.vlans.map((v) => [v.name, v.source, v.mtu]),
    [['eth0.60', 'vlans', 1400]],
  );
});

test('dummy parents: vn-NETWORK, or vn- + 12 hex of sha256 when that is too long; internal networks', () => {
  const long = 'averyveryverylongname';
  const c = load(
    y(
      'version: 1',
      'networks:',
      '  iso: { driver: ipvlan, mode: l3 }',
      `  ${long}: { driver: macvlan, internal: true }`,
      '  twelvechars1: { driver: macvlan }',
      'endpoints:',
      '  e1: { network: iso }',
    ),
  );
  const byName = Object.fromEntries(c.networks.map((n) => [n.name, n]));
  assert.equal([byName.iso!.parent, byName.iso!.parentKind, byName.iso!.internal], ['vn-iso', 'dummy', true]);
  assert.is(byName[long]!.parent, `vn-${createHash('sha256').update(long).digest('hex').slice(0, 12)}`);
  assert.is(byName[long]!.parent.length, 15);
  assert.is(byName.twelvechars1!.parent, 'vn-twelvechars1', '15 bytes still fits');
  assert.is(c.endpoints[0]!.defaultRoute, false, 'internal networks get no default route');
});

test('explicit default_route: false is kept; warnings do not make the config null', () => {
  const { config, diagnostics } = loadConfig(
    y(
      'version: 1',
      'networks:',
      '  n: { driver: ipvlan, internal: false, mode: l3, subnets: [{ subnet: 10.0.0.0/24, gateway: 10.0.0.1 }] }',
      'endpoints:',
      '  e: { network: n, default_route: false }',
    ),
    't.yaml',
  );
  assert.ok(config);
  assert.equal(
    diagnostics.map((d) => [d.severity, d.at]),
    [
      ['warning', 't.yaml:3:34'],
      ['warning', 't.yaml:3:93'],
    ],
  );
  assert.is(config!.endpoints[0]!.defaultRoute, false);
});

test('objects carry where they were written', () => {
  const c = load(
    y('version: 1', 'networks:', '  n:', '    driver: macvlan', '    parent: eth0', '    subnets:', '      - subnet: 10.0.0.0/24'),
  );
  assert.equal(
    [c.file, c.networks[0]!.at, c.networks[0]!.path, c.networks[0]!.subnets[0]!.at, c.networks[0]!.subnets[0]!.path],
    ['t.yaml', 't.yaml:3:3', 'networks.n', 't.yaml:7:9', 'networks.n.subnets[0]'],
  );
});

test.run();
