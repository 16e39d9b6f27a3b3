// Netlink attributes (struct nlattr: u16 length, u16 type, payload padded to 4 bytes), in host
// byte order like the kernel writes them (little-endian: the netlink package ships x64 binaries
// only). The netlink package moves messages; the bodies of the
// few rtnetlink messages vlannet needs are written and read here, so that IFLA_LINKINFO,
// IFLA_AF_SPEC and extended acks, which the package leaves as raw bytes, go through one codec.

const NLA_TYPE_MASK = 0x3fff; // strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
const NLA_F_NESTED = 0x8000;

const align4 = (n: number): number => (n + 3) & ~3;

/** Builds a sequence of attributes, in one buffer that grows as needed. */
export class AttrWriter {
  private buf = Buffer.allocUnsafe(128);
  private length = 0;

  /** Room for `n` more bytes. */
  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  /** An attribute header and `size` payload bytes written by `fill` at the offset it is given, then padding. */
  private put(type: number, size: number, fill: (buf: Buffer, at: number) => void, flags = 0): this {
    const total = align4(4 + size);
    this.reserve(total);
    const at = this.length;
    this.buf.writeUInt16LE(4 + size, at);
    this.buf.writeUInt16LE(type | flags, at + 2);
    fill(this.buf, at + 4);
    this.buf.fill(0, at + 4 + size, at + total);
    this.length += total;
    return this;
  }

  bytes(type: number, payload: Buffer, flags = 0): this {
    return this.put(
      type,
      payload.length,
      (b, at) => {
        payload.copy(b, at);
      },
      flags,
    );
  }

  u8(type: number, value: number): this {
    return this.put(type, 1, (b, at) => {
      b[at] = value;
    });
  }

  u16(type: number, value: number): this {
    return this.put(type, 2, (b, at) => {
      b.writeUInt16LE(value, at);
    });
  }

  /** A 16-bit value in network byte order (IFLA_VLAN_PROTOCOL). */
  be16(type: number, value: number): this {
    return this.put(type, 2, (b, at) => {
      b.writeUInt16BE(value, at);
    });
  }

  u32(type: number, value: number): this {
    return this.put(type, 4, (b, at) => {
      b.writeUInt32LE(value >>> 0, at);
    });
  }

  s32(type: number, value: number): this {
    return this.put(type, 4, (b, at) => {
      b.writeInt32LE(value, at);
    });
  }

  /** A NUL-terminated string (IFLA_IFNAME, IFLA_INFO_KIND …). */
  string(type: number, value: string): this {
    const n = Buffer.byteLength(value, 'utf8');
    return this.put(type, n + 1, (b, at) => {
      b.write(value, at, 'utf8');
      b[at + n] = 0;
    });
  }

  /** A nested attribute (NLA_F_NESTED): `build` writes its attributes, in place. */
  nested(type: number, build: (w: AttrWriter) => void): this {
    this.reserve(4);
    const at = this.length;
    this.length += 4;
    build(this);
    this.buf.writeUInt16LE(this.length - at, at);
    this.buf.writeUInt16LE(type | NLA_F_NESTED, at + 2);
    return this;
  }

  /** The attributes written, as a buffer of their own. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
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
