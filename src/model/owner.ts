// Ownership marks: the kernel is vlannet's only record of what it created. Every link vlannet
// creates carries an IFLA_IFALIAS mark that names its role and the facts it was created with:
//
//   vlannet:endpoint/web1 macvlan@eth0.50     an endpoint link (kind @ parent)
//   vlannet:vlan/eth0.50 vlan@eth0#50         an 802.1q link (parent # vlan id)
//   vlannet:dummy/net1 dummy                  the dummy parent of an isolated network
//   vlannet:shim/lan macvlan@eth0             a network's host access, in vlannet's own namespace
//   vlannet:netns/web1                        on the loopback of a namespace vlannet created
//
// A link counts as vlannet's only when the mark parses AND the link's kind, parent and vlan id are
// the ones the mark records: a copied alias or a link re-created by someone else under the same
// name is not adopted (Docker's name-pattern check is how its stale state deletes the wrong links).

import { VLANNET_LINK_GROUP, type LinkIdentity, type LinkState } from './types.js';

export type OwnerRole = LinkIdentity['role'];

export interface OwnerMark {
  role: OwnerRole;
  /** Endpoint name, vlan link name or network name. */
  name: string;
  kind: string;
  parent: string | null;
  vlanId: number | null;
}

const PREFIX = 'vlannet:';
const MARK = /^vlannet:(endpoint|vlan|dummy|shim)\/(\S+) ([a-z0-9]+)(?:@(\S+?))?(?:#(\d+))?$/;

export function formatMark(m: OwnerMark): string {
  const parent = m.parent !== null ? `@${m.parent}` : '';
  const vid = m.vlanId !== null ? `#${m.vlanId}` : '';
  return `${PREFIX}${m.role}/${m.name} ${m.kind}${parent}${vid}`;
}

/**
 * The mark an alias holds, or null. Marks are read several times per link in every plan and the
 * same aliases come back run after run in the daemon, so parses are remembered (frozen: shared).
 */
export function parseMark(alias: string | null | undefined): OwnerMark | null {
  if (!alias) return null;
  let mark = parsedMarks.get(alias);
  if (mark === undefined) {
    const m = MARK.exec(alias);
    mark = m
      ? Object.freeze({
          role: m[1] as OwnerRole,
          name: m[2]!,
          kind: m[3]!,
          parent: m[4] ?? null,
          vlanId: m[5] !== undefined ? Number(m[5]) : null,
        })
      : null;
    if (parsedMarks.size >= MEMO_LIMIT) parsedMarks.clear();
    parsedMarks.set(alias, mark);
  }
  return mark;
}
const parsedMarks = new Map<string, OwnerMark | null>();
const MEMO_LIMIT = 100_000;

/** The mark of a link vlannet is about to create: who it is, and what it is made as. */
export function markFor(identity: LinkIdentity, link: { kind: string; parent: string | null; vlanId?: number }): string {
  // formatMark's words, without making an OwnerMark first: the daemon marks every endpoint on every run.
  const parent = link.parent !== null ? `@${link.parent}` : '';
  const vid = link.vlanId !== undefined ? `#${link.vlanId}` : '';
  return `${PREFIX}${identity.role}/${identity.name} ${link.kind}${parent}${vid}`;
}

/** The identity a mark records. */
export function identityOf(mark: OwnerMark): LinkIdentity {
  return { role: mark.role, name: mark.name };
}

/** The object address people read for an identity: `endpoint.web1`, `vlan.eth0.50`, `dummy.net1`. */
export function objectOf(identity: LinkIdentity): string {
  return `${identity.role}.${identity.name}`;
}

/** The owner mark of an observed link, or null when the link is not vlannet's. */
export function ownerOf(link: LinkState): OwnerMark | null {
  const mark = parseMark(link.alias);
  if (!mark) return null;
  if (mark.kind !== link.kind) return null;
  if (mark.parent !== link.parent) return null;
  if (mark.vlanId !== (link.vlanId ?? null)) return null;
  return mark;
}

export function isOwned(link: LinkState): boolean {
  return ownerOf(link) !== null;
}

/**
 * A link vlannet began to make and never finished: in vlannet's link group, without its mark
 * (the alias is written by a second request; vlannet was killed in between). The next apply
 * deletes it; nobody else's link is in that group.
 */
export function isUnfinished(link: LinkState): boolean {
  return link.group === VLANNET_LINK_GROUP && parseMark(link.alias) === null;
}

/** The alias vlannet writes on the loopback of a namespace it creates. */
export function netnsMark(name: string): string {
  return `${PREFIX}netns/${name}`;
}

export function isNetnsMark(alias: string | null | undefined, name: string): boolean {
  return alias === netnsMark(name);
}
