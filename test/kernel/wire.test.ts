// What only a real wire shows: frames that leave the machine. vlannet builds its networks on
// wire0; a peer on the far end (wire1, in its own namespace) is the rest of the LAN. Checked as
// Docker's driver documentation describes them:
//   - an 802.1q sub-interface carries its VLAN id on the wire, and only a VLAN of that id answers;
//   - macvlan bridge, private and vepa endpoints reach the peer; the parent does not reach its own
//     macvlans; bridge endpoints reach each other, private ones never, vepa ones only through a
//     switch that sends frames back (hairpin);
//   - ipvlan l2 endpoints reach the peer and each other, all with the parent's MAC address;
//   - ipvlan l3 endpoints are reachable from the far side once the upstream routes vlannet prints
//     are installed there, and not before;
//   - unplugging the wire stops the traffic, plugging it back restores it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { link } from './support/expect.js';
import { NEAR, Peer, isolatedFrom, reaches } from './support/wire.js';
import { apply, plan } from './support/vlannet.js';
import { World } from './support/world.js';

/** Run `body` with a World and a Peer, and leave the wire as it was whatever happens. */
async function onTheWire(body: (w: World, peer: Peer) => void | Promise<void>): Promise<void> {
  const w = new World();
  let peer: Peer | null = null;
  try {
    peer = new Peer();
    await body(w, peer);
  } finally {
    w.cleanup();
    peer?.close();
  }
}

test('802.1q: a VLAN sub-interface vlannet creates tags its frames on the wire; only the same VLAN id answers', () =>
  onTheWire(async (w, peer) => {
    // The peer has 192.168.10.1 on VLAN 10, and 192.168.20.1 on VLAN 30: not on VLAN 20.
    peer.vlan(10, '192.168.10.1/24').vlan(30, '192.168.20.1/24');
    apply(
      w.config(`version: 1
networks:
  v10: { driver: macvlan, parent: ${NEAR}.10, subnets: [{ subnet: 192.168.10.0/24 }] }
  v20: { driver: macvlan, parent: ${NEAR}.20, subnets: [{ subnet: 192.168.20.0/24 }] }
endpoints:
  tag10: { network: v10, ipv4: 192.168.10.2 }
  tag20: { network: v20, ipv4: 192.168.20.2 }
`),
    );
    assert.is(link(`${NEAR}.10`)?.linkinfo?.info_data?.id, 10, 'vlannet created wire0.10 on demand');

    let reached10 = false;
    let reached20 = true;
    const frames = await peer.capture(() => {
      reached10 = reaches('tag10', '192.168.10.1');
      reached20 = !isolatedFrom('tag20', '192.168.20.1');
    });
    assert.ok(reached10, 'the VLAN 10 endpoint reaches the peer on VLAN 10');
    assert.not.ok(reached20, 'the VLAN 20 endpoint does not reach the peer address that sits on VLAN 30');

    const from = (ip: string) => frames.filter((f) => f.includes(`tell ${ip}`) || f.includes(`${ip} > `));
    assert.ok(from('192.168.10.2').length > 0, `frames from the VLAN 10 endpoint crossed the wire:\n${frames.join('\n')}`);
    assert.ok(
      from('192.168.10.2').every((f) => /ethertype 802\.1Q \(0x8100\).*vlan 10,/.test(f)),
      `each carries tag 10:\n${from('192.168.10.2').join('\n')}`,
    );
    assert.ok(from('192.168.20.2').length > 0, 'frames from the VLAN 20 endpoint crossed the wire too');
    assert.ok(
      from('192.168.20.2').every((f) => /vlan 20,/.test(f)),
      `each carries tag 20:\n${from('192.168.20.2').join('\n')}`,
    );
    assert.ok(
      frames.every((f) => !/vlan 20,.*192\.168\.20\.1 > /.test(f)),
      'nothing answered on VLAN 20',
    );

    // And the default route goes through the gateway on the far side: an address only the peer has.
    peer.ip('addr', 'add', '10.99.0.1/32', 'dev', 'lo');
    assert.ok(reaches('tag10', '10.99.0.1'), 'beyond the gateway (the peer), through the default route');
  }));

test('macvlan bridge, private, vepa: each reaches the peer; endpoints reach each other only as their mode says', () =>
  onTheWire((w, peer) => {
    peer.bridge().address('192.168.31.1/24', '192.168.32.1/24', '192.168.33.1/24');
    peer.near('192.168.31.254/24');
    apply(
      w.config(`version: 1
networks:
  mbridge: { driver: macvlan, mode: bridge, parent: ${NEAR}, subnets: [{ subnet: 192.168.31.0/24 }] }
  mprivate: { driver: macvlan, mode: private, parent: ${NEAR}, subnets: [{ subnet: 192.168.32.0/24 }] }
  mvepa: { driver: macvlan, mode: vepa, parent: ${NEAR}, subnets: [{ subnet: 192.168.33.0/24 }] }
endpoints:
  bridge-a: { network: mbridge, ipv4: 192.168.31.10 }
  bridge-b: { network: mbridge, ipv4: 192.168.31.11 }
  private-a: { network: mprivate, ipv4: 192.168.32.10 }
  private-b: { network: mprivate, ipv4: 192.168.32.11 }
  vepa-a: { network: mvepa, ipv4: 192.168.33.10 }
  vepa-b: { network: mvepa, ipv4: 192.168.33.11 }
`),
    );
    for (const [ep, gw] of [
      ['bridge-a', '192.168.31.1'],
      ['private-a', '192.168.32.1'],
      ['vepa-a', '192.168.33.1'],
    ] as const) {
      assert.ok(reaches(ep, gw), `${ep} reaches the peer ${gw}`);
    }
    assert.ok(reaches('bridge-a', '192.168.31.11'), 'bridge: endpoints reach each other inside the machine');
    assert.ok(isolatedFrom('private-a', '192.168.32.11'), 'private: endpoints never reach each other');
    assert.ok(isolatedFrom('vepa-a', '192.168.33.11'), 'vepa: not without a switch that sends frames back');
    assert.ok(reaches(peer.netns, '192.168.31.254'), "the peer reaches the parent's own address");
    assert.ok(isolatedFrom('bridge-a', '192.168.31.254'), 'the parent does not reach its own macvlan endpoints (nor they it)');

    peer.hairpin(true);
    assert.ok(reaches('vepa-a', '192.168.33.11'), 'vepa: endpoints reach each other through the hairpin switch');
    assert.ok(isolatedFrom('private-a', '192.168.32.11'), 'private: not even through a hairpin switch');
  }));

test("ipvlan l2: endpoints reach the peer and each other, and the peer sees them all at the parent's MAC address", () =>
  onTheWire((w, peer) => {
    peer.address('192.168.41.1/24', '2001:db8:41::1/64');
    apply(
      w.config(`version: 1
networks:
  il2: { driver: ipvlan, parent: ${NEAR}, subnets: [{ subnet: 192.168.41.0/24 }, { subnet: "2001:db8:41::/64" }] }
endpoints:
  l2-a: { network: il2, ipv4: 192.168.41.10, ipv6: "2001:db8:41::10" }
  l2-b: { network: il2, ipv4: 192.168.41.11, ipv6: "2001:db8:41::11" }
`),
    );
    for (const ep of ['l2-a', 'l2-b']) {
      assert.ok(reaches(ep, '192.168.41.1'), `${ep} reaches the peer over IPv4`);
      assert.ok(reaches(ep, '2001:db8:41::1'), `${ep} reaches the peer over IPv6`);
    }
    assert.ok(reaches('l2-a', '192.168.41.11'), 'the endpoints reach each other');
    const mac = link(NEAR)!.address.toLowerCase();
    const seen = peer.neighbours();
    assert.is(seen.get('192.168.41.10'), mac, "the peer knows l2-a by the parent's MAC");
    assert.is(seen.get('192.168.41.11'), mac, 'and l2-b by the same MAC');
  }));

test('ipvlan l3: reachable from the far side once the upstream routes vlannet prints are installed there', () =>
  onTheWire((w, peer) => {
    peer.address('192.168.42.1/24');
    peer.near('192.168.42.10/24');
    const file = w.config(`version: 1
networks:
  il3:
    driver: ipvlan
    mode: l3
    parent: ${NEAR}
    subnets: [{ subnet: 10.42.1.0/24 }, { subnet: 10.42.2.0/24 }]
endpoints:
  l3-a: { network: il3, ipv4: 10.42.1.10 }
  l3-b: { network: il3, ipv4: 10.42.2.10 }
`);
    const upstream = plan(file).upstream_routes;
    assert.equal(
      upstream,
      [
        { network: 'il3', subnet: '10.42.1.0/24', via: '192.168.42.10', parent: NEAR },
        { network: 'il3', subnet: '10.42.2.0/24', via: '192.168.42.10', parent: NEAR },
      ],
      "plan names the routes the far side needs: each subnet via this host's address on the parent",
    );
    apply(file);
    assert.ok(isolatedFrom(peer.netns, '10.42.1.10'), 'without them, the far side cannot reach the endpoints');
    for (const r of upstream) peer.route(r.subnet, 'via', r.via!);
    assert.ok(reaches(peer.netns, '10.42.1.10'), 'with them, the far side reaches l3-a');
    assert.ok(reaches(peer.netns, '10.42.2.10'), 'and l3-b');
    assert.ok(reaches('l3-a', '192.168.42.1'), "l3-a reaches the far side through the parent's routing");
  }));

test('unplugging the wire stops the traffic; plugging it back restores it', () =>
  onTheWire((w, peer) => {
    peer.address('192.168.50.1/24');
    apply(
      w.config(`version: 1
networks:
  lan: { driver: macvlan, parent: ${NEAR}, subnets: [{ subnet: 192.168.50.0/24 }] }
endpoints:
  plug: { network: lan, ipv4: 192.168.50.10 }
`),
    );
    assert.ok(reaches('plug', '192.168.50.1'), 'plugged in: the peer answers');
    peer.plugged(false);
    assert.ok(isolatedFrom('plug', '192.168.50.1'), 'unplugged: nothing comes back');
    peer.plugged(true);
    assert.ok(reaches('plug', '192.168.50.1', 10), 'plugged back: the peer answers again');
  }));

test.run();
