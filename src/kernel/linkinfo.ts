// IFLA_LINKINFO: the kind of a link (IFLA_INFO_KIND) and its kind's own attributes
// (IFLA_INFO_DATA). One encoder and one decoder per kind, and one table each way between the
// words vlannet uses and the kernel's numbers. Numbers from include/uapi/linux/if_link.h and
// linux/veth.h.

import { AttrWriter, attrBe16, attrString, attrU16, attrU32, parseAttrs, type Attrs } from './nlattr.js';
import { ifinfomsg, IFLA } from './messages.js';
import type { IpvlanFlag, IpvlanMode, KernelMacvlanMode } from '../model/types.js';

const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;

const IFLA_MACVLAN_MODE = 1;
const IFLA_MACVLAN_FLAGS = 2;
const IFLA_IPVLAN_MODE = 1;
const IFLA_IPVLAN_FLAGS = 2;
const IFLA_VLAN_ID = 1;
const IFLA_VLAN_PROTOCOL = 5;
const VETH_INFO_PEER = 1;

/** A table from vlannet's words to kernel values, and its inverse. */
function table<K extends string>(forward: Record<K, number>): { value: Record<K, number>; name: Map<number, K> } {
  return { value: forward, name: new Map(Object.entries(forward).map(([k, v]) => [v as number, k as K])) };
}

/** enum macvlan_mode (a bit each). */
export const MACVLAN_MODE = table<KernelMacvlanMode>({ private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 });
/** enum ipvlan_mode. */
export const IPVLAN_MODE = table<IpvlanMode>({ l2: 0, l3: 1, l3s: 2 });
/** IPVLAN_F_PRIVATE, IPVLAN_F_VEPA; neither bit is bridge. */
export const IPVLAN_FLAG = table<IpvlanFlag>({ bridge: 0, private: 1, vepa: 2 });
/** ETH_P_8021Q, ETH_P_8021AD. */
export const VLAN_PROTOCOL = table({ '802.1Q': 0x8100, '802.1ad': 0x88a8 });

export type VlanProtocolName = keyof typeof VLAN_PROTOCOL.value;

export type LinkInfo =
  /** `flags`: MACVLAN_FLAG_NOPROMISC (1) | MACVLAN_FLAG_NODST (2); vlannet never sets them. */
  | { kind: 'macvlan'; mode: KernelMacvlanMode; flags?: number }
  | { kind: 'ipvlan'; mode: IpvlanMode; flag: IpvlanFlag }
  | { kind: 'vlan'; id: number; protocol: VlanProtocolName }
  | { kind: 'dummy' }
  /** `peer` only when creating: the other end's name and, optionally, its namespace (an fd). */
  | { kind: 'veth'; peer?: { name: string; netnsFd?: number } };

/** What a dump says about a link's kind: the known kinds decoded, any other kind by name only. */
export type DecodedLinkInfo = LinkInfo | { kind: string; unknown: true };

interface KindCodec<T extends LinkInfo> {
  encode(info: T, data: AttrWriter): void;
  decode(data: Attrs): T;
}

function lookup<K extends string>(t: { value: Record<K, number> }, word: string, what: string): number {
  const v = (t.value as Record<string, number>)[word];
  if (v === undefined) throw new Error(`unknown ${what} ${JSON.stringify(word)} (expected one of ${Object.keys(t.value).join(', ')})`);
  return v;
}

function decodeWord<K extends string>(t: { name: Map<number, K> }, value: number | undefined, fallback: K): K {
  if (value === undefined) return fallback;
  return t.name.get(value) ?? (`unknown(${value})` as K);
}

const macvlan: KindCodec<Extract<LinkInfo, { kind: 'macvlan' }>> = {
  encode(info, data) {
    // Always sent: without it the kernel picks vepa, not bridge.
    data.u32(IFLA_MACVLAN_MODE, lookup(MACVLAN_MODE, info.mode, 'macvlan mode'));
    if (info.flags !== undefined) data.u16(IFLA_MACVLAN_FLAGS, info.flags);
  },
  decode(data) {
    const flags = attrU16(data.get(IFLA_MACVLAN_FLAGS));
    return { kind: 'macvlan', mode: decodeWord(MACVLAN_MODE, attrU32(data.get(IFLA_MACVLAN_MODE)), 'vepa'), ...(flags ? { flags } : {}) };
  },
};

const ipvlan: KindCodec<Extract<LinkInfo, { kind: 'ipvlan' }>> = {
  encode(info, data) {
    data.u16(IFLA_IPVLAN_MODE, lookup(IPVLAN_MODE, info.mode, 'ipvlan mode'));
    data.u16(IFLA_IPVLAN_FLAGS, lookup(IPVLAN_FLAG, info.flag, 'ipvlan flag'));
  },
  decode(data) {
    return {
      kind: 'ipvlan',
      mode: decodeWord(IPVLAN_MODE, attrU16(data.get(IFLA_IPVLAN_MODE)), 'l3'),
      flag: decodeWord(IPVLAN_FLAG, attrU16(data.get(IFLA_IPVLAN_FLAGS)), 'bridge'),
    };
  },
};

const vlan: KindCodec<Extract<LinkInfo, { kind: 'vlan' }>> = {
  encode(info, data) {
    data.u16(IFLA_VLAN_ID, info.id);
    data.be16(IFLA_VLAN_PROTOCOL, lookup(VLAN_PROTOCOL, info.protocol, 'vlan protocol'));
  },
  decode(data) {
    return {
      kind: 'vlan',
      id: attrU16(data.get(IFLA_VLAN_ID)) ?? 0,
      protocol: decodeWord(VLAN_PROTOCOL, attrBe16(data.get(IFLA_VLAN_PROTOCOL)), '802.1Q'),
    };
  },
};

const dummy: KindCodec<{ kind: 'dummy' }> = {
  encode() {
    /* no IFLA_INFO_DATA */
  },
  decode() {
    return { kind: 'dummy' };
  },
};

const veth: KindCodec<Extract<LinkInfo, { kind: 'veth' }>> = {
  encode(info, data) {
    if (!info.peer) return;
    const peer = info.peer;
    // VETH_INFO_PEER carries a struct ifinfomsg followed by the peer's own IFLA attributes.
    const attrs = new AttrWriter().string(IFLA.IFNAME, peer.name);
    if (peer.netnsFd !== undefined) attrs.u32(IFLA.NET_NS_FD, peer.netnsFd);
    data.bytes(VETH_INFO_PEER, Buffer.concat([ifinfomsg(), attrs.toBuffer()]));
  },
  decode() {
    return { kind: 'veth' };
  }, // veth reports no IFLA_INFO_DATA
};

const codecs: { [K in LinkInfo['kind']]: KindCodec<Extract<LinkInfo, { kind: K }>> } = { macvlan, ipvlan, vlan, dummy, veth };

/** The payload of IFLA_LINKINFO for creating or changing a link of `info.kind`. */
export function encodeLinkInfo(info: LinkInfo): Buffer {
  const codec = codecs[info.kind] as KindCodec<LinkInfo>;
  const w = new AttrWriter().string(IFLA_INFO_KIND, info.kind);
  const data = new AttrWriter();
  codec.encode(info, data);
  const payload = data.toBuffer();
  if (payload.length) w.bytes(IFLA_INFO_DATA, payload, 0x8000);
  return w.toBuffer();
}

/** Decode the payload of IFLA_LINKINFO as a dump reports it. */
export function decodeLinkInfo(payload: Buffer): DecodedLinkInfo {
  const attrs = parseAttrs(payload);
  const kind = attrString(attrs.get(IFLA_INFO_KIND)) ?? '';
  const codec = (codecs as Record<string, KindCodec<LinkInfo> | undefined>)[kind];
  if (!codec) return { kind, unknown: true };
  return codec.decode(parseAttrs(attrs.get(IFLA_INFO_DATA) ?? Buffer.alloc(0)));
}
