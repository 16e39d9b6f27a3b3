// Machine-readable output: every command's --json prints one document in one envelope, described
// by schemas/vlannet-output.schema.json (generated from output-schema.ts):
//
//   {
//     "format_version": 2,            // an integer; bumped only by a breaking change
//     "command": "plan",              // the command that printed it
//     "ok": true,                     // false: the command failed (exit code 1 or 70); see "error"
//     "diagnostics": [                // problems with the file (errors) and warnings
//       { "severity": "error", "file": "/etc/vlannet.yaml", "line": 7, "column": 14,
//         "path": "endpoints.web1.ipv4", "message": "…" }
//     ],
//     "error": null,                  // or { "kind": "config" | "usage" | "kernel" | …, "message",
//                                     //      "errno": "EBUSY" (when the kernel or system refused) }
//     …                               // the command's own data: "plan", "executed", "observed" …
//   }
//
// Keys are snake_case throughout, also inside the kernel operations of a plan (`vlan_id`). Version
// 1 (vlannet 0.1) printed each command's data bare, with "format_version": "1" a string.

import type { Diagnostic } from '../model/types.js';
import {
  ApplyError,
  DaemonError,
  DiagnosticsError,
  KernelError,
  LockBusyError,
  NetlinkError,
  StalePlanError,
  TrialError,
  SyscallError,
  UsageError,
  VerifyError,
} from '../errors.js';

export const OUTPUT_FORMAT_VERSION = 2;

export interface DiagnosticJson {
  severity: Diagnostic['severity'];
  file: string | null;
  line: number | null;
  column: number | null;
  path: string;
  message: string;
}

export type ErrorKind = 'config' | 'usage' | 'kernel' | 'apply' | 'verify' | 'lock' | 'daemon' | 'stale' | 'trial' | 'system' | 'bug';

export interface ErrorJson {
  kind: ErrorKind;
  /** The error as the command line prints it (lines joined by newlines). */
  message: string;
  errno: string | null;
}

export interface Document {
  format_version: typeof OUTPUT_FORMAT_VERSION;
  command: string;
  ok: boolean;
  diagnostics: DiagnosticJson[];
  error: ErrorJson | null;
  [data: string]: unknown;
}

/** A diagnostic's "FILE:LINE:COLUMN" (or the file alone, or '') in fields. */
export function diagnosticJson(d: Diagnostic): DiagnosticJson {
  const m = /^(.*):(\d+):(\d+)$/.exec(d.at);
  return {
    severity: d.severity,
    file: m ? m[1]! : d.at || null,
    line: m ? Number(m[2]) : null,
    column: m ? Number(m[3]) : null,
    path: d.path,
    message: d.message,
  };
}

/** A successful command's document; `data`'s keys are made snake_case. */
export function document(command: string, data: Record<string, unknown>, diagnostics: Diagnostic[] = []): Document {
  return {
    format_version: OUTPUT_FORMAT_VERSION,
    command,
    ok: true,
    diagnostics: diagnostics.map(diagnosticJson),
    error: null,
    ...(snakeKeys(data) as Record<string, unknown>),
  };
}

/** A failed command's document: the error's kind, its words (`lines`, as report.ts says them), its errno. */
export function failureDocument(command: string, error: unknown, lines: string[], bug: boolean): Document {
  const diagnostics = error instanceof DiagnosticsError ? error.diagnostics.map(diagnosticJson) : [];
  return {
    format_version: OUTPUT_FORMAT_VERSION,
    command,
    ok: false,
    diagnostics,
    error: { kind: bug ? 'bug' : kindOf(error), message: lines.join('\n'), errno: errnoOf(error) },
  };
}

function kindOf(error: unknown): ErrorKind {
  if (error instanceof DiagnosticsError) return 'config';
  if (error instanceof UsageError) return 'usage';
  if (error instanceof ApplyError) return 'apply';
  if (error instanceof VerifyError) return 'verify';
  if (error instanceof LockBusyError) return 'lock';
  if (error instanceof DaemonError) return 'daemon';
  if (error instanceof StalePlanError) return 'stale';
  if (error instanceof TrialError) return 'trial';
  if (error instanceof KernelError || error instanceof NetlinkError) return 'kernel';
  return 'system';
}

function errnoOf(error: unknown): string | null {
  if (error instanceof KernelError || error instanceof NetlinkError) return error.errno;
  if (error instanceof ApplyError) return errnoOf(error.cause);
  if (error instanceof SyscallError) return error.code;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : null;
}

/** A line (or lines) for people on stdout, ending in a newline. */
export const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
/** The same on stderr. */
export const err = (s: string) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A key renamed, remembered: documents repeat a small vocabulary of keys (an apply of a thousand
 * endpoints prints some 100 000 of them), and a regular expression per key cost ~90 ms there.
 */
function renamer(rename: (key: string) => string): (key: string) => string {
  const seen = new Map<string, string>();
  return (key) => {
    let renamed = seen.get(key);
    if (renamed === undefined) {
      renamed = rename(key);
      if (seen.size < 10_000) seen.set(key, renamed);
    }
    return renamed;
  };
}
const snake = renamer((key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
const camel = renamer((key) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()));

/** A copy of `value` with every object key in snake_case (values, names included, untouched). */
export function snakeKeys(value: unknown): unknown {
  return mapKeys(value, snake);
}

/** The inverse of snakeKeys, for reading a document back into vlannet's own types. */
export function camelKeys(value: unknown): unknown {
  return mapKeys(value, camel);
}

function mapKeys(value: unknown, f: (key: string) => string): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = mapKeys(value[i], f);
    return out;
  }
  const out: Record<string, unknown> = {};
  const record = value as Record<string, unknown>;
  for (const k in record) out[f(k)] = mapKeys(record[k], f);
  return out;
}
