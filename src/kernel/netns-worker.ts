// The namespace factory's worker thread (factory.ts): makes each namespace asked for, in order,
// and answers with its fds. A thread of its own has a network namespace of its own, so entering
// and leaving new namespaces here never disturbs the main thread, and the other way round.

import { workerData, type MessagePort } from 'node:worker_threads';
import { serializeError, type MakeRequest, type WorkerMessage } from './factory.js';
import { makeNamespace } from './namespace.js';
import { untrackedFd } from './netns.js';

const port = (workerData as { port: MessagePort }).port;
const answer = (m: WorkerMessage) => port.postMessage(m);

port.on('message', ({ id, name }: MakeRequest) => {
  try {
    const made = makeNamespace(name);
    answer({ id, made: { ...made, fd: untrackedFd(made.fd) } });
  } catch (e) {
    answer({ id, error: serializeError(e) });
  }
});
answer({ ready: true });
