// The namespace factory's worker thread (factory.ts): takes the next namespace nobody has taken,
// makes it, answers with its fds, and so on until none is left. A thread has a network namespace
// of its own, so entering and leaving new namespaces here never disturbs the main thread, and the
// other way round.

import { workerData } from 'node:worker_threads';
import { serializeError, type WorkerData, type WorkerMessage } from './factory.js';
import { makeNamespace } from './namespace.js';
import { untrackedFd } from './netns.js';

const { names, next: shared, port } = workerData as WorkerData;
const next = new Int32Array(shared);
const answer = (m: WorkerMessage) => port.postMessage(m);

for (let index = Atomics.add(next, 0, 1); index < names.length; index = Atomics.add(next, 0, 1)) {
  try {
    const made = makeNamespace(names[index]!);
    answer({ index, made: { ...made, fd: untrackedFd(made.fd) } });
  } catch (e) {
    answer({ index, error: serializeError(e) });
  }
}
answer({ done: true });
