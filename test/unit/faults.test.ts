// Safety as properties, on the in-memory kernel, over random pairs of configurations A → B:
//   - replace means replace: apply(A) then apply(B) leaves the kernel as apply(B) from scratch
//     (automatic addresses aside: an endpoint keeps the address it had);
//   - fault injection, exhaustive: for every step k of the apply of B, fail step k. Before the
//     point of no return the kernel is then exactly as before the apply; after it, nothing is
//     undone, and the next apply converges to B as if nothing had failed.
// The real kernel's side of both is in test/kernel/safety.test.ts (a sample).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApplyError } from '../../src/errors.js';
import { reconcile } from '../../src/apply/reconcile.js';
import { networkOf } from '../../src/model/address.js';
import type { Config, ObservedState } from '../../src/model/types.js';
import { DiagnosticsError } from '../../src/errors.js';
import { makePlan } from '../../src/plan/plan.js';
import { namespacesOf } from '../fixtures/plan/build.js';
import type { MemoryKernel } from '../support/memory-kernel.js';
import { prng, randomConfig, seedKernel } from '../support/random-world.js';

/** A pair of configurations and a kernel that takes A, from one seed (so it can be made again). */
function world(seed: number): { kernel: MemoryKernel; a: Config; b: Config } {
  const r = prng(seed);
  const kernel = seedKernel(r);
  const a = randomConfig(r);
  const b = randomConfig(r);
  return { kernel, a, b };
}

const watch = (...configs: Config[]) => [...new Set([...configs.flatMap(namespacesOf), 'theirs'])];

/**
 * The kernel as the operator sees it: without ifindexes and kernel-chosen MACs, and with each
 * automatic address as its subnet only (which address an endpoint holds depends on its history);
 * a host address (/32, /128: host access, and its routes to each endpoint) as "automatic".
 */
function picture(s: ObservedState, statics: ReadonlySet<string>): string[] {
  const macAddr = (l: { mac: string; kind: string }) => (l.kind === 'macvlan' && statics.has(l.mac) ? l.mac : '');
  return [
    ...s.namespaces.map((n) => `netns ${n.name} ${n.owned}`),
    ...s.links.map(
      (l) =>
        `link ${l.netns}/${l.name} ${l.kind} ${l.parent} ${l.mode ?? ''} ${l.flag ?? ''} ${l.vlanId ?? ''} ${l.mtu} ${l.up} ${l.alias} ${l.ipv6Disabled ?? ''} ${macAddr(l)}`,
    ),
    ...s.addresses.map((a) => `addr ${a.netns}/${a.link} ${automatic(a.address, a.prefixLength, statics)}/${a.prefixLength}`),
    ...s.routes.map((r) => {
      const [to, length] = r.dst.split('/');
      const dst = length === undefined ? r.dst : `${automatic(to!, Number(length), statics)}/${length}`;
      return `route ${r.netns} ${r.family} ${dst} ${r.gateway} ${r.dev} ${r.protocol}`;
    }),
  ].sort();
}

/** An address as picture() shows it: itself when static, else its subnet (a host address: "automatic"). */
function automatic(address: string, prefixLength: number, statics: ReadonlySet<string>): string {
  if (statics.has(address)) return address;
  const host = prefixLength === (address.includes(':') ? 128 : 32);
  return host ? 'automatic' : networkOf(address, prefixLength);
}

/** The addresses and MACs the file gives (an endpoint given none keeps the ones it has). */
const staticsOf = (c: Config) => new Set(c.endpoints.flatMap((e) => [e.ipv4, e.ipv6, e.mac].filter((x): x is string => x !== null)));

/** reconcile, or null when the config is refused (invalid for that kernel): such cases are skipped. */
async function applies(kernel: MemoryKernel, c: Config, failAt?: number): Promise<unknown> {
  try {
    await reconcile(kernel, c, failAt ? { failAt } : {});
    return null;
  } catch (e) {
    if (e instanceof DiagnosticsError) return 'refused';
    return e;
  }
}

const CASES = Number(process.env.FAULT_CASES ?? 200);

test(`replace means replace: apply(A) then apply(B) = apply(B) from scratch (${CASES} random pairs)`, async () => {
  let compared = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const { kernel: once, a, b } = world(seed);
    if ((await applies(once, a)) !== null) continue;
    const second = await applies(once, b);
    if (second === 'refused') continue;
    assert.is(second, null, `seed ${seed}: apply(B) after apply(A) failed: ${String(second)}`);
    const fresh = world(seed).kernel;
    assert.is(await applies(fresh, b), null, `seed ${seed}: apply(B) from scratch failed`);
    const w = watch(a, b);
    assert.equal(
      picture(await once.observe(w), staticsOf(b)),
      picture(await fresh.observe(w), staticsOf(b)),
      `seed ${seed}: A then B differs from B`,
    );
    compared++;
  }
  assert.ok(compared > CASES / 3, `only ${compared} pairs compared`);
});

test(`fault injection, every step: rolled back exactly before the point of no return, finished by the next apply after it (${CASES} random pairs)`, async () => {
  let injected = 0;
  let rolledBack = 0;
  let past = 0;
  for (let seed = 1; seed <= CASES; seed++) {
    const { kernel: probe, a, b } = world(seed);
    if ((await applies(probe, a)) !== null) continue;
    let steps: number;
    try {
      steps = makePlan(b, await probe.observe(watch(a, b))).actions.length;
    } catch (e) {
      if (e instanceof DiagnosticsError) continue;
      throw e;
    }
    const w = watch(a, b);
    const target = world(seed).kernel;
    if ((await applies(target, b)) !== null) continue;
    const want = picture(await target.observe(w), staticsOf(b));
    for (let k = 1; k <= steps; k++) {
      const { kernel } = world(seed);
      await applies(kernel, a);
      const before = await kernel.observe(w);
      const failed = await applies(kernel, b, k);
      assert.instance(failed, ApplyError, `seed ${seed}, step ${k} of ${steps}: the injected failure is an ApplyError`);
      injected++;
      const e = failed as ApplyError;
      if (e.rollback !== null) {
        rolledBack++;
        assert.equal(e.rollback.failed, [], `seed ${seed}, step ${k}: every undo succeeded`);
        assert.equal(await kernel.observe(w), before, `seed ${seed}, step ${k}: the kernel is exactly as before the apply`);
      } else {
        past++;
        assert.ok(e.notDone.length > 0, `seed ${seed}, step ${k}: says what was not done`);
      }
      assert.is(await applies(kernel, b), null, `seed ${seed}, step ${k}: the next apply succeeds`);
      assert.equal(picture(await kernel.observe(w), staticsOf(b)), want, `seed ${seed}, step ${k}: converged to B`);
    }
  }
  assert.ok(
    rolledBack > 50 && past > 50,
    `too few cases on one side of the point of no return: ${rolledBack} rolled back, ${past} after it (${injected} in all)`,
  );
});

test.run();
