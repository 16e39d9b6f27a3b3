// The man pages and completion scripts the package ships are the ones the sources make now
// (`npm run docs` rewrites them), and they cover everything: every command and option of the
// program in vlannet(1), every key of the config's schema in vlannet.yaml(5). Then `npm pack`
// makes a package that installs: the command runs, and the unit, man pages, completions and
// schemas are in it.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { completionScripts, manPages } from '../../src/cli/manual.js';
import { describedProgram } from '../../src/cli/program.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');

test('man/ and completions/ are as the sources make them (npm run docs)', async () => {
  for (const [dir, files] of [
    ['man', await manPages()],
    ['completions', await completionScripts()],
  ] as const) {
    for (const [name, text] of files)
      assert.fixture(readFileSync(join(root, dir, name), 'utf8'), text, `${dir}/${name} is stale: npm run docs`);
  }
});

test('vlannet(1) has every command and every option; vlannet.yaml(5) every key of the schema', async () => {
  const [[, page1], [, page5]] = await manPages();
  const roff = (s: string) => s.replace(/\\-/g, '-');
  for (const command of describedProgram().commands) {
    assert.match(roff(page1!), new RegExp(`vlannet ${command.name()}\\b`), command.name());
    for (const option of command.options) if (!option.hidden) assert.match(roff(page1!), option.long!, `${command.name()} ${option.long}`);
  }
  const keys = new Set<string>();
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'properties') for (const key of Object.keys(v as object)) keys.add(key);
      walk(v);
    }
  };
  walk(JSON.parse(readFileSync(join(root, 'schemas', 'vlannet.schema.json'), 'utf8')));
  for (const key of [
    'version',
    'vlans',
    'networks',
    'endpoints',
    'driver',
    'parent',
    'subnets',
    'gateway',
    'ip_range',
    'netns',
    'ifname',
    'default_route',
  ])
    assert.ok(keys.has(key), `the schema names ${key}`);
  for (const key of keys) assert.match(roff(page5!), `\\fB${key}\\fR`, `vlannet.yaml(5) documents ${key}`);
});

test('npm pack makes a package that installs and runs, with the unit, man pages, completions and schemas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vlannet-pack-'));
  try {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8' }),
    )[0];
    const files = new Set((packed.files as { path: string }[]).map((f) => f.path));
    for (const f of [
      'bin/vlannet.js',
      'dist/vlannet/main.mjs',
      'dist/vlannet/netns-worker.mjs',
      'man/vlannet.1',
      'man/vlannet.yaml.5',
      'completions/vlannet.bash',
      'completions/_vlannet',
      'completions/vlannet.fish',
      'systemd/vlannet.service',
      'schemas/vlannet.schema.json',
      'schemas/vlannet-output.schema.json',
      'examples/demo.yaml',
    ])
      assert.ok(files.has(f), `the package has ${f}`);
    assert.not.ok(
      [...files].some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('dist/src/')),
      'no sources or tests',
    );
    const prefix = join(dir, 'prefix');
    const install = spawnSync(
      'npm',
      ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed.filename)],
      {
        encoding: 'utf8',
        timeout: 240_000,
      },
    );
    assert.is(install.status, 0, install.stderr);
    const version = spawnSync(join(prefix, 'bin', 'vlannet'), ['--version'], { encoding: 'utf8' });
    assert.is(version.stdout, 'vlannet 0.1.0\n', version.stderr);
    const valid = spawnSync(
      join(prefix, 'bin', 'vlannet'),
      ['validate', '-f', join(prefix, 'lib', 'node_modules', 'vlannet', 'examples', 'demo.yaml')],
      { encoding: 'utf8' },
    );
    assert.is(valid.status, 0, valid.stderr);
    assert.ok(existsSync(join(prefix, 'share', 'man', 'man1', 'vlannet.1')), 'vlannet(1) is linked into share/man');
    assert.ok(existsSync(join(prefix, 'share', 'man', 'man5', 'vlannet.yaml.5')), 'vlannet.yaml(5) is linked into share/man');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
