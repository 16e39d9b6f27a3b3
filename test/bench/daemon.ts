// The daemon at N endpoints: an owned endpoint link is deleted behind its back (`ip -n NS link
// del eth0`) and the time until the namespace again has its default route through a new eth0 is
// measured from the kernel's own notifications (RTM_DELLINK → RTM_NEWROUTE default), read on a
// socket subscribed in that namespace. Then peak resident memory (VmHWM) of the daemon process.

import fs from 'node:fs';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { createNetlink, type NetlinkSocket } from 'netlink';
import { configYaml, endpointName, IFNAME } from './workload.js';
import { median, percentile, summarize } from './stats.js';
import { openIn } from './check.js';
import { askDaemon, type ServedAnswer } from '../../src/control/protocol.js';
import type { StatusReport } from '../../src/control/protocol.js';
import type { Timings } from '../../src/apply/reconcile.js';

const run = promisify(execFile);
const RTNLGRP_LINK = 1;
const RTNLGRP_IPV4_ROUTE = 7;
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_NEWROUTE = 24;
const IFF_UP = 1;
const REPAIR_TIMEOUT_MS = 10_000;
/**
 * The daemon holds kernel events back once three drift repairs come less than its flap window
 * (2 s) apart, whichever links they were. Deletions therefore come in pairs 20 ms apart with a
 * pause longer than the window between pairs: every repair measured is an independent drift
 * event, not the flap damper.
 */
const PAIR_GAP_MS = 20;
const FLAP_PAUSE_MS = 2100;

function monitorIn(netns: string): NetlinkSocket {
  return openIn(netns, () => {
    const s = createNetlink(0, { ref: true } as never);
    s.addMembership(RTNLGRP_LINK);
    s.addMembership(RTNLGRP_IPV4_ROUTE);
    return s;
  });
}

interface Repair {
  /** RTM_DELLINK to the new eth0 up. */
  linkMs: number;
  /** RTM_DELLINK to its default route back: the endpoint is whole again. */
  routeMs: number;
}

/** Delete the endpoint link of `netns` and wait for the daemon to put it back. */
async function deleteAndWait(netns: string): Promise<Repair> {
  const socket = monitorIn(netns);
  let deletedAt = NaN;
  let linkAt = NaN;
  try {
    const back = new Promise<Repair>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${netns}: not repaired within ${REPAIR_TIMEOUT_MS} ms`)), REPAIR_TIMEOUT_MS);
      socket.on('message', (msgs) => {
        const now = performance.now();
        for (const m of msgs) {
          if (m.type === RTM_DELLINK && Number.isNaN(deletedAt)) deletedAt = now;
          if (m.type === RTM_NEWLINK && !Number.isNaN(deletedAt) && Number.isNaN(linkAt) && m.data.readUInt32LE(8) & IFF_UP) linkAt = now;
          // rtmsg: family, dst_len, src_len, tos, table …: a main-table default route.
          if (m.type === RTM_NEWROUTE && !Number.isNaN(deletedAt) && m.data[1] === 0 && m.data[4] === 254) {
            clearTimeout(timer);
            resolve({ linkMs: (Number.isNaN(linkAt) ? now : linkAt) - deletedAt, routeMs: now - deletedAt });
          }
        }
      });
    });
    await run('ip', ['-n', netns, 'link', 'del', IFNAME]);
    return await back;
  } finally {
    socket.close();
  }
}

function memoryOf(pid: number): { vmHwmKiB: number; vmRssKiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { vmHwmKiB: kib('VmHWM'), vmRssKiB: kib('VmRSS') };
}

export interface DaemonContext {
  work: string;
  vlannet: string;
  timed(cmd: string, args: string[]): { wallMs: number; stdout: string };
  mustMatch(step: string, expected: Map<string, string>): Promise<void>;
  expectAll(ids: number[]): Map<string, string>;
}

/** `budgetMs`: stop deleting after this long, whatever the count reached (the bench must stay a few minutes). */
export async function runDaemon(n: number, deletions: number, budgetMs: number, ctx: DaemonContext) {
  const ids = Array.from({ length: n }, (_, k) => k + 1);
  const file = `${ctx.work}/vlannet.yaml`;
  fs.writeFileSync(file, configYaml(ids));
  await run(ctx.vlannet, ['apply', '-f', file], { maxBuffer: 1 << 30 });

  const daemon = spawn(ctx.vlannet, ['daemon', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise<number | null>((resolve) => daemon.on('exit', (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`daemon not ready after 120 s:\n${log}`)), 120_000);
      daemon.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (/\bready:/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`daemon exited (${code}) before it was ready:\n${log}`)));
    });
    const readyRss = memoryOf(daemon.pid!);
    const served = await servedByDaemon(n, file, ctx, () => log);

    const repairs: Repair[] = [];
    const started = performance.now();
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    while (repairs.length < deletions && performance.now() - started < budgetMs) {
      try {
        repairs.push(await deleteAndWait(endpointName(1 + (next() % n))));
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}; the daemon's log ends:\n${log.split('\n').slice(-12).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, repairs.length % 2 === 0 ? FLAP_PAUSE_MS : PAIR_GAP_MS));
    }
    await ctx.mustMatch('daemon repairs', ctx.expectAll(ids));
    const routeMs = repairs.map((r) => r.routeMs);
    const linkMs = repairs.map((r) => r.linkMs);
    return {
      deletions: repairs.length,
      repairMs: { p50: percentile(routeMs, 50), p99: percentile(routeMs, 99), max: Math.max(...routeMs) },
      linkBackMs: { p50: percentile(linkMs, 50), p99: percentile(linkMs, 99) },
      memory: { ready: readyRss, end: memoryOf(daemon.pid!) },
      served,
    };
  } finally {
    daemon.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
    if (code === 'timeout') daemon.kill('SIGKILL');
  }
}

export const SERVED_REPS = 5;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * With the daemon running, as operators run vlannet: `vlannet plan` and `vlannet apply` of its
 * file are answered by the daemon from its current reading of the kernel; an edit of the file is
 * applied by the daemon itself. Times: whole command (spawn to exit), in the daemon (observe +
 * plan + execute + verify, as its timings say), and edit to converged (the write to the daemon's
 * log line saying it applied that revision; includes the 100 ms debounce of file events). The
 * file is replaced as git and deployment tools replace files (written beside it, renamed over
 * it), which the daemon applies at once; a file written in place waits for the settle time too.
 */
async function servedByDaemon(n: number, file: string, ctx: DaemonContext, log: () => string) {
  const plans = [];
  for (let i = 0; i < SERVED_REPS; i++) {
    const r = ctx.timed(ctx.vlannet, ['plan', '-f', file, '--json']);
    const changes = (JSON.parse(r.stdout) as { changes: unknown[] }).changes.length;
    if (changes !== 0) throw new Error(`converged plan served by the daemon: ${changes} changes, expected none`);
    plans.push(r.wallMs);
  }
  const inDaemon = [];
  for (let i = 0; i < SERVED_REPS; i++) {
    const a = await askDaemon<ServedAnswer>('/run/vlannet', { command: 'plan', file }, null);
    if (a?.outcome !== 'done') throw new Error(`the daemon did not plan: ${JSON.stringify(a)}`);
    inDaemon.push(a.result.timings.observeMs + a.result.timings.planMs);
  }
  const ids = Array.from({ length: n }, (_, k) => k + 1);
  const edit = async (step: string, wanted: number[]) => {
    const text = configYaml(wanted);
    const hash = sha256(text).slice(0, 12);
    const before = log().length;
    const t0 = performance.now();
    fs.writeFileSync(`${file}.new`, text);
    fs.renameSync(`${file}.new`, file);
    for (;;) {
      if (log().slice(before).includes(`applied revision ${hash}`)) break;
      if (performance.now() - t0 > REPAIR_TIMEOUT_MS)
        throw new Error(`${step}: the daemon did not apply revision ${hash}:\n${log().slice(before)}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    const wallMs = performance.now() - t0;
    await ctx.mustMatch(step, ctx.expectAll(wanted));
    const run = (await askDaemon<StatusReport>('/run/vlannet', { command: 'status' }))!.lastChange!;
    const t = run.timings!;
    return { wallMs, inProcessMs: t.observeMs + t.planMs + t.executeMs + t.verifyMs, timings: t, actions: run.actions };
  };
  const adds = [];
  const removes = [];
  for (let i = 0; i < SERVED_REPS; i++) {
    adds.push(await edit('add one (daemon)', [...ids, n + 1]));
    removes.push(await edit('remove one (daemon)', ids));
  }
  return { planWallMs: plans, planInDaemonMs: inDaemon, addOne: edits(adds), removeOne: edits(removes) };
}

/** Repeated edits: median and spread of each time, and the actions of the first. */
function edits(runs: { wallMs: number; inProcessMs: number; timings: Timings; actions: string[] }[]) {
  const of = (f: (t: Timings) => number) => median(runs.map((r) => f(r.timings)));
  return {
    wallMs: summarize(runs.map((r) => r.wallMs)),
    inProcessMs: summarize(runs.map((r) => r.inProcessMs)),
    timings: {
      observeMs: of((t) => t.observeMs),
      planMs: of((t) => t.planMs),
      executeMs: of((t) => t.executeMs),
      verifyMs: of((t) => t.verifyMs),
    },
    actions: runs[0]!.actions,
    sameActions: runs.every((r) => r.actions.join('\n') === runs[0]!.actions.join('\n')),
  };
}
