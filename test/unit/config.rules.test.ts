// One failing config per validation rule: the message text and the exact line:column of the
// offending node. Each case also asserts that nothing else is reported as an error.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCidr } from '../../src/model/address.js';
import { loadConfig } from '../../src/config/load.js';
import { firstOverlapping, type ParsedSubnet } from '../../src/config/rules.js';
import { formatDiagnostic } from '../../src/errors.js';

interface Expect {
  at: string;
  path: string;
  contains: string;
  severity?: 'error' | 'warning';
}

const y = (...lines: string[]) => `${lines.join('\n')}\n`;
const V = 'version: 1';
/** A network on eth0 most cases attach to. */
const NET = ['networks:', '  n1:', '    driver: macvlan', '    parent: eth0', '    subnets:', '      - subnet: 10.0.0.0/24'];

const cases: Record<string, { yaml: string; expect: Expect[] }> = {
  'unknown key at the top': {
    yaml: y(V, 'network: {}'),
    expect: [{ at: 't.yaml:2:1', path: 'network', contains: 'unknown key "network"; allowed here: version, vlans, networks, endpoints' }],
  },
  'unknown key in a network': {
    yaml: y(V, 'networks:', '  n1:', '    driver: macvlan', '    prent: eth0'),
    expect: [{ at: 't.yaml:5:5', path: 'networks.n1.prent', contains: 'unknown key "prent"; allowed here: driver, parent,' }],
  },
  'flag on a macvlan network': {
    yaml: y(V, 'networks:', '  n1:', '    driver: macvlan', '    parent: eth0', '    flag: private'),
    expect: [{ at: 't.yaml:6:5', path: 'networks.n1.flag', contains: 'flag is for ipvlan networks only' }],
  },
  'mac on an endpoint of an ipvlan network': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0 }', 'endpoints:', '  e1: { network: n1, mac: 02:00:00:00:00:01 }'),
    expect: [{ at: 't.yaml:5:22', path: 'endpoints.e1.mac', contains: 'mac is for macvlan networks only; "n1" is ipvlan' }],
  },
  'NAME.VID parent longer than 15 bytes': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: enp0s20f0u1u2.100 }'),
    expect: [
      {
        at: 't.yaml:3:34',
        path: 'networks.n1.parent',
        contains: 'interface name "enp0s20f0u1u2.100" is 17 bytes, longer than the kernel\'s 15',
      },
    ],
  },
  'ifname with a slash': {
    yaml: y(V, ...NET, 'endpoints:', '  e1:', '    network: n1', '    ifname: a/b'),
    expect: [{ at: 't.yaml:11:13', path: 'endpoints.e1.ifname', contains: 'contains "/": / : % and whitespace are not allowed' }],
  },
  'ifname with a colon, a percent sign, whitespace': {
    yaml: y(
      V,
      ...NET,
      'endpoints:',
      '  e1: { network: n1, netns: a, ifname: "eth0:1" }',
      '  e2: { network: n1, netns: b, ifname: "e%d" }',
      '  e3: { network: n1, netns: c, ifname: "a b" }',
    ),
    expect: [
      { at: 't.yaml:9:40', path: 'endpoints.e1.ifname', contains: 'contains ":"' },
      { at: 't.yaml:10:40', path: 'endpoints.e2.ifname', contains: 'contains "%"' },
      { at: 't.yaml:11:40', path: 'endpoints.e3.ifname', contains: 'contains " "' },
    ],
  },
  'ifname . .. and empty': {
    yaml: y(
      V,
      ...NET,
      'endpoints:',
      '  e1: { network: n1, netns: a, ifname: "." }',
      '  e2: { network: n1, netns: b, ifname: ".." }',
      '  e3: { network: n1, netns: c, ifname: "" }',
    ),
    expect: [
      { at: 't.yaml:9:40', path: 'endpoints.e1.ifname', contains: 'interface name "." is not allowed' },
      { at: 't.yaml:10:40', path: 'endpoints.e2.ifname', contains: 'interface name ".." is not allowed' },
      { at: 't.yaml:11:40', path: 'endpoints.e3.ifname', contains: 'an interface name cannot be empty' },
    ],
  },
  'vlan name too long, vlan parent with whitespace': {
    yaml: y(V, 'vlans:', '  averyverylongvlan: { parent: "eth 0", id: 5 }'),
    expect: [
      { at: 't.yaml:3:3', path: 'vlans.averyverylongvlan', contains: "is 17 bytes, longer than the kernel's 15" },
      { at: 't.yaml:3:32', path: 'vlans.averyverylongvlan.parent', contains: 'contains " "' },
    ],
  },
  'endpoint and network names outside [A-Za-z0-9_.-]': {
    yaml: y(V, 'networks:', '  "net 1": { driver: macvlan, parent: eth0 }', 'endpoints:', '  web@1: { network: "net 1", netns: w }'),
    expect: [
      { at: 't.yaml:3:3', path: 'networks.net 1', contains: 'network name "net 1" must match [A-Za-z0-9_.-]+' },
      { at: 't.yaml:5:3', path: 'endpoints.web@1', contains: 'endpoint name "web@1" must match' },
    ],
  },
  'endpoint name whose owner mark does not fit in an alias': {
    yaml: y(V, ...NET, 'endpoints:', `  ${'e'.repeat(240)}: { network: n1, netns: x }`),
    expect: [{ at: 't.yaml:9:3', path: `endpoints.${'e'.repeat(240)}`, contains: 'would be 270 bytes, the kernel keeps 255' }],
  },
  'netns with a slash, netns ..': {
    yaml: y(V, ...NET, 'endpoints:', '  e1: { network: n1, netns: a/b }', '  ..: { network: n1, ifname: eth1 }'),
    expect: [
      { at: 't.yaml:9:29', path: 'endpoints.e1.netns', contains: 'namespace name "a/b" contains "/"' },
      {
        at: 't.yaml:10:3',
        path: 'endpoints...',
        contains: 'namespace name ".." is not allowed (. and .. are reserved) (the namespace defaults to the endpoint\'s name; set netns)',
      },
    ],
  },
  'netns name longer than 255 bytes': {
    yaml: y(V, ...NET, 'endpoints:', `  e1: { network: n1, netns: ${'n'.repeat(256)} }`),
    expect: [{ at: 't.yaml:9:29', path: 'endpoints.e1.netns', contains: 'namespace name is 256 bytes, longer than 255' }],
  },
  'parent lo': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: lo }'),
    expect: [{ at: 't.yaml:3:33', path: 'networks.n1.parent', contains: 'parent "lo" is the loopback' }],
  },
  'VLAN id outside 1–4094': {
    yaml: y(V, 'vlans:', '  v1: { parent: eth0, id: 4095 }', '  v2: { parent: eth0, id: 0 }'),
    expect: [
      { at: 't.yaml:3:27', path: 'vlans.v1.id', contains: 'VLAN id 4095 is outside 1–4094' },
      { at: 't.yaml:4:27', path: 'vlans.v2.id', contains: 'VLAN id 0 is outside 1–4094' },
    ],
  },
  'NAME.VID parent whose suffix is not a VLAN id': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0.5000 }', '  n2: { driver: macvlan, parent: eth1.0 }'),
    expect: [
      { at: 't.yaml:3:34', path: 'networks.n1.parent', contains: 'parent "eth0.5000" names VLAN 5000, outside 1–4094' },
      { at: 't.yaml:4:34', path: 'networks.n2.parent', contains: 'parent "eth1.0" names VLAN 0, outside 1–4094' },
    ],
  },
  'vlans entry named X.N with another id': {
    yaml: y(V, 'vlans:', '  eth0.50: { parent: eth0, id: 51 }'),
    expect: [{ at: 't.yaml:3:32', path: 'vlans.eth0.50.id', contains: 'vlan "eth0.50" is named for VLAN 50 but has id 51' }],
  },
  'the same parent and VLAN id under two names': {
    yaml: y(V, 'vlans:', '  a: { parent: eth0, id: 40 }', '  b: { parent: eth0, id: 40 }'),
    expect: [{ at: 't.yaml:4:26', path: 'vlans.b.id', contains: 'VLAN 40 on "eth0" is already "a" (t.yaml:3:3)' }],
  },
  'an implied vlan that repeats an explicit one': {
    yaml: y(V, 'vlans:', '  foo: { parent: eth0, id: 40 }', 'networks:', '  n1: { driver: macvlan, parent: eth0.40 }'),
    expect: [{ at: 't.yaml:3:28', path: 'vlans.foo.id', contains: 'VLAN 40 on "eth0" is already "eth0.40" (t.yaml:5:34)' }],
  },
  'mode not valid for the driver': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, mode: l2 }', '  n2: { driver: ipvlan, parent: eth1, mode: passthru }'),
    expect: [
      {
        at: 't.yaml:3:46',
        path: 'networks.n1.mode',
        contains: 'mode "l2" is not a macvlan mode: expected one of bridge, private, vepa, passthru',
      },
      { at: 't.yaml:4:45', path: 'networks.n2.mode', contains: 'mode "passthru" is not an ipvlan mode: expected one of l2, l3, l3s' },
    ],
  },
  'mode and flag that are no mode or flag': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0, mode: brigde, flag: nope }'),
    expect: [
      {
        at: 't.yaml:3:45',
        path: 'networks.n1.mode',
        contains: 'expected a mode (bridge, private, vepa, passthru, l2, l3, l3s), got "brigde"',
      },
      { at: 't.yaml:3:59', path: 'networks.n1.flag', contains: 'expected a flag (bridge, private, vepa), got "nope"' },
    ],
  },
  'passthru with two endpoints on the parent': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: macvlan, parent: eth0, mode: passthru }',
      'endpoints:',
      '  e1: { network: n1 }',
      '  e2: { network: n1 }',
    ),
    expect: [
      {
        at: 't.yaml:6:3',
        path: 'endpoints.e2',
        contains: 'passthru network "n1", which allows 1 endpoint on it; 2 are configured (e1, e2)',
      },
    ],
  },
  'two drivers on one parent': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0 }', '  n2: { driver: ipvlan, parent: eth0 }'),
    expect: [
      { at: 't.yaml:4:17', path: 'networks.n2.driver', contains: 'driver ipvlan on parent "eth0", which network "n1" uses with macvlan' },
    ],
  },
  'ipvlan networks with different modes, or flags, on one parent': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: ipvlan, parent: eth0, mode: l3 }',
      '  n2: { driver: ipvlan, parent: eth0 }',
      '  n3: { driver: ipvlan, parent: eth1 }',
      '  n4: { driver: ipvlan, parent: eth1, flag: vepa }',
    ),
    expect: [
      { at: 't.yaml:4:3', path: 'networks.n2.mode', contains: 'ipvlan mode l2 on parent "eth0", which network "n1" uses in mode l3' },
      {
        at: 't.yaml:6:45',
        path: 'networks.n4.flag',
        contains: 'ipvlan flag vepa on parent "eth1", which network "n3" uses with flag bridge',
      },
    ],
  },
  'internal with a parent': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0, internal: true }'),
    expect: [
      {
        at: 't.yaml:3:49',
        path: 'networks.n1.internal',
        contains: 'internal: true isolates the network on its own dummy link, so it cannot have parent "eth0"',
      },
    ],
  },
  'invalid CIDRs': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: macvlan',
      '    parent: eth0',
      '    subnets:',
      '      - subnet: 192.168.50.0/33',
      '      - subnet: banana',
      '      - subnet: 10.1.0.0',
    ),
    expect: [
      { at: 't.yaml:7:17', path: 'networks.n1.subnets[0].subnet', contains: '"192.168.50.0/33" is not a valid IPv4 CIDR' },
      { at: 't.yaml:8:17', path: 'networks.n1.subnets[1].subnet', contains: '"banana" is not a CIDR' },
      { at: 't.yaml:9:17', path: 'networks.n1.subnets[2].subnet', contains: '"10.1.0.0" is not a CIDR: expected ADDRESS/PREFIX' },
    ],
  },
  'host bits set': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: macvlan',
      '    parent: eth0',
      '    subnets:',
      '      - subnet: 192.168.50.1/24',
      '      - subnet: 2001:db8:50::1/64',
    ),
    expect: [
      {
        at: 't.yaml:7:17',
        path: 'networks.n1.subnets[0].subnet',
        contains: 'has host bits set: did you mean 192.168.50.0/24 (the network), or the address 192.168.50.1 in it?',
      },
      { at: 't.yaml:8:17', path: 'networks.n1.subnets[1].subnet', contains: 'did you mean 2001:db8:50::/64' },
    ],
  },
  'gateway and ip_range outside the subnet': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: macvlan',
      '    parent: eth0',
      '    subnets:',
      '      - subnet: 10.0.0.0/24',
      '        gateway: 10.0.1.1',
      '        ip_range: 10.0.0.0/23',
      '      - subnet: 2001:db8::/64',
      '        gateway: 2001:db9::1',
    ),
    expect: [
      { at: 't.yaml:8:18', path: 'networks.n1.subnets[0].gateway', contains: 'gateway "10.0.1.1" is outside subnet 10.0.0.0/24' },
      { at: 't.yaml:9:19', path: 'networks.n1.subnets[0].ip_range', contains: 'ip_range 10.0.0.0/23 is outside subnet 10.0.0.0/24' },
      {
        at: 't.yaml:11:18',
        path: 'networks.n1.subnets[1].gateway',
        contains: 'outside subnet 2001:db8::/64 (an IPv6 gateway may also be link-local, fe80::/10)',
      },
    ],
  },
  'static addresses outside the subnet, or not an address of the family': {
    yaml: y(V, ...NET, 'endpoints:', '  e1: { network: n1, ipv4: 10.0.1.5 }', '  e2: { network: n1, ipv4: 2001:db8::5 }'),
    expect: [
      {
        at: 't.yaml:9:28',
        path: 'endpoints.e1.ipv4',
        contains: 'ipv4 "10.0.1.5" is outside the IPv4 subnets of network "n1" (10.0.0.0/24)',
      },
      { at: 't.yaml:10:28', path: 'endpoints.e2.ipv4', contains: '"2001:db8::5" is not an IPv4 address' },
    ],
  },
  'static address equal to the network, broadcast or gateway address': {
    yaml: y(
      V,
      ...NET,
      'endpoints:',
      '  e1: { network: n1, ipv4: 10.0.0.0 }',
      '  e2: { network: n1, ipv4: 10.0.0.255 }',
      '  e3: { network: n1, ipv4: 10.0.0.1 }',
    ),
    expect: [
      { at: 't.yaml:9:28', path: 'endpoints.e1.ipv4', contains: 'ipv4 "10.0.0.0" is the network address of 10.0.0.0/24' },
      { at: 't.yaml:10:28', path: 'endpoints.e2.ipv4', contains: 'ipv4 "10.0.0.255" is the broadcast address of 10.0.0.0/24' },
      { at: 't.yaml:11:28', path: 'endpoints.e3.ipv4', contains: 'ipv4 "10.0.0.1" is the gateway of 10.0.0.0/24' },
    ],
  },
  'duplicate static addresses within a network and across a shared parent': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: ipvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24 }, { subnet: "2001:db8::/64" }] }',
      '  n2: { driver: ipvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/25 }] }',
      'endpoints:',
      '  e1: { network: n1, ipv4: 10.0.0.5, ipv6: "2001:db8::5" }',
      '  e2: { network: n1, ipv6: "2001:db8:0::5" }',
      '  e3: { network: n2, ipv4: 10.0.0.5 }',
    ),
    expect: [
      {
        at: 't.yaml:4:59',
        path: 'networks.n2.subnets[0].subnet',
        contains: 'subnet 10.0.0.0/25 overlaps 10.0.0.0/24 of network "n1" on the same parent "eth0"',
      },
      {
        at: 't.yaml:7:28',
        path: 'endpoints.e2.ipv6',
        contains: 'ipv6 "2001:db8:0::5" is already endpoint "e1"\'s, on the same parent "eth0"',
      },
      { at: 't.yaml:8:28', path: 'endpoints.e3.ipv4', contains: 'ipv4 "10.0.0.5" is already endpoint "e1"\'s' },
    ],
  },
  'overlapping subnets within one network': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/16 }, { subnet: 10.0.3.0/24 }] }'),
    expect: [
      { at: 't.yaml:3:85', path: 'networks.n1.subnets[1].subnet', contains: 'subnet 10.0.3.0/24 overlaps 10.0.0.0/16 of the same network' },
    ],
  },
  'a static address of a family the network has no subnet of': {
    yaml: y(V, ...NET, 'endpoints:', '  e1: { network: n1, ipv6: "2001:db8::5" }'),
    expect: [
      { at: 't.yaml:9:28', path: 'endpoints.e1.ipv6', contains: 'network "n1" has no IPv6 subnet, so ipv6 "2001:db8::5" cannot be given' },
    ],
  },
  'an endpoint of an unknown network': {
    yaml: y(V, ...NET, 'endpoints:', '  e1: { network: n2 }'),
    expect: [{ at: 't.yaml:9:18', path: 'endpoints.e1.network', contains: 'network "n2" is not defined; networks: n1' }],
  },
  'two endpoints with the same netns and ifname': {
    yaml: y(V, ...NET, 'endpoints:', '  e1: { network: n1, netns: web }', '  e2: { network: n1, netns: web }'),
    expect: [
      { at: 't.yaml:10:3', path: 'endpoints.e2', contains: 'interface "eth0" in namespace "web" is already endpoint "e1"\'s (t.yaml:9:3)' },
      { at: 't.yaml:10:3', path: 'endpoints.e2', contains: 'namespace "web" already gets its IPv4 default route from endpoint "e1"' },
    ],
  },
  'two IPv4 default routes in one netns': {
    yaml: y(
      V,
      ...NET,
      '  n2: { driver: macvlan, parent: eth1, subnets: [{ subnet: 10.1.0.0/24 }] }',
      'endpoints:',
      '  e1: { network: n1, netns: web }',
      '  e2: { network: n2, netns: web, ifname: eth1, default_route: true }',
    ),
    expect: [
      {
        at: 't.yaml:11:63',
        path: 'endpoints.e2.default_route',
        contains: 'namespace "web" already gets its IPv4 default route from endpoint "e1"; set default_route: false on one of them',
      },
    ],
  },
  'default_route in netns host, and on an internal network': {
    yaml: y(
      V,
      ...NET,
      '  n2: { driver: ipvlan, subnets: [{ subnet: 10.1.0.0/24 }] }',
      'endpoints:',
      '  e1: { network: n1, netns: host, ifname: mv0, default_route: true }',
      '  e2: { network: n2, default_route: true }',
    ),
    expect: [
      {
        at: 't.yaml:10:63',
        path: 'endpoints.e1.default_route',
        contains: "would replace the host's default route, which vlannet never touches",
      },
      { at: 't.yaml:11:37', path: 'endpoints.e2.default_route', contains: 'on internal network "n2", which is isolated and leads nowhere' },
    ],
  },
  "link names taken twice in vlannet's namespace": {
    yaml: y(
      V,
      'vlans:',
      '  vn-n2: { parent: eth0, id: 7 }',
      ...NET.slice(0, 4),
      '  n2: { driver: ipvlan }',
      'endpoints:',
      '  e1: { network: n1, netns: host, ifname: eth0 }',
    ),
    expect: [
      { at: 't.yaml:8:3', path: 'networks.n2', contains: 'link name "vn-n2" (the dummy link of network "n2") is already vlan "vn-n2"' },
      {
        at: 't.yaml:10:43',
        path: 'endpoints.e1.ifname',
        contains: 'link name "eth0" (endpoint "e1" in netns host) is already the parent of network "n1"',
      },
    ],
  },
  'MTU outside 68–65535': {
    yaml: y(V, 'vlans:', '  v1: { parent: eth0, id: 5, mtu: 67 }', 'networks:', '  n1: { driver: macvlan, parent: eth0, mtu: 65536 }'),
    expect: [
      { at: 't.yaml:3:35', path: 'vlans.v1.mtu', contains: 'MTU 67 is outside 68–65535' },
      { at: 't.yaml:5:45', path: 'networks.n1.mtu', contains: 'MTU 65536 is outside 68–65535' },
    ],
  },
  "network MTU larger than its vlan's": {
    yaml: y(V, 'vlans:', '  v1: { parent: eth0, id: 5, mtu: 1400 }', 'networks:', '  n1: { driver: macvlan, parent: v1, mtu: 1500 }'),
    expect: [
      {
        at: 't.yaml:5:43',
        path: 'networks.n1.mtu',
        contains: 'MTU 1500 is larger than the MTU 1400 of its parent vlan "v1" (t.yaml:3:3); the kernel refuses (EINVAL)',
      },
    ],
  },
  'multicast, all-zero, malformed and duplicate MACs': {
    yaml: y(
      V,
      ...NET,
      'endpoints:',
      '  e1: { network: n1, mac: "01:00:5e:00:00:01" }',
      '  e2: { network: n1, mac: "00:00:00:00:00:00" }',
      '  e3: { network: n1, mac: "02:00:00:00:00:0A" }',
      '  e4: { network: n1, mac: "02:00:00:00:00:0a" }',
      '  e5: { network: n1, mac: "02:00:00:00:00" }',
    ),
    expect: [
      { at: 't.yaml:9:27', path: 'endpoints.e1.mac', contains: 'mac "01:00:5e:00:00:01" is a multicast address' },
      { at: 't.yaml:10:27', path: 'endpoints.e2.mac', contains: 'mac "00:00:00:00:00:00" is all zeroes' },
      {
        at: 't.yaml:12:27',
        path: 'endpoints.e4.mac',
        contains: 'mac "02:00:00:00:00:0a" is already endpoint "e3"\'s, on the same parent "eth0"',
      },
      { at: 't.yaml:13:27', path: 'endpoints.e5.mac', contains: 'expected a MAC address like 02:00:00:00:50:10, got "02:00:00:00:00"' },
    ],
  },
  'version missing': {
    yaml: y('networks:', '  n1: { driver: macvlan, parent: eth0 }'),
    expect: [
      {
        at: 't.yaml:1:1',
        path: 'version',
        contains: 'version is required (it must be present, so that an empty or truncated file is never read as "own nothing")',
      },
    ],
  },
  'version not 1': {
    yaml: y('version: 2'),
    expect: [{ at: 't.yaml:1:10', path: 'version', contains: 'expected version: 1, got 2' }],
  },
  'a required key missing': {
    yaml: y(V, 'networks:', '  n1:', '    parent: eth0'),
    expect: [{ at: 't.yaml:3:3', path: 'networks.n1.driver', contains: 'driver is required' }],
  },
  'a YAML syntax error and a duplicate key, with schema errors in the same pass': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0 }', '  n1: { driver: ipvlan }', 'endpoints:', '  e1: { network: [n1 }'),
    expect: [
      {
        at: 't.yaml:4:3',
        path: 'networks.n1',
        contains: 'duplicate key "n1" (already at line 3, column 3): the keys of a map must be unique',
      },
      { at: 't.yaml:6:22', path: '', contains: 'Flow sequence in block collection must be sufficiently indented and end with a ]' },
      { at: 't.yaml:6:23', path: '', contains: 'Flow map in block collection must be sufficiently indented and end with a }' },
      { at: 't.yaml:6:18', path: 'endpoints.e1.network', contains: 'expected a network name (a string), got a list' },
    ],
  },
  'gateway in ipvlan l3 mode is a warning: no next hop, only reserved': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: ipvlan',
      '    parent: eth0',
      '    mode: l3',
      '    subnets:',
      '      - subnet: 10.0.0.0/24',
      '        gateway: 10.0.0.1',
    ),
    expect: [
      {
        at: 't.yaml:9:18',
        path: 'networks.n1.subnets[0].gateway',
        contains:
          'gateway "10.0.0.1" is no route\'s next hop in l3 mode (the default route points at the interface); it is only reserved: no endpoint gets it automatically, as with Docker\'s IPAM',
        severity: 'warning',
      },
    ],
  },
  'gateway outside the subnet of an internal network, and on an l3s /31: ignored, with a warning saying what is reserved': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: macvlan',
      '    subnets:',
      '      - { subnet: 10.0.0.0/24, gateway: 10.0.1.1 }',
      '  n2:',
      '    driver: ipvlan',
      '    parent: eth0',
      '    mode: l3s',
      '    subnets:',
      '      - { subnet: 10.0.2.0/31, gateway: 10.0.2.1 }',
    ),
    expect: [
      {
        at: 't.yaml:6:41',
        path: 'networks.n1.subnets[0].gateway',
        contains:
          'gateway "10.0.1.1" is ignored on an internal network (no default route), and it is outside subnet 10.0.0.0/24; 10.0.0.1 is reserved as the gateway instead',
        severity: 'warning',
      },
      {
        at: 't.yaml:12:41',
        path: 'networks.n2.subnets[0].gateway',
        contains: 'gateway "10.0.2.1" is ignored in l3s mode (the default route points at the interface)',
        severity: 'warning',
      },
    ],
  },
  'aux addresses outside the subnet, of the other family, or no address': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: macvlan',
      '    parent: eth0',
      '    subnets:',
      '      - subnet: 10.0.0.0/24',
      '        aux_addresses:',
      '          router: 10.0.1.254',
      '          printer: 2001:db8::5',
      '          scanner: 10.0.0.300',
      '      - subnet: 2001:db8::/64',
      '        aux_addresses: { nas: 10.0.0.5, tv: "2001:db8::5/64" }',
    ),
    expect: [
      {
        at: 't.yaml:9:19',
        path: 'networks.n1.subnets[0].aux_addresses.router',
        contains: 'aux address "router" "10.0.1.254" is outside subnet 10.0.0.0/24',
      },
      {
        at: 't.yaml:10:20',
        path: 'networks.n1.subnets[0].aux_addresses.printer',
        contains: 'aux address "printer": "2001:db8::5" is not an IPv4 address',
      },
      {
        at: 't.yaml:11:20',
        path: 'networks.n1.subnets[0].aux_addresses.scanner',
        contains: 'aux address "scanner": "10.0.0.300" is not a valid IPv4 address',
      },
      {
        at: 't.yaml:13:31',
        path: 'networks.n1.subnets[1].aux_addresses.nas',
        contains: 'aux address "nas": "10.0.0.5" is not an IPv6 address',
      },
      { at: 't.yaml:13:45', path: 'networks.n1.subnets[1].aux_addresses.tv', contains: 'aux address "tv": "2001:db8::5/64" has a prefix' },
    ],
  },
  'aux addresses on the network, broadcast or gateway address, reserved or routed': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: macvlan',
      '    parent: eth0',
      '    subnets:',
      '      - subnet: 10.0.0.0/24',
      '        aux_addresses: { a: 10.0.0.0, b: 10.0.0.255, c: 10.0.0.1 }',
      '      - subnet: 2001:db8::/64',
      '        gateway: 2001:db8::fe',
      '        aux_addresses: { d: "2001:db8::", e: "2001:db8::fe", f: "2001:db8::1" }',
      '  n2:',
      '    driver: ipvlan',
      '    parent: eth1',
      '    mode: l3',
      '    subnets: [{ subnet: 10.1.0.0/24, aux_addresses: { g: 10.1.0.1 } }]',
    ),
    expect: [
      {
        at: 't.yaml:8:29',
        path: 'networks.n1.subnets[0].aux_addresses.a',
        contains: 'aux address "a" "10.0.0.0" is the network address of 10.0.0.0/24',
      },
      {
        at: 't.yaml:8:42',
        path: 'networks.n1.subnets[0].aux_addresses.b',
        contains: 'aux address "b" "10.0.0.255" is the broadcast address of 10.0.0.0/24',
      },
      {
        at: 't.yaml:8:57',
        path: 'networks.n1.subnets[0].aux_addresses.c',
        contains: 'aux address "c" "10.0.0.1" is the gateway of 10.0.0.0/24, which is reserved already: remove it',
      },
      {
        at: 't.yaml:11:29',
        path: 'networks.n1.subnets[1].aux_addresses.d',
        contains: 'aux address "d" "2001:db8::" is the network address of 2001:db8::/64',
      },
      {
        at: 't.yaml:11:46',
        path: 'networks.n1.subnets[1].aux_addresses.e',
        contains: 'aux address "e" "2001:db8::fe" is the gateway of 2001:db8::/64',
      },
      {
        at: 't.yaml:16:58',
        path: 'networks.n2.subnets[0].aux_addresses.g',
        contains:
          'aux address "g" "10.1.0.1" is the gateway of 10.1.0.0/24 (no route\'s next hop in l3 mode (the default route points at the interface), but reserved all the same), which is reserved already: remove it',
      },
    ],
  },
  'aux addresses given twice (however written), or with an empty name': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: macvlan',
      '    parent: eth0',
      '    subnets:',
      '      - subnet: "2001:db8::/64"',
      '        aux_addresses:',
      '          router: "2001:db8::fe"',
      '          printer: "2001:db8:0:0::fe"',
      '          "": "2001:db8::fd"',
    ),
    expect: [
      {
        at: 't.yaml:10:20',
        path: 'networks.n1.subnets[0].aux_addresses.printer',
        contains: 'aux address "printer" "2001:db8:0:0::fe" is already aux address "router" of 2001:db8::/64',
      },
      {
        at: 't.yaml:11:11',
        path: 'networks.n1.subnets[0].aux_addresses.',
        contains: 'aux address "2001:db8::fd" has an empty name: write NAME: ADDRESS, e.g. router: 2001:db8::fd',
      },
    ],
  },
  'aux_addresses that is not a map of addresses': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, aux_addresses: [10.0.0.5] }] }',
      '  n2: { driver: macvlan, parent: eth1, subnets: [{ subnet: 10.1.0.0/24, aux_addresses: { router: 5 } }] }',
    ),
    expect: [
      {
        at: 't.yaml:3:88',
        path: 'networks.n1.subnets[0].aux_addresses',
        contains: 'expected a map of names to addresses (router: 192.168.50.254), got a list',
      },
      { at: 't.yaml:4:98', path: 'networks.n2.subnets[0].aux_addresses.router', contains: 'expected an address (a string), got 5' },
    ],
  },
  'a static address on an aux address is an error at the endpoint': {
    yaml: y(
      V,
      'networks:',
      '  n1:',
      '    driver: macvlan',
      '    parent: eth0',
      '    subnets:',
      '      - subnet: 10.0.0.0/24',
      '        aux_addresses: { router: 10.0.0.254 }',
      'endpoints:',
      '  e1: { network: n1, ipv4: 10.0.0.254 }',
    ),
    expect: [
      {
        at: 't.yaml:10:28',
        path: 'endpoints.e1.ipv4',
        contains: 'ipv4 "10.0.0.254" is aux address "router" of 10.0.0.0/24 (t.yaml:8:34), which no endpoint may have',
      },
    ],
  },
  'a static address on the gateway an internal or l3 network reserves is accepted, with a warning': {
    yaml: y(
      V,
      'networks:',
      '  iso: { driver: ipvlan, subnets: [{ subnet: 10.0.0.0/24 }, { subnet: "2001:db8::/64" }] }',
      '  l3: { driver: ipvlan, parent: eth0, mode: l3, subnets: [{ subnet: 10.1.0.0/24, gateway: 10.1.0.9 }] }',
      'endpoints:',
      '  e1: { network: iso, ipv4: 10.0.0.1, ipv6: "2001:db8::1" }',
      '  e2: { network: l3, ipv4: 10.1.0.9 }',
    ),
    expect: [
      {
        at: 't.yaml:6:29',
        path: 'endpoints.e1.ipv4',
        contains:
          'ipv4 "10.0.0.1" is the gateway address 10.0.0.0/24 reserves, which Docker refuses for a container; accepted, since it is no route\'s next hop on an internal network (no default route)',
        severity: 'warning',
      },
      {
        at: 't.yaml:6:45',
        path: 'endpoints.e1.ipv6',
        contains: 'ipv6 "2001:db8::1" is the gateway address 2001:db8::/64 reserves',
        severity: 'warning',
      },
      { at: 't.yaml:4:91', path: 'networks.l3.subnets[0].gateway', contains: "is no route's next hop in l3 mode", severity: 'warning' },
      {
        at: 't.yaml:7:28',
        path: 'endpoints.e2.ipv4',
        contains:
          'ipv4 "10.1.0.9" is the gateway address 10.1.0.0/24 reserves, which Docker refuses for a container; accepted, since it is no route\'s next hop in l3 mode',
        severity: 'warning',
      },
    ],
  },
};

for (const [name, c] of Object.entries(cases)) {
  test(name, () => {
    const { config, diagnostics } = loadConfig(c.yaml, 't.yaml');
    const shown = diagnostics.map(formatDiagnostic).join('\n');
    for (const e of c.expect) {
      const found = diagnostics.find(
        (d) => d.at === e.at && d.path === e.path && d.message.includes(e.contains) && d.severity === (e.severity ?? 'error'),
      );
      assert.ok(found, `expected ${e.severity ?? 'error'} at ${e.at} ${e.path}: …${e.contains}…\ngot:\n${shown}`);
    }
    const errors = diagnostics.filter((d) => d.severity === 'error');
    assert.is(errors.length, c.expect.filter((e) => (e.severity ?? 'error') === 'error').length, `unexpected errors:\n${shown}`);
    assert.is(config === null, errors.length > 0, 'config is null exactly when there is an error');
  });
}

test('firstOverlapping gives, for each subnet, the first earlier related one that overlaps, as comparing every pair does', () => {
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let found = 0;
  for (let round = 0; round < 200; round++) {
    const networks = ['a', 'b', 'c'].map((name) => ({ name }));
    const list = Array.from({ length: 1 + rnd(12) }, (_, index) => {
      const prefix = 8 + rnd(17);
      const text = rnd(5) === 0 ? `2001:db8:${rnd(3)}::/${48 + rnd(3) * 8}` : `10.${rnd(3)}.${rnd(3)}.0/${prefix}`;
      const cidr = parseCidr(text).ok ?? parseCidr(`10.0.0.0/${prefix}`).ok!;
      return { network: networks[rnd(3)], index, cidr } as unknown as ParsedSubnet;
    });
    const related = (a: ParsedSubnet, b: ParsedSubnet) => a.network !== b.network;
    const fast = firstOverlapping(list, related);
    list.forEach((a, i) => {
      const naive = list
        .slice(0, i)
        .find(
          (b) =>
            related(a, b) && b.cidr.family === a.cidr.family && (a.cidr.net.isInSubnet(b.cidr.net) || b.cidr.net.isInSubnet(a.cidr.net)),
        );
      assert.is(
        fast.get(i),
        naive,
        `${list.map((s) => `${(s.network as unknown as { name: string }).name}:${s.cidr.text}`).join(' ')} at ${i}`,
      );
      if (naive) found++;
    });
  }
  assert.ok(found > 100, `${found} overlaps: too few to test anything`);
});

test.run();
