// Orphans: namespaces vlannet made whose name is gone (someone ran `ip netns del` while a process
// still used them) but which live on in their processes, with vlannet's endpoint links up and
// their addresses on the LAN. vlannet cannot see them through /run/netns; /proc shows them. Each
// namespace of another process that is neither vlannet's own nor a named one is looked at once:
// a namespace vlannet made carries its mark on the loopback (lo is index 1 in every namespace).
// One still bound at a path in another mount namespace (another vlannet's /run/netns) is not lost.

import fs from 'node:fs';
import { isNetnsMark, parseMark } from '../model/owner.js';
import type { AddressState, LinkState, OrphanNamespace } from '../model/types.js';
import { decodeAddress, decodeLink } from './decode.js';
import { RtnlHandle } from './handle.js';
import { AF_UNSPEC, IFLA, ifaddrmsg, ifinfomsg, RT_SCOPE, RTEXT_FILTER_SKIP_STATS, RTM } from './messages.js';
import { listNamedNetns } from './netns.js';
import { openRequestSocket } from './sockets.js';
import { AttrWriter } from './nlattr.js';
import { commandOf, namedNetnsInode, netnsOfProcesses } from './processes.js';
import { NetlinkError } from '../errors.js';

const LOOPBACK = Buffer.concat([ifinfomsg({ index: 1 }), new AttrWriter().u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS).toBuffer()]);
const LINK_DUMP = Buffer.concat([ifinfomsg(), new AttrWriter().u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS).toBuffer()]);
const ADDRESS_DUMP = ifaddrmsg({ family: AF_UNSPEC, prefixlen: 0, flags: 0, scope: 0, index: 0 });
const NETNS_MARK = /^vlannet:netns\/(\S+)$/;

export class OrphanFinder {
  /** Namespaces (by inode) looked at already and found not to be vlannet's: not looked at again. */
  private readonly notOurs = new Set<number>();
  private own: number | null = null;

  find(): OrphanNamespace[] {
    // Usually every process is in vlannet's own namespace or one looked at before: one readlink
    // per process, and nothing more. The named namespaces are looked up only when one is not.
    this.own ??= fs.statSync('/proc/thread-self/ns/net').ino;
    const byInode = new Map<number, number[]>();
    for (const [pid, ino] of netnsOfProcesses()) {
      if (ino === this.own || this.notOurs.has(ino)) continue;
      byInode.set(ino, [...(byInode.get(ino) ?? []), pid]);
    }
    if (byInode.size === 0) return [];
    for (const name of listNamedNetns()) {
      const ino = namedNetnsInode(name);
      if (ino !== null) byInode.delete(ino);
    }
    const found = new Map<number, Omit<OrphanNamespace, 'users'>>();
    for (const [ino, pids] of byInode) {
      const f = this.look(pids[0]!);
      if (f === null) {
        if (this.notOurs.size >= 10_000) this.notOurs.clear(); // containers come and go
        this.notOurs.add(ino);
      } else if (f !== 'gone') found.set(ino, f);
    }
    if (found.size === 0) return [];
    // Bound at a path in another mount namespace (a container's /run/netns, say) is not an orphan.
    const bound = boundElsewhere(new Set(found.keys()));
    return [...found]
      .filter(([ino]) => !bound.has(ino))
      .map(([ino, f]) => ({ ...f, users: byInode.get(ino)!.map((pid) => ({ pid, command: commandOf(pid) })) }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** The orphan in the namespace of `pid`; null when it is not vlannet's, 'gone' when the process went. */
  private look(pid: number): Omit<OrphanNamespace, 'users'> | null | 'gone' {
    let fd: number;
    try {
      fd = fs.openSync(`/proc/${pid}/ns/net`, 'r');
    } catch {
      return 'gone';
    }
    let h: RtnlHandle | null = null;
    try {
      const sockets = openRequestSocket(fd, `the namespace of pid ${pid}`);
      h = new RtnlHandle(`pid ${pid}`, fd, sockets);
      const [lo] = h.request(RTM.GETLINK, LOOPBACK);
      const alias = lo ? decodeLink(lo).alias : null;
      const name = alias ? NETNS_MARK.exec(alias)?.[1] : undefined;
      if (!name || !isNetnsMark(alias, name)) return null;
      const links = h.dump(RTM.GETLINK, LINK_DUMP, decodeLink).filter((l) => parseMark(l.alias)?.role === 'endpoint');
      const names = new Map(links.map((l) => [l.index, l.name]));
      const addresses: AddressState[] = h.dump(RTM.GETADDR, ADDRESS_DUMP, decodeAddress).flatMap((a) => {
        const link = names.get(a.index);
        return link === undefined || (a.family === 6 && a.scope === RT_SCOPE.LINK)
          ? []
          : [{ netns: name, link, family: a.family, address: a.address, prefixLength: a.prefixLength }];
      });
      const states: LinkState[] = links.map((l) => ({
        netns: name,
        name: l.name,
        index: l.index,
        kind: l.kind,
        parent: null,
        mtu: l.mtu,
        mac: l.mac,
        up: l.up,
        alias: l.alias,
      }));
      return { name, links: states, addresses };
    } catch (e) {
      if (e instanceof NetlinkError || (e as NodeJS.ErrnoException).code) return 'gone';
      throw e;
    } finally {
      h?.close();
      fs.closeSync(fd);
    }
  }
}

/**
 * Which of these namespaces are bind-mounted somewhere, in any mount namespace: nsfs mounts in
 * /proc/PID/mountinfo, read once per mount namespace (their root field is `net:[INODE]`).
 */
function boundElsewhere(inodes: ReadonlySet<number>): Set<number> {
  const bound = new Set<number>();
  const seen = new Set<string>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let mnt: string;
    let info: string;
    try {
      mnt = fs.readlinkSync(`/proc/${entry}/ns/mnt`);
      if (seen.has(mnt)) continue;
      info = fs.readFileSync(`/proc/${entry}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    seen.add(mnt);
    for (const m of info.matchAll(/ net:\[(\d+)\] /g)) {
      const ino = Number(m[1]);
      if (inodes.has(ino)) bound.add(ino);
    }
  }
  return bound;
}
