// Every example in examples/ (but the demo's) applied with the real `vlannet apply` on veth
// parents, the kernel checked with iproute2 against what the YAML asks for, then destroyed.

import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkKernel } from './support/expect.js';
import { snapshotNamespace } from './support/snapshot.js';
import { apply, destroy, REPO, vlannet } from './support/vlannet.js';
import { parseConfig, World } from './support/world.js';

const dir = path.join(REPO, 'examples');
const examples = fs.existsSync(dir)
  ? fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.yaml') && !f.startsWith('demo'))
      .sort()
  : [];

test('examples/ holds examples to apply', () => {
  assert.ok(examples.length > 0, `no examples in ${dir}`);
});

for (const file of examples) {
  test(`examples/${file}: apply builds what it says, a second apply does nothing, destroy removes it all`, () => {
    const w = new World();
    try {
      const text = fs.readFileSync(path.join(dir, file), 'utf8');
      const cfg = parseConfig(text);
      w.parentsFor(text);
      const before = snapshotNamespace();
      const config = w.config(text);

      const first = apply(config);
      assert.ok(first.executed.length > 0, 'the first apply executes something');
      assert.equal(checkKernel(cfg), [], 'the kernel holds what the file asks for');
      assert.equal(apply(config).executed, [], 'a second apply executes nothing');
      const again = vlannet('plan', '-f', config, '--detailed-exitcode');
      assert.is(again.status, 0, `plan --detailed-exitcode on a converged kernel: ${again.stderr}${again.stdout}`);

      destroy();
      assert.equal(snapshotNamespace(), before, 'after destroy, vlannet namespace is exactly as before');
    } finally {
      w.cleanup();
    }
  });
}

test.run();
