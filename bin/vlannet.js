#!/usr/bin/env node
// The vlannet command. The program itself is TypeScript: `npm run build` compiles it to dist/src
// (tsc) and bundles the command line into dist/vlannet (scripts/bundle.mjs), which starts ~0.1 s
// faster. The bundle is used unless a source it was built from changed after it (tsc alone was run
// since: dist/src is then the newer program).
import { readFileSync, statSync } from 'node:fs';

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
