// `vlannet show --as-config` (model/adopt.ts, cli/show.ts): the config made from what vlannet owns
// in the kernel is valid, and planned against that kernel it holds zero actions. For random
// configurations applied on the in-memory kernel, and for the cases that need a decision (names,
// gateways, MTUs, default routes, namespaces); what the file cannot say is a comment and a warning.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { dummyName } from '../../src/config/names.js';
import { configFromKernel } from '../../src/cli/as-config.js';
import { showCommand } from '../../src/cli/show.js';
import { adoptConfig } from '../../src/model/adopt.js';
import { makePlan } from '../../src/plan/plan.js';
import { reasonText } from '../../src/plan/describe.js';
import { VLANNET_ROUTE_PROTOCOL, type Config, type ObservedState } from '../../src/model/types.js';
import { DiagnosticsError, UsageError } from '../../src/errors.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { drift, prng, randomConfig } from '../support/random-world.js';
import { link } from '../fixtures/plan/build.js';

/** A host with two NICs (eth0 with jumbo frames) and a VLAN link someone else made. */
function host(): MemoryKernel {
  return new MemoryKernel().seed({
    links: [
      link('eth0', { index: 2, mtu: 9000 }),
      link('eth1', { index: 3 }),
      link('eth1.77', { index: 4, kind: 'vlan', parent: 'eth1', vlanId: 77 }),
    ],
    addresses: [{ netns: null, link: 'eth0', family: 4, address: '192.168.1.249', prefixLength: 24 }],
  });
}

function load(text: string): Config {
  const { config, diagnostics } = loadConfig(text, 'vlannet.yaml');
  const errors = diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors, [], `the file is valid:\n${text}`);
  return config!;
}

const namespacesOf = (c: Config) => [...new Set(c.endpoints.map((e) => e.netns).filter((n): n is string => n !== null))];

/** Apply a config on the kernel; what the kernel then holds. */
async function applied(k: MemoryKernel, text: string): Promise<ObservedState> {
  const config = load(text);
  for (const a of makePlan(config, await k.observe(namespacesOf(config))).actions) await k.apply(a.op);
  return k.observe([]);
}

/** The actions the adopted file plans against `observed`, checked afresh (not by show's own check). */
function actionsOf(text: string, observed: ObservedState): string[] {
  return makePlan(load(text), observed).actions.map((a) => `${a.change} ${a.object}: ${reasonText(a.reason)}`);
}

/** Adopt, and insist on an exact file: valid, zero actions, no warnings. */
async function adoptExactly(observed: ObservedState): Promise<string> {
  const adopted = await configFromKernel(observed);
  assert.equal(adopted.pending, [], `nothing left to do:\n${adopted.text}`);
  assert.equal(adopted.warnings, [], 'no warnings');
  assert.equal(actionsOf(adopted.text, observed), [], `zero actions:\n${adopted.text}`);
  return adopted.text;
}

const body = (text: string) => text.replace(/^#.*\n\n?/gm, '');

test('host access: its network takes the name in its mark, and its name and addresses are written as the kernel holds them', async () => {
  const observed = await applied(
    host(),
    `version: 1
networks:
  lan:
    driver: macvlan
    parent: eth0
    subnets: [{ subnet: 192.168.1.0/24, gateway: 192.168.1.1 }]
    host_access: true
  storage:
    driver: ipvlan
    parent: eth1
    flag: private
    subnets: [{ subnet: 10.7.0.0/24 }]
    host_access: { ifname: st-host, ipv4: 10.7.0.100 }
endpoints:
  web1: { network: lan }
  nas: { network: storage }
`,
  );
  const text = await adoptExactly(observed);
  assert.match(text, /\n {2}lan:\n/);
  assert.match(text, /host_access:\n {6}ifname: vh-lan\n {6}ipv4: 192\.168\.1\.254\n/);
  assert.match(text, /\n {2}storage:\n/);
  assert.match(text, /host_access:\n {6}ifname: st-host\n {6}ipv4: 10\.7\.0\.100\n/);
  // No network it could serve: said, as apply would delete it.
  const orphan = await configFromKernel({ ...observed, links: observed.links.filter((l) => l.netns !== 'web1') });
  assert.match(
    orphan.text.replace(/\n#\s+/g, ' '),
    /link vh-lan is the host access of network lan, but no network of this file is one it could serve/,
  );
});

test('a realistic host: vlans, dual stack, a gateway of its own, shared and host namespaces', async () => {
  const observed = await applied(
    host(),
    `version: 1
vlans:
  trunk40: { parent: eth0, id: 40, mtu: 1500 }
networks:
  lan50:
    driver: macvlan
    parent: eth0.50
    subnets:
      - { subnet: 192.168.50.0/24, gateway: 192.168.50.254 }
      - { subnet: "2001:db8:50::/64" }
  storage:
    driver: macvlan
    parent: trunk40
    mode: private
    mtu: 1400
    subnets: [{ subnet: 10.40.0.0/24 }]
  routed:
    driver: ipvlan
    parent: eth1
    mode: l3
    subnets: [{ subnet: 10.1.0.0/24 }, { subnet: 10.2.0.0/24 }]
  isolated:
    driver: ipvlan
    mode: l3
    subnets: [{ subnet: 10.99.0.0/24 }, { subnet: 10.98.0.0/24 }]
endpoints:
  web1: { network: lan50, ipv4: 192.168.50.10, ipv6: 2001:db8:50::10 }
  web2: { network: lan50, ipv4: 192.168.50.11, ipv6: 2001:db8:50::11 }
  db: { network: storage, netns: web1, ifname: net1, ipv4: 10.40.0.20, default_route: false }
  probe: { network: lan50, netns: host, ifname: mv-probe, ipv4: 192.168.50.1, ipv6: 2001:db8:50::99 }
  app: { network: routed, ipv4: 10.2.0.5 }
  app2: { network: routed, ifname: eth1, ipv4: 10.1.0.6, default_route: false }
  iso1: { network: isolated, ipv4: 10.99.0.9 }
  iso2: { network: isolated, ipv4: 10.98.0.7 }
`,
  );
  const text = await adoptExactly(observed);
  assert.fixture(
    text,
    `# generated by vlannet show --as-config from the kernel; review before committing
# mac: left out, the kernel keeps each link's own (write mac: to pin one)

version: 1

vlans:
  eth0.50: { parent: eth0, id: 50 }
  trunk40: { parent: eth0, id: 40, mtu: 1500 }

networks:
  ipvlan-eth1-l3:
    driver: ipvlan
    parent: eth1
    mode: l3
    subnets:
      - { subnet: 10.1.0.0/24 }
      - { subnet: 10.2.0.0/24 }
  isolated:
    driver: ipvlan
    internal: true
    mode: l3
    subnets:
      - { subnet: 10.98.0.0/24 }
      - { subnet: 10.99.0.0/24 }
  macvlan-eth0.50:
    driver: macvlan
    parent: eth0.50
    mode: bridge
    subnets:
      - { subnet: 192.168.50.0/24, gateway: 192.168.50.254 }
      - { subnet: 2001:db8:50::/64, gateway: 2001:db8:50::1 }
  macvlan-trunk40-private-mtu1400:
    driver: macvlan
    parent: trunk40
    mode: private
    mtu: 1400
    subnets:
      # gateway: not recorded in the kernel (no endpoint here has a default route through it); the
      #   default is 10.40.0.1
      - { subnet: 10.40.0.0/24 }

endpoints:
  app:
    network: ipvlan-eth1-l3
    ipv4: 10.2.0.5
  app2:
    network: ipvlan-eth1-l3
    ifname: eth1
    ipv4: 10.1.0.6
    default_route: false
  db:
    network: macvlan-trunk40-private-mtu1400
    netns: web1
    ifname: net1
    ipv4: 10.40.0.20
    default_route: false
  iso1:
    network: isolated
    ipv4: 10.99.0.9
  iso2:
    network: isolated
    ipv4: 10.98.0.7
  probe:
    network: macvlan-eth0.50
    netns: host
    ifname: mv-probe
    ipv4: 192.168.50.1
    ipv6: 2001:db8:50::99
  web1:
    network: macvlan-eth0.50
    ipv4: 192.168.50.10
    ipv6: 2001:db8:50::10
  web2:
    network: macvlan-eth0.50
    ipv4: 192.168.50.11
    ipv6: 2001:db8:50::11
`,
  );
});

/** The endpoints and networks of an adopted file, without its comments. */
async function adoptedOf(observed: ObservedState): Promise<{ networks: Record<string, unknown>; endpoints: Record<string, unknown> }> {
  const doc = parse(await adoptExactly(observed));
  return { networks: doc.networks ?? {}, endpoints: doc.endpoints ?? {} };
}

const here = dirname(fileURLToPath(import.meta.url));
const examples = join(here, here.includes('/dist/') ? '../../..' : '../..', 'examples');

test('every example, applied: the adopted file is exact', async () => {
  const files = readdirSync(examples).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 10);
  for (const file of files) {
    const text = readFileSync(join(examples, file), 'utf8');
    const config = load(text);
    // The parents vlannet does not make, as plain devices.
    const made = new Set([...config.vlans.map((v) => v.name), ...config.networks.filter((n) => n.internal).map((n) => n.parent)]);
    const parents = [...new Set([...config.networks.map((n) => n.parent), ...config.vlans.map((v) => v.parent)])].filter(
      (p) => !made.has(p),
    );
    const k = new MemoryKernel().seed({ links: parents.map((name, i) => link(name, { index: 2 + i })) });
    try {
      await adoptExactly(await applied(k, text));
    } catch (e) {
      throw new Error(`examples/${file}: ${(e as Error).message}`);
    }
  }
});

test("an internal network is named by its dummy link; its MTU is the dummy's", async () => {
  const { networks, endpoints } = await adoptedOf(
    await applied(
      host(),
      `version: 1
networks:
  backplane: { driver: macvlan, mtu: 9000, subnets: [{ subnet: 172.31.0.0/24 }] }
endpoints:
  a: { network: backplane, ipv4: 172.31.0.10 }
  b: { network: backplane, ipv4: 172.31.0.11 }
`,
    ),
  );
  assert.equal(networks, {
    backplane: { driver: 'macvlan', internal: true, mode: 'bridge', mtu: 9000, subnets: [{ subnet: '172.31.0.0/24' }] },
  });
  assert.equal(endpoints, { a: { network: 'backplane', ipv4: '172.31.0.10' }, b: { network: 'backplane', ipv4: '172.31.0.11' } });
});

test('an internal network without endpoints keeps its dummy link, with a comment', async () => {
  const adopted = await configFromKernel(
    await applied(host(), 'version: 1\nnetworks:\n  spare: { driver: ipvlan, internal: true, subnets: [{ subnet: 10.5.0.0/24 }] }\n'),
  );
  assert.equal(adopted.pending, []);
  assert.equal(adopted.warnings, []);
  assert.match(adopted.text, "  # no endpoints: the kernel keeps only this network's dummy link");
  assert.equal(parse(adopted.text).networks, { spare: { driver: 'macvlan', internal: true, mode: 'bridge' } });
});

test('vlan links: each a vlans: entry; the MTU written where the file would otherwise give another', async () => {
  const k = host();
  const observed = await applied(
    k,
    `version: 1
vlans:
  plain: { parent: eth1, id: 10 }
  small: { parent: eth0, id: 11, mtu: 1500 }
networks:
  narrow: { driver: macvlan, parent: eth0.12, mtu: 1400, subnets: [{ subnet: 10.12.0.0/24 }] }
  wide: { driver: macvlan, parent: eth0.13, subnets: [{ subnet: 10.13.0.0/24 }] }
  inside: { driver: macvlan, parent: small, mtu: 1280, subnets: [{ subnet: 10.11.0.0/24 }] }
endpoints:
  n1: { network: narrow, ipv4: 10.12.0.5 }
  w1: { network: wide, ipv4: 10.13.0.5 }
  i1: { network: inside, ipv4: 10.11.0.5 }
`,
  );
  const doc = parse(await adoptExactly(observed));
  // eth0.12 has the MTU its network asked for, and so have the endpoints on it: said once, on the vlan.
  assert.equal(doc.vlans, {
    'eth0.12': { parent: 'eth0', id: 12, mtu: 1400 },
    'eth0.13': { parent: 'eth0', id: 13 },
    plain: { parent: 'eth1', id: 10 },
    small: { parent: 'eth0', id: 11, mtu: 1500 },
  });
  assert.equal(Object.keys(doc.networks), ['macvlan-eth0.12', 'macvlan-eth0.13', 'macvlan-small-mtu1280']);
  assert.equal(doc.networks['macvlan-eth0.12'], {
    driver: 'macvlan',
    parent: 'eth0.12',
    mode: 'bridge',
    subnets: [{ subnet: '10.12.0.0/24', gateway: '10.12.0.1' }],
  });
  assert.equal(doc.networks['macvlan-small-mtu1280'].mtu, 1280);
});

test('ipvlan l3: no gateway, the routes between its subnets kept; flags and modes in the name', async () => {
  const { networks, endpoints } = await adoptedOf(
    await applied(
      host(),
      `version: 1
networks:
  l3: { driver: ipvlan, parent: eth1, mode: l3, flag: private, subnets: [{ subnet: 10.7.0.0/24 }, { subnet: 10.8.0.0/24 }] }
endpoints:
  r1: { network: l3, ipv4: 10.7.0.5, default_route: false }
  r2: { network: l3, ipv4: 10.8.0.5 }
`,
    ),
  );
  assert.equal(networks, {
    'ipvlan-eth1-l3-private': {
      driver: 'ipvlan',
      parent: 'eth1',
      mode: 'l3',
      flag: 'private',
      subnets: [{ subnet: '10.7.0.0/24' }, { subnet: '10.8.0.0/24' }],
    },
  });
  assert.equal(endpoints, {
    r1: { network: 'ipvlan-eth1-l3-private', ipv4: '10.7.0.5', default_route: false },
    r2: { network: 'ipvlan-eth1-l3-private', ipv4: '10.8.0.5' },
  });
});

test('dual stack, netns host, a custom ifname, a shared namespace with one default route', async () => {
  const { endpoints } = await adoptedOf(
    await applied(
      host(),
      `version: 1
networks:
  ds:
    driver: macvlan
    parent: eth1
    subnets: [{ subnet: 192.168.9.0/24 }, { subnet: "fd00:9::/64", gateway: "fd00:9::fe" }]
endpoints:
  front: { network: ds, netns: pod, ifname: lan0, ipv4: 192.168.9.20, ipv6: "fd00:9::20" }
  side: { network: ds, netns: pod, ifname: lan1, ipv4: 192.168.9.21, ipv6: "fd00:9::21", default_route: false }
  mon: { network: ds, netns: host, ifname: mv-mon, ipv4: 192.168.9.2, ipv6: "fd00:9::2" }
`,
    ),
  );
  assert.equal(endpoints, {
    front: { network: 'macvlan-eth1', netns: 'pod', ifname: 'lan0', ipv4: '192.168.9.20', ipv6: 'fd00:9::20' },
    mon: { network: 'macvlan-eth1', netns: 'host', ifname: 'mv-mon', ipv4: '192.168.9.2', ipv6: 'fd00:9::2' },
    side: { network: 'macvlan-eth1', netns: 'pod', ifname: 'lan1', ipv4: '192.168.9.21', ipv6: 'fd00:9::21', default_route: false },
  });
});

test('networks on one parent: one per mode and MTU, and apart where their endpoints share no subnet', async () => {
  const { networks, endpoints } = await adoptedOf(
    await applied(
      host(),
      `version: 1
networks:
  a: { driver: macvlan, parent: eth1, subnets: [{ subnet: 10.20.0.0/24 }] }
  b: { driver: macvlan, parent: eth1, subnets: [{ subnet: 10.21.0.0/24 }, { subnet: "fd00:21::/64" }] }
  c: { driver: macvlan, parent: eth1, mode: private, subnets: [{ subnet: 10.22.0.0/24 }] }
  d: { driver: macvlan, parent: eth1, mtu: 1300 }
endpoints:
  a1: { network: a, ipv4: 10.20.0.5 }
  b1: { network: b, ipv4: 10.21.0.5, ipv6: "fd00:21::5" }
  c1: { network: c, ipv4: 10.22.0.5 }
  d1: { network: d }
`,
    ),
  );
  assert.equal(Object.keys(networks), ['macvlan-eth1', 'macvlan-eth1-2', 'macvlan-eth1-mtu1300', 'macvlan-eth1-private']);
  assert.equal((networks['macvlan-eth1-2'] as { subnets: unknown }).subnets, [
    { subnet: '10.21.0.0/24', gateway: '10.21.0.1' },
    { subnet: 'fd00:21::/64', gateway: 'fd00:21::1' },
  ]);
  assert.equal(Object.fromEntries(Object.entries(endpoints).map(([name, e]) => [name, (e as { network: string }).network])), {
    a1: 'macvlan-eth1',
    b1: 'macvlan-eth1-2',
    c1: 'macvlan-eth1-private',
    d1: 'macvlan-eth1-mtu1300',
  });
});

test("a gateway the kernel does not record that is an endpoint's address: another stands in, with a comment", async () => {
  const adopted = await configFromKernel(
    await applied(
      host(),
      `version: 1
networks:
  quiet: { driver: macvlan, parent: eth1, subnets: [{ subnet: 10.30.0.0/29, gateway: 10.30.0.6 }] }
endpoints:
  q1: { network: quiet, ipv4: 10.30.0.1, default_route: false }
`,
    ),
  );
  assert.equal(adopted.pending, []);
  assert.equal(parse(adopted.text).networks['macvlan-eth1'].subnets, [{ subnet: '10.30.0.0/29', gateway: '10.30.0.6' }]);
  assert.match(adopted.text, '10.30.0.6 stands in, as the first usable address is an endpoint');
});

test('what the file cannot say is a comment at its place, a warning, and pending: never a silent change', async () => {
  const k = host();
  await applied(
    k,
    `version: 1
networks:
  ds: { driver: macvlan, parent: eth1, subnets: [{ subnet: 10.40.0.0/24 }, { subnet: "fd00:40::/64" }] }
endpoints:
  x1: { network: ds, ipv4: 10.40.0.5, ipv6: "fd00:40::5" }
  x2: { network: ds, ipv4: 10.40.0.6, ipv6: "fd00:40::6" }
  gone: { network: ds, netns: leftover, ipv4: 10.40.0.7, ipv6: "fd00:40::7" }
`,
  );
  // Behind vlannet's back: x2 loses its IPv6 address, x1 routes through another gateway, the
  // endpoint in namespace leftover is deleted (the namespace vlannet made stays, empty).
  let obs = await k.observe([]);
  await k.apply({ op: 'addr-del', addr: obs.addresses.find((a) => a.netns === 'x2' && a.family === 6)! });
  const route = obs.routes.find((r) => r.netns === 'x1' && r.family === 4 && r.protocol === VLANNET_ROUTE_PROTOCOL)!;
  await k.apply({ op: 'route-del', route });
  await k.apply({ op: 'route-add', route: { ...route, gateway: '10.40.0.254' } });
  const gone = obs.links.find((l) => l.netns === 'leftover' && l.name === 'eth0')!;
  await k.apply({
    op: 'link-del',
    netns: 'leftover',
    name: 'eth0',
    before: { ...gone, identity: null, alias: '', mac: null } as never,
    addresses: [],
    routes: [],
  });
  obs = await k.observe([]);

  const adopted = await configFromKernel(obs);
  assert.equal(adopted.warnings.map((w) => `${w.path}: ${w.message}`).sort(), [
    ': namespace leftover was made by vlannet and holds none of its endpoints: no file keeps an empty namespace, so apply would delete it',
    'endpoints.x1: its route IPv4 default via 10.40.0.254 is not one the file can give it: apply would remove it',
    'endpoints.x1: the file gives it the route IPv4 default via 10.40.0.1, which the kernel does not have: apply would add it',
    'endpoints.x2: it has no IPv6 address, but its network has an IPv6 subnet (its other endpoints have one): apply would give it one',
    "networks.macvlan-eth1.subnets[0]: endpoints in 10.40.0.0/24 route through different gateways (x2 via 10.40.0.1; x1 via 10.40.0.254); a subnet has one, 10.40.0.1: apply would change the others' default routes",
  ]);
  assert.ok(adopted.pending.length > 0);
  assert.equal(adopted.pending, actionsOf(adopted.text, obs), 'pending is what the plan of the file holds');
  assert.match(adopted.text, '# applying this file as it is would change the kernel:');
  assert.match(adopted.text, '  # warning: it has no IPv6 address');
  assert.match(adopted.text, '# warning: namespace leftover was made by vlannet');
});

test('nothing owned: a file that owns nothing', async () => {
  const adopted = await configFromKernel(await host().observe([]));
  assert.equal(adopted.pending, []);
  assert.is(body(adopted.text), 'version: 1\n');
});

test('the pure part alone: notes say where, and nothing is written for defaults', async () => {
  const observed = await applied(host(), 'version: 1\nnetworks:\n  n: { driver: ipvlan, parent: eth1 }\nendpoints:\n  e: { network: n }\n');
  const { config, notes } = adoptConfig(observed, { dummyName });
  assert.equal(config, {
    version: 1,
    vlans: {},
    networks: { 'ipvlan-eth1': { driver: 'ipvlan', parent: 'eth1', mode: 'l2' } },
    endpoints: { e: { network: 'ipvlan-eth1' } },
  });
  assert.equal(notes, []);
});

test('--as-config with --json, or with a filter, is a usage error (before the kernel is read)', async () => {
  for (const o of [{ json: true }, { netns: ['web1'] }, { network: ['n'] }, { endpoint: ['e'] }]) {
    try {
      await showCommand({ asConfig: true, ...o });
      assert.unreachable(`${JSON.stringify(o)} is refused`);
    } catch (e) {
      assert.instance(e, UsageError, String(e));
      assert.match((e as Error).message, '--as-config');
    }
  }
});

// --- random configurations ---------------------------------------------------------------------

/** A random Config (test/support/random-world.ts) as the YAML an operator would write for it. */
function yamlOf(c: Config): string {
  const networks = Object.fromEntries(
    c.networks.map((n) => [
      n.name,
      {
        driver: n.driver,
        ...(n.internal ? { internal: true } : { parent: n.parent }),
        mode: n.mode,
        ...(n.flag !== null ? { flag: n.flag } : {}),
        ...(n.mtu !== null ? { mtu: n.mtu } : {}),
        subnets: n.subnets.map((s) => ({ subnet: s.cidr, ...(s.gateway !== null ? { gateway: s.gateway } : {}) })),
      },
    ]),
  );
  const endpoints = Object.fromEntries(
    c.endpoints.map((e) => [
      e.name,
      {
        network: e.network,
        netns: e.netns ?? 'host',
        ifname: e.ifname,
        ...(e.ipv4 !== null ? { ipv4: e.ipv4 } : {}),
        ...(e.mac !== null ? { mac: e.mac } : {}),
        default_route: e.defaultRoute,
      },
    ]),
  );
  return `${JSON.stringify({ version: 1, networks, endpoints }, null, 1)}\n`;
}

const CASES = Number(process.env.PROPERTY_CASES ?? 400);

test(`random configurations: applied, adopted, the file is valid and plans zero actions (${CASES} cases)`, async () => {
  let adopted = 0;
  let endpoints = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const r = prng(seed);
    const k = host().seed({ links: r.chance(0.5) ? [link('eth0.77', { index: 9, kind: 'vlan', parent: 'eth0', vlanId: 77 })] : [] });
    const text = yamlOf(randomConfig(r));
    const { config } = loadConfig(text, 'vlannet.yaml');
    if (!config) continue;
    let observed: ObservedState;
    try {
      for (const a of makePlan(config, await k.observe(namespacesOf(config))).actions) await k.apply(a.op);
      observed = await k.observe([]);
    } catch (e) {
      if (e instanceof DiagnosticsError) continue;
      throw new Error(`seed ${seed}: ${(e as Error).message}`);
    }
    const result = await configFromKernel(observed);
    assert.equal(result.warnings, [], `seed ${seed}: no warnings\n${text}\n${result.text}`);
    assert.equal(result.pending, [], `seed ${seed}: nothing left to do\n${text}\n${result.text}`);
    assert.equal(actionsOf(result.text, observed), [], `seed ${seed}: zero actions\n${result.text}`);
    adopted++;
    endpoints += config.endpoints.length;
  }
  assert.ok(adopted > CASES * 0.5, `only ${adopted} of ${CASES} random configurations were valid`);
  assert.ok(endpoints > CASES, `only ${endpoints} endpoints`);
});

test(`random changes behind vlannet's back: the file's warnings say so exactly when applying it would change the kernel (${CASES} cases)`, async () => {
  let changed = 0;
  let exact = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const r = prng(seed);
    const k = host();
    const { config } = loadConfig(yamlOf(randomConfig(r)), 'vlannet.yaml');
    if (!config) continue;
    let observed: ObservedState;
    try {
      for (const a of makePlan(config, await k.observe(namespacesOf(config))).actions) await k.apply(a.op);
      await drift(k, r, await k.observe([]));
      observed = await k.observe([]);
    } catch (e) {
      if (e instanceof DiagnosticsError) continue;
      throw new Error(`seed ${seed}: ${(e as Error).message}`);
    }
    const result = await configFromKernel(observed);
    const warned = result.warnings.map((w) => `${w.path}: ${w.message}`);
    if (result.pending.length) {
      assert.ok(
        warned.length > 0,
        `seed ${seed}: applying the file would change the kernel, and no warning says where:\n${result.pending.join('\n')}\n${result.text}`,
      );
      assert.match(result.text, '# applying this file as it is would change the kernel:');
      changed++;
    } else {
      assert.equal(warned, [], `seed ${seed}: warnings, but applying the file changes nothing\n${result.text}`);
      exact++;
    }
  }
  assert.ok(changed > CASES * 0.1 && exact > CASES * 0.1, `${changed} changed and ${exact} exact cases: too few of one kind`);
});

test.run();
