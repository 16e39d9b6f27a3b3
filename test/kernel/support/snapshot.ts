// Byte-for-byte pictures of links vlannet must never change, taken with iproute2 (not with
// vlannet's own decoder): `ip -d -j link show dev X`, its addresses, and every route through it in
// every table, IPv4 and IPv6.

import { run } from './sh.js';

export interface Snapshot {
  link: string;
  addresses: string;
  routes4: string;
  routes6: string;
}

function ipOut(netns: string | null, args: string[]): string {
  const r = run('ip', [...(netns ? ['-n', netns] : []), ...args]);
  // A link that is gone is part of the picture, not an error.
  return r.status === 0 ? r.stdout : `exit ${r.status}: ${r.stderr.trim()}`;
}

export function snapshot(dev: string, netns: string | null = null): Snapshot {
  return {
    link: ipOut(netns, ['-d', '-j', 'link', 'show', 'dev', dev]),
    addresses: ipOut(netns, ['-j', 'addr', 'show', 'dev', dev]),
    routes4: ipOut(netns, ['-4', '-j', 'route', 'show', 'table', 'all', 'dev', dev]),
    routes6: ipOut(netns, ['-6', '-j', 'route', 'show', 'table', 'all', 'dev', dev]),
  };
}

/** Snapshots of several links of one namespace, keyed by name. */
export function snapshotAll(devs: string[], netns: string | null = null): Record<string, Snapshot> {
  return Object.fromEntries(devs.map((d) => [d, snapshot(d, netns)]));
}

/**
 * The same pictures without the two counters the kernel keeps on a lower device for its upper
 * devices: `promiscuity` and `allmulti` go up by one while a macvlan hangs from a link (measured in
 * Linux 6.1: a macvlan child makes a veth parent `"promiscuity":1`; ipvlan l3 and vlan children do
 * not). They are references held by the children, not the parent's configuration; compare with
 * this only while vlannet's children exist, and byte-for-byte once they are gone.
 */
export function withoutChildCounters(s: Record<string, Snapshot>): Record<string, Snapshot> {
  const mask = (text: string) => text.replace(/"(promiscuity|allmulti)":\d+/g, '"$1":"*"');
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, { ...v, link: mask(v.link) }]));
}

/** Everything in one namespace, for "the kernel is exactly as before": links, addresses, routes, namespaces. */
export function snapshotNamespace(netns: string | null = null): Record<string, string> {
  return {
    links: ipOut(netns, ['-d', '-j', 'link', 'show']),
    addresses: ipOut(netns, ['-j', 'addr', 'show']),
    routes4: ipOut(netns, ['-4', '-j', 'route', 'show', 'table', 'all']),
    routes6: ipOut(netns, ['-6', '-j', 'route', 'show', 'table', 'all']),
    // `(id: N)` is the peer id the kernel assigns once a link points across: not part of the set.
    namespaces: netns
      ? ''
      : run('ip', ['netns', 'list'])
          .stdout.replace(/ \(id: \d+\)/g, '')
          .split('\n')
          .sort()
          .join('\n'),
  };
}

/**
 * snapshotNamespace of vlannet's namespace and of every named namespace: the whole world a test
 * sees; without operstate, which the kernel moves by itself a moment after a link comes up.
 */
export function snapshotWorld(): Record<string, Record<string, string>> {
  const names = run('ip', ['netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean)
    .sort();
  const mask = (s: Record<string, string>) =>
    Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.replace(/"operstate":"[A-Z]+"/g, '"operstate":"*"')]));
  return Object.fromEntries([['(vlannet)', mask(snapshotNamespace())], ...names.map((n) => [n, mask(snapshotNamespace(n))])]);
}
