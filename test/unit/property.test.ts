// Property: for random configurations and random kernels (foreign links and routes, owned links
// that drifted), applying the plan to an in-memory kernel and planning again gives zero actions,
// every operation succeeds, and nothing vlannet does not own is ever touched.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { reasonText } from '../../src/plan/describe.js';
import { makePlan } from '../../src/plan/plan.js';
import { ownerOf } from '../../src/model/owner.js';
import { VLANNET_ROUTE_PROTOCOL, type KernelOp, type ObservedState } from '../../src/model/types.js';
import { DiagnosticsError, KernelError } from '../../src/errors.js';
import { namespacesOf } from '../fixtures/plan/build.js';
import { drift, prng, randomConfig, seedKernel } from '../support/random-world.js';

/** What vlannet does not own, as text: it must be identical before and after. */
function foreign(obs: ObservedState): string[] {
  const ownedNs = new Set(obs.namespaces.filter((n) => n.owned).map((n) => n.name));
  const strangers = obs.links.filter((l) => !ownerOf(l) && !(l.netns !== null && ownedNs.has(l.netns)));
  const at = new Set(strangers.map((l) => `${l.netns}/${l.name}`));
  return [
    ...strangers.map((l) => JSON.stringify(l)),
    ...obs.addresses.filter((a) => at.has(`${a.netns}/${a.link}`)).map((a) => JSON.stringify(a)),
    ...obs.routes.filter((x) => x.protocol !== VLANNET_ROUTE_PROTOCOL && at.has(`${x.netns}/${x.dev}`)).map((x) => JSON.stringify(x)),
  ].sort();
}

/** Whether an op changes or deletes something vlannet does not own. */
function touchesForeign(op: KernelOp, obs: ObservedState): boolean {
  const linkAt = (netns: string | null, name: string) => obs.links.find((l) => l.netns === netns && l.name === name);
  switch (op.op) {
    case 'link-set':
    case 'link-del': {
      const l = linkAt(op.netns, op.name);
      return !!l && !ownerOf(l);
    }
    case 'addr-del': {
      const l = linkAt(op.addr.netns, op.addr.link);
      return !!l && !ownerOf(l);
    }
    case 'route-del':
      return op.route.protocol !== VLANNET_ROUTE_PROTOCOL;
    case 'netns-del':
      return !obs.namespaces.find((n) => n.name === op.netns)?.owned;
    default:
      return false;
  }
}

const CASES = Number(process.env.PROPERTY_CASES ?? 400);

test(`apply then re-plan converges and never touches what vlannet does not own (${CASES} cases)`, async () => {
  let planned = 0;
  let rejected = 0;
  let ops = 0;
  const rejections = new Map<string, number>();
  const warned = new Map<string, number>();
  for (let seed = 1; seed <= CASES; seed++) {
    const r = prng(seed);
    const k = seedKernel(r);
    const before = randomConfig(r);
    const after = r.chance(0.3) ? before : randomConfig(r);
    const watch = [...new Set([...namespacesOf(before), ...namespacesOf(after), 'theirs'])];
    try {
      const first = makePlan(before, await k.observe(watch));
      for (const a of first.actions) await k.apply(a.op);
      await drift(k, r, await k.observe(watch));
    } catch (e) {
      if (!(e instanceof DiagnosticsError)) throw new Error(`seed ${seed}: first apply: ${(e as Error).message}`);
    }
    const obs = await k.observe(watch);
    let plan: ReturnType<typeof makePlan>;
    try {
      plan = makePlan(after, obs);
    } catch (e) {
      if (!(e instanceof DiagnosticsError)) throw e;
      rejected++;
      for (const d of e.diagnostics) {
        const m = d.message.replace(/\b(e|n|dm)\d\b/g, '$1#').replace(/[\d.]+\/\d+/g, 'CIDR');
        rejections.set(m, (rejections.get(m) ?? 0) + 1);
      }
      continue;
    }
    planned++;
    for (const w of plan.warnings)
      warned.set(
        w.message
          .replace(/\b(e|n|x|dm)\d+\b/g, '$1#')
          .replace(/[\d.]+/g, 'N')
          .slice(0, 60),
        (warned.get(
          w.message
            .replace(/\b(e|n|x|dm)\d+\b/g, '$1#')
            .replace(/[\d.]+/g, 'N')
            .slice(0, 60),
        ) ?? 0) + 1,
      );
    for (const a of plan.actions) {
      assert.not.ok(touchesForeign(a.op, obs), `seed ${seed}: ${a.object} ${JSON.stringify(a.op)} touches an object vlannet does not own`);
      try {
        await k.apply(a.op);
      } catch (e) {
        const why = e instanceof KernelError ? `${e.errno} ${e.detail}` : String(e);
        assert.unreachable(`seed ${seed}: ${a.object} ${a.op.op} failed: ${why}\n${JSON.stringify(a.op)}`);
      }
      ops++;
    }
    const again = await k.observe(watch);
    const replan = makePlan(after, again);
    assert.equal(
      replan.actions.map((a) => `${a.change} ${a.object}: ${reasonText(a.reason)}`),
      [],
      `seed ${seed}: not converged`,
    );
    assert.equal(foreign(again), foreign(obs), `seed ${seed}: a foreign object changed`);
  }
  if (process.env.PROPERTY_STATS)
    console.log({ planned, rejected, ops, warned: [...warned], reasons: [...rejections].sort((a, b) => b[1] - a[1]).slice(0, 8) });
  assert.ok(planned > CASES * 0.6, `only ${planned} of ${CASES} random cases were valid (${rejected} rejected)`);
  assert.ok(ops > CASES, `only ${ops} operations`);
});

test.run();
