// Netlink attributes (struct nlattr: u16 length, u16 type, payload padded to 4 bytes), in host
// byte order like the kernel writes them (little-endian: the netlink package ships x64 binaries
// only). The netlink package moves messages; the bodies of the
// few rtnetlink messages vlannet needs are written and read here, so that IFLA_LINKINFO,
// IFLA_AF_SPEC and extended acks, which the package leaves as raw bytes, go through one codec.

const NLA_TYPE_MASK = 0x3fff; // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
const NLA_F_NESTED = 0x8000;

const align4 = (n: number): number => (n + 3) & ~3;

/** Builds a sequence of attributes. */
export class AttrWriter {
  private readonly parts: Buffer[] = [];

  bytes(type: number, payload: Buffer, flags = 0): this {
    const header = Buffer.alloc(4);
    header.writeUInt16LE(4 + payload.length, 0);
    header.writeUInt16LE(type | flags, 2);
    this.parts.push(header, payload);
    const pad = align4(payload.length) - payload.length;
    if (pad) this.parts.push(Buffer.alloc(pad));
    return this;
  }

  u8(type: number, value: number): this {
    return this.bytes(type, Buffer.from([value]));
  }

  u16(type: number, value: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(value);
    return this.bytes(type, b);
  }

  /** A 16-bit value in network byte order (IFLA_VLAN_PROTOCOL). */
  be16(type: number, value: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value);
    return this.bytes(type, b);
  }

  u32(type: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value >>> 0);
    return this.bytes(type, b);
  }

  s32(type: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    return this.bytes(type, b);
  }

  /** A NUL-terminated string (IFLA_IFNAME, IFLA_INFO_KIND …). */
  string(type: number, value: string): this {
    return this.bytes(type, Buffer.concat([Buffer.from(value, 'utf8'), Buffer.from([0])]));
  }

  nested(type: number, build: (w: AttrWriter) => void): this {
    const inner = new AttrWriter();
    build(inner);
    return this.bytes(type, inner.toBuffer(), NLA_F_NESTED);
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Attributes by type (the last one wins when a type repeats); payloads are views, not copies. */
export type Attrs = Map<number, Buffer>;

/** A set of attribute types, as a table indexed by type (see parseAttrs). */
export type AttrTypes = Uint8Array;

export function attrTypes(...types: number[]): AttrTypes {
  const table = new Uint8Array(Math.max(...types) + 1);
  for (const t of types) table[t] = 1;
  return table;
}

/**
 * The attributes from `offset` on; with `only`, just those types (a link message has some fifty
 * attributes, and a view of each costs more than reading past it).
 */
export function parseAttrs(buf: Buffer, offset = 0, only?: AttrTypes): Attrs {
  const attrs: Attrs = new Map();
  let at = offset;
  while (at + 4 <= buf.length) {
    const len = buf[at]! | (buf[at + 1]! << 8);
    if (len < 4 || at + len > buf.length) break;
    const type = (buf[at + 2]! | (buf[at + 3]! << 8)) & NLA_TYPE_MASK;
    if (!only || only[type] === 1) attrs.set(type, buf.subarray(at + 4, at + len));
    at += align4(len);
  }
  return attrs;
}

export function attrString(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end < 0 ? b.length : end);
}

export function attrU32(b: Buffer | undefined): number | undefined {
  return b && b.length >= 4 ? b.readUInt32LE(0) : undefined;
}

export function attrS32(b: Buffer | undefined): number | undefined {
  return b && b.length >= 4 ? b.readInt32LE(0) : undefined;
}

export function attrU16(b: Buffer | undefined): number | undefined {
  return b && b.length >= 2 ? b.readUInt16LE(0) : undefined;
}

export function attrBe16(b: Buffer | undefined): number | undefined {
  return b && b.length >= 2 ? b.readUInt16BE(0) : undefined;
}
