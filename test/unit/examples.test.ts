// Every file in examples/ loads without errors or warnings (new files are covered automatically).

import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readConfig } from '../../src/config/load.js';
import { formatDiagnostic } from '../../src/errors.js';
import { allocateAddresses } from '../../src/model/addressing.js';
import { type Family, OBSERVED_FORMAT_VERSION, type ObservedState } from '../../src/model/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
const dir = join(root, 'examples');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

test('the seed scenarios all have an example', () => {
  for (const name of [
    'macvlan-bridge',
    'ipvlan-l2',
    'macvlan-8021q-trunk',
    'ipvlan-8021q-trunk',
    'multi-subnet-macvlan',
    'multi-subnet-ipvlan-l2',
    'multi-subnet-ipvlan-l3',
    'dual-stack-macvlan',
    'dual-stack-ipvlan-l2',
    'dual-stack-ipvlan-l3',
    'internal-isolated',
    'manual-vlan-link',
    'demo',
    'demo-ipvlan',
  ]) {
    assert.ok(files.includes(`${name}.yaml`), `examples/${name}.yaml`);
  }
});

for (const file of files) {
  test(`examples/${file} loads cleanly, with two or more endpoints per network`, () => {
    const { config, diagnostics } = readConfig(join(dir, file));
    assert.equal(diagnostics.map(formatDiagnostic), []);
    assert.ok(config);
    for (const n of config!.networks) {
      const count = config!.endpoints.filter((e) => e.network === n.name).length;
      assert.ok(count >= 2, `network ${n.name} has ${count} endpoints`);
      assert.ok(
        n.subnets.every((s) => !s.cidr.startsWith('fe')),
        'documentation prefixes, not fe..::/64',
      );
    }
  });
}

test('examples/demo.yaml: macvlan bridge on eth0, dual stack, demo-a and demo-b', () => {
  const c = readConfig(join(dir, 'demo.yaml')).config!;
  assert.equal(
    c.networks.map((n) => [n.driver, n.mode, n.parent, n.subnets.map((s) => s.cidr)]),
    [['macvlan', 'bridge', 'eth0', ['192.168.50.0/24', '2001:db8:50::/64']]],
  );
  assert.equal(
    c.endpoints.map((e) => e.name),
    ['demo-a', 'demo-b'],
  );
});

test('examples/demo-ipvlan.yaml: ipvlan l2 on eth1, 10.60.0.0/24', () => {
  const c = readConfig(join(dir, 'demo-ipvlan.yaml')).config!;
  assert.equal(
    c.networks.map((n) => [n.driver, n.mode, n.parent, n.subnets.map((s) => s.cidr)]),
    [['ipvlan', 'l2', 'eth1', ['10.60.0.0/24']]],
  );
  assert.is(c.endpoints.length, 2);
});

/** The automatic addresses of an example's endpoints, applied to an empty kernel: `endpoint: address`, per family. */
function automatic(file: string, family: Family): Record<string, string> {
  const c = readConfig(join(dir, file)).config!;
  const empty: ObservedState = { format_version: OBSERVED_FORMAT_VERSION, namespaces: [], links: [], addresses: [], routes: [] };
  const r = allocateAddresses(c, empty);
  assert.equal(r.diagnostics, []);
  return Object.fromEntries([...r.byEndpoint].flatMap(([e, a]) => (a[family]?.source === 'automatic' ? [[e, a[family]!.address]] : [])));
}

test("automatic addresses are Docker's: the gateway reserved on ipvlan l3 networks too, aux addresses skipped", () => {
  // docker network create -d ipvlan -o ipvlan_mode=l3 …: the first container gets .2, as on any network.
  assert.equal(automatic('dual-stack-ipvlan-l3.yaml', 4), { 'ipnet110-a': '192.168.110.2', 'ipnet110-b': '192.168.110.3' });
  assert.equal(automatic('dual-stack-ipvlan-l3.yaml', 6), { 'ipnet110-a': '2001:db8:abc6::2', 'ipnet110-c': '2001:db8:abc6::3' });
  assert.equal(automatic('macvlan-bridge.yaml', 4), { 'macnet100-a': '192.168.1.3', 'macnet100-b': '192.168.1.4' });
  assert.equal(automatic('ipvlan-l2.yaml', 4), { ipv1: '192.168.1.2', ipv2: '192.168.1.3' });
});

test.run();
