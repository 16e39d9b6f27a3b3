// Idempotence, minimality and ownership with the real program on a real kernel: a converged
// kernel needs nothing; one more endpoint costs only its own actions; removing a network removes
// exactly its objects; links vlannet did not create stay byte-for-byte as they were.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkKernel, identity, link } from './support/expect.js';
import { run } from './support/sh.js';
import { snapshotAll, withoutChildCounters } from './support/snapshot.js';
import { apply, destroy, objects, vlannet } from './support/vlannet.js';
import { parseConfig, World } from './support/world.js';

const NET50 = `  net50:
    driver: macvlan
    parent: eth0.50
    subnets: [{ subnet: 192.168.50.0/24 }, { subnet: "2001:db8:50::/64" }]`;
const NET60 = `  net60:
    driver: macvlan
    parent: eth0.60
    subnets: [{ subnet: 192.168.60.0/24 }]`;

test('a second apply executes nothing and plan --detailed-exitcode says 0; before it, 2', () => {
  const w = new World();
  try {
    w.veth('eth0');
    const file = w.config(`version: 1\nnetworks:\n${NET50}\nendpoints:\n  idem-a: { network: net50 }\n  idem-b: { network: net50 }\n`);
    assert.is(vlannet('plan', '-f', file, '--detailed-exitcode').status, 2, 'changes pending → 2');
    assert.ok(apply(file).executed.length > 0);
    assert.equal(apply(file).executed, []);
    assert.is(vlannet('plan', '-f', file, '--detailed-exitcode').status, 0, 'converged → 0');
  } finally {
    w.cleanup();
  }
});

test("adding one endpoint to a converged kernel executes only that endpoint's actions", () => {
  const w = new World();
  try {
    w.veth('eth0');
    const base = `version: 1\nnetworks:\n${NET50}\nendpoints:\n  min-a: { network: net50 }\n  min-b: { network: net50 }\n`;
    apply(w.config(base));
    const before = { a: identity(link('eth0', 'min-a')), b: identity(link('eth0', 'min-b')) };
    const grown = `${base}  min-c: { network: net50 }\n`;
    const executed = apply(w.config(grown)).executed;
    const foreign = executed.filter((a) => !/^(endpoint|netns)\.min-c(\.|$)/.test(a.object));
    assert.equal(foreign, [], "only min-c's objects are touched");
    assert.ok(
      executed.some((a) => a.object === 'endpoint.min-c'),
      "min-c's link is created",
    );
    assert.equal({ a: identity(link('eth0', 'min-a')), b: identity(link('eth0', 'min-b')) }, before, 'the others are untouched');
    assert.equal(checkKernel(parseConfig(grown)), []);
  } finally {
    w.cleanup();
  }
});

test('removing a network removes exactly its endpoints, their namespaces and its VLAN link', () => {
  const w = new World();
  try {
    w.veth('eth0');
    const both = `version: 1\nnetworks:\n${NET50}\n${NET60}\nendpoints:\n  rm-a: { network: net50 }\n  rm-b: { network: net60 }\n  rm-c: { network: net60 }\n`;
    apply(w.config(both));
    const kept = identity(link('eth0', 'rm-a'));
    const one = `version: 1\nnetworks:\n${NET50}\nendpoints:\n  rm-a: { network: net50 }\n`;
    const executed = apply(w.config(one)).executed;
    // rm-b's and rm-c's endpoints go with their namespaces (one kernel batch, not a link-del each).
    assert.equal(objects(executed), ['delete netns.rm-b', 'delete netns.rm-c', 'delete vlan.eth0.60']);
    assert.ok(
      executed.every((a) => a.op.op !== 'netns-del' || (a.op as { links?: unknown[] }).links?.length === 1),
      'each namespace deletion carries its endpoint for an undo',
    );
    assert.is(link('eth0.60'), null, 'the VLAN link vlannet created went with its last network');
    assert.not.ok(run('ip', ['netns', 'list']).stdout.includes('rm-b'), "rm-b's namespace is gone");
    assert.equal(identity(link('eth0', 'rm-a')), kept, 'the remaining endpoint is untouched');
    assert.equal(checkKernel(parseConfig(one)), []);
  } finally {
    w.cleanup();
  }
});

test('links vlannet did not create are byte-identical before and after every apply and destroy', () => {
  const w = new World();
  try {
    w.veth('eth0', ['192.168.1.251/24', '2001:db8:1::251/64']);
    w.foreign('trunk40', 'link', 'eth0', 'name', 'trunk40', 'type', 'vlan', 'id', '40');
    w.foreign('foreign-mv', 'link', 'eth0', 'name', 'foreign-mv', 'type', 'macvlan', 'mode', 'private');
    run('ip', ['addr', 'add', '10.40.0.1/24', 'dev', 'trunk40']);
    const theirs = ['eth0', 'eth0-peer', 'trunk40', 'foreign-mv'];
    const original = snapshotAll(theirs);

    const v1 = `version: 1
networks:
  on-trunk:
    driver: macvlan
    parent: trunk40
    subnets: [{ subnet: 10.40.0.0/24, gateway: 10.40.0.1 }]
  on-eth0:
    driver: macvlan
    parent: eth0
    subnets: [{ subnet: 192.168.1.0/24, gateway: 192.168.1.1 }]
  tagged:
    driver: macvlan
    parent: eth0.70
    subnets: [{ subnet: 192.168.70.0/24 }]
endpoints:
  own-a: { network: on-trunk }
  own-b: { network: on-eth0 }
  own-c: { network: tagged }
`;
    const steps: [string, () => void][] = [
      ['apply', () => apply(w.config(v1))],
      ['apply again', () => apply(w.config(v1))],
      [
        'apply without the tagged network',
        () => apply(w.config(v1.replace(/ {2}tagged:[\s\S]*?(?=endpoints:)/, '').replace(/ {2}own-c.*\n/, ''))),
      ],
      ['destroy', () => destroy()],
    ];
    for (const [name, step] of steps) {
      step();
      assert.equal(withoutChildCounters(snapshotAll(theirs)), withoutChildCounters(original), `after ${name}`);
      if (name === 'apply without the tagged network') assert.is(link('eth0.70'), null, "vlannet's eth0.70 went with its last network");
    }
    assert.equal(snapshotAll(theirs), original, 'after destroy, byte for byte (no child counters left either)');
  } finally {
    w.cleanup();
  }
});

test.run();
