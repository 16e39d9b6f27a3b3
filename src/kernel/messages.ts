// Fixed headers of the rtnetlink messages vlannet sends and reads, and the constants they use.
// Values from the kernel UAPI headers (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h,
// linux/netlink.h, linux/net_namespace.h), checked by compiling against Debian 12's headers.

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNSID: 88,
  GETNSID: 90,
} as const;

export const NLMSG_ERROR = 2;
export const NLM_F = {
  REQUEST: 1,
  MULTI: 2,
  ACK: 4,
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;
export const NLMSGERR_ATTR_MSG = 1;

export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  OPERSTATE: 16,
  LINKINFO: 18,
  IFALIAS: 20,
  AF_SPEC: 26,
  GROUP: 27,
  NET_NS_FD: 28,
  EXT_MASK: 29,
  LINK_NETNSID: 37,
} as const;
export const IFF_UP = 1;
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IFLA_INET6_CONF = 2;
export const DEVCONF_DISABLE_IPV6 = 26;

export const IFA = { ADDRESS: 1, LOCAL: 2, BROADCAST: 4, FLAGS: 8 } as const;
export const IFA_F_NODAD = 0x02;

export const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, TABLE: 15 } as const;
export const RT_TABLE_MAIN = 254;
export const RTN_UNICAST = 1;
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253, HOST: 254, NOWHERE: 255 } as const;

export const NETNSA = { NSID: 1, FD: 3 } as const;

/** struct ifinfomsg (16 bytes). */
export interface IfInfo {
  family: number;
  type: number;
  index: number;
  flags: number;
  change: number;
}

export function ifinfomsg(x: Partial<IfInfo> = {}): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(x.family ?? AF_UNSPEC, 0);
  b.writeUInt16LE(x.type ?? 0, 2);
  b.writeInt32LE(x.index ?? 0, 4);
  b.writeUInt32LE((x.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((x.change ?? 0) >>> 0, 12);
  return b;
}

export function readIfinfomsg(b: Buffer): IfInfo {
  return { family: b.readUInt8(0), type: b.readUInt16LE(2), index: b.readInt32LE(4), flags: b.readUInt32LE(8), change: b.readUInt32LE(12) };
}

/** struct ifaddrmsg (8 bytes). */
export interface IfAddr {
  family: number;
  prefixlen: number;
  flags: number;
  scope: number;
  index: number;
}

export function ifaddrmsg(x: IfAddr): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(x.family, 0);
  b.writeUInt8(x.prefixlen, 1);
  b.writeUInt8(x.flags & 0xff, 2);
  b.writeUInt8(x.scope, 3);
  b.writeUInt32LE(x.index, 4);
  return b;
}

export function readIfaddrmsg(b: Buffer): IfAddr {
  return { family: b.readUInt8(0), prefixlen: b.readUInt8(1), flags: b.readUInt8(2), scope: b.readUInt8(3), index: b.readUInt32LE(4) };
}

/** struct rtmsg (12 bytes). */
export interface RtMsg {
  family: number;
  dstLen: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
}

export function rtmsg(x: RtMsg): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(x.family, 0);
  b.writeUInt8(x.dstLen, 1);
  b.writeUInt8(x.table, 4);
  b.writeUInt8(x.protocol, 5);
  b.writeUInt8(x.scope, 6);
  b.writeUInt8(x.type, 7);
  return b;
}

export function readRtmsg(b: Buffer): RtMsg {
  return {
    family: b.readUInt8(0),
    dstLen: b.readUInt8(1),
    table: b.readUInt8(4),
    protocol: b.readUInt8(5),
    scope: b.readUInt8(6),
    type: b.readUInt8(7),
  };
}

/** struct rtgenmsg, padded to 4 bytes (RTM_GETNSID and dumps that filter nothing). */
export function rtgenmsg(family: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt8(family, 0);
  return b;
}
