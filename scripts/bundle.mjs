// `npm run build`, second step: bundle the command line into dist/vlannet/ for bin/vlannet.js.
// One ES module graph of a few files instead of ~250 (zod alone is ~190 modules) saves ~0.1 s on
// every command that reads a config. Code splitting keeps the lazy imports lazy: the daemon's
// prom-client, the kernel adapter, and the YAML and schema libraries load only in the
// commands that use them. koffi and netlink are native and stay in node_modules. The source maps
// point at src/*.ts (node --enable-source-maps; internal errors are mapped by src/cli/stack.ts).
// inputs.txt lists the sources the bundle was built from: bin/vlannet.js falls back to tsc's
// dist/src when one of them is newer than the bundle.

import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'vlannet');
rmSync(outdir, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts', 'netns-worker': 'src/kernel/netns-worker.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  external: ['koffi', 'netlink'],
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
  // Bundled CommonJS packages (yaml, ip-address, prom-client) call require() for node: modules.
  banner: { js: "import { createRequire as __vlannetRequire } from 'node:module'; const require = __vlannetRequire(import.meta.url);" },
});

const sources = Object.keys(result.metafile.inputs).filter((p) => !p.includes('node_modules/'));
writeFileSync(join(outdir, 'inputs.txt'), `${sources.map((p) => relative(root, join(root, p))).join('\n')}\n`);
