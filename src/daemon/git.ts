// When the config file lives in a git checkout, status names the commit that was applied. Read
// from .git without spawning git: HEAD, then the ref it names (loose, else packed-refs). Handles
// a `.git` file (worktrees and submodules: `gitdir: …`, with `commondir` for shared refs), which
// is how git-sync publishes each revision.

import fs from 'node:fs';
import path from 'node:path';
import type { GitRevision } from '../control/protocol.js';

/** The git revision checked out where `file` lives (its real path), or null when not in a checkout. */
export function gitRevisionOf(file: string): GitRevision | null {
  let dir = path.dirname(file);
  for (;;) {
    const dotGit = path.join(dir, '.git');
    const gitDir = resolveGitDir(dotGit);
    if (gitDir) {
      const head = readHead(gitDir);
      return head ? { worktree: dir, ...head } : null;
    }
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function resolveGitDir(dotGit: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(dotGit);
  } catch {
    return null;
  }
  if (st.isDirectory()) return dotGit;
  if (!st.isFile()) return null;
  const m = /^gitdir:\s*(.+?)\s*$/m.exec(readText(dotGit) ?? '');
  return m ? path.resolve(path.dirname(dotGit), m[1]!) : null;
}

function readHead(gitDir: string): { commit: string; branch: string | null } | null {
  const head = readText(path.join(gitDir, 'HEAD'))?.trim();
  if (!head) return null;
  if (/^[0-9a-f]{40,64}$/.test(head)) return { commit: head, branch: null };
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) return null;
  const common = commonDir(gitDir);
  const commit = readRef(gitDir, ref) ?? (common !== gitDir ? readRef(common, ref) : null);
  if (!commit) return null; // an unborn branch: nothing committed yet
  return { commit, branch: ref.replace(/^refs\/heads\//, '') };
}

function commonDir(gitDir: string): string {
  const rel = readText(path.join(gitDir, 'commondir'))?.trim();
  return rel ? path.resolve(gitDir, rel) : gitDir;
}

function readRef(gitDir: string, ref: string): string | null {
  const loose = readText(path.join(gitDir, ref))?.trim();
  if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
  for (const line of (readText(path.join(gitDir, 'packed-refs')) ?? '').split('\n')) {
    const [id, name] = line.split(' ');
    if (name === ref && id && /^[0-9a-f]{40,64}$/.test(id)) return id;
  }
  return null;
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
