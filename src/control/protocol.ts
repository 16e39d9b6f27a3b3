// The daemon's control socket, RUN_DIR/status.sock, root only: one JSON request line in, one JSON
// answer out, then the connection ends. `vlannet status` asks for the daemon's report; `plan` and
// `apply` ask the running daemon to plan or apply the file it enforces against the kernel as it
// already knows it. The daemon's readings are kept current by rtnetlink notifications in every
// namespace it reads (a namespace with any change since is read again), so the answer is what a
// fresh process would compute, without a fresh process opening and reading every namespace.
//
// The protocol both sides import (the daemon serves it, the command line asks): the requests, the
// answers and the status report, in plain data. This module is loaded by every command that may
// talk to a daemon: it imports nothing heavy.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Action, Diagnostic, Plan } from '../model/types.js';
import type { PlanJson } from '../plan/render.js';
import { DaemonError } from '../errors.js';
import type { TrialSummary } from './trial.js';

export function controlSocketPath(dir: string): string {
  return path.join(dir, 'status.sock');
}

export type ControlRequest =
  | { command: 'status' }
  /** Which daemon runs, and which file it enforces (IdentifyAnswer): cheap, for commands without -f. */
  | { command: 'identify' }
  /** `file`: the config file the command was given, as an absolute path. */
  | { command: 'plan'; file: string }
  /** `force`: this apply may remove endpoints in namespaces that processes use (links first). */
  | { command: 'apply'; file: string; force?: boolean }
  /** `vlannet apply --confirm-timeout`: apply `file` as a trial the daemon holds (TrialAnswer). */
  | { command: 'try'; file: string; timeoutMs: number; force?: boolean }
  /** `vlannet confirm` and `vlannet revert` of the trial the daemon holds (TrialAnswer). */
  | { command: 'confirm' }
  | { command: 'revert' };

/**
 * The daemon's answer to try, confirm and revert: `done` for try is the apply's ServedAnswer with
 * the trial it began (null: nothing to change, no trial); the others say what became of the trial.
 */
export type TrialAnswer =
  | (Exclude<ServedAnswer, { outcome: 'done' | 'declined' }> & { trial?: undefined })
  | (Extract<ServedAnswer, { outcome: 'done' }> & { trial: TrialSummary | null })
  | { outcome: 'confirmed' | 'reverted' | 'none' | 'refused'; message: string; trial: TrialSummary | null; pid: number };

export interface IdentifyAnswer {
  pid: number;
  /** The enforced file, as an absolute path. */
  file: string;
}

/** The running daemon's pid and file; null when none listens. */
export function identifyDaemon(dir: string): Promise<IdentifyAnswer | null> {
  return askDaemon<IdentifyAnswer>(dir, { command: 'identify' }, 5_000);
}

/** What a run did, as `vlannet apply` reports it (ReconcileResult, plain data). */
export interface ServedResult {
  plan: Plan;
  executed: Action[];
  timings: { observeMs: number; planMs: number; executeMs: number; verifyMs: number };
}

/** The daemon's answer to plan and apply. */
export type ServedAnswer =
  /** The daemon enforces another file: the command runs on its own. */
  | { outcome: 'declined'; enforced: string; pid: number }
  /** The file is not valid (or not readable, or half written): its diagnostics; nothing was done. */
  | { outcome: 'invalid'; diagnostics: Diagnostic[]; pid: number }
  /** The run failed: what happened and what rollback did, for people; the kernel is as before. */
  | { outcome: 'failed'; error: string; pid: number }
  | { outcome: 'done'; result: ServedResult; warnings: Diagnostic[]; pid: number };

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

/** Longest request line accepted: requests are a few hundred bytes. */
const MAX_REQUEST = 64 << 10;

/**
 * Serve `answer` on RUN_DIR/status.sock, created 0600 (no moment where others could connect).
 * The caller holds the lock, so a socket found there is a dead daemon's and is replaced.
 */
export async function serveControl(dir: string, answer: (request: ControlRequest) => Promise<unknown>): Promise<ControlServer> {
  const socketPath = controlSocketPath(dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.rmSync(socketPath, { force: true });
  const server = net.createServer((conn) => {
    let data = '';
    conn.setEncoding('utf8');
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: string) => {
      data += chunk;
      if (data.length > MAX_REQUEST) return void conn.end(`${JSON.stringify({ error: 'request too long' })}\n`);
      const end = data.indexOf('\n');
      if (end < 0) return;
      conn.removeAllListeners('data');
      let request: ControlRequest;
      try {
        request = JSON.parse(data.slice(0, end)) as ControlRequest;
      } catch {
        return void conn.end(`${JSON.stringify({ error: 'the request is not JSON' })}\n`);
      }
      answer(request).then(
        (a) => {
          if (!conn.destroyed) conn.end(`${JSON.stringify(a)}\n`);
        },
        (e) => {
          if (!conn.destroyed) conn.end(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
        },
      );
    });
  });
  const umask = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  fs.chmodSync(socketPath, 0o600);
  return {
    path: socketPath,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Ask a running daemon; null when none listens on the socket. `timeoutMs` null waits as long as the
 * daemon works (an apply of a thousand endpoints takes seconds).
 */
export function askDaemon<T>(dir: string, request: ControlRequest, timeoutMs: number | null = 10_000): Promise<T | null> {
  const socketPath = controlSocketPath(dir);
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socketPath);
    let data = '';
    if (timeoutMs !== null)
      conn.setTimeout(timeoutMs, () => conn.destroy(new DaemonError(`the daemon did not answer on ${socketPath} within ${timeoutMs} ms`)));
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on('data', (d: string) => {
      data += d;
    });
    conn.on('end', () => {
      if (data === '')
        return reject(new DaemonError(`the daemon closed ${socketPath} without answering (it may have stopped); see \`vlannet status\``));
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return reject(new DaemonError(`the daemon's answer on ${socketPath} is not JSON`));
      }
      const error = (parsed as { error?: unknown }).error;
      if (typeof error === 'string') reject(new DaemonError(`the daemon could not answer: ${error}`));
      else resolve(parsed as T);
    });
    conn.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') resolve(null);
      else if (e.code === 'EACCES') reject(new DaemonError(`${socketPath}: EACCES: the daemon's socket is root-only; run vlannet as root`));
      else reject(new DaemonError(`cannot reach the daemon on ${socketPath}: ${e.code ?? e.message}`));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The status report: what `vlannet status` shows and `status --json` prints.

/** Why a run happens; `cli`: `vlannet apply` asked the daemon (daemon/requests.ts). */
export type Trigger = 'start' | 'config' | 'kernel' | 'overflow' | 'resync' | 'reload' | 'retry' | 'cli' | 'trial';

export type RunResult = 'converged' | 'applied' | 'repaired' | 'failed' | 'no-config';

export interface RunRecord {
  triggers: Trigger[];
  startedAt: string;
  durationMs: number;
  result: RunResult;
  /** Actions executed (0 when converged). */
  executed: number;
  /** The objects those actions touched (endpoint.web1, netns.web1 …). */
  objects: string[];
  /** The first ACTIONS_RECORDED actions, as `create endpoint.web1 (link-add)`. */
  actions: string[];
  /** The config revision enforced by this run. */
  configHash: string | null;
  error: string | null;
  timings: { observeMs: number; planMs: number; executeMs: number; verifyMs: number } | null;
}

export interface ConfigState {
  file: string;
  realPath: string | null;
  /** Whether the file as it is now is valid. */
  valid: boolean;
  /** Hash of the file as last read. */
  currentHash: string | null;
  /** Why the file is not applied (its errors, each with file:line:column). */
  errors: string[];
  warnings: string[];
  /** The same errors and warnings as data (absent from a daemon of vlannet 0.1). */
  diagnostics?: Diagnostic[];
}

export interface GitRevision {
  /** The top of the checkout. */
  worktree: string;
  /** Full commit id of HEAD. */
  commit: string;
  /** The branch HEAD points at, or null when detached. */
  branch: string | null;
}

export const STATUS_FORMAT_VERSION = '1';

export interface StatusReport {
  format_version: typeof STATUS_FORMAT_VERSION;
  daemon: { running: boolean; pid: number | null; since: string | null; busy: boolean };
  summary: string;
  config: ConfigState & { lastGood: { hash: string; loadedAt: string; git: GitRevision | null } | null };
  /** The revision the kernel last matched, and the commit it came from. */
  applied: { hash: string; git: GitRevision | null } | null;
  lastReconcile: RunRecord | null;
  /** The last reconcile that changed the kernel. */
  lastChange: RunRecord | null;
  lastSuccessAt: string | null;
  reconciles: number;
  driftRepairs: number;
  failures: number;
  /** What a run would do now (planToJson form); null when it could not be computed. */
  plan: PlanJson | null;
  planError: string | null;
  /** The last trial since boot (apply --confirm-timeout): pending, or how it ended; null: none. */
  trial?: TrialSummary | null;
}

/** Ask a running daemon for its report; null when no daemon listens. */
export function queryStatus(dir: string, timeoutMs = 10_000): Promise<StatusReport | null> {
  return askDaemon<StatusReport>(dir, { command: 'status' }, timeoutMs);
}
