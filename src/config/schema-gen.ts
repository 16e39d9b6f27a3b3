// Writes schemas/vlannet.schema.json from the zod schema (z.toJSONSchema), for editors and
// validators. `node dist/src/config/schema-gen.js` rewrites the file; test/unit/schema.test.ts
// fails when the committed file is stale.
//
// zod states the shape; what `vlannet validate` checks beyond the shape (rules.ts: names, addresses,
// what depends on the driver) is added here as patterns, limits and if/then, built from the
// constants the checks use (names.ts, model/types.ts, normalise.ts), together with the defaults
// normalise.ts fills in where they are constants. The JSON Schema rejects a file only when validate
// does (test/unit/schema.test.ts holds it to that), with one exception: a section written with no
// value (YAML null), which validate reads as none and the schema states as a map (see schema.ts).
// The sections of a `hosts:` entry refer to the shared ones ($ref), patterns included.

import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJSONSchema } from 'zod/mini';
import { IPVLAN_MODES, MACVLAN_MODES } from '../model/types.js';
import {
  ENDPOINT_NAME_MAX,
  IFNAME_MAX_BYTES,
  IFNAME_PATTERN,
  NETNS_NAME_MAX,
  NETNS_PATTERN,
  NETWORK_NAME_MAX,
  OBJECT_NAME,
  PARENT_PATTERN,
  VLAN_LINK_PARENT_PATTERN,
  VLAN_NAME_PATTERN,
} from './names.js';
import { DEFAULT_IFNAME, HOST_NETNS } from './normalise.js';
import { ConfigInput, MAC_PATTERN } from './schema.js';

/** Where the schema is published; its `$id`. */
export const SCHEMA_ID = 'https://vlannet.dev/schemas/vlannet.schema.json';

// --- addresses: the text model/address.ts (ip-address) accepts, as patterns ----------------------
// ip-address reads IPv4 octets without leading zeros, IPv6 groups of 1–4 hex digits with at most
// one `::` standing for at least one group, an IPv4 tail in IPv6, and a prefix after `/` (IPv4:
// 1–2 digits, IPv6: 1–3, leading zeros allowed); parseAddress and parseCidr refuse zones (`%`).
// Host bits set in a subnet (`10.0.0.1/24`) are not expressed: a pattern per prefix length would
// be unreadable, and for IPv6 with `::` close to impossible.

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = `${OCTET}(?:\\.${OCTET}){3}`;
const HEX = '[0-9A-Fa-f]{1,4}';

/** An IPv6 address: eight groups, or six and an IPv4 tail, or fewer with one `::`. */
function ipv6(): string {
  /** `n` repetitions of `re` (a group or a class), or up to `m`. */
  const times = (re: string, n: number, m = n) => (m === 0 ? '' : n === m && n === 1 ? re : `${re}{${n === m ? n : `${n},${m}`}}`);
  const forms = [`(?:${HEX}:){7}${HEX}`, `(?:${HEX}:){6}${IPV4}`];
  for (let before = 0; before <= 7; before++) {
    // `::` stands for one group or more: at most 6 - before groups after it and a last one, or
    // 5 - before and an IPv4 tail (which counts two).
    const left = before === 0 ? '' : `${times(`(?:${HEX}:)`, before - 1)}${HEX}`;
    const right = [
      ...(before <= 6 ? [`${HEX}${times(`(?::${HEX})`, 0, 6 - before)}`] : []),
      ...(before <= 5 ? [`${times(`(?:${HEX}:)`, 0, 5 - before)}${IPV4}`] : []),
    ];
    forms.push(right.length ? `${left}::(?:${right.join('|')})?` : `${left}::`);
  }
  return `(?:${forms.join('|')})`;
}
const IPV6 = ipv6();

const exactly = (re: string) => `^${re}$`;
export const IPV4_PATTERN = exactly(IPV4);
export const IPV6_PATTERN = exactly(IPV6);
export const IPV4_CIDR_PATTERN = exactly(`${IPV4}/(?:[0-2]?\\d|3[0-2])`);
export const IPV6_CIDR_PATTERN = exactly(`${IPV6}/(?:\\d\\d?|0\\d\\d|1[01]\\d|12[0-8])`);
const either = (a: string, b: string) => `^(?:${a.slice(1, -1)}|${b.slice(1, -1)})$`;
/** A unicast MAC address (rule macAddresses): MAC_PATTERN, the first octet even, not all zeroes. */
export const UNICAST_MAC_PATTERN = `^(?!00(?::00){5}$)(?=[0-9A-Fa-f][02468AaCcEe])${MAC_PATTERN.source.slice(1)}`;

// --- the schema ----------------------------------------------------------------------------------

type Json = { [key: string]: unknown };

/** The JSON Schema of vlannet.yaml. */
export function jsonSchema(): Json {
  const { $schema, ...generated } = toJSONSchema(ConfigInput, { io: 'input', target: 'draft-2020-12' }) as Json;
  const schema: Json = { $schema, $id: SCHEMA_ID, title: 'vlannet.yaml', ...generated };
  const top = at(schema, 'properties');
  for (const section of ['vlans', 'networks', 'endpoints']) top[section] = { ...mapOnly(at(top, section)), default: {} };

  const vlans = at(top, 'vlans');
  state(vlans, 'propertyNames', { maxLength: IFNAME_MAX_BYTES, pattern: VLAN_NAME_PATTERN });
  state(at(vlans, 'additionalProperties', 'properties'), 'parent', { maxLength: IFNAME_MAX_BYTES, pattern: VLAN_LINK_PARENT_PATTERN });

  const networks = at(top, 'networks');
  state(networks, 'propertyNames', { maxLength: NETWORK_NAME_MAX, pattern: OBJECT_NAME.source });
  const network = at(networks, 'additionalProperties');
  const nProps = at(network, 'properties');
  state(nProps, 'parent', { maxLength: IFNAME_MAX_BYTES, pattern: PARENT_PATTERN });
  // The modes are the driver's (rule driverModes), in the branches below: the union of both drivers'
  // modes (zod's enum) would have editors propose l2 on a macvlan network.
  delete at(nProps, 'mode').enum;
  state(nProps, 'subnets', { default: [] });
  // Host access: true, or its name and addresses (rules hostAccess, hostLinkNames, staticAddresses).
  const hostAccess = at(nProps, 'host_access');
  hostAccess.default = false;
  const chosen = (hostAccess.anyOf as Json[]).find((b) => b.type === 'object')!;
  const hProps = at(chosen, 'properties');
  state(hProps, 'ifname', { maxLength: IFNAME_MAX_BYTES, pattern: IFNAME_PATTERN });
  state(hProps, 'ipv4', { pattern: IPV4_PATTERN });
  state(hProps, 'ipv6', { pattern: IPV6_PATTERN });
  const subnet = at(nProps, 'subnets', 'items');
  const sProps = at(subnet, 'properties');
  state(sProps, 'subnet', { pattern: either(IPV4_CIDR_PATTERN, IPV6_CIDR_PATTERN) });
  state(sProps, 'gateway', { pattern: either(IPV4_PATTERN, IPV6_PATTERN) });
  state(sProps, 'ip_range', { pattern: either(IPV4_CIDR_PATTERN, IPV6_CIDR_PATTERN) });
  // Aux addresses: addresses, by a name that is not empty (rule auxAddresses).
  const aux = at(sProps, 'aux_addresses');
  state(aux, 'propertyNames', { minLength: 1 });
  state(aux, 'additionalProperties', { pattern: either(IPV4_PATTERN, IPV6_PATTERN) });
  // The gateway, ip_range and aux addresses are of the subnet's family (rules subnets, auxAddresses).
  subnet.allOf = [
    [IPV4_CIDR_PATTERN, IPV4_PATTERN],
    [IPV6_CIDR_PATTERN, IPV6_PATTERN],
  ].map(([cidr, address]) =>
    when(
      { properties: { subnet: { type: 'string', pattern: cidr } }, required: ['subnet'] },
      {
        properties: {
          gateway: { type: 'string', pattern: address },
          ip_range: { type: 'string', pattern: cidr },
          aux_addresses: { type: 'object', additionalProperties: { type: 'string', pattern: address } },
        },
      },
    ),
  );
  network.allOf = [
    // Defaults: normalise.ts. flag is for ipvlan only (rule driverKeys).
    when(
      { properties: { driver: { const: 'macvlan' } }, required: ['driver'] },
      { properties: { mode: { enum: [...MACVLAN_MODES], default: 'bridge' }, flag: false } },
    ),
    when(
      { properties: { driver: { const: 'ipvlan' } }, required: ['driver'] },
      { properties: { mode: { enum: [...IPVLAN_MODES], default: 'l2' }, flag: { default: 'bridge' } } },
    ),
    // internal: true cannot have a parent (rule internalParent); without one the network is internal.
    when(
      { properties: { parent: { type: 'string' } }, required: ['parent'] },
      { properties: { internal: { const: false, default: false } } },
      { properties: { internal: { default: true } } },
    ),
  ];

  const endpoints = at(top, 'endpoints');
  state(endpoints, 'propertyNames', { maxLength: ENDPOINT_NAME_MAX, pattern: OBJECT_NAME.source });
  const endpoint = at(endpoints, 'additionalProperties');
  const eProps = at(endpoint, 'properties');
  // An endpoint's network must be defined, and a network's name is one of these (rule endpointNetworks).
  state(eProps, 'network', { maxLength: NETWORK_NAME_MAX, pattern: OBJECT_NAME.source });
  state(eProps, 'netns', { maxLength: NETNS_NAME_MAX, pattern: NETNS_PATTERN });
  state(eProps, 'ifname', { maxLength: IFNAME_MAX_BYTES, pattern: IFNAME_PATTERN, default: DEFAULT_IFNAME });
  state(eProps, 'ipv4', { pattern: IPV4_PATTERN });
  state(eProps, 'ipv6', { pattern: IPV6_PATTERN });
  state(eProps, 'mac', { pattern: UNICAST_MAC_PATTERN });
  // The host's default route is never touched (rule defaultRoutes); elsewhere the default depends on
  // the network (false for internal ones), which a schema of the endpoint cannot see.
  endpoint.allOf = [
    when(
      { properties: { netns: { const: HOST_NETNS } }, required: ['netns'] },
      { properties: { default_route: { const: false, default: false } } },
    ),
  ];

  // hosts: an entry adds vlans, networks and endpoints of the same shape as the shared sections
  // (a reference to them, with the patterns above); across entries (unique names, addresses hosts
  // share) is validate's.
  top.hosts = { ...mapOnly(at(top, 'hosts')), default: {} };
  const entry = at(top, 'hosts', 'additionalProperties');
  const entryProps = at(entry, 'properties');
  for (const section of ['vlans', 'networks', 'endpoints']) {
    entryProps[section] = { description: at(entryProps, section).description, $ref: `#/properties/${section}` };
  }
  // match needs a criterion, and labels one label at least (schema.ts: refinements zod does not state).
  state(entryProps, 'match', { minProperties: 1 });
  state(at(entryProps, 'match', 'properties'), 'labels', { minProperties: 1 });
  const cidrs = at(entryProps, 'ip_ranges', 'additionalProperties');
  const cidr = { type: 'string', pattern: either(IPV4_CIDR_PATTERN, IPV6_CIDR_PATTERN) };
  for (const branch of cidrs.anyOf as Json[]) {
    if (branch.type === 'string') Object.assign(branch, cidr);
    else Object.assign(at(branch, 'items'), cidr);
  }
  return schema;
}

/** The JSON Schema text of vlannet.yaml, as committed (two-space indent, final newline). */
export function jsonSchemaText(): string {
  return `${JSON.stringify(jsonSchema(), null, 2)}\n`;
}

/** The object at a path of keys; throws when schema.ts no longer has that shape. */
function at(node: Json, ...path: string[]): Json {
  let here = node;
  for (const key of path) {
    const next = here[key];
    if (typeof next !== 'object' || next === null) throw new Error(`schema-gen: no ${path.join('.')} in the generated schema`);
    here = next as Json;
  }
  return here;
}

/** `{ if, then, else }`, from entries: an object literal with a `then` key reads as a promise (lint noThenProperty). */
function when(condition: Json, then: Json, otherwise?: Json): Json {
  return Object.fromEntries([['if', condition], ['then', then], ...(otherwise ? [['else', otherwise]] : [])]);
}

/** Adds keywords to the schema of one property. */
function state(properties: Json, key: string, keywords: Json): void {
  Object.assign(at(properties, key), keywords);
}

/** zod's `anyOf: [map, null]` of a nullable section, as the map alone (keeping its description). */
function mapOnly(node: Json): Json {
  const { anyOf, ...rest } = node;
  const branches = Array.isArray(anyOf) ? (anyOf as Json[]) : [];
  const map = branches.find((b) => b.type === 'object');
  if (branches.length !== 2 || !map || !branches.some((b) => b.type === 'null'))
    throw new Error('schema-gen: a section is no longer a nullable map');
  return { ...map, ...rest };
}

/** The repository root, from dist/src/config or src/config. */
export function schemaPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = here.includes('/dist/') ? join(here, '..', '..', '..') : join(here, '..', '..');
  return join(root, 'schemas', 'vlannet.schema.json');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(schemaPath(), jsonSchemaText());
  console.log(`wrote ${schemaPath()}`);
}
