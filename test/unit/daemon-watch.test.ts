// The config watcher on the real file system, for every way a file gets replaced: rename-over,
// in-place write, a symlink to the file flipped, a parent directory symlink flipped (git-sync),
// git checkout. Prints how long each change took to be noticed.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { watchConfig, watchTargets } from '../../src/daemon/config-watch.js';
import { gitRevisionOf } from '../../src/daemon/git.js';

const open: { close(): Promise<void> }[] = [];
test.after.each(async () => {
  for (const w of open.splice(0)) await w.close();
});

const tmp = () => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-watch-')));

/** Watch `file`; `expectChange(fn)` runs fn and resolves with the ms until the watcher fired. */
async function watching(file: string) {
  let fired: (() => void) | null = null;
  let count = 0;
  const w = watchConfig(file, () => {
    count++;
    fired?.();
  });
  open.push(w);
  await w.ready();
  return {
    w,
    count: () => count,
    async expectChange(what: string, fn: () => void): Promise<number> {
      await new Promise((r) => setTimeout(r, 30)); // let earlier events drain
      const t0 = performance.now();
      const seen = new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${what}: no change seen within 3 s (watching ${w.watched().join(' ')})`)), 3000);
        fired = () => {
          clearTimeout(t);
          fired = null;
          resolve();
        };
      });
      fn();
      await seen;
      const ms = performance.now() - t0;
      console.log(`  watch: ${what} noticed after ${ms.toFixed(1)} ms`);
      return ms;
    },
  };
}

const flip = (link: string, target: string) => {
  const next = `${link}.next`;
  fs.symlinkSync(target, next);
  fs.renameSync(next, link); // atomic replace, as git-sync and `ln -sfn` + mv -T do
};

test('watchTargets follows a symlinked file and a symlinked parent directory', () => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'rev1'));
  fs.writeFileSync(path.join(dir, 'rev1', 'vlannet.yaml'), 'version: 1\n');
  fs.symlinkSync('rev1', path.join(dir, 'current'));
  fs.mkdirSync(path.join(dir, 'etc'));
  fs.symlinkSync(path.join(dir, 'current', 'vlannet.yaml'), path.join(dir, 'etc', 'vlannet.yaml'));
  const t = watchTargets(path.join(dir, 'etc', 'vlannet.yaml'));
  // Every directory on the way, through each symlink: any of them can be renamed or replaced.
  const ancestors: Record<string, string[]> = {};
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) ancestors[path.dirname(d)] = [path.basename(d)];
  assert.equal(Object.fromEntries([...t].map(([d, n]) => [d, [...n].sort()])), {
    ...ancestors,
    [dir]: ['current', 'etc', 'rev1'],
    [path.join(dir, 'etc')]: ['vlannet.yaml'],
    [path.join(dir, 'rev1')]: ['vlannet.yaml'],
  });
});

test('every transition is noticed: symlink ↔ file, deleted and made again, a missing directory that appears, a directory flipped and replaced; close() lets the process end', async () => {
  const dir = tmp();
  const file = path.join(dir, 'vlannet.yaml');
  const real = path.join(dir, 'real.yaml');
  fs.writeFileSync(real, 'version: 1\n');
  fs.symlinkSync('real.yaml', file);
  const x = await watching(file);
  const renameOver = (text: string) => {
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
  };
  await x.expectChange('a write through the symlink', () => fs.writeFileSync(real, 'version: 1\n# 2\n'));
  await x.expectChange('the symlink replaced by a file', () => renameOver('version: 1\n# 3\n'));
  await x.expectChange('rename-over of that file', () => renameOver('version: 1\n# 4\n'));
  await x.expectChange('an in-place write to it', () => fs.writeFileSync(file, 'version: 1\n# 5\n'));
  await x.expectChange('deleted', () => fs.rmSync(file));
  await x.expectChange('made again', () => fs.writeFileSync(file, 'version: 1\n# 6\n'));
  for (const rev of ['rev1', 'rev2']) {
    fs.mkdirSync(path.join(dir, rev));
    fs.writeFileSync(path.join(dir, rev, 'v.yaml'), `version: 1\n# ${rev}\n`);
  }
  await x.expectChange('the file replaced by a symlink into a directory that does not exist yet', () => flip(file, 'cur/v.yaml'));
  await x.expectChange('the directory symlink appears', () => fs.symlinkSync('rev1', path.join(dir, 'cur')));
  await x.expectChange('the directory symlink flipped', () => flip(path.join(dir, 'cur'), 'rev2'));
  await x.expectChange('a write in the new revision', () => fs.writeFileSync(path.join(dir, 'rev2', 'v.yaml'), 'version: 1\n# 7\n'));
  await x.expectChange('that directory replaced by another', () => {
    fs.mkdirSync(path.join(dir, 'rev2.new'));
    fs.writeFileSync(path.join(dir, 'rev2.new', 'v.yaml'), 'version: 1\n# 8\n');
    fs.rmSync(path.join(dir, 'rev2'), { recursive: true });
    fs.renameSync(path.join(dir, 'rev2.new'), path.join(dir, 'rev2'));
  });
  await x.expectChange('a write in the replacing directory', () => fs.writeFileSync(path.join(dir, 'rev2', 'v.yaml'), 'version: 1\n# 9\n'));
  await x.expectChange('a plain file again', () => renameOver('version: 1\n# 10\n'));
  const watchers = () =>
    (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles().filter((h) => h.constructor.name === 'FSWatcher').length;
  assert.ok(watchers() > 0);
  await x.w.close();
  await new Promise((resolve) => setTimeout(resolve, 50)); // a closed handle is released a little later
  assert.is(watchers(), 0, 'no watcher left to keep the daemon alive after SIGTERM');
});

test('rename-over and in-place writes are noticed', async () => {
  const dir = tmp();
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, 'version: 1\n');
  const x = await watching(file);
  await x.expectChange('rename-over', () => {
    fs.writeFileSync(`${file}.tmp`, 'version: 1\n# 2\n');
    fs.renameSync(`${file}.tmp`, file);
  });
  await x.expectChange('in-place write', () => fs.writeFileSync(file, 'version: 1\n# 3\n'));
  await x.expectChange('truncate', () => fs.truncateSync(file, 0));
  await x.expectChange('delete', () => fs.rmSync(file));
  await x.expectChange('create again', () => fs.writeFileSync(file, 'version: 1\n'));
  await new Promise((r) => setTimeout(r, 150)); // the trailing event of the last write
  const before = x.count();
  fs.writeFileSync(path.join(dir, 'unrelated.yaml'), 'x');
  await new Promise((r) => setTimeout(r, 200));
  assert.is(x.count(), before, 'a file next to it is not the config');
  await x.w.close();
});

test('a symlink to the file flipped to a new revision; then the new target is watched', async () => {
  const dir = tmp();
  for (const r of ['rev1', 'rev2']) {
    fs.mkdirSync(path.join(dir, r));
    fs.writeFileSync(path.join(dir, r, 'vlannet.yaml'), `version: 1\n# ${r}\n`);
  }
  const file = path.join(dir, 'vlannet.yaml');
  fs.symlinkSync(path.join(dir, 'rev1', 'vlannet.yaml'), file);
  const x = await watching(file);
  await x.expectChange('file symlink flip', () => flip(file, path.join(dir, 'rev2', 'vlannet.yaml')));
  await new Promise((r) => setTimeout(r, 100)); // the watcher re-aims itself
  await x.expectChange('write to the new target', () => fs.writeFileSync(path.join(dir, 'rev2', 'vlannet.yaml'), 'version: 1\n# rev2b\n'));
  await x.w.close();
});

test('a parent directory symlink flipped (git-sync); the old revision no longer counts', async () => {
  const dir = tmp();
  for (const r of ['rev1', 'rev2']) {
    fs.mkdirSync(path.join(dir, r));
    fs.writeFileSync(path.join(dir, r, 'vlannet.yaml'), `version: 1\n# ${r}\n`);
  }
  fs.symlinkSync('rev1', path.join(dir, 'current'));
  const file = path.join(dir, 'current', 'vlannet.yaml');
  const x = await watching(file);
  await x.expectChange('directory symlink flip', () => flip(path.join(dir, 'current'), 'rev2'));
  await new Promise((r) => setTimeout(r, 100));
  await x.expectChange('write in the new revision', () =>
    fs.writeFileSync(path.join(dir, 'rev2', 'vlannet.yaml'), 'version: 1\n# rev2b\n'),
  );
  await new Promise((r) => setTimeout(r, 150)); // the trailing event of the last write
  const before = x.count();
  fs.writeFileSync(path.join(dir, 'rev1', 'vlannet.yaml'), 'version: 1\n# old\n');
  await new Promise((r) => setTimeout(r, 200));
  assert.is(x.count(), before, 'the old revision is not the config any more');
  await x.w.close();
});

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();
}

test('git checkout in the checkout the file lives in is noticed; the revision is read without git', async () => {
  const dir = tmp();
  git(dir, 'init', '-q', '-b', 'main');
  const file = path.join(dir, 'vlannet.yaml');
  fs.writeFileSync(file, 'version: 1\n# one\n');
  git(dir, 'add', 'vlannet.yaml');
  git(dir, 'commit', '-q', '-m', 'one');
  const one = git(dir, 'rev-parse', 'HEAD');
  fs.writeFileSync(file, 'version: 1\n# two\n');
  git(dir, 'commit', '-q', '-am', 'two');
  const two = git(dir, 'rev-parse', 'HEAD');
  assert.equal(gitRevisionOf(file), { worktree: dir, commit: two, branch: 'main' });
  const x = await watching(file);
  await x.expectChange('git checkout', () => git(dir, 'checkout', '-q', one));
  assert.equal(gitRevisionOf(file), { worktree: dir, commit: one, branch: null });
  await x.expectChange('git checkout main', () => git(dir, 'checkout', '-q', 'main'));
  git(dir, 'pack-refs', '--all');
  assert.equal(gitRevisionOf(file)?.commit, two, 'from packed-refs');
  // A worktree (a .git file pointing elsewhere), as git-sync publishes revisions.
  const wt = path.join(tmp(), 'wt');
  git(dir, 'worktree', 'add', '-q', '--detach', wt, one);
  assert.equal(gitRevisionOf(path.join(wt, 'vlannet.yaml')), { worktree: wt, commit: one, branch: null });
  await x.w.close();
  assert.is(gitRevisionOf(path.join(os.tmpdir(), 'nowhere', 'x.yaml')), null);
});

test.run();
