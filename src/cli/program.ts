// The command line's one description: every command, its options, their help and the notes under
// them. `vlannet help`, `COMMAND --help`, the man page vlannet(1) (src/cli/manual.ts) and the shell
// completions (src/cli/completion.ts) are all made from this program, so they cannot disagree.
// Parsing is commander's; the commands themselves are loaded on first use (main.ts).

import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_TIMING } from '../daemon/scheduler.js';

export const VERSION = '0.1.0';
export const DEFAULT_CONFIG = '/etc/vlannet.yaml';
/** No line of help is longer. */
export const HELP_WIDTH = 100;

/** Exit codes of every command but `status` (see STATUS_EXIT). */
export const EXIT = { ok: 0, error: 1, changes: 2, bug: 70 } as const;

/** `vlannet status`, in the spirit of `systemctl status`: monitoring can branch on it. */
export const STATUS_EXIT = { converged: 0, error: 1, attention: 2, notRunning: 3 } as const;

/** Options as commander parses them, per command (names in camelCase). */
export interface FileOptions {
  file?: string;
}
/** The host the config is resolved for (its `hosts:` entries): src/cli/identity.ts. */
export interface HostOptions {
  host?: string;
  label?: string[];
  machineId?: string;
}
export interface ValidateOptions extends FileOptions, HostOptions {
  json?: boolean;
}
export interface PlanOptions extends FileOptions, HostOptions {
  json?: boolean;
  compact?: boolean;
  local?: boolean;
  observed?: string;
  destroy?: boolean;
  detailedExitcode?: boolean;
  out?: string;
  check?: boolean;
}
export interface ApplyOptions extends FileOptions, HostOptions {
  json?: boolean;
  local?: boolean;
  force?: boolean;
  confirmTimeout?: string;
}
export interface TrialOptions {
  json?: boolean;
  /** The reverter's own (hidden): the trial it waits for, and that it waits for the deadline. */
  trial?: string;
  whenDue?: boolean;
}
export interface ShowOptions extends FileOptions, HostOptions {
  json?: boolean;
  asConfig?: boolean;
  netns?: string[];
  network?: string[];
  endpoint?: string[];
}
export interface DestroyOptions extends FileOptions {
  json?: boolean;
  yes?: boolean;
  force?: boolean;
}
export interface DaemonOptions extends FileOptions, HostOptions {
  resync: number;
  settle: number;
  metrics?: string;
  debug?: boolean;
  force?: boolean;
}
export interface StatusOptions extends FileOptions, HostOptions {
  json?: boolean;
}
export interface ImportOptions {
  containers?: string[];
  keepMacs?: boolean;
  output?: string;
}

/** What each command runs: main.ts loads the modules; the manual and completions pass stubs. */
export interface Actions {
  validate(o: ValidateOptions): Promise<number>;
  plan(planFile: string | undefined, o: PlanOptions): Promise<number>;
  apply(planFile: string | undefined, o: ApplyOptions): Promise<number>;
  show(o: ShowOptions): Promise<number>;
  destroy(o: DestroyOptions): Promise<number>;
  daemon(o: DaemonOptions): Promise<number>;
  status(o: StatusOptions): Promise<number>;
  confirm(o: TrialOptions): Promise<number>;
  revert(o: TrialOptions): Promise<number>;
  import(source: string, files: string[], o: ImportOptions): Promise<number>;
  completion(shell: string): Promise<number>;
}

const seconds = (min: number, what: string) => (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min) throw new InvalidArgumentError(`expected ${what}`);
  return n;
};
const many = (value: string, previous: string[] = []) => [...previous, value];

const fileOption = (what: string) => new Option('-f, --file <FILE>', `${what} (default: the daemon's file, else ${DEFAULT_CONFIG})`);
const jsonOption = () => new Option('--json', 'print one JSON document (see OUTPUT in vlannet(1))');
const localOption = () => new Option('--local', 'read the kernel in this process even when a daemon could answer');
const forceOption = (what: string) => new Option('--force', what);
/** --host, --label and --machine-id: which host the file's `hosts:` entries are resolved for (identity.ts). */
const hostOption = (what: string) => new Option('--host <NAME>', what);
const labelOption = () =>
  new Option('--label <KEY=VALUE>', 'a label of the host, for hosts: entries that match labels; repeatable').argParser(
    (value: string, previous: string[] = []) => {
      const key = value.slice(0, Math.max(value.indexOf('='), 0));
      if (key === '') throw new InvalidArgumentError('expected KEY=VALUE, e.g. rack=a');
      const other = previous.find((p) => p.startsWith(`${key}=`) && p !== value);
      if (other) throw new InvalidArgumentError(`label ${key} is given twice (${other}): a host has one value per label`);
      return [...previous, value];
    },
  );
const machineIdOption = () =>
  new Option(
    '--machine-id <ID>',
    "the host's machine id, for hosts: entries that match machine_id (default: /etc/machine-id; none with --host)",
  ).argParser((value: string) => {
    if (!/^[0-9A-Fa-f]{32}$/.test(value)) throw new InvalidArgumentError('expected 32 hexadecimal digits, as in /etc/machine-id');
    return value;
  });

/** The notes under `vlannet --help` (and the man page's FILES and EXIT STATUS). */
export const ROOT_NOTES = `Commands that read a config take -f FILE; without it they read the file the running daemon
enforces, or ${DEFAULT_CONFIG} when no daemon runs.

Exit status: 0 done (or nothing to do), 1 error (nothing changed unless the message says so),
2 changes pending (plan --detailed-exitcode; status: see \`vlannet help status\`), 70 a bug in
vlannet. \`vlannet help COMMAND\` or \`man vlannet\` for more.`;

/** The program; `actions` run the commands, `exit` receives the exit code of the one that ran. */
export function buildProgram(actions: Actions, exit: (code: number) => void): Command {
  const program = new Command('vlannet')
    .description('macvlan, ipvlan and 802.1q networks from a YAML file, kept in the kernel.')
    .version(`vlannet ${VERSION}`, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [COMMAND]', 'show help for a command')
    .configureHelp({
      helpWidth: HELP_WIDTH,
      sortSubcommands: false,
      showGlobalOptions: false,
      // The list of commands leaves out variadic arguments (`import [options] <SOURCE>`, not its
      // FILE...), which would widen the column of every command for one.
      subcommandTerm: (c) =>
        [
          c.name(),
          ...(c.options.length ? ['[options]'] : []),
          ...c.registeredArguments.filter((a) => !a.variadic).map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)),
        ].join(' '),
    })
    .showSuggestionAfterError(true)
    .addHelpText('after', `\n${ROOT_NOTES}`);
  const run =
    <T>(action: (o: T) => Promise<number>) =>
    async (options: T) =>
      exit(await action(options));

  program
    .command('validate')
    .summary('check a config file and print every error with its line:column')
    .description(
      'Check a config file as apply would, without reading the kernel: the schema, every rule between objects, and address pools ' +
        'that would run out. Every problem is printed with FILE:LINE:COLUMN and the path of the object. Exit 0 when valid, 1 when not.',
    )
    .addOption(fileOption('the config file to check'))
    .addOption(hostOption('check the file for host NAME only (default: for every host its hosts: entries name)'))
    .addOption(labelOption())
    .addOption(machineIdOption())
    .addOption(jsonOption())
    .action(run(actions.validate));

  program
    .command('plan')
    .summary('show what apply would change in the kernel')
    .description(
      'Read the kernel (in every namespace the config names) and print what apply would do: one block per object, with the ' +
        'kernel operations and why. Changes nothing. When a daemon enforces the same file it answers, from its current reading of the kernel. ' +
        'With PLANFILE, show a plan saved by --out instead.',
    )
    .argument('[PLANFILE]', 'a plan saved by plan --out: show it (the kernel is read only with --check)')
    .addOption(fileOption('the config file to plan'))
    .addOption(hostOption('plan the config of host NAME (its hosts: entries), e.g. offline with --observed from that host'))
    .addOption(labelOption())
    .addOption(machineIdOption())
    .addOption(new Option('--observed <STATE.json>', 'plan against a saved kernel state (from `show --json`) instead of the kernel'))
    .addOption(new Option('--destroy', 'plan the removal of everything vlannet owns'))
    .addOption(jsonOption())
    .addOption(new Option('--compact', 'one line per object'))
    .addOption(new Option('--detailed-exitcode', 'exit 2 when there are changes, 0 when none'))
    .addOption(localOption())
    .addOption(new Option('--out <PLANFILE>', 'also save the plan, bound to the file and the kernel it was computed from'))
    .addOption(new Option('--check', 'with PLANFILE: read the kernel and exit 1 if the saved plan is stale'))
    .addHelpText(
      'after',
      `
Saved plans: \`plan -f FILE --out PLANFILE\` saves the plan (computed in this process) with the
revision of FILE and a fingerprint of the kernel state it was computed from; \`apply PLANFILE\`
runs exactly that plan, or refuses (\`stale plan: ...\`, exit 1, nothing changed) when FILE or
that state changed. \`plan PLANFILE\` shows a saved plan without reading the kernel.`,
    )
    .action(async (planFile: string | undefined, options: PlanOptions) => exit(await actions.plan(planFile, options)));

  program
    .command('apply')
    .summary('make the kernel match the config, verify it, roll back on failure')
    .description(
      'Plan, then change the kernel: everything new is made before anything old is removed, the result is read back and checked, ' +
        'and a failure before the first removal is rolled back. Refused while a daemon enforces another file (it would undo this). ' +
        'With PLANFILE, run the saved plan instead (refused while a daemon runs).',
    )
    .argument('[PLANFILE]', 'a plan saved by plan --out: run exactly it, if its file and the kernel still hold')
    .addOption(fileOption('the config file to apply'))
    .addOption(hostOption("apply the config of host NAME (its hosts: entries) instead of this machine's"))
    .addOption(labelOption())
    .addOption(machineIdOption())
    .addOption(jsonOption())
    .addOption(forceOption('also remove or replace endpoints in namespaces that processes still use'))
    .addOption(localOption())
    .addOption(
      new Option(
        '--confirm-timeout <DURATION>',
        'apply as a trial: put the kernel back as it was unless `vlannet confirm` comes within DURATION (90s, 2m, 1m30s)',
      ),
    )
    .addHelpText(
      'after',
      `
A trial (--confirm-timeout) survives the end of this command, of the SSH session, and kill -9:
before anything changes, vlannet records the state to come back to in /run/vlannet/trial.json and
starts its own reverter outside this session (a transient systemd timer, else a detached process;
a running daemon holds the trial itself and pauses its enforcement meanwhile). Until the trial is
confirmed or reverted, other applies are refused. A trial whose apply fails is reverted at once.`,
    )
    .action(async (planFile: string | undefined, options: ApplyOptions) => exit(await actions.apply(planFile, options)));

  program
    .command('confirm')
    .summary('keep the changes of the pending trial (apply --confirm-timeout)')
    .description(
      'Keep what the pending trial changed: its reverter is stopped. With a daemon running, refused while the file the daemon ' +
        'enforces differs from the file tried (the daemon would change the kernel back): put the change in that file first. ' +
        'Exit 1 when no trial is pending, for instance because it was already reverted.',
    )
    .addOption(jsonOption())
    .action(async (options: TrialOptions) => exit(await actions.confirm(options)));

  program
    .command('revert')
    .summary('put the kernel back as it was before the pending trial, now')
    .description(
      'Revert the pending trial now rather than at its deadline: everything vlannet owns goes back to exactly what it was ' +
        '(names, MAC addresses, interface indexes, addresses, routes, namespaces). Exit 1 when no trial is pending.',
    )
    .addOption(jsonOption())
    .addOption(new Option('--trial <ID>', "the reverter's own: the trial to revert").hideHelp())
    .addOption(new Option('--when-due', "the reverter's own: wait for the trial's deadline").hideHelp())
    .action(async (options: TrialOptions) => exit(await actions.revert(options)));

  program
    .command('show')
    .summary('print what vlannet owns in the kernel')
    .description(
      'Print the links, addresses and routes vlannet owns, per namespace, and the parents they hang from. With --json, the ' +
        'state that `plan --observed` reads back; with --as-config, a config file that reproduces it: applying it changes nothing ' +
        '(what it cannot reproduce is a warning, and exit 1). Filters combine: an object is shown when it matches every kind of filter given.',
    )
    .addOption(new Option('--netns <NAME>', "only this namespace (`host`: vlannet's own); repeatable").argParser(many))
    .addOption(new Option('--network <NAME>', "only this network's links; repeatable").argParser(many))
    .addOption(new Option('--endpoint <NAME>', 'only this endpoint; repeatable').argParser(many))
    .addOption(new Option('--as-config', 'print the config file that reproduces what vlannet owns'))
    .addOption(fileOption('the config file that says which endpoints a --network has'))
    .addOption(hostOption('with --network: read the file for host NAME instead of this machine'))
    .addOption(labelOption())
    .addOption(machineIdOption())
    .addOption(jsonOption())
    .action(run(actions.show));

  program
    .command('destroy')
    .summary('remove everything vlannet created, and nothing else')
    .description(
      'Remove every namespace, link, address and route vlannet owns (found by its ownership marks in the kernel; no config is ' +
        'read). Asks first on a terminal; elsewhere --yes is required. Refused while the daemon runs: it would make them again.',
    )
    .addOption(fileOption('the file the running daemon is expected to enforce, named when it refuses'))
    .addOption(new Option('-y, --yes', 'do not ask'))
    .addOption(jsonOption())
    .addOption(forceOption('also remove endpoints in namespaces that processes still use'))
    .action(run(actions.destroy));

  program
    .command('daemon')
    .summary('keep the kernel equal to the config file (run by systemd)')
    .description(
      'Apply the file, then keep the kernel equal to it: after every edit (applied at once for a rename or symlink flip, after ' +
        '--settle for an in-place write), every change in the kernel, and every --resync. An invalid file is logged and the last ' +
        'valid one stays enforced. SIGHUP re-reads the file; SIGTERM stops, leaving the networks in place.',
    )
    .addOption(new Option('-f, --file <FILE>', 'the config file to enforce').default(DEFAULT_CONFIG))
    .addOption(hostOption("enforce the config of host NAME (its hosts: entries) instead of this machine's"))
    .addOption(labelOption())
    .addOption(machineIdOption())
    .addOption(
      new Option('--resync <SECONDS>', 'read the whole kernel again this often')
        .argParser(seconds(Number.MIN_VALUE, 'a number of seconds greater than 0'))
        .default(DEFAULT_TIMING.resyncMs / 1000),
    )
    .addOption(
      new Option('--settle <SECONDS>', 'wait this long after an in-place write of the file')
        .argParser(seconds(0, 'a number of seconds, 0 or more'))
        .default(DEFAULT_TIMING.settleMs / 1000),
    )
    .addOption(new Option('--metrics <ADDR:PORT>', 'serve Prometheus metrics on ADDR:PORT, path /metrics'))
    .addOption(new Option('--debug', 'log every event and action'))
    .addOption(forceOption('also remove or replace endpoints in namespaces that processes still use'))
    .action(run(actions.daemon));

  program
    .command('status')
    .summary("the daemon's state, its last run and the current plan")
    .description(
      "The running daemon's report (its file, the last valid revision, its last runs, what a run would do now), or the same " +
        'report computed from the file and the kernel when no daemon runs.',
    )
    .addOption(fileOption('the config file, when no daemon runs'))
    .addOption(hostOption('when no daemon runs: read the file for host NAME instead of this machine'))
    .addOption(labelOption())
    .addOption(machineIdOption())
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Exit status: ${STATUS_EXIT.converged} the daemon runs and the kernel matches its file; ${STATUS_EXIT.error} the status could not be read;
${STATUS_EXIT.attention} the daemon runs but needs attention (changes pending, the file invalid and held back, or
runs failing); ${STATUS_EXIT.notRunning} no daemon runs (the report is computed from the file and the kernel).`,
    )
    .action(run(actions.status));

  program
    .command('import')
    .summary("convert Docker's macvlan and ipvlan networks into a config file")
    .description(
      'Read the JSON of `docker network inspect NET...` (the FILEs, or standard input when none or -) and print the equivalent ' +
        'config: drivers, parents (NAME.VID ones too), modes, subnets, gateways, ranges, auxiliary addresses, MTU. With ' +
        '--containers, the containers of `docker inspect` on those networks become endpoints with their static addresses; one ' +
        'on several networks gets one namespace with an endpoint per network (CONTAINER-NETWORK, eth0 first, as Docker picks ' +
        'the default gateway). What cannot be carried over is a comment in the output; networks of other drivers are skipped ' +
        'with a note on standard error.',
    )
    .argument('<SOURCE>', 'where the networks come from: docker (the only source so far)')
    .argument('[FILE...]', 'output of `docker network inspect`; - or none: standard input')
    .addOption(
      new Option('--containers <FILE>', 'output of `docker inspect CONTAINER...`: its containers become endpoints; repeatable').argParser(
        many,
      ),
    )
    .addOption(new Option('--keep-macs', "carry every macvlan container's MAC; without it, only one Docker shows was set (--mac-address)"))
    .addOption(new Option('-o, --output <FILE>', 'write the config to FILE instead of standard output'))
    .action(async (source: string, files: string[], options: ImportOptions) => exit(await actions.import(source, files, options)));

  program
    .command('completion')
    .summary('print a shell completion script (bash, zsh or fish)')
    .description(
      'Print the completion script for SHELL. It completes commands, options, and the names of networks, endpoints and ' +
        'namespaces in the config file (the one given with -f, else the default). Load it with: source <(vlannet completion bash)',
    )
    .argument('<SHELL>', 'bash, zsh or fish')
    .action(async (shell: string) => exit(await actions.completion(shell)));

  return program;
}

/** What the manual and the completions need of the program: its shape, never its actions. */
export function describedProgram(): Command {
  const none = async () => 0;
  return buildProgram(
    {
      validate: none,
      plan: none,
      apply: none,
      show: none,
      destroy: none,
      daemon: none,
      status: none,
      confirm: none,
      revert: none,
      import: none,
      completion: none,
    },
    () => {},
  );
}
