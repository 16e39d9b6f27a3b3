// `vlannet show`: what vlannet owns in the kernel, for people, as the ObservedState JSON that
// `plan --observed` reads back, or (--as-config) as the config file that reproduces it.

import { hostAddressOn, networkOf } from '../model/address.js';
import { ownerOf } from '../model/owner.js';
import { routeText } from '../plan/describe.js';
import type { Kernel, LinkState, ObservedState } from '../model/types.js';
import { openKernel } from '../kernel/open.js';
import { EXIT, type ShowOptions } from './program.js';
import { document, err, out, printJson } from './output.js';
import { configFile } from './files.js';
import { formatDiagnostic, UsageError } from '../errors.js';
import { hostIdentity } from './identity.js';

export async function showCommand(o: ShowOptions): Promise<number> {
  if (o.asConfig) return showAsConfig(o);
  const keep = await linkFilter(o);
  const named = o.json && keep === null ? await linksTheConfigNames(o) : new Set<string>();
  const kernel: Kernel = await openKernel();
  let state: ObservedState;
  try {
    state = ownedView(await kernel.observe((o.netns ?? []).filter((n) => n !== 'host')), keep, named);
  } finally {
    kernel.close();
  }
  if (o.json) {
    const { format_version: _, ...data } = state;
    printJson(document('show', data));
  } else out(renderShow(state, keep !== null));
  return 0;
}

/**
 * The owned links the filters select, or null for all: --netns by namespace (`host`: vlannet's own),
 * --endpoint by the name in the owner mark, --network by the file's endpoints of that network and
 * its dummy parent (the kernel does not record networks).
 */
async function linkFilter(o: ShowOptions): Promise<((l: LinkState) => boolean) | null> {
  const tests: ((l: LinkState) => boolean)[] = [];
  if (o.netns?.length) {
    const ns = new Set(o.netns.map((n) => (n === 'host' ? null : n)));
    tests.push((l) => ns.has(l.netns));
  }
  if (o.endpoint?.length) {
    const names = new Set(o.endpoint);
    tests.push((l) => {
      const m = ownerOf(l);
      return m?.role === 'endpoint' && names.has(m.name);
    });
  }
  if (o.network?.length) {
    const file = await configFile(o.file);
    const { readConfig } = await import('../config/load.js');
    const { config } = readConfig(file, hostIdentity(o));
    if (!config)
      throw new UsageError(
        `--network needs a valid config to know which endpoints a network has: ${file} is not (vlannet validate -f ${file})`,
      );
    const unknown = o.network.filter((n) => !config.networks.some((net) => net.name === n));
    if (unknown.length) throw new UsageError(`no network ${unknown.join(', ')} in ${file}`);
    const wanted = new Set(o.network);
    const endpoints = new Set(config.endpoints.filter((e) => wanted.has(e.network)).map((e) => e.name));
    tests.push((l) => {
      const m = ownerOf(l);
      return (m?.role === 'endpoint' && endpoints.has(m.name)) || ((m?.role === 'dummy' || m?.role === 'shim') && wanted.has(m.name));
    });
  }
  return tests.length ? (l) => tests.every((t) => t(l)) : null;
}

/**
 * What vlannet owns, plus the parents its links hang from and the links of its own namespace named
 * `named` (so `plan --observed` can read it back).
 */
export function ownedView(
  state: ObservedState,
  select: ((l: LinkState) => boolean) | null = null,
  named: ReadonlySet<string> = new Set(),
): ObservedState {
  const owned = state.links.filter((l) => ownerOf(l) !== null && (select === null || select(l)));
  const parents = new Set(owned.map((l) => l.parent).filter((p): p is string => p !== null));
  const ownedSet = new Set(owned);
  const links = state.links.filter((l) => ownedSet.has(l) || (l.netns === null && (parents.has(l.name) || named.has(l.name))));
  const key = (netns: string | null, name: string) => `${netns ?? ''}/${name}`;
  const ownedKeys = new Set(owned.map((l) => key(l.netns, l.name)));
  const keep = new Set(links.map((l) => key(l.netns, l.name)));
  const usedNs = new Set(owned.map((l) => l.netns));
  return {
    format_version: state.format_version,
    namespaces: state.namespaces.filter((n) => (select === null && n.owned) || usedNs.has(n.name)),
    links,
    addresses: state.addresses.filter((a) => keep.has(key(a.netns, a.link))),
    routes: state.routes.filter((r) => ownedKeys.has(key(r.netns, r.dev))),
  };
}

/**
 * The links of vlannet's own namespace the config (resolved for this host, or --host) names: the
 * parents of its networks and vlans, its vlan links, its links there. `show --json` includes them,
 * so that `plan --observed` on its output works for a host where nothing is applied yet (whose
 * parents no owned link hangs from). None when no valid config can be read: show needs none.
 */
async function linksTheConfigNames(o: ShowOptions): Promise<Set<string>> {
  const names = new Set<string>();
  try {
    const file = await configFile(o.file);
    const { readConfig } = await import('../config/load.js');
    const { config } = readConfig(file, hostIdentity(o));
    if (!config) return names;
    for (const n of config.networks) {
      if (n.parentKind !== 'dummy') names.add(n.parent);
      if (n.hostAccess) names.add(n.hostAccess.ifname);
    }
    for (const v of config.vlans) names.add(v.name).add(v.parent);
    for (const e of config.endpoints) if (e.netns === null) names.add(e.ifname);
  } catch {
    // no config to read, or a daemon that cannot be asked: what vlannet owns is all there is to show
  }
  return names;
}

function renderShow(state: ObservedState, filtered: boolean): string {
  const lines: string[] = [];
  const byNs = new Map<string | null, ObservedState['links']>();
  for (const l of state.links) byNs.set(l.netns, [...(byNs.get(l.netns) ?? []), l]);
  const owned = state.links.filter((l) => ownerOf(l) !== null);
  if (owned.length === 0) return filtered ? 'vlannet owns nothing in the kernel that matches.' : 'vlannet owns nothing in the kernel.';
  for (const [netns, links] of [...byNs].sort(([a], [b]) => (a ?? '').localeCompare(b ?? ''))) {
    const ns = state.namespaces.find((n) => n.name === netns);
    lines.push(netns === null ? 'host namespace' : `netns ${netns}${ns?.owned ? ' (created by vlannet)' : ''}`);
    for (const l of links) {
      const mark = ownerOf(l);
      const what = [l.kind || 'device', l.mode, l.flag, l.vlanId !== undefined ? `id ${l.vlanId}` : undefined].filter(Boolean).join(' ');
      const addrs = state.addresses.filter((a) => a.netns === netns && a.link === l.name).map((a) => `${a.address}/${a.prefixLength}`);
      lines.push(
        `  ${l.name}${l.parent ? `@${l.parent}` : ''}  ${what}  mtu ${l.mtu}  ${l.up ? 'up' : 'DOWN'}  ${mark ? `${mark.role} ${mark.name}` : "(parent, not vlannet's)"}${addrs.length ? `  ${addrs.join(' ')}` : ''}`,
      );
      for (const r of state.routes.filter((r) => r.netns === netns && r.dev === l.name)) {
        lines.push(`    route ${routeText(r)}`);
      }
    }
  }
  const upstream = upstreamFromKernel(state);
  if (upstream.length) {
    lines.push('', 'ipvlan l3 networks: upstream routers need these routes (vlannet does not distribute them):');
    for (const u of upstream) lines.push(`  ip route add ${u.subnet} via ${u.via ?? `<this host's address on ${u.parent}>`}`);
  }
  return lines.join('\n');
}

/** For owned ipvlan l3/l3s endpoints: the subnets of their addresses, via the host's address on the parent. */
function upstreamFromKernel(state: ObservedState): { subnet: string; via: string | null; parent: string }[] {
  const seen = new Map<string, { subnet: string; via: string | null; parent: string }>();
  for (const l of state.links) {
    if (l.kind !== 'ipvlan' || (l.mode !== 'l3' && l.mode !== 'l3s') || !ownerOf(l) || !l.parent) continue;
    for (const a of state.addresses.filter((x) => x.netns === l.netns && x.link === l.name)) {
      const subnet = networkOf(a.address, a.prefixLength);
      seen.set(subnet, { subnet, via: hostAddressOn(state.addresses, l.parent, a.family), parent: l.parent });
    }
  }
  return [...seen.values()];
}

// --- --as-config (the file itself: as-config.ts, loaded only here) ------------------------------

/**
 * `show --as-config`: the file that reproduces what vlannet owns, on stdout; on stderr what it
 * cannot reproduce. Exit 1 when applying the file would change the kernel (it is printed all the
 * same, with comments saying where), so that a script never commits such a file unawares.
 */
async function showAsConfig(o: ShowOptions): Promise<number> {
  if (o.json) throw new UsageError('--as-config prints a config file, not JSON: give one of --as-config and --json');
  if (o.netns?.length || o.network?.length || o.endpoint?.length)
    throw new UsageError(
      '--as-config writes everything vlannet owns (applying a file with less would delete the rest): it takes no --netns, --network or --endpoint',
    );
  const kernel: Kernel = await openKernel();
  let state: ObservedState;
  try {
    state = await kernel.observe([]);
  } finally {
    kernel.close();
  }
  const adopted = await (await import('./as-config.js')).configFromKernel(state);
  out(adopted.text);
  for (const d of adopted.warnings) err(formatDiagnostic(d));
  if (adopted.pending.length === 0) return EXIT.ok;
  err(`error: applying this file would still change the kernel:\n${adopted.pending.map((p) => `  ${p}`).join('\n')}`);
  return EXIT.error;
}
