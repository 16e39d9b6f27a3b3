// Watches the config file for every way it gets replaced in practice: an editor's write to a
// temporary file renamed over it, an in-place write, `git pull`/`git checkout` (unlink and
// create), and a symlink flipped atomically to a new revision, of the file itself or of a parent
// directory (how git-sync publishes). Directories are watched, never the file's inode: the
// directory holding the path as written, the directory of each symlink on the way, and the
// directory of the real file; the set is recomputed after every event, because a flip changes
// where the real file is. Only events on names that lead to the file count. The watcher only
// reports "something changed"; the loop debounces and re-reads.

import fs from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

/** Longer than chokidar's change throttle (50 ms). */
const TRAILING_MS = 75;

export interface ConfigWatcher {
  /** Resolves when the directories are being watched (the first scan is done). */
  ready(): Promise<void>;
  close(): Promise<void>;
  /** The paths currently watched (for logs and tests). */
  watched(): string[];
}

/**
 * Directories whose entries decide what `file` resolves to, each with the entry names that matter:
 * for /etc/vlannet.yaml → /srv/sync/current/vlannet.yaml with current → rev-2:
 * /etc {vlannet.yaml}, /srv/sync {current}, /srv/sync/rev-2 {vlannet.yaml}.
 */
export function watchTargets(file: string): Map<string, Set<string>> {
  const targets = new Map<string, Set<string>>();
  const add = (dir: string, name: string) => {
    const names = targets.get(dir) ?? new Set<string>();
    names.add(name);
    targets.set(dir, names);
  };
  let todo = path.resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    // Walk the path one component at a time; at the first symlink, record it and restart on its target.
    const parts = todo.split(path.sep).filter(Boolean);
    let dir: string = path.sep;
    let flipped: string | null = null;
    for (let i = 0; i < parts.length; i++) {
      const here = path.join(dir, parts[i]!);
      let link: string | null = null;
      try { link = fs.lstatSync(here).isSymbolicLink() ? fs.readlinkSync(here) : null; } catch { /* absent: watch for it */ }
      if (link !== null) {
        add(dir, parts[i]!);
        flipped = path.resolve(dir, link, ...parts.slice(i + 1));
        break;
      }
      if (i === parts.length - 1) add(dir, parts[i]!);
      dir = here;
    }
    if (flipped === null) break;
    todo = flipped;
  }
  return targets;
}

/** Call `onChange` whenever what `file` resolves to, or its content, may have changed. */
export function watchConfig(file: string, onChange: (why: string) => void, onError: (e: Error) => void = () => {}): ConfigWatcher {
  let targets = watchTargets(file);
  let watcher: FSWatcher | null = null;
  let isReady: Promise<void> = Promise.resolve();
  let trailing: NodeJS.Timeout | null = null;
  const relevant = (p: string) => targets.get(path.dirname(p))?.has(path.basename(p)) ?? false;

  const start = () => {
    const dirs = [...targets.keys()].filter((d) => fs.existsSync(d));
    watcher = watch(dirs, {
      ignoreInitial: true,
      followSymlinks: false,
      depth: 0,
      // Watch each directory itself and the entries leading to the file, nothing else.
      ignored: (p: string) => !targets.has(p) && !relevant(p),
    });
    const w = watcher;
    isReady = new Promise((resolve) => w.once('ready', () => resolve()));
    watcher.on('all', (event, p) => {
      if (!relevant(p)) return;
      const next = watchTargets(file);
      if (!sameTargets(next, targets)) {
        targets = next;
        void restart();
      }
      onChange(`${event} ${p}`);
      // chokidar drops a file's change events that follow another within ~50 ms (no trailing
      // event): say "changed" once more after that window so a quick second write is not lost.
      if (trailing) clearTimeout(trailing);
      trailing = setTimeout(() => { trailing = null; onChange(`after ${event} ${p}`); }, TRAILING_MS);
    });
    watcher.on('error', (e) => onError(e instanceof Error ? e : new Error(String(e))));
  };
  const restart = async () => {
    const old = watcher;
    watcher = null;
    await old?.close();
    start();
  };
  start();
  return {
    ready: () => isReady,
    async close() {
      if (trailing) clearTimeout(trailing);
      const w = watcher;
      watcher = null;
      await w?.close();
    },
    watched: () => [...targets].map(([dir, names]) => `${dir}{${[...names].join(',')}}`),
  };
}

function sameTargets(a: Map<string, Set<string>>, b: Map<string, Set<string>>): boolean {
  if (a.size !== b.size) return false;
  for (const [dir, names] of a) {
    const other = b.get(dir);
    if (!other || other.size !== names.size || [...names].some((n) => !other.has(n))) return false;
  }
  return true;
}
