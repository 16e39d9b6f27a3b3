// One repetition of one contender, run inside a fresh `unshare --mount --net --propagation
// private` made by main.ts: a tmpfs on /run (so /run/netns and /run/vlannet are private) and a veth
// pair eth0/eth0-peer as the parent. Prints one JSON line with its measurements on stdout.
//
//   node dist/test/bench/sandbox.js vlannet|iproute2|daemon N [deletions [budget-seconds]]

import fs from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { checkEndpoints } from './check.js';
import { configYaml, endpointName, iproute2DeleteScript, iproute2Script, nthAddress } from './workload.js';
import { runDaemon } from './daemon.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const VLANNET = path.join(ROOT, 'bin/vlannet.js');
const WORK = '/run/bench';

function enterSandbox(): void {
  // main.ts passes the namespace it runs in: this process must be in another one.
  const outside = process.env.BENCH_OUTER_NETNS;
  if (!outside || fs.readlinkSync('/proc/self/ns/net') === outside) {
    throw new Error('sandbox.js must run in a private network namespace (use npm run bench)');
  }
  execFileSync('mount', ['-t', 'tmpfs', 'vlannet-bench', '/run']);
  fs.mkdirSync('/run/netns', { recursive: true });
  fs.mkdirSync(WORK, { recursive: true });
  const ip = (...a: string[]) => execFileSync('ip', a);
  ip('link', 'set', 'lo', 'up');
  ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0-peer');
  ip('link', 'set', 'eth0', 'up');
  ip('link', 'set', 'eth0-peer', 'up');
}

export interface Timed {
  wallMs: number;
  stdout: string;
}

/** Run a command to completion; its whole wall time, as a user would see it. Throws on failure. */
export function timed(cmd: string, args: string[]): Timed {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stderr}`);
  return { wallMs, stdout: r.stdout };
}

/** The command as operators run it: the program itself, started through its own first lines. */
export function vlannet(...args: string[]): Timed {
  return timed(VLANNET, args);
}

interface ApplyJson {
  executed: { object: string; change: string; op: { op: string } }[];
  timings_ms: { observe_ms: number; plan_ms: number; execute_ms: number; verify_ms: number };
}

function applyStep(file: string) {
  const r = vlannet('apply', '-f', file, '--json');
  const j = JSON.parse(r.stdout) as ApplyJson;
  const s = j.timings_ms;
  const t = { observeMs: s.observe_ms, planMs: s.plan_ms, executeMs: s.execute_ms, verifyMs: s.verify_ms };
  return {
    wallMs: r.wallMs,
    timings: t,
    inProcessMs: t.observeMs + t.planMs + t.executeMs + t.verifyMs,
    actions: j.executed.map((a) => `${a.change} ${a.object} (${a.op.op})`),
  };
}

function expectAll(ids: number[], addressOf: (i: number) => string): Map<string, string> {
  return new Map(ids.map((i) => [endpointName(i), addressOf(i)]));
}

async function mustMatch(step: string, expected: Map<string, string>): Promise<void> {
  const { problems } = await checkEndpoints(expected);
  if (problems.length)
    throw new Error(`${step}: the kernel is not as expected (${problems.length} problems):\n  ${problems.slice(0, 10).join('\n  ')}`);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k);

async function benchVlannet(n: number) {
  const ids = range(1, n);
  const file = `${WORK}/vlannet.yaml`;
  fs.writeFileSync(file, configYaml(ids));
  const cold = applyStep(file);
  await mustMatch('cold apply', expectAll(ids, nthAddress));

  const plan = vlannet('plan', '-f', file, '--json');
  const changes = (JSON.parse(plan.stdout) as { changes: unknown[] }).changes.length;
  if (changes !== 0) throw new Error(`converged plan: ${changes} changes, expected none`);
  const converged = applyStep(file); // observe + plan inside the process, nothing to execute
  if (converged.actions.length) throw new Error(`converged apply executed ${converged.actions.length} actions`);

  // One endpoint added: it gets the lowest free address, nobody else moves.
  const added = [...ids, n + 1];
  fs.writeFileSync(file, configYaml(added));
  const addOne = applyStep(file);
  await mustMatch('add one', expectAll(added, nthAddress));

  // One endpoint removed (the first): the others keep their addresses.
  const removed = added.slice(1);
  fs.writeFileSync(file, configYaml(removed));
  const removeOne = applyStep(file);
  await mustMatch('remove one', expectAll(removed, nthAddress));

  const destroy = vlannet('destroy', '--yes', '--json');
  await mustMatch('destroy', new Map());
  return {
    cold,
    plan: { wallMs: plan.wallMs, inProcessMs: converged.timings.observeMs + converged.timings.planMs, timings: converged.timings },
    addOne,
    removeOne,
    destroy: { wallMs: destroy.wallMs },
  };
}

/** What one repetition of each scenario prints (the bench's main process reads it back). */
export type VlannetRun = Awaited<ReturnType<typeof benchVlannet>>;
export type Iproute2Run = Awaited<ReturnType<typeof benchIproute2>>;
export type DaemonRun = Awaited<ReturnType<typeof runDaemon>>;

async function benchIproute2(n: number) {
  const ids = range(1, n);
  fs.writeFileSync(`${WORK}/create.sh`, iproute2Script(ids));
  fs.writeFileSync(`${WORK}/delete.sh`, iproute2DeleteScript(ids));
  const cold = timed('bash', [`${WORK}/create.sh`]);
  await mustMatch('iproute2 script', expectAll(ids, nthAddress));
  const destroy = timed('bash', [`${WORK}/delete.sh`]);
  await mustMatch('ip netns del', new Map());
  return { cold: { wallMs: cold.wallMs }, destroy: { wallMs: destroy.wallMs } };
}

async function main(): Promise<void> {
  const [scenario, nText, deletions, budgetSeconds] = process.argv.slice(2);
  const n = Number(nText);
  if (!Number.isInteger(n) || n < 1) throw new Error('usage: sandbox.js vlannet|iproute2|daemon N [deletions]');
  enterSandbox();
  let result: unknown;
  if (scenario === 'vlannet') result = await benchVlannet(n);
  else if (scenario === 'iproute2') result = await benchIproute2(n);
  else if (scenario === 'daemon')
    result = await runDaemon(n, Number(deletions ?? 100), Number(budgetSeconds ?? 30) * 1000, {
      work: WORK,
      vlannet: VLANNET,
      timed,
      mustMatch,
      expectAll: (ids) => expectAll(ids, nthAddress),
    });
  else throw new Error(`unknown scenario ${scenario}`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
