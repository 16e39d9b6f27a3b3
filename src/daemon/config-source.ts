// Reading the config file as the daemon sees it: through every symlink to the real file, with a
// content hash (the revision status reports), and a guard against reading a file while someone
// is still writing it (the size or mtime moved during the read, or a recent write stopped short
// of a final newline). A half-written file is read again later instead of applied.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Diagnostic } from '../model/types.js';

export type ConfigSource =
  | { ok: true; file: string; realPath: string; text: string; hash: string; settled: boolean }
  | { ok: false; file: string; errno: string; message: string };

/** A write that ended less than this long ago without a final newline may still be going on. */
export const UNSETTLED_MS = 500;

export function readConfigSource(file: string, now = Date.now()): ConfigSource {
  try {
    const realPath = fs.realpathSync(file);
    const before = fs.statSync(realPath);
    const bytes = fs.readFileSync(realPath);
    const after = fs.statSync(realPath);
    const text = bytes.toString('utf8');
    const moved = before.mtimeMs !== after.mtimeMs || before.size !== after.size || after.size !== bytes.length || before.ino !== after.ino;
    const cutShort = text.length > 0 && !text.endsWith('\n') && now - after.mtimeMs < UNSETTLED_MS;
    return { ok: true, file, realPath, text, hash: contentHash(text), settled: !moved && !cutShort };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, file, errno: e.code ?? 'EIO', message: `cannot read ${file}: ${e.code ?? ''} ${e.message}`.trim() };
  }
}

/** The revision of a config: sha256 of its bytes. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The short form people read (like git's abbreviated ids). */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}

/**
 * A file that stops mid-line is taken as truncated, however old: a writer that died half way (or
 * a full disk) must not turn into "delete the rest". Editors, git and YAML emitters all end files
 * with a newline. (A cut exactly at a line end cannot be told from an edit; the loader's
 * `version: 1` rule and the mid-write guard above are what is left for that.)
 */
export function truncationDiagnostic(text: string, file: string): Diagnostic | null {
  if (text.length === 0 || text.endsWith('\n')) return null;
  const lines = text.split('\n');
  const last = lines[lines.length - 1]!;
  return {
    severity: 'error',
    at: `${file}:${lines.length}:${last.length + 1}`,
    path: '',
    message: 'the file ends in the middle of a line: it looks truncated or half written, so it is not applied (end the file with a newline)',
  };
}
