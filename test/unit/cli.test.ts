// The command as an operator runs it, `node bin/vlannet.js …`, for what needs no kernel: --version,
// help, validate (exit codes, messages with file:line:col). Each case runs against bin/vlannet.js
// and, when `npm run build` has bundled the current sources, against the bundle itself. Also: an
// internal error's stack names the TypeScript source even when it comes from a bundle.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mapStack } from '../../src/cli/stack.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'vlannet-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The bundle, when it is built from the sources as they are now (bin/vlannet.js's own check). */
function currentBundle(): string | null {
  const main = join(root, 'dist', 'vlannet', 'main.mjs');
  const inputs = join(root, 'dist', 'vlannet', 'inputs.txt');
  if (!existsSync(main) || !existsSync(inputs)) return null;
  const built = statSync(main).mtimeMs;
  const sources = readFileSync(inputs, 'utf8').split('\n').filter(Boolean);
  return sources.every((s) => !existsSync(join(root, s)) || statSync(join(root, s)).mtimeMs <= built) ? main : null;
}

const bundle = currentBundle();
const programs: Array<[string, string[]]> = [['bin/vlannet.js', [join(root, 'bin', 'vlannet.js')]]];
if (bundle) {
  const runBundle = `import(${JSON.stringify(pathToFileURL(bundle).href)}).then((m) => m.main(process.argv.slice(1))).then((c) => { process.exitCode = c; })`;
  programs.push(['the bundle', ['--input-type=module', '-e', runBundle, '--']]);
} else {
  console.log('  (no current bundle in dist/vlannet: `npm run build` makes one; testing bin/vlannet.js only)');
}

function vlannet(program: string[], ...args: string[]) {
  const r = spawnSync(process.execPath, [...program, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const COMMANDS = ['validate', 'plan', 'apply', 'show', 'destroy', 'daemon', 'status', 'import', 'completion'];

/** Compare with test/fixtures/cli/NAME; UPDATE_GOLDEN=1 writes it instead. */
function golden(name: string, text: string): void {
  const file = join(root, 'test', 'fixtures', 'cli', name);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  assert.fixture(text, readFileSync(file, 'utf8'), `${name} (UPDATE_GOLDEN=1 rewrites the snapshot)`);
}

const GOOD =
  'version: 1\nnetworks:\n  n1: { driver: macvlan, parent: eth0, subnets: [ { subnet: 10.0.0.0/24 } ] }\nendpoints:\n  e1: { network: n1 }\n  e2: { network: n1 }\n';
const BAD =
  'version: 1\nnetworks:\n  n1: { driver: macvlan, parent: eth0 }\nendpoints:\n  e1: { network: n2 }\n  e2: { network: n1 }\n  e2: { network: n1 }\n';
writeFileSync(join(dir, 'good.yaml'), GOOD);
writeFileSync(join(dir, 'bad.yaml'), BAD);

for (const [name, program] of programs) {
  test(`${name}: --version, help, and an unknown command`, () => {
    const v = vlannet(program, '--version');
    assert.is(v.status, 0, v.stderr);
    assert.is(v.stdout, 'vlannet 0.1.0\n');
    const h = vlannet(program, 'help');
    assert.is(h.status, 0);
    for (const command of COMMANDS) assert.match(h.stdout, new RegExp(`^  ${command}\\b`, 'm'), `help lists ${command}`);
    const u = vlannet(program, 'nonsense');
    assert.is(u.status, 1);
    assert.match(u.stderr, "unknown command 'nonsense'");
    const none = vlannet(program);
    assert.is(none.status, 1, 'no command is a usage error');
    assert.match(none.stderr, 'Usage: vlannet');
  });

  test(`${name}: every command's help, three ways, within 100 columns, as in the snapshot`, () => {
    for (const command of ['', ...COMMANDS]) {
      const forms = command
        ? [
            [command, '--help'],
            [command, '-h'],
            ['help', command],
          ]
        : [['--help'], ['-h'], ['help']];
      const texts = forms.map((args) => {
        const r = vlannet(program, ...args);
        assert.is(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      });
      assert.is(texts[1], texts[0], `${command} -h`);
      assert.is(texts[2], texts[0], `help ${command}`);
      for (const line of texts[0]!.split('\n'))
        assert.ok(line.length <= 100, `${command || 'vlannet'} --help: ${line.length} columns: ${line}`);
      golden(`help${command ? `-${command}` : ''}.txt`, texts[0]!);
    }
    const plan = vlannet(program, 'plan', '--help').stdout;
    for (const flag of ['--local', '--compact', '--detailed-exitcode', '--observed', '--destroy', '--json', '--file'])
      assert.match(plan, flag);
    assert.match(vlannet(program, 'daemon', '--help').stdout, '--debug');
  });

  test(`${name}: validate a good file`, () => {
    const r = vlannet(program, 'validate', '-f', join(dir, 'good.yaml'));
    assert.is(r.stderr, '');
    assert.is(r.stdout, `${join(dir, 'good.yaml')}: valid (1 networks, 2 endpoints, 0 vlan links)\n`);
    assert.is(r.status, 0);
  });

  test(`${name}: validate a bad file: every error at its line:column, exit 1`, () => {
    const file = join(dir, 'bad.yaml');
    const r = vlannet(program, 'validate', '-f', file);
    assert.is(r.status, 1, r.stderr);
    assert.is(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.is(lines.length, 3, r.stderr);
    assert.match(lines[0]!, `${file}:5:18`);
    assert.match(lines[0]!, 'network "n2" is not defined');
    assert.match(lines[1]!, `${file}:7:3`);
    assert.match(lines[1]!, 'duplicate key "e2" (already at line 6, column 3)');
    assert.is(lines[2], '2 errors; nothing was changed.');
  });

  test(`${name}: a bad flag or value is a usage error, with the command's usage`, () => {
    let r = vlannet(program, 'validate', '--nope');
    assert.is(r.status, 1);
    assert.match(r.stderr, /^error: unknown option '--nope'/);
    r = vlannet(program, 'daemon', '--resync', '0');
    assert.is(r.status, 1);
    assert.match(r.stderr, /--resync <SECONDS>.* argument '0' is invalid\. expected a number of seconds greater than 0/);
  });

  test(`${name}: a missing file is said once, in words, with its errno`, () => {
    const missing = join(dir, 'missing.yaml');
    for (const command of ['validate', 'plan']) {
      const r = vlannet(program, command, '-f', missing);
      assert.is(r.status, 1, r.stderr);
      assert.is(r.stderr, `${missing}: error: cannot read ${missing}: no such file (ENOENT)\n1 error; nothing was changed.\n`);
    }
  });

  test(`${name}: destroy without --yes and without a terminal is refused before anything`, () => {
    const r = vlannet(program, 'destroy', '-f', join(dir, 'good.yaml'));
    assert.is(r.status, 1);
    assert.match(r.stderr, 'pass --yes to confirm');
  });
}

test('mapStack: frames of a bundled .mjs name the TypeScript source, line and column', async () => {
  const src = join(dir, 'thrower.ts');
  writeFileSync(
    src,
    [
      '// a comment to move things',
      'export function boom(n: number): never {',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: TypeScript source written to a file
      '  const why: string = `boom ${n}`;',
      '  throw new Error(why);',
      '}',
      '',
    ].join('\n'),
  );
  const out = join(dir, 'out', 'thrower.mjs');
  await build({
    entryPoints: [src],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    sourcemap: true,
    logLevel: 'silent',
    banner: { js: '// banner\n// lines' },
  });
  const { boom } = (await import(pathToFileURL(out).href)) as { boom: (n: number) => never };
  let stack = '';
  try {
    boom(1);
  } catch (e) {
    stack = (e as Error).stack!;
  }
  assert.match(stack, 'thrower.mjs:', 'the raw stack names the bundle');
  const mapped = mapStack(stack);
  assert.match(mapped, `${src}:4:9`);
  assert.not.match(mapped, 'thrower.mjs:');
  assert.is(
    mapStack('Error: x\n    at f (node:internal/foo:1:2)'),
    'Error: x\n    at f (node:internal/foo:1:2)',
    'other frames are left alone',
  );
});

test.run();
