// Reading RTM_NEWLINK / RTM_NEWADDR / RTM_NEWROUTE messages as a dump returns them. Parents are
// still kernel indexes here (possibly in another namespace): rtnetlink.ts resolves them to names.

import { Address4, Address6 } from 'ip-address';
import type { Family, LinkState } from '../model/types.js';
import { decodeLinkInfo } from './linkinfo.js';
import {
  AF_INET,
  AF_INET6,
  DEVCONF_DISABLE_IPV6,
  IFA,
  IFF_UP,
  IFLA,
  IFLA_INET6_CONF,
  RTA,
  readIfaddrmsg,
  readIfinfomsg,
  readRtmsg,
} from './messages.js';
import { attrS32, attrString, attrTypes, attrU32, parseAttrs } from './nlattr.js';

/** A link as the dump gives it: a LinkState without its namespace, the parent still an index. */
export interface RawLink extends Omit<LinkState, 'netns' | 'parent'> {
  /** IFLA_LINK: the lower link's index, in the namespace named by `linkNetnsid` when present. */
  link?: number;
  linkNetnsid?: number;
}

const LINK_ATTRS = attrTypes(
  IFLA.IFNAME,
  IFLA.MTU,
  IFLA.ADDRESS,
  IFLA.IFALIAS,
  IFLA.LINKINFO,
  IFLA.LINK,
  IFLA.LINK_NETNSID,
  IFLA.AF_SPEC,
  IFLA.GROUP,
);
const AF_INET6_ONLY = attrTypes(AF_INET6);
const INET6_CONF_ONLY = attrTypes(IFLA_INET6_CONF);
const ADDRESS_ATTRS = attrTypes(IFA.LOCAL, IFA.ADDRESS);
const ROUTE_ATTRS = attrTypes(RTA.DST, RTA.GATEWAY, RTA.TABLE, RTA.OIF, RTA.PRIORITY);

export function decodeLink(body: Buffer): RawLink {
  const info = readIfinfomsg(body);
  const attrs = parseAttrs(body, 16, LINK_ATTRS);
  const link: RawLink = {
    index: info.index,
    name: attrString(attrs.get(IFLA.IFNAME)) ?? '',
    kind: '',
    mtu: attrU32(attrs.get(IFLA.MTU)) ?? 0,
    mac: formatMac(attrs.get(IFLA.ADDRESS)),
    up: (info.flags & IFF_UP) !== 0,
    alias: attrString(attrs.get(IFLA.IFALIAS)) || null,
  };
  const group = attrU32(attrs.get(IFLA.GROUP));
  if (group) link.group = group;
  const linkinfo = attrs.get(IFLA.LINKINFO);
  if (linkinfo) {
    const decoded = decodeLinkInfo(linkinfo);
    link.kind = decoded.kind;
    if (decoded.kind === 'macvlan' && 'mode' in decoded) link.mode = decoded.mode;
    if (decoded.kind === 'ipvlan' && 'flag' in decoded) {
      link.mode = decoded.mode;
      link.flag = decoded.flag;
    }
    if (decoded.kind === 'vlan' && 'id' in decoded) {
      link.vlanId = decoded.id;
      link.vlanProtocol = decoded.protocol;
    }
  }
  const lower = attrU32(attrs.get(IFLA.LINK));
  // IFLA_LINK equal to the link's own index means "no lower link" (loopback, physical devices).
  if (lower !== undefined && lower !== 0 && lower !== info.index) link.link = lower;
  const nsid = attrS32(attrs.get(IFLA.LINK_NETNSID));
  if (nsid !== undefined && nsid >= 0) link.linkNetnsid = nsid;
  const disabled = ipv6DisabledOf(attrs.get(IFLA.AF_SPEC));
  if (disabled !== undefined) link.ipv6Disabled = disabled;
  return link;
}

/** IFLA_AF_SPEC → AF_INET6 → IFLA_INET6_CONF is the device's ipv6 sysctls, an s32 per DEVCONF_*. */
function ipv6DisabledOf(afSpec: Buffer | undefined): boolean | undefined {
  if (!afSpec) return undefined;
  const inet6 = parseAttrs(afSpec, 0, AF_INET6_ONLY).get(AF_INET6);
  if (!inet6) return undefined;
  const conf = parseAttrs(inet6, 0, INET6_CONF_ONLY).get(IFLA_INET6_CONF);
  if (!conf || conf.length < (DEVCONF_DISABLE_IPV6 + 1) * 4) return undefined;
  return conf.readInt32LE(DEVCONF_DISABLE_IPV6 * 4) !== 0;
}

function formatMac(b: Buffer | undefined): string {
  if (!b || b.length === 0) return '';
  const hex = b.toString('hex');
  let text = hex.slice(0, 2);
  for (let i = 2; i < hex.length; i += 2) text += `:${hex.slice(i, i + 2)}`;
  return text;
}

export function parseMac(mac: string): Buffer {
  const bytes = mac.split(':').map((x) => parseInt(x, 16));
  if (bytes.length !== 6 || bytes.some((x) => Number.isNaN(x) || x < 0 || x > 255))
    throw new Error(`invalid MAC address ${JSON.stringify(mac)}`);
  return Buffer.from(bytes);
}

const ipv6Texts = new Map<string, string>();
const IPV6_TEXTS_KEPT = 1 << 14;

/**
 * The canonical text of an address in kernel byte order (4 or 16 bytes). IPv4's canonical text is
 * its four bytes in decimal; IPv6's (RFC 5952 compression) comes from ip-address, remembered per
 * address because a thousand namespaces repeat the same few (fe80::/64, ff00::/8, gateways).
 */
export function formatAddress(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const key = b.toString('hex');
  let text = ipv6Texts.get(key);
  if (text === undefined) {
    text = Address6.fromUnsignedByteArray([...b]).correctForm();
    if (ipv6Texts.size >= IPV6_TEXTS_KEPT) ipv6Texts.clear();
    ipv6Texts.set(key, text);
  }
  return text;
}

/** The kernel bytes of an address written by a person, with its family. */
export function addressBytes(text: string): { family: Family; bytes: Buffer } {
  if (Address4.isValid(text)) return { family: 4, bytes: Buffer.from(new Address4(text).toArray()) };
  return { family: 6, bytes: Buffer.from(new Address6(text).toUnsignedByteArray()) };
}

export interface RawAddress {
  index: number;
  family: Family;
  address: string;
  prefixLength: number;
  scope: number;
}

export function decodeAddress(body: Buffer): RawAddress | null {
  const msg = readIfaddrmsg(body);
  if (msg.family !== AF_INET && msg.family !== AF_INET6) return null;
  const attrs = parseAttrs(body, 8, ADDRESS_ATTRS);
  // IPv4: IFA_LOCAL is the address, IFA_ADDRESS the peer on point-to-point links.
  const bytes = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
  if (!bytes) return null;
  return {
    index: msg.index,
    family: msg.family === AF_INET ? 4 : 6,
    address: formatAddress(bytes),
    prefixLength: msg.prefixlen,
    scope: msg.scope,
  };
}

export interface RawRoute {
  family: Family;
  table: number;
  protocol: number;
  type: number;
  scope: number;
  dst: string;
  gateway: string | null;
  oif?: number;
  metric?: number;
}

export function decodeRoute(body: Buffer): RawRoute | null {
  const msg = readRtmsg(body);
  if (msg.family !== AF_INET && msg.family !== AF_INET6) return null;
  const attrs = parseAttrs(body, 12, ROUTE_ATTRS);
  const dst = attrs.get(RTA.DST);
  const gateway = attrs.get(RTA.GATEWAY);
  const route: RawRoute = {
    family: msg.family === AF_INET ? 4 : 6,
    table: attrU32(attrs.get(RTA.TABLE)) ?? msg.table,
    protocol: msg.protocol,
    type: msg.type,
    scope: msg.scope,
    dst: msg.dstLen === 0 || !dst ? 'default' : `${formatAddress(dst)}/${msg.dstLen}`,
    gateway: gateway ? formatAddress(gateway) : null,
  };
  const oif = attrU32(attrs.get(RTA.OIF));
  if (oif !== undefined) route.oif = oif;
  const metric = attrU32(attrs.get(RTA.PRIORITY));
  if (metric !== undefined) route.metric = metric;
  return route;
}
