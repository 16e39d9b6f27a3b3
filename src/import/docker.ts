// `vlannet import docker`: the JSON of `docker network inspect` (and, for endpoints, of `docker
// inspect` of containers) in, the vlannet.yaml that makes the same networks out, with a comment for
// everything Docker had that the file cannot say. Pure: parsed JSON in, YAML text and notes out;
// src/cli/import.ts reads the files and writes the result. The output is a function of the input
// alone (no clock, no host), so that the same Docker state always imports to the same file.
//
// Decisions a reader of the output meets (also in README.md, "Coming from Docker"):
// - A container's MAC address is carried only when Docker's Config.MacAddress says the user set it
//   (`docker run --mac-address`), or for every macvlan endpoint with `keepMacs`: the inspect output
//   does not say whether Docker generated a MAC. Otherwise a comment names it.
// - A container on several imported networks is one namespace (named after the container) with one
//   endpoint per network, CONTAINER-NETWORK, ordered as Docker picks the default gateway (highest
//   GwPriority, then non-internal networks, then network name): the first is eth0 and holds the
//   default route, the others are eth1, eth2… with `default_route: false`.
// - Automatic addresses are not carried (vlannet allocates its own); static ones (IPAMConfig) are.

import { Document, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import * as z from 'zod/mini';
import { show } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { canonical, familyOf, firstUsable, parseAddress, parseCidr } from '../model/address.js';
import { type Family, IPVLAN_FLAGS, IPVLAN_MODES, MACVLAN_MODES } from '../model/types.js';

/** One parsed input: the JSON and where it came from (a file name, or "standard input"). */
export interface JsonSource {
  name: string;
  json: unknown;
}

export interface DockerImportOptions {
  /** Carry every macvlan container's MAC address, not only those Docker says the user set. */
  keepMacs?: boolean;
}

export interface DockerImport {
  /** The vlannet.yaml. */
  yaml: string;
  /** For standard error: what was skipped, and how many things the comments say were not carried. */
  notes: string[];
  networks: number;
  endpoints: number;
}

// --- the input, as `docker network inspect` and `docker inspect` print it ----------------------
// Loose: Docker adds fields between versions, and an older engine leaves some out.

const text = z.optional(z.nullable(z.string()));
const flag = z.optional(z.nullable(z.boolean()));
const strings = z.optional(z.nullable(z.record(z.string(), z.string())));

const IpamConfig = z.looseObject({
  Subnet: text,
  IPRange: text,
  Gateway: text,
  AuxiliaryAddresses: strings,
});

const DockerNetwork = z.looseObject({
  Name: z.string(),
  Id: text,
  Created: text,
  Scope: text,
  Driver: z.string(),
  EnableIPv4: flag,
  EnableIPv6: flag,
  IPAM: z.optional(
    z.nullable(
      z.looseObject({
        Driver: text,
        Options: strings,
        Config: z.optional(z.nullable(z.array(IpamConfig))),
      }),
    ),
  ),
  Internal: flag,
  Attachable: flag,
  Ingress: flag,
  ConfigFrom: z.optional(z.nullable(z.looseObject({ Network: text }))),
  ConfigOnly: flag,
  Containers: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  Options: strings,
  Labels: strings,
});
type DockerNetwork = z.infer<typeof DockerNetwork>;

const EndpointSettings = z.looseObject({
  IPAMConfig: z.optional(
    z.nullable(
      z.looseObject({
        IPv4Address: text,
        IPv6Address: text,
        LinkLocalIPs: z.optional(z.nullable(z.array(z.string()))),
      }),
    ),
  ),
  MacAddress: text,
  NetworkID: text,
  IPAddress: text,
  GlobalIPv6Address: text,
  DriverOpts: strings,
  GwPriority: z.optional(z.nullable(z.number())),
});
type EndpointSettings = z.infer<typeof EndpointSettings>;

const DockerContainer = z.looseObject({
  Id: text,
  Name: z.string(),
  State: z.optional(z.nullable(z.looseObject({ Status: text, Running: flag }))),
  Config: z.optional(z.nullable(z.looseObject({ MacAddress: text }))),
  NetworkSettings: z.looseObject({
    Networks: z.optional(z.nullable(z.record(z.string(), EndpointSettings))),
  }),
});
type DockerContainer = z.infer<typeof DockerContainer>;

const NETWORK_INPUT = 'the JSON of `docker network inspect` (an array of networks)';
const CONTAINER_INPUT = 'the JSON of `docker inspect` of containers (an array of containers)';

/** The items of one source, each checked against `schema`; every problem is a one-line UsageError. */
function itemsOf<T>(source: JsonSource, schema: z.ZodMiniType<T>, kind: 'network' | 'container'): T[] {
  const expected = kind === 'network' ? NETWORK_INPUT : CONTAINER_INPUT;
  if (!Array.isArray(source.json)) throw new UsageError(`${source.name}: expected ${expected}, got ${show(source.json)}`);
  return source.json.map((item, i) => {
    const at = `${source.name}: item ${i + 1}`;
    if (item === null || typeof item !== 'object' || Array.isArray(item))
      throw new UsageError(`${at}: expected a ${kind} (a map), got ${show(item)}`);
    const record = item as Record<string, unknown>;
    if (kind === 'network' && typeof record.Driver !== 'string' && typeof record.NetworkSettings === 'object')
      throw new UsageError(`${at} is a container, not a network: pass the output of \`docker inspect\` with --containers`);
    if (kind === 'container' && typeof record.NetworkSettings !== 'object' && typeof record.Driver === 'string')
      throw new UsageError(`${at} is a network, not a container: pass the output of \`docker network inspect\` as FILE`);
    const parsed = schema.safeParse(item);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    const name = typeof record.Name === 'string' ? ` (${JSON.stringify(record.Name)})` : '';
    const path = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '');
    const value = issue.path.reduce<unknown>(
      (v, p) => (v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined),
      item,
    );
    const want = issue.code === 'invalid_type' ? `a ${issue.expected}` : 'something else';
    throw new UsageError(`${at}${name}: ${path}: expected ${want}, got ${show(value)} (${expected} expected)`);
  });
}

// --- YAML nodes -------------------------------------------------------------------------------

type Value = string | number | boolean | YAMLMap | YAMLSeq;
type Entry = [key: string, value: Value | undefined, comments?: string[]];

/** Comment lines as yaml writes them before a node: `# line`. */
const commentText = (lines: string[]) => lines.map((l) => ` ${l}`).join('\n');

/** A map of the entries whose value is defined, in their order (a JS object would put "123" first). */
function mapOf(entries: Entry[], flow = false): YAMLMap {
  const map = new YAMLMap();
  map.flow = flow;
  for (const [key, value, comments] of entries) {
    if (value === undefined) continue;
    const k = new Scalar(key);
    if (comments?.length) k.commentBefore = commentText(comments);
    map.items.push(new Pair(k, value instanceof YAMLMap || value instanceof YAMLSeq ? value : new Scalar(value)));
  }
  return map;
}

// --- networks ---------------------------------------------------------------------------------

const DRIVERS = ['macvlan', 'ipvlan'] as const;
type Driver = (typeof DRIVERS)[number];
const MTU_OPTION = 'com.docker.network.driver.mtu';
/** The driver options each driver takes, besides the MTU. */
const DRIVER_OPTIONS: Record<Driver, string[]> = { macvlan: ['parent', 'macvlan_mode'], ipvlan: ['parent', 'ipvlan_mode', 'ipvlan_flag'] };

/** What the endpoints need to know of an imported network. */
interface Imported {
  docker: DockerNetwork;
  name: string;
  driver: Driver;
  internal: boolean;
  families: Set<Family>;
}

/** A name vlannet accepts for networks and endpoints ([A-Za-z0-9_.-]+). */
export function sanitise(name: string): string {
  return name.replace(/^\/+/, '').replace(/[^A-Za-z0-9_.-]+/g, '_');
}

const isSet = (s: string | null | undefined): s is string => typeof s === 'string' && s !== '';
const entries = (r: Record<string, string> | null | undefined) => Object.entries(r ?? {});
const option = (key: string, value: string) => (value === '' ? key : `${key}=${value}`);

/** One macvlan or ipvlan network: its YAML and what it knows for the endpoints. */
function convertNetwork(
  source: string,
  n: DockerNetwork,
  configFrom: DockerNetwork | null,
  name: string,
): { node: YAMLMap; comments: string[]; imported: Imported; notCarried: number } {
  const driver = n.Driver as Driver;
  // A --config-from network takes its parent, options and subnets from the config-only network.
  const config = configFrom ?? n;
  const about = `${source}: network ${JSON.stringify(n.Name)}`;
  const comments: string[] = [];
  const header = [n.Id ? `id ${n.Id.slice(0, 12)}` : '', n.Created ? `created ${n.Created}` : ''].filter(Boolean).join(', ');
  if (header || name !== n.Name) comments.push(`Docker network ${JSON.stringify(n.Name)}${header ? `: ${header}` : ''}`);
  let notCarried = 0;
  const not = (what: string, why: string) => {
    comments.push(`not carried: ${what} (${why})`);
    notCarried++;
  };
  if (configFrom) comments.push(`parent, options and subnets from config-only network ${JSON.stringify(configFrom.Name)} (--config-from)`);

  const options = config.Options ?? {};
  let parent: string | undefined = isSet(options.parent) ? options.parent : undefined;
  const internal = n.Internal === true || parent === undefined;
  if (n.Internal && parent) {
    not(`parent ${parent}`, 'Docker puts an --internal network on a dummy link of its own whatever its parent; so does vlannet');
    parent = undefined;
  }

  let mode: string | undefined;
  let ipvlanFlag: string | undefined;
  const known = (key: string, list: readonly string[]) => {
    const value = options[key];
    if (!isSet(value)) return undefined;
    const lower = value.toLowerCase();
    if (!list.includes(lower))
      throw new UsageError(`${about}: unknown ${key} ${JSON.stringify(value)} (expected one of ${list.join(', ')})`);
    return lower;
  };
  if (driver === 'macvlan') mode = known('macvlan_mode', MACVLAN_MODES);
  else {
    mode = known('ipvlan_mode', IPVLAN_MODES);
    ipvlanFlag = known('ipvlan_flag', IPVLAN_FLAGS);
  }
  const routed = driver === 'ipvlan' && (mode === 'l3' || mode === 'l3s');

  let mtu: number | undefined;
  if (isSet(options[MTU_OPTION])) {
    const value = options[MTU_OPTION];
    if (!/^\d+$/.test(value)) throw new UsageError(`${about}: ${MTU_OPTION} ${JSON.stringify(value)} is not a whole number`);
    mtu = Number(value);
    // 0 is Docker's "the default": inherited from the parent, as vlannet does without mtu.
    if (mtu === 0) mtu = undefined;
  }
  for (const [key, value] of entries(options)) {
    if (key === MTU_OPTION || DRIVER_OPTIONS[driver].includes(key)) continue;
    const other = DRIVERS.find((d) => DRIVER_OPTIONS[d].includes(key));
    if (other)
      not(`option ${option(key, value)}`, `${other === 'ipvlan' ? 'an' : 'a'} ${other} option, which Docker's ${driver} driver ignores`);
    else if (key.startsWith('com.docker.network.'))
      not(`option ${option(key, value)}`, 'a Docker engine option vlannet has no equivalent for');
    else not(`option ${option(key, value)}`, `not an option vlannet knows for ${driver}`);
  }

  const ipam = config.IPAM;
  if (isSet(ipam?.Driver) && ipam.Driver !== 'default')
    not(`IPAM driver ${ipam.Driver}`, 'vlannet allocates addresses itself: the lowest free one of the subnet or ip_range');
  for (const [key, value] of entries(ipam?.Options)) not(`IPAM option ${option(key, value)}`, 'vlannet has its own allocation');

  const families = new Set<Family>();
  const subnets = new YAMLSeq();
  for (const c of ipam?.Config ?? []) {
    if (!isSet(c.Subnet)) {
      not(`IPAM entry without a subnet${isSet(c.IPRange) ? ` (ip range ${c.IPRange})` : ''}`, 'vlannet needs the subnet');
      continue;
    }
    const family = familyOf(c.Subnet);
    const enabled = family === 4 ? config.EnableIPv4 : config.EnableIPv6;
    const subnetComments: string[] = [];
    if (enabled === false) {
      not(
        `subnet ${c.Subnet}`,
        `EnableIPv${family} is false: Docker gives containers no IPv${family} address on it; add it back to use it`,
      );
      continue;
    }
    let gateway: string | undefined = isSet(c.Gateway) ? c.Gateway : undefined;
    // On ipvlan l3/l3s and internal networks a gateway is no route's next hop, only an address held
    // back (validate warns when one is given). Docker's own choice, the first usable address, is
    // vlannet's default: left out, it is held back all the same. Another one is kept, to stay held back.
    if (gateway && (routed || internal)) {
      const where = routed ? `ipvlan ${mode} routes by "default dev eth0"` : 'an internal network has no default route';
      if (isFirstUsable(c.Subnet, gateway)) {
        subnetComments.push(`gateway ${gateway} left out: ${where}, and the first usable address is held back anyway`);
        gateway = undefined;
      } else subnetComments.push(`gateway ${gateway} kept only to hold it back, as Docker does: ${where} (validate warns)`);
    }
    const aux = entries(c.AuxiliaryAddresses);
    const node = mapOf([
      ['subnet', c.Subnet],
      ['gateway', gateway],
      ['ip_range', isSet(c.IPRange) ? c.IPRange : undefined],
      ['aux_addresses', aux.length ? mapOf(aux, true) : undefined],
    ]);
    if (subnetComments.length) node.commentBefore = commentText(subnetComments);
    subnets.items.push(node);
    families.add(family);
  }
  if (config.EnableIPv6 === true && !families.has(6))
    comments.push('EnableIPv6 is true but no IPv6 subnet is listed: Docker chose one from its pools; add it as a subnet');

  for (const [key, value] of entries(n.Labels)) not(`label ${option(key, value)}`, 'vlannet.yaml has no labels');
  if (n.Attachable) not('attachable', 'lets standalone containers join a swarm network; vlannet declares every endpoint in this file');
  if (n.Ingress) not('ingress', "the swarm routing mesh's network");
  if (isSet(n.Scope) && n.Scope !== 'local')
    not(`scope ${n.Scope}`, 'Docker makes the network on every node of the swarm; this file makes it on one host, so copy it to each');

  const node = mapOf([
    ['driver', driver],
    ['parent', parent],
    ['internal', internal ? true : undefined],
    ['mode', mode],
    ['flag', ipvlanFlag],
    ['mtu', mtu],
    ['subnets', subnets.items.length ? subnets : undefined],
  ]);
  return { node, comments, imported: { docker: n, name, driver, internal, families }, notCarried };
}

/** Whether `gateway` is the first usable address of `subnet`: Docker's default gateway, and vlannet's. */
function isFirstUsable(subnet: string, gateway: string): boolean {
  const cidr = parseCidr(subnet);
  const address = parseAddress(gateway, familyOf(gateway));
  return cidr.ok !== null && address.ok !== null && firstUsable(cidr.ok) === canonical(address.ok);
}

// --- endpoints --------------------------------------------------------------------------------

interface Attachment {
  network: Imported;
  settings: EndpointSettings;
}

/** Docker's order for the default gateway: highest GwPriority, then non-internal, then network name. */
function gatewayOrder(a: Attachment, b: Attachment): number {
  const priority = (b.settings.GwPriority ?? 0) - (a.settings.GwPriority ?? 0);
  if (priority !== 0) return priority;
  if (a.network.internal !== b.network.internal) return a.network.internal ? 1 : -1;
  return a.network.docker.Name < b.network.docker.Name ? -1 : a.network.docker.Name > b.network.docker.Name ? 1 : 0;
}

/** The endpoints of one container, one per imported network it is on. */
function convertContainer(
  c: DockerContainer,
  attachments: Attachment[],
  elsewhere: string[],
  unique: (name: string) => string,
  options: DockerImportOptions,
): { entries: Entry[]; notCarried: number } {
  const container = c.Name.replace(/^\/+/, '');
  const base = sanitise(container) || `container-${(c.Id ?? '').slice(0, 12)}`;
  attachments.sort(gatewayOrder);
  const several = attachments.length > 1;
  const names = attachments.map((a) => unique(several ? sanitise(`${base}-${a.network.name}`) : base));
  const netns = several ? unique(base) : undefined;
  const routeHolder = attachments.findIndex((a) => !a.network.internal);
  let notCarried = 0;
  const out: Entry[] = attachments.map((a, i) => {
    const s = a.settings;
    const comments: string[] = [];
    const not = (what: string, why: string) => {
      comments.push(`not carried: ${what} (${why})`);
      notCarried++;
    };
    if (i === 0) {
      if (base !== container || several) comments.push(`Docker container ${JSON.stringify(container)}`);
      if (c.State?.Running === false) comments.push(`the container was not running in Docker (${c.State.Status ?? 'stopped'})`);
      if (elsewhere.length) comments.push(`also on Docker network${elsewhere.length > 1 ? 's' : ''} ${elsewhere.join(', ')}, not imported`);
    }
    const stat = (family: Family) => {
      const address = family === 4 ? s.IPAMConfig?.IPv4Address : s.IPAMConfig?.IPv6Address;
      if (!isSet(address)) return undefined;
      if (a.network.families.has(family)) return address;
      not(`static address ${address}`, `network ${a.network.name} has no IPv${family} subnet here`);
      return undefined;
    };
    const ipv4 = stat(4);
    const ipv6 = stat(6);
    const automatic = [ipv4 ? '' : s.IPAddress, ipv6 ? '' : s.GlobalIPv6Address].filter(isSet);
    if (automatic.length)
      comments.push(`automatic in Docker (${automatic.join(', ')}): vlannet allocates its own; set ipv4/ipv6 to keep an address`);
    let mac: string | undefined;
    if (a.network.driver === 'macvlan' && isSet(s.MacAddress)) {
      const userSet = isSet(c.Config?.MacAddress) && c.Config.MacAddress.toLowerCase() === s.MacAddress.toLowerCase();
      if (userSet || options.keepMacs) mac = s.MacAddress.toLowerCase();
      else not(`MAC ${s.MacAddress}`, 'Docker may have generated it; --keep-macs carries it');
    }
    for (const ip of s.IPAMConfig?.LinkLocalIPs ?? [])
      not(`link-local address ${ip}`, "vlannet adds only the kernel's own link-local address");
    for (const [key, value] of entries(s.DriverOpts))
      not(`endpoint driver option ${option(key, value)}`, 'vlannet has no endpoint options');
    const keepsRoute = i === routeHolder || a.network.internal;
    if (!keepsRoute && routeHolder >= 0) comments.push(`the default route is ${names[routeHolder]}'s, as Docker picks it`);
    const node = mapOf(
      [
        ['network', a.network.name],
        ['netns', netns],
        ['ifname', several ? `eth${i}` : undefined],
        ['ipv4', ipv4],
        ['ipv6', ipv6],
        ['mac', mac],
        ['default_route', keepsRoute ? undefined : false],
      ],
      true,
    );
    return [names[i]!, node, comments];
  });
  return { entries: out, notCarried };
}

// --- the whole file ---------------------------------------------------------------------------

/** The vlannet.yaml equivalent to Docker networks (and, given containers, their endpoints). */
export function importDocker(
  networkSources: JsonSource[],
  containerSources: JsonSource[],
  options: DockerImportOptions = {},
): DockerImport {
  const notes: string[] = [];
  const all: { source: string; network: DockerNetwork }[] = [];
  const seen = new Map<string, { source: string; id: string }>();
  for (const source of networkSources) {
    for (const network of itemsOf(source, DockerNetwork, 'network')) {
      const before = seen.get(network.Name);
      if (before) {
        if (before.id === (network.Id ?? '')) continue; // the same network inspected twice
        throw new UsageError(
          `${source.name}: network ${JSON.stringify(network.Name)} is also in ${before.source} with another id: networks of two Docker hosts cannot be imported into one file`,
        );
      }
      seen.set(network.Name, { source: source.name, id: network.Id ?? '' });
      all.push({ source: source.name, network });
    }
  }
  const configOnly = new Map(all.filter((a) => a.network.ConfigOnly).map((a) => [a.network.Name, a.network]));
  const usedConfigs = new Set<string>();

  const networkEntries: Entry[] = [];
  const skipped: string[] = [];
  const imported: Imported[] = [];
  const names = new Set<string>();
  let notCarried = 0;
  for (const { source, network: n } of all) {
    if (n.ConfigOnly) continue;
    if (!(DRIVERS as readonly string[]).includes(n.Driver)) {
      skipped.push(`not imported: network ${JSON.stringify(n.Name)} (driver ${n.Driver}: vlannet makes macvlan and ipvlan networks only)`);
      continue;
    }
    const from = n.ConfigFrom?.Network;
    let configFrom: DockerNetwork | null = null;
    if (isSet(from)) {
      configFrom = configOnly.get(from) ?? null;
      if (!configFrom) {
        skipped.push(
          `not imported: network ${JSON.stringify(n.Name)} (its configuration is in config-only network ${JSON.stringify(from)}, which is not in the input: docker network inspect ${n.Name} ${from})`,
        );
        continue;
      }
      usedConfigs.add(from);
    }
    let name = sanitise(n.Name);
    for (let i = 2; names.has(name); i++) name = `${sanitise(n.Name)}-${i}`;
    names.add(name);
    const converted = convertNetwork(source, n, configFrom, name);
    networkEntries.push([name, converted.node, converted.comments]);
    imported.push(converted.imported);
    notCarried += converted.notCarried;
    const attached = Object.keys(n.Containers ?? {}).length;
    if (attached && containerSources.length === 0)
      notes.push(
        `network ${JSON.stringify(n.Name)} has ${attached} container${attached === 1 ? '' : 's'} in Docker: pass \`docker inspect\` of them with --containers to import them as endpoints`,
      );
  }
  for (const [name] of configOnly)
    if (!usedConfigs.has(name))
      skipped.push(
        `not imported: network ${JSON.stringify(name)} (a config-only network no network in the input takes its configuration from)`,
      );
  notes.push(...skipped);

  // Endpoints: every container on an imported network.
  const byName = new Map(imported.map((i) => [i.docker.Name, i]));
  const byId = new Map(imported.filter((i) => i.docker.Id).map((i) => [i.docker.Id!, i]));
  const endpointNames = new Set<string>();
  const unique = (name: string) => {
    let n = name;
    for (let i = 2; endpointNames.has(n); i++) n = `${name}-${i}`;
    endpointNames.add(n);
    return n;
  };
  const endpointEntries: Entry[] = [];
  const containerIds = new Set<string>();
  for (const source of containerSources) {
    for (const c of itemsOf(source, DockerContainer, 'container')) {
      if (c.Id) {
        if (containerIds.has(c.Id)) continue;
        containerIds.add(c.Id);
      }
      const attachments: Attachment[] = [];
      const elsewhere: string[] = [];
      for (const [network, settings] of Object.entries(c.NetworkSettings.Networks ?? {})) {
        const target = byName.get(network) ?? (isSet(settings.NetworkID) ? byId.get(settings.NetworkID) : undefined);
        if (target) attachments.push({ network: target, settings });
        else elsewhere.push(network);
      }
      if (!attachments.length) {
        notes.push(
          `not imported: container ${JSON.stringify(c.Name.replace(/^\/+/, ''))} (on no imported network${elsewhere.length ? `: ${elsewhere.join(', ')}` : ''})`,
        );
        continue;
      }
      const converted = convertContainer(c, attachments, elsewhere, unique, options);
      endpointEntries.push(...converted.entries);
      notCarried += converted.notCarried;
    }
  }
  if (notCarried)
    notes.push(
      `${notCarried} setting${notCarried === 1 ? '' : 's'} of Docker not carried over: see the "not carried" comments in the output`,
    );

  const networks = mapOf(networkEntries);
  if (!networkEntries.length) networks.flow = true;
  const from = [
    `${networkSources.map((s) => s.name).join(', ')} (docker network inspect)`,
    ...(containerSources.length ? [`${containerSources.map((s) => s.name).join(', ')} (docker inspect)`] : []),
  ];
  const doc = new Document();
  doc.commentBefore = commentText([
    'Imported from Docker by `vlannet import docker`,',
    `from ${from.join(' and ')}.`,
    'Comments say what Docker had and this file does not ("not carried"). Check it first:',
    'vlannet validate -f FILE && vlannet plan -f FILE',
  ]);
  doc.contents = mapOf([
    ['version', 1],
    ['networks', networks, skipped],
    ['endpoints', endpointEntries.length ? mapOf(endpointEntries) : undefined],
  ]);
  return { yaml: doc.toString({ lineWidth: 0 }), notes, networks: networkEntries.length, endpoints: endpointEntries.length };
}
