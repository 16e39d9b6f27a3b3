import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config/load.js';
import { formatDiagnostic } from '../../src/errors.js';
import { allocateAddresses } from '../../src/model/addressing.js';
import { resolveDesired } from '../../src/model/desired.js';
import type { Config, Family, ObservedState } from '../../src/model/types.js';
import { makePlan } from '../../src/plan/plan.js';
import { address, config, endpoint, link, namespacesOf, network, observed, ownedEndpoint, subnet } from '../fixtures/plan/build.js';
import { MemoryKernel } from '../support/memory-kernel.js';

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

test('/31 and /127 hand out both addresses; /30 only the one between the gateway and the broadcast address', () => {
  const p2p = config(
    [network('n', { subnets: [subnet('10.0.0.4/31'), subnet('2001:db8::/127')] })],
    [endpoint('a', 'n'), endpoint('b', 'n')],
  );
  assert.equal(got(p2p), { a: '10.0.0.4/31', b: '10.0.0.5/31' });
  assert.equal(got(p2p, observed(), 6), { a: '2001:db8::/127', b: '2001:db8::1/127' });
  const slash30 = config([network('n', { subnets: [subnet('10.0.0.0/30')] })], [endpoint('a', 'n')]);
  assert.equal(got(slash30), { a: '10.0.0.2/30' });
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

// --- Docker's IPAM: a gateway reserved on every subnet, aux addresses ------------------------------

/** A config from YAML, through the loader (normalise resolves the reserved gateway and aux addresses); it must load. */
function load(...lines: string[]): Config {
  const { config, diagnostics } = loadConfig(`${['version: 1', ...lines].join('\n')}\n`, 't.yaml');
  assert.ok(config, diagnostics.map(formatDiagnostic).join('\n'));
  return config!;
}

/** Network n as written (a flow map), and endpoints a, b, c… on it with automatic addresses. */
const on = (n: string, count = 2) =>
  load('networks:', `  n: ${n}`, 'endpoints:', ...['a', 'b', 'c', 'd'].slice(0, count).map((e) => `  ${e}: { network: n }`));

/** What each endpoint gets in each family, and the errors (exhausted pools), from an empty kernel. */
function allocated(cfg: Config) {
  const r = allocateAddresses(cfg, observed());
  const of = (family: Family) => Object.fromEntries([...r.byEndpoint].flatMap(([e, a]) => (a[family] ? [[e, a[family]!.address]] : [])));
  return { v4: of(4), v6: of(6), errors: r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message) };
}

const DUAL = 'subnets: [{ subnet: 192.168.10.0/24 }, { subnet: "2001:db8:10::/64" }]';

const TABLE: Record<string, { network: string; count?: number; v4?: object; v6?: object; errors?: string[] }> = {
  // Measured on Docker: a parentless ipvlan network's first two containers get .2 and .3.
  'internal (no parent) ipvlan: .2 first, as Docker': {
    network: `{ driver: ipvlan, ${DUAL} }`,
    v4: { a: '192.168.10.2', b: '192.168.10.3' },
    v6: { a: '2001:db8:10::2', b: '2001:db8:10::3' },
  },
  'internal: true macvlan: .2 first': {
    network: '{ driver: macvlan, internal: true, subnets: [{ subnet: 192.168.10.0/24 }] }',
    v4: { a: '192.168.10.2', b: '192.168.10.3' },
  },
  'ipvlan l3 on a parent: .2 first': {
    network: `{ driver: ipvlan, parent: eth0, mode: l3, ${DUAL} }`,
    v4: { a: '192.168.10.2', b: '192.168.10.3' },
    v6: { a: '2001:db8:10::2', b: '2001:db8:10::3' },
  },
  'ipvlan l3s: .2 first': {
    network: '{ driver: ipvlan, parent: eth0, mode: l3s, subnets: [{ subnet: 192.168.10.0/24 }] }',
    v4: { a: '192.168.10.2', b: '192.168.10.3' },
  },
  'ipvlan l3 with a gateway written: that one is reserved, not the first usable address': {
    network: '{ driver: ipvlan, parent: eth0, mode: l3, subnets: [{ subnet: 192.168.10.0/24, gateway: 192.168.10.2 }] }',
    v4: { a: '192.168.10.1', b: '192.168.10.3' },
  },
  'internal, a gateway written outside the subnet: the first usable address is reserved': {
    network: '{ driver: ipvlan, subnets: [{ subnet: 192.168.10.0/24, gateway: 192.168.11.1 }] }',
    v4: { a: '192.168.10.2', b: '192.168.10.3' },
  },
  'macvlan (unchanged): after the default gateway': {
    network: `{ driver: macvlan, parent: eth0, ${DUAL} }`,
    v4: { a: '192.168.10.2', b: '192.168.10.3' },
    v6: { a: '2001:db8:10::2', b: '2001:db8:10::3' },
  },
  'macvlan with the gateway at the end (unchanged): .1 first': {
    network: '{ driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.10.0/24, gateway: 192.168.10.254 }] }',
    v4: { a: '192.168.10.1', b: '192.168.10.2' },
  },
  'ipvlan l2 (unchanged): after the default gateway': {
    network: '{ driver: ipvlan, parent: eth0, subnets: [{ subnet: 192.168.10.0/24 }] }',
    v4: { a: '192.168.10.2', b: '192.168.10.3' },
  },
  '/31 and /127, internal (unchanged): both addresses': {
    network: '{ driver: ipvlan, subnets: [{ subnet: 10.0.0.4/31 }, { subnet: "2001:db8::/127" }] }',
    v4: { a: '10.0.0.4', b: '10.0.0.5' },
    v6: { a: '2001:db8::', b: '2001:db8::1' },
  },
  '/31 and /127, ipvlan l3 (unchanged): both addresses': {
    network: '{ driver: ipvlan, parent: eth0, mode: l3, subnets: [{ subnet: 10.0.0.4/31 }, { subnet: "2001:db8::/127" }] }',
    v4: { a: '10.0.0.4', b: '10.0.0.5' },
    v6: { a: '2001:db8::', b: '2001:db8::1' },
  },
  '/31 and /127, macvlan (unchanged): both addresses': {
    network: '{ driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.4/31 }, { subnet: "2001:db8::/127" }] }',
    v4: { a: '10.0.0.4', b: '10.0.0.5' },
    v6: { a: '2001:db8::', b: '2001:db8::1' },
  },
  '/32 and /128, internal and l3 (unchanged): the one address': {
    network: '{ driver: ipvlan, parent: eth0, mode: l3, subnets: [{ subnet: 10.0.0.9/32 }, { subnet: "2001:db8::9/128" }] }',
    count: 1,
    v4: { a: '10.0.0.9' },
    v6: { a: '2001:db8::9' },
  },
  '/32, internal: the one address, then none': {
    network: '{ driver: ipvlan, subnets: [{ subnet: 10.0.0.9/32 }] }',
    v4: { a: '10.0.0.9' },
    errors: ['no free IPv4 address left for endpoint b in network n (10.0.0.9/32)'],
  },
  '/30, internal: only the address between the reserved gateway and the broadcast address': {
    network: '{ driver: ipvlan, subnets: [{ subnet: 10.0.0.0/30 }] }',
    v4: { a: '10.0.0.2' },
    errors: ['no free IPv4 address left for endpoint b in network n (10.0.0.0/30)'],
  },
  'an aux address that is the next free one is skipped': {
    network: '{ driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.10.0/24, aux_addresses: { router: 192.168.10.2 } }] }',
    v4: { a: '192.168.10.3', b: '192.168.10.4' },
  },
  'aux addresses on an internal network, after its reserved gateway': {
    network:
      '{ driver: ipvlan, subnets: [{ subnet: 192.168.10.0/24, aux_addresses: { x: 192.168.10.3 } }, { subnet: "2001:db8:10::/64", aux_addresses: { y: "2001:db8:10::2" } }] }',
    v4: { a: '192.168.10.2', b: '192.168.10.4' },
    v6: { a: '2001:db8:10::3', b: '2001:db8:10::4' },
  },
  'aux addresses at both edges of ip_range are skipped, and outside it change nothing': {
    network:
      '{ driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.10.0/24, ip_range: 192.168.10.128/30, aux_addresses: { lo: 192.168.10.128, hi: 192.168.10.131, out: 192.168.10.5 } }] }',
    v4: { a: '192.168.10.129', b: '192.168.10.130' },
  },
  'aux addresses at both edges of the subnet: next to the network and broadcast addresses': {
    network:
      '{ driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.10.0/29, gateway: 192.168.10.3, aux_addresses: { first: 192.168.10.1, last: 192.168.10.6 } }] }',
    count: 3,
    v4: { a: '192.168.10.2', b: '192.168.10.4', c: '192.168.10.5' },
  },
  'aux addresses on a /31: the other address only': {
    network: '{ driver: ipvlan, parent: eth0, mode: l3, subnets: [{ subnet: 10.0.0.4/31, aux_addresses: { peer: 10.0.0.4 } }] }',
    count: 1,
    v4: { a: '10.0.0.5' },
  },
  'a pool the aux addresses fill: the exhausted pool says so': {
    network:
      '{ driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.10.0/24, ip_range: 192.168.10.8/30, aux_addresses: { a: 192.168.10.8, b: 192.168.10.9, c: 192.168.10.10 } }] }',
    v4: { a: '192.168.10.11' },
    errors: ['no free IPv4 address left for endpoint b in network n (192.168.10.8/30, where aux_addresses hold 3 back)'],
  },
  'a /29 the gateway and aux addresses fill: the exhausted pool says so, naming the first endpoint left out': {
    network:
      '{ driver: ipvlan, subnets: [{ subnet: 10.0.0.0/29, aux_addresses: { a: 10.0.0.2, b: 10.0.0.3, c: 10.0.0.4, d: 10.0.0.5 } }] }',
    count: 3,
    v4: { a: '10.0.0.6' },
    errors: [
      'no free IPv4 address left for endpoint b in network n (10.0.0.0/29, where aux_addresses hold 4 back)',
      'no free IPv4 address left for endpoint c in network n (10.0.0.0/29, where aux_addresses hold 4 back)',
    ],
  },
};

for (const [name, t] of Object.entries(TABLE)) {
  test(`Docker's IPAM: ${name}`, () => {
    const r = allocated(on(t.network, t.count));
    assert.equal(r.v4, t.v4 ?? {}, 'IPv4');
    assert.equal(r.v6, t.v6 ?? {}, 'IPv6');
    assert.equal(r.errors, t.errors ?? []);
  });
}

test("a static address on the gateway an internal network reserves is the endpoint's (validate warns); on an aux address it is an error", () => {
  const iso = load(
    'networks:',
    '  n: { driver: ipvlan, subnets: [{ subnet: 10.0.0.0/24, aux_addresses: { router: 10.0.0.254 } }] }',
    'endpoints:',
    '  a: { network: n }',
    '  s: { network: n, ipv4: 10.0.0.1 }',
  );
  assert.equal(allocated(iso), { v4: { s: '10.0.0.1', a: '10.0.0.2' }, v6: {}, errors: [] });
  // validate refuses the aux address first; a Config built otherwise meets the same refusal here.
  const aux = config(
    [
      network('n', {
        subnets: [subnet('10.0.0.0/24', '10.0.0.1', null, { auxAddresses: [{ name: 'router', address: '10.0.0.254', at: 't.yaml:3:4' }] })],
      }),
    ],
    [endpoint('s', 'n', { ipv4: '10.0.0.254' })],
  );
  assert.equal(
    allocateAddresses(aux, observed()).diagnostics.map((d) => `${d.severity} ${d.path}: ${d.message}`),
    ['error endpoints.s.ipv4: 10.0.0.254 is aux address router of 10.0.0.0/24, which no endpoint may have'],
  );
});

// --- upgrading from vlannet 0.1, whose internal and l3 networks handed out .1 ------------------------

const INTERNAL = ['networks:', '  iso: { driver: ipvlan, subnets: [{ subnet: 10.9.0.0/24 }, { subnet: "2001:db8:9::/64" }] }'];

/** The same config as vlannet 0.1 resolved it: no gateway reserved where no route goes through one. */
function asVersion01(cfg: Config): Config {
  const old = structuredClone(cfg);
  for (const n of old.networks) for (const s of n.subnets) if (s.gateway === null) s.reservedGateway = null;
  return old;
}

/** A memory kernel holding what `cfg` makes, applied from an empty one. */
async function applied(cfg: Config): Promise<MemoryKernel> {
  const kernel = new MemoryKernel().seed({ links: [link('eth0', { index: 2 })] });
  for (const a of makePlan(cfg, await kernel.observe(namespacesOf(cfg))).actions) await kernel.apply(a.op);
  return kernel;
}

test('upgrade: an endpoint holding .1 on an internal network keeps it, with a warning; a new one gets .2; nothing else changes', async () => {
  const before = load(...INTERNAL, 'endpoints:', '  old: { network: iso }');
  const kernel = await applied(asVersion01(before));
  const obs = await kernel.observe(['old', 'new']);
  assert.equal(
    obs.addresses.filter((a) => a.netns === 'old').map((a) => a.address),
    ['10.9.0.1', '2001:db8:9::1'],
    'vlannet 0.1 gave it .1',
  );

  const after = load(...INTERNAL, 'endpoints:', '  new: { network: iso }', '  old: { network: iso }');
  const r = allocateAddresses(after, obs);
  assert.equal(
    [4, 6].map((f) => [r.byEndpoint.get('old')![f as Family]!.address, r.byEndpoint.get('old')![f as Family]!.source]),
    [
      ['10.9.0.1', 'observed'],
      ['2001:db8:9::1', 'observed'],
    ],
  );
  assert.equal(
    [4, 6].map((f) => r.byEndpoint.get('new')![f as Family]!.address),
    ['10.9.0.2', '2001:db8:9::2'],
  );
  assert.equal(
    r.diagnostics.map((d) => `${d.severity} ${d.at} ${d.path}: ${d.message}`),
    [
      "warning t.yaml:6:3 endpoints.old: endpoint old keeps 10.9.0.1, though it is the gateway address 10.9.0.0/24 reserves (as Docker's IPAM does; vlannet 0.1 handed it out): once freed, it is not handed out again",
      "warning t.yaml:6:3 endpoints.old: endpoint old keeps 2001:db8:9::1, though it is the gateway address 2001:db8:9::/64 reserves (as Docker's IPAM does; vlannet 0.1 handed it out): once freed, it is not handed out again",
    ],
  );

  // The kept endpoint's links, addresses and routes are what they were; the plan touches only the new one.
  const desired = (cfg: Config) => {
    const d = resolveDesired(cfg, obs).desired;
    const mine = <T extends { netns: string | null }>(xs: T[]) => xs.filter((x) => x.netns === 'old');
    return { links: mine(d.links), addresses: mine(d.addresses), routes: mine(d.routes) };
  };
  assert.equal(desired(after), desired(asVersion01(before)));
  const plan = makePlan(after, obs);
  assert.ok(plan.actions.length > 0);
  assert.equal(
    plan.actions.filter((a) => JSON.stringify(a.op).includes('"old"')),
    [],
    'no action for the kept endpoint',
  );
  assert.equal(
    plan.warnings.map((w) => w.path),
    ['endpoints.old', 'endpoints.old'],
  );

  // Once it is gone, its .1 is not handed out again.
  const later = load(...INTERNAL, 'endpoints:', '  new: { network: iso }', '  newer: { network: iso }');
  assert.equal(
    allocateAddresses(later, { ...obs, addresses: obs.addresses.filter((a) => a.netns !== 'old') }).byEndpoint.get('newer')![4]!.address,
    '10.9.0.3',
  );
});

test('upgrade: an ipvlan l3 endpoint holding .1 keeps it and its default dev route', async () => {
  const text = ['networks:', '  l3: { driver: ipvlan, parent: eth0, mode: l3, subnets: [{ subnet: 10.8.0.0/24 }] }', 'endpoints:'];
  const kernel = await applied(asVersion01(load(...text, '  old: { network: l3 }')));
  const obs = await kernel.observe(['old', 'new']);
  const after = load(...text, '  new: { network: l3 }', '  old: { network: l3 }');
  assert.equal(got(after, obs), { new: '10.8.0.2/24', old: '10.8.0.1/24' });
  const plan = makePlan(after, obs);
  assert.equal(
    plan.actions.filter((a) => JSON.stringify(a.op).includes('"old"')),
    [],
  );
  assert.match(
    plan.warnings.map((w) => w.message).join('\n'),
    /endpoint old keeps 10\.8\.0\.1, though it is the gateway address 10\.8\.0\.0\/24 reserves/,
  );
});

test('an aux address an endpoint already holds is given up for another, with a warning: an address never answers twice', async () => {
  const net = (aux: string) => ['networks:', `  n: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.7.0.0/24${aux} }] }`];
  const kernel = await applied(load(...net(''), 'endpoints:', '  a: { network: n }', '  b: { network: n }'));
  const obs = await kernel.observe(['a', 'b']);
  assert.equal(got(load(...net(''), 'endpoints:', '  a: { network: n }', '  b: { network: n }'), obs), {
    a: '10.7.0.2/24',
    b: '10.7.0.3/24',
  });
  const after = load(...net(', aux_addresses: { router: 10.7.0.3 }'), 'endpoints:', '  a: { network: n }', '  b: { network: n }');
  const r = allocateAddresses(after, obs);
  assert.equal(got(after, obs), { a: '10.7.0.2/24', b: '10.7.0.4/24' });
  assert.equal(
    r.diagnostics.map((d) => `${d.severity} ${d.path}: ${d.message}`),
    [
      'warning endpoints.b: endpoint b gives up 10.7.0.3, now aux address router of 10.7.0.0/24, for another address: an address must never answer twice',
    ],
  );
});

test.run();
