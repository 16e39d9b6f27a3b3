// The IFLA_LINKINFO codec and the link decoder against RTM_NEWLINK messages captured from real
// kernels (test/fixtures/kernel/README.md), with iproute2's reading of the same links as the
// expected values.

import fs from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeLink } from '../../src/kernel/decode.js';
import {
  decodeLinkInfo,
  encodeLinkInfo,
  IPVLAN_FLAG,
  IPVLAN_MODE,
  MACVLAN_MODE,
  VLAN_PROTOCOL,
  type LinkInfo,
} from '../../src/kernel/linkinfo.js';
import { parseAttrs } from '../../src/kernel/nlattr.js';

interface Captured {
  netns: string | null;
  body: string;
  disableIpv6: boolean | null;
  ip: {
    ifname: string;
    ifindex: number;
    mtu: number;
    address: string;
    flags: string[];
    ifalias?: string;
    link?: string;
    link_index?: number;
    link_netnsid?: number;
    linkinfo?: { info_kind: string; info_data?: Record<string, unknown> };
  };
}
interface Fixture {
  captured: string;
  links: Captured[];
}

const dir = new URL('../../../test/fixtures/kernel/', import.meta.url);
const fixtures: Fixture[] = ['links-host.json', 'links-uml-6.1.json', 'links-debian-6.1.json'].map((f) =>
  JSON.parse(fs.readFileSync(new URL(f, dir), 'utf8')),
);
const all = fixtures.flatMap((f) => f.links.map((l) => ({ ...l, kernel: f.captured })));

const IFLA_LINKINFO = 18;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const linkinfoOf = (c: Captured): Buffer | undefined => parseAttrs(Buffer.from(c.body, 'hex'), 16).get(IFLA_LINKINFO);

test('fixtures cover every kind vlannet creates or reads as a parent', () => {
  const kinds = new Set(all.map((c) => c.ip.linkinfo?.info_kind ?? ''));
  for (const k of ['macvlan', 'ipvlan', 'vlan', 'dummy', 'veth', '']) assert.ok(kinds.has(k), `no captured ${k || 'device'} link`);
});

test('decodeLink reads what iproute2 reads from the same message', () => {
  for (const c of all) {
    const at = `${c.kernel} ${c.netns ?? 'own'}/${c.ip.ifname}`;
    const l = decodeLink(Buffer.from(c.body, 'hex'));
    assert.is(l.name, c.ip.ifname, at);
    assert.is(l.index, c.ip.ifindex, at);
    assert.is(l.mtu, c.ip.mtu, at);
    assert.is(l.mac, c.ip.address, at);
    assert.is(l.up, c.ip.flags.includes('UP'), at);
    assert.is(l.alias, c.ip.ifalias ?? null, at);
    assert.is(l.kind, c.ip.linkinfo?.info_kind ?? '', at);
    assert.is(l.linkNetnsid, c.ip.link_netnsid, at);
    if (c.ip.link_index !== undefined) assert.is(l.link, c.ip.link_index, at);
    if (c.disableIpv6 !== null) assert.is(l.ipv6Disabled, c.disableIpv6, at);
  }
});

test('a lower link in the same namespace is the index of the link iproute2 names', () => {
  for (const f of fixtures) {
    for (const c of f.links.filter((x) => x.ip.link !== undefined)) {
      const l = decodeLink(Buffer.from(c.body, 'hex'));
      const lower = f.links.find((x) => x.netns === c.netns && x.ip.ifname === c.ip.link)!;
      assert.is(l.link, lower.ip.ifindex, `${f.captured} ${c.ip.ifname}`);
    }
  }
});

test('mode, flag, vlan id and protocol decode as iproute2 prints them', () => {
  let seen = 0;
  for (const c of all) {
    const data = c.ip.linkinfo?.info_data;
    const payload = linkinfoOf(c);
    if (!data || !payload) continue;
    const info = decodeLinkInfo(payload);
    const at = `${c.kernel} ${c.ip.ifname}`;
    if (info.kind === 'macvlan' && 'mode' in info) {
      assert.is(info.mode, data.mode, at);
      assert.is(((info.flags ?? 0) & 2) !== 0, data.nodst === true, `${at} nodst`);
      seen++;
    } else if (info.kind === 'ipvlan' && 'flag' in info) {
      assert.is(info.mode, data.mode, at);
      assert.is(data[info.flag], true, `${at} flag ${info.flag}`);
      seen++;
    } else if (info.kind === 'vlan' && 'id' in info) {
      assert.is(info.id, data.id, at);
      assert.is(info.protocol, data.protocol, at);
      seen++;
    }
  }
  assert.ok(seen >= 12, `only ${seen} links with kind data decoded`);
});

test('what vlannet sends is byte for byte what the kernel reports back', () => {
  let compared = 0;
  for (const c of all) {
    const payload = linkinfoOf(c);
    if (!payload) continue;
    const decoded = decodeLinkInfo(payload);
    if ('unknown' in decoded || decoded.kind === 'veth') continue;
    const sent = parseAttrs(encodeLinkInfo(decoded as LinkInfo));
    const reported = parseAttrs(payload);
    assert.equal(sent.get(IFLA_INFO_KIND), reported.get(IFLA_INFO_KIND), c.ip.ifname);
    const reportedData = parseAttrs(reported.get(IFLA_INFO_DATA) ?? Buffer.alloc(0));
    for (const [type, value] of parseAttrs(sent.get(IFLA_INFO_DATA) ?? Buffer.alloc(0))) {
      assert.equal(value, reportedData.get(type), `${c.kernel} ${c.ip.ifname} attribute ${type}`);
      compared++;
    }
  }
  assert.ok(compared >= 15, `only ${compared} attributes compared`);
});

test('mode tables go both ways', () => {
  for (const t of [MACVLAN_MODE, IPVLAN_MODE, IPVLAN_FLAG, VLAN_PROTOCOL]) {
    for (const [word, value] of Object.entries(t.value)) assert.is(t.name.get(value as number), word);
  }
  for (const mode of Object.keys(MACVLAN_MODE.value)) {
    const info = decodeLinkInfo(encodeLinkInfo({ kind: 'macvlan', mode: mode as never }));
    assert.equal(info, { kind: 'macvlan', mode });
  }
  for (const mode of Object.keys(IPVLAN_MODE.value)) {
    for (const flag of Object.keys(IPVLAN_FLAG.value)) {
      assert.equal(decodeLinkInfo(encodeLinkInfo({ kind: 'ipvlan', mode: mode as never, flag: flag as never })), {
        kind: 'ipvlan',
        mode,
        flag,
      });
    }
  }
});

test('a word the kernel has no number for is refused with the choices', () => {
  assert.throws(
    () => encodeLinkInfo({ kind: 'macvlan', mode: 'bridged' as never }),
    /unknown macvlan mode "bridged" \(expected one of private, vepa, bridge, passthru, source\)/,
  );
  assert.throws(() => encodeLinkInfo({ kind: 'ipvlan', mode: 'l2', flag: 'public' as never }), /unknown ipvlan flag "public"/);
});

test('a kind vlannet does not decode is reported by name only', () => {
  const bridge = Buffer.from('0b000100627269646765000000', 'hex'); // IFLA_INFO_KIND "bridge"
  assert.equal(decodeLinkInfo(bridge.subarray(0, 12)), { kind: 'bridge', unknown: true });
});

test.run();
