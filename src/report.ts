// Errors in words, once, for the command line and the daemon alike: every error of src/errors.ts
// (and an errno the system returned) is the operator's to act on, said in lines; anything else is
// a bug in vlannet. The command line prints the lines and exits with `exit`; the daemon logs them
// and shows them in `vlannet status`.

import {
  ApplyError,
  DaemonError,
  TrialError,
  DiagnosticsError,
  formatDiagnostic,
  KernelError,
  LockBusyError,
  NetlinkError,
  SyscallError,
  StalePlanError,
  UsageError,
  VerifyError,
} from './errors.js';
import { describeApplyError, describeOp, hintFor } from './plan/describe.js';

export interface ErrorReport {
  lines: string[];
  /** 1: the operator's to act on; 70 (EX_SOFTWARE of sysexits.h): a bug in vlannet. */
  exit: 1 | 70;
}

const ROOT_HINT = '  hint: vlannet needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)';

export function reportError(error: unknown): ErrorReport {
  if (error instanceof DiagnosticsError) {
    const n = error.diagnostics.filter((d) => d.severity === 'error').length;
    return { lines: [...error.diagnostics.map(formatDiagnostic), `${n} error${n === 1 ? '' : 's'}; nothing was changed.`], exit: 1 };
  }
  if (error instanceof ApplyError) {
    const [first, ...rest] = describeApplyError(error);
    return { lines: [`error: ${first}`, ...rest.map((l) => (l.startsWith(' ') ? l : `error: ${l}`))], exit: 1 };
  }
  if (
    error instanceof UsageError ||
    error instanceof StalePlanError ||
    error instanceof VerifyError ||
    error instanceof LockBusyError ||
    error instanceof DaemonError ||
    error instanceof TrialError
  ) {
    return { lines: [`error: ${error.message}`], exit: 1 };
  }
  if (error instanceof KernelError) {
    const hint = hintFor(error.op, error.errno);
    return {
      lines: [`error: the kernel refused \`${describeOp(error.op)}\`: ${error.message}`, ...(hint ? [`  hint: ${hint}`] : [])],
      exit: 1,
    };
  }
  if (error instanceof NetlinkError) {
    return { lines: [`error: the kernel refused a request: ${error.message}`, ...(error.errno === 'EPERM' ? [ROOT_HINT] : [])], exit: 1 };
  }
  // The system refused something (a file missing or unreadable, a privilege missing).
  const code = error instanceof SyscallError ? error.code : (error as NodeJS.ErrnoException | null)?.code;
  if (error instanceof Error && typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
    return { lines: [`error: ${error.message}`, ...(code === 'EPERM' || code === 'EACCES' ? [ROOT_HINT] : [])], exit: 1 };
  }
  return {
    lines: [`internal error (this is a bug in vlannet; please report it): ${error instanceof Error ? error.message : String(error)}`],
    exit: 70,
  };
}
