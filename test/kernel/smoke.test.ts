// Proves the kernel harness (scripts/kernel-test.sh): the kernel the suite runs on has every
// link kind vlannet uses, and traffic flows between namespaces over each. Built with iproute2
// alone, so it says nothing about vlannet and everything about the ground the other tests stand on.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ip, ipJson, ping, run } from './support/sh.js';

const NS = ['smoke-a', 'smoke-b', 'smoke-c'];

function cleanup(): void {
  for (const ns of NS) run('ip', ['netns', 'del', ns]);
  run('ip', ['link', 'del', 'smoke0']);
}

test.before.each(cleanup);
test.after.each(cleanup);

test('the kernel has dummy, 802.1q, ipvlan, macvlan and veth (run through scripts/kernel-test.sh)', () => {
  for (const [kind, args] of [
    ['dummy', ['link', 'add', 'smoke0', 'type', 'dummy']],
    ['vlan', ['link', 'add', 'link', 'smoke0', 'name', 'smoke0.50', 'type', 'vlan', 'id', '50']],
    ['ipvlan', ['link', 'add', 'link', 'smoke0.50', 'name', 'smoke-iv', 'type', 'ipvlan', 'mode', 'l2']],
    ['macvlan', ['link', 'add', 'link', 'smoke0', 'name', 'smoke-mv', 'type', 'macvlan', 'mode', 'bridge']],
    ['veth', ['link', 'add', 'smoke-va', 'type', 'veth', 'peer', 'name', 'smoke-vb']],
  ] as const) {
    const r = run('ip', [...args]);
    assert.is(r.status, 0, `cannot create a ${kind} link: ${r.stderr.trim()} — this kernel lacks it; run scripts/kernel-test.sh`);
  }
  const kinds = ipJson<{ ifname: string; linkinfo?: { info_kind: string } }>('-d', 'link', 'show')
    .filter((l) => l.ifname.startsWith('smoke'))
    .map((l) => `${l.ifname}:${l.linkinfo?.info_kind}`)
    .sort();
  assert.equal(kinds, ['smoke-iv:ipvlan', 'smoke-mv:macvlan', 'smoke-va:veth', 'smoke-vb:veth', 'smoke0.50:vlan', 'smoke0:dummy']);
  run('ip', ['link', 'del', 'smoke-va']);
});

/** Two namespaces with one link each of `type` on `parent`, addressed v4 and v6, up. */
function pair(parent: string, type: string[], v4: [string, string], v6: [string, string]): void {
  ['smoke-a', 'smoke-b'].forEach((ns, i) => {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('link', 'add', 'link', parent, 'name', `smoke-${i}`, 'netns', ns, 'type', ...type);
    ip('-n', ns, 'addr', 'add', `${v4[i]}/24`, 'dev', `smoke-${i}`);
    ip('-n', ns, 'addr', 'add', `${v6[i]}/64`, 'dev', `smoke-${i}`, 'nodad');
    ip('-n', ns, 'link', 'set', `smoke-${i}`, 'up');
  });
}

test('ipvlan l2 on an 802.1q link of a dummy: two namespaces ping over IPv4 and IPv6', () => {
  ip('link', 'add', 'smoke0', 'type', 'dummy');
  ip('link', 'add', 'link', 'smoke0', 'name', 'smoke0.50', 'type', 'vlan', 'id', '50');
  ip('link', 'set', 'smoke0', 'up');
  ip('link', 'set', 'smoke0.50', 'up');
  pair('smoke0.50', ['ipvlan', 'mode', 'l2'], ['10.50.0.10', '10.50.0.11'], ['2001:db8:50::10', '2001:db8:50::11']);
  assert.ok(ping('smoke-a', '10.50.0.11'), 'ipv4 ping a → b');
  assert.ok(ping('smoke-b', '2001:db8:50::10'), 'ipv6 ping b → a');
});

test('macvlan bridge on a dummy: two namespaces ping; an ipvlan on the same parent is EBUSY', () => {
  ip('link', 'add', 'smoke0', 'type', 'dummy');
  ip('link', 'set', 'smoke0', 'up');
  pair('smoke0', ['macvlan', 'mode', 'bridge'], ['10.51.0.10', '10.51.0.11'], ['2001:db8:51::10', '2001:db8:51::11']);
  assert.ok(ping('smoke-a', '10.51.0.11'), 'ipv4 ping a → b');
  assert.ok(ping('smoke-b', '2001:db8:51::10'), 'ipv6 ping b → a');
  const busy = run('ip', ['link', 'add', 'link', 'smoke0', 'name', 'smoke-iv', 'type', 'ipvlan', 'mode', 'l2']);
  assert.is.not(busy.status, 0, 'an ipvlan on a parent that carries macvlans must be refused');
  assert.match(busy.stderr, /busy/i);
});

test.run();
