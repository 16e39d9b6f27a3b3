// The daemon's incremental planner: after random edits to the config and random tampering with
// the kernel, the plan of the namespaces that changed is exactly the full plan; and the runs that
// use it converge.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { reasonText } from '../../src/plan/describe.js';
import { reconcile } from '../../src/apply/reconcile.js';
import { IncrementalPlanner } from '../../src/plan/incremental.js';
import { makePlan } from '../../src/plan/plan.js';
import type { Action, Config, EndpointConfig, ObservedState } from '../../src/model/types.js';
import { DiagnosticsError } from '../../src/errors.js';
import { config, endpoint, link, namespacesOf, network, subnet } from '../fixtures/plan/build.js';
import { MemoryKernel } from '../support/memory-kernel.js';
import { drift, prng, randomConfig, seedKernel, type Rng } from '../support/random-world.js';

const text = (actions: Action[]) => actions.map((a) => `${a.change} ${a.object}: ${reasonText(a.reason)} ${JSON.stringify(a.op)}`);

/** The plan, or the errors that refuse it. */
function outcome(f: () => { actions: Action[] }): string[] {
  try {
    return text(f().actions);
  } catch (e) {
    if (!(e instanceof DiagnosticsError)) throw e;
    return e.diagnostics.map((d) => `error: ${d.message}`);
  }
}

/** A small edit, as an operator makes them: one endpoint added, removed, moved or renumbered. */
function edit(c: Config, r: Rng): Config {
  const endpoints = [...c.endpoints];
  const i = r.int(Math.max(1, endpoints.length));
  const e = endpoints[i];
  const change = r.int(5);
  if (change === 0 || !e) {
    const name = `e${r.int(9)}`;
    if (!endpoints.some((x) => x.name === name))
      endpoints.push(endpoint(name, r.pick(c.networks).name, { ifname: r.pick(['eth0', 'net1']) }));
  } else if (change === 1) endpoints.splice(i, 1);
  else if (change === 2) endpoints[i] = { ...e, ifname: e.ifname === 'net1' ? 'eth0' : 'net1' };
  else if (change === 3) endpoints[i] = { ...e, netns: e.netns === e.name ? `${e.name}x` : e.name };
  else endpoints[i] = { ...e, network: r.pick(c.networks).name, defaultRoute: false } satisfies EndpointConfig;
  return { ...c, endpoints };
}

const CASES = Number(process.env.PROPERTY_CASES ?? 400);

test(`after edits and tampering, the incremental plan is the full plan (${CASES} cases)`, async () => {
  let partial = 0;
  let compared = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const r = prng(seed);
    const k = seedKernel(r);
    const before = randomConfig(r);
    const planner = new IncrementalPlanner();
    try {
      await reconcile(k, before, { planner });
    } catch (e) {
      if (e instanceof DiagnosticsError) continue;
      throw new Error(`seed ${seed}: first apply: ${(e as Error).message}`);
    }
    const after = r.chance(0.25) ? before : r.chance(0.8) ? edit(before, r) : randomConfig(r);
    const watch = [...new Set([...namespacesOf(before), ...namespacesOf(after)])];
    if (r.chance(0.5)) await drift(k, r, await k.observe(watch));
    const obs: ObservedState = await k.observe(namespacesOf(after));
    const full = outcome(() => makePlan(after, obs));
    let scope: ReadonlySet<string | null> | null = null;
    const incremental = outcome(() => {
      const p = planner.plan(after, obs);
      scope = p.scope;
      return p.plan;
    });
    assert.equal(
      incremental,
      full,
      `seed ${seed}: the incremental plan (of ${scope ? [...scope].join(', ') || 'nothing' : 'everything'}) differs from the full plan`,
    );
    compared++;
    if (scope) partial++;
    // A run with the planner converges: a plan of everything then finds nothing to do.
    try {
      await reconcile(k, after, { planner });
    } catch (e) {
      if (e instanceof DiagnosticsError) continue;
      throw new Error(`seed ${seed}: apply of the edit: ${(e as Error).message}`);
    }
    assert.equal(text(makePlan(after, await k.observe(namespacesOf(after))).actions), [], `seed ${seed}: not converged`);
  }
  // Most cases must have planned only some namespaces, or this test proves nothing.
  assert.ok(compared > CASES * 0.5, `only ${compared} of ${CASES} cases compared`);
  assert.ok(partial > compared * 0.4, `only ${partial} of ${compared} plans were partial`);
});

/** Three endpoints in their own namespaces on eth0. */
function world(names: string[]): Config {
  const net = network('lan', { subnets: [subnet('10.1.0.0/24', '10.1.0.1')] });
  return config(
    [net],
    names.map((n) => endpoint(n, 'lan')),
  );
}

async function converged(names: string[]): Promise<{ k: MemoryKernel; planner: IncrementalPlanner }> {
  const k = new MemoryKernel().seed({ links: [link('eth0', { index: 2 })] });
  const planner = new IncrementalPlanner();
  await reconcile(k, world(names), { planner });
  return { k, planner };
}

test('an endpoint added plans only its namespace; a converged kernel plans nothing', async () => {
  const { k, planner } = await converged(['a', 'b', 'c']);
  const same = planner.plan(world(['a', 'b', 'c']), await k.observe(['a', 'b', 'c']));
  assert.equal([...same.scope!], []);
  assert.equal(same.plan.actions, []);
  planner.converged();
  const added = planner.plan(world(['a', 'b', 'c', 'd']), await k.observe(['a', 'b', 'c', 'd']));
  assert.equal([...added.scope!], ['d']);
  assert.equal(
    added.plan.actions.map((a) => a.object),
    ['netns.d', 'endpoint.d', 'endpoint.d.ipv4', 'endpoint.d.route4'],
  );
});

test('tampering in one namespace plans that namespace; tampering with a parent plans everything', async () => {
  const { k, planner } = await converged(['a', 'b', 'c']);
  await k.apply({ op: 'link-set', netns: 'b', name: 'eth0', set: { up: false }, before: {} });
  const one = planner.plan(world(['a', 'b', 'c']), await k.observe(['a', 'b', 'c']));
  assert.equal([...one.scope!], ['b']);
  assert.equal(
    one.plan.actions.map((a) => `${a.change} ${a.object}`),
    ['update endpoint.b', 'create endpoint.b.route4'],
  );
  planner.forget();
  await reconcile(k, world(['a', 'b', 'c']), { planner });
  await k.apply({ op: 'link-set', netns: null, name: 'eth0', set: { mtu: 9000 }, before: {} });
  const all = planner.plan(world(['a', 'b', 'c']), await k.observe(['a', 'b', 'c']));
  assert.is(all.scope, null);
});

test('a failed run forgets: the next plan covers every namespace', async () => {
  const { k, planner } = await converged(['a', 'b']);
  k.failNext((op) => op.op === 'netns-add', 'ENOSPC');
  await reconcile(k, world(['a', 'b', 'c']), { planner }).then(
    () => assert.unreachable('the run should fail'),
    () => undefined,
  );
  const next = planner.plan(world(['a', 'b', 'c']), await k.observe(['a', 'b', 'c']));
  assert.is(next.scope, null);
});

test.run();
