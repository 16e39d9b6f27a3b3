// The committed JSON Schema is what the zod schema generates: regenerate it with
// `npm run build && node dist/src/config/schema-gen.js` when this fails. A real validator (ajv, in
// strict mode) holds the schema to `vlannet validate`: what validate accepts the schema accepts,
// and what validate rejects the schema rejects wherever JSON Schema can say it. The one place the
// schema is stricter is a section written with no value (YAML null; see src/config/schema.ts).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { pathText } from '../../src/config/locate.js';
import {
  decimalRange,
  ENDPOINT_NAME_MAX,
  IFNAME_MAX_BYTES,
  IFNAME_PATTERN,
  ifnameProblem,
  NETNS_NAME_MAX,
  NETNS_PATTERN,
  netnsProblem,
  NETWORK_NAME_MAX,
} from '../../src/config/names.js';
import {
  IPV4_CIDR_PATTERN,
  IPV4_PATTERN,
  IPV6_CIDR_PATTERN,
  IPV6_PATTERN,
  jsonSchemaText,
  SCHEMA_ID,
  schemaPath,
} from '../../src/config/schema-gen.js';
import { ConfigInput } from '../../src/config/schema.js';
import { parseAddress, parseCidr } from '../../src/model/address.js';
import { netnsMark } from '../../src/model/owner.js';

const root = dirname(dirname(schemaPath()));
const committed = () => JSON.parse(readFileSync(schemaPath(), 'utf8'));
/** The committed schema, compiled by ajv in strict mode: compiling throws on anything strict mode refuses. */
const check = new Ajv2020({ strict: true, allErrors: true }).compile(committed());

const y = (...lines: string[]) => `${lines.join('\n')}\n`;
const V = 'version: 1';

/** Where each ajv error is, written as validate writes paths (`networks.n1.subnets[0].subnet`). */
function schemaErrors(js: unknown): string[] | null {
  if (check(js)) return null;
  return (check.errors ?? []).map((e: ErrorObject) => {
    const path: (string | number)[] = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    if (e.propertyName !== undefined) path.push(e.propertyName);
    else if (e.keyword === 'additionalProperties') path.push(String(e.params.additionalProperty));
    else if (e.keyword === 'required') path.push(String(e.params.missingProperty));
    return pathText(path);
  });
}

/** Paths of validate's errors (warnings are no rejection), or null when there are none. */
function validateErrors(text: string): string[] | null {
  const errors = loadConfig(text, 't.yaml').diagnostics.filter((d) => d.severity === 'error');
  return errors.length ? errors.map((d) => d.path) : null;
}

const examples = readdirSync(join(root, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .sort();

// --- the file ------------------------------------------------------------------------------------

test('schemas/vlannet.schema.json is up to date', () => {
  const text = readFileSync(schemaPath(), 'utf8');
  assert.ok(text === jsonSchemaText(), 'schemas/vlannet.schema.json is stale: run node dist/src/config/schema-gen.js');
});

test('every key of the schema is described, and the descriptions name defaults', () => {
  const schema = JSON.parse(jsonSchemaText());
  const undescribed: string[] = [];
  interface Node {
    description?: string;
    properties?: Record<string, Node>;
    additionalProperties?: Node | boolean;
    items?: Node;
    anyOf?: Node[];
  }
  const walk = (node: Node | boolean | undefined, path: string) => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      if (!child.description) undescribed.push(`${path}.${key}`);
      else if (!/Default|Required|must be/.test(child.description)) undescribed.push(`${path}.${key} (no default named)`);
      walk(child, `${path}.${key}`);
    }
    for (const sub of [node.additionalProperties, node.items, ...(node.anyOf ?? [])]) walk(sub, path);
  };
  walk(schema, '');
  assert.equal(undescribed, []);
});

test('the schema is strict, requires version 1, and names itself', () => {
  const schema = JSON.parse(jsonSchemaText());
  assert.is(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.is(schema.$id, SCHEMA_ID);
  assert.is(schema.title, 'vlannet.yaml');
  assert.is(schema.additionalProperties, false);
  assert.equal(schema.required, ['version']);
  assert.is(schema.properties.version.const, 1);
});

test('the schema compiles in ajv strict mode and is a valid draft 2020-12 schema', () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  assert.ok(ajv.validateSchema(committed()), JSON.stringify(ajv.errors));
  assert.type(ajv.compile(committed()), 'function');
});

test('no section may be null in the schema: editors propose a map, never null', () => {
  const schema = committed();
  for (const section of ['vlans', 'networks', 'endpoints', 'hosts']) {
    assert.is(schema.properties[section].type, 'object', section);
    assert.is(schema.properties[section].anyOf, undefined, section);
  }
  assert.not.ok(jsonSchemaText().includes('"null"'));
});

// --- examples ------------------------------------------------------------------------------------

for (const file of examples) {
  test(`examples/${file}: names the schema on its first line and is valid against it`, () => {
    const text = readFileSync(join(root, 'examples', file), 'utf8');
    assert.is(text.split('\n')[0], '# yaml-language-server: $schema=../schemas/vlannet.schema.json');
    assert.equal(schemaErrors(parse(text)), null);
    assert.equal(validateErrors(text), null);
  });
}

test('examples/fleet/vlannet.yaml: names the schema on its first line and is valid against it', () => {
  const text = readFileSync(join(root, 'examples', 'fleet', 'vlannet.yaml'), 'utf8');
  assert.is(text.split('\n')[0], '# yaml-language-server: $schema=../../schemas/vlannet.schema.json');
  assert.equal(schemaErrors(parse(text)), null);
  assert.equal(validateErrors(text), null);
});

test('the sections of a hosts: entry are the shared ones, by reference', () => {
  const entry = committed().properties.hosts.additionalProperties.properties;
  for (const section of ['vlans', 'networks', 'endpoints']) assert.is(entry[section].$ref, `#/properties/${section}`, section);
});

test('every config file under test/ that validate accepts is valid against the schema', () => {
  const files = (readdirSync(join(root, 'test'), { recursive: true }) as string[]).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length > 0);
  for (const file of files) {
    const text = readFileSync(join(root, 'test', file), 'utf8');
    if (validateErrors(text) === null) assert.equal(schemaErrors(parse(text)), null, file);
  }
});

// --- what both reject ----------------------------------------------------------------------------

const NET = (extra = '') =>
  `networks:\n  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24 }, { subnet: "2001:db8::/64" }]${extra} }`;
const EP = (extra: string) => `endpoints:\n  e1: { network: n1, netns: x${extra} }`;

/** Inputs validate rejects and the schema too; `at` is where both say so, `validateAt` where validate does when it differs. */
const BAD: Record<string, { yaml: string; at: string; validateAt?: string }> = {
  'mode l3 on a macvlan network': { yaml: y(V, NET(', mode: l3')), at: 'networks.n1.mode' },
  'mode passthru on an ipvlan network': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0, mode: passthru }'),
    at: 'networks.n1.mode',
  },
  'a mode no driver has': { yaml: y(V, NET(', mode: brigde')), at: 'networks.n1.mode' },
  'flag on a macvlan network': { yaml: y(V, NET(', flag: private')), at: 'networks.n1.flag' },
  'a flag ipvlan does not have': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0, flag: passthru }'),
    at: 'networks.n1.flag',
  },
  'internal: true with a parent': { yaml: y(V, NET(', internal: true')), at: 'networks.n1.internal' },
  'driver missing': { yaml: y(V, 'networks:', '  n1: { parent: eth0 }'), at: 'networks.n1.driver' },
  'subnet not-a-cidr': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: not-a-cidr }] }'),
    at: 'networks.n1.subnets[0].subnet',
  },
  'subnet 10.0.0.0/33': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/33 }] }'),
    at: 'networks.n1.subnets[0].subnet',
  },
  'subnet without a prefix': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.1.0.0 }] }'),
    at: 'networks.n1.subnets[0].subnet',
  },
  'subnet 2001:db8::/129': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: "2001:db8::/129" }] }'),
    at: 'networks.n1.subnets[0].subnet',
  },
  'subnet with a zone': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: "fe80::%eth0/64" }] }'),
    at: 'networks.n1.subnets[0].subnet',
  },
  'gateway that is no address': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, gateway: 10.0.0.256 }] }'),
    at: 'networks.n1.subnets[0].gateway',
  },
  'IPv6 gateway of an IPv4 subnet': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, gateway: "fe80::1" }] }'),
    at: 'networks.n1.subnets[0].gateway',
  },
  'gateway with a prefix': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, gateway: 10.0.0.1/24 }] }'),
    at: 'networks.n1.subnets[0].gateway',
  },
  'IPv4 ip_range of an IPv6 subnet': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: "2001:db8::/64", ip_range: 10.0.0.0/28 }] }'),
    at: 'networks.n1.subnets[0].ip_range',
  },
  'ip_range not a CIDR': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, ip_range: 10.0.0.16 }] }'),
    at: 'networks.n1.subnets[0].ip_range',
  },
  'aux address that is no address': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, aux_addresses: { router: 10.0.0.256 } }] }',
    ),
    at: 'networks.n1.subnets[0].aux_addresses.router',
  },
  'IPv6 aux address of an IPv4 subnet': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, aux_addresses: { router: "fe80::1" } }] }',
    ),
    at: 'networks.n1.subnets[0].aux_addresses.router',
  },
  'IPv4 aux address of an IPv6 subnet': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: ipvlan, parent: eth0, subnets: [{ subnet: "2001:db8::/64", aux_addresses: { nas: 10.0.0.5 } }] }',
    ),
    at: 'networks.n1.subnets[0].aux_addresses.nas',
  },
  'aux address with a prefix': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: ipvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, aux_addresses: { nas: 10.0.0.5/24 } }] }',
    ),
    at: 'networks.n1.subnets[0].aux_addresses.nas',
  },
  'aux address that is a number': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, aux_addresses: { nas: 5 } }] }'),
    at: 'networks.n1.subnets[0].aux_addresses.nas',
  },
  'aux address with an empty name': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, aux_addresses: { "": 10.0.0.5 } }] }'),
    at: 'networks.n1.subnets[0].aux_addresses.',
  },
  'aux_addresses as a list': {
    yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24, aux_addresses: [10.0.0.5] }] }'),
    at: 'networks.n1.subnets[0].aux_addresses',
  },
  'ipv4 999.1.1.1': { yaml: y(V, NET(), EP(', ipv4: 999.1.1.1')), at: 'endpoints.e1.ipv4' },
  'ipv4 with a leading zero': { yaml: y(V, NET(), EP(', ipv4: 10.0.0.05')), at: 'endpoints.e1.ipv4' },
  'ipv4 with a prefix': { yaml: y(V, NET(), EP(', ipv4: 10.0.0.5/24')), at: 'endpoints.e1.ipv4' },
  'ipv4 that is IPv6': { yaml: y(V, NET(), EP(', ipv4: "2001:db8::5"')), at: 'endpoints.e1.ipv4' },
  "ipv6 'fe80::zz'": { yaml: y(V, NET(), EP(', ipv6: "fe80::zz"')), at: 'endpoints.e1.ipv6' },
  'ipv6 with a zone': { yaml: y(V, NET(), EP(', ipv6: "fe80::1%eth0"')), at: 'endpoints.e1.ipv6' },
  'ipv6 with two ::': { yaml: y(V, NET(), EP(', ipv6: "2001:db8::1::5"')), at: 'endpoints.e1.ipv6' },
  'ipv6 that is IPv4': { yaml: y(V, NET(), EP(', ipv6: 10.0.0.5')), at: 'endpoints.e1.ipv6' },
  'a 25-byte ifname': { yaml: y(V, NET(), EP(`, ifname: ${'i'.repeat(25)}`)), at: 'endpoints.e1.ifname' },
  'ifname with a colon': { yaml: y(V, NET(), EP(', ifname: "eth0:1"')), at: 'endpoints.e1.ifname' },
  'ifname ..': { yaml: y(V, NET(), EP(', ifname: ".."')), at: 'endpoints.e1.ifname' },
  'ifname empty': { yaml: y(V, NET(), EP(', ifname: ""')), at: 'endpoints.e1.ifname' },
  'parent lo': { yaml: y(V, 'networks:', '  n1: { driver: ipvlan, parent: lo }'), at: 'networks.n1.parent' },
  'parent longer than 15 bytes': {
    yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: enp0s20f0u1u2.100 }'),
    at: 'networks.n1.parent',
  },
  'parent NAME.VID with VID 5000': { yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0.5000 }'), at: 'networks.n1.parent' },
  'parent NAME.VID with VID 0': { yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0.0000 }'), at: 'networks.n1.parent' },
  'parent NAME.VID whose NAME is ..': { yaml: y(V, 'networks:', '  n1: { driver: macvlan, parent: ...5 }'), at: 'networks.n1.parent' },
  'vlan parent with whitespace': { yaml: y(V, 'vlans:', '  v1: { parent: "eth 0", id: 5 }'), at: 'vlans.v1.parent' },
  'vlan parent lo': { yaml: y(V, 'vlans:', '  v1: { parent: lo, id: 5 }'), at: 'vlans.v1.parent' },
  'vlan name longer than 15 bytes': { yaml: y(V, 'vlans:', '  averyverylongvlan: { parent: eth0, id: 5 }'), at: 'vlans.averyverylongvlan' },
  'vlan named for VLAN 0': { yaml: y(V, 'vlans:', '  eth0.0: { parent: eth0, id: 5 }'), at: 'vlans.eth0.0', validateAt: 'vlans.eth0.0.id' },
  'vlan id 4095': { yaml: y(V, 'vlans:', '  v1: { parent: eth0, id: 4095 }'), at: 'vlans.v1.id' },
  'vlan id 1.5': { yaml: y(V, 'vlans:', '  v1: { parent: eth0, id: 1.5 }'), at: 'vlans.v1.id' },
  'mtu 10': { yaml: y(V, NET(', mtu: 10')), at: 'networks.n1.mtu' },
  'an unknown key': { yaml: y(V, NET(', prent: eth0')), at: 'networks.n1.prent' },
  'an unknown key at the top': { yaml: y(V, 'network: {}'), at: 'network' },
  'version 2': { yaml: y('version: 2'), at: 'version' },
  'version missing': { yaml: y('vlans: {}'), at: 'version' },
  'a list for a map': { yaml: y(V, 'endpoints: []'), at: 'endpoints' },
  'a network name with a space': { yaml: y(V, 'networks:', '  "net 1": { driver: macvlan, parent: eth0 }'), at: 'networks.net 1' },
  'an endpoint name with @': { yaml: y(V, NET(), 'endpoints:', '  web@1: { network: n1, netns: w }'), at: 'endpoints.web@1' },
  'a network name whose owner mark is too long': {
    yaml: y(V, 'networks:', `  ${'n'.repeat(NETWORK_NAME_MAX + 1)}: { driver: macvlan, parent: eth0 }`),
    at: `networks.${'n'.repeat(NETWORK_NAME_MAX + 1)}`,
  },
  'an endpoint name whose owner mark is too long': {
    yaml: y(
      V,
      'networks:',
      '  n1: { driver: ipvlan, parent: x }',
      'endpoints:',
      `  ${'e'.repeat(ENDPOINT_NAME_MAX + 1)}: { network: n1, netns: x }`,
    ),
    at: `endpoints.${'e'.repeat(ENDPOINT_NAME_MAX + 1)}`,
  },
  'an endpoint of a network no network can be named': {
    yaml: y(V, NET(), 'endpoints:', '  e1: { network: "n 1", netns: x }'),
    at: 'endpoints.e1.network',
  },
  "mac 'zz:...'": { yaml: y(V, NET(), EP(', mac: "zz:00:00:00:00:01"')), at: 'endpoints.e1.mac' },
  'mac multicast': { yaml: y(V, NET(), EP(', mac: "01:00:5e:00:00:01"')), at: 'endpoints.e1.mac' },
  'mac all zeroes': { yaml: y(V, NET(), EP(', mac: "00:00:00:00:00:00"')), at: 'endpoints.e1.mac' },
  'mac with dashes': { yaml: y(V, NET(), EP(', mac: "02-00-00-00-00-01"')), at: 'endpoints.e1.mac' },
  'netns with a slash': { yaml: y(V, NET(), 'endpoints:', '  e1: { network: n1, netns: a/b }'), at: 'endpoints.e1.netns' },
  'netns ..': { yaml: y(V, NET(), 'endpoints:', '  e1: { network: n1, netns: ".." }'), at: 'endpoints.e1.netns' },
  'netns whose owner mark is too long': {
    yaml: y(V, NET(), 'endpoints:', `  e1: { network: n1, netns: ${'n'.repeat(NETNS_NAME_MAX + 1)} }`),
    at: 'endpoints.e1.netns',
  },
  'default_route: true in netns host': {
    yaml: y(V, NET(), 'endpoints:', '  e1: { network: n1, netns: host, default_route: true }'),
    at: 'endpoints.e1.default_route',
  },
  'default_route not a boolean': { yaml: y(V, NET(), EP(', default_route: "yes"')), at: 'endpoints.e1.default_route' },
  'hosts as a list': { yaml: y(V, 'hosts: [web-1]'), at: 'hosts' },
  'a host entry that is not a map': { yaml: y(V, 'hosts:', '  web-1: [e1]'), at: 'hosts.web-1' },
  'an unknown key in a host entry': { yaml: y(V, 'hosts:', '  web-1: { endpoint: {} }'), at: 'hosts.web-1.endpoint' },
  'an unknown key in match': { yaml: y(V, 'hosts:', '  g: { match: { host: web-1 } }'), at: 'hosts.g.match.host' },
  'match with no criterion': { yaml: y(V, 'hosts:', '  g: { match: {} }'), at: 'hosts.g.match' },
  'match with an empty list of host names': { yaml: y(V, 'hosts:', '  g: { match: { hostname: [] } }'), at: 'hosts.g.match.hostname' },
  'match with a host name that is a number': {
    yaml: y(V, 'hosts:', '  g: { match: { hostname: [web-1, 5] } }'),
    at: 'hosts.g.match.hostname[1]',
    validateAt: 'hosts.g.match.hostname',
  },
  'match with an empty labels map': { yaml: y(V, 'hosts:', '  g: { match: { labels: {} } }'), at: 'hosts.g.match.labels' },
  'a label value that is a number': { yaml: y(V, 'hosts:', '  g: { match: { labels: { rack: 1 } } }'), at: 'hosts.g.match.labels.rack' },
  'a machine id that is not 32 hexadecimal digits': {
    yaml: y(V, 'hosts:', '  g: { match: { machine_id: 0123456789abcdef } }'),
    at: 'hosts.g.match.machine_id',
  },
  'a machine id in a list that is not one': {
    yaml: y(V, 'hosts:', '  g: { match: { machine_id: [0123456789abcdef0123456789abcdef, nope] } }'),
    at: 'hosts.g.match.machine_id[1]',
  },
  "a host entry's endpoint with ipv4 999.1.1.1": {
    yaml: y(V, NET(), 'hosts:', '  web-1:', '    endpoints:', '      e1: { network: n1, netns: x, ipv4: 999.1.1.1 }'),
    at: 'hosts.web-1.endpoints.e1.ipv4',
  },
  "a host entry's network with mode l3 on macvlan": {
    yaml: y(V, 'hosts:', '  web-1:', '    networks:', '      n2: { driver: macvlan, parent: eth1, mode: l3 }'),
    at: 'hosts.web-1.networks.n2.mode',
  },
  "a host entry's vlan with id 4095": {
    yaml: y(V, 'hosts:', '  web-1:', '    vlans:', '      v1: { parent: eth0, id: 4095 }'),
    at: 'hosts.web-1.vlans.v1.id',
  },
  "a host entry's endpoint name with @": {
    yaml: y(V, NET(), 'hosts:', '  web-1:', '    endpoints:', '      web@1: { network: n1, netns: w }'),
    at: 'hosts.web-1.endpoints.web@1',
  },
  'ip_ranges that is no CIDR': { yaml: y(V, NET(), 'hosts:', '  web-1: { ip_ranges: { n1: 10.0.0.16 } }'), at: 'hosts.web-1.ip_ranges.n1' },
  'ip_ranges with an empty list': { yaml: y(V, NET(), 'hosts:', '  web-1: { ip_ranges: { n1: [] } }'), at: 'hosts.web-1.ip_ranges.n1' },
  'ip_ranges as a list': { yaml: y(V, NET(), 'hosts:', '  web-1: { ip_ranges: [10.0.0.0/28] }'), at: 'hosts.web-1.ip_ranges' },
};

for (const [name, { yaml, at, validateAt }] of Object.entries(BAD)) {
  test(`both reject: ${name}`, () => {
    const schema = schemaErrors(parse(yaml));
    assert.ok(schema, 'the schema accepts it');
    assert.ok(schema!.includes(at), `the schema rejects it elsewhere: ${schema!.join(', ')}`);
    const validate = validateErrors(yaml);
    assert.ok(validate, 'validate accepts it: the schema is stricter than validate');
    assert.ok(validate!.includes(validateAt ?? at), `validate rejects it elsewhere: ${validate!.join(', ')}`);
  });
}

test('a section with no value: validate reads it as none, the schema wants a map (the one place it is stricter)', () => {
  for (const section of ['vlans', 'networks', 'endpoints', 'hosts']) {
    const yaml = y(V, `${section}:`);
    assert.equal(validateErrors(yaml), null, section);
    assert.equal(schemaErrors(parse(yaml)), [section], section);
    assert.equal(schemaErrors(parse(y(V, `${section}: {}`))), null, section);
  }
});

// --- what both accept ----------------------------------------------------------------------------

const GOOD: Record<string, string> = {
  'the least there is': y(V),
  'empty sections': y(V, 'vlans: {}', 'networks: {}', 'endpoints: {}'),
  'ipvlan l3s with a flag, no subnets': y(V, 'networks:', '  n1: { driver: ipvlan, parent: eth0, mode: l3s, flag: private, subnets: [] }'),
  'macvlan passthru with its one endpoint': y(
    V,
    'networks:',
    '  n1: { driver: macvlan, parent: eth0, mode: passthru }',
    'endpoints:',
    '  e1: { network: n1 }',
  ),
  'internal with no parent, internal: false with one': y(
    V,
    'networks:',
    '  a: { driver: ipvlan, internal: true, mode: l3 }',
    '  b: { driver: ipvlan }',
    '  c: { driver: macvlan, parent: eth0, internal: false }',
  ),
  'NAME.VID parents at the ends of the range, with leading zeros, and names with dots': y(
    V,
    'vlans:',
    '  eth1.0050: { parent: eth1, id: 50 }',
    '  my.vlan: { parent: eth1, id: 60 }',
    'networks:',
    '  a: { driver: macvlan, parent: eth0.1 }',
    '  b: { driver: macvlan, parent: eth0.4094 }',
    '  c: { driver: macvlan, parent: eth1.0050 }',
    '  d: { driver: macvlan, parent: my.vlan }',
    '  e: { driver: macvlan, parent: a.b.c }',
    '  f: { driver: macvlan, parent: ....7 }',
  ),
  'addresses in every form ip-address reads': y(
    V,
    'networks:',
    '  n1:',
    '    driver: macvlan',
    '    parent: eth0',
    '    subnets:',
    '      - { subnet: 10.0.0.0/08, ip_range: 10.1.0.0/16, gateway: 10.0.0.254 }',
    '      - { subnet: "2001:0DB8:0:0::/064", ip_range: "2001:db8::ff00/120", gateway: "fe80::1" }',
    '      - { subnet: "::ffff:192.168.0.0/120", gateway: "::ffff:192.168.0.254" }',
    '      - { subnet: 192.168.9.2/31 }',
    'endpoints:',
    '  e1: { network: n1, ipv4: 10.255.255.1, ipv6: "2001:db8::0:a", mac: "02:AB:cd:00:00:01" }',
    '  e2: { network: n1, ipv4: 192.168.9.3, ipv6: "2001:db8:0:0:0:0:0:b" }',
    '  e3: { network: n1, netns: e1, ifname: eth1, ipv6: "::ffff:192.168.0.5", default_route: false }',
  ),
  'aux addresses in both families, inside ip_range or not, under any name': y(
    V,
    'networks:',
    '  n1:',
    '    driver: macvlan',
    '    parent: eth0',
    '    subnets:',
    '      - subnet: 10.0.0.0/24',
    '        ip_range: 10.0.0.128/25',
    '        aux_addresses: { router: 10.0.0.254, old printer: 10.0.0.9, "1": 10.0.0.10, a.b-c_d: 10.0.0.11 }',
    '      - subnet: "2001:db8::/64"',
    '        aux_addresses: { router: "2001:db8::fe", mapped: "2001:db8::10.0.0.1" }',
    '  n2: { driver: ipvlan, subnets: [{ subnet: 10.1.0.0/31, aux_addresses: { peer: 10.1.0.0 } }, { subnet: 10.2.0.0/24, aux_addresses: {} }] }',
  ),
  'gateways that are ignored with a warning': y(
    V,
    'networks:',
    '  n1: { driver: ipvlan, parent: eth0, mode: l3, subnets: [{ subnet: 10.0.0.0/24, gateway: 10.0.0.1 }] }',
  ),
  'netns host, names at their limits': y(
    V,
    'networks:',
    `  ${'n'.repeat(NETWORK_NAME_MAX)}: { driver: ipvlan, parent: x }`,
    'endpoints:',
    `  ${'e'.repeat(ENDPOINT_NAME_MAX)}: { network: ${'n'.repeat(NETWORK_NAME_MAX)}, netns: ${'s'.repeat(NETNS_NAME_MAX)}, ifname: ${'i'.repeat(IFNAME_MAX_BYTES)} }`,
    `  h.1-a_b: { network: ${'n'.repeat(NETWORK_NAME_MAX)}, netns: host, ifname: host1, default_route: false }`,
    `  h2: { network: ${'n'.repeat(NETWORK_NAME_MAX)}, netns: host, ifname: host2 }`,
  ),
  'a fleet: shared sections, host entries by name, groups by names, machine ids and labels, per-host ranges': y(
    V,
    'networks:',
    '  lan: { driver: macvlan, parent: eth0, subnets: [{ subnet: 10.0.0.0/24 }, { subnet: "2001:db8::/64" }] }',
    'hosts:',
    '  web-1:',
    '    ip_ranges: { lan: [10.0.0.16/28, "2001:db8::100/120"] }',
    '    endpoints:',
    '      w1: { network: lan, ipv4: 10.0.0.5 }',
    '      w1b: { network: lan }',
    '  web-2:',
    '    ip_ranges: { lan: 10.0.0.32/28 }',
    '    vlans: { eth0.70: { parent: eth0, id: 70 } }',
    '    networks: { backup: { driver: macvlan, parent: eth0.70 } }',
    '    endpoints: { w2: { network: backup } }',
    '  one-host: { match: { hostname: db-1, machine_id: 0123456789ABCDEF0123456789abcdef } }',
    '  by-labels: { match: { hostname: [db-1, db-2], machine_id: [0123456789abcdef0123456789abcdef], labels: { rack: a, "role": db } } }',
    '  empty: {}',
  ),
  'interface names beyond ASCII': y(
    V,
    'networks:',
    '  n1: { driver: macvlan, parent: "éth0" }',
    'endpoints:',
    '  e1: { network: n1, ifname: "网卡" }',
  ),
};

for (const [name, yaml] of Object.entries(GOOD)) {
  test(`both accept, and zod agrees: ${name}`, () => {
    assert.equal(validateErrors(yaml), null);
    assert.ok(ConfigInput.safeParse(parse(yaml)).success, 'zod');
    assert.equal(schemaErrors(parse(yaml)), null);
  });
}

// --- the patterns, against the checks they state -------------------------------------------------

/** mulberry32: the corpora below are random but the same on every run. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}

const matches = (pattern: string, s: string) => new RegExp(pattern, 'u').test(s);
const ascii = (s: string) => [...s].every((c) => c.charCodeAt(0) < 128);

test('decimalRange: exactly the numbers min–max', () => {
  for (const [min, max] of [
    [1, 4094],
    [68, 65535],
    [0, 0],
    [7, 1234],
    [10, 99],
  ] as const) {
    const re = new RegExp(`^(?:${decimalRange(min, max)})$`);
    for (let n = 0; n <= 70000; n++) assert.is(re.test(String(n)), n >= min && n <= max, `${n} in ${min}–${max}`);
  }
});

/** Addresses as people write them, right and wrong. */
function addressCorpus(): string[] {
  const r = random(4);
  const octets = ['0', '1', '9', '10', '99', '100', '199', '200', '249', '250', '255', '256', '300', '01', '00', '1000', 'a', '', ' 1'];
  const groups = ['0', '1', 'ff', 'FFFF', '0db8', '0000', '00000', '12345', 'g', '', '1.2.3.4', '01.2.3.4', '256.1.1.1', '1.2.3'];
  const out = new Set<string>([
    '::',
    '::1',
    '1::',
    ':1',
    '1:',
    ':::',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7::',
    '::2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8::',
    '1::2:3:4:5:6:7:8',
    '1:2:3:4:5:6::1.2.3.4',
    '1:2:3:4:5::1.2.3.4',
    '::ffff:1.2.3.4',
    '1.2.3.4::',
    '[::1]',
    'fe80::1%eth0',
    '1.2.3.4%x',
    '1.2.3.4\n',
  ]);
  for (let i = 0; i < 3000; i++) {
    const n = 2 + r.int(4);
    out.add(Array.from({ length: n }, () => r.pick(octets)).join('.'));
    const g = Array.from({ length: 1 + r.int(9) }, () => r.pick(groups));
    if (r.int(3) > 0) g.splice(r.int(g.length + 1), 0, '');
    let text = g.join(':');
    if (r.int(4) === 0) text = `::${text}`;
    out.add(text);
  }
  return [...out];
}

test('IPV4_PATTERN and IPV6_PATTERN accept exactly what parseAddress does', () => {
  for (const s of addressCorpus()) {
    assert.is(matches(IPV4_PATTERN, s), parseAddress(s, 4).error === null, `IPv4 ${JSON.stringify(s)}`);
    assert.is(matches(IPV6_PATTERN, s), parseAddress(s, 6).error === null, `IPv6 ${JSON.stringify(s)}`);
  }
});

test('the CIDR patterns accept exactly what parseCidr does, host bits aside', () => {
  const prefixes = ['0', '8', '08', '24', '31', '32', '33', '064', '099', '100', '128', '129', '0128', '', '-1', '+1', '1/2', '24 '];
  const r = random(6);
  for (const address of addressCorpus()) {
    const s = `${address}/${r.pick(prefixes)}`;
    const parsed = parseCidr(s);
    const ok = parsed.error === null || parsed.error.includes('has host bits set');
    assert.is(matches(IPV4_CIDR_PATTERN, s) || matches(IPV6_CIDR_PATTERN, s), ok, JSON.stringify(s));
    assert.is(matches(IPV4_CIDR_PATTERN, s), ok && !s.includes(':'), JSON.stringify(s));
  }
});

/** Names as people write them, right and wrong: short and around the limits. */
function nameCorpus(seed: number): string[] {
  const r = random(seed);
  const chars = ['a', 'e', 'l', 'o', 't', 'h', '0', '1', '4', '5', '9', '.', '.', '-', '_', '/', ':', '%', ' ', '\t', '\n', 'é', '\0', '@'];
  const out = new Set([
    '',
    '.',
    '..',
    '...',
    'lo',
    'lo0',
    'lo.5',
    '..5',
    '...5',
    '....5',
    '.5',
    'eth0.0',
    'eth0.4094',
    'eth0.4095',
    'x.0050',
  ]);
  for (let i = 0; i < 1500; i++) {
    const length = r.pick([1, 2, 3, 4, 6, 8, 14, 15, 16, 17]);
    out.add(Array.from({ length }, () => r.pick(chars)).join(''));
    out.add(`${'eth'.slice(0, r.int(4))}${r.pick(['', '.', '..'])}.${r.int(10) === 0 ? '' : '0'.repeat(r.int(3))}${r.int(5000)}`);
  }
  return [...out];
}

test('IFNAME_PATTERN with maxLength: what ifnameProblem accepts (exactly, for ASCII names)', () => {
  for (const s of nameCorpus(8)) {
    const schema = matches(IFNAME_PATTERN, s) && [...s].length <= IFNAME_MAX_BYTES;
    const checks = ifnameProblem(s) === null;
    if (checks) assert.ok(schema, JSON.stringify(s));
    if (ascii(s)) assert.is(schema, checks, JSON.stringify(s));
  }
});

test('NETNS_PATTERN with maxLength: what netnsProblem accepts (exactly, for ASCII names)', () => {
  const r = random(10);
  for (const base of nameCorpus(10)) {
    const s = r.int(4) === 0 ? base.padEnd(NETNS_NAME_MAX + r.int(3) - 1, 'n') : base;
    const schema = matches(NETNS_PATTERN, s) && [...s].length <= NETNS_NAME_MAX;
    const checks = netnsProblem(s, netnsMark(s)) === null;
    if (checks) assert.ok(schema, JSON.stringify(s));
    if (ascii(s)) assert.is(schema, checks, JSON.stringify(s));
  }
});

/** A config around one written value, as JSON (which is YAML). */
const PLACES: Record<string, (s: string) => unknown> = {
  'a network parent': (s) => ({ version: 1, networks: { n1: { driver: 'macvlan', parent: s } } }),
  'a vlan parent': (s) => ({ version: 1, vlans: { v1: { parent: s, id: 5 } } }),
  // named NAME.VID, it must have VID as its id: the corpus's ids are the ones the name says, when it says one
  'a vlan name': (s) => ({ version: 1, vlans: { [s]: { parent: 'eth9', id: Number(/\.(\d+)$/.exec(s)?.[1] ?? 5) || 5 } } }),
  'an endpoint ifname': (s) => ({
    version: 1,
    networks: { n1: { driver: 'macvlan', parent: 'eth0' } },
    endpoints: { e1: { network: 'n1', netns: 'x', ifname: s } },
  }),
  'a netns': (s) => ({
    version: 1,
    networks: { n1: { driver: 'macvlan', parent: 'eth0' } },
    endpoints: { e1: { network: 'n1', netns: s } },
  }),
  'a network name': (s) => ({ version: 1, networks: { [s]: { driver: 'macvlan', parent: 'eth0' } } }),
  'an endpoint name': (s) => ({
    version: 1,
    networks: { n1: { driver: 'ipvlan', parent: 'x' } },
    endpoints: { [s]: { network: 'n1', netns: 'x' } },
  }),
};

for (const [place, config] of Object.entries(PLACES)) {
  test(`${place}: the schema rejects a name exactly when validate does (ASCII), never when validate accepts`, () => {
    const r = random(12);
    const corpus = nameCorpus(12);
    const long = [NETWORK_NAME_MAX, ENDPOINT_NAME_MAX, NETNS_NAME_MAX].flatMap((n) => [n - 1, n, n + 1].map((l) => 'x'.repeat(l)));
    for (const s of [...corpus.filter(() => r.int(3) === 0), ...long]) {
      const js = config(s);
      const schema = schemaErrors(js) === null;
      const checks = validateErrors(`${JSON.stringify(js)}\n`) === null;
      if (checks) assert.ok(schema, `the schema rejects ${JSON.stringify(s)}, validate accepts it`);
      if (ascii(s)) assert.is(schema, checks, JSON.stringify(s));
    }
  });
}

test('addresses in an endpoint, a subnet and its aux addresses: the schema never rejects what validate accepts', () => {
  const wide = (extra: object) => ({
    version: 1,
    networks: { n1: { driver: 'macvlan', parent: 'eth0', subnets: [{ subnet: '0.0.0.0/0' }, { subnet: '::/0' }] } },
    endpoints: { e1: { network: 'n1', netns: 'x', ...extra } },
  });
  const r = random(14);
  for (const s of addressCorpus().filter(() => r.int(4) === 0)) {
    const aux = (subnet: string) => ({
      version: 1,
      networks: { n1: { driver: 'macvlan', parent: 'eth0', subnets: [{ subnet, aux_addresses: { x: s } }] } },
    });
    for (const js of [
      wide({ ipv4: s }),
      wide({ ipv6: s }),
      aux('0.0.0.0/0'),
      aux('::/0'),
      {
        version: 1,
        networks: { n1: { driver: 'macvlan', parent: 'eth0', subnets: [{ subnet: `${s}/${r.pick(['0', '24', '64', '128'])}` }] } },
      },
    ]) {
      if (validateErrors(`${JSON.stringify(js)}\n`) === null) assert.equal(schemaErrors(js), null, JSON.stringify(js));
    }
  }
});

// --- defaults ------------------------------------------------------------------------------------

test('every default the schema states is the one normalise fills in', () => {
  const schema = committed();
  const stated: string[] = [];
  const walk = (node: unknown, path: string) => {
    if (typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === 'default') stated.push(`${path} = ${JSON.stringify(child)}`);
      else walk(child, `${path}/${key}`);
    }
  };
  walk(schema, '');
  const load = (yaml: string) => {
    const { config, diagnostics } = loadConfig(yaml, 't.yaml');
    assert.ok(config, JSON.stringify(diagnostics));
    return config!;
  };
  const net = (n: string) => load(y(V, 'networks:', `  n1: { ${n} }`)).networks[0]!;
  const ep = (e: string) =>
    load(y(V, 'networks:', '  n1: { driver: macvlan, parent: eth0 }', 'endpoints:', `  e1: { network: n1${e} }`)).endpoints[0]!;
  const empty = load(y(V));
  const N = '/properties/networks/additionalProperties';
  const E = '/properties/endpoints/additionalProperties';
  const actual = [
    `/properties/vlans = ${JSON.stringify(empty.vlans.length === 0 ? {} : null)}`,
    `/properties/networks = ${JSON.stringify(empty.networks.length === 0 ? {} : null)}`,
    `/properties/endpoints = ${JSON.stringify(empty.endpoints.length === 0 ? {} : null)}`,
    `/properties/hosts = ${JSON.stringify(loadConfig(y(V, 'hosts: {}'), 't.yaml').hosts === undefined ? {} : null)}`,
    `${N}/properties/subnets = ${JSON.stringify(net('driver: macvlan, parent: eth0').subnets)}`,
    `${N}/properties/host_access = ${JSON.stringify(net('driver: macvlan, parent: eth0').hostAccess !== null)}`,
    `${N}/allOf/0/then/properties/mode = ${JSON.stringify(net('driver: macvlan, parent: eth0').mode)}`,
    `${N}/allOf/1/then/properties/mode = ${JSON.stringify(net('driver: ipvlan, parent: eth0').mode)}`,
    `${N}/allOf/1/then/properties/flag = ${JSON.stringify(net('driver: ipvlan, parent: eth0').flag)}`,
    `${N}/allOf/2/then/properties/internal = ${JSON.stringify(net('driver: ipvlan, parent: eth0').internal)}`,
    `${N}/allOf/2/else/properties/internal = ${JSON.stringify(net('driver: ipvlan').internal)}`,
    `${E}/properties/ifname = ${JSON.stringify(ep('').ifname)}`,
    `${E}/allOf/0/then/properties/default_route = ${JSON.stringify(ep(', netns: host, ifname: h0').defaultRoute)}`,
  ];
  assert.equal(stated.sort(), actual.sort());
});

test.run();
