// Drift: someone changes what vlannet built behind its back. The next `plan` shows the repair
// (exit 2 with --detailed-exitcode, the object named) and `apply` restores it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkKernel } from './support/expect.js';
import { ip, ping } from './support/sh.js';
import { apply, objects, plan, vlannet } from './support/vlannet.js';
import { parseConfig, World } from './support/world.js';

const CONFIG = `version: 1
networks:
  net:
    driver: macvlan
    parent: eth0
    mtu: 1400
    subnets: [{ subnet: 192.168.30.0/24 }, { subnet: "2001:db8:30::/64" }]
endpoints:
  drift-a: { network: net, ipv4: 192.168.30.10, ipv6: "2001:db8:30::10" }
  drift-b: { network: net, ipv4: 192.168.30.11, ipv6: "2001:db8:30::11" }
`;

/** Converge, break something with `breakIt`, then plan must name `object`, and apply must repair it. */
function repairs(what: string, breakIt: () => void, object: RegExp): void {
  const w = new World();
  try {
    w.veth('eth0');
    const file = w.config(CONFIG);
    apply(file);
    breakIt();
    assert.is(vlannet('plan', '-f', file, '--detailed-exitcode').status, 2, `plan sees the drift (${what})`);
    const planned = objects(plan(file).changes);
    assert.ok(
      planned.some((o) => object.test(o)),
      `plan names ${object}: ${planned.join(', ')}`,
    );
    const executed = objects(apply(file).executed);
    assert.equal(executed, planned, 'apply executes what plan showed');
    assert.equal(checkKernel(parseConfig(CONFIG)), [], `repaired (${what})`);
    assert.ok(ping('drift-a', '192.168.30.11') && ping('drift-b', '2001:db8:30::10'), 'traffic flows again');
    assert.equal(apply(file).executed, [], 'and stays repaired');
  } finally {
    w.cleanup();
  }
}

test('an owned link deleted with ip link del is re-created', () => {
  repairs('link deleted', () => ip('-n', 'drift-a', 'link', 'del', 'eth0'), /^create endpoint\.drift-a$/);
});

test('a changed macvlan mode is set back', () => {
  repairs(
    'mode changed',
    () => ip('-n', 'drift-a', 'link', 'set', 'eth0', 'type', 'macvlan', 'mode', 'private'),
    /^(update|replace) endpoint\.drift-a$/,
  );
});

test('a changed MTU is set back', () => {
  repairs('mtu changed', () => ip('-n', 'drift-b', 'link', 'set', 'eth0', 'mtu', '1300'), /^update endpoint\.drift-b$/);
});

test('a removed address is added back', () => {
  repairs(
    'address removed',
    () => ip('-n', 'drift-a', 'addr', 'del', '192.168.30.10/24', 'dev', 'eth0'),
    /^create endpoint\.drift-a\.ipv4$/,
  );
});

test('a deleted namespace is re-created with its endpoint', () => {
  // checkKernel inside repairs() verifies drift-b's link, addresses and routes afterwards.
  repairs('namespace deleted', () => ip('netns', 'del', 'drift-b'), /^create netns\.drift-b$/);
});

test('a link that is down is brought up', () => {
  repairs('link down', () => ip('-n', 'drift-b', 'link', 'set', 'eth0', 'down'), /^update endpoint\.drift-b$/);
});

test.run();
