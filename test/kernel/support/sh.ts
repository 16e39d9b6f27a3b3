// Running programs from kernel tests: iproute2 (the independent witness of what is in the kernel),
// ping, and vlannet itself. Synchronous on purpose: a kernel test is a script of steps.

import { execFileSync, spawnSync } from 'node:child_process';

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * VLANNET_TEST_PROFILE=1: at exit, how many processes each program took and how long they ran
 * (in the VM under TCG every process costs ~0.05–1.2 s: this shows where a suite's time goes).
 */
const profile = process.env.VLANNET_TEST_PROFILE ? new Map<string, { count: number; ms: number }>() : null;
if (profile) {
  process.on('exit', () => {
    const rows = [...profile].sort((a, b) => b[1].ms - a[1].ms);
    for (const [what, p] of rows) process.stderr.write(`profile: ${what}: ${p.count} processes, ${(p.ms / 1000).toFixed(1)} s\n`);
  });
}
function profiled<T>(file: string, args: string[], f: () => T): T {
  if (!profile) return f();
  const t0 = performance.now();
  try {
    return f();
  } finally {
    const what =
      file === process.execPath
        ? `vlannet ${args[1]}`
        : file === 'ip' && args[0] === 'netns' && args[1] === 'exec'
          ? `ip netns exec ${args[3]}`
          : file;
    const p = profile.get(what) ?? { count: 0, ms: 0 };
    p.count++;
    p.ms += performance.now() - t0;
    profile.set(what, p);
  }
}

/** Run a program and return its exit status and output, whatever the status. */
export function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): RunResult {
  return profiled(file, args, () => runNow(file, args, opts));
}

function runNow(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number }): RunResult {
  const r = spawnSync(file, args, {
    encoding: 'utf8',
    env: opts.env ?? process.env,
    input: opts.input,
    timeout: opts.timeoutMs ?? 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run a program that must succeed; its stdout. Throws with the command and its stderr otherwise. */
export function must(file: string, args: string[]): string {
  try {
    return profiled(file, args, () => execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (e) {
    const err = e as { stderr?: string; status?: number };
    throw new Error(`${file} ${args.join(' ')} failed (exit ${err.status}): ${err.stderr?.trim() ?? ''}`);
  }
}

/** `ip ARGS…` that must succeed. */
export function ip(...args: string[]): string {
  return must('ip', args);
}

/** `ip -j ARGS…` parsed. An empty answer (ip prints nothing for an empty list sometimes) is []. */
export function ipJson<T = Record<string, unknown>>(...args: string[]): T[] {
  const text = must('ip', ['-j', ...args]).trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

/** `ip netns exec NS ping -c1 -W1 ADDR`: true when one echo came back. */
export function ping(netns: string, address: string): boolean {
  const family = address.includes(':') ? '-6' : '-4';
  return run('ip', ['netns', 'exec', netns, 'ping', family, '-c1', '-W1', address]).status === 0;
}
