// watchKernel on a real kernel: changes made by someone else (iproute2) in vlannet's namespace
// and in a watched namespace arrive as events; namespaces appearing under /run/netns too.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { watchKernel, type KernelEvent } from '../../src/kernel/events.js';
import { ip, run } from './support/sh.js';

function cleanup(): void {
  run('ip', ['netns', 'del', 'ev-a']);
  run('ip', ['netns', 'del', 'ev-b']);
  run('ip', ['link', 'del', 'ev-v0']);
}
test.before.each(cleanup);
test.after.each(cleanup);

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

test('link, address and route changes and new namespaces are reported where they happen', async () => {
  ip('netns', 'add', 'ev-a');
  const events: KernelEvent[] = [];
  const watch = watchKernel(['ev-a'], (e) => events.push(e));
  try {
    ip('link', 'add', 'ev-v0', 'type', 'veth', 'peer', 'name', 'ev-v1', 'netns', 'ev-a');
    ip('-n', 'ev-a', 'link', 'set', 'ev-v1', 'up');
    ip('-n', 'ev-a', 'addr', 'add', '10.77.0.2/24', 'dev', 'ev-v1');
    ip('-n', 'ev-a', 'route', 'add', 'default', 'via', '10.77.0.1');
    ip('netns', 'add', 'ev-b');
    await settle();
    const seen = (netns: string | null, kind: string) => events.some((e) => e.netns === netns && e.kind === kind);
    assert.ok(seen(null, 'link'), "link event in vlannet's namespace");
    assert.ok(seen('ev-a', 'link'), 'link event in ev-a');
    assert.ok(seen('ev-a', 'addr'), 'address event in ev-a');
    assert.ok(seen('ev-a', 'route'), 'route event in ev-a');
    assert.ok(seen(null, 'netns'), 'a namespace appeared');
    assert.not.ok(
      events.some((e) => e.netns === 'ev-b'),
      'ev-b is not watched',
    );

    events.length = 0;
    watch.setNamespaces(['ev-b']);
    // What changed there before it was followed announced nothing: the watcher says to look once.
    assert.equal(events, [{ netns: 'ev-b', kind: 'netns' }], 'a namespace newly followed is reported at once');
    ip('-n', 'ev-b', 'link', 'set', 'lo', 'up');
    ip('-n', 'ev-a', 'link', 'set', 'ev-v1', 'down');
    await settle();
    assert.ok(events.some((e) => e.netns === 'ev-b' && e.kind === 'link'));
    assert.not.ok(
      events.some((e) => e.netns === 'ev-a'),
      'ev-a is no longer watched',
    );
  } finally {
    watch.close();
  }
});

test.run();
