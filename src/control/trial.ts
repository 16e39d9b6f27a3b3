// A trial (`vlannet apply --confirm-timeout DURATION`): an apply that is undone unless `vlannet
// confirm` comes in time. Its record, RUN_DIR/trial.json, holds the state read before the trial
// (the way back: plan/restore.ts) and the deadline. It lives in /run, a tmpfs: a reboot ends every
// trial with the state the boot makes, and nothing of it outlives the machine's run.
//
// The way back does not depend on the process that applied: before the trial changes anything a
// reverter of vlannet's own is armed, outside that process and its session: a transient systemd
// timer where systemd runs, else a detached process. A running daemon also holds the trial (it
// pauses its enforcement and reverts on time itself); the reverter then waits behind the daemon's
// lock and is the backstop should the daemon die. Whoever reverts or confirms first does it under
// the lock, and the record's state says it is done.

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ObservedState } from '../model/types.js';
import { TrialError } from '../errors.js';

export const TRIAL_FORMAT_VERSION = 1;

/** Who reverts a trial when its time is up. */
export type TrialReverter =
  /** A transient systemd timer (systemd-run --on-active), its unit name without `.timer`. */
  | { kind: 'systemd'; unit: string }
  /** A detached process of vlannet's own (`vlannet revert --trial ID --when-due`). */
  | { kind: 'process'; pid: number };

export interface TrialRecord {
  format_version: typeof TRIAL_FORMAT_VERSION;
  id: string;
  state: 'pending' | 'confirmed' | 'reverted' | 'revert-failed';
  /** The config file tried, as an absolute path, and the sha256 of the bytes tried. */
  file: string;
  configHash: string;
  startedAt: string;
  timeoutMs: number;
  /** When it is reverted unless confirmed: the end of the apply and timeoutMs (until the apply ends, its start and timeoutMs). */
  deadline: string;
  /** The apply finished (the deadline counts from its end). */
  applied: boolean;
  /** The daemon holding the trial (it pauses enforcement meanwhile), if one runs. */
  daemonPid: number | null;
  reverter: TrialReverter | null;
  /** When and how it ended (state not pending); `error`: why a revert failed, or why the trial's apply did. */
  endedAt?: string;
  endedBy?: string;
  error?: string;
  /** What vlannet owned before, as read then: what a revert brings back. */
  before: ObservedState;
}

/** A trial as `status` and `--json` show it: all but the state to come back to. */
export type TrialSummary = Omit<TrialRecord, 'before'>;

export function summary(t: TrialRecord): TrialSummary {
  const { before: _, ...rest } = t;
  return rest;
}

export function trialPath(dir: string): string {
  return path.join(dir, 'trial.json');
}

/** The trial record, or null when there has been none since boot. A record that cannot be read throws. */
export function readTrial(dir: string): TrialRecord | null {
  const file = trialPath(dir);
  let t: TrialRecord;
  try {
    t = JSON.parse(fs.readFileSync(file, 'utf8')) as TrialRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new TrialError(`cannot read the trial record ${file} (${why}): if no trial is pending, remove it`);
  }
  if (t.format_version !== TRIAL_FORMAT_VERSION)
    throw new TrialError(`${file} is not a trial record of this vlannet: if no trial is pending, remove it`);
  return t;
}

/** Write the record whole or not at all (a temporary file renamed over it, after fsync). */
export function writeTrial(dir: string, t: TrialRecord): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = trialPath(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(t)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function isPending(t: TrialRecord | null): t is TrialRecord {
  return t !== null && t.state === 'pending';
}

/** How this vlannet is run again (node and its script): the reverter's command. */
export function selfCommand(): string[] {
  return [process.execPath, fs.realpathSync(process.argv[1]!)];
}

/**
 * Begin a trial of `file` (revision `configHash`) from the state `before`: recorded, then its
 * reverter armed (when `command` says how to run vlannet), then recorded again with it, all
 * before anything changes. Its deadline counts from now until trialApplied moves it.
 */
export function beginTrial(
  dir: string,
  trial: { file: string; configHash: string; timeoutMs: number; daemonPid: number | null; before: ObservedState },
  command: string[] | null,
): TrialRecord {
  const now = Date.now();
  const t: TrialRecord = {
    format_version: TRIAL_FORMAT_VERSION,
    id: newTrialId(),
    state: 'pending',
    file: trial.file,
    configHash: trial.configHash,
    startedAt: new Date(now).toISOString(),
    timeoutMs: trial.timeoutMs,
    deadline: new Date(now + trial.timeoutMs).toISOString(),
    applied: false,
    daemonPid: trial.daemonPid,
    reverter: null,
    before: trial.before,
  };
  writeTrial(dir, t);
  if (command) {
    t.reverter = armReverter(dir, t.id, trial.timeoutMs, command);
    writeTrial(dir, t);
  }
  return t;
}

/** The trial's apply is done: its deadline counts from now. */
export function trialApplied(dir: string, t: TrialRecord): void {
  t.applied = true;
  t.deadline = new Date(Date.now() + t.timeoutMs).toISOString();
  writeTrial(dir, t);
}

/** A pending trial stands in the way of any other change: confirm or revert it first. */
export function refuseWhilePending(dir: string): void {
  const t = readTrial(dir);
  if (isPending(t)) throw new TrialError(`${pendingMessage(t)}. Run \`vlannet confirm\` or \`vlannet revert\` first; nothing was changed.`);
}

/** Milliseconds until the trial is due (≤ 0: due). */
export function dueInMs(t: TrialRecord, now = Date.now()): number {
  return Date.parse(t.deadline) - now;
}

export function newTrialId(): string {
  return randomBytes(6).toString('hex');
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const TRIAL_MIN_MS = 1000;
export const TRIAL_MAX_MS = 24 * 3_600_000;

/** `90`, `90s`, `2m`, `1m30s`, `1h`, `500ms`: milliseconds; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  if (!/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(s)) return null;
  let ms = 0;
  for (const [, n, , unit] of s.matchAll(/(\d+(\.\d+)?)(ms|h|m|s)/g)) ms += Number(n) * UNITS[unit!]!;
  return Math.round(ms);
}

/** 95000 → `1m35s`. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s || (!h && !m) ? `${s}s` : ''}`;
}

/** How the record's reverter is named for people. */
export function describeReverter(t: TrialSummary): string {
  const parts: string[] = [];
  if (t.daemonPid !== null) parts.push(`the daemon (pid ${t.daemonPid})`);
  if (t.reverter?.kind === 'systemd') parts.push(`the systemd timer ${t.reverter.unit}.timer`);
  if (t.reverter?.kind === 'process') parts.push(`vlannet process ${t.reverter.pid}`);
  return parts.length ? parts.join(', backed by ') : 'nobody (its reverter could not be started)';
}

/**
 * Start the reverter of trial `id`, outside this process and its session: a transient systemd
 * timer where systemd is the init system and systemd-run works, else a detached process writing
 * to RUN_DIR/trial.log. `command`: how to run vlannet (node and its script).
 */
export function armReverter(dir: string, id: string, timeoutMs: number, command: string[]): TrialReverter {
  const args = ['revert', '--trial', id, '--when-due'];
  if (fs.existsSync('/run/systemd/system')) {
    const unit = `vlannet-trial-${id}`;
    const env = process.env.VLANNET_RUN_DIR ? [`--setenv=VLANNET_RUN_DIR=${process.env.VLANNET_RUN_DIR}`] : [];
    const r = spawnSync(
      'systemd-run',
      [
        `--unit=${unit}`,
        '--description=vlannet: revert the trial unless it is confirmed',
        `--on-active=${Math.ceil(timeoutMs / 1000)}s`,
        '--timer-property=AccuracySec=100ms',
        '--quiet',
        ...env,
        '--',
        ...command,
        ...args,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 15_000 },
    );
    if (r.status === 0) return { kind: 'systemd', unit };
    // No usable systemd (a container without it as PID 1, no D-Bus): the process does it.
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const log = fs.openSync(path.join(dir, 'trial.log'), 'a', 0o600);
  try {
    const child = spawn(command[0]!, [...command.slice(1), ...args], { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${command.join(' ')}`);
    return { kind: 'process', pid: child.pid };
  } finally {
    fs.closeSync(log);
  }
}

/**
 * Stop the reverter of trial `id`, which has nothing left to do (confirmed, or reverted by someone
 * else). Best effort: a reverter also leaves by itself once the record says the trial is over.
 * Of a systemd reverter only the timer is stopped: a service already started is the caller itself,
 * or a reverter that leaves within a second.
 */
export function disarmReverter(r: TrialReverter | null, id: string): void {
  if (r?.kind === 'systemd') {
    spawnSync('systemctl', ['stop', `${r.unit}.timer`], { stdio: 'ignore', timeout: 15_000 });
  } else if (r?.kind === 'process' && r.pid !== process.pid) {
    // Only the process vlannet started: its command line still names the trial.
    try {
      const cmdline = fs.readFileSync(`/proc/${r.pid}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes('--when-due') && cmdline.includes(id)) process.kill(r.pid, 'SIGTERM');
    } catch {
      /* gone already */
    }
  }
}

/** Mark the trial ended, record it, and stop its reverter. */
export function endTrial(
  dir: string,
  t: TrialRecord,
  state: 'confirmed' | 'reverted' | 'revert-failed',
  by: string,
  error?: unknown,
): void {
  t.state = state;
  t.endedAt = new Date().toISOString();
  t.endedBy = by;
  if (error !== undefined) t.error = error instanceof Error ? error.message : String(error);
  writeTrial(dir, t);
  disarmReverter(t.reverter, t.id);
}

/** A time of day, as people read it in a log or on a terminal (local time, seconds). */
export function clock(iso: string): string {
  return new Date(iso).toTimeString().slice(0, 8);
}

/** "a trial of FILE is pending until HH:MM:SS (trial ID)". */
export function pendingMessage(t: TrialSummary): string {
  return `a trial of ${t.file} is pending until ${clock(t.deadline)} (trial ${t.id})`;
}

/** Why there is nothing to `doing` (confirm, revert): no trial, or how the last one ended. */
export function noTrialMessage(t: TrialSummary | null, doing: string): string {
  if (t === null) return `no trial is pending: there is nothing to ${doing}`;
  if (t.state === 'reverted')
    return `no trial is pending: trial ${t.id} (${t.file}) was reverted at ${clock(t.endedAt!)} by ${t.endedBy}; the kernel is as it was before it`;
  if (t.state === 'confirmed') return `no trial is pending: trial ${t.id} (${t.file}) was confirmed at ${clock(t.endedAt!)}`;
  return `no trial is pending: reverting trial ${t.id} (${t.file}) failed at ${clock(t.endedAt!)}: ${t.error}`;
}

/** What the operator reads once a trial has begun. */
export function trialNotice(t: TrialSummary, now = Date.now()): string {
  return (
    `Trial ${t.id}: run \`vlannet confirm\` before ${clock(t.deadline)} (in ${formatDuration(Date.parse(t.deadline) - now)}) to keep this; ` +
    `otherwise ${describeReverter(t)} puts the kernel back as it was.`
  );
}
