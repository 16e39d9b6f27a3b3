// Which link kinds this kernel can make, found by making them where it cannot hurt: in a throwaway
// network namespace (no name, gone with its socket). A kind the kernel does not know is refused
// with EOPNOTSUPP ("Unknown device type") once the kernel has tried to load its module, so a plan
// can say so before anything is touched, instead of an apply failing half way.

import type { LinkKind } from '../model/types.js';
import { RtnlHandle } from './handle.js';
import { encodeLinkInfo, type LinkInfo } from './linkinfo.js';
import { IFLA, ifinfomsg, NLM_F, RTM } from './messages.js';
import { inThrowawayNetns } from './netns.js';
import { closeSocket, openRequestSocket } from './sockets.js';
import { AttrWriter } from './nlattr.js';
import { NetlinkError } from '../errors.js';

/** Each kind, and the parent it is tried on (made first). */
const TRIES: { kind: LinkKind; info: LinkInfo; parent: 'dummy' | 'veth' | null }[] = [
  { kind: 'dummy', info: { kind: 'dummy' }, parent: null },
  { kind: 'vlan', info: { kind: 'vlan', id: 5, protocol: '802.1Q' }, parent: 'dummy' },
  { kind: 'macvlan', info: { kind: 'macvlan', mode: 'bridge' }, parent: 'veth' },
  { kind: 'ipvlan', info: { kind: 'ipvlan', mode: 'l2', flag: 'bridge' }, parent: 'dummy' },
];

/**
 * The kinds vlannet makes that this kernel refuses to make. A kind that could not be tried (its
 * parent kind is missing too) is not listed: the apply will say.
 */
export function unsupportedLinkKinds(): LinkKind[] {
  return inThrowawayNetns(() => {
    const sockets = openRequestSocket(null, 'a throwaway namespace');
    const h = new RtnlHandle('probe', null, sockets);
    try {
      // Explicit indexes, far apart: lo is 1, and a veth's peer takes the next free one.
      let index = 0;
      const make = (name: string, info: LinkInfo | 'veth', parent: number | null): number | null => {
        const attrs = new AttrWriter().string(IFLA.IFNAME, name);
        if (parent !== null) attrs.u32(IFLA.LINK, parent);
        const linkinfo = info === 'veth' ? new AttrWriter().string(1 /* IFLA_INFO_KIND */, 'veth').toBuffer() : encodeLinkInfo(info);
        attrs.bytes(IFLA.LINKINFO, linkinfo, 0x8000);
        try {
          index += 10;
          h.request(RTM.NEWLINK, Buffer.concat([ifinfomsg({ index }), attrs.toBuffer()]), NLM_F.CREATE | NLM_F.EXCL);
          return index;
        } catch (e) {
          if (e instanceof NetlinkError) return null;
          throw e;
        }
      };
      const parents = { dummy: make('p-dummy', { kind: 'dummy' }, null), veth: make('p-veth', 'veth', null) };
      const refused: LinkKind[] = [];
      for (const t of TRIES) {
        if (t.kind === 'dummy') {
          if (parents.dummy === null) refused.push('dummy');
          continue;
        }
        const parent = t.parent === null ? null : (parents[t.parent] ?? parents.veth ?? parents.dummy);
        if (t.parent !== null && parent === null) continue;
        if (make(`p-${t.kind}`, t.info, parent) === null) refused.push(t.kind);
      }
      return refused;
    } finally {
      h.close();
      if (sockets.listener !== null) closeSocket(sockets.listener);
    }
  });
}
