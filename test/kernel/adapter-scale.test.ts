// What the adapter costs at scale: N named namespaces, each with one macvlan, created through
// apply() with every operation in flight together, then observed. N is 100 by default and
// VLANNET_SCALE=1000 for the full measurement (see the numbers in the report); the bounds here are
// loose (a slow CI machine, the test VM under TCG) and catch only a change of order of magnitude.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NetlinkKernel } from '../../src/kernel/rtnetlink.js';
import { ip, run } from './support/sh.js';

const N = Number(process.env.VLANNET_SCALE ?? 100);
const names = Array.from({ length: N }, (_, i) => `sc-${i}`);

test.after(() => {
  run('ip', ['-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') });
  run('ip', ['link', 'del', 'sc-v0']);
});

test(`${N} namespaces with a macvlan each: create, then observe`, async () => {
  ip('link', 'add', 'sc-v0', 'type', 'veth', 'peer', 'name', 'sc-v1');
  ip('link', 'set', 'sc-v0', 'up');
  const kernel = new NetlinkKernel();
  try {
    let t = performance.now();
    await Promise.all(names.map((netns) => kernel.apply({ op: 'netns-add', netns })));
    const netnsMs = performance.now() - t;
    t = performance.now();
    await Promise.all(
      names.map((netns) =>
        kernel.apply({
          op: 'link-add',
          link: {
            netns,
            name: 'eth0',
            kind: 'macvlan',
            parent: 'sc-v0',
            mode: 'bridge',
            mtu: null,
            mac: null,
            up: true,
            alias: `vlannet:endpoint/${netns} macvlan@sc-v0`,
            identity: null,
          },
        }),
      ),
    );
    const linkMs = performance.now() - t;
    const cold = new NetlinkKernel();
    t = performance.now();
    const first = await cold.observe([]);
    const coldMs = performance.now() - t;
    cold.close();
    const warm: number[] = [];
    for (let i = 0; i < 5; i++) {
      t = performance.now();
      await kernel.observe([]);
      warm.push(performance.now() - t);
    }
    assert.is(first.namespaces.filter((n) => n.name.startsWith('sc-') && n.owned).length, N);
    assert.is(first.links.filter((l) => l.name === 'eth0' && l.parent === 'sc-v0').length, N);
    console.log(
      `  N=${N}: netns-add ${(netnsMs / N).toFixed(2)} ms each, link-add ${(linkMs / N).toFixed(2)} ms each; observe cold ${coldMs.toFixed(0)} ms, warm ${warm.map((x) => x.toFixed(0)).join('/')} ms`,
    );
    assert.ok(Math.min(...warm) < N * 5, `observe of ${N} namespaces took ${Math.min(...warm).toFixed(0)} ms`);
  } finally {
    kernel.close();
  }
});

test.run();
