// `vlannet import docker`: each scenario of Docker's macvlan and ipvlan documentation, as `docker
// network inspect` and `docker inspect` print it (test/fixtures/docker/SCENARIO/), converts to
// exactly the file next to it (expected.yaml; UPDATE_GOLDEN=1 rewrites it), and that file round-
// trips through the real program: `validate` accepts it without a warning, and `plan` against a
// kernel holding only the parents creates the links Docker had (kind, mode, parent, addresses,
// default route). Then the command line: standard input, -o, errors in one line, notes.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { type DockerImportOptions, importDocker, type JsonSource, sanitise } from '../../src/import/docker.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'docker');
const dir = mkdtempSync(join(tmpdir(), 'vlannet-import-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function vlannet(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'vlannet.js'), ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, NO_COLOR: '1', VLANNET_RUN_DIR: join(dir, 'run') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A kernel holding only the parents the fixtures name (eth1 with jumbo frames), as `show --json` of 0.1 wrote it. */
const EMPTY = join(dir, 'empty.json');
writeFileSync(
  EMPTY,
  JSON.stringify({
    format_version: 1,
    namespaces: [],
    links: [
      { netns: null, name: 'eth0', index: 2, kind: '', parent: null, mtu: 1500, mac: '02:00:00:00:00:01', up: true, alias: null },
      { netns: null, name: 'eth1', index: 3, kind: '', parent: null, mtu: 9000, mac: '02:00:00:00:00:02', up: true, alias: null },
    ],
    addresses: [],
    routes: [],
  }),
);

function source(scenario: string, file: string): JsonSource[] {
  const path = join(fixtures, scenario, file);
  return existsSync(path) ? [{ name: file, json: JSON.parse(readFileSync(path, 'utf8')) }] : [];
}

function convert(scenario: string, options: DockerImportOptions = {}) {
  return importDocker(source(scenario, 'networks.json'), source(scenario, 'containers.json'), options);
}

/** Compare with test/fixtures/docker/SCENARIO/NAME; UPDATE_GOLDEN=1 writes it instead. */
function golden(scenario: string, name: string, text: string): void {
  const file = join(fixtures, scenario, name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
  assert.fixture(text, readFileSync(file, 'utf8'), `${scenario}/${name} (UPDATE_GOLDEN=1 rewrites it)`);
}

interface Change {
  object: string;
  group: string;
  op: {
    op: string;
    link?: Record<string, unknown>;
    addr?: { address: string; prefix_length: number };
    route?: { dst: string; gateway: string | null; dev: string };
  };
}

/** What the plan creates, one line per link: kind, mode, parent, where, then its addresses and default routes. */
function created(changes: Change[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of changes) {
    const l = c.op.link;
    if (c.op.op !== 'link-add' || !l) continue;
    const where = l.netns ? ` as ${l.netns}/${l.name}` : '';
    const extra = [l.mac ? `mac ${l.mac}` : '', l.mtu ? `mtu ${l.mtu}` : ''].filter(Boolean).join(' ');
    out[c.object] =
      l.kind === 'vlan'
        ? `vlan ${l.vlan_id} on ${l.parent}`
        : l.kind === 'dummy'
          ? `dummy ${l.name}`
          : `${l.kind} ${l.mode}${l.kind === 'ipvlan' ? ` ${l.flag}` : ''} on ${l.parent}${where}${extra ? ` ${extra}` : ''}`;
  }
  for (const c of changes) {
    if (c.op.op === 'addr-add' && c.op.addr) out[c.group] += ` ${c.op.addr.address}/${c.op.addr.prefix_length}`;
    const r = c.op.route;
    if (c.op.op === 'route-add' && r?.dst === 'default') out[c.group] += ` default ${r.gateway ? `via ${r.gateway}` : `dev ${r.dev}`}`;
  }
  return out;
}

/** The scenarios, and the links `plan` must create from each import against a kernel of bare parents. */
const SCENARIOS: Record<string, Record<string, string>> = {
  'macvlan-bridge': {
    'endpoint.macnet100_test': 'macvlan bridge on eth0 as macnet100_test/eth0 192.168.1.2/24 default via 192.168.1.1',
  },
  'macvlan-8021q-trunk': {
    'vlan.eth0.10': 'vlan 10 on eth0',
    'vlan.eth0.20': 'vlan 20 on eth0',
    'endpoint.macvlan_test1': 'macvlan bridge on eth0.10 as macvlan_test1/eth0 192.168.10.2/24 default via 192.168.10.1',
    'endpoint.macvlan_test2': 'macvlan bridge on eth0.10 as macvlan_test2/eth0 192.168.10.3/24 default via 192.168.10.1',
    'endpoint.macvlan_test3': 'macvlan bridge on eth0.20 as macvlan_test3/eth0 192.168.20.2/24 default via 192.168.20.1',
    'endpoint.macvlan_test4': 'macvlan bridge on eth0.20 as macvlan_test4/eth0 192.168.20.3/24 default via 192.168.20.1',
  },
  'ipvlan-l2': {
    'endpoint.ipv1': 'ipvlan l2 bridge on eth0 as ipv1/eth0 192.168.1.2/24 default via 192.168.1.1',
    'endpoint.ipv2': 'ipvlan l2 bridge on eth0 as ipv2/eth0 192.168.1.3/24 default via 192.168.1.1',
  },
  'ipvlan-l3': {
    'vlan.eth0.110': 'vlan 110 on eth0',
    'endpoint.ipnet110_test': 'ipvlan l3 bridge on eth0.110 as ipnet110_test/eth0 192.168.110.10/24 default dev eth0',
    'endpoint.ipnet112_test': 'ipvlan l3 bridge on eth0.110 as ipnet112_test/eth0 192.168.112.10/24 default dev eth0',
    'endpoint.ipnet120_test': 'ipvlan l3 bridge on eth0 as ipnet120_test/eth0 192.168.120.10/24 default dev eth0',
    'endpoint.ipnet120_auto': 'ipvlan l3 bridge on eth0 as ipnet120_auto/eth0 192.168.120.2/24 default dev eth0',
  },
  'ipvlan-8021q-trunk': {
    'vlan.eth0.20': 'vlan 20 on eth0',
    'vlan.eth0.30': 'vlan 30 on eth0',
    'endpoint.ivlan_test1': 'ipvlan l2 bridge on eth0.20 as ivlan_test1/eth0 192.168.20.2/24 default via 192.168.20.1',
    'endpoint.ivlan_test2': 'ipvlan l2 bridge on eth0.20 as ivlan_test2/eth0 192.168.20.3/24 default via 192.168.20.1',
    'endpoint.ivlan_test3': 'ipvlan l2 bridge on eth0.30 as ivlan_test3/eth0 192.168.30.2/24 default via 192.168.30.1',
    'endpoint.ivlan_test4': 'ipvlan l2 bridge on eth0.30 as ivlan_test4/eth0 192.168.30.3/24 default via 192.168.30.1',
  },
  'dual-stack-macvlan': {
    'vlan.eth0.218': 'vlan 218 on eth0',
    'endpoint.macnet216_test':
      'macvlan bridge on eth0.218 as macnet216_test/eth0 192.168.216.10/24 2001:db8:abc8::1/64 default via 192.168.216.1 default via 2001:db8:abc8::10',
    'endpoint.macnet218_test':
      'macvlan bridge on eth0.218 as macnet218_test/eth0 192.168.218.10/24 2001:db8:abc8::2/64 default via 192.168.218.1 default via 2001:db8:abc8::10',
  },
  'dual-stack-ipvlan': {
    'vlan.eth0.140': 'vlan 140 on eth0',
    'endpoint.v6_static':
      'ipvlan l2 bridge on eth0.140 as v6_static/eth0 192.168.140.2/24 2001:db8:abc9::51/64 default via 192.168.140.1 default via 2001:db8:abc9::22',
    'endpoint.v4_static':
      'ipvlan l2 bridge on eth0.140 as v4_static/eth0 192.168.140.10/24 2001:db8:abc9::1/64 default via 192.168.140.1 default via 2001:db8:abc9::22',
    'endpoint.l3_auto': 'ipvlan l3 bridge on eth0 as l3_auto/eth0 192.168.110.2/24 2001:db8:abc6::2/64 default dev eth0 default dev eth0',
    'endpoint.l3_v6': 'ipvlan l3 bridge on eth0 as l3_v6/eth0 192.168.110.3/24 2001:db8:abc6::10/64 default dev eth0 default dev eth0',
    'endpoint.l3_v4': 'ipvlan l3 bridge on eth0 as l3_v4/eth0 192.168.112.30/24 2001:db8:abc6::3/64 default dev eth0 default dev eth0',
    'endpoint.l3_both': 'ipvlan l3 bridge on eth0 as l3_both/eth0 192.168.112.50/24 2001:db8:abc6::50/64 default dev eth0 default dev eth0',
  },
  internal: {
    'dummy.isolated1': 'dummy vn-isolated1',
    'dummy.isolated2': 'dummy vn-isolated2',
    'dummy.isolated3': 'dummy vn-isolated3',
    'dummy.ipnet210': 'dummy vn-ipnet210',
    'endpoint.cid1': 'ipvlan l2 bridge on vn-isolated1 as cid1/eth0 192.168.10.2/24',
    'endpoint.cid2': 'ipvlan l2 bridge on vn-isolated2 as cid2/eth0 192.168.11.2/24',
    'endpoint.cid3': 'ipvlan l2 bridge on vn-isolated3 as cid3/eth0 172.18.0.2/16',
    'endpoint.l3_a': 'ipvlan l3 bridge on vn-ipnet210 as l3_a/eth0 192.168.214.10/24',
    'endpoint.l3_b': 'ipvlan l3 bridge on vn-ipnet210 as l3_b/eth0 10.1.214.10/24',
  },
  'multi-subnet': {
    'vlan.eth0.166': 'vlan 166 on eth0',
    'vlan.eth0.114': 'vlan 114 on eth0',
    'endpoint.macnet54_test': 'macvlan bridge on eth0.166 as macnet54_test/eth0 192.168.164.10/24 default via 192.168.164.1',
    'endpoint.macnet55_test': 'macvlan bridge on eth0.166 as macnet55_test/eth0 192.168.166.10/24 default via 192.168.166.1',
    'endpoint.macnet_auto': 'macvlan bridge on eth0.166 as macnet_auto/eth0 192.168.164.128/24 default via 192.168.164.1',
    'endpoint.quirky_hopper': 'ipvlan l2 bridge on eth0.114 as quirky_hopper/eth0 192.168.114.10/24 default via 192.168.114.254',
    'endpoint.eager_turing': 'ipvlan l2 bridge on eth0.114 as eager_turing/eth0 192.168.114.11/24 default via 192.168.114.254',
  },
  bridge: {},
  options: { 'vlan.eth0.50': 'vlan 50 on eth0', 'vlan.eth1.30': 'vlan 30 on eth1' },
  containers: {
    'endpoint.web': 'macvlan bridge on eth0 as web/eth0 192.168.1.10/24 default via 192.168.1.1',
    'endpoint.db-lan': 'macvlan bridge on eth0 as db/eth0 mac 02:00:00:00:01:20 192.168.1.20/24 default via 192.168.1.1',
    'endpoint.db-storage': 'ipvlan l2 bridge on eth1 as db/eth1 10.10.0.20/24',
    'endpoint.monitor-storage': 'ipvlan l2 bridge on eth1 as monitor/eth0 10.10.0.30/24 default via 10.10.0.1',
    'endpoint.monitor-lan': 'macvlan bridge on eth0 as monitor/eth1 192.168.1.2/24',
    'endpoint.nightly.backup': 'ipvlan l2 bridge on eth1 as nightly.backup/eth0 10.10.0.40/24 default via 10.10.0.1',
  },
};

for (const [scenario, links] of Object.entries(SCENARIOS)) {
  test(`${scenario}: imports to expected.yaml, which validates cleanly and plans the links Docker had`, () => {
    const result = convert(scenario);
    golden(scenario, 'expected.yaml', result.yaml);
    const file = join(dir, `${scenario}.yaml`);
    writeFileSync(file, result.yaml);
    const v = vlannet(['validate', '-f', file]);
    assert.is(v.status, 0, `validate ${scenario}:\n${v.stderr}`);
    assert.is(v.stderr, '', `validate ${scenario}: no warnings`);
    const p = vlannet(['plan', '-f', file, '--observed', EMPTY, '--json']);
    assert.is(p.status, 0, `plan ${scenario}:\n${p.stderr}${p.stdout}`);
    const plan = JSON.parse(p.stdout) as { changes: Change[] };
    assert.equal(created(plan.changes), links);
  });
}

test('the 802.1q trunk: each NAME.VID parent stays as Docker wrote it, an explicit mode is kept, automatic addresses are a comment', () => {
  const config = parse(convert('macvlan-8021q-trunk').yaml);
  assert.equal(config.networks, {
    macvlan10: { driver: 'macvlan', parent: 'eth0.10', subnets: [{ subnet: '192.168.10.0/24', gateway: '192.168.10.1' }] },
    macvlan20: { driver: 'macvlan', parent: 'eth0.20', mode: 'bridge', subnets: [{ subnet: '192.168.20.0/24', gateway: '192.168.20.1' }] },
  });
  assert.equal(config.endpoints.macvlan_test1, { network: 'macvlan10' });
  assert.match(convert('macvlan-8021q-trunk').yaml, '# automatic in Docker (192.168.10.2)');
});

test('ipvlan l3 and internal networks: a gateway that is the first usable address is left out, another is kept; EnableIPv6 false drops an IPv6 subnet', () => {
  const l3 = convert('ipvlan-l3').yaml;
  assert.equal(parse(l3).networks.ipvlan110.subnets, [{ subnet: '192.168.110.0/24' }, { subnet: '192.168.112.0/24' }]);
  assert.match(
    l3,
    '# gateway 192.168.110.1 left out: ipvlan l3 routes by "default dev eth0", and the first usable address is held back anyway',
  );
  const other = importDocker(
    [
      {
        name: 'n.json',
        json: [
          {
            Name: 'r',
            Driver: 'ipvlan',
            Options: { parent: 'eth0', ipvlan_mode: 'l3s' },
            IPAM: { Config: [{ Subnet: '10.9.0.0/24', Gateway: '10.9.0.254' }] },
          },
        ],
      },
    ],
    [],
  ).yaml;
  assert.equal(parse(other).networks.r.subnets, [{ subnet: '10.9.0.0/24', gateway: '10.9.0.254' }]);
  assert.match(
    other,
    '# gateway 10.9.0.254 kept only to hold it back, as Docker does: ipvlan l3s routes by "default dev eth0" (validate warns)',
  );
  const internal = parse(convert('internal').yaml);
  assert.equal(internal.networks.isolated2, { driver: 'ipvlan', internal: true, subnets: [{ subnet: '192.168.11.0/24' }] });
  assert.equal(internal.networks.isolated3.subnets, [{ subnet: '172.18.0.0/16' }]);
  const net = (enable: boolean) =>
    importDocker(
      [
        {
          name: 'n.json',
          json: [
            {
              Name: 'v6',
              Driver: 'macvlan',
              EnableIPv6: enable,
              Options: { parent: 'eth0' },
              IPAM: { Config: [{ Subnet: '10.0.0.0/24' }, { Subnet: '2001:db8::/64' }] },
            },
          ],
        },
      ],
      [],
    ).yaml;
  assert.equal(parse(net(true)).networks.v6.subnets, [{ subnet: '10.0.0.0/24' }, { subnet: '2001:db8::/64' }]);
  assert.equal(parse(net(false)).networks.v6.subnets, [{ subnet: '10.0.0.0/24' }]);
  assert.match(net(false), '# not carried: subnet 2001:db8::/64 (EnableIPv6 is false');
});

test('aux addresses, ip ranges and several subnets carry over', () => {
  const config = parse(convert('multi-subnet').yaml);
  assert.equal(config.networks.macvlan64.subnets[0], {
    subnet: '192.168.164.0/24',
    gateway: '192.168.164.1',
    ip_range: '192.168.164.128/25',
    aux_addresses: { router2: '192.168.164.2', printer: '192.168.164.3' },
  });
});

test('what cannot be carried is a comment naming it and why; config-only networks feed their --config-from network', () => {
  const result = convert('options');
  const config = parse(result.yaml);
  assert.equal(Object.keys(config.networks), ['swarm-macvlan', 'lab_net', 'guests']);
  assert.equal(config.networks['swarm-macvlan'], {
    driver: 'macvlan',
    parent: 'eth0.50',
    subnets: [{ subnet: '192.168.50.0/24', gateway: '192.168.50.1', ip_range: '192.168.50.64/26' }],
  });
  assert.equal(config.networks.lab_net, {
    driver: 'macvlan',
    parent: 'eth1',
    mode: 'private',
    mtu: 9000,
    subnets: [{ subnet: '10.20.0.0/24', gateway: '10.20.0.1' }],
  });
  assert.equal(config.networks.guests.flag, 'private');
  assert.equal(config.networks.guests.mtu, 1400);
  for (const comment of [
    'not carried: label com.example.team=infra',
    'not carried: attachable',
    'not carried: scope swarm',
    'not carried: option ipvlan_flag=private (an ipvlan option',
    'not carried: option com.docker.network.enable_ipv6=false (a Docker engine option',
    'not carried: option vlan_tagging=strict',
    'not carried: IPAM option com.docker.network.ipam.serial=true',
    'not carried: label stage (',
    'parent, options and subnets from config-only network "macvlan-config" (--config-from)',
    'not imported: network "orphan-swarm" (its configuration is in config-only network "ipvlan-config"',
    'not imported: network "host" (driver host',
  ])
    assert.match(result.yaml, `# ${comment}`);
  assert.ok(result.notes.some((n) => n.startsWith('not imported: network "host"')));
  assert.ok(
    result.notes.some((n) => /^\d+ settings of Docker not carried over/.test(n)),
    result.notes.join('\n'),
  );
});

test('containers: one endpoint per imported network; several networks share a namespace, ordered as Docker picks the gateway', () => {
  const result = convert('containers');
  const config = parse(result.yaml);
  assert.equal(config.endpoints, {
    web: { network: 'lan', ipv4: '192.168.1.10' },
    'db-lan': { network: 'lan', netns: 'db', ifname: 'eth0', ipv4: '192.168.1.20', mac: '02:00:00:00:01:20' },
    'db-storage': { network: 'storage', netns: 'db', ifname: 'eth1', ipv4: '10.10.0.20', default_route: false },
    'monitor-storage': { network: 'storage', netns: 'monitor', ifname: 'eth0', ipv4: '10.10.0.30' },
    'monitor-lan': { network: 'lan', netns: 'monitor', ifname: 'eth1', default_route: false },
    'nightly.backup': { network: 'storage', ipv4: '10.10.0.40' },
  });
  assert.match(result.yaml, '# also on Docker network bridge, not imported');
  assert.match(result.yaml, '# not carried: MAC c6:1e:4b:9a:0f:11 (Docker may have generated it; --keep-macs carries it)');
  assert.match(result.yaml, '# the container was not running in Docker (exited)');
  assert.ok(result.notes.includes('not imported: container "job" (on no imported network: bridge)'), result.notes.join('\n'));
  assert.is(result.endpoints, 6);
  assert.is(result.networks, 2);
});

test('--keep-macs carries the MAC of every macvlan endpoint, never of an ipvlan one', () => {
  const config = parse(convert('containers', { keepMacs: true }).yaml);
  assert.is(config.endpoints.web.mac, 'c6:1e:4b:9a:0f:11');
  assert.is(config.endpoints['monitor-lan'].mac, 'ae:51:70:0c:3d:02');
  assert.is(config.endpoints['db-storage'].mac, undefined);
  assert.not.match(convert('containers', { keepMacs: true }).yaml, 'not carried: MAC');
});

test('names become [A-Za-z0-9_.-]+, and two that meet get a suffix', () => {
  assert.is(sanitise('/my app:v2'), 'my_app_v2');
  assert.is(sanitise('web-1.prod_a'), 'web-1.prod_a');
  const nets = [
    { Name: 'a b', Id: '1', Driver: 'macvlan', Options: { parent: 'eth0' } },
    { Name: 'a_b', Id: '2', Driver: 'macvlan', Options: { parent: 'eth1' } },
  ];
  const config = parse(importDocker([{ name: 'n.json', json: nets }], []).yaml);
  assert.equal(Object.keys(config.networks), ['a_b', 'a_b-2']);
});

test('errors are one line naming the file (and the network) and what was expected', () => {
  const fails = (networks: unknown, containers: unknown[] = [], message: string | RegExp = '') => {
    try {
      importDocker(
        [{ name: 'nets.json', json: networks }],
        containers.map((json) => ({ name: 'ctrs.json', json })),
      );
    } catch (e) {
      assert.instance(e, UsageError);
      assert.not.match((e as Error).message, '\n');
      assert.match((e as Error).message, message);
      return;
    }
    assert.unreachable(`no error for ${JSON.stringify(networks)}`);
  };
  fails({ Name: 'x' }, [], 'nets.json: expected the JSON of `docker network inspect` (an array of networks), got a map');
  fails([42], [], 'nets.json: item 1: expected a network (a map), got 42');
  fails([{ Name: 'x', NetworkSettings: {} }], [], 'nets.json: item 1 is a container, not a network');
  fails(
    [{ Name: 'x', Driver: 'macvlan', IPAM: { Config: [{ Subnet: 5 }] } }],
    [],
    'nets.json: item 1 ("x"): IPAM.Config[0].Subnet: expected a string, got 5',
  );
  fails([{ Name: 'm', Driver: 'macvlan', Options: { macvlan_mode: 'l3' } }], [], 'nets.json: network "m": unknown macvlan_mode "l3"');
  fails(
    [{ Name: 'i', Driver: 'ipvlan', Options: { ipvlan_mode: 'l4' } }],
    [],
    'network "i": unknown ipvlan_mode "l4" (expected one of l2, l3, l3s)',
  );
  fails([{ Name: 'i', Driver: 'ipvlan', Options: { ipvlan_flag: 'loud' } }], [], 'network "i": unknown ipvlan_flag "loud"');
  fails(
    [{ Name: 'i', Driver: 'ipvlan', Options: { 'com.docker.network.driver.mtu': 'big' } }],
    [],
    'network "i": com.docker.network.driver.mtu "big" is not a whole number',
  );
  fails([], [{}], 'ctrs.json: expected the JSON of `docker inspect` of containers');
  fails([], [[{ Name: 'n', Driver: 'bridge' }]], 'ctrs.json: item 1 is a network, not a container');
  try {
    importDocker(
      [
        { name: 'host1.json', json: [{ Name: 'n', Id: 'a', Driver: 'macvlan' }] },
        { name: 'host2.json', json: [{ Name: 'n', Id: 'b', Driver: 'macvlan' }] },
      ],
      [],
    );
    assert.unreachable('two networks of one name');
  } catch (e) {
    assert.match((e as Error).message, 'host2.json: network "n" is also in host1.json with another id');
  }
});

// --- the command line -------------------------------------------------------------------------

const trunk = readFileSync(join(fixtures, 'macvlan-8021q-trunk', 'networks.json'), 'utf8');

test('vlannet import docker: standard input (none or -), notes on stderr, the same YAML as the library', () => {
  const expected = importDocker([{ name: 'standard input', json: JSON.parse(trunk) }], []).yaml;
  for (const args of [
    ['import', 'docker'],
    ['import', 'docker', '-'],
  ]) {
    const r = vlannet(args, trunk);
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout, expected);
    assert.match(r.stderr, 'note: network "macvlan10" has 2 containers in Docker: pass `docker inspect` of them with --containers');
  }
});

test('vlannet import docker FILE... --containers FILE -o FILE writes the file and nothing on stdout', () => {
  const out = join(dir, 'out.yaml');
  const nets = join(fixtures, 'containers', 'networks.json');
  const ctrs = join(fixtures, 'containers', 'containers.json');
  const r = vlannet(['import', 'docker', nets, '--containers', ctrs, '-o', out]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, '');
  const written = readFileSync(out, 'utf8');
  assert.match(written, /^# Imported from Docker by `vlannet import docker`,\n/);
  assert.match(written, `from ${nets} (docker network inspect) and ${ctrs} (docker inspect).`);
  assert.equal(Object.keys(parse(written).endpoints), ['web', 'db-lan', 'db-storage', 'monitor-storage', 'monitor-lan', 'nightly.backup']);
  assert.match(r.stderr, 'note: not imported: network "bridge"');
  assert.match(r.stderr, 'note: not imported: container "job"');
  const macs = vlannet(['import', 'docker', nets, '--containers', ctrs, '--keep-macs']);
  assert.is(parse(macs.stdout).endpoints.web.mac, 'c6:1e:4b:9a:0f:11');
});

test('vlannet import docker: a bridge-only input is a file with no networks, and a note', () => {
  const r = vlannet(['import', 'docker', join(fixtures, 'bridge', 'networks.json')]);
  assert.is(r.status, 0, r.stderr);
  assert.equal(parse(r.stdout), { version: 1, networks: {} });
  assert.match(
    r.stdout,
    '# not imported: network "bridge" (driver bridge: vlannet makes macvlan and ipvlan networks only)\nnetworks: {}\n',
  );
  assert.is(r.stderr, 'note: not imported: network "bridge" (driver bridge: vlannet makes macvlan and ipvlan networks only)\n');
});

test('vlannet import: bad input is one line naming the file, exit 1, nothing on stdout', () => {
  const bad = join(dir, 'bad.json');
  const cases: [string[], string | undefined, string][] = [
    [['import', 'docker', bad], undefined, `error: ${bad}: not JSON (`],
    [['import', 'docker', join(dir, 'missing.json')], undefined, `error: cannot read ${join(dir, 'missing.json')}: no such file (ENOENT)`],
    [
      ['import', 'docker'],
      '{"Name": "x"}',
      'error: standard input: expected the JSON of `docker network inspect` (an array of networks), got a map',
    ],
    [['import', 'docker'], '', 'error: standard input: not JSON (it is empty)'],
    [['import', 'docker', '-', '--containers', '-'], '[]', 'error: standard input (-) can be read only once'],
    [['import', 'podman', bad], undefined, 'error: import podman: unknown source, expected docker'],
  ];
  writeFileSync(bad, 'Error: No such network: macnet\n');
  for (const [args, input, message] of cases) {
    const r = vlannet(args, input);
    assert.is(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stdout, '');
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});

test.run();
