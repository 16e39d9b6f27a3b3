#!/bin/sh
':' //; exec env -u NODE_EXTRA_CA_CERTS node "$0" "$@"
// The vlannet command. The two lines above are for the shell, and a string and a comment for
// Node: run as a program, the file starts Node on itself without NODE_EXTRA_CA_CERTS. vlannet
// makes no TLS connection, and with that variable set Node parses the whole CA bundle before
// running anything (~85 ms on every command where it points at the system bundle).
//
// The program itself is TypeScript: `npm run build` compiles it to dist/src (tsc) and bundles the
// command line into dist/vlannet (scripts/bundle.mjs), which starts ~0.1 s faster. The bundle is
// used unless a source it was built from changed after it (tsc alone was run since: dist/src is
// then the newer program).
import { readFileSync, statSync } from 'node:fs';
import v8 from 'node:v8';

// `apply` lives for a second or two, and a large one keeps two threads busy (the namespace
// worker): V8's optimising compiler (TurboFan) would take CPU from them on its own threads for
// less than it saves (an apply of 1000 endpoints on 2 CPUs: 2.5 s of CPU without it, 3.4 s with,
// and ~10 % longer). Other commands run one thread and leave a CPU to the compiler, which pays
// (a one-shot `plan` of 1000 endpoints is faster with it); the daemon runs for months.
if (process.argv[2] === 'apply') v8.setFlagsFromString('--no-opt');

const repo = new URL('../', import.meta.url);
const mtime = (path) => statSync(new URL(path, repo), { throwIfNoEntry: false })?.mtimeMs ?? -1;

function bundleIsCurrent() {
  const built = mtime('dist/vlannet/main.mjs');
  if (built < 0) return false;
  let inputs;
  try {
    inputs = readFileSync(new URL('dist/vlannet/inputs.txt', repo), 'utf8').split('\n').filter(Boolean);
  } catch {
    return false;
  }
  return inputs.every((source) => mtime(source) <= built);
}

const { main } = await import(bundleIsCurrent() ? '../dist/vlannet/main.mjs' : '../dist/src/cli/main.js');
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
