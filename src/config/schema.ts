// What operators write in /etc/vlannet.yaml (version 1): the single source of truth for the shape
// of the file. Defaults are not filled in here but by normalise.ts, so the schema describes the
// input as written; every description names the default. Cross-field checks are in rules.ts.
// schemas/vlannet.schema.json is generated from this file (schema-gen.ts).

import * as z from 'zod';
import { IPVLAN_FLAGS, IPVLAN_MODES, MACVLAN_MODES } from '../model/types.js';

export const VLAN_ID_MIN = 1;
export const VLAN_ID_MAX = 4094;
export const MTU_MIN = 68;
export const MTU_MAX = 65535;
/** Six octets, colon separated, e.g. 02:00:00:00:50:10. */
export const MAC_PATTERN = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

const ALL_MODES = [...new Set([...MACVLAN_MODES, ...IPVLAN_MODES])] as [string, ...string[]];

const vlanId = z
  .int({ error: (i) => `expected a whole number for a VLAN id, got ${show(i.input)}` })
  .min(VLAN_ID_MIN, { error: (i) => `VLAN id ${show(i.input)} is outside ${VLAN_ID_MIN}–${VLAN_ID_MAX}` })
  .max(VLAN_ID_MAX, { error: (i) => `VLAN id ${show(i.input)} is outside ${VLAN_ID_MIN}–${VLAN_ID_MAX}` });

const mtu = z
  .int({ error: (i) => `expected a whole number for an MTU, got ${show(i.input)}` })
  .min(MTU_MIN, { error: (i) => `MTU ${show(i.input)} is outside ${MTU_MIN}–${MTU_MAX}` })
  .max(MTU_MAX, { error: (i) => `MTU ${show(i.input)} is outside ${MTU_MIN}–${MTU_MAX}` });

const text = (what: string) => z.string({ error: (i) => `expected ${what} (a string), got ${show(i.input)}` });

export const VlanInput = z
  .strictObject({
    parent: text('an interface name').describe('The link the 802.1q link is created on, e.g. `eth0`. Required.'),
    id: vlanId.describe(`The 802.1q VLAN id, ${VLAN_ID_MIN}–${VLAN_ID_MAX}. Required.`),
    mtu: mtu.optional().describe(`MTU of the vlan link, ${MTU_MIN}–${MTU_MAX}. Default: the kernel's (inherited from the parent).`),
  })
  .describe('An 802.1q link vlannet creates and owns. The key is the link name (any valid interface name).');

export const SubnetInput = z
  .strictObject({
    subnet: text('a CIDR').describe('The subnet in CIDR notation, IPv4 or IPv6, host bits clear, e.g. `192.168.50.0/24`. Required.'),
    gateway: text('an address')
      .optional()
      .describe(
        'The gateway address (no prefix), inside the subnet (IPv6 may also be link-local fe80::/10). ' +
          'Default: the first usable address of the subnet; none for ipvlan l3/l3s, internal networks, /31 and /127 (ignored with a warning when given there).',
      ),
    ip_range: text('a CIDR')
      .optional()
      .describe('Pool inside the subnet for automatic addresses, in CIDR notation. Default: the whole subnet.'),
  })
  .describe('One subnet of a network.');

export const NetworkInput = z
  .strictObject({
    driver: z
      .enum(['macvlan', 'ipvlan'], { error: (i) => `expected driver macvlan or ipvlan, got ${show(i.input)}` })
      .describe('macvlan or ipvlan. Required.'),
    parent: text('an interface name')
      .optional()
      .describe(
        'The link endpoints attach to: an existing link (used, never changed), a `vlans:` entry, or NAME.VID ' +
          '(an 802.1q link vlannet creates when no such link exists). Default: none, the network is internal, on a dummy link vlannet owns.',
      ),
    internal: z
      .boolean({ error: (i) => `expected true or false, got ${show(i.input)}` })
      .optional()
      .describe('Isolate the network on a dummy link vlannet owns (no parent allowed). Default: false, true when parent is omitted.'),
    mode: z
      .enum(ALL_MODES, { error: (i) => `expected a mode (${ALL_MODES.join(', ')}), got ${show(i.input)}` })
      .optional()
      .describe(`macvlan: ${MACVLAN_MODES.join('|')}; ipvlan: ${IPVLAN_MODES.join('|')}. Default: bridge for macvlan, l2 for ipvlan.`),
    flag: z
      .enum(IPVLAN_FLAGS, { error: (i) => `expected a flag (${IPVLAN_FLAGS.join(', ')}), got ${show(i.input)}` })
      .optional()
      .describe(`ipvlan only: ${IPVLAN_FLAGS.join('|')}. Default: bridge.`),
    mtu: mtu.optional().describe(`MTU of the endpoints, ${MTU_MIN}–${MTU_MAX}. Default: the kernel's (inherited from the parent).`),
    subnets: z
      .array(SubnetInput, { error: (i) => `expected a list of subnets, got ${show(i.input)}` })
      .optional()
      .describe('IPv4 and IPv6 subnets of the network. Default: none (endpoints get no addresses).'),
  })
  .describe('A macvlan or ipvlan network. The key is the network name ([A-Za-z0-9_.-]+).');

export const EndpointInput = z
  .strictObject({
    network: text('a network name').describe('The network (a key of `networks:`). Required.'),
    netns: text('a namespace name')
      .optional()
      .describe('Named network namespace (/run/netns/NAME) the link is created in; `host` is vlannet\'s own namespace. Default: the endpoint\'s name.'),
    ifname: text('an interface name').optional().describe('Interface name inside the namespace. Default: eth0.'),
    ipv4: text('an IPv4 address')
      .optional()
      .describe('Static IPv4 address (no prefix). Default: automatic, from the pool of the network\'s first IPv4 subnet (none when it has none).'),
    ipv6: text('an IPv6 address')
      .optional()
      .describe('Static IPv6 address (no prefix). Default: automatic, from the network\'s first IPv6 subnet (none when it has none).'),
    mac: z
      .string({ error: (i) => `expected a MAC address (a string), got ${show(i.input)}` })
      .regex(MAC_PATTERN, { error: (i) => `expected a MAC address like 02:00:00:00:50:10, got ${show(i.input)}` })
      .optional()
      .describe('macvlan only: unicast MAC address of the link. Default: chosen by the kernel.'),
    default_route: z
      .boolean({ error: (i) => `expected true or false, got ${show(i.input)}` })
      .optional()
      .describe('Route the namespace\'s default traffic through this endpoint. Default: true; false for internal networks and for netns `host` (the host\'s default route is never touched).'),
  })
  .describe('A macvlan/ipvlan link in a namespace. The key is the endpoint name ([A-Za-z0-9_.-]+).');

const named = <T extends z.ZodType>(item: T, what: string) =>
  z
    .record(z.string(), item, { error: (i) => `expected a map of ${what} by name, got ${show(i.input)}` })
    .nullable()
    .optional();

export const ConfigInput = z
  .strictObject({
    version: z
      .literal(1, { error: (i) => `expected version: 1, got ${show(i.input)}` })
      .describe('Format version of the file; must be 1. Required, so that an empty or truncated file is never read as "own nothing".'),
    vlans: named(VlanInput, 'vlans').describe('802.1q links vlannet creates and owns, by link name. Default: none.'),
    networks: named(NetworkInput, 'networks').describe('Networks by name. Default: none.'),
    endpoints: named(EndpointInput, 'endpoints').describe('Endpoints by name. Default: none (an empty config owns nothing).'),
  })
  .describe('vlannet configuration (/etc/vlannet.yaml), version 1.');

export type ConfigInput = z.infer<typeof ConfigInput>;
export type VlanInput = z.infer<typeof VlanInput>;
export type NetworkInput = z.infer<typeof NetworkInput>;
export type SubnetInput = z.infer<typeof SubnetInput>;
export type EndpointInput = z.infer<typeof EndpointInput>;

/** A value as it appears in a message: strings quoted, the rest as YAML would show it. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}
