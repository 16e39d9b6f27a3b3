// The vlannet command line: the program of program.ts, each command loaded on first use, and one
// top-level catch that turns errors into messages (or, with --json, one JSON document) and exit
// codes: 0 success (or no changes), 1 error, 2 changes present (plan --detailed-exitcode), 70 an
// internal error, which is a bug in vlannet. `status` has exit codes of its own (STATUS_EXIT).

import { CommanderError } from 'commander';
import { type Actions, buildProgram, EXIT } from './program.js';

// Commands are loaded on first use: start-up time is most of a converged `plan`, and the daemon's
// modules (the watcher, prom-client) or the YAML and schema libraries are not needed by every command.
const commands = () => import('./commands.js');

const ACTIONS: Actions = {
  validate: async (o) => (await commands()).validateCommand(o),
  plan: async (planFile, o) => (await commands()).planCommand(planFile, o),
  apply: async (planFile, o) => (await commands()).applyCommand(planFile, o),
  show: async (o) => (await import('./show.js')).showCommand(o),
  destroy: async (o) => (await commands()).destroyCommand(o),
  daemon: async (o) => (await import('./daemon.js')).daemonCommand(o),
  status: async (o) => (await import('./status.js')).statusCommand(o),
  confirm: async (o) => (await import('./trial.js')).endTrialCommand('confirm', o),
  revert: async (o) => (await import('./trial.js')).endTrialCommand('revert', o),
  import: async (source, files, o) => (await import('./import.js')).importCommand(source, files, o),
  completion: async (shell) => (await import('./completion.js')).completionCommand(shell),
};

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(ACTIONS, (c) => {
    code = c;
  });
  program.exitOverride();
  // Completion requests (`vlannet complete -- WORDS`, from the scripts `completion` prints) are
  // answered without the program's parser, which would take the words for its own options.
  if (argv[0] === 'complete' && argv[1] === '--') return (await import('./completion.js')).answerCompletion(argv.slice(2));
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; a mistake on the command line (already printed) exits 1.
      return error.exitCode === 0 ? EXIT.ok : EXIT.error;
    }
    return await report(error, json ? commandOf(argv) : null);
  }
}

/** The command a JSON document is about: the first word that is not an option. */
function commandOf(argv: string[]): string {
  return argv.find((a) => !a.startsWith('-')) ?? '';
}

/**
 * Errors become messages and exit codes (src/report.ts); a bug also prints its stack. With --json
 * (`command` given) the error is one JSON document on stdout instead, and the same exit code.
 */
export async function report(error: unknown, command: string | null = null): Promise<number> {
  const { reportError } = await import('../report.js');
  const { lines, exit } = reportError(error);
  const { err: say, failureDocument, printJson } = await import('./output.js');
  if (command !== null) {
    printJson(failureDocument(command, error, lines, exit === EXIT.bug));
    return exit;
  }
  if (exit === EXIT.bug) {
    const stack = error instanceof Error && error.stack ? (await import('./stack.js')).mapStack(error.stack) : String(error);
    say(`internal error (this is a bug in vlannet; please report it with the output below):\n${stack}`);
  } else {
    for (const line of lines) say(line);
  }
  return exit;
}
