// Traffic between endpoints vlannet built, with ping in their namespaces: same network pings over
// IPv4 and IPv6 (macvlan bridge, ipvlan l2, ipvlan l3 across two subnets); different VLANs do not.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkKernel } from './support/expect.js';
import fs from 'node:fs';
import path from 'node:path';
import { ip, ipJson, ping } from './support/sh.js';
import { apply, REPO } from './support/vlannet.js';
import { parseConfig, World } from './support/world.js';

/** Two endpoints on one network with static addresses on one parent. */
function twoOnOneNetwork(network: string, ips: [string, string, string, string]): string {
  return `version: 1
networks:
  net:
${network}
endpoints:
  ping-a: { network: net, ipv4: ${ips[0]}, ipv6: "${ips[1]}" }
  ping-b: { network: net, ipv4: ${ips[2]}, ipv6: "${ips[3]}" }
`;
}

function pingsBothWays(text: string, a: [string, string], b: [string, string]): void {
  const w = new World();
  try {
    w.parentsFor(text);
    apply(w.config(text));
    assert.equal(checkKernel(parseConfig(text)), []);
    assert.ok(ping('ping-a', b[0]), `ping-a → ${b[0]}`);
    assert.ok(ping('ping-a', b[1]), `ping-a → ${b[1]}`);
    assert.ok(ping('ping-b', a[0]), `ping-b → ${a[0]}`);
    assert.ok(ping('ping-b', a[1]), `ping-b → ${a[1]}`);
  } finally {
    w.cleanup();
  }
}

test('macvlan bridge: two endpoints ping each other over IPv4 and IPv6', () => {
  const net = `    driver: macvlan
    parent: eth0
    subnets: [{ subnet: 192.168.1.0/24 }, { subnet: "2001:db8:1::/64" }]`;
  pingsBothWays(
    twoOnOneNetwork(net, ['192.168.1.10', '2001:db8:1::10', '192.168.1.11', '2001:db8:1::11']),
    ['192.168.1.10', '2001:db8:1::10'],
    ['192.168.1.11', '2001:db8:1::11'],
  );
});

test('ipvlan l2 on an 802.1q link vlannet creates: two endpoints ping over IPv4 and IPv6', () => {
  const net = `    driver: ipvlan
    parent: eth0.20
    subnets: [{ subnet: 192.168.20.0/24 }, { subnet: "2001:db8:20::/64" }]`;
  pingsBothWays(
    twoOnOneNetwork(net, ['192.168.20.10', '2001:db8:20::10', '192.168.20.11', '2001:db8:20::11']),
    ['192.168.20.10', '2001:db8:20::10'],
    ['192.168.20.11', '2001:db8:20::11'],
  );
});

test('ipvlan l3: endpoints in two different subnets route to each other (default dev), IPv4 and IPv6', () => {
  const net = `    driver: ipvlan
    parent: eth0
    mode: l3
    subnets:
      - { subnet: 192.168.110.0/24 }
      - { subnet: 192.168.112.0/24 }
      - { subnet: "2001:db8:110::/64" }
      - { subnet: "2001:db8:112::/64" }`;
  pingsBothWays(
    twoOnOneNetwork(net, ['192.168.110.10', '2001:db8:110::10', '192.168.112.10', '2001:db8:112::10']),
    ['192.168.110.10', '2001:db8:110::10'],
    ['192.168.112.10', '2001:db8:112::10'],
  );
});

test('an internal ipvlan l3 network (examples/internal-isolated.yaml): its subnets reach each other, nothing else', () => {
  const text = fs.readFileSync(path.join(REPO, 'examples/internal-isolated.yaml'), 'utf8');
  const w = new World();
  try {
    w.parentsFor(text);
    apply(w.config(text));
    assert.equal(checkKernel(parseConfig(text)), []);
    assert.ok(ping('ipnet210-c', '10.1.214.10'), '192.168.214.0/24 → 10.1.214.0/24');
    assert.ok(ping('ipnet210-b', '192.168.214.10'), '10.1.214.0/24 → 192.168.214.0/24');
    assert.ok(ping('ipnet210-a', '192.168.214.9'), 'same subnet');
    const routes = ipJson<{ dst: string }>('-n', 'ipnet210-a', 'route', 'show');
    assert.not.ok(
      routes.some((r) => r.dst === 'default'),
      'an internal network got a default route',
    );
  } finally {
    w.cleanup();
  }
});

test('endpoints on different VLANs do not reach each other; on the same VLAN they do', () => {
  const text = `version: 1
networks:
  vlan50:
    driver: macvlan
    parent: eth0.50
    subnets: [{ subnet: 192.168.50.0/24 }, { subnet: "2001:db8:50::/64" }]
  vlan60:
    driver: macvlan
    parent: eth0.60
    subnets: [{ subnet: 192.168.60.0/24 }, { subnet: "2001:db8:60::/64" }]
endpoints:
  iso-a: { network: vlan50, ipv4: 192.168.50.10, ipv6: "2001:db8:50::10" }
  iso-c: { network: vlan50, ipv4: 192.168.50.11, ipv6: "2001:db8:50::11" }
  iso-b: { network: vlan60, ipv4: 192.168.60.10, ipv6: "2001:db8:60::10" }
`;
  const w = new World();
  try {
    w.parentsFor(text);
    apply(w.config(text));
    assert.equal(checkKernel(parseConfig(text)), []);
    assert.ok(ping('iso-a', '192.168.50.11'), 'same VLAN, IPv4');
    assert.ok(ping('iso-a', '2001:db8:50::11'), 'same VLAN, IPv6');
    // Make iso-a and iso-b send straight onto their wires for each other's subnets (on-link, no
    // gateway), so a failure can only be the VLAN boundary, not a missing router.
    ip('-n', 'iso-a', 'route', 'add', '192.168.60.0/24', 'dev', 'eth0');
    ip('-n', 'iso-a', '-6', 'route', 'add', '2001:db8:60::/64', 'dev', 'eth0');
    ip('-n', 'iso-b', 'route', 'add', '192.168.50.0/24', 'dev', 'eth0');
    ip('-n', 'iso-b', '-6', 'route', 'add', '2001:db8:50::/64', 'dev', 'eth0');
    assert.not.ok(ping('iso-a', '192.168.60.10'), 'VLAN 50 reached VLAN 60 over IPv4');
    assert.not.ok(ping('iso-a', '2001:db8:60::10'), 'VLAN 50 reached VLAN 60 over IPv6');
  } finally {
    w.cleanup();
  }
});

test.run();
