// Checks results, not only times: after each step the kernel must hold exactly the expected
// endpoints, each with its address and default route. Read over rtnetlink with the `netlink`
// package's own decoders (not vlannet's), one socket per namespace opened with setns here; `ip -j`
// cross-checks a sample of namespaces (all of them up to CROSS_CHECK namespaces), so the reader
// itself is checked against iproute2.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import koffi from 'koffi';
import { createRtNetlink, type RtNetlinkSocket } from 'netlink';
import { GATEWAY, IFNAME, PREFIX } from './workload.js';

const CLONE_NEWNET = 0x40000000;
const CROSS_CHECK = 25;
const libc = koffi.load('libc.so.6');
const setns = libc.func('int setns(int fd, int nstype)') as (fd: number, type: number) => number;

/** What one namespace holds on its endpoint link. */
export interface EndpointSeen {
  netns: string;
  kind: string | null;
  up: boolean;
  ipv4: string[];
  defaultVia: string[];
}

/**
 * `open()` run with this thread inside the named namespace, then back: a socket it opens stays
 * bound to that namespace. The bench's own setns, independent of vlannet's.
 */
export function openIn<T>(netns: string, open: () => T): T {
  const own = fs.openSync('/proc/self/ns/net', 'r');
  const fd = fs.openSync(`/run/netns/${netns}`, 'r');
  try {
    if (setns(fd, CLONE_NEWNET) !== 0) throw new Error(`setns ${netns} failed`);
    try {
      return open();
    } finally {
      if (setns(own, CLONE_NEWNET) !== 0) {
        // The bench would go on measuring in the wrong namespace: stop it here.
        process.stderr.write('bench: cannot return to the bench namespace\n');
        process.exit(1);
      }
    }
  } finally {
    fs.closeSync(fd);
    fs.closeSync(own);
  }
}

function socketIn(netns: string): RtNetlinkSocket {
  return openIn(netns, () => createRtNetlink());
}

const ipv4 = (b: Buffer | undefined) => (b && b.length === 4 ? [...b].join('.') : null);

/** Kind from IFLA_LINKINFO's IFLA_INFO_KIND (the first nested attribute). */
function kindOf(linkinfo: Buffer | undefined): string | null {
  if (!linkinfo || linkinfo.length < 4) return null;
  const len = linkinfo.readUInt16LE(0);
  if (linkinfo.readUInt16LE(2) !== 1) return null;
  return linkinfo.subarray(4, len).toString('utf8').replace(/\0+$/, '');
}

async function readNamespace(netns: string): Promise<EndpointSeen> {
  const rt = socketIn(netns);
  try {
    const links = await rt.getLinks();
    const link = links.find((l) => l.attrs.ifname === IFNAME);
    const seen: EndpointSeen = { netns, kind: null, up: false, ipv4: [], defaultVia: [] };
    if (!link) return seen;
    seen.kind = kindOf(link.attrs.linkinfo);
    seen.up = Boolean(link.data.flags?.up);
    const index = link.data.index;
    for (const a of await rt.getAddresses({ family: 2 })) {
      if (a.data.index === index) seen.ipv4.push(`${ipv4(a.attrs.local)}/${a.data.prefixlen}`);
    }
    for (const r of await rt.getRoutes({ family: 2 })) {
      if (r.attrs.table === 254 && r.data.dstLen === 0 && r.attrs.oif === index) seen.defaultVia.push(ipv4(r.attrs.gateway) ?? 'none');
    }
    return seen;
  } finally {
    rt.socket.close();
  }
}

export function namedNamespaces(): string[] {
  try {
    return fs.readdirSync('/run/netns').sort();
  } catch {
    return [];
  }
}

/** Every named namespace's endpoint, read at once. */
export async function readEndpoints(): Promise<Map<string, EndpointSeen>> {
  const names = namedNamespaces();
  const seen = await Promise.all(names.map(readNamespace));
  return new Map(seen.map((s) => [s.netns, s]));
}

/** The same facts from `ip -j`, for one namespace. */
function readWithIp(netns: string): EndpointSeen {
  const ip = (...args: string[]) => JSON.parse(execFileSync('ip', ['-n', netns, '-j', ...args], { encoding: 'utf8' }) || '[]');
  const [link] = ip('-d', 'link', 'show', 'dev', IFNAME) as { flags: string[]; linkinfo?: { info_kind: string } }[];
  const [addr] = ip('-4', 'addr', 'show', 'dev', IFNAME) as { addr_info: { local: string; prefixlen: number }[] }[];
  const routes = ip('-4', 'route', 'show', 'default', 'dev', IFNAME) as { gateway?: string }[];
  return {
    netns,
    kind: link?.linkinfo?.info_kind ?? null,
    up: link?.flags.includes('UP') ?? false,
    ipv4: (addr?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
    defaultVia: routes.map((r) => r.gateway ?? 'none'),
  };
}

/**
 * Compare the kernel with `expected` (namespace → IPv4 address). Returns the problems found
 * (empty: correct) and what was seen, so later steps can check that addresses stay put.
 */
export async function checkEndpoints(expected: Map<string, string>): Promise<{ problems: string[]; seen: Map<string, EndpointSeen> }> {
  const problems: string[] = [];
  const seen = await readEndpoints();
  for (const ns of seen.keys()) if (!expected.has(ns)) problems.push(`unexpected namespace ${ns}`);
  for (const [ns, address] of expected) {
    const s = seen.get(ns);
    if (!s) {
      problems.push(`namespace ${ns} missing`);
      continue;
    }
    const want: EndpointSeen = { netns: ns, kind: 'macvlan', up: true, ipv4: [`${address}/${PREFIX}`], defaultVia: [GATEWAY] };
    if (JSON.stringify(s) !== JSON.stringify(want))
      problems.push(`${ns}: expected ${JSON.stringify(want)}, kernel has ${JSON.stringify(s)}`);
  }
  // The reader above against iproute2's own view.
  const names = [...seen.keys()];
  const sample =
    names.length <= CROSS_CHECK
      ? names
      : Array.from({ length: CROSS_CHECK }, (_, k) => names[Math.floor((k * names.length) / CROSS_CHECK)]!);
  for (const ns of sample) {
    const byIp = readWithIp(ns);
    if (JSON.stringify(byIp) !== JSON.stringify(seen.get(ns)))
      problems.push(`${ns}: ip -j says ${JSON.stringify(byIp)}, the netlink reader ${JSON.stringify(seen.get(ns))}`);
  }
  // Exactly N endpoint links: count the macvlans on the parent's side too (none may be left in our namespace).
  const strays = (
    JSON.parse(execFileSync('ip', ['-j', '-d', 'link', 'show', 'type', 'macvlan'], { encoding: 'utf8' }) || '[]') as unknown[]
  ).length;
  if (strays > 0) problems.push(`${strays} macvlan link(s) left in the sandbox's own namespace`);
  return { problems, seen };
}
