// One file for a fleet: `hosts:` entries add vlans, networks and endpoints to the hosts they apply
// to. What a host is (HostIdentity), which entries apply to it, which host configurations
// `validate` checks when no host is named, how a diagnostic says which hosts it concerns, and the
// rules between hosts (addresses on a wire they share). load.ts resolves and checks each host.
//
// Semantics, as the schema's descriptions say them (schema.ts):
// - An entry without `match:` applies to the host whose name is its key. An entry with `match:`
//   applies only by it (its key just names the group): to a host whose name is one of
//   match.hostname, OR whose machine id is one of match.machine_id, OR that has every label of
//   match.labels with that value.
// - A host gets the shared vlans, networks and endpoints plus those of every entry that applies to
//   it. Names are unique across the whole file, so no two objects ever merge.

import { canonical, type Cidr, overlap, parseAddress, parseCidr, within } from '../model/address.js';
import type { Diagnostic, Family } from '../model/types.js';
import type { YamlPath } from './locate.js';
import type { Input } from './normalise.js';
import type { NetworkInput } from './schema.js';

/** Who a host is, as far as `hosts:` entries can tell. */
export interface HostIdentity {
  /** The host name as the kernel reports it (`uname -n`, os.hostname()), whole. */
  name: string;
  /** /etc/machine-id in lower case; null when unknown (unreadable, or planning for another host). */
  machineId: string | null;
  /** Labels given on the command line (`--label KEY=VALUE`). */
  labels: Record<string, string>;
}

/** The sections a host entry adds to, as the shared ones. */
export const SECTIONS = ['vlans', 'networks', 'endpoints'] as const;
export type Section = (typeof SECTIONS)[number];

/** A `match:` as written (when it passed the schema): names, machine ids in lower case, labels. */
export interface HostMatch {
  hostnames: string[];
  machineIds: string[];
  labels: Record<string, string>;
}

/** One entry of `hosts:`, as far as it passed the schema. */
export interface HostEntry {
  key: string;
  /** null: no `match:` (the entry is for the host named `key`); 'invalid': a `match:` the schema refused (it applies to no host). */
  match: HostMatch | null | 'invalid';
  /** Its objects that passed the schema and do not repeat a name written before them. */
  input: Input;
  /** Every network name it writes, valid or not (an endpoint of a broken network is not "unknown"). */
  writtenNetworks: string[];
  /** Its ip_ranges that passed the schema, by network: each CIDR with the path it is written at. */
  ranges: Array<{ network: string; cidr: string; path: YamlPath }>;
}

/** Whether `entry` applies to the host `identity`. */
export function applies(entry: HostEntry, identity: HostIdentity): boolean {
  const m = entry.match;
  if (m === null) return entry.key === identity.name;
  if (m === 'invalid') return false;
  if (m.hostnames.includes(identity.name)) return true;
  if (identity.machineId !== null && m.machineIds.includes(identity.machineId.toLowerCase())) return true;
  const labels = Object.entries(m.labels);
  return labels.length > 0 && labels.every(([k, v]) => Object.hasOwn(identity.labels, k) && identity.labels[k] === v);
}

/** The identity in words, for messages: `name "web-1", machine id unknown, labels rack=a`. */
export function identityText(identity: HostIdentity): string {
  const labels = Object.entries(identity.labels).map(([k, v]) => `${k}=${v}`);
  return `name ${JSON.stringify(identity.name)}, machine id ${identity.machineId ?? 'unknown'}, labels ${labels.length ? labels.join(', ') : 'none'}`;
}

// --- the host configurations `validate` checks without --host -----------------------------------

/**
 * One host configuration: a host known by name (`host`: every entry that applies to a host of that
 * name, without machine id or labels), a group that can apply to hosts the file does not name
 * (`group`, by machine id or labels: the shared sections and that entry alone), or a host no entry
 * applies to (`shared`).
 */
export interface HostCheck {
  kind: 'host' | 'group' | 'shared';
  /** The host name, or the group's entry key ('' for `shared`). */
  name: string;
  /** The entries that apply, in file order. */
  entries: HostEntry[];
  /** A group that can stand for several hosts (by labels, or by more than one machine id). */
  several: boolean;
}

/**
 * Every host configuration the file can be asked for, as far as it can know without the hosts: each
 * host it names (entry keys without match, names in match.hostname), each entry that matches by
 * machine id or labels (alone: which hosts have which labels is not in the file), and a host no
 * entry applies to.
 */
export function hostChecks(entries: readonly HostEntry[]): HostCheck[] {
  const names: string[] = [];
  const add = (name: string) => {
    if (!names.includes(name)) names.push(name);
  };
  for (const e of entries) {
    if (e.match === null) add(e.key);
    else if (e.match !== 'invalid') e.match.hostnames.forEach(add);
  }
  const checks: HostCheck[] = names.map((name) => ({
    kind: 'host',
    name,
    entries: entries.filter((e) => applies(e, { name, machineId: null, labels: {} })),
    several: false,
  }));
  for (const e of entries) {
    if (e.match === null) continue;
    const labels = e.match === 'invalid' || Object.keys(e.match.labels).length > 0;
    const ids = e.match === 'invalid' ? 0 : e.match.machineIds.length;
    if (labels || ids > 0) checks.push({ kind: 'group', name: e.key, entries: [e], several: labels || ids > 1 });
  }
  checks.push({ kind: 'shared', name: '', entries: [], several: true });
  return checks;
}

/** Which hosts, in words: `host web-1`, `hosts db-1, db-2 and hosts matching rack-b`, `hosts no entry applies to`. */
export function hostsText(checks: ReadonlyArray<Pick<HostCheck, 'kind' | 'name'>>): string {
  const names = checks.filter((c) => c.kind === 'host').map((c) => c.name);
  const groups = checks.filter((c) => c.kind === 'group').map((c) => c.name);
  const parts: string[] = [];
  const few = (xs: string[]) => (xs.length > 6 ? `${xs.slice(0, 5).join(', ')} and ${xs.length - 5} more` : xs.join(', '));
  if (names.length) parts.push(`${names.length === 1 ? 'host' : 'hosts'} ${few(names)}`);
  if (groups.length) parts.push(`hosts matching ${few(groups)}`);
  if (checks.some((c) => c.kind === 'shared')) parts.push('hosts no entry applies to');
  return parts.join(' and ');
}

/**
 * The diagnostics of several host configurations as one list: each once, and those that do not
 * concern every configuration checked end with the hosts they concern, `(host web-1)`.
 */
export function perHost<C extends Pick<HostCheck, 'kind' | 'name'>>(
  results: ReadonlyArray<{ check: C; diagnostics: readonly Diagnostic[] }>,
): Diagnostic[] {
  const found = new Map<string, { d: Diagnostic; checks: C[] }>();
  for (const { check, diagnostics } of results) {
    for (const d of diagnostics) {
      const key = `${d.severity}\0${d.at}\0${d.path}\0${d.message}`;
      const seen = found.get(key);
      if (!seen) found.set(key, { d, checks: [check] });
      else if (!seen.checks.includes(check)) seen.checks.push(check);
    }
  }
  return [...found.values()].map(({ d, checks }) =>
    checks.length === results.length ? d : { ...d, message: `${d.message} (${hostsText(checks)})` },
  );
}

// --- per-host address ranges ----------------------------------------------------------------------

/** The subnets of a network as written, parsed (those that parse), with their index. */
function subnetsOf(n: NetworkInput): Array<{ index: number; cidr: Cidr }> {
  return (n.subnets ?? []).flatMap((s, index) => {
    const p = parseCidr(s.subnet);
    return p.ok ? [{ index, cidr: p.ok }] : [];
  });
}

/**
 * An entry's ip_ranges CIDR for a network: the range, and the index of the subnet whose ip_range it
 * replaces (the network's first of its family, where automatic addresses come from), or why not.
 */
export function rangeOverride(network: string, n: NetworkInput, written: string): { range: Cidr; index: number } | { error: string } {
  const parsed = parseCidr(written);
  if (parsed.error !== null) return { error: parsed.error };
  const range = parsed.ok;
  const first = subnetsOf(n).find((s) => s.cidr.family === range.family);
  if (!first) return { error: `network ${JSON.stringify(network)} has no IPv${range.family} subnet for the range ${range.text}` };
  if (!within(range.net, first.cidr))
    return {
      error: `range ${range.text} is outside ${first.cidr.text}, the first IPv${range.family} subnet of network ${JSON.stringify(network)} (automatic addresses come from it)`,
    };
  return { range, index: first.index };
}

// --- between hosts --------------------------------------------------------------------------------

/** One host configuration as checked: its objects (with its ip_ranges in place), and where each is written. */
export interface ResolvedHost {
  check: HostCheck;
  input: Input;
  /** The written path of a path the rules use (`endpoints.web1` → `hosts.web-1.endpoints.web1`). */
  real(path: YamlPath): YamlPath;
}

export interface CrossHostContext {
  /** The shared networks (only a shared network is known to be the same wire on every host). */
  shared: Input;
  hosts: readonly ResolvedHost[];
  /** Where a path is written (FILE:LINE:COLUMN). */
  at(path: YamlPath, key?: boolean): string;
  error(path: YamlPath, message: string, key?: boolean): void;
  warn(path: YamlPath, message: string, key?: boolean): void;
}

const FAMILY_KEY = { 4: 'ipv4', 6: 'ipv6' } as const;
const q = (s: string) => JSON.stringify(s);
const pathKey = (path: YamlPath) => path.map(String).join('\0');

/** A check that can stand for several hosts the file does not name (a group by labels, or by more than one machine id). */
const several = (c: HostCheck) => c.kind !== 'host' && c.several;

/**
 * Addresses on a wire hosts share: a shared network with a parent (internal ones are each host's
 * own). Compared across the host configurations checked, hosts the file names and groups by
 * machine id or labels (hosts no entry applies to are not counted: the file cannot say how many
 * there are). A static address two named hosts would both have is an error; one where a group is
 * involved a warning (it may match one host only). Automatic addresses that two hosts allocate
 * from overlapping pools are a warning: each host allocates on its own, lowest free first, so they
 * would pick the same ones.
 */
export function crossHostRules(ctx: CrossHostContext): void {
  const hosts = ctx.hosts.filter((h) => h.check.kind !== 'shared');
  for (const [name, n] of Object.entries(ctx.shared.networks)) {
    if (n.parent === undefined || n.internal === true) continue;
    for (const family of [4, 6] as Family[]) {
      if (!subnetsOf(n).some((s) => s.cidr.family === family)) continue;
      staticAcrossHosts(ctx, hosts, name, n.parent, family);
      automaticAcrossHosts(ctx, hosts, name, family);
    }
  }
}

/** A static address, canonical, when it lies in one of the network's subnets (else the host's own rules say why). */
function staticOf(written: string | undefined, family: Family, n: NetworkInput): string | null {
  if (written === undefined) return null;
  const parsed = parseAddress(written, family);
  return parsed.ok && subnetsOf(n).some((s) => within(parsed.ok, s.cidr)) ? canonical(parsed.ok) : null;
}

interface Holder {
  path: YamlPath;
  what: string;
  hosts: HostCheck[];
}

function staticAcrossHosts(ctx: CrossHostContext, hosts: readonly ResolvedHost[], network: string, parent: string, family: Family): void {
  const key = FAMILY_KEY[family];
  const byAddress = new Map<string, Map<string, Holder>>(); // address → written path → holder
  for (const h of hosts) {
    const n = h.input.networks[network]!;
    const found: Array<[YamlPath, string, string | null]> = [];
    if (typeof n.host_access === 'object')
      found.push([
        ['networks', network, 'host_access', key],
        `the host access of network ${q(network)}`,
        staticOf(n.host_access[key], family, n),
      ]);
    for (const [e, input] of Object.entries(h.input.endpoints))
      if (input.network === network) found.push([['endpoints', e, key], `endpoint ${q(e)}`, staticOf(input[key], family, n)]);
    for (const [path, what, address] of found) {
      if (address === null) continue;
      const real = h.real(path);
      const holders = byAddress.get(address) ?? new Map<string, Holder>();
      byAddress.set(address, holders);
      const holder = holders.get(pathKey(real)) ?? { path: real, what, hosts: [] };
      holders.set(pathKey(real), holder);
      holder.hosts.push(h.check);
    }
  }
  const wire = `on network ${q(network)}, whose parent ${q(parent)} the hosts share`;
  for (const [address, holders] of byAddress) {
    const [first, ...rest] = holders.values();
    if (!first) continue;
    for (const holder of [first, ...rest]) {
      // One object on several hosts: a shared endpoint, a group's.
      if (holder.hosts.length < 2 && !holder.hosts.some(several)) continue;
      const named = holder.hosts.filter((c) => !several(c)).length;
      (named > 1 ? ctx.error : ctx.warn)(
        holder.path,
        `${key} ${q(address)} of ${holder.what} is on ${hostsText(holder.hosts)}, ${wire}: ${named > 1 ? 'an address must answer once on a wire' : 'if those are more than one host, the address answers twice on the wire'}; give each host its own address, in its own entry`,
      );
    }
    for (const other of rest) {
      const pairs = other.hosts.flatMap((b) => first.hosts.filter((a) => a !== b).map((a) => [a, b] as const));
      if (pairs.length === 0) continue; // one host holds both: its own rules say so
      const report = pairs.some(([a, b]) => !several(a) && !several(b)) ? ctx.error : ctx.warn;
      report(
        other.path,
        `${key} ${q(address)} of ${other.what} (${hostsText(other.hosts)}) is already ${first.what}'s on ${hostsText(first.hosts)} (${ctx.at(first.path)}), ${wire}: an address must answer once on a wire`,
      );
    }
  }
}

function automaticAcrossHosts(ctx: CrossHostContext, hosts: readonly ResolvedHost[], network: string, family: Family): void {
  const key = FAMILY_KEY[family];
  interface Allocator {
    host: ResolvedHost;
    pool: Cidr;
    /** The written path and words of its first object with an automatic address there. */
    path: YamlPath;
    what: string;
  }
  const allocators: Allocator[] = [];
  for (const h of hosts) {
    const n = h.input.networks[network]!;
    const first = subnetsOf(n).find((s) => s.cidr.family === family)!;
    const written = n.subnets?.[first.index]?.ip_range;
    const range = written === undefined ? null : parseCidr(written).ok;
    const pool = range && range.family === family && within(range.net, first.cidr) ? range : first.cidr;
    const access = n.host_access;
    const automatic: Array<[YamlPath, string]> = [];
    if (access === true || (typeof access === 'object' && access[key] === undefined))
      automatic.push([['networks', network, 'host_access'], `the host access of network ${q(network)}`]);
    for (const [e, input] of Object.entries(h.input.endpoints))
      if (input.network === network && input[key] === undefined) automatic.push([['endpoints', e], `endpoint ${q(e)}`]);
    const [path, what] = automatic[0] ?? [];
    if (path) allocators.push({ host: h, pool, path: h.real(path), what: what! });
  }
  // Said once at each place where a clashing host's first automatic object is written (a shared
  // endpoint, most often), naming the hosts whose pools overlap there, by pool.
  const said = new Map<string, { at: Allocator; involved: Set<Allocator> }>();
  const clash = (b: Allocator, ...others: Allocator[]) => {
    const k = pathKey(b.path);
    const entry = said.get(k) ?? { at: b, involved: new Set<Allocator>() };
    said.set(k, entry);
    for (const x of [b, ...others]) entry.involved.add(x);
  };
  for (const [i, b] of allocators.entries()) {
    if (several(b.host.check)) clash(b);
    const earlier = allocators.slice(0, i).filter((a) => overlap(a.pool, b.pool));
    if (earlier.length) clash(b, ...earlier);
  }
  for (const { at, involved } of said.values()) {
    const byPool = new Map<string, HostCheck[]>();
    for (const a of allocators) if (involved.has(a)) byPool.set(a.pool.text, [...(byPool.get(a.pool.text) ?? []), a.host.check]);
    const pools = [...byPool].map(([pool, checks]) => `${hostsText(checks)} from ${pool}`).join('; ');
    const group = [...involved].some((a) => several(a.host.check)) ? ' (a group by labels or machine ids can be several hosts)' : '';
    ctx.warn(
      at.path,
      `${at.what} gets an automatic IPv${family} address on network ${q(network)}, and each host allocates its own (lowest free first), so hosts whose pools overlap would pick the same addresses on the wire: ${pools}${group}; give each host its own range (ip_ranges: { ${network}: CIDR } in its entry), or static addresses`,
      true,
    );
  }
}
