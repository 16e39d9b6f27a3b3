// A test's own little world in the private namespace the harness gives the suite: parents made
// with iproute2, config files in a temp dir, and a cleanup that removes exactly what the test
// made — vlannet's objects through `vlannet destroy`, then the parents and namespaces it named.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { ip, ipJson, run } from './sh.js';
import { vlannet } from './vlannet.js';

/** The YAML as the operator writes it (only the keys the tests read). */
export interface RawConfig {
  version?: number;
  vlans?: Record<string, { parent: string; id: number; mtu?: number }>;
  networks?: Record<string, RawNetwork>;
  endpoints?: Record<string, RawEndpoint>;
}
export interface RawNetwork {
  driver: 'macvlan' | 'ipvlan';
  parent?: string;
  internal?: boolean;
  mode?: string;
  flag?: string;
  mtu?: number;
  subnets?: { subnet: string; gateway?: string; ip_range?: string }[];
}
export interface RawEndpoint {
  network: string;
  netns?: string;
  ifname?: string;
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  default_route?: boolean;
}

export function parseConfig(text: string): RawConfig {
  return (parse(text) ?? {}) as RawConfig;
}

/** The namespace an endpoint lives in: its own name by default, null for `host`. */
export function endpointNetns(name: string, e: RawEndpoint): string | null {
  const ns = e.netns ?? name;
  return ns === 'host' ? null : ns;
}

/** Links the config expects to exist already: parents that are neither a `vlans:` entry nor NAME.VID, and the NAME of each. */
export function baseParents(c: RawConfig): string[] {
  const vlans = c.vlans ?? {};
  const out = new Set<string>(Object.values(vlans).map((v) => v.parent));
  for (const n of Object.values(c.networks ?? {})) {
    if (!n.parent || n.internal || vlans[n.parent]) continue;
    const m = /^(.+)\.(\d+)$/.exec(n.parent);
    out.add(m ? m[1]! : n.parent);
  }
  return [...out].sort();
}

/** IPv6 duplicate address detection off, so addresses are final at once (this namespace only). */
function noDad(link: string): void {
  fs.writeFileSync(`/proc/sys/net/ipv6/conf/${link}/accept_dad`, '0');
}

/**
 * Wait (up to 3 s) until the kernel has finished bringing a link up: operstate is set
 * asynchronously (linkwatch), so a snapshot taken at once could change by itself a moment later.
 * A dummy link stays UNKNOWN for ever; that is settled too, after the wait.
 */
export function settle(link: string, netns: string | null = null): void {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const [l] = ipJson<{ operstate: string }>(...(netns ? ['-n', netns] : []), 'link', 'show', 'dev', link);
    if (l?.operstate === 'UP') return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

export class World {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vlannet-kernel-'));
  private readonly links = new Set<string>();
  private readonly namespaces = new Set<string>();

  /**
   * A veth pair NAME / NAME-peer, both up (so the parent has carrier), IPv6 DAD off so its
   * link-local address is stable at once, optionally with addresses. Works on every kernel.
   */
  veth(name = 'eth0', addresses: string[] = []): string {
    ip('link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}-peer`);
    this.links.add(name);
    noDad(`${name}-peer`);
    ip('link', 'set', `${name}-peer`, 'up');
    this.prepare(name, addresses);
    return name;
  }

  /** A dummy link (needs the dummy module: the test VM's kernel has it). */
  dummy(name: string, addresses: string[] = []): string {
    ip('link', 'add', name, 'type', 'dummy');
    this.links.add(name);
    this.prepare(name, addresses);
    return name;
  }

  /** A link made by someone else (`ip link add ARGS…` in vlannet's namespace); removed at cleanup. */
  foreign(name: string, ...args: string[]): string {
    ip('link', 'add', ...args);
    this.links.add(name);
    noDad(name);
    ip('link', 'set', name, 'up');
    settle(name);
    return name;
  }

  /** A namespace made by someone else; removed at cleanup. */
  netns(name: string): string {
    ip('netns', 'add', name);
    this.namespaces.add(name);
    return name;
  }

  private prepare(name: string, addresses: string[]): void {
    noDad(name);
    for (const a of addresses) ip('addr', 'add', a, 'dev', name);
    ip('link', 'set', name, 'up');
    settle(name);
  }

  /** Write a config file; its namespaces are removed at cleanup. Returns its path. */
  config(text: string, name = 'vlannet.yaml'): string {
    for (const [ep, e] of Object.entries(parseConfig(text).endpoints ?? {})) {
      const ns = endpointNetns(ep, e);
      if (ns) this.namespaces.add(ns);
    }
    const file = path.join(this.dir, name);
    fs.writeFileSync(file, text);
    return file;
  }

  /** Create the veth parents a config expects to exist. */
  parentsFor(text: string): string[] {
    return baseParents(parseConfig(text)).map((p) => this.veth(p));
  }

  /**
   * `vlannet destroy` (only when something of vlannet's may be left: it costs ~1.5 s in the VM under TCG), then
   * whatever is left of what the test made: vlannet-marked links of this namespace (should destroy
   * have failed), the test's links (their children go with them) and every namespace the test or
   * its configs named.
   */
  cleanup(): void {
    const marked = () => ipJson<{ ifname: string; ifalias?: string }>('link', 'show').filter((l) => l.ifalias?.startsWith('vlannet:'));
    const present = new Set(
      run('ip', ['netns', 'list'])
        .stdout.split('\n')
        .map((l) => l.split(' ')[0]),
    );
    // A trial a failed test left pending would refuse every later apply (and destroy): revert it.
    const trial = path.join(process.env.VLANNET_RUN_DIR ?? '/run/vlannet', 'trial.json');
    if (fs.existsSync(trial) && fs.readFileSync(trial, 'utf8').includes('"state":"pending"')) vlannet('revert');
    if (marked().length > 0 || [...this.namespaces].some((ns) => present.has(ns))) vlannet('destroy', '--yes');
    for (const l of marked()) run('ip', ['link', 'del', l.ifname]);
    for (const l of this.links) run('ip', ['link', 'del', l]);
    for (const ns of this.namespaces) run('ip', ['netns', 'del', ns]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
