// What operators write in /etc/vlannet.yaml (version 1): the single source of truth for the shape
// of the file. Defaults are not filled in here but by normalise.ts, so the schema describes the
// input as written; every description names the default. Cross-field checks are in rules.ts.
// schemas/vlannet.schema.json is generated from this file (schema-gen.ts).

import * as z from 'zod/mini';
import { en } from 'zod/locales';
import { IPVLAN_FLAGS, IPVLAN_MODES, MACVLAN_MODES } from '../model/types.js';

// zod/mini: the same schemas and checks as zod's chainable API in a fraction of its start-up cost
// (it is loaded by every command that reads a config). Messages vlannet does not write itself
// come from zod's English locale, which the full API would have loaded.
z.config(en());

/** A schema with its description (the JSON Schema's `description`). */
const described = <T extends z.ZodMiniType>(schema: T, description: string): T => schema.check(z.describe(description)) as T;

export const VLAN_ID_MIN = 1;
export const VLAN_ID_MAX = 4094;
export const MTU_MIN = 68;
export const MTU_MAX = 65535;
/** Six octets, colon separated, e.g. 02:00:00:00:50:10. */
export const MAC_PATTERN = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

export const DRIVERS = ['macvlan', 'ipvlan'] as const;
const ALL_MODES = [...new Set([...MACVLAN_MODES, ...IPVLAN_MODES])] as [string, ...string[]];

const vlanId = z
  .int({ error: (i) => `expected a whole number for a VLAN id, got ${show(i.input)}` })
  .check(
    z.minimum(VLAN_ID_MIN, { error: (i) => `VLAN id ${show(i.input)} is outside ${VLAN_ID_MIN}–${VLAN_ID_MAX}` }),
    z.maximum(VLAN_ID_MAX, { error: (i) => `VLAN id ${show(i.input)} is outside ${VLAN_ID_MIN}–${VLAN_ID_MAX}` }),
  );

const mtu = z
  .int({ error: (i) => `expected a whole number for an MTU, got ${show(i.input)}` })
  .check(
    z.minimum(MTU_MIN, { error: (i) => `MTU ${show(i.input)} is outside ${MTU_MIN}–${MTU_MAX}` }),
    z.maximum(MTU_MAX, { error: (i) => `MTU ${show(i.input)} is outside ${MTU_MIN}–${MTU_MAX}` }),
  );

const text = (what: string) => z.string({ error: (i) => `expected ${what} (a string), got ${show(i.input)}` });

export const VlanInput = described(
  z.strictObject({
    parent: described(text('an interface name'), 'The link the 802.1q link is created on, e.g. `eth0`. Required.'),
    id: described(vlanId, `The 802.1q VLAN id, ${VLAN_ID_MIN}–${VLAN_ID_MAX}. Required.`),
    mtu: described(z.optional(mtu), `MTU of the vlan link, ${MTU_MIN}–${MTU_MAX}. Default: the kernel's (inherited from the parent).`),
  }),
  'An 802.1q link vlannet creates and owns. The key is the link name (any valid interface name).',
);

export const SubnetInput = described(
  z.strictObject({
    subnet: described(text('a CIDR'), 'The subnet in CIDR notation, IPv4 or IPv6, host bits clear, e.g. `192.168.50.0/24`. Required.'),
    gateway: described(
      z.optional(text('an address')),
      'The gateway address (no prefix), inside the subnet (IPv6 may also be link-local fe80::/10); no endpoint gets it automatically. ' +
        'Default: the first usable address of the subnet; none for /31, /32, /127 and /128. ' +
        "On ipvlan l3/l3s and internal networks it is no route's next hop, only reserved, as Docker's IPAM does (a warning says so when it is given there).",
    ),
    ip_range: described(
      z.optional(text('a CIDR')),
      'Pool inside the subnet for automatic addresses, in CIDR notation. Default: the whole subnet.',
    ),
    aux_addresses: described(
      z.optional(
        z.record(text('a name'), text('an address'), {
          error: (i) => `expected a map of names to addresses (router: 192.168.50.254), got ${show(i.input)}`,
        }),
      ),
      "Addresses of other devices (a router, a printer) that no endpoint gets, automatically or as its ipv4/ipv6, by name, as Docker's " +
        '`--aux-address NAME=ADDRESS`: each inside the subnet (ip_range or not), not its network, broadcast or gateway address. Default: none.',
    ),
  }),
  'One subnet of a network.',
);

export const HostAccessInput = described(
  z.strictObject({
    ifname: described(
      z.optional(text('an interface name')),
      "Its name in vlannet's own namespace. Default: vh- and the network's name (shortened with a hash to 15 bytes).",
    ),
    ipv4: described(
      z.optional(text('an IPv4 address')),
      "The host's IPv4 address on the network (no prefix). Default: automatic, from the network's first IPv4 subnet, as an endpoint's.",
    ),
    ipv6: described(
      z.optional(text('an IPv6 address')),
      "The host's IPv6 address on the network (no prefix). Default: automatic, from the network's first IPv6 subnet.",
    ),
  }),
  'Host access with a chosen name or addresses.',
);

export const NetworkInput = described(
  z.strictObject({
    driver: described(
      z.enum(DRIVERS, { error: (i) => `expected driver ${DRIVERS.join(' or ')}, got ${show(i.input)}` }),
      'macvlan or ipvlan. Required.',
    ),
    parent: described(
      z.optional(text('an interface name')),
      'The link endpoints attach to: an existing link (used, never changed), a `vlans:` entry, or NAME.VID ' +
        '(an 802.1q link vlannet creates when no such link exists). Default: none, the network is internal, on a dummy link vlannet owns.',
    ),
    internal: described(
      z.optional(z.boolean({ error: (i) => `expected true or false, got ${show(i.input)}` })),
      'Isolate the network on a dummy link vlannet owns (no parent allowed). Default: false, true when parent is omitted.',
    ),
    mode: described(
      z.optional(z.enum(ALL_MODES, { error: (i) => `expected a mode (${ALL_MODES.join(', ')}), got ${show(i.input)}` })),
      `macvlan: ${MACVLAN_MODES.join('|')}; ipvlan: ${IPVLAN_MODES.join('|')}. Default: bridge for macvlan, l2 for ipvlan.`,
    ),
    flag: described(
      z.optional(z.enum(IPVLAN_FLAGS, { error: (i) => `expected a flag (${IPVLAN_FLAGS.join(', ')}), got ${show(i.input)}` })),
      `ipvlan only: ${IPVLAN_FLAGS.join('|')}. Default: bridge.`,
    ),
    mtu: described(z.optional(mtu), `MTU of the endpoints, ${MTU_MIN}–${MTU_MAX}. Default: the kernel's (inherited from the parent).`),
    subnets: described(
      z.optional(z.array(SubnetInput, { error: (i) => `expected a list of subnets, got ${show(i.input)}` })),
      'IPv4 and IPv6 subnets of the network. Default: none (endpoints get no addresses).',
    ),
    host_access: described(
      z.optional(
        z.union([z.boolean(), HostAccessInput], {
          error: (i) => `expected true, false or a map (ifname, ipv4, ipv6), got ${show(i.input)}`,
        }),
      ),
      'Let the host reach the endpoints (the kernel does not pass frames between a parent and its macvlan or ipvlan children): ' +
        "vlannet keeps a link of the network's driver in its own namespace on the parent, with an address of the network and a route to " +
        'each endpoint through it; endpoints reach the host at that address. macvlan bridge or ipvlan l2 networks with a parent. ' +
        'true, or a map to choose its name and addresses. Default: false.',
    ),
  }),
  'A macvlan or ipvlan network. The key is the network name ([A-Za-z0-9_.-]+).',
);

export const EndpointInput = described(
  z.strictObject({
    network: described(text('a network name'), 'The network (a key of `networks:`). Required.'),
    netns: described(
      z.optional(text('a namespace name')),
      "Named network namespace (/run/netns/NAME) the link is created in; `host` is vlannet's own namespace. Default: the endpoint's name.",
    ),
    ifname: described(z.optional(text('an interface name')), 'Interface name inside the namespace. Default: eth0.'),
    ipv4: described(
      z.optional(text('an IPv4 address')),
      "Static IPv4 address (no prefix). Default: automatic, from the pool of the network's first IPv4 subnet (none when it has none).",
    ),
    ipv6: described(
      z.optional(text('an IPv6 address')),
      "Static IPv6 address (no prefix). Default: automatic, from the network's first IPv6 subnet (none when it has none).",
    ),
    mac: described(
      z.optional(
        z
          .string({ error: (i) => `expected a MAC address (a string), got ${show(i.input)}` })
          .check(z.regex(MAC_PATTERN, { error: (i) => `expected a MAC address like 02:00:00:00:50:10, got ${show(i.input)}` })),
      ),
      'macvlan only: unicast MAC address of the link. Default: chosen by the kernel.',
    ),
    default_route: described(
      z.optional(z.boolean({ error: (i) => `expected true or false, got ${show(i.input)}` })),
      "Route the namespace's default traffic through this endpoint. Default: true; false for internal networks and for netns `host` (the host's default route is never touched).",
    ),
  }),
  'A macvlan/ipvlan link in a namespace. The key is the endpoint name ([A-Za-z0-9_.-]+).',
);

// A section written with no value (`endpoints:` and nothing under it, e.g. every entry commented
// out) is YAML null. vlannet reads it as none, as it always has: a file the daemon runs on must not
// turn invalid on an upgrade, and a section emptied by commenting out its entries means "none" to
// whoever wrote it. The published JSON Schema (schema-gen.ts) states only the map, so editors
// propose `{}` and no spurious null; that is the one place the JSON Schema is stricter than
// `vlannet validate`.
const named = <T extends z.ZodMiniType>(item: T, what: string) =>
  z.optional(z.nullable(z.record(z.string(), item, { error: (i) => `expected a map of ${what} by name, got ${show(i.input)}` })));

/** /etc/machine-id: 32 hexadecimal digits (machine-id(5) writes them in lower case; either case matches). */
export const MACHINE_ID_PATTERN = /^[0-9A-Fa-f]{32}$/;

/** One value or a list of them (`what`: the singular noun, `a` as its article); an empty list is refused. */
const oneOrMore = <T extends z.ZodMiniType>(item: T, what: string) =>
  z.union([item, z.array(item).check(z.minLength(1, { error: `an empty list: give one ${what} or more, or leave the key out` }))], {
    error: (i) => {
      const list: unknown[] = Array.isArray(i.input) ? i.input : [];
      const wrong = list.findIndex((x) => typeof x !== 'string');
      return wrong >= 0
        ? `expected a list of ${what}s, got ${show(list[wrong])} as item ${wrong + 1}`
        : `expected a ${what} or a list of them, got ${show(i.input)}`;
    },
  });

export const HostMatchInput = described(
  z
    .strictObject({
      hostname: described(
        z.optional(oneOrMore(text('a host name'), 'host name')),
        'Host names (as the kernel reports them, `uname -n`, compared exactly) the entry applies to: one, or a list. Default: none.',
      ),
      machine_id: described(
        z.optional(
          oneOrMore(
            z
              .string({ error: (i) => `expected a machine id (a string; quote one that YAML reads as a number), got ${show(i.input)}` })
              .check(
                z.regex(MACHINE_ID_PATTERN, {
                  error: (i) => `expected a machine id, 32 hexadecimal digits as in /etc/machine-id, got ${show(i.input)}`,
                }),
              ),
            'machine id',
          ),
        ),
        'Machine ids (/etc/machine-id, 32 hexadecimal digits, compared without regard to case) the entry applies to: one, or a list. Default: none.',
      ),
      labels: described(
        z.optional(
          z
            .record(
              z.string(),
              z.string({ error: (i) => `expected a label value (a string; quote one that YAML reads otherwise), got ${show(i.input)}` }),
              { error: (i) => `expected a map of labels (rack: a), got ${show(i.input)}` },
            )
            .check(
              z.refine((labels) => Object.keys(labels).length > 0, {
                error: 'an empty labels map would match every host: put what every host gets in the shared sections, or give labels',
              }),
            ),
        ),
        'Labels (given with `--label KEY=VALUE`) the entry applies to: a host matches when it has every one of them, with these values. Default: none.',
      ),
    })
    .check(
      z.refine((m) => m.hostname !== undefined || m.machine_id !== undefined || m.labels !== undefined, {
        error: 'match needs at least one of hostname, machine_id and labels (an entry that matches nothing would never apply)',
      }),
    ),
  'Which hosts the entry applies to: a host that matches ANY of the criteria given (one of the host names, one of the machine ids, ' +
    'or all of the labels). With match, the entry applies only by it: its key is then just the name of the group.',
);

export const HostInput = described(
  z.strictObject({
    match: described(
      z.optional(HostMatchInput),
      'Which hosts the entry applies to, instead of the host its key names (the key is then just the name of the group): a host ' +
        'whose name is one of hostname, OR whose machine id is one of machine_id, OR that has every label of labels. ' +
        "Default: none: the entry applies to the host whose name (`uname -n`) is the entry's key.",
    ),
    vlans: described(
      named(VlanInput, 'vlans'),
      'More 802.1q links, on the hosts the entry applies to, by link name (unique across the whole file). Default: none.',
    ),
    networks: described(
      named(NetworkInput, 'networks'),
      'More networks, on the hosts the entry applies to, by name (unique across the whole file). Default: none.',
    ),
    endpoints: described(
      named(EndpointInput, 'endpoints'),
      'More endpoints, on the hosts the entry applies to, by name (unique across the whole file). Default: none.',
    ),
    ip_ranges: described(
      z.optional(
        z.record(z.string(), oneOrMore(text('a CIDR'), 'CIDR'), {
          error: (i) => `expected a map of network names to CIDRs (lan: 192.168.50.64/27), got ${show(i.input)}`,
        }),
      ),
      'The pool automatic addresses come from on the hosts the entry applies to, by network: a CIDR (or one per family) inside ' +
        "the network's first subnet of its family, in place of that subnet's ip_range. Hosts allocate automatic addresses each on its own, " +
        'so hosts on one wire need pools that do not overlap. Default: none (the ip_range of the network).',
    ),
  }),
  'What one host, or a group of hosts, gets besides the shared sections. The key is the host name (`uname -n`) the entry ' +
    'applies to, or with match the name of a group. A host gets the shared vlans, networks and endpoints plus those of every entry ' +
    'that applies to it.',
);

export const ConfigInput = described(
  z.strictObject({
    version: described(
      z.literal(1, { error: (i) => `expected version: 1, got ${show(i.input)}` }),
      'Format version of the file; must be 1. Required, so that an empty or truncated file is never read as "own nothing".',
    ),
    vlans: described(named(VlanInput, 'vlans'), '802.1q links vlannet creates and owns, by link name. Default: none.'),
    networks: described(named(NetworkInput, 'networks'), 'Networks by name. Default: none.'),
    endpoints: described(named(EndpointInput, 'endpoints'), 'Endpoints by name. Default: none (an empty config owns nothing).'),
    hosts: described(
      named(HostInput, 'host entries'),
      'One file for many hosts: vlans, networks and endpoints only some hosts get, by host name or group. vlans, networks and ' +
        'endpoints above are shared: every host gets them. Names of vlans, networks and endpoints are unique across the whole file. ' +
        'A command resolves the file for the host it runs on (its host name, /etc/machine-id, and --label), or the one --host names; ' +
        'validate without --host checks every host the file names. A host no entry applies to is refused (the shared part alone ' +
        'would remove what an entry made there before): give it an entry, `NAME: {}` for the shared part alone. ' +
        'Default: none (the file is for any host alike).',
    ),
  }),
  'vlannet configuration (/etc/vlannet.yaml), version 1.',
);

export type ConfigInput = z.infer<typeof ConfigInput>;
export type VlanInput = z.infer<typeof VlanInput>;
export type NetworkInput = z.infer<typeof NetworkInput>;
export type SubnetInput = z.infer<typeof SubnetInput>;
export type EndpointInput = z.infer<typeof EndpointInput>;
export type HostInput = z.infer<typeof HostInput>;
export type HostMatchInput = z.infer<typeof HostMatchInput>;

/** A value as it appears in a message: strings quoted, the rest as YAML would show it. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}
