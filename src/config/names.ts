// Names the kernel, /run/netns and the owner marks accept. Each check returns the problem in words
// (quoting the name and the limit) or null; the limits are the constants the checks use.

import { createHash } from 'node:crypto';

/** IFNAMSIZ - 1: the kernel's limit on an interface name, in bytes. */
export const IFNAME_MAX_BYTES = 15;
/** NAME_MAX: the longest file name under /run/netns. */
export const NETNS_MAX_BYTES = 255;
/** IFALIASZ - 1: the longest IFLA_IFALIAS, where the owner marks live. */
export const ALIAS_MAX_BYTES = 255;
/** Characters of endpoint and network names: they appear in owner marks and object addresses. */
export const OBJECT_NAME_CHARS = '[A-Za-z0-9_.-]+';
export const OBJECT_NAME = new RegExp(`^${OBJECT_NAME_CHARS}$`);
const IFNAME_FORBIDDEN = /[/:%\s]/;
/** NAME.VID: a parent name that implies an 802.1q link. */
export const VLAN_PARENT = /^(.+)\.(\d+)$/;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** An interface name the kernel accepts (dev_valid_name) and `ip`'s NAME.ifname syntax does not mangle. */
export function ifnameProblem(name: string): string | null {
  if (name === '') return 'an interface name cannot be empty';
  if (name === '.' || name === '..') return `interface name ${JSON.stringify(name)} is not allowed (. and .. are reserved)`;
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
  if (name === '.' || name === '..') return `namespace name ${JSON.stringify(name)} is not allowed (. and .. are reserved)`;
  if (name.includes('/') || name.includes('\0'))
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
