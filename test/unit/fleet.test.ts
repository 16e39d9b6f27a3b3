// One config for a fleet of hosts (`hosts:`): which entries apply to which host (name, machine id,
// labels, several at once), names unique across the file, each diagnostic at the line and column
// where its object is written and saying for which hosts, addresses hosts share on a wire, per-host
// ranges; then the command line: validate with and without --host, plan --host --observed offline,
// a saved plan's host, and examples/fleet/plan-all.sh against the built command.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planToSave } from '../../src/apply/reconcile.js';
import { planData } from '../../src/cli/commands.js';
import { hostIdentity, identityGiven, splitLabel } from '../../src/cli/identity.js';
import { document } from '../../src/cli/output.js';
import { identityOf, readSavedPlan, savedBlock, writeSavedPlan } from '../../src/cli/saved.js';
import type { HostIdentity } from '../../src/config/hosts.js';
import { type LoadResult, loadConfig } from '../../src/config/load.js';
import { formatDiagnostic } from '../../src/errors.js';
import { allocateAddresses } from '../../src/model/addressing.js';
import { type Config, OBSERVED_FORMAT_VERSION, type ObservedState } from '../../src/model/types.js';
import { fingerprintScope } from '../../src/plan/saved.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { link } from '../fixtures/plan/build.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
const dir = mkdtempSync(join(os.tmpdir(), 'vlannet-fleet-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const y = (...lines: string[]) => `${lines.join('\n')}\n`;
const host = (name: string, labels: Record<string, string> = {}, machineId: string | null = null): HostIdentity => ({
  name,
  machineId,
  labels,
});
const texts = (r: LoadResult) => r.diagnostics.map(formatDiagnostic);
const errors = (r: LoadResult) => r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
const warnings = (r: LoadResult) => r.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
const names = (c: Config | null) => c?.endpoints.map((e) => e.name) ?? null;
const EMPTY: ObservedState = { format_version: OBSERVED_FORMAT_VERSION, namespaces: [], links: [], addresses: [], routes: [] };

const MID = '0123456789abcdef0123456789abcdef';

/** Shared lan, and entries by name, by machine id, by labels, by host names. */
const FLEET = y(
  'version: 1', //                                                               1
  'networks:', //                                                                2
  '  lan: { driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.50.0/24 }] }', // 3
  'endpoints:', //                                                               4
  '  mon: { network: lan, ipv4: 192.168.50.5 }', //                              5
  'hosts:', //                                                                   6
  '  web-1:', //                                                                 7
  '    endpoints:', //                                                           8
  '      web1: { network: lan, ipv4: 192.168.50.11 }', //                        9
  '  web-2:', //                                                                10
  '    endpoints:', //                                                          11
  '      web2: { network: lan, ipv4: 192.168.50.12 }', //                       12
  '  by-id:', //                                                                13
  `    match: { machine_id: ${MID.toUpperCase()} }`, //                         14
  '    endpoints:', //                                                          15
  '      byid: { network: lan, ipv4: 192.168.50.13 }', //                       16
  '  rack-a:', //                                                               17
  '    match: { hostname: [db-1, web-1], labels: { rack: a, row: "1" } }', //    18
  '    endpoints:', //                                                          19
  '      racka: { network: lan, netns: racka, ifname: eth1, default_route: false, ipv4: 192.168.50.20 }', // 20
);

/** The same without static addresses that several hosts would have (the shared one, the group's): no errors, warnings about pools. */
const CLEAN = FLEET.replace('  mon: { network: lan, ipv4: 192.168.50.5 }', '  mon: { network: lan }').replace(
  'default_route: false, ipv4: 192.168.50.20 }',
  'default_route: false }',
);

// --- which entries apply ---------------------------------------------------------------------------

test('an entry applies to the host its key names; its objects are found where they are written', () => {
  const r = loadConfig(FLEET, 'f.yaml', host('web-2'));
  assert.equal(errors(r), []);
  assert.equal(names(r.config), ['mon', 'web2']);
  assert.equal(r.hosts?.applied, ['web-2']);
  const web2 = r.config!.endpoints.find((e) => e.name === 'web2')!;
  assert.is(web2.at, 'f.yaml:12:7');
  assert.is(web2.path, 'hosts.web-2.endpoints.web2');
  const mon = r.config!.endpoints.find((e) => e.name === 'mon')!;
  assert.equal([mon.at, mon.path], ['f.yaml:5:3', 'endpoints.mon']);
});

test('an entry with match applies only by it: by machine id (in any case), never by its key', () => {
  assert.equal(names(loadConfig(FLEET, 'f.yaml', host('x', {}, MID)).config), ['byid', 'mon']);
  assert.equal(names(loadConfig(FLEET, 'f.yaml', host('x', {}, MID.toUpperCase())).config), ['byid', 'mon']);
  const byKey = loadConfig(FLEET, 'f.yaml', host('by-id'));
  assert.is(byKey.config, null, 'no entry applies to a host named by-id: refused');
  assert.equal(byKey.hosts?.applied, []);
});

test('by labels: every label of the match, with its value; more labels on the host are fine', () => {
  assert.equal(names(loadConfig(FLEET, 'f.yaml', host('x', { rack: 'a', row: '1', zone: 'z' })).config), ['mon', 'racka']);
  assert.equal(loadConfig(FLEET, 'f.yaml', host('x', { rack: 'a' })).hosts?.applied, []);
  assert.equal(loadConfig(FLEET, 'f.yaml', host('x', { rack: 'a', row: '2' })).hosts?.applied, []);
});

test('several entries apply to one host: the shared sections and each of them', () => {
  const r = loadConfig(FLEET, 'f.yaml', host('web-1', {}, MID));
  assert.equal(errors(r), []);
  assert.equal(r.hosts?.applied, ['web-1', 'by-id', 'rack-a']);
  assert.equal(names(r.config), ['byid', 'mon', 'racka', 'web1']);
  assert.equal(
    r.config!.endpoints.map((e) => e.path),
    ['hosts.by-id.endpoints.byid', 'endpoints.mon', 'hosts.rack-a.endpoints.racka', 'hosts.web-1.endpoints.web1'],
  );
  // by a name in match.hostname
  assert.equal(loadConfig(FLEET, 'f.yaml', host('db-1')).hosts?.applied, ['rack-a']);
});

test('no entry applies: refused, naming the host; an empty entry opts into the shared part alone', () => {
  const r = loadConfig(FLEET, 'f.yaml', host('mail', { rack: 'b' }, MID.replace('0', 'f')));
  assert.is(r.config, null);
  assert.equal(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), [
    `f.yaml:6:1: error: hosts: no entry of hosts applies to this host (name "mail", machine id ${MID.replace('0', 'f')}, labels rack=b): the shared part alone is not applied, since that would remove what an entry made here before (a renamed host, a mistyped --host or --label). Give the host an entry ("mail": {} for the shared part alone)`,
  ]);
  assert.match(formatDiagnostic(loadConfig(FLEET, 'f.yaml', host('mail')).diagnostics[0]!), 'machine id unknown, labels none');
  const opted = loadConfig(`${FLEET}  mail: {}\n`, 'f.yaml', host('mail'));
  assert.equal(names(opted.config), ['mon']);
  assert.equal(opted.diagnostics, []);
});

test('a file without hosts: reads the same with and without an identity; so does an empty hosts: section', () => {
  const plain = y(
    'version: 1',
    'networks:',
    '  lan: { driver: macvlan, parent: eth0 }',
    'endpoints:',
    '  a: { network: lan }',
    '  b: { network: lann }',
  );
  const without = loadConfig(plain, 'p.yaml');
  assert.equal(loadConfig(plain, 'p.yaml', host('web-1', { rack: 'a' }, MID)), without);
  assert.is(without.hosts, undefined);
  const empty = loadConfig(plain.replace('version: 1\n', 'version: 1\nhosts: {}\n'), 'p.yaml', host('web-1'));
  assert.equal(
    empty.diagnostics.map((d) => [d.path, d.message]),
    without.diagnostics.map((d) => [d.path, d.message]),
  );
  assert.is(empty.hosts, undefined);
});

// --- names, places, hosts --------------------------------------------------------------------------

test("a name is unique across the file: an entry repeating a shared name or an earlier entry's is an error at its key", () => {
  const text = y(
    'version: 1',
    'networks:',
    '  lan: { driver: macvlan, parent: eth0 }',
    'endpoints:',
    '  a: { network: lan }',
    'hosts:',
    '  h1:',
    '    endpoints:',
    '      a: { network: lan }',
    '      b: { network: lan }',
    '  h2:',
    '    networks:',
    '      lan: { driver: ipvlan, parent: eth1 }',
    '    endpoints:',
    '      b: { network: lan, netns: other }',
  );
  const r = loadConfig(text, 'd.yaml');
  assert.equal(errors(r), [
    'd.yaml:9:7: error: hosts.h1.endpoints.a: endpoint "a" is already defined in the shared endpoints (d.yaml:5:3): names of vlans, networks and endpoints are unique across the whole file, shared sections and host entries alike',
    'd.yaml:13:7: error: hosts.h2.networks.lan: network "lan" is already defined in the shared networks (d.yaml:3:3): names of vlans, networks and endpoints are unique across the whole file, shared sections and host entries alike',
    'd.yaml:15:7: error: hosts.h2.endpoints.b: endpoint "b" is already defined in host entry h1 (d.yaml:10:7): names of vlans, networks and endpoints are unique across the whole file, shared sections and host entries alike',
  ]);
  // The repeated object is left out: host h2 gets one network lan, the shared one, and no b.
  const h2 = loadConfig(text, 'd.yaml', host('h2'));
  assert.equal(h2.config, null);
  assert.equal(errors(h2).length, 2);
});

test('errors in an entry are at its line and column, and say for which hosts', () => {
  const text = y(
    'version: 1', //                                                  1
    'networks:', //                                                   2
    '  lan: { driver: macvlan, parent: eth0 }', //                    3
    'endpoints:', //                                                  4
    '  shared: { network: lan, netns: ns1 }', //                      5
    'hosts:', //                                                      6
    '  web-1:', //                                                    7
    '    endpoints:', //                                              8
    '      w1: { network: lann }', //                                 9
    '      w2: { network: lan, netns: ns1 }', //                      10
    '  rack-a:', //                                                   11
    '    match: { hostname: [db-1, db-2], labels: { rack: a } }', //   12
    '    networks:', //                                               13
    '      n2: { driver: macvlan, parent: eth1, mode: l3 }', //        14
  );
  const r = loadConfig(text, 'e.yaml');
  assert.equal(errors(r), [
    'e.yaml:9:22: error: hosts.web-1.endpoints.w1.network: network "lann" is not defined; networks: lan (host web-1)',
    `e.yaml:10:7: error: hosts.web-1.endpoints.w2: interface "eth0" in namespace "ns1" is already endpoint "shared"'s (e.yaml:5:3) (host web-1)`,
    'e.yaml:14:50: error: hosts.rack-a.networks.n2.mode: mode "l3" is not a macvlan mode: expected one of bridge, private, vepa, passthru (hosts db-1, db-2 and hosts matching rack-a)',
  ]);
  assert.is(r.config, null);
  // For one host: its own problems only; the entries that do not apply to it are theirs.
  const db = loadConfig(text, 'e.yaml', host('db-1'));
  assert.equal(errors(db), [
    'e.yaml:14:50: error: hosts.rack-a.networks.n2.mode: mode "l3" is not a macvlan mode: expected one of bridge, private, vepa, passthru',
  ]);
  const other = loadConfig(`${text}  mail: {}\n`, 'e.yaml', host('mail'));
  assert.equal(errors(other), []);
  assert.equal(names(other.config), ['shared']);
});

test('schema errors: in an entry that applies, or in its match or shape, they count for every host', () => {
  const text = y(
    'version: 1',
    'hosts:',
    '  web-1:',
    '    endpoints:',
    '      w1: { network: lan, ipv4: 5 }',
    '  bad-match:',
    '    match: { labels: {} }',
    '  typo:',
    '    endpoint: {}',
  );
  const every = loadConfig(text, 's.yaml');
  assert.equal(
    every.diagnostics.map((d) => d.path),
    ['hosts.web-1.endpoints.w1.ipv4', 'hosts.bad-match.match.labels', 'hosts.typo.endpoint'],
  );
  const mail = loadConfig(text, 's.yaml', host('mail'));
  assert.equal(
    mail.diagnostics.map((d) => d.path),
    ['hosts', 'hosts.bad-match.match.labels', 'hosts.typo.endpoint'],
  );
  assert.match(errors(mail)[0]!, 'no entry of hosts applies to this host');
  assert.match(errors(mail)[1]!, 'an empty labels map would match every host');
  assert.match(errors(mail)[2]!, 'unknown key "endpoint"; allowed here: match, vlans, networks, endpoints, ip_ranges');
});

test('validate without a host checks every host the file names, each group by machine id or labels, and a host no entry applies to', () => {
  const r = loadConfig(CLEAN, 'f.yaml');
  assert.equal(errors(r), []);
  assert.equal(names(r.config), ['mon'], 'the config is the shared part');
  assert.equal(
    r.hosts?.checks.map((c) => [c.kind, c.name, c.entries, names(c.config)]),
    [
      ['host', 'web-1', ['web-1', 'rack-a'], ['mon', 'racka', 'web1']],
      ['host', 'web-2', ['web-2'], ['mon', 'web2']],
      ['host', 'db-1', ['rack-a'], ['mon', 'racka']],
      ['group', 'by-id', ['by-id'], ['byid', 'mon']],
      ['group', 'rack-a', ['rack-a'], ['mon', 'racka']],
      ['shared', '', [], ['mon']],
    ],
  );
});

// --- between hosts -----------------------------------------------------------------------------------

test('a static address on a shared wire: on every host (shared), or on two hosts, is an error; in a group by labels, a warning', () => {
  const r = loadConfig(
    FLEET.replace('web2: { network: lan, ipv4: 192.168.50.12 }', 'web2: { network: lan, ipv4: 192.168.50.11 }'),
    'f.yaml',
  );
  assert.equal(errors(r), [
    'f.yaml:5:30: error: endpoints.mon.ipv4: ipv4 "192.168.50.5" of endpoint "mon" is on hosts web-1, web-2, db-1 and hosts matching by-id, rack-a, on network "lan", whose parent "eth0" the hosts share: an address must answer once on a wire; give each host its own address, in its own entry',
    'f.yaml:12:35: error: hosts.web-2.endpoints.web2.ipv4: ipv4 "192.168.50.11" of endpoint "web2" (host web-2) is already endpoint "web1"\'s on host web-1 (f.yaml:9:35), on network "lan", whose parent "eth0" the hosts share: an address must answer once on a wire',
    'f.yaml:20:86: error: hosts.rack-a.endpoints.racka.ipv4: ipv4 "192.168.50.20" of endpoint "racka" is on hosts web-1, db-1 and hosts matching rack-a, on network "lan", whose parent "eth0" the hosts share: an address must answer once on a wire; give each host its own address, in its own entry',
  ]);
  const byLabels = loadConfig(
    y(
      'version: 1',
      'networks:',
      '  lan: { driver: macvlan, parent: eth0, subnets: [{ subnet: 192.168.50.0/24 }] }',
      '  own: { driver: macvlan, internal: true, subnets: [{ subnet: 192.168.50.0/24 }] }',
      'hosts:',
      '  rack-a:',
      '    match: { labels: { rack: a } }',
      '    endpoints:',
      '      racka: { network: lan, ipv4: 192.168.50.20 }',
      '      isolated: { network: own, ipv4: 192.168.50.20 }',
    ),
    'g.yaml',
  );
  assert.equal(errors(byLabels), []);
  assert.equal(texts(byLabels), [
    'g.yaml:9:36: warning: hosts.rack-a.endpoints.racka.ipv4: ipv4 "192.168.50.20" of endpoint "racka" is on hosts matching rack-a, on network "lan", whose parent "eth0" the hosts share: if those are more than one host, the address answers twice on the wire; give each host its own address, in its own entry',
  ]);
});

const POOLS = (web1: string, web2: string) =>
  y(
    'version: 1',
    'networks:',
    '  lan: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, ip_range: 10.0.0.128/25 }, { subnet: "2001:db8::/64" }] }',
    '  own: { driver: macvlan, subnets: [{ subnet: 10.0.0.0/24 }] }',
    'endpoints:',
    '  metrics: { network: lan, default_route: false }',
    '  local: { network: own }',
    'hosts:',
    `  web-1: { ${web1} }`,
    `  web-2: { ${web2} }`,
  );

test('automatic addresses from overlapping pools on a shared wire are a warning, at the first automatic object; ip_ranges per host silence it', () => {
  const r = loadConfig(POOLS('', ''), 'p.yaml');
  assert.equal(errors(r), []);
  assert.equal(texts(r), [
    'p.yaml:6:3: warning: endpoints.metrics: endpoint "metrics" gets an automatic IPv4 address on network "lan", and each host allocates its own (lowest free first), so hosts whose pools overlap would pick the same addresses on the wire: hosts web-1, web-2 from 10.0.0.128/25; give each host its own range (ip_ranges: { lan: CIDR } in its entry), or static addresses',
    'p.yaml:6:3: warning: endpoints.metrics: endpoint "metrics" gets an automatic IPv6 address on network "lan", and each host allocates its own (lowest free first), so hosts whose pools overlap would pick the same addresses on the wire: hosts web-1, web-2 from 2001:db8::/64; give each host its own range (ip_ranges: { lan: CIDR } in its entry), or static addresses',
  ]);
  const split = POOLS(
    'ip_ranges: { lan: [10.0.0.128/28, "2001:db8::1:0/112"] }',
    'ip_ranges: { lan: [10.0.0.144/28, "2001:db8::2:0/112"] }',
  );
  assert.equal(texts(loadConfig(split, 'p.yaml')), []);
  const overlapping = loadConfig(
    POOLS('ip_ranges: { lan: [10.0.0.128/27, "2001:db8::1:0/112"] }', 'ip_ranges: { lan: [10.0.0.144/28, "2001:db8::2:0/112"] }'),
    'p.yaml',
  );
  assert.equal(
    warnings(overlapping).map((w) => w.replace(/.*wire: /, '')),
    [
      'host web-1 from 10.0.0.128/27; host web-2 from 10.0.0.144/28; give each host its own range (ip_ranges: { lan: CIDR } in its entry), or static addresses',
    ],
  );
  // Each host allocates from its own range.
  const allocate = (name: string) => {
    const c = loadConfig(split, 'p.yaml', host(name)).config!;
    const a = allocateAddresses(c, EMPTY).byEndpoint.get('metrics')!;
    return [a[4]?.address, a[6]?.address];
  };
  assert.equal(allocate('web-1'), ['10.0.0.128', '2001:db8::1:0']);
  assert.equal(allocate('web-2'), ['10.0.0.144', '2001:db8::2:0']);
  const mail = loadConfig(`${split}  mail: {}\n`, 'p.yaml', host('mail')).config!;
  const a = allocateAddresses(mail, EMPTY).byEndpoint.get('metrics')!;
  assert.equal([a[4]?.address, a[6]?.address], ['10.0.0.128', '2001:db8::2'], 'a host with an empty entry: the network range');
});

test('automatic addresses in an entry: two hosts on one pool, or a group by labels that can be several hosts', () => {
  const text = y(
    'version: 1',
    'networks:',
    '  lan: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24 }] }',
    'hosts:',
    '  web-1: { endpoints: { a: { network: lan } } }',
    '  web-2: { endpoints: { b: { network: lan } } }',
    '  web-3: { ip_ranges: { lan: 10.0.0.64/26 }, endpoints: { c: { network: lan } } }',
    '  rack: { match: { labels: { rack: a } }, ip_ranges: { lan: 10.0.0.192/26 }, endpoints: { d: { network: lan } } }',
  );
  assert.equal(texts(loadConfig(text, 'a.yaml')), [
    'a.yaml:6:25: warning: hosts.web-2.endpoints.b: endpoint "b" gets an automatic IPv4 address on network "lan", and each host allocates its own (lowest free first), so hosts whose pools overlap would pick the same addresses on the wire: hosts web-1, web-2 from 10.0.0.0/24; give each host its own range (ip_ranges: { lan: CIDR } in its entry), or static addresses',
    'a.yaml:7:59: warning: hosts.web-3.endpoints.c: endpoint "c" gets an automatic IPv4 address on network "lan", and each host allocates its own (lowest free first), so hosts whose pools overlap would pick the same addresses on the wire: hosts web-1, web-2 from 10.0.0.0/24; host web-3 from 10.0.0.64/26; give each host its own range (ip_ranges: { lan: CIDR } in its entry), or static addresses',
    'a.yaml:8:91: warning: hosts.rack.endpoints.d: endpoint "d" gets an automatic IPv4 address on network "lan", and each host allocates its own (lowest free first), so hosts whose pools overlap would pick the same addresses on the wire: hosts web-1, web-2 from 10.0.0.0/24; hosts matching rack from 10.0.0.192/26 (a group by labels or machine ids can be several hosts); give each host its own range (ip_ranges: { lan: CIDR } in its entry), or static addresses',
  ]);
});

test('ip_ranges: inside the first subnet of its family, of a network the host has, one per subnet and host', () => {
  const text = y(
    'version: 1',
    'networks:',
    '  lan: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24 }, { subnet: 10.1.0.0/24 }] }',
    'hosts:',
    '  web-1:',
    '    ip_ranges: { lan: [10.1.0.0/28, "2001:db8::/64"], nope: 10.0.0.0/28 }',
    '  both:',
    '    match: { hostname: web-2 }',
    '    ip_ranges: { lan: 10.0.0.0/28 }',
    '  web-2:',
    '    ip_ranges: { lan: 10.0.0.16/28 }',
  );
  assert.equal(errors(loadConfig(text, 'r.yaml')), [
    'r.yaml:6:24: error: hosts.web-1.ip_ranges.lan[0]: range 10.1.0.0/28 is outside 10.0.0.0/24, the first IPv4 subnet of network "lan" (automatic addresses come from it) (host web-1)',
    'r.yaml:6:37: error: hosts.web-1.ip_ranges.lan[1]: network "lan" has no IPv6 subnet for the range 2001:db8::/64 (host web-1)',
    'r.yaml:6:55: error: hosts.web-1.ip_ranges.nope: ip_ranges names network "nope", which this host does not have; its networks: lan (host web-1)',
    'r.yaml:11:23: error: hosts.web-2.ip_ranges.lan: range 10.0.0.16/28 for the IPv4 subnet of network "lan" on this host, which already has 10.0.0.0/28 from host entry both (r.yaml:9:23): give one (host web-2)',
  ]);
});

// --- the command line --------------------------------------------------------------------------------

function vlannet(...args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'vlannet.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', VLANNET_RUN_DIR: join(dir, 'run') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('identity: --host names the host (no machine id unless given), else this machine; labels KEY=VALUE', () => {
  assert.equal(
    hostIdentity({ host: 'web-1', label: ['rack=a', 'url=x=y'] }, () => MID),
    {
      name: 'web-1',
      machineId: null,
      labels: { rack: 'a', url: 'x=y' },
    },
  );
  assert.equal(hostIdentity({ host: 'web-1', machineId: MID.toUpperCase() }, () => null).machineId, MID);
  assert.equal(
    hostIdentity({}, () => MID),
    { name: os.hostname(), machineId: MID, labels: {} },
  );
  assert.is(identityGiven({}), false);
  assert.is(identityGiven({ label: ['a=b'] }), true);
  assert.throws(() => hostIdentity({ label: ['rack=a', 'rack=b'] }), /given twice/);
  assert.throws(() => splitLabel('=a'), /expected KEY=VALUE/);
});

test('validate: every host without --host (and how many it checked), that host with --host', () => {
  const file = join(dir, 'clean.yaml');
  writeFileSync(file, CLEAN);
  const every = vlannet('validate', '-f', file);
  assert.is(every.status, 0, every.stderr);
  assert.is(
    every.stdout,
    `${file}: valid for every host: checked 3 hosts by name (web-1, web-2, db-1), 2 groups by machine id or labels (by-id, rack-a) and a host no entry applies to (shared: 1 networks, 1 endpoints, 0 vlan links)\n`,
  );
  const one = vlannet('validate', '-f', file, '--host', 'web-1');
  assert.is(one.stdout, `${file}: valid for host web-1, with entries web-1, rack-a (1 networks, 3 endpoints, 0 vlan links)\n`);
  const labelled = vlannet('validate', '-f', file, '--host', 'mail', '--label', 'rack=a', '--label', 'row=1', '--json');
  const doc = JSON.parse(labelled.stdout);
  assert.equal(doc.hosts, [{ kind: 'host', name: 'mail', entries: ['rack-a'], counts: { networks: 1, endpoints: 2, vlans: 0 } }]);
  const none = vlannet('validate', '-f', file, '--host', 'mail');
  assert.is(none.status, 1);
  assert.match(none.stderr, 'error: hosts: no entry of hosts applies to this host (name "mail", machine id unknown, labels none)');
  const bad = vlannet('validate', '-f', file, '--label', 'rack');
  assert.is(bad.status, 1);
  assert.match(bad.stderr, 'expected KEY=VALUE');
});

test('validate: a pool that runs out on one host is an error for that host', () => {
  const file = join(dir, 'small.yaml');
  writeFileSync(
    file,
    y(
      'version: 1',
      'networks:',
      '  lan: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24 }] }',
      'endpoints:',
      '  m: { network: lan, default_route: false }',
      'hosts:',
      '  web-1: { ip_ranges: { lan: 10.0.0.8/31 }, endpoints: { a: { network: lan }, b: { network: lan } } }',
      '  web-2: { ip_ranges: { lan: 10.0.0.16/28 }, endpoints: { c: { network: lan } } }',
    ),
  );
  const r = vlannet('validate', '-f', file);
  assert.is(r.status, 1);
  assert.match(r.stderr, /error: .*no free IPv4 address left for endpoint .* \(host web-1\)/);
  assert.not.match(r.stderr, 'web-2)');
  assert.is(vlannet('validate', '-f', file, '--host', 'web-2').status, 0);
});

test('plan --host --observed: a host planned offline against its snapshot', () => {
  const fleet = join(root, 'examples', 'fleet');
  const r = vlannet(
    'plan',
    '-f',
    join(fleet, 'vlannet.yaml'),
    '--host',
    'web-1',
    '--observed',
    join(fleet, 'snapshots', 'web-1.json'),
    '--json',
    '--detailed-exitcode',
  );
  assert.is(r.status, 2, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(
    doc.changes.map((c: { object: string; change: string }) => `${c.change} ${c.object}`),
    ['create vlan.eth0.60'],
    'web-1 is converged but for the storage VLAN',
  );
  const db = vlannet(
    'plan',
    '-f',
    join(fleet, 'vlannet.yaml'),
    '--host',
    'db-1',
    '--observed',
    join(fleet, 'snapshots', 'db-1.json'),
    '--compact',
  );
  assert.is(db.status, 0, db.stderr);
  assert.match(db.stdout, '+ endpoint.pg-1');
  assert.match(db.stdout, '+ endpoint.backup-agent');
  assert.match(db.stdout, '+ vlan.eth0.70');
});

test('a saved plan records its host, labels and all, and apply PLANFILE resolves the file for it', async () => {
  const kernel = new MemoryKernel().seed({ links: [link('eth0', { index: 2 }), link('lo', { index: 1, mtu: 65536 })] });
  const text = CLEAN;
  const file = join(dir, 'saved.yaml');
  writeFileSync(file, text);
  const identity = host('web-1', { myRack: 'a', 'row.number': '1' }, MID);
  const c = loadConfig(text, file, identity).config!;
  const { plan, observed, desired } = await planToSave(kernel, c);
  const block = savedBlock(file, text, plan, observed, fingerprintScope(desired, plan, []), identity);
  const planFile = join(dir, 'saved.plan');
  writeSavedPlan(planFile, document('plan', { file, daemonPid: null, ...planData(plan), saved: block }));
  const written = JSON.parse(readFileSync(planFile, 'utf8'));
  assert.equal(written.saved.host, { name: 'web-1', machine_id: MID, labels: ['myRack=a', 'row.number=1'] });
  assert.equal(identityOf(readSavedPlan(planFile)), identity);
});

// --- examples/fleet/plan-all.sh ------------------------------------------------------------------------

function planAll(fleetDir: string) {
  const r = spawnSync('bash', [join(root, 'examples', 'fleet', 'plan-all.sh'), fleetDir], {
    encoding: 'utf8',
    env: { ...process.env, VLANNET: `${process.execPath} ${join(root, 'bin', 'vlannet.js')}`, VLANNET_RUN_DIR: join(dir, 'run') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('plan-all.sh: validates once, plans every host with a snapshot, a section each', () => {
  const r = planAll(join(root, 'examples', 'fleet'));
  assert.is(r.status, 0, r.stdout + r.stderr);
  const sections = r.stdout.split('\n').filter((l) => l.startsWith('==='));
  assert.equal(sections.slice(1), [
    '=== host db-1 (planned against snapshots/db-1.json)',
    '=== host db-2 (planned against snapshots/db-2.json)',
    '=== host web-1 (planned against snapshots/web-1.json)',
    '=== host web-2 (planned against snapshots/web-2.json)',
    '=== all hosts planned',
  ]);
  assert.match(r.stdout, 'valid for every host: checked 4 hosts by name (web-1, web-2, db-1, db-2)');
  for (const h of ['db-1', 'db-2', 'web-1', 'web-2']) assert.match(r.stdout, `--- ${h}: changes pending`);
  // web-2's snapshot is of an older revision: www-2 had another address, legacy-2 is gone from the file.
  assert.match(r.stdout, 'address changed from 192.168.50.22/24 to 192.168.50.12/24');
  assert.match(r.stdout, '- netns.legacy-2');
});

test('plan-all.sh: snapshots older than the file are no failure; a host left out of the file or a file with errors is, and every host is still planned', () => {
  const copy = join(dir, 'fleet-copy');
  cpSync(join(root, 'examples', 'fleet'), copy, { recursive: true });
  const config = join(copy, 'vlannet.yaml');
  const original = readFileSync(config, 'utf8');
  // Since the snapshots: web-1 lost an endpoint and gained one, db-2 lost its own endpoint, a shared endpoint came.
  const changed = original
    .replace(
      "      cache-1: { network: lan }            # automatic: 192.168.50.128, from web-1's range\n",
      '      api-1: { network: lan, ipv4: 192.168.50.31 }\n',
    )
    .replace(/ {2}db-2:\n {4}endpoints:\n {6}pg-2: .*\n/, '  db-2: {}\n')
    .replace('hosts:\n', 'endpoints:\n  ntp: { network: storage, netns: host, ifname: ntp0 }\n\nhosts:\n');
  writeFileSync(config, changed);
  const stale = planAll(copy);
  assert.is(stale.status, 0, stale.stdout + stale.stderr);
  assert.match(stale.stdout, '- netns.cache-1');
  assert.match(stale.stdout, '+ endpoint.api-1');
  assert.match(stale.stdout, '--- db-2: changes pending');
  assert.match(stale.stdout, '=== all hosts planned');

  // db-2 left the file, its snapshot did not: its daemon would refuse the file, and so does CI.
  writeFileSync(config, changed.replace('  db-2: {}\n', '').replace('hostname: [db-1, db-2]', 'hostname: [db-1]'));
  const gone = planAll(copy);
  assert.is(gone.status, 1);
  assert.match(gone.stdout, '--- db-2: FAILED');
  assert.match(gone.stderr, 'no entry of hosts applies to this host (name "db-2"');
  assert.match(gone.stdout, '--- web-1: changes pending');

  writeFileSync(config, original.replace('pg-1: { network: storage, ipv4: 10.60.0.21 }', 'pg-1: { network: storage, ipv4: 10.60.0.22 }'));
  const bad = planAll(copy);
  assert.is(bad.status, 1);
  assert.match(bad.stderr, 'is already endpoint "pg-1"\'s on host db-1');
  assert.match(bad.stdout, '--- web-1: changes pending', 'the other hosts are planned all the same');
  assert.match(bad.stdout, '=== FAILED');
});

test('plan-all.sh: a host matched by labels is planned with the labels of snapshots/HOST.labels', () => {
  const copy = join(dir, 'fleet-labels');
  cpSync(join(root, 'examples', 'fleet'), copy, { recursive: true });
  cpSync(join(copy, 'snapshots', 'db-1.json'), join(copy, 'snapshots', 'db-9.json'));
  writeFileSync(join(copy, 'snapshots', 'db-9.labels'), '# db-9 runs vlannet daemon --label role=db\nrole=db\n\n');
  const r = planAll(copy);
  assert.is(r.status, 0, r.stdout + r.stderr);
  const section = r.stdout.slice(r.stdout.indexOf('=== host db-9'), r.stdout.indexOf('--- db-9'));
  assert.match(section, '=== host db-9 (planned against snapshots/db-9.json, labels role=db)');
  assert.match(section, '+ endpoint.backup-agent');
  assert.not.match(section, 'pg-1');
});

test.run();
