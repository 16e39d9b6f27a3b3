// Namespaces made on a second thread while the main thread goes on with the links, addresses and
// routes of the namespaces already made. Making a namespace is the largest single cost of a cold
// apply (the kernel builds the new namespace's sysctl tables, devices and routes: about 0.6 ms
// each), and little of it holds the rtnetlink lock the main thread's requests need, so the two
// overlap on a machine with a second CPU. The executor lets each namespace go ahead as soon as it
// exists (src/apply/execute.ts).
//
// The namespaces an execution will make are known before it starts (prepare()). Both threads take
// the next one nobody has taken from one counter in shared memory: the worker (netns-worker.ts)
// runs through the list on its own, and the main thread takes one whenever the executor has
// nothing else to start (help()). So neither waits for the other while namespaces are left to
// make, and whichever is faster makes more. The worker answers with fds, which belong to the
// whole process; its answers are taken between operations without waiting for the event loop
// (tick()). A namespace made ahead for an operation the execution never got to (it failed
// first) is removed again when the execution ends (close()).

import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { MessagePort, Worker } from 'node:worker_threads';

import { makeNamespace, type MadeNamespace } from './namespace.js';
import { deleteNamedNetns } from './netns.js';
import { closeSocket } from './sockets.js';
import { SyscallError, NetlinkError } from '../errors.js';

/** What the worker is given: the names in order, the shared counter, its end of the channel. */
export interface WorkerData {
  names: string[];
  next: SharedArrayBuffer;
  port: MessagePort;
}

/** The worker's messages: a namespace made (or not), by its place in the list; then done. */
export type WorkerMessage = { index: number; made: MadeNamespace } | { index: number; error: SerializedError } | { done: true };

/** An error as it crosses threads (structured clone keeps neither class nor code). */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  syscall?: string;
  path?: string;
  what?: string;
  errno?: string;
  detail?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof NetlinkError) return { name: e.name, message: e.message, errno: e.errno, detail: e.detail };
  if (e instanceof SyscallError) return { name: e.name, message: e.message, code: e.code, syscall: e.syscall, what: e.what };
  const x = e as NodeJS.ErrnoException;
  return { name: x?.name ?? 'Error', message: x?.message ?? String(e), code: x?.code, syscall: x?.syscall, path: x?.path };
}

export function deserializeError(s: SerializedError): Error {
  if (s.name === 'NetlinkError') return new NetlinkError(s.errno!, s.detail ?? '');
  if (s.name === 'SyscallError') return new SyscallError(s.code!, s.syscall!, s.what ?? '');
  return Object.assign(new Error(s.message), { code: s.code, syscall: s.syscall, path: s.path });
}

/** node:worker_threads, loaded when a factory is made: 1.7 MB a daemon making no namespaces does without. */
let threads: typeof import('node:worker_threads') | null = null;
const workerThreads = () => (threads ??= createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads'));

/** The worker's module: next to this one, as tsc (.js) or the bundle (.mjs) laid it out. */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith('.mjs') ? './netns-worker.mjs' : './netns-worker.js', import.meta.url);
}

type Outcome = { made: MadeNamespace } | { error: Error };

export class NamespaceFactory {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly place = new Map<string, number>();
  /** [0]: the place of the next namespace nobody has taken. */
  private readonly next: Int32Array;
  private readonly outcomes: (Outcome | undefined)[];
  /** Places asked for through make(): theirs to use (or to undo) from then on. */
  private readonly asked = new Set<number>();
  private readonly waiting = new Map<number, { resolve(m: MadeNamespace): void; reject(e: Error): void }>();
  private workerDone = false;
  /** The worker failed: what nobody has taken is made where it is asked for. */
  private workerFailed = false;
  private onWorkerDone: (() => void) | null = null;
  private ticks = 0;
  /** Namespaces the worker made. */
  made = 0;

  constructor(private readonly names: readonly string[]) {
    for (const [i, name] of names.entries()) this.place.set(name, i);
    this.outcomes = new Array<Outcome | undefined>(names.length);
    const shared = new SharedArrayBuffer(4);
    this.next = new Int32Array(shared);
    const { MessageChannel, Worker } = workerThreads();
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(workerUrl(), {
      workerData: { names: [...names], next: shared, port: port2 } satisfies WorkerData,
      transferList: [port2],
    });
    // Neither keeps the process alive by itself; the port does while an answer is awaited.
    this.worker.unref();
    this.port.unref();
    this.port.on('message', (m: WorkerMessage) => this.receive(m));
    this.worker.on('error', (e) => this.workerGone(e));
    this.worker.on('exit', (code) => this.workerGone(new Error(`the namespace worker exited (code ${code})`)));
  }

  /** The namespace NAME, by whichever thread makes it; null when it was not planned (make it here). */
  make(name: string): Promise<MadeNamespace> | null {
    const i = this.place.get(name);
    if (i === undefined || this.asked.has(i)) return null;
    this.poll();
    if (this.workerFailed && !this.outcomes[i] && i >= Atomics.load(this.next, 0)) return null;
    this.asked.add(i);
    const known = this.outcomes[i];
    if (known) return 'made' in known ? Promise.resolve(known.made) : Promise.reject(known.error);
    if (this.waiting.size === 0) this.port.ref();
    return new Promise<MadeNamespace>((resolve, reject) => this.waiting.set(i, { resolve, reject }));
  }

  /**
   * The main thread has nothing else to do: take the worker's answers, or else make the next
   * namespace nobody has taken. Whether that gave the main thread something to go on with.
   */
  help(): boolean {
    if (this.poll() > 0) return true;
    if (this.workerFailed) return false;
    const i = this.take();
    if (i === null) return false;
    let outcome: Outcome;
    try {
      outcome = { made: makeNamespace(this.names[i]!) };
    } catch (e) {
      outcome = { error: e as Error };
    }
    this.settle(i, outcome);
    return true;
  }

  /** Between two operations of the main thread: take the answers already there, every few calls (a look costs ~10 µs). */
  tick(): void {
    if (this.waiting.size > 0 && (++this.ticks & 7) === 0) this.poll();
  }

  /** Take every answer already there, now; how many awaited namespaces that settled. */
  poll(): number {
    let settled = 0;
    const { receiveMessageOnPort } = workerThreads();
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port))
      settled += this.receive(m.message as WorkerMessage);
    return settled;
  }

  /** Resolves once the worker has started taking namespaces, or has stopped (tests, benchmarks). */
  async whenStarted(): Promise<void> {
    while (Atomics.load(this.next, 0) === 0 && !this.workerDone) await new Promise((r) => setTimeout(r, 1));
  }

  /**
   * The execution is over: nobody takes another namespace; once the worker has finished the one
   * it is making, a namespace made for an operation that was never asked for is removed, and the
   * worker stops. Call when no answer is awaited any more (the executor waits for every operation).
   */
  async close(): Promise<void> {
    Atomics.store(this.next, 0, this.names.length);
    if (!this.workerDone) {
      this.port.ref();
      await new Promise<void>((resolve) => {
        this.onWorkerDone = resolve;
      });
    }
    this.poll();
    this.port.close();
    void this.worker.terminate();
    for (const [i, outcome] of this.outcomes.entries()) {
      if (!outcome || !('made' in outcome) || this.asked.has(i)) continue;
      closeSocket(outcome.made.sockets.fd!);
      fs.closeSync(outcome.made.fd);
      try {
        deleteNamedNetns(this.names[i]!);
      } catch {
        /* already gone: someone else deleted it */
      }
    }
  }

  /** The next place nobody has taken, now taken; null when none is left. */
  private take(): number | null {
    const i = Atomics.add(this.next, 0, 1);
    return i < this.names.length ? i : null;
  }

  private receive(m: WorkerMessage): number {
    if ('done' in m) {
      this.finishWorker();
      return 0;
    }
    if ('made' in m) this.made++;
    return this.settle(m.index, 'made' in m ? { made: m.made } : { error: deserializeError(m.error) });
  }

  /** Record how place `i` turned out, and tell whoever waits for it; 1 when someone did. */
  private settle(i: number, outcome: Outcome): number {
    this.outcomes[i] = outcome;
    const w = this.waiting.get(i);
    if (!w) return 0;
    this.waiting.delete(i);
    if (this.waiting.size === 0 && !this.onWorkerDone) this.port.unref();
    if ('made' in outcome) w.resolve(outcome.made);
    else w.reject(outcome.error);
    return 1;
  }

  /** The worker has stopped taking namespaces (done, or failed). */
  private finishWorker(): void {
    this.workerDone = true;
    const resolve = this.onWorkerDone;
    this.onWorkerDone = null;
    resolve?.();
  }

  /**
   * The worker failed or exited before it was done. What it had taken and not answered is
   * unknown: those operations fail (rolled back; the next run reads what is there), and so does
   * every operation still waiting. What nobody has taken is made where it is asked for.
   */
  private workerGone(e: Error): void {
    if (this.workerDone) return;
    this.poll(); // its last answers, and its `done` when it simply ended
    if (this.workerDone) return;
    this.workerFailed = true;
    this.finishWorker();
    const taken = Math.min(Atomics.load(this.next, 0), this.names.length);
    for (let i = 0; i < taken; i++) if (!this.outcomes[i]) this.settle(i, { error: e });
    for (const i of [...this.waiting.keys()]) this.settle(i, { error: e });
  }
}
