// Watches the config file for every way it gets replaced in practice: an editor's write to a
// temporary file renamed over it, an in-place write, `git pull`/`git checkout` (unlink and
// create), and a symlink flipped atomically to a new revision, of the file itself or of a parent
// directory (how git-sync publishes), a directory on the way renamed or replaced, the file or a
// directory deleted and created again. Directories are watched, never the file's inode: every
// directory on the way to the file, through every symlink (see watchTargets); the set is worked
// out again after every event, because a flip changes where the real file is and a replaced
// directory is a new inode. Only events on names that lead to the
// file count. The watcher only reports "something changed"; the loop debounces and re-reads.

import fs from 'node:fs';
import path from 'node:path';

export interface ConfigWatcher {
  /** Resolves when the directories are being watched (at once: fs.watch starts synchronously). */
  ready(): Promise<void>;
  close(): Promise<void>;
  /** The paths currently watched (for logs and tests). */
  watched(): string[];
}

/**
 * Directories whose entries decide what `file` resolves to, each with the entry names that matter:
 * every directory on the way to the file, through every symlink (a directory on the way can be
 * renamed, replaced or flipped), up to the first component that does not exist (watched for its
 * appearance). For /etc/vlannet.yaml → /srv/sync/current/vlannet.yaml with current → rev-2:
 * / {etc, srv}, /etc {vlannet.yaml}, /srv {sync}, /srv/sync {current, rev-2}, /srv/sync/rev-2 {vlannet.yaml}.
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
    // Walk the path one component at a time; at the first symlink, restart on its target.
    const parts = todo.split(path.sep).filter(Boolean);
    let dir: string = path.sep;
    let flipped: string | null = null;
    for (let i = 0; i < parts.length; i++) {
      const here = path.join(dir, parts[i]!);
      add(dir, parts[i]!);
      let link: string | null = null;
      try {
        link = fs.lstatSync(here).isSymbolicLink() ? fs.readlinkSync(here) : null;
      } catch {
        break; // absent: its directory is watched for it
      }
      if (link !== null) {
        flipped = path.resolve(dir, link, ...parts.slice(i + 1));
        break;
      }
      dir = here;
    }
    if (flipped === null) break;
    todo = flipped;
  }
  return targets;
}

/**
 * Call `onChange` whenever what `file` resolves to, or its content, may have changed. One inotify
 * watch (fs.watch) per directory of watchTargets, each reporting only the names that matter there;
 * after any event the targets are worked out again, and a directory that is new, or was replaced
 * (another inode under the same path), is watched afresh.
 *
 * Not chokidar: chokidar 5 reports a symlink replaced by a file as added and then nothing more
 * about that file (followSymlinks: false), and nests the watches of a directory and its parent
 * into an endless stream of unlinkDir events (followSymlinks: true).
 */
export function watchConfig(file: string, onChange: (why: string) => void, onError: (e: Error) => void = () => {}): ConfigWatcher {
  let targets = watchTargets(file);
  const watching = new Map<string, { watcher: fs.FSWatcher; ino: number }>();
  let closed = false;

  const sync = () => {
    for (const [dir, w] of watching) {
      let ino: number | null = null;
      try {
        ino = fs.statSync(dir).ino;
      } catch {
        /* gone */
      }
      if (!targets.has(dir) || ino !== w.ino) {
        w.watcher.close();
        watching.delete(dir);
      }
    }
    for (const dir of targets.keys()) {
      if (watching.has(dir)) continue;
      let watcher: fs.FSWatcher;
      let ino: number;
      try {
        ino = fs.statSync(dir).ino;
        watcher = fs.watch(dir, { persistent: true }, (event, name) => seen(dir, event, name));
      } catch {
        continue; // not there (yet): its parent is watched for it
      }
      watcher.on('error', (e) => {
        // The directory went away under the watch: what replaced it (if anything) is found by sync().
        watcher.close();
        if (watching.get(dir)?.watcher === watcher) watching.delete(dir);
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') onError(e);
        if (!closed) {
          targets = watchTargets(file);
          sync();
        }
      });
      watching.set(dir, { watcher, ino });
    }
  };
  const seen = (dir: string, event: string, name: string | Buffer | null) => {
    if (closed) return;
    const entry = typeof name === 'string' ? name : (name?.toString() ?? null);
    // Without a name the kernel dropped events (queue overflow): anything may have changed.
    if (entry !== null && !targets.get(dir)?.has(entry)) return;
    targets = watchTargets(file);
    sync();
    onChange(`${event} ${entry === null ? dir : path.join(dir, entry)}`);
  };
  sync();
  return {
    ready: async () => {},
    async close() {
      closed = true;
      for (const w of watching.values()) w.watcher.close();
      watching.clear();
    },
    watched: () => [...targets].map(([dir, names]) => `${dir}{${[...names].join(',')}}`),
  };
}
