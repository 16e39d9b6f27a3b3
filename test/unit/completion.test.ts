// Shell completion as a user meets it: bash loads bash-completion and the script `vlannet
// completion bash` prints, then its completion function runs for a command line, exactly as bash
// calls it at TAB (COMP_WORDS, COMP_CWORD, COMP_LINE, COMP_POINT), and COMPREPLY is what the user
// would be offered. `vlannet` on the PATH is bin/vlannet.js. zsh and fish are not installed here:
// their scripts are checked for the protocol they speak.

import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const here = dirname(fileURLToPath(import.meta.url));
const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'vlannet-completion-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const BASH_COMPLETION = '/usr/share/bash-completion/bash_completion';
const bin = join(dir, 'bin');
mkdirSync(bin);
writeFileSync(join(bin, 'vlannet'), `#!/bin/sh\nexec ${process.execPath} ${join(root, 'bin', 'vlannet.js')} "$@"\n`);
chmodSync(join(bin, 'vlannet'), 0o755);
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, VLANNET_RUN_DIR: join(dir, 'run') };

const config = join(dir, 'site.yaml');
writeFileSync(
  config,
  `version: 1
networks:
  lan50: { driver: macvlan, parent: eth0.50, subnets: [ { subnet: 10.0.50.0/24 } ] }
  storage: { driver: ipvlan, parent: eth1 }
endpoints:
  web1: { network: lan50 }
  db1: { network: lan50, netns: databases }
  nas: { network: storage }
`,
);
writeFileSync(join(dir, 'other.yml'), 'version: 1\n');
const fleet = join(dir, 'fleet.yaml');
writeFileSync(
  fleet,
  `version: 1
networks:
  lan: { driver: macvlan, parent: eth0 }
endpoints:
  mon: { network: lan }
hosts:
  web-1:
    endpoints: { www-1: { network: lan } }
  databases:
    match: { hostname: [db-1, db-2], labels: { role: db } }
    networks: { backup: { driver: macvlan, parent: eth0.70 } }
    endpoints: { agent: { network: backup, netns: bk } }
`,
);
writeFileSync(join(dir, 'notes.txt'), '');

function vlannet(...args: string[]) {
  return spawnSync('vlannet', args, { encoding: 'utf8', env });
}

/** What bash offers at TAB after `line` (the cursor at its end). */
function complete(line: string): string[] {
  const script = join(dir, 'vlannet.bash');
  const s = vlannet('completion', 'bash');
  assert.is(s.status, 0, s.stderr);
  writeFileSync(script, s.stdout);
  const words = line.split(' ');
  const driver = `
    source ${BASH_COMPLETION}
    source ${script}
    COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})
    COMP_CWORD=${words.length - 1}
    COMP_LINE='${line}'
    COMP_POINT=\${#COMP_LINE}
    spec=$(complete -p vlannet) || exit 9
    fn=\${spec#*-F }; fn=\${fn%% *}
    "$fn" vlannet '${words[words.length - 1]}' '${words[words.length - 2] ?? ''}'
    printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', driver], { encoding: 'utf8', env, cwd: dir });
  assert.is(r.status, 0, `bash: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('bash-completion is installed (scripts/setup.sh installs it)', () => {
  assert.ok(existsSync(BASH_COMPLETION), `${BASH_COMPLETION} is missing`);
});

test('commands', () => {
  assert.equal(complete('vlannet '), [
    'apply',
    'completion',
    'confirm',
    'daemon',
    'destroy',
    'help',
    'import',
    'plan',
    'revert',
    'show',
    'status',
    'validate',
  ]);
  assert.equal(complete('vlannet st'), ['status']);
  assert.equal(complete('vlannet help d'), ['daemon', 'destroy']);
});

test("each command's options, and only its own", () => {
  assert.equal(complete('vlannet plan --d'), ['--destroy', '--detailed-exitcode']);
  assert.equal(complete('vlannet daemon --re'), ['--resync']);
  assert.equal(complete('vlannet apply --co'), ['--confirm-timeout'], 'apply has no --compact');
  assert.equal(complete('vlannet revert --'), ['--help', '--json'], "the reverter's own options are hidden");
  assert.equal(complete('vlannet destroy --'), ['--file', '--force', '--help', '--json', '--yes']);
});

test('names from the file given with -f: endpoints, networks, namespaces (with host)', () => {
  assert.equal(complete(`vlannet show -f ${config} --endpoint `), ['db1', 'nas', 'web1']);
  assert.equal(complete(`vlannet show -f ${config} --network `), ['lan50', 'storage']);
  assert.equal(complete(`vlannet show -f ${config} --netns `), ['databases', 'host', 'nas', 'web1']);
  assert.equal(complete(`vlannet show -f ${config} --endpoint w`), ['web1']);
});

test('a fleet file: the names of every hosts: entry, and --host completes the hosts it names', () => {
  assert.equal(complete(`vlannet show -f ${fleet} --endpoint `), ['agent', 'mon', 'www-1']);
  assert.equal(complete(`vlannet show -f ${fleet} --network `), ['backup', 'lan']);
  assert.equal(complete(`vlannet show -f ${fleet} --netns `), ['bk', 'host', 'mon', 'www-1']);
  assert.equal(complete(`vlannet plan -f ${fleet} --host `), ['db-1', 'db-2', 'web-1']);
});

test('a file option completes files of its kind', () => {
  assert.equal(complete('vlannet plan -f '), ['bin/', 'fleet.yaml', 'other.yml', 'site.yaml']);
  assert.equal(complete('vlannet validate --file s'), ['site.yaml']);
  mkdirSync(join(dir, 'conf.d'));
  writeFileSync(join(dir, 'conf.d', 'rack1.yaml'), 'version: 1\n');
  writeFileSync(join(dir, 'conf.d', 'state.json'), '{}');
  assert.equal(complete('vlannet plan -f conf.d/'), ['conf.d/rack1.yaml']);
  assert.equal(complete('vlannet plan --observed conf.d/'), ['conf.d/state.json']);
});

test('completion SHELL: bash, zsh and fish scripts ask `vlannet complete --`; another shell is refused', () => {
  for (const shell of ['bash', 'zsh', 'fish']) {
    const r = vlannet('completion', shell);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, 'vlannet complete --', shell);
  }
  const r = vlannet('completion', 'tcsh');
  assert.is(r.status, 1);
  assert.match(r.stderr, 'expected one of bash, zsh, fish');
});

test.run();
