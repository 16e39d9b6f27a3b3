// The daemon's log: one line per event, fit for journald. Under systemd (JOURNAL_STREAM or
// INVOCATION_ID set) each line starts with an sd-daemon priority prefix (`<3>` error, `<4>`
// warning, `<6>` info, `<7>` debug) and carries no timestamp, journald adds its own; elsewhere a
// line starts with an ISO time and the level word. Never colours.

export type Level = 'error' | 'warning' | 'info' | 'debug';

const PRIORITY: Record<Level, number> = { error: 3, warning: 4, info: 6, debug: 7 };

export interface Logger {
  error(message: string): void;
  warning(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export interface LoggerOptions {
  /** Prefix lines with `<N>`; default: whether the process runs under systemd. */
  journal?: boolean;
  /** Print debug lines too. */
  debug?: boolean;
  /** Where lines go; default stderr. */
  write?(line: string): void;
}

/** Whether this process was started by systemd with its output going to the journal. */
export function underSystemd(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.JOURNAL_STREAM || env.INVOCATION_ID);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const journal = opts.journal ?? underSystemd();
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const emit = (level: Level, message: string) => {
    if (level === 'debug' && !opts.debug) return;
    // One event, one line: a multi-line message (an error with its hint) is folded.
    const text = message.trim().replace(/\s*\n\s*/g, '; ');
    const prefix = journal ? `<${PRIORITY[level]}>` : `${new Date().toISOString()} ${level.toUpperCase().padEnd(7)} `;
    write(`${prefix}${text}\n`);
  };
  return {
    error: (m) => emit('error', m),
    warning: (m) => emit('warning', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
  };
}

/** A logger that keeps lines in memory (tests, and `status` of a dry run). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ journal: true, debug: true, write: (l) => void lines.push(l.trimEnd()) });
  return Object.assign(log, { lines });
}
