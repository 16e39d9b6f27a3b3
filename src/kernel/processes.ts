// Which processes live in which network namespace, from /proc: each process's /proc/PID/ns/net
// names its namespace by inode (`net:[4026532123]`), and /run/netns/NAME, a bind mount of the
// namespace, has that inode too. vlannet uses it twice:
//   - before it removes or replaces an endpoint in a namespace, to refuse (or, forced, to take the
//     endpoint's link away first) while a process still uses the namespace: deleting
//     /run/netns/NAME only drops the name, and the process would keep the link, with its address,
//     live on the LAN;
//   - to find such orphans that exist already (a namespace someone deleted while a process used
//     it), whose vlannet links still hold addresses that must not be handed out again.

import fs from 'node:fs';
import type { NamespaceUser } from '../model/types.js';
import { NETNS_DIR } from './netns.js';

/** Every other process's network namespace inode, by pid. */
export function netnsOfProcesses(): Map<number, number> {
  const out = new Map<number, number>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/${entry}/ns/net`);
    } catch {
      continue; // gone, or a kernel thread
    }
    const ino = Number(target.slice(5, -1)); // net:[INODE]
    if (Number.isSafeInteger(ino)) out.set(pid, ino);
  }
  return out;
}

/** The process's command name (/proc/PID/comm), or '?' once it is gone. */
export function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/** The inode of the namespace bound at /run/netns/NAME, or null when there is none. */
export function namedNetnsInode(name: string): number | null {
  try {
    return fs.statSync(`${NETNS_DIR}/${name}`).ino;
  } catch {
    return null;
  }
}

/** The processes in each of the named namespaces (those with none are left out). */
export function usersOf(names: readonly string[]): Map<string, NamespaceUser[]> {
  const wanted = new Map<number, string>();
  for (const name of names) {
    const ino = namedNetnsInode(name);
    if (ino !== null) wanted.set(ino, name);
  }
  const out = new Map<string, NamespaceUser[]>();
  if (wanted.size === 0) return out;
  for (const [pid, ino] of netnsOfProcesses()) {
    const name = wanted.get(ino);
    if (name === undefined) continue;
    const list = out.get(name) ?? [];
    list.push({ pid, command: commandOf(pid) });
    out.set(name, list);
  }
  return out;
}
