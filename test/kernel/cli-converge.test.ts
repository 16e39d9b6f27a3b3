// Idempotence, minimality and ownership with the real program on a real kernel: a converged
// kernel needs nothing; one more endpoint costs only its own actions; removing a network removes
// exactly its objects; links vlannet did not create stay byte-for-byte as they were.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkKernel, identity, link } from './support/expect.js';
import { run } from './support/sh.js';
import { snapshotAll, withoutChildCounters } from './support/snapshot.js';
import { writeFileSync } from 'node:fs';
import { apply, destroy, document, objects, plan, type PlanOutput, REPO, show, vlannet } from './support/vlannet.js';
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

test('show --json is read back by plan --observed: nothing to do; as many changes as the kernel lacks', () => {
  const w = new World();
  try {
    w.veth('eth0');
    const file = w.config(`version: 1\nnetworks:\n${NET50}\nendpoints:\n  obs-a: { network: net50 }\n  obs-b: { network: net50 }\n`);
    apply(file);
    const saved = `${w.dir}/observed.json`;
    writeFileSync(saved, JSON.stringify(show()));
    const again = document<PlanOutput>(['plan'], vlannet('plan', '-f', file, '--observed', saved, '--json'));
    assert.equal(again.changes, [], 'the saved state is the converged kernel');
    const grown = w.config(
      `version: 1\nnetworks:\n${NET50}\nendpoints:\n  obs-a: { network: net50 }\n  obs-b: { network: net50 }\n  obs-c: { network: net50 }\n`,
      'grown.yaml',
    );
    const more = document<PlanOutput>(['plan'], vlannet('plan', '-f', grown, '--observed', saved, '--json'));
    assert.equal(objects(more.changes), objects(plan(grown).changes), 'the same plan as against the kernel itself');
  } finally {
    w.cleanup();
  }
});

test('destroy on a terminal asks, and only "yes" removes; without a terminal it needs --yes', () => {
  const w = new World();
  try {
    w.veth('eth0');
    const file = w.config(`version: 1\nnetworks:\n${NET50}\nendpoints:\n  ask-a: { network: net50 }\n`);
    apply(file);
    // script(1) gives vlannet a terminal; the answer is typed on it.
    const onTerminal = (answer: string) =>
      run('script', ['-qec', `${process.execPath} ${REPO}/bin/vlannet.js destroy`, '/dev/null'], {
        input: `${answer}\n`,
        env: { ...process.env, NO_COLOR: '1' },
        timeoutMs: 60_000,
      });
    const no = onTerminal('no');
    assert.match(no.stdout, 'Remove all of this from the kernel?');
    assert.match(no.stdout, 'endpoint.ask-a');
    assert.match(no.stdout, 'Destroy cancelled; nothing was changed.');
    assert.is(no.status, 1);
    assert.equal(checkKernel(parseConfig(`version: 1\nnetworks:\n${NET50}\nendpoints:\n  ask-a: { network: net50 }\n`)), [], 'still there');
    const piped = vlannet('destroy');
    assert.is(piped.status, 1);
    assert.match(piped.stderr, 'pass --yes to confirm');
    const yes = onTerminal('yes');
    assert.is(yes.status, 0, yes.stdout);
    assert.match(yes.stdout, /Destroy complete: \d+ actions executed and verified/);
    assert.equal(
      show().links.filter((l) => l.alias?.startsWith('vlannet:')),
      [],
      'nothing of vlannet is left',
    );
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

test('show --as-config writes a file that plans to nothing on the kernel it came from', () => {
  const w = new World();
  try {
    w.veth('eth0');
    w.veth('eth1');
    const file = w.config(`version: 1
vlans:
  trunk40: { parent: eth0, id: 40, mtu: 1400 }
networks:
  lan50:
    driver: macvlan
    parent: eth0.50
    subnets: [{ subnet: 192.168.50.0/24, gateway: 192.168.50.254 }, { subnet: "2001:db8:50::/64" }]
  storage: { driver: macvlan, parent: trunk40, mode: private, mtu: 1300, subnets: [{ subnet: 10.40.0.0/24 }] }
  routed: { driver: ipvlan, parent: eth1, mode: l3, subnets: [{ subnet: 10.1.0.0/24 }, { subnet: 10.2.0.0/24 }] }
  isolated: { driver: ipvlan, mode: l3, subnets: [{ subnet: 10.99.0.0/24 }, { subnet: 10.98.0.0/24 }] }
endpoints:
  adopt-web1: { network: lan50 }
  adopt-web2: { network: lan50 }
  adopt-db: { network: storage, netns: adopt-web1, ifname: net1, default_route: false }
  adopt-probe: { network: lan50, netns: host, ifname: mv-probe }
  adopt-app: { network: routed }
  adopt-iso1: { network: isolated }
  adopt-iso2: { network: isolated, ipv4: 10.98.0.7 }
`);
    apply(file);
    const shown = vlannet('show', '--as-config');
    assert.is(shown.status, 0, shown.stderr);
    assert.is(shown.stderr, '', 'nothing it cannot reproduce');
    const adopted = w.config(shown.stdout, 'adopted.yaml');
    const doc = parseConfig(shown.stdout);
    assert.equal(Object.keys(doc.vlans ?? {}), ['eth0.50', 'trunk40']);
    assert.equal(doc.networks?.isolated?.internal, true, 'an internal network keeps its name (its dummy link says it)');
    assert.is(doc.endpoints?.['adopt-probe']?.netns, 'host');
    const planned = vlannet('plan', '-f', adopted, '--detailed-exitcode');
    assert.is(planned.status, 0, `the adopted file plans to nothing:\n${shown.stdout}\n${planned.stdout}${planned.stderr}`);
    assert.is(vlannet('show', '--as-config', '--json').status, 1, '--as-config with --json is a usage error');
  } finally {
    w.cleanup();
  }
});

test.run();
