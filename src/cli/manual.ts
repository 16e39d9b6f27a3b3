// The documents the package ships beside the program, made from the sources the rest of vlannet
// uses: the man page vlannet(1) from the program of program.ts (the same words as `--help`),
// vlannet.yaml(5) from the JSON Schema generated from the config's zod schema (the same words
// editors show), Markdown first, then roff by marked-man; and the shell completion scripts, as
// `vlannet completion SHELL` prints them. `npm run docs` (node dist/src/cli/manual.js) writes man/
// and completions/; test/unit/manual.test.ts fails when the committed files are stale. Not part of
// the command line's bundle: marked is a build-time tool.

import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command, Option } from 'commander';
import { DEFAULT_CONFIG, describedProgram, EXIT, ROOT_NOTES, STATUS_EXIT, VERSION } from './program.js';

/** Pages are dated by the release they document, so that rebuilding them changes nothing. */
const RELEASE_DATE = '2026-12-06';

const root = () => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
};

/** `-f, --file <FILE>` as a man page writes it: **-f**, **--file** *FILE*. */
function optionTerm(o: Option): string {
  const value = /<([^>]+)>/.exec(o.flags)?.[1];
  const names = [o.short, o.long].filter(Boolean).map((n) => `**${n}**`);
  return `${names.join(', ')}${value ? ` *${value}*` : ''}`;
}

/** `[-f FILE] [--json]`: a command's synopsis. */
export function synopsis(c: Command): string {
  const options = c.options.filter((o) => !o.hidden && o.long !== '--help');
  const words = options.map((o) => {
    const value = /<([^>]+)>/.exec(o.flags)?.[1];
    return `[${o.short ?? o.long}${value ? ` ${value}` : ''}]`;
  });
  const args = c.registeredArguments.map((a) => (a.required ? a.name() : `[${a.name()}]`));
  return ['vlannet', c.name(), ...words, ...args].join(' ');
}

function defaultOf(o: Option): string {
  const d = o.defaultValue;
  if (d === undefined || d === false || (Array.isArray(d) && d.length === 0)) return '';
  return ` Default: ${o.defaultValueDescription ?? String(d)}.`;
}

/** vlannet(1) in Markdown (ronn's header format, as marked-man reads it). */
export function vlannetPage(): string {
  const program = describedProgram();
  const commands = program.commands.filter((c) => c.name() !== 'help');
  const out: string[] = [
    '# vlannet(1) -- macvlan, ipvlan and 802.1q networks from a YAML file, kept in the kernel',
    '',
    '## SYNOPSIS',
    '',
    ...commands.map((c) => `\`${synopsis(c)}\`  `),
    '`vlannet help` [*COMMAND*]  ',
    '`vlannet` *COMMAND* **--help**',
    '',
    '## DESCRIPTION',
    '',
    'vlannet puts Linux hosts and network namespaces directly on the physical network with macvlan, ipvlan and 802.1q ' +
      "VLAN links, as Docker's macvlan and ipvlan drivers do, without Docker. An operator describes networks, VLANs and " +
      `endpoints in ${DEFAULT_CONFIG} (see **vlannet.yaml**(5)); **plan** shows what would change in the kernel, **apply** ` +
      'makes it so, and **daemon** keeps the kernel equal to the file. The kernel itself is the only record of what exists: ' +
      'every link vlannet creates carries an ownership mark, and anything vlannet did not create it never changes.',
    '',
    '## COMMANDS',
    '',
  ];
  for (const c of commands) {
    out.push(`### ${c.name()}`, '', `\`${synopsis(c)}\``, '', c.description(), '');
    const options = c.options.filter((o) => !o.hidden);
    for (const o of options) out.push(`* ${optionTerm(o)}:`, `  ${o.description}${defaultOf(o)}`, '');
    for (const a of c.registeredArguments) out.push(`* *${a.name()}*:`, `  ${a.description}`, '');
  }
  out.push(
    '## OUTPUT',
    '',
    'With **--json** every command prints one JSON document on standard output, also when it fails. Its envelope: ' +
      '`format_version` (the integer 2), `command`, `ok` (false when the command failed), `diagnostics` (each with ' +
      '`severity`, `file`, `line`, `column`, `path`, `message`) and `error` (null, or `kind`, `message` and the `errno` ' +
      "name when the kernel or the system refused); then the command's own data, for example `changes` and `summary` for " +
      '**plan** or `links` and `addresses` for **show**. Keys are snake_case. The JSON Schema of every document is ' +
      '*schemas/vlannet-output.schema.json* in the package.',
    '',
    '## EXIT STATUS',
    '',
    `* ${EXIT.ok}: done, or nothing to do.`,
    `* ${EXIT.error}: an error; the message says what, and whether anything was changed.`,
    `* ${EXIT.changes}: **plan --detailed-exitcode** found changes.`,
    `* ${EXIT.bug}: an internal error, a bug in vlannet (a stack trace is printed).`,
    '',
    '**status** has its own:',
    '',
    `* ${STATUS_EXIT.converged}: the daemon runs and the kernel matches its file.`,
    `* ${STATUS_EXIT.error}: the status could not be read.`,
    `* ${STATUS_EXIT.attention}: the daemon runs but needs attention: changes pending, the file invalid and held back, or runs failing.`,
    `* ${STATUS_EXIT.notRunning}: no daemon runs.`,
    '',
    '## FILES',
    '',
    `* *${DEFAULT_CONFIG}*:`,
    '  The config file (**vlannet.yaml**(5)).',
    '* */run/vlannet/lock*:',
    '  The lock held by **apply**, **destroy** and the daemon: one vlannet changes the kernel at a time.',
    '* */run/vlannet/status.sock*:',
    "  The daemon's control socket (root only), used by **status**, **plan** and **apply**.",
    '* */run/netns/NAME*:',
    '  The named network namespaces endpoints live in (as **ip-netns**(8) makes them).',
    '',
    '## ENVIRONMENT',
    '',
    '* **NO_COLOR**:',
    '  When set, plans are printed without colour (they are coloured only on a terminal).',
    '* **VLANNET_RUN_DIR**:',
    '  Where the lock and the control socket are, instead of */run/vlannet*.',
    '',
    '## NOTES',
    '',
    ROOT_NOTES.split('\n\n')[0]!.replace(/\n/g, ' '),
    '',
    '## SEE ALSO',
    '',
    '**vlannet.yaml**(5), **ip-link**(8), **ip-netns**(8), **systemd.service**(5)',
    '',
  );
  return out.join('\n');
}

interface SchemaNode {
  type?: string | string[];
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  required?: string[];
  pattern?: string;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  $ref?: string;
  $defs?: Record<string, SchemaNode>;
  anyOf?: SchemaNode[];
  allOf?: SchemaNode[];
}

/** vlannet.yaml(5) in Markdown, from the committed JSON Schema. */
export function configPage(schema: SchemaNode): string {
  const resolve = (n: SchemaNode | undefined): SchemaNode => {
    if (!n) return {};
    if (n.$ref?.startsWith('#/$defs/')) return resolve(schema.$defs?.[n.$ref.replace('#/$defs/', '')]);
    if (n.$ref?.startsWith('#/properties/'))
      return { ...resolve(schema.properties?.[n.$ref.replace('#/properties/', '')]), description: n.description };
    return n;
  };
  const itemOf = (n: SchemaNode): SchemaNode => {
    const r = resolve(n);
    if (r.additionalProperties && typeof r.additionalProperties === 'object') return resolve(r.additionalProperties);
    if (r.items) return resolve(r.items);
    const branch = (r.anyOf ?? []).map(resolve).find((b) => b.additionalProperties || b.items);
    return branch ? itemOf(branch) : r;
  };
  const keys = (n: SchemaNode, heading: string): string[] => {
    const out = [`## ${heading}`, ''];
    if (n.description) out.push(n.description, '');
    for (const [key, raw] of Object.entries(n.properties ?? {})) {
      const p = resolve(raw);
      const required = n.required?.includes(key) ? ' (required)' : '';
      out.push(`* **${key}**${required}:`, `  ${p.description ?? ''}`, '');
    }
    return out;
  };
  const top = resolve(schema);
  const props = top.properties ?? {};
  const network = itemOf(props.networks!);
  const subnet = itemOf(network.properties!.subnets!);
  return [
    '# vlannet.yaml(5) -- the vlannet configuration file',
    '',
    '## SYNOPSIS',
    '',
    `*${DEFAULT_CONFIG}*`,
    '',
    '## DESCRIPTION',
    '',
    'A YAML file that describes the macvlan, ipvlan and 802.1q networks vlannet keeps in the kernel (**vlannet**(1)). ' +
      'Unknown keys are errors; every error is reported with its line and column. An editor with yaml-language-server ' +
      'checks and completes the file when its first line is `# yaml-language-server: $schema=` followed by the path or URL ' +
      'of *vlannet.schema.json*, which vlannet ships.',
    '',
    ...keys(top, 'TOP LEVEL'),
    ...keys(itemOf(props.vlans!), 'VLANS'),
    ...keys(network, 'NETWORKS'),
    ...keys(subnet, 'SUBNETS'),
    ...keys(itemOf(props.endpoints!), 'ENDPOINTS'),
    ...keys(itemOf(props.hosts!), 'HOSTS'),
    ...keys(resolve(itemOf(props.hosts!).properties!.match), 'MATCH'),
    '## EXAMPLE',
    '',
    'A macvlan network on VLAN 50 of eth0, with two endpoints, one with a fixed address:',
    '',
    '```',
    // Without its modeline: a path relative to the repository means nothing in a man page.
    readFileSync(join(root(), 'examples', 'macvlan-8021q-trunk.yaml'), 'utf8')
      .replace(/^# yaml-language-server:.*\n/, '')
      .trimEnd(),
    '```',
    '',
    '## SEE ALSO',
    '',
    '**vlannet**(1), **ip-link**(8)',
    '',
  ].join('\n');
}

/** Markdown to roff, as marked-man renders it. */
export async function toRoff(markdown: string, section: 1 | 5): Promise<string> {
  const { Marked } = await import('marked');
  const markedMan = (await import('marked-man')).default;
  const marked = new Marked(markedMan);
  return marked.parse(markdown, {
    // marked-man's own options
    ...({ date: Date.parse(RELEASE_DATE), manVersion: VERSION, section, manual: 'vlannet' } as object),
  }) as string;
}

/** The pages as committed in man/: [file name, roff]. */
export async function manPages(): Promise<[string, string][]> {
  const schema = JSON.parse(readFileSync(join(root(), 'schemas', 'vlannet.schema.json'), 'utf8')) as SchemaNode;
  return [
    ['vlannet.1', await toRoff(vlannetPage(), 1)],
    ['vlannet.yaml.5', await toRoff(configPage(schema), 5)],
  ];
}

/** The completion scripts as committed in completions/, under the names shells look for: [file name, script]. */
export async function completionScripts(): Promise<[string, string][]> {
  const tab = (await import('@bomb.sh/tab')).default;
  const names: Record<string, string> = { bash: 'vlannet.bash', zsh: '_vlannet', fish: 'vlannet.fish' };
  return Object.entries(names).map(([shell, name]) => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      tab.setup('vlannet', 'vlannet', shell);
    } finally {
      console.log = log;
    }
    return [name, `${lines.join('\n')}\n`];
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [dir, files] of [
    ['man', await manPages()],
    ['completions', await completionScripts()],
  ] as const) {
    mkdirSync(join(root(), dir), { recursive: true });
    for (const [name, text] of files) {
      writeFileSync(join(root(), dir, name), text);
      console.log(`wrote ${join(dir, name)}`);
    }
  }
}
