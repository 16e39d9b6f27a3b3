// Faults: a real kernel refusal half way through an apply leaves the kernel exactly as it was and
// the error names the object, the operation and the errno; two applies at once never interleave.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkKernel } from './support/expect.js';
import { ip, run } from './support/sh.js';
import { snapshotNamespace } from './support/snapshot.js';
import { apply, plan, startVlannet, vlannet } from './support/vlannet.js';
import { parseConfig, World } from './support/world.js';

test('a macvlan network on a parent that carries ipvlan links: EBUSY mid-apply, everything rolled back', () => {
  const w = new World();
  try {
    w.veth('eth0');
    w.veth('eth1');
    // Someone else's ipvlan on eth1, living in someone else's namespace: vlannet's plan cannot see
    // it (it reads only its own namespaces), but the kernel refuses any macvlan on eth1 (EBUSY).
    w.netns('theirs');
    ip('link', 'add', 'link', 'eth1', 'name', 'their-ipvlan', 'netns', 'theirs', 'type', 'ipvlan', 'mode', 'l2');
    const file = w.config(`version: 1
networks:
  good:
    driver: macvlan
    parent: eth0.80
    subnets: [{ subnet: 192.168.80.0/24 }]
  bad:
    driver: macvlan
    parent: eth1
    subnets: [{ subnet: 192.168.90.0/24 }]
endpoints:
  fault-a: { network: good }
  fault-b: { network: good }
  fault-z: { network: bad }
`);
    const planned = plan(file).changes;
    assert.ok(
      planned.some((c) => c.object === 'endpoint.fault-z'),
      'the refused endpoint is in the plan',
    );
    const before = snapshotNamespace();

    const r = vlannet('apply', '-f', file);
    assert.is(r.status, 1, `apply fails: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, 'endpoint.fault-z', 'the error names the object');
    assert.match(r.stderr, /link add eth0 in fault-z link eth1 type macvlan mode bridge/, "and the operation (in iproute2's words)");
    assert.match(r.stderr, 'EBUSY', 'and the errno');
    assert.match(r.stderr, /rolled back: [1-9]\d* action/, 'and says what was undone (other actions had succeeded)');
    assert.equal(snapshotNamespace(), before, "vlannet's namespace, links, addresses, routes and namespaces are exactly as before");
    assert.equal(
      run('ip', ['netns', 'list'])
        .stdout.replace(/ \(id: \d+\)/, '')
        .trim(),
      'theirs',
      'no namespace was left behind',
    );
  } finally {
    w.cleanup();
  }
});

test('two applies at once: the second fails fast with a lock message, the first completes', async () => {
  const w = new World();
  try {
    w.veth('eth0');
    // Enough endpoints that the first apply holds the lock for a while.
    const endpoints = Array.from({ length: 60 }, (_, i) => `  lock-${i}: { network: net }`).join('\n');
    const text = `version: 1
networks:
  net:
    driver: macvlan
    parent: eth0
    subnets: [{ subnet: 10.77.0.0/16 }]
endpoints:
${endpoints}
`;
    const file = w.config(text);
    const lockFile = path.join(process.env.VLANNET_RUN_DIR ?? '/run/vlannet', 'lock');
    const first = startVlannet('apply', '-f', file);
    // Once the first holds the lock (it writes its pid into the lock file), freeze it there, so
    // the second certainly arrives while the lock is held; then let the first go on.
    const holding = `pid ${first.pid}: apply`;
    let firstEnded = false;
    void first.done.then(() => (firstEnded = true));
    while (!(fs.existsSync(lockFile) && fs.readFileSync(lockFile, 'utf8').includes(holding))) {
      assert.not.ok(firstEnded, 'the first apply ended before it was seen holding the lock');
      await new Promise((r) => setTimeout(r, 2));
    }
    process.kill(first.pid, 'SIGSTOP');
    let second: Awaited<ReturnType<typeof startVlannet>['done']>;
    const started = performance.now();
    try {
      const attempt = startVlannet('apply', '-f', file);
      // A second vlannet that waited for the lock would wait for ever here: give up after 30 s.
      const guard = setTimeout(() => process.kill(attempt.pid, 'SIGKILL'), 30_000);
      second = await attempt.done;
      clearTimeout(guard);
    } finally {
      process.kill(first.pid, 'SIGCONT');
    }
    assert.ok(second.endedAt - started < 30_000, 'the second did not wait for the lock');
    const done = await first.done;
    assert.is(second.status, 1, `the second fails: ${second.stdout}${second.stderr}`);
    assert.match(second.stderr, /another vlannet is changing the kernel/);
    assert.match(second.stderr, holding, 'and names the holder');
    assert.ok(second.endedAt < done.endedAt, 'the second failed while the first was still at work');
    assert.is(done.status, 0, `the first apply succeeds: ${done.stderr}`);
    assert.equal(checkKernel(parseConfig(text)), []);
    assert.equal(apply(file).executed, [], 'the kernel is converged: nothing was interleaved or left half done');
  } finally {
    w.cleanup();
  }
});

test.run();
