// The vlannet command line. One table of commands, one top-level catch that maps error classes to
// exit codes: 0 success (or no changes), 1 error, 2 changes present (plan --detailed-exitcode),
// 3 an internal error, which is a bug in vlannet.

import { DEFAULT_CONFIG } from './args.js';

export const EXIT = { ok: 0, error: 1, changes: 2, bug: 3 } as const;

// Commands are loaded on first use: start-up time is most of a converged `plan`, and the daemon's
// modules (the watcher, prom-client) or the YAML and schema libraries are not needed by every command.
// Nothing else is imported eagerly but the error classes of model/types.js and args.js.
const commands = () => import('./commands.js');
const daemon = () => import('./daemon.js');
const status = () => import('./status.js');

interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  validate: {
    summary: 'check a config file and print every error with its line:column',
    usage: 'validate [-f FILE]',
    run: async (a) => (await commands()).validateCommand(a),
  },
  plan: {
    summary: 'show what apply would change in the kernel',
    usage: 'plan [-f FILE] [--observed STATE.json] [--destroy] [--json] [--detailed-exitcode]',
    run: async (a) => (await commands()).planCommand(a),
  },
  apply: {
    summary: 'make the kernel match the config, verify it, roll back on failure',
    usage: 'apply [-f FILE] [--json] [--force]',
    run: async (a) => (await commands()).applyCommand(a),
  },
  show: {
    summary: 'print what vlannet owns in the kernel (the ObservedState with --json)',
    usage: 'show [--json] [--netns NAME]...',
    run: async (a) => (await commands()).showCommand(a),
  },
  destroy: {
    summary: 'remove everything vlannet created, and nothing else',
    usage: 'destroy [--json] [--force]',
    run: async (a) => (await commands()).destroyCommand(a),
  },
  daemon: {
    summary: 'keep the kernel equal to the config file (run by systemd)',
    usage: 'daemon [-f FILE] [--resync SECONDS] [--settle SECONDS] [--metrics ADDR:PORT] [--force]',
    run: async (a) => (await daemon()).daemonCommand(a),
  },
  status: {
    summary: "the daemon's state, last reconcile and the current plan",
    usage: 'status [-f FILE] [--json]',
    run: async (a) => (await status()).statusCommand(a),
  },
};

function help(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return [
    'vlannet: macvlan, ipvlan and 802.1q networks from a YAML file, kept in the kernel.',
    '',
    'usage: vlannet COMMAND [options]',
    '',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    `FILE defaults to ${DEFAULT_CONFIG}. See README.md for the config language.`,
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${help()}\n`);
    return name ? EXIT.ok : EXIT.error;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write('vlannet 0.1.0\n');
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`vlannet: unknown command "${name}"\n\n${help()}\n`);
    return EXIT.error;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    return await report(error);
  }
}

/** Errors become messages and exit codes (src/report.ts); a bug also prints its stack. */
export async function report(error: unknown): Promise<number> {
  const { reportError } = await import('../report.js');
  const { lines, exit } = reportError(error);
  const say = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);
  if (exit === EXIT.bug) {
    const stack = error instanceof Error && error.stack ? (await import('./stack.js')).mapStack(error.stack) : String(error);
    say(`internal error (this is a bug in vlannet; please report it with the output below):\n${stack}`);
  } else {
    for (const line of lines) say(line);
  }
  return exit;
}
