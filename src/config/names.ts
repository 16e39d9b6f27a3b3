// Names the kernel, /run/netns and the owner marks accept. Each check returns the problem in words
// (quoting the name and the limit) or null; the limits are the constants the checks use. The same
// rules as JSON Schema patterns (for schemas/vlannet.schema.json, written by schema-gen.ts) are
// built here from the same pieces, so the two cannot drift apart.

import { createHash } from 'node:crypto';
import { formatMark, netnsMark } from '../model/owner.js';
import { DRIVERS, VLAN_ID_MAX, VLAN_ID_MIN } from './schema.js';

/** IFNAMSIZ - 1: the kernel's limit on an interface name, in bytes. */
export const IFNAME_MAX_BYTES = 15;
/** NAME_MAX: the longest file name under /run/netns. */
export const NETNS_MAX_BYTES = 255;
/** IFALIASZ - 1: the longest IFLA_IFALIAS, where the owner marks live. */
export const ALIAS_MAX_BYTES = 255;
/** Characters of endpoint and network names: they appear in owner marks and object addresses. */
export const OBJECT_NAME_CHARS = '[A-Za-z0-9_.-]+';
export const OBJECT_NAME = new RegExp(`^${OBJECT_NAME_CHARS}$`);
/** `.` and `..` (as a regular expression): reserved, as interface names and as file names. */
const RESERVED_NAMES = '\\.\\.?';
const RESERVED = new RegExp(`^${RESERVED_NAMES}$`);
/** The characters an interface name cannot hold (as a regular expression class body): / : % and whitespace. */
const IFNAME_FORBIDDEN_CHARS = '/:%\\s';
const IFNAME_FORBIDDEN = new RegExp(`[${IFNAME_FORBIDDEN_CHARS}]`);
/** The characters a file name under /run/netns cannot hold: / and NUL. */
const NETNS_FORBIDDEN_CHARS = '/\\u0000';
const NETNS_FORBIDDEN = new RegExp(`[${NETNS_FORBIDDEN_CHARS}]`);
/** NAME.VID: a parent name that implies an 802.1q link. */
export const VLAN_PARENT = /^(.+)\.(\d+)$/;
/** The loopback, which no network or vlan can have as its parent. */
export const LOOPBACK = 'lo';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** An interface name the kernel accepts (dev_valid_name) and `ip`'s NAME.ifname syntax does not mangle. */
export function ifnameProblem(name: string): string | null {
  if (name === '') return 'an interface name cannot be empty';
  if (RESERVED.test(name)) return `interface name ${JSON.stringify(name)} is not allowed (. and .. are reserved)`;
  if (bytes(name) > IFNAME_MAX_BYTES) {
    return `interface name ${JSON.stringify(name)} is ${bytes(name)} bytes, longer than the kernel's ${IFNAME_MAX_BYTES}`;
  }
  const bad = IFNAME_FORBIDDEN.exec(name);
  if (bad) return `interface name ${JSON.stringify(name)} contains ${JSON.stringify(bad[0])}: / : % and whitespace are not allowed`;
  return null;
}

/** Endpoint and network names: they are written into owner marks. */
export function objectNameProblem(kind: string, name: string): string | null {
  if (!OBJECT_NAME.test(name)) return `${kind} name ${JSON.stringify(name)} must match ${OBJECT_NAME_CHARS}`;
  return null;
}

/** A namespace name: a file name under /run/netns whose owner mark fits in an interface alias. */
export function netnsProblem(name: string, mark: string): string | null {
  if (name === '') return 'a namespace name cannot be empty';
  if (RESERVED.test(name)) return `namespace name ${JSON.stringify(name)} is not allowed (. and .. are reserved)`;
  if (NETNS_FORBIDDEN.test(name))
    return `namespace name ${JSON.stringify(name)} contains "/" or NUL, it must be a file name under /run/netns`;
  if (bytes(name) > NETNS_MAX_BYTES) return `namespace name is ${bytes(name)} bytes, longer than ${NETNS_MAX_BYTES}`;
  return markProblem(mark);
}

/** An owner mark must fit in IFLA_IFALIAS, or the kernel truncates it and vlannet loses track. */
export function markProblem(mark: string): string | null {
  if (bytes(mark) > ALIAS_MAX_BYTES) {
    return `its owner mark ${JSON.stringify(`${mark.slice(0, 40)}…`)} would be ${bytes(mark)} bytes, the kernel keeps ${ALIAS_MAX_BYTES}`;
  }
  return null;
}

/** The dummy parent of an isolated network: `vn-NETWORK` when that is a valid name, else `vn-` + 12 hex digits of sha256. */
export function dummyName(network: string): string {
  const plain = `vn-${network}`;
  if (ifnameProblem(plain) === null) return plain;
  return `vn-${createHash('sha256').update(network).digest('hex').slice(0, 12)}`;
}

/** The default name of a network's host-access link in vlannet's own namespace (as dummyName). */
export function hostAccessName(network: string): string {
  const plain = `vh-${network}`;
  if (ifnameProblem(plain) === null) return plain;
  return `vh-${createHash('sha256').update(network).digest('hex').slice(0, 12)}`;
}

// --- the same rules as JSON Schema (ECMA-262 patterns, as ajv and editors read them) -----------
// A pattern cannot count bytes: maxLength, which counts characters, is the byte limit, exact for
// ASCII names and never stricter than the checks above for others.

/** What ifnameProblem accepts, but for the length: not empty, not . or .., none of / : % or whitespace. */
export const IFNAME_PATTERN = `^(?!${RESERVED_NAMES}$)[^${IFNAME_FORBIDDEN_CHARS}]+$`;
/** A file name under /run/netns, as netnsProblem accepts it (but for the length of its owner mark). */
export const NETNS_PATTERN = `^(?!${RESERVED_NAMES}$)[^${NETNS_FORBIDDEN_CHARS}]+$`;
/** NAME.VID whose VID is no VLAN id: `eth0.5000`, `eth0.0` (leading zeros count as VLAN_PARENT's Number() reads them). */
const BAD_VID = `.+\\.(?!0*(?:${decimalRange(VLAN_ID_MIN, VLAN_ID_MAX)})$)\\d+$`;
/**
 * A `vlans:` key: an interface name, and when it reads NAME.VID the VID is a VLAN id (the rule
 * vlanNames wants it equal to the entry's id, which is one).
 */
export const VLAN_NAME_PATTERN = `^(?!${BAD_VID})${IFNAME_PATTERN.slice(1)}`;
/** A `vlans:` entry's parent: an interface name, not the loopback. */
export const VLAN_LINK_PARENT_PATTERN = `^(?!${LOOPBACK}$)${IFNAME_PATTERN.slice(1)}`;
/**
 * A network's parent: an interface name, not the loopback; when it reads NAME.VID, NAME is an
 * interface name too (not . or ..) and VID a VLAN id (the rules interfaceNames, loopbackParent and
 * vlanParentIds; a `vlans:` key named NAME.VID has to carry its VID as its id).
 */
export const PARENT_PATTERN = `^(?!${LOOPBACK}$)(?!${RESERVED_NAMES}\\.\\d+$)(?!${BAD_VID})${IFNAME_PATTERN.slice(1)}`;
/** The longest network name whose dummy's owner mark fits in an alias (objectNames). */
export const NETWORK_NAME_MAX = ALIAS_MAX_BYTES - bytes(formatMark({ role: 'dummy', name: '', kind: 'dummy', parent: null, vlanId: null }));
/**
 * The longest endpoint name whose owner mark can fit in an alias (objectNames): the mark is shortest
 * with the shorter driver and a one-byte parent, so a longer name never fits.
 */
export const ENDPOINT_NAME_MAX =
  ALIAS_MAX_BYTES - Math.min(...DRIVERS.map((kind) => bytes(formatMark({ role: 'endpoint', name: '', kind, parent: 'x', vlanId: null }))));
/** The longest namespace name netnsProblem accepts: a file name whose owner mark fits in an alias. */
export const NETNS_NAME_MAX = Math.min(NETNS_MAX_BYTES, ALIAS_MAX_BYTES - bytes(netnsMark('')));

/** A regular expression (no anchors) for the decimal numbers min–max, written without leading zeros. */
export function decimalRange(min: number, max: number): string {
  const alternatives: string[] = [];
  for (let digits = String(min).length; digits <= String(max).length; digits++) {
    const lo = digits === String(min).length ? String(min) : `1${'0'.repeat(digits - 1)}`;
    const hi = digits === String(max).length ? String(max) : '9'.repeat(digits);
    if (Number(lo) <= Number(hi)) alternatives.push(sameLength(lo, hi));
  }
  return alternatives.join('|');
}

/** Numbers lo–hi, both of the same number of digits. */
function sameLength(lo: string, hi: string): string {
  if (lo === hi) return lo;
  const rest = lo.length - 1;
  const any = (n: number) => (n === 0 ? '' : n === 1 ? '\\d' : `\\d{${n}}`);
  const digit = (a: number, b: number) => (a === b ? String(a) : `[${a}-${b}]`);
  const [a, b] = [Number(lo[0]), Number(hi[0])];
  const group = (re: string) => (re.includes('|') ? `(?:${re})` : re);
  if (a === b) return `${a}${group(sameLength(lo.slice(1), hi.slice(1)))}`;
  const fromZero = /^0*$/.test(lo.slice(1));
  const toNine = /^9*$/.test(hi.slice(1));
  const parts: string[] = [];
  if (!fromZero) parts.push(`${a}${group(sameLength(lo.slice(1), '9'.repeat(rest)))}`);
  const [first, last] = [fromZero ? a : a + 1, toNine ? b : b - 1];
  if (first <= last) parts.push(`${digit(first, last)}${any(rest)}`);
  if (!toNine) parts.push(`${b}${group(sameLength('0'.repeat(rest), hi.slice(1)))}`);
  return parts.join('|');
}
