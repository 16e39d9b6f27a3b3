// Shell completion, by @bomb.sh/tab: `vlannet completion bash|zsh|fish` prints its script, and the
// script asks `vlannet complete -- WORDS…` for the candidates at every TAB. The commands and
// options come from the program of program.ts; the names of networks, endpoints and namespaces
// from the config file (the one given with -f on the line, else the default) and /run/netns.

import fs from 'node:fs';
import tab, { ShellCompDirective } from '@bomb.sh/tab';
import type { Command } from 'commander';
import { parse } from 'yaml';
import { UsageError } from '../errors.js';
import { DEFAULT_CONFIG, describedProgram } from './program.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export async function completionCommand(shell: string): Promise<number> {
  if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion ${shell}: expected one of ${SHELLS.join(', ')}`);
  tab.setup('vlannet', 'vlannet', shell);
  return 0;
}

/** Candidates for the words of a command line (`vlannet` left out), as tab's protocol prints them. */
export async function answerCompletion(words: string[]): Promise<number> {
  let read: ReturnType<typeof namesIn> | null = null;
  const names = () => (read ??= namesIn(fileOnLine(words)));
  register(describedProgram(), {
    netns: () => [...new Set([...names().namespaces, ...namespacesInRunNetns()])],
    network: () => names().networks,
    endpoint: () => names().endpoints,
    host: () => names().hosts,
  });
  // An option that takes a file is answered here with the files of its kind (tab's scripts leave
  // file names to the shell, and its bash script cannot filter them by extension).
  const fileExtensions = fileOptionBefore(words);
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    tab.parse([...words]); // it takes the last word off the array it is given
  } finally {
    console.log = log;
  }
  if (fileExtensions) {
    const files = filesOfKind(words[words.length - 1] ?? '', fileExtensions);
    const directories = files.some((f) => f.endsWith('/'));
    lines.length = 0;
    lines.push(
      ...files,
      `:${ShellCompDirective.ShellCompDirectiveNoFileComp | (directories ? ShellCompDirective.ShellCompDirectiveNoSpace : 0)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

type Names = () => string[];

/** The program's commands and options, in tab's model, with `names` completing option values. */
function register(program: Command, names: Record<string, Names>): void {
  for (const command of program.commands) {
    if (command.name() === 'help') continue;
    const c = tab.command(command.name(), command.summary() || command.description());
    for (const option of command.options) {
      if (option.hidden && option.long !== '--file') continue;
      const long = option.long!.replace(/^--/, '');
      const short = option.short?.replace(/^-/, '');
      const takesValue = option.required || option.optional;
      const values = names[long];
      if (values)
        c.option(
          long,
          option.description,
          (complete) => {
            for (const v of values()) complete(v, '');
          },
          short,
        );
      else if (takesValue) c.option(long, option.description, () => {}, short);
      else c.option(long, option.description, short);
    }
    c.option('help', 'show help for the command', 'h');
    if (command.name() === 'completion')
      c.argument('shell', (complete) => {
        for (const s of SHELLS) complete(s, '');
      });
  }
  tab.command('help', 'show help for a command').argument('command', (complete) => {
    for (const command of program.commands) complete(command.name(), command.summary());
  });
}

/** Extensions of the file an option takes when the word being completed is its value. */
function fileOptionBefore(words: string[]): string[] | null {
  const previous = words[words.length - 2];
  if (previous === '-f' || previous === '--file') return ['yaml', 'yml'];
  if (previous === '--observed') return ['json'];
  return null;
}

/** Files under the typed prefix with one of `extensions`, and directories (ending in /) to go on into. */
function filesOfKind(typed: string, extensions: string[]): string[] {
  const slash = typed.lastIndexOf('/');
  const dir = slash >= 0 ? typed.slice(0, slash + 1) : '';
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir || '.', { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const path = dir + e.name;
    if (!path.startsWith(typed) || (e.name.startsWith('.') && !typed.slice(slash + 1).startsWith('.'))) continue;
    const isDir = e.isDirectory() || (e.isSymbolicLink() && fs.statSync(path, { throwIfNoEntry: false })?.isDirectory());
    if (isDir) out.push(`${path}/`);
    else if (extensions.some((x) => e.name.endsWith(`.${x}`))) out.push(path);
  }
  return out.sort();
}

/** The -f/--file the line gives, else the default file. */
function fileOnLine(words: string[]): string {
  for (let i = 0; i < words.length - 1; i++) {
    const w = words[i]!;
    if ((w === '-f' || w === '--file') && words[i + 1]) return words[i + 1]!;
    if (w.startsWith('--file=')) return w.slice('--file='.length);
  }
  return DEFAULT_CONFIG;
}

/**
 * Names in a config file, read leniently: a file with errors still has names worth completing.
 * Those of every `hosts:` entry count (completion does not know which host the command is for);
 * the hosts are the entries' keys without `match:` and the names in `match.hostname`.
 */
function namesIn(file: string): { networks: string[]; endpoints: string[]; namespaces: string[]; hosts: string[] } {
  const none = { networks: [], endpoints: [], namespaces: [], hosts: [] };
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return none;
  }
  type Sections = { networks?: unknown; endpoints?: unknown };
  let doc: (Sections & { hosts?: unknown }) | null;
  try {
    doc = parse(text) as typeof doc;
  } catch {
    return none;
  }
  const map = <T>(v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, T>) : {});
  const entries = Object.entries(map<(Sections & { match?: { hostname?: unknown } }) | null>(doc?.hosts));
  const all = [doc, ...entries.map(([, e]) => e)];
  const endpoints = Object.assign({}, ...all.map((s) => map<{ netns?: unknown } | null>(s?.endpoints))) as Record<
    string,
    { netns?: unknown } | null
  >;
  const networks = [...new Set(all.flatMap((s) => Object.keys(map(s?.networks))))];
  const namespaces = Object.entries(endpoints).map(([name, e]) => (typeof e?.netns === 'string' ? e.netns : name));
  const hosts = entries.flatMap(([key, e]) => {
    if (e?.match === undefined) return [key];
    const named = e.match?.hostname;
    return (Array.isArray(named) ? named : [named]).filter((h): h is string => typeof h === 'string');
  });
  return { networks, endpoints: Object.keys(endpoints), namespaces: ['host', ...namespaces], hosts: [...new Set(hosts)] };
}

function namespacesInRunNetns(): string[] {
  try {
    return fs.readdirSync('/run/netns');
  } catch {
    return [];
  }
}
