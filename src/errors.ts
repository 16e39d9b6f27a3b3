// Every error vlannet reports to people, in one module with no dependencies (type imports only):
// any layer can throw them, the command line and the daemon match them with instanceof, and
// src/report.ts turns them into words and exit codes, once. An error of another class is a bug.
//
//   DiagnosticsError  the file (or a plan) is refused: every problem, each with file:line:column
//   UsageError        wrong flags or arguments, an option value the system refuses (a port in use)
//   KernelError       the kernel refused an operation: its errno, what it said, the operation
//   ApplyError        an apply failed: the action, why, and what was undone or left to do
//   VerifyError       the kernel does not hold what the apply just made
//   LockBusyError     another vlannet holds the lock
//   DaemonError       the running daemon could not be asked, or refused
//   SyscallError      a system call vlannet makes itself failed (mount, setns, a netns file)
//   NetlinkError      a netlink request was refused (the adapter makes it a KernelError)

import type { Action, Diagnostic, KernelOp } from './model/types.js';

/** Input (config, observed state, a plan) is rejected; carries every problem found at once. */
export class DiagnosticsError extends Error {
  constructor(public readonly diagnostics: Diagnostic[]) {
    super(
      diagnostics
        .filter((d) => d.severity === 'error')
        .map(formatDiagnostic)
        .join('\n'),
    );
    this.name = 'DiagnosticsError';
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.at ? `${d.at}: ` : '';
  const path = d.path ? `${d.path}: ` : '';
  return `${where}${d.severity}: ${path}${d.message}`;
}

/** Wrong flags or arguments, or an option the system refuses: the operator's to fix. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A saved plan no longer holds: the config file or the kernel changed since it was made. Nothing was changed. */
export class StalePlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StalePlanError';
  }
}

/** A trial (apply --confirm-timeout) is in the way, or there is none to confirm or revert: nothing was changed. */
export class TrialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrialError';
  }
}

/** The kernel refused an operation. */
export class KernelError extends Error {
  constructor(
    /** errno name: EBUSY, EEXIST, ENODEV … */
    public readonly errno: string,
    /** What the kernel said, when it said more than the errno (extended ack). */
    public readonly detail: string,
    public readonly op: KernelOp,
  ) {
    super(`${errno}${detail ? `: ${detail}` : ''}`);
    this.name = 'KernelError';
  }
}

export interface RollbackReport {
  undone: number;
  /** Undo operations the kernel refused: the kernel is NOT as it was. */
  failed: { op: KernelOp; error: string }[];
}

/** An apply failed at `action`; src/report.ts says what that left (describeApplyError). */
export class ApplyError extends Error {
  constructor(
    public readonly action: Action,
    public override readonly cause: unknown,
    /** What undoing did; null when the failure came after the point of no return (nothing is undone). */
    public readonly rollback: RollbackReport | null,
    public readonly otherFailures: { action: Action; cause: unknown }[],
    /** After the point of no return: the actions that were not done. */
    public readonly notDone: Action[] = [],
    /** The failure in words (the executor's describeFailure). */
    message = '',
  ) {
    super(message);
    this.name = 'ApplyError';
  }
}

/** After executing, the kernel still differs from the config: what remains, in words. */
export class VerifyError extends Error {
  constructor(
    public readonly residual: Action[],
    message: string,
  ) {
    super(message);
    this.name = 'VerifyError';
  }
}

export class LockBusyError extends Error {
  constructor(
    public readonly lockPath: string,
    public readonly holder: string,
  ) {
    super(
      /: daemon$/.test(holder)
        ? `the vlannet daemon (${holder.replace(/: daemon$/, '')}) is running and holds ${lockPath}: stop it first (systemctl stop vlannet), or let it do the work (\`vlannet apply\` asks it)`
        : `another vlannet is changing the kernel (${holder}, lock ${lockPath}); try again when it is done, or use \`vlannet status\``,
    );
    this.name = 'LockBusyError';
  }
}

/** The daemon answered, but not with success, or could not be asked. */
export class DaemonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DaemonError';
  }
}

/** A system call vlannet makes itself failed: `code` is the errno name. */
export class SyscallError extends Error {
  constructor(
    public readonly code: string,
    public readonly syscall: string,
    public readonly what: string,
  ) {
    super(`${syscall} ${what}: ${code}`);
    this.name = 'SyscallError';
  }
}

/** A netlink request was refused: errno name and the extended ack message, if any. */
export class NetlinkError extends Error {
  constructor(
    public readonly errno: string,
    public readonly detail: string,
  ) {
    super(`${errno}${detail ? `: ${detail}` : ''}`);
    this.name = 'NetlinkError';
  }
}
