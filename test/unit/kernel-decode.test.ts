// formatAddress: the text of kernel address bytes is ip-address's canonical form, for IPv4 written
// straight from the bytes and for IPv6 remembered per address.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Address4, Address6 } from 'ip-address';
import { addressBytes, formatAddress } from '../../src/kernel/decode.js';

function random(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    b[i] = seed >>> 24;
  }
  return b;
}

test("IPv4 bytes give ip-address's canonical text", () => {
  for (const fixed of [
    [0, 0, 0, 0],
    [255, 255, 255, 255],
    [10, 0, 0, 1],
    [192, 168, 100, 7],
  ]) {
    const b = Buffer.from(fixed);
    assert.is(formatAddress(b), Address4.fromUnsignedByteArray(fixed).correctForm());
  }
  for (let i = 0; i < 500; i++) {
    const b = random(4, i);
    assert.is(formatAddress(b), Address4.fromUnsignedByteArray([...b]).correctForm());
    assert.equal(addressBytes(formatAddress(b)).bytes, b);
  }
});

test("IPv6 bytes give ip-address's canonical text, the same when asked again", () => {
  const cases: Buffer[] = [
    Buffer.alloc(16),
    Buffer.from('fe800000000000000000000000000001', 'hex'),
    Buffer.from('20010db8000000000001000000000001', 'hex'),
  ];
  for (let i = 0; i < 500; i++) {
    const b = random(16, i);
    if (i % 3 === 0) b.fill(0, 4, 12); // runs of zeros to compress
    cases.push(b);
  }
  for (const b of cases) {
    const expected = Address6.fromUnsignedByteArray([...b]).correctForm();
    assert.is(formatAddress(b), expected);
    assert.is(formatAddress(Buffer.from(b)), expected);
    assert.equal(addressBytes(expected).bytes, b);
  }
  assert.is(formatAddress(Buffer.from('fe800000000000000000000000000001', 'hex')), 'fe80::1');
});

test.run();
