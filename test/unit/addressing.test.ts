import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocateAddresses } from '../../src/model/addressing.js';
import type { Config, Family, ObservedState } from '../../src/model/types.js';
import { address, config, endpoint, network, observed, ownedEndpoint, subnet, link } from '../fixtures/plan/build.js';

const got = (cfg: Config, obs: ObservedState = observed(), family: Family = 4) => {
  const r = allocateAddresses(cfg, obs);
  return Object.fromEntries([...r.byEndpoint].map(([name, a]) => [name, a[family] && `${a[family]!.address}/${a[family]!.prefixLength}`]));
};

test('lowest free address, skipping the network address and the gateway, endpoints in name order', () => {
  const cfg = config([network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })], [endpoint('b', 'n'), endpoint('a', 'n')]);
  assert.equal(got(cfg), { a: '10.0.0.2/24', b: '10.0.0.3/24' });
});

test('static addresses are skipped by automatic ones wherever they are', () => {
  const cfg = config(
    [network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })],
    [endpoint('a', 'n'), endpoint('z', 'n', { ipv4: '10.0.0.2' }), endpoint('b', 'n')],
  );
  assert.equal(got(cfg), { z: '10.0.0.2/24', a: '10.0.0.3/24', b: '10.0.0.4/24' });
});

test('an endpoint keeps the address it holds in the kernel; others do not renumber it', () => {
  const net = network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1')] });
  const obs = observed({
    links: [link('eth0'), ownedEndpoint('m', 'macvlan', 'eth0')],
    addresses: [address('m', 'eth0', '10.0.0.2/24')],
  });
  const cfg = config([net], [endpoint('a', 'n'), endpoint('m', 'n'), endpoint('b', 'n')]);
  assert.equal(got(cfg, obs), { m: '10.0.0.2/24', a: '10.0.0.3/24', b: '10.0.0.4/24' });
});

test('an address on a link vlannet does not own is not kept', () => {
  const net = network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1')] });
  const obs = observed({
    links: [link('eth0'), link('eth0', { netns: 'm', kind: 'macvlan', parent: 'eth0' })],
    addresses: [address('m', 'eth0', '10.0.0.9/24')],
  });
  assert.equal(got(config([net], [endpoint('m', 'n')]), obs), { m: '10.0.0.2/24' });
});

test('a kept address that a static address now claims is given up', () => {
  const net = network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1')] });
  const obs = observed({ links: [link('eth0'), ownedEndpoint('m', 'macvlan', 'eth0')], addresses: [address('m', 'eth0', '10.0.0.2/24')] });
  assert.equal(got(config([net], [endpoint('m', 'n'), endpoint('s', 'n', { ipv4: '10.0.0.2' })]), obs), {
    s: '10.0.0.2/24',
    m: '10.0.0.3/24',
  });
});

test('ip_range is the pool; the first subnet with a free address is used', () => {
  const net = network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1', '10.0.0.128/31'), subnet('10.0.1.0/24', '10.0.1.1')] });
  const cfg = config(
    [net],
    ['a', 'b', 'c'].map((n) => endpoint(n, 'n')),
  );
  assert.equal(got(cfg), { a: '10.0.0.128/24', b: '10.0.0.129/24', c: '10.0.1.2/24' });
});

test('/31 and /127 hand out both addresses; /30 only the two in the middle', () => {
  const p2p = config(
    [network('n', { subnets: [subnet('10.0.0.4/31'), subnet('2001:db8::/127')] })],
    [endpoint('a', 'n'), endpoint('b', 'n')],
  );
  assert.equal(got(p2p), { a: '10.0.0.4/31', b: '10.0.0.5/31' });
  assert.equal(got(p2p, observed(), 6), { a: '2001:db8::/127', b: '2001:db8::1/127' });
  const slash30 = config([network('n', { subnets: [subnet('10.0.0.0/30')] })], [endpoint('a', 'n'), endpoint('b', 'n')]);
  assert.equal(got(slash30), { a: '10.0.0.1/30', b: '10.0.0.2/30' });
});

test('IPv6: lowest free after the subnet-router address and the gateway', () => {
  const cfg = config(
    [network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1'), subnet('2001:db8:50::/64', '2001:db8:50::1')] })],
    [endpoint('a', 'n'), endpoint('b', 'n', { ipv6: '2001:db8:50::2' })],
  );
  assert.equal(got(cfg, observed(), 6), { b: '2001:db8:50::2/64', a: '2001:db8:50::3/64' });
});

test('an exhausted pool is an error naming the endpoint and the pool', () => {
  const cfg = config([network('n', { subnets: [subnet('10.0.0.0/30', '10.0.0.1')] })], [endpoint('a', 'n'), endpoint('b', 'n')]);
  const r = allocateAddresses(cfg, observed());
  assert.equal(r.diagnostics.length, 1);
  assert.is(r.diagnostics[0]!.path, 'subnets[10.0.0.0/30]');
  assert.match(r.diagnostics[0]!.message, /no free IPv4 address left for endpoint b in network n \(10.0.0.0\/30\)/);
});

test('static addresses outside the subnets, reserved or given twice are errors', () => {
  const cfg = config(
    [network('n', { subnets: [subnet('10.0.0.0/24', '10.0.0.1')] })],
    [
      endpoint('a', 'n', { ipv4: '10.9.0.5' }),
      endpoint('b', 'n', { ipv4: '10.0.0.1' }),
      endpoint('c', 'n', { ipv4: '10.0.0.7' }),
      endpoint('d', 'n', { ipv4: '10.0.0.7' }),
      endpoint('e', 'n', { ipv6: '2001:db8::5' }),
    ],
  );
  const messages = allocateAddresses(cfg, observed()).diagnostics.map((d) => `${d.path}: ${d.message}`);
  assert.equal(messages, [
    "endpoints.a.ipv4: 10.9.0.5 is in none of network n's subnets (10.0.0.0/24)",
    'endpoints.b.ipv4: 10.0.0.1 is the network, broadcast or gateway address of 10.0.0.0/24',
    'endpoints.d.ipv4: 10.0.0.7 is also given to endpoint c',
    'endpoints.e.ipv6: network n has no IPv6 subnet, so ipv6 2001:db8::5 cannot be given',
  ]);
});

test('1000 endpoints on a /16 take a few milliseconds and are deterministic', () => {
  const names = Array.from({ length: 1000 }, (_, i) => `ep${String(i).padStart(4, '0')}`);
  const cfg = config(
    [network('n', { subnets: [subnet('10.20.0.0/16', '10.20.0.1')] })],
    names.map((n) => endpoint(n, 'n')),
  );
  allocateAddresses(cfg, observed()); // warm up
  const t0 = performance.now();
  const r = allocateAddresses(cfg, observed());
  const ms = performance.now() - t0;
  assert.ok(ms < 50, `took ${ms.toFixed(1)} ms`);
  assert.is(r.byEndpoint.get('ep0000')![4]!.address, '10.20.0.2');
  assert.is(r.byEndpoint.get('ep0999')![4]!.address, '10.20.3.233');
  const reversed = config(cfg.networks, [...cfg.endpoints].reverse());
  assert.equal(got(reversed), got(cfg));
});

test.run();
