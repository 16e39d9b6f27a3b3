// host_access on a real kernel, by traffic: the host (this test's own namespace, where the parent
// holds the host's address, as eth0 does on a server) cannot reach its macvlan endpoints over the
// parent, and the plan says so; with host_access it reaches them, over IPv4 and IPv6, and they
// reach the host at the host-access address; the host's own route to the rest of the subnet keeps
// its parent; the daemon puts a deleted host-access link back; it goes with the option.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkKernel } from './support/expect.js';
import { ip, ipJson, ping, run } from './support/sh.js';
import { apply, plan, vlannet } from './support/vlannet.js';
import { startDaemon, until } from './support/daemon.js';
import { parseConfig, World } from './support/world.js';

const NET = (extra: string) => `version: 1
networks:
  lan:
    driver: macvlan
    parent: eth0
    subnets: [{ subnet: 192.168.80.0/24, gateway: 192.168.80.1 }, { subnet: "2001:db8:80::/64" }]
${extra}endpoints:
  ha-a: { network: lan }
  ha-b: { network: lan }
`;
const WITH = NET('    host_access: true\n');
const WITHOUT = NET('');

/** ping from this namespace (the host's, for this test). */
const hostPing = (address: string) => run('ping', [address.includes(':') ? '-6' : '-4', '-c1', '-W1', address]).status === 0;

test('without host_access the host cannot reach its endpoints, and plan says so; with it, both ways, IPv4 and IPv6', () => {
  const w = new World();
  try {
    w.veth('eth0', ['192.168.80.10/24', '2001:db8:80::10/64']);
    const without = w.config(WITHOUT);
    const r = vlannet('plan', '-f', without);
    assert.match(r.stderr, /the host cannot reach the endpoints of network lan: .*add host_access: true/);
    apply(without);
    assert.equal(checkKernel(parseConfig(WITHOUT)), []);
    assert.not.ok(hostPing('192.168.80.2'), 'the kernel passes nothing between a macvlan parent and its children');

    const file = w.config(WITH, 'with.yaml');
    const executed = apply(file).executed;
    assert.ok(
      executed.every((a) => a.object.startsWith('shim.lan')),
      `only the host access is added: ${executed.map((a) => a.object).join(', ')}`,
    );
    const link = ipJson<{ ifname: string; ifalias?: string; linkinfo?: { info_kind: string; info_data?: { mode?: string } } }>(
      '-d',
      'link',
      'show',
      'dev',
      'vh-lan',
    )[0]!;
    assert.is(link.ifalias, 'vlannet:shim/lan macvlan@eth0');
    assert.equal([link.linkinfo?.info_kind, link.linkinfo?.info_data?.mode], ['macvlan', 'bridge']);
    assert.match(ip('-4', 'addr', 'show', 'dev', 'vh-lan'), 'inet 192.168.80.254/32');
    // The host reaches both endpoints, over both families…
    for (const a of ['192.168.80.2', '192.168.80.3', '2001:db8:80::2', '2001:db8:80::3']) assert.ok(hostPing(a), `host → ${a}`);
    // …and they reach the host at its host-access address.
    assert.ok(ping('ha-a', '192.168.80.254'), 'ha-a → the host');
    assert.ok(ping('ha-b', '2001:db8:80:0:ffff:ffff:ffff:ffff'), 'ha-b → the host over IPv6');
    // The rest of the subnet is still reached over the parent, from the host's own address.
    assert.match(ip('route', 'get', '192.168.80.77'), /dev eth0 src 192\.168\.80\.10/);
    assert.match(ip('route', 'get', '192.168.80.2'), /dev vh-lan src 192\.168\.80\.254/);
    assert.equal(plan(file).changes, [], 'converged');

    // Without the option again: the link and its routes go; the endpoints stay.
    const back = apply(without).executed.map((a) => `${a.change} ${a.object}`);
    assert.equal(back, ['delete shim.lan']);
    assert.not.match(ip('link', 'show'), 'vh-lan');
    assert.not.match(ip('route', 'show'), 'vh-lan');
    assert.equal(checkKernel(parseConfig(WITHOUT)), []);
  } finally {
    w.cleanup();
  }
});

test('the daemon puts back a deleted host-access link, its address and its routes', async () => {
  const w = new World();
  w.veth('eth0', ['192.168.80.10/24']);
  const file = w.config(WITH);
  const d = startDaemon(file);
  try {
    await until('start', () => hostPing('192.168.80.2'), 20_000, d);
    const index = () => ipJson<{ ifindex: number }>('link', 'show').find((l) => (l as { ifname?: string }).ifname === 'vh-lan')?.ifindex;
    const before = index();
    const t = performance.now();
    ip('link', 'del', 'vh-lan');
    // The daemon may put it back before a ping could show the host cut off: a new ifindex proves it was gone.
    await until(
      'repaired',
      () => index() !== undefined && index() !== before && hostPing('192.168.80.2') && hostPing('192.168.80.3'),
      15_000,
      d,
    );
    console.log(`  host access: repaired in ${(performance.now() - t).toFixed(0)} ms`);
    assert.match(d.log(), /create shim\.lan: link add vh-lan link eth0 type macvlan mode bridge/);
    assert.is(await d.stop(), 0);
  } finally {
    await d.stop();
    w.cleanup();
  }
});

test.run();
