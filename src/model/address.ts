// Address facts, all computed by ip-address (no hand-rolled CIDR code): parsing with errors for
// people (the config), canonical forms, subnets and what they hold back, link-local addresses.
// The one address module: the config's rules, the planner and the allocation all use it.

import { Address4, Address6 } from 'ip-address';
import type { AddressState, Family } from './types.js';

export type Ip = Address4 | Address6;

export interface Cidr {
  family: Family;
  /** The network, with its prefix (an ip-address object: subnetMask is the prefix length). */
  net: Ip;
  prefix: number;
  /** Canonical text, e.g. `2001:db8:50::/64`. */
  text: string;
}

export type Parsed<T> = { ok: T; error: null } | { ok: null; error: string };

export function familyOf(text: string): Family {
  return text.includes(':') ? 6 : 4;
}

function construct(text: string, family: Family): Ip {
  return family === 4 ? new Address4(text) : new Address6(text);
}

/**
 * ip-address parses in tens of microseconds and a config with thousands of subnets asks about each
 * one several times (normalising, then the rules), so results are remembered per text. Results are
 * never mutated; the memo is emptied when it grows past a bound, for a daemon reading many configs.
 */
function memo<T>(fn: (text: string) => T): (text: string) => T {
  const seen = new Map<string, T>();
  return (text) => {
    let r = seen.get(text);
    if (r === undefined) {
      if (seen.size >= 50_000) seen.clear();
      r = fn(text);
      seen.set(text, r);
    }
    return r;
  };
}

/**
 * An address or subnet of either family, from text already checked (the config's rules did, or
 * the kernel wrote it); throws on invalid input.
 */
export function ipOf(text: string): Ip {
  return construct(text, familyOf(text));
}

/** A subnet as written: `ADDRESS/PREFIX`, host bits clear. The error says which network was meant. */
export const parseCidr = memo(parseCidrUncached);

function parseCidrUncached(text: string): Parsed<Cidr> {
  const family = familyOf(text);
  if (!text.includes('/')) return { ok: null, error: `${JSON.stringify(text)} is not a CIDR: expected ADDRESS/PREFIX` };
  if (text.includes('%')) return { ok: null, error: `${JSON.stringify(text)} is not a CIDR: a zone (%) is not allowed` };
  let ip: Ip;
  try {
    ip = construct(text, family);
  } catch (e) {
    return { ok: null, error: `${JSON.stringify(text)} is not a valid IPv${family} CIDR (${(e as Error).message})` };
  }
  const prefix = ip.subnetMask;
  const start = ip.startAddress().correctForm();
  const canonical = `${start}/${prefix}`;
  if (start !== ip.correctForm()) {
    return {
      ok: null,
      error: `${JSON.stringify(text)} has host bits set: did you mean ${canonical} (the network), or the address ${ip.correctForm()} in it?`,
    };
  }
  return { ok: { family, net: construct(canonical, family), prefix, text: canonical }, error: null };
}

const parseAddress4 = memo((text) => parseAddressUncached(text, 4));
const parseAddress6 = memo((text) => parseAddressUncached(text, 6));

/** A single address (no prefix, no zone) of the given family. */
export function parseAddress(text: string, family: Family): Parsed<Ip> {
  return family === 4 ? parseAddress4(text) : parseAddress6(text);
}

function parseAddressUncached(text: string, family: Family): Parsed<Ip> {
  if (familyOf(text) !== family) return { ok: null, error: `${JSON.stringify(text)} is not an IPv${family} address` };
  if (text.includes('/'))
    return { ok: null, error: `${JSON.stringify(text)} has a prefix: write the address alone (the prefix comes from the subnet)` };
  if (text.includes('%')) return { ok: null, error: `${JSON.stringify(text)} has a zone (%): write the address alone` };
  try {
    return { ok: construct(text, family), error: null };
  } catch (e) {
    return { ok: null, error: `${JSON.stringify(text)} is not a valid IPv${family} address (${(e as Error).message})` };
  }
}

export function canonical(ip: Ip): string {
  return ip.correctForm();
}

export function sameFamily(a: Ip, b: Ip): boolean {
  return a instanceof Address4 === b instanceof Address4;
}

/** Whether an address (or a whole network) lies inside a subnet. */
export function within(inner: Ip, outer: Cidr): boolean {
  return sameFamily(inner, outer.net) && inner.isInSubnet(outer.net as never);
}

export function overlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && (within(a.net, b) || within(b.net, a));
}

/** /31, /127 (both addresses usable, RFC 3021 / RFC 6164) and single-address subnets hold nothing back. */
export function isPointToPoint(c: Cidr): boolean {
  return c.prefix >= (c.family === 4 ? 31 : 127);
}

/** A fact about a subnet, computed once per parsed subnet (parseCidr returns the same object for the same text). */
function perSubnet<T>(fn: (c: Cidr) => T): (c: Cidr) => T {
  const seen = new WeakMap<Cidr, { value: T }>();
  return (c) => {
    const known = seen.get(c);
    if (known) return known.value;
    const value = fn(c);
    seen.set(c, { value });
    return value;
  };
}

/** The network address, the first in the subnet: the canonical text before its prefix (parseCidr wrote it from startAddress()). */
export function networkAddress(c: Cidr): string {
  return c.text.slice(0, c.text.indexOf('/'));
}

/** The IPv4 broadcast address (last in the subnet), or null for IPv6 and point-to-point subnets. */
export const broadcastAddress = perSubnet((c: Cidr): string | null =>
  c.family === 4 && !isPointToPoint(c) ? c.net.endAddress().correctForm() : null,
);

/** The first usable address (network + 1), Docker's default gateway; null when nothing is held back. */
export const firstUsable = perSubnet((c: Cidr): string | null => (isPointToPoint(c) ? null : c.net.startAddressExclusive().correctForm()));

export function isLinkLocal6(ip: Ip): boolean {
  return ip instanceof Address6 && ip.isLinkLocal();
}

/** Whether `address` (no prefix) lies in `cidr`. Different families are never inside each other. */
export function addressInSubnet(address: string, cidr: string): boolean {
  const a = parseAddress(address, familyOf(address)).ok;
  const c = parseCidr(cidr).ok ?? parseCidr(networkOf(...splitCidr(cidr))).ok;
  return a !== null && c !== null && within(a, c);
}

function splitCidr(text: string): [string, number] {
  const [address, prefix] = text.split('/');
  return [address!, Number(prefix)];
}

/** The network an address with a prefix length lies in, as a canonical CIDR: `10.1.2.0/24`. */
export function networkOf(address: string, prefixLength: number): string {
  const family = familyOf(address);
  const ip = family === 4 ? new Address4(`${address}/${prefixLength}`) : new Address6(`${address}/${prefixLength}`);
  return `${ip.startAddress().correctForm()}/${prefixLength}`;
}

/**
 * IPv6 link-local (fe80::/10): the kernel adds these itself; vlannet never manages them. Asked
 * about every address of every plan: remembered.
 */
export const isLinkLocal = memo((address: string): boolean => {
  if (familyOf(address) !== 6) return false;
  const ip = parseAddress(address, 6).ok;
  return ip !== null && isLinkLocal6(ip);
});

/** This host's address on `parent` (vlannet's own namespace) in `family`, link-local ones aside. */
export function hostAddressOn(addresses: readonly AddressState[], parent: string, family: Family): string | null {
  return addresses.find((a) => a.netns === null && a.link === parent && a.family === family && !isLinkLocal(a.address))?.address ?? null;
}
