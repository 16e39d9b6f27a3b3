// The kernel operations of a plan, each as the rtnetlink requests `ip` would send. Creates are
// exclusive (NLM_F_CREATE|NLM_F_EXCL) and every request is acknowledged; nothing here waits for
// anything but its own replies, so the executor can keep many operations in flight.

import fs from 'node:fs';
import { Address4 } from 'ip-address';
import {
  VLANNET_LINK_GROUP,
  VLANNET_ROUTE_PROTOCOL,
  type IpvlanMode,
  type KernelMacvlanMode,
  type AddressState,
  type LinkChange,
  type LinkSpec,
  type Netns,
  type RouteState,
} from '../model/types.js';
import { addressBytes, decodeLink, parseMac, type RawLink } from './decode.js';
import { RtnlHandle } from './handle.js';
import type { Handles } from './handles.js';
import { encodeLinkInfo, type LinkInfo } from './linkinfo.js';
import {
  AF_INET,
  AF_INET6,
  IFA,
  IFA_F_NODAD,
  IFF_UP,
  IFLA,
  NLM_F,
  RT_SCOPE,
  RT_TABLE_MAIN,
  RTA,
  RTEXT_FILTER_SKIP_STATS,
  RTM,
  RTN_UNICAST,
  ifaddrmsg,
  ifinfomsg,
  rtmsg,
} from './messages.js';
import { AttrWriter } from './nlattr.js';
import { openSysctl } from './sysctl.js';
import { deleteNamedNetns, inNetnsFd } from './netns.js';
import type { NamespaceFactory } from './factory.js';
import { LOOPBACK_INDEX, makeNamespace } from './namespace.js';
import { NetlinkError } from '../errors.js';

const CREATE = NLM_F.CREATE | NLM_F.EXCL;

function where(netns: Netns): string {
  return netns === null ? "vlannet's namespace" : `namespace ${netns}`;
}

/** `ip link show NAME`: the link as the kernel reports it, or NetlinkError ENODEV naming it. */
export function getLink(handles: Handles, netns: Netns, name: string): RawLink {
  const body = Buffer.concat([
    ifinfomsg(),
    new AttrWriter().string(IFLA.IFNAME, name).u32(IFLA.EXT_MASK, RTEXT_FILTER_SKIP_STATS).toBuffer(),
  ]);
  try {
    const [reply] = handles.get(netns).request(RTM.GETLINK, body);
    if (!reply) throw new NetlinkError('ENODEV', '');
    const link = decodeLink(reply);
    handles.indexes(netns).set(name, link.index);
    return link;
  } catch (e) {
    if (e instanceof NetlinkError && e.errno === 'ENODEV') {
      handles.indexes(netns).delete(name);
      throw new NetlinkError('ENODEV', `no link named ${name} in ${where(netns)}`);
    }
    throw e;
  }
}

/**
 * Run `fn` with the ifindex of link `name`: the one last seen (by observe or link-add) when known,
 * else looked up. A stale index is refused by the kernel with ENODEV (indexes are not handed out
 * again until the counter wraps), and then the link is looked up and `fn` tried once more.
 */
function withIndex<T>(handles: Handles, netns: Netns, name: string, fn: (index: number) => T): T {
  const known = handles.indexes(netns).get(name);
  if (known !== undefined) {
    try {
      return fn(known);
    } catch (e) {
      if (!(e instanceof NetlinkError && e.errno === 'ENODEV')) throw e;
      handles.indexes(netns).delete(name);
    }
  }
  return fn(getLink(handles, netns, name).index);
}

/** `netns-add`: a namespace from `factory` when it takes one, else made here; then adopted. */
export async function addNetns(handles: Handles, name: string, factory: NamespaceFactory | null = null): Promise<void> {
  const made = (await factory?.make(name)) ?? makeNamespace(name);
  handles.adopt(name, made.fd, made.ino, new RtnlHandle(name, made.fd, made.sockets));
  handles.indexes(name).set('lo', LOOPBACK_INDEX);
}

/** `ip netns delete NAME`. */
export function delNetns(handles: Handles, name: string): void {
  handles.forget(name);
  deleteNamedNetns(name);
}

let temporaryNames = 0;
/** A name no other link has: unique per process and per vlannet process (≤ 15 bytes). */
function temporaryName(): string {
  return `vt-${process.pid.toString(36)}-${(++temporaryNames).toString(36)}`;
}

/**
 * What IFLA_LINKINFO says of a link vlannet makes: its kind and the kind's own attributes. The
 * mode is always sent, Docker's default when a spec has none (one read back from JSON is typed by
 * nobody): left out, the kernel would make a macvlan in vepa mode.
 */
function linkInfoOf(spec: LinkSpec): LinkInfo {
  switch (spec.kind) {
    case 'macvlan':
      return { kind: 'macvlan', mode: spec.mode ?? 'bridge' };
    case 'ipvlan':
      return { kind: 'ipvlan', mode: spec.mode ?? 'l2', flag: spec.flag ?? 'bridge' };
    case 'vlan':
      return { kind: 'vlan', id: spec.vlanId, protocol: '802.1Q' };
    case 'dummy':
      return { kind: 'dummy' };
  }
}

/**
 * Whether this kernel checks a new link's name in the creating namespace too (before 6.x: EEXIST
 * when vlannet's own namespace has an eth0 and the endpoint is to be eth0 elsewhere). Learnt from
 * the first clash; until then links are created under their own names.
 */
let namesClashAcrossNamespaces = false;

/**
 * `ip link add link PARENT name NAME netns NS type KIND …`, created directly in its namespace,
 * then alias, IPv6 and up. On a kernel whose names clash across namespaces, a link for another
 * namespace is created under a temporary name and renamed there, while it is still down, in the
 * request that sets the alias and brings it up (a rename costs the kernel a sysfs and sysctl
 * re-registration, so only where needed). Whatever fails after the create deletes the link.
 */
export async function addLink(handles: Handles, spec: LinkSpec): Promise<void> {
  if (spec.netns === null || !namesClashAcrossNamespaces) {
    try {
      return addLinkNamed(handles, spec, spec.name);
    } catch (e) {
      // Taken in the namespace, or (on such a kernel) in vlannet's own: the temporary name tells.
      if (!(spec.netns !== null && e instanceof NetlinkError && e.errno === 'EEXIST')) throw e;
    }
  }
  addLinkNamed(handles, spec, temporaryName());
  namesClashAcrossNamespaces = true;
}

function addLinkNamed(handles: Handles, spec: LinkSpec, created: string): void {
  // In a namespace this process made, every link is known, and the next index is the one the
  // kernel would give. Asked for (`ip link add … index N`), it spares looking the new link up.
  let index = spec.index ?? (spec.netns === null ? null : handles.nextIndex(spec.netns));
  const send = (parentIndex: number | null): void => {
    const attrs = new AttrWriter();
    attrs.string(IFLA.IFNAME, created);
    if (parentIndex !== null) attrs.u32(IFLA.LINK, parentIndex);
    if (spec.netns !== null) attrs.u32(IFLA.NET_NS_FD, handles.fd(spec.netns));
    if (spec.mtu !== null) attrs.u32(IFLA.MTU, spec.mtu);
    if (spec.mac !== null) attrs.bytes(IFLA.ADDRESS, parseMac(spec.mac));
    attrs.u32(IFLA.GROUP, VLANNET_LINK_GROUP);
    attrs.bytes(IFLA.LINKINFO, encodeLinkInfo(linkInfoOf(spec)), 0x8000);
    handles.get(null).request(RTM.NEWLINK, Buffer.concat([ifinfomsg({ index: index ?? 0 }), attrs.toBuffer()]), CREATE);
  };
  const create = (parentIndex: number | null): void => {
    try {
      send(parentIndex);
    } catch (e) {
      // The index is taken after all (someone else made a link there; EBUSY), or the request
      // failed for another reason (then it fails the same way again): the kernel chooses.
      if (index === null || !(e instanceof NetlinkError)) throw e;
      index = null;
      send(parentIndex);
    }
  };
  if (spec.parent === null) create(null);
  else withIndex(handles, null, spec.parent, create);

  const link = index !== null ? { index } : getLink(handles, spec.netns, created);
  const h = handles.get(spec.netns);
  try {
    if (spec.ipv6Disabled !== undefined) writeDisableIpv6(handles, spec.netns, created, spec.ipv6Disabled);
    const set = new AttrWriter().string(IFLA.IFALIAS, spec.alias);
    if (created !== spec.name) set.string(IFLA.IFNAME, spec.name);
    const up = spec.up ? IFF_UP : 0;
    h.request(RTM.NEWLINK, Buffer.concat([ifinfomsg({ index: link.index, flags: up, change: IFF_UP }), set.toBuffer()]));
  } catch (e) {
    try {
      h.request(RTM.DELLINK, ifinfomsg({ index: link.index }));
    } catch {
      /* already gone */
    }
    handles.indexes(spec.netns).delete(created);
    if (e instanceof NetlinkError && e.errno === 'EEXIST' && created !== spec.name && !e.detail) {
      throw new NetlinkError('EEXIST', `a link named ${spec.name} already exists in ${where(spec.netns)}`);
    }
    throw e;
  }
  const indexes = handles.indexes(spec.netns);
  indexes.delete(created);
  indexes.set(spec.name, link.index);
}

/** `ip link set NAME name NEW mtu … address … alias … type KIND mode …  up|down`, and the ipv6 sysctl. */
export async function setLink(handles: Handles, netns: Netns, name: string, set: LinkChange): Promise<void> {
  // The link's kind and mode are needed only to change its mode; otherwise its index is enough.
  const link = set.mode !== undefined || set.flag !== undefined ? getLink(handles, netns, name) : null;
  if (set.ipv6Disabled !== undefined) writeDisableIpv6(handles, netns, name, set.ipv6Disabled);
  const attrs = new AttrWriter();
  // The kernel renames before it changes flags: one request renames a link and brings it up.
  if (set.name !== undefined) attrs.string(IFLA.IFNAME, set.name);
  if (set.mtu !== undefined) attrs.u32(IFLA.MTU, set.mtu);
  if (set.mac !== undefined) attrs.bytes(IFLA.ADDRESS, parseMac(set.mac));
  if (set.alias !== undefined) attrs.string(IFLA.IFALIAS, set.alias);
  if (link) {
    if (link.kind !== 'macvlan' && link.kind !== 'ipvlan') {
      throw new NetlinkError(
        'EOPNOTSUPP',
        `${name} in ${where(netns)} is a ${link.kind || 'device'} link; only macvlan and ipvlan have a mode`,
      );
    }
    // changelink reads only the attributes present: send the mode and flag the link keeps, too.
    const info: LinkInfo =
      link.kind === 'macvlan'
        ? { kind: 'macvlan', mode: (set.mode ?? link.mode) as KernelMacvlanMode }
        : { kind: 'ipvlan', mode: (set.mode ?? link.mode) as IpvlanMode, flag: set.flag ?? link.flag ?? 'bridge' };
    attrs.bytes(IFLA.LINKINFO, encodeLinkInfo(info), 0x8000);
  }
  const change = set.up !== undefined ? IFF_UP : 0;
  const flags = set.up ? IFF_UP : 0;
  const body = attrs.toBuffer();
  if (!body.length && !change) return;
  const request = (index: number) => {
    handles.get(netns).request(RTM.NEWLINK, Buffer.concat([ifinfomsg({ index, flags, change }), body]));
    return index;
  };
  const index = link ? request(link.index) : withIndex(handles, netns, name, request);
  if (set.name !== undefined) {
    handles.indexes(netns).delete(name);
    handles.indexes(netns).set(set.name, index);
  }
}

/** `ip link del NAME`. */
export async function delLink(handles: Handles, netns: Netns, name: string): Promise<void> {
  withIndex(handles, netns, name, (index) => handles.get(netns).request(RTM.DELLINK, ifinfomsg({ index })));
  handles.indexes(netns).delete(name);
}

/**
 * net.ipv6.conf.NAME.disable_ipv6, opened while inside the link's namespace (a /proc/sys/net file
 * belongs to the namespace of whoever opens it). Without IPv6 in the kernel, or on a link with an
 * MTU below 1280, there is no such file: that is IPv6 disabled already.
 */
function writeDisableIpv6(handles: Handles, netns: Netns, name: string, disabled: boolean): void {
  const path = `/proc/sys/net/ipv6/conf/${name}/disable_ipv6`;
  let fd: number;
  try {
    const open = () => openSysctl(`net/ipv6/conf/${name}/disable_ipv6`, fs.constants.O_WRONLY);
    fd = netns === null ? open() : inNetnsFd(handles.fd(netns), netns, open);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && disabled) return;
    throw new NetlinkError((e as NodeJS.ErrnoException).code ?? 'EIO', `cannot open ${path} in ${where(netns)}`);
  }
  try {
    fs.writeSync(fd, disabled ? '1\n' : '0\n');
  } finally {
    fs.closeSync(fd);
  }
}

function addressMessage(a: AddressState, index: number): Buffer {
  const { family, bytes } = addressBytes(a.address);
  const attrs = new AttrWriter().bytes(IFA.LOCAL, bytes).bytes(IFA.ADDRESS, bytes);
  let flags = 0;
  if (family === 4 && a.prefixLength < 31) {
    const broadcast = new Address4(`${a.address}/${a.prefixLength}`).endAddress().toArray();
    attrs.bytes(IFA.BROADCAST, Buffer.from(broadcast));
  }
  // Like the seeds' `ip -6 addr add … nodad`: the address is usable at once, no duplicate detection.
  if (family === 6) {
    flags = IFA_F_NODAD;
    attrs.u32(IFA.FLAGS, IFA_F_NODAD);
  }
  return Buffer.concat([
    ifaddrmsg({ family: family === 4 ? AF_INET : AF_INET6, prefixlen: a.prefixLength, flags, scope: RT_SCOPE.UNIVERSE, index }),
    attrs.toBuffer(),
  ]);
}

/** `ip addr add ADDRESS/LEN dev LINK` (IPv6: `nodad`). */
export async function addAddress(handles: Handles, a: AddressState): Promise<void> {
  withIndex(handles, a.netns, a.link, (index) => handles.get(a.netns).request(RTM.NEWADDR, addressMessage(a, index), CREATE));
}

/** `ip addr del ADDRESS/LEN dev LINK`. */
export async function delAddress(handles: Handles, a: AddressState): Promise<void> {
  withIndex(handles, a.netns, a.link, (index) => handles.get(a.netns).request(RTM.DELADDR, addressMessage(a, index)));
}

function routeMessage(r: RouteState, oif: number, forDelete: boolean): Buffer {
  const attrs = new AttrWriter().u32(RTA.TABLE, RT_TABLE_MAIN);
  let dstLen = 0;
  if (r.dst !== 'default') {
    const [address, length] = r.dst.split('/');
    attrs.bytes(RTA.DST, addressBytes(address!).bytes);
    dstLen = Number(length);
  }
  if (r.gateway !== null) attrs.bytes(RTA.GATEWAY, addressBytes(r.gateway).bytes);
  attrs.u32(RTA.OIF, oif);
  if (r.metric !== undefined) attrs.u32(RTA.PRIORITY, r.metric);
  // `default via GW dev X` is scope universe; `default dev X` (no gateway) is on-link: scope link.
  const scope = forDelete ? RT_SCOPE.NOWHERE : r.gateway !== null ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK;
  return Buffer.concat([
    rtmsg({
      family: r.family === 4 ? AF_INET : AF_INET6,
      dstLen,
      table: RT_TABLE_MAIN,
      protocol: r.protocol || VLANNET_ROUTE_PROTOCOL,
      scope,
      type: RTN_UNICAST,
    }),
    attrs.toBuffer(),
  ]);
}

/** `ip route add DST [via GW] dev X proto 201` in the main table. */
export async function addRoute(handles: Handles, r: RouteState): Promise<void> {
  withIndex(handles, r.netns, r.dev, (index) => handles.get(r.netns).request(RTM.NEWROUTE, routeMessage(r, index, false), CREATE));
}

/** `ip route del DST [via GW] dev X proto P`: the protocol must match, so only that route goes. */
export async function delRoute(handles: Handles, r: RouteState): Promise<void> {
  withIndex(handles, r.netns, r.dev, (index) => handles.get(r.netns).request(RTM.DELROUTE, routeMessage(r, index, true)));
}
