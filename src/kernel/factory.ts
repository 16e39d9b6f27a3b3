// Namespaces made on a second thread while the main thread goes on with the links, addresses and
// routes of the namespaces already made. Making a namespace is the largest single cost of a cold
// apply (the kernel builds the new namespace's sysctl tables, devices and routes: about 0.6 ms
// each), and little of it holds the rtnetlink lock the main thread's requests need, so the two
// overlap on a machine with a second CPU. The executor lets each namespace go ahead as soon as it
// exists (src/apply/execute.ts).
//
// The worker (netns-worker.ts) runs makeNamespace and answers with fds, which belong to the whole
// process. Its answers are taken without waiting for the event loop (between operations, see
// tick()), so a busy main thread hands the worker its next namespace as soon as one is done.
// Until the worker has started (tens of milliseconds), make() declines and the main thread makes
// the namespace itself.

import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { NetlinkError } from './handle.js';
import type { MadeNamespace } from './namespace.js';
import { SyscallError } from './netns.js';

/** Requests to the worker, and its answers. */
export interface MakeRequest { id: number; name: string }
export type WorkerMessage =
  | { ready: true }
  | { id: number; made: MadeNamespace }
  | { id: number; error: SerializedError };

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

/** The worker's module: next to this one, as tsc (.js) or the bundle (.mjs) laid it out. */
function workerUrl(): URL {
  return new URL(import.meta.url.endsWith('.mjs') ? './netns-worker.mjs' : './netns-worker.js', import.meta.url);
}

export class NamespaceFactory {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private ready = false;
  private broken: Error | null = null;
  private closed = false;
  private nextId = 0;
  private ticks = 0;
  private readonly waiting = new Map<number, { resolve(m: MadeNamespace): void; reject(e: Error): void }>();
  /** Namespaces the worker made. */
  made = 0;
  private readonly started: Promise<void>;
  private markStarted!: () => void;

  constructor() {
    this.started = new Promise<void>((resolve) => { this.markStarted = resolve; });
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(workerUrl(), { workerData: { port: port2 }, transferList: [port2] });
    // Neither keeps the process alive by itself; the port does while an answer is awaited.
    this.worker.unref();
    this.port.unref();
    this.port.on('message', (m: WorkerMessage) => this.receive(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the namespace worker exited (code ${code})`)));
  }

  /** The namespace NAME, made by the worker; null while the worker is not (or no longer) there. */
  make(name: string): Promise<MadeNamespace> | null {
    this.poll();
    if (!this.ready || this.broken) return null;
    const id = ++this.nextId;
    if (this.waiting.size === 0) this.port.ref();
    const answer = new Promise<MadeNamespace>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.port.postMessage({ id, name } satisfies MakeRequest);
    return answer;
  }

  /**
   * Between two operations of the main thread: take the answers already there, every few calls
   * (a look costs ~10 µs; the worker has dozens of namespaces queued meanwhile).
   */
  tick(): void {
    if (this.waiting.size > 0 && (++this.ticks & 7) === 0) this.poll();
  }

  /** Resolves once the worker takes namespaces, or is gone (keeping the process alive until then). */
  async whenStarted(): Promise<void> {
    if (this.ready || this.broken) return;
    this.port.ref();
    await this.started;
    if (this.waiting.size === 0 && !this.closed) this.port.unref();
  }

  /** Take every answer already there, now. */
  poll(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) this.receive(m.message as WorkerMessage);
  }

  /** Stop the worker. Nothing may be awaited from it any more (the executor waits for every operation first). */
  close(): void {
    this.fail(new Error('the namespace worker was stopped'));
    this.closed = true;
    this.port.close();
    void this.worker.terminate();
  }

  private receive(m: WorkerMessage): void {
    if ('ready' in m) { this.ready = true; this.markStarted(); return; }
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (this.waiting.size === 0) this.port.unref();
    if ('made' in m) { this.made++; w.resolve(m.made); } else w.reject(deserializeError(m.error));
  }

  /** The worker is gone: what was asked of it fails, and the main thread makes the rest. */
  private fail(e: Error): void {
    if (this.closed) return;
    this.poll();
    this.broken ??= e;
    this.markStarted();
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
    this.port.unref();
  }
}
