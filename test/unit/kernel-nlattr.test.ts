// AttrWriter writes netlink attributes byte for byte as the kernel lays them out (struct nlattr:
// u16 length without padding, u16 type, payload padded to 4 bytes), and parseAttrs reads them back.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AttrWriter, attrString, attrTypes, attrU16, attrU32, parseAttrs } from '../../src/kernel/nlattr.js';

test('lengths, types, padding and nesting, byte for byte', () => {
  const b = new AttrWriter()
    .string(3, 'eth0')
    .u8(7, 0xab)
    .u16(8, 0x1234)
    .be16(9, 0x8100)
    .u32(4, 1500)
    .s32(37, -1)
    .nested(18, (w) => w.string(1, 'macvlan').u32(2, 4))
    .bytes(1, Buffer.from([1, 2, 3, 4, 5, 6]))
    .toBuffer();
  const hex = [
    '09000300',
    '65746830',
    '00000000', // "eth0\0" padded to 8
    '05000700',
    'ab000000',
    '06000800',
    '34120000',
    '06000900',
    '81000000',
    '08000400',
    'dc050000',
    '08002500',
    'ffffffff',
    '18001280',
    '0c000100',
    '6d6163766c616e00',
    '08000200',
    '04000000', // nested: 4 + 12 + 8
    '0a000100',
    '010203040506',
    '0000',
  ].join('');
  assert.is(b.toString('hex'), hex);
});

test('a writer grows past its first buffer; parseAttrs reads every attribute or only those asked for', () => {
  const w = new AttrWriter();
  for (let i = 1; i <= 100; i++) w.u32(i, i * 1000);
  w.string(101, 'x'.repeat(300));
  const buf = w.toBuffer();
  const all = parseAttrs(buf);
  assert.is(all.size, 101);
  for (let i = 1; i <= 100; i++) assert.is(attrU32(all.get(i)), i * 1000);
  assert.is(attrString(all.get(101)), 'x'.repeat(300));
  const some = parseAttrs(buf, 0, attrTypes(2, 50));
  assert.equal([...some.keys()], [2, 50]);
  assert.is(attrU16(some.get(50)), 50000);
});

test.run();
