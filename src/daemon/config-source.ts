// Reading the config file as the daemon sees it: through every symlink to the real file, with a
// content hash (the revision status reports) and what identifies the file (its real path and
// inode: a rename-over or a symlink flip gives another one, an in-place write keeps it), and a
// guard against reading a file while someone is still writing it (its size or mtime moved during
// the read). Whether a file is complete and valid is the loader's one rule (config/load.ts).

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { unreadable } from '../config/unreadable.js';

export type ConfigSource =
  | {
      ok: true;
      file: string;
      realPath: string;
      text: string;
      hash: string;
      /** realPath and inode: the same while the file is only written in place. */
      identity: string;
      mtimeMs: number;
      /** The file changed while it was read. */
      moving: boolean;
    }
  | { ok: false; file: string; errno: string; message: string };

export function readConfigSource(file: string): ConfigSource {
  try {
    const realPath = fs.realpathSync(file);
    const before = fs.statSync(realPath);
    const bytes = fs.readFileSync(realPath);
    const after = fs.statSync(realPath);
    const text = bytes.toString('utf8');
    const moving =
      before.mtimeMs !== after.mtimeMs || before.size !== after.size || after.size !== bytes.length || before.ino !== after.ino;
    return {
      ok: true,
      file,
      realPath,
      text,
      hash: contentHash(text),
      identity: `${realPath}\0${after.ino}`,
      mtimeMs: after.mtimeMs,
      moving,
    };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, file, errno: e.code ?? 'EIO', message: `cannot read ${file}: ${unreadable(e)}` };
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
