// Network namespaces as handles. This is the only file that switches namespaces: a socket or a
// file opened while a thread is inside a namespace stays bound to it after the thread has gone
// back, so every switch here is synchronous — enter, open, return — and nothing else runs in
// between. A namespace belongs to a thread, not to the process: libuv's threads keep their own,
// and so does the namespace factory's worker thread (factory.ts), which runs this module too.
// vishvananda/netlink's NewHandleAt, and iproute2's `ip netns add`, done from Node through libc
// (koffi).

import fs from 'node:fs';
import koffi from 'koffi';
import { SyscallError } from '../errors.js';
import { check, errnoName, libc, POLLPRI, readyNow } from './libc.js';

export const NETNS_DIR = '/run/netns';

// <sched.h>, <sys/mount.h>, <fcntl.h> (values checked against the headers).
const CLONE_NEWNET = 0x40000000;
const MNT_DETACH = 2;
const MS_BIND = 0x1000;
const MS_REC = 0x4000;
const MS_SHARED = 0x100000;
const F_DUPFD_CLOEXEC = 1030;

// EWOULDBLOCK is EAGAIN's other name; the code here (and people) say EAGAIN.

let ownFd: number | null = null;
/**
 * An fd on vlannet's own namespace, kept open: the one this thread started in (each worker thread
 * has this module, and so this fd, to itself; a thread starts in the namespace of the thread that
 * started it, and vlannet starts threads only from its own namespace). /proc/thread-self, not
 * /proc/self: the latter is the main thread's, which may be inside another namespace just then.
 */
export function ownNetnsFd(): number {
  ownFd ??= fs.openSync('/proc/thread-self/ns/net', 'r');
  return ownFd;
}

function netnsPath(name: string): string {
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/.test(name) || name === '.' || name === '..') {
    throw new SyscallError('EINVAL', 'netns', `name ${JSON.stringify(name)}`);
  }
  return `${NETNS_DIR}/${name}`;
}

/** Open /run/netns/NAME (an fd usable with setns and IFLA_NET_NS_FD). Throws code ENOENT when absent. */
export function openNetnsFd(name: string): number {
  return fs.openSync(netnsPath(name), 'r');
}

/**
 * Back to vlannet's own namespace (`own`, from ownNetnsFd) after a setns or unshare. A thread that
 * stayed in another would open every later socket there, and vlannet would read and change the
 * wrong namespace: so failing to return ends the process (a worker thread ends only itself), with
 * no chance for a caller to catch it and go on.
 */
function returnHome(own: number): void {
  if (libc().setns(own, CLONE_NEWNET) === 0) return;
  process.stderr.write(`vlannet: internal error: cannot return to its own network namespace (${errnoName(koffi.errno())}); stopping\n`);
  process.exit(3);
}

/**
 * Run `fn` synchronously with the main thread inside the namespace open as `fd` (from
 * openNetnsFd), then go back, whatever `fn` does. `fn` must not await: only what it opens
 * synchronously is bound there.
 */
export function inNetnsFd<T>(fd: number, what: string, fn: () => T): T {
  const own = ownNetnsFd();
  check(libc().setns(fd, CLONE_NEWNET), 'setns', what);
  try {
    return fn();
  } finally {
    returnHome(own);
  }
}

/**
 * Run `fn` synchronously with the main thread in a new network namespace of its own, then go back.
 * The namespace has no name: it lives only as long as something opened inside it (a socket) does.
 */
export function inThrowawayNetns<T>(fn: () => T): T {
  const own = ownNetnsFd();
  check(libc().unshare(CLONE_NEWNET), 'unshare', 'CLONE_NEWNET (a throwaway namespace)');
  try {
    return fn();
  } finally {
    returnHome(own);
  }
}

let sharedDirReady = false;
/**
 * iproute2 makes /run/netns a shared mount point, so namespace mounts made later propagate to
 * every mount namespace that already has a copy of it (systemd services, containers).
 */
function ensureNetnsDir(): void {
  if (sharedDirReady) return;
  fs.mkdirSync(NETNS_DIR, { recursive: true, mode: 0o755 });
  if (libc().mount(null, NETNS_DIR, 'none', MS_SHARED | MS_REC, null) !== 0) {
    const first = errnoName(koffi.errno());
    // EINVAL: not a mount point yet; bind it onto itself, then make it shared (as iproute2 does).
    if (first !== 'EINVAL') throw new SyscallError(first, 'mount', `--make-rshared ${NETNS_DIR}`);
    check(libc().mount(NETNS_DIR, NETNS_DIR, 'none', MS_BIND | MS_REC, null), 'mount', `--bind ${NETNS_DIR}`);
    check(libc().mount(null, NETNS_DIR, 'none', MS_SHARED | MS_REC, null), 'mount', `--make-rshared ${NETNS_DIR}`);
  }
  sharedDirReady = true;
}

/**
 * Create the named namespace NAME the way `ip netns add` does: a new network namespace for the
 * main thread, bind-mounted onto /run/netns/NAME, then back to vlannet's own namespace. While the
 * thread is still inside, `inside` runs (to open sockets there without entering again); its result
 * is returned with an fd on the new namespace (for setns and IFLA_NET_NS_FD) and the namespace's
 * inode. Throws SyscallError EEXIST when the name is taken. A stale file of that name (left by a
 * process killed between creating it and mounting on it) is mounted over, as iproute2 does.
 */
export function createNamedNetns<T>(name: string, inside: () => T): { fd: number; ino: number; value: T } {
  const path = netnsPath(name);
  ensureNetnsDir();
  try {
    fs.closeSync(fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o444));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || isNamespaceDev(fs.statSync(path).dev)) throw e;
  }
  const own = ownNetnsFd();
  let fd: number | null = null;
  let mounted = false;
  try {
    check(libc().unshare(CLONE_NEWNET), 'unshare', `CLONE_NEWNET for ${name}`);
    try {
      fd = fs.openSync('/proc/thread-self/ns/net', 'r');
      // `inside` first: what it does (vlannet marks the namespace as its own) is done before the
      // namespace has a name, so a named namespace is never unmarked, even if vlannet is killed.
      const value = inside();
      check(libc().mount(`/proc/thread-self/ns/net`, path, 'none', MS_BIND, null), 'mount', `--bind ${path}`);
      mounted = true;
      return { fd, ino: fs.fstatSync(fd).ino, value };
    } finally {
      returnHome(own);
    }
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    if (mounted) libc().umount2(path, MNT_DETACH);
    try {
      fs.unlinkSync(path);
    } catch {
      /* already gone */
    }
    throw e;
  }
}

/**
 * The same file as `fd`, under an fd Node does not know of; `fd` is closed. Node closes every fd a
 * worker thread opened through fs when that worker exits: an fd handed from a worker to the main
 * thread must not be one of those.
 */
export function untrackedFd(fd: number): number {
  const dup = libc().fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0);
  if (dup < 0) throw new SyscallError(errnoName(koffi.errno()), 'fcntl', `F_DUPFD_CLOEXEC ${fd}`);
  fs.closeSync(fd);
  return dup;
}

let nsfsDev: number | null = null;
/**
 * Whether a file with this st_dev is a namespace (nsfs), not a plain file: /run/netns/NAME is a
 * namespace only once the namespace is bind-mounted on it.
 */
export function isNamespaceDev(dev: number): boolean {
  nsfsDev ??= fs.statSync('/proc/self/ns/net').dev;
  return dev === nsfsDev;
}

/** Remove /run/netns/NAME the way `ip netns delete` does (lazy unmount, then unlink). */
export function deleteNamedNetns(name: string): void {
  const path = netnsPath(name);
  if (libc().umount2(path, MNT_DETACH) !== 0) {
    const code = errnoName(koffi.errno());
    // EINVAL: not a mount point (a stale file); still remove it below.
    if (code !== 'EINVAL') throw new SyscallError(code, 'umount2', path);
  }
  try {
    fs.unlinkSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new SyscallError(code, 'unlink', path);
  }
}

/** Names under /run/netns, sorted; [] when the directory does not exist. */
export function listNamedNetns(): string[] {
  try {
    return fs.readdirSync(NETNS_DIR).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

let mountinfo: number | null = null;
/**
 * Whether anything was mounted or unmounted in this process's mount namespace since the last call
 * (the first call opens the watch and says yes). The kernel flags a change of the mount table to
 * every open /proc/self/mountinfo, and a poll(2) both reads and clears the flag. Every named
 * namespace comes and goes by a mount on /run/netns (a shared mount, so namespaces made from other
 * mount namespaces show here too): no change, no namespace replaced under its name.
 */
export function mountsChanged(): boolean {
  if (mountinfo === null) {
    mountinfo = fs.openSync('/proc/self/mountinfo', 'r');
    return true;
  }
  try {
    return readyNow([mountinfo], POLLPRI, '/proc/self/mountinfo').size > 0;
  } catch {
    return true;
  }
}
