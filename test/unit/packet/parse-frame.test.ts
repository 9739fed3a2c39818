import { describe, expect, it } from 'vitest';
import { writeIpv4HeaderChecksum } from '../../../src/packet/checksum.ts';
import { DROP_REASON_NAMES, DropReason, type DropReasonCode } from '../../../src/packet/drop-reason.ts';
import type { FrameSpec } from '../../../src/packet/frame-builder.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { parseFrame, ParseFlag, parseFrameGeneral, verifyL4Checksum } from '../../../src/packet/parse-frame.ts';
import { frame, frame6, mutated6, placed, viewOf } from './frame-fixtures.ts';

const OFF = 37;

interface Case {
  name: string;
  bytes: Uint8Array;
  length?: number;
  flags?: number;
}

function mutated(spec: FrameSpec, edit: (v: DataView, l3: number) => void, fixIpChecksum = true): Uint8Array {
  const bytes = frame(spec);
  const v = viewOf(bytes);
  const l3 = 14 + 4 * (spec.vlanIds?.length ?? 0);
  edit(v, l3);
  if (fixIpChecksum) writeIpv4HeaderChecksum(v, l3);
  return bytes;
}

function parse(c: Case, layout = new FrameLayout()): number {
  const view = placed(c.bytes, OFF);
  return parseFrame(view, OFF, c.length ?? c.bytes.length, layout, c.flags ?? 0);
}

const udp: FrameSpec = { proto: IpProto.UDP, payloadLength: 18 };
const tcp: FrameSpec = { proto: IpProto.TCP, payloadLength: 6 };
const icmp: FrameSpec = { proto: IpProto.ICMP, payloadLength: 10 };
const arp: FrameSpec = { kind: 'arp' };
const full = (spec: FrameSpec) => frame(spec);
const udp6 = { proto: 17, payloadLength: 18 } as const;
const tcp6 = { proto: 6, payloadLength: 6 } as const;
const icmp6 = { proto: 58, payloadLength: 10 } as const;
const dstOpts = (n: number) => Array.from({ length: n }, () => ({ type: 60 }));
/** A first fragment (M set) of `spec`, its payload cut to `upper` bytes after the fragment header. */
const firstFragmentCut = (proto: number, upper: number) =>
  mutated6({ proto, payloadLength: 40, extensionHeaders: [{ type: 44, moreFragments: true }] }, (v, l3) => v.setUint16(l3 + 4, 8 + upper)).subarray(0, 14 + 48 + upper);

const CASES: Record<Exclude<keyof typeof DropReason, 'OK'>, Case[]> = {
  ETH_TRUNCATED: [
    { name: '13 bytes', bytes: full(udp), length: 13 },
    { name: 'empty', bytes: full(udp), length: 0 },
  ],
  VLAN_TRUNCATED_TAG: [
    { name: 'TPID with half a tag', bytes: full({ ...udp, vlanIds: [10] }), length: 16 },
    { name: 'second tag cut', bytes: full({ ...udp, vlanIds: [10, 20] }), length: 21 },
  ],
  VLAN_TOO_MANY_TAGS: [{ name: 'three tags', bytes: full({ ...udp, vlanIds: [1, 2, 3] }) }],
  UNSUPPORTED_ETHERTYPE: [
    { name: 'IPX', bytes: mutated(udp, (v) => v.setUint16(12, 0x8137), false) },
    { name: '802.3 length field', bytes: mutated(udp, (v) => v.setUint16(12, 0x002e), false) },
    { name: 'after a VLAN tag', bytes: mutated({ ...udp, vlanIds: [7] }, (v) => v.setUint16(16, 0x88cc), false) },
  ],
  ARP_TRUNCATED: [{ name: '27 bytes of ARP', bytes: full(arp), length: 14 + 27 }],
  ARP_UNSUPPORTED: [
    { name: 'htype 6', bytes: mutated(arp, (v, a) => v.setUint16(a, 6), false) },
    { name: 'ptype IPv6', bytes: mutated(arp, (v, a) => v.setUint16(a + 2, 0x86dd), false) },
    { name: 'hlen 8', bytes: mutated(arp, (v, a) => v.setUint8(a + 4, 8), false) },
    { name: 'plen 16', bytes: mutated(arp, (v, a) => v.setUint8(a + 5, 16), false) },
    { name: 'op 3', bytes: mutated(arp, (v, a) => v.setUint16(a + 6, 3), false) },
  ],
  IPV4_TRUNCATED_HEADER: [{ name: '19 bytes of IP', bytes: full(udp), length: 14 + 19 }],
  IPV4_BAD_VERSION: [{ name: 'version 6', bytes: mutated(udp, (v, l3) => v.setUint8(l3, 0x65)) }],
  IPV4_BAD_IHL: [{ name: 'IHL 4', bytes: mutated(udp, (v, l3) => v.setUint8(l3, 0x44), false) }],
  IPV4_IHL_BEYOND_FRAME: [{ name: 'IHL 15 in a 46-byte packet', bytes: mutated(udp, (v, l3) => v.setUint8(l3, 0x4f), false), length: 14 + 46 }],
  IPV4_TOTAL_LENGTH_BELOW_IHL: [
    { name: 'total length 0 (TSO capture)', bytes: mutated(udp, (v, l3) => v.setUint16(l3 + 2, 0)) },
    { name: 'total length 19', bytes: mutated(udp, (v, l3) => v.setUint16(l3 + 2, 19)) },
  ],
  IPV4_TOTAL_LENGTH_BEYOND_FRAME: [
    { name: 'one byte more than the frame', bytes: mutated(udp, (v, l3) => v.setUint16(l3 + 2, 47)) },
    { name: 'frame cut in the payload', bytes: full(udp), length: 59 },
  ],
  IPV4_BAD_CHECKSUM: [
    { name: 'checksum off by one', bytes: mutated(udp, (v, l3) => v.setUint16(l3 + 10, v.getUint16(l3 + 10) ^ 1), false) },
    { name: 'TTL changed without update', bytes: mutated(udp, (v, l3) => v.setUint8(l3 + 8, 63), false) },
  ],
  IPV4_BAD_OPTIONS: [
    { name: 'option length 1', bytes: full({ ...udp, ipOptions: [7, 1, 0, 0] }) },
    { name: 'option past the header', bytes: full({ ...udp, ipOptions: [1, 7, 8, 4] }) },
    { name: 'length byte missing', bytes: full({ ...udp, ipOptions: [1, 1, 1, 0x44] }) },
  ],
  IPV4_TTL_ZERO: [{ name: 'TTL 0', bytes: full({ ...udp, ttl: 0 }) }],
  IPV4_FIRST_FRAGMENT: [{ name: 'MF, offset 0', bytes: full({ ...udp, ipFlags: 1 }) }],
  IPV4_LATER_FRAGMENT: [
    { name: 'offset 185, last', bytes: full({ ...udp, ipFlags: 0, fragmentOffset: 185 }) },
    { name: 'offset 1, MF', bytes: full({ ...udp, ipFlags: 1, fragmentOffset: 1 }) },
  ],
  TCP_TRUNCATED_HEADER: [{ name: '19 bytes of TCP', bytes: mutated(tcp, (v, l3) => v.setUint16(l3 + 2, 20 + 19)) }],
  TCP_BAD_DATA_OFFSET: [
    { name: 'data offset 4', bytes: mutated(tcp, (v, l3) => v.setUint8(l3 + 20 + 12, 0x40)) },
    { name: 'data offset beyond segment', bytes: mutated(tcp, (v, l3) => v.setUint8(l3 + 20 + 12, 0x70)) },
  ],
  UDP_TRUNCATED_HEADER: [{ name: '7 bytes of UDP', bytes: mutated(udp, (v, l3) => v.setUint16(l3 + 2, 27)) }],
  UDP_BAD_LENGTH: [
    { name: 'UDP length 7', bytes: mutated(udp, (v, l3) => v.setUint16(l3 + 24, 7)) },
    { name: 'UDP length beyond IP payload', bytes: mutated(udp, (v, l3) => v.setUint16(l3 + 24, 27)) },
  ],
  ICMP_TRUNCATED: [{ name: '7 bytes of ICMP', bytes: mutated(icmp, (v, l3) => v.setUint16(l3 + 2, 27)) }],
  TCP_BAD_CHECKSUM: [{ name: 'payload byte flipped', bytes: mutated(tcp, (v, l3) => v.setUint8(l3 + 41, v.getUint8(l3 + 41) ^ 0x10)), flags: ParseFlag.VERIFY_L4_CHECKSUM }],
  UDP_BAD_CHECKSUM: [{ name: 'payload byte flipped', bytes: mutated(udp, (v, l3) => v.setUint8(l3 + 30, v.getUint8(l3 + 30) ^ 0x80)), flags: ParseFlag.VERIFY_L4_CHECKSUM }],
  ICMP_BAD_CHECKSUM: [{ name: 'echo id changed', bytes: mutated(icmp, (v, l3) => v.setUint16(l3 + 24, 999)), flags: ParseFlag.VERIFY_L4_CHECKSUM }],
  UNSUPPORTED_IP_PROTOCOL: [
    { name: 'GRE with DROP_UNSUPPORTED_PROTOCOLS', bytes: full({ proto: 47, payloadLength: 4 }), flags: ParseFlag.DROP_UNSUPPORTED_PROTOCOLS },
    { name: 'IPv6: ICMP for IPv4 with DROP_UNSUPPORTED_PROTOCOLS', bytes: frame6({ proto: 1, payloadLength: 8 }), flags: ParseFlag.DROP_UNSUPPORTED_PROTOCOLS },
    { name: 'IPv6: ESP with DROP_UNSUPPORTED_PROTOCOLS', bytes: frame6({ proto: 50, payloadLength: 16, extensionHeaders: [{ type: 0 }] }), flags: ParseFlag.DROP_UNSUPPORTED_PROTOCOLS },
  ],
  IPV6_TRUNCATED_HEADER: [
    { name: '39 bytes of IPv6', bytes: frame6(udp6), length: 14 + 39 },
    { name: 'after a VLAN tag', bytes: frame6({ ...udp6, vlanIds: [3] }), length: 18 + 20 },
  ],
  IPV6_BAD_VERSION: [
    { name: 'version 4 under EtherType IPv6', bytes: mutated6(udp6, (v, l3) => v.setUint8(l3, 0x45)) },
    { name: 'version 0', bytes: mutated6(udp6, (v, l3) => v.setUint8(l3, 0x00)) },
  ],
  IPV6_PAYLOAD_LENGTH_BEYOND_FRAME: [
    { name: 'one byte more than the frame', bytes: mutated6(udp6, (v, l3) => v.setUint16(l3 + 4, 27)) },
    { name: 'frame cut in the payload', bytes: frame6(udp6), length: 14 + 40 + 20 },
  ],
  IPV6_HOP_LIMIT_ZERO: [{ name: 'hop limit 0', bytes: frame6({ ...udp6, hopLimit: 0 }) }],
  IPV6_MULTICAST_SOURCE: [{ name: 'source ff02::1', bytes: frame6({ ...udp6, src: [0xff02, 0, 0, 0, 0, 0, 0, 1] }) }],
  IPV6_EXT_HEADER_TRUNCATED: [
    { name: 'destination options longer than the payload', bytes: mutated6({ ...udp6, extensionHeaders: [{ type: 60 }] }, (v, l3) => v.setUint8(l3 + 41, 4)) },
    { name: 'hop-by-hop cut after 4 bytes', bytes: mutated6({ proto: 59, extensionHeaders: [{ type: 0 }] }, (v, l3) => v.setUint16(l3 + 4, 4)).subarray(0, 14 + 44) },
    { name: 'AH longer than the payload', bytes: mutated6({ ...udp6, extensionHeaders: [{ type: 51, length: 12 }] }, (v, l3) => v.setUint8(l3 + 41, 20)) },
    { name: 'fragment header cut', bytes: mutated6({ proto: 59, extensionHeaders: [{ type: 44 }] }, (v, l3) => v.setUint16(l3 + 4, 6)).subarray(0, 14 + 46) },
    { name: 'routing header, no next-header byte left', bytes: mutated6({ proto: 59, extensionHeaders: [{ type: 43 }] }, (v, l3) => v.setUint16(l3 + 4, 0)).subarray(0, 14 + 40) },
  ],
  IPV6_EXT_HEADER_CHAIN_TOO_LONG: [
    { name: 'nine destination options headers', bytes: frame6({ ...udp6, extensionHeaders: dstOpts(9) }) },
    { name: 'hop-by-hop and 200 destination options', bytes: frame6({ ...udp6, extensionHeaders: [{ type: 0 }, ...dstOpts(200)] }) },
  ],
  IPV6_HOP_BY_HOP_NOT_FIRST: [{ name: 'after destination options', bytes: frame6({ ...udp6, extensionHeaders: [{ type: 60 }, { type: 0 }] }) }],
  IPV6_ROUTING_TYPE_0: [{ name: 'type 0, one segment left', bytes: frame6({ ...udp6, extensionHeaders: [{ type: 43, routingType: 0, segmentsLeft: 1 }] }) }],
  IPV6_BAD_FRAGMENT: [
    { name: 'two fragment headers', bytes: frame6({ ...udp6, payloadLength: 8, extensionHeaders: [{ type: 44, moreFragments: true }, { type: 44, moreFragments: true }] }) },
    { name: 'M set, 21 bytes of data', bytes: frame6({ ...udp6, payloadLength: 13, extensionHeaders: [{ type: 44, moreFragments: true }] }) },
    { name: 'data past offset 65535', bytes: frame6({ ...udp6, payloadLength: 16, extensionHeaders: [{ type: 44, fragmentOffset: 8190 }] }) },
  ],
  IPV6_FIRST_FRAGMENT_INCOMPLETE: [
    { name: 'TCP header cut at 16 bytes', bytes: firstFragmentCut(6, 16) },
    { name: 'UDP header cut at 0 bytes', bytes: firstFragmentCut(17, 0) },
    { name: 'TCP options past the fragment', bytes: mutated6({ proto: 6, payloadLength: 4, extensionHeaders: [{ type: 44, moreFragments: true }] }, (v, l3) => v.setUint8(l3 + 48 + 12, 0xf0)) },
  ],
  ICMPV6_TRUNCATED: [{ name: '7 bytes of ICMPv6', bytes: mutated6(icmp6, (v, l3) => v.setUint16(l3 + 4, 7)) }],
  ICMPV6_BAD_CHECKSUM: [
    { name: 'payload byte flipped', bytes: mutated6(icmp6, (v, l3) => v.setUint8(l3 + 49, v.getUint8(l3 + 49) ^ 4)), flags: ParseFlag.VERIFY_L4_CHECKSUM },
    { name: 'checksum without the pseudo-header (as ICMP for IPv4)', bytes: mutated6(icmp6, (v, l3) => {
      v.setUint16(l3 + 42, 0);
      let s = 0;
      for (let i = 0; i < 18; i += 2) s += v.getUint16(l3 + 40 + i);
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      v.setUint16(l3 + 42, ~s & 0xffff);
    }), flags: ParseFlag.VERIFY_L4_CHECKSUM },
  ],
};
CASES.TCP_TRUNCATED_HEADER.push({ name: 'IPv6: 19 bytes of TCP', bytes: mutated6(tcp6, (v, l3) => v.setUint16(l3 + 4, 19)) });
CASES.TCP_BAD_DATA_OFFSET.push({ name: 'IPv6: data offset 4', bytes: mutated6(tcp6, (v, l3) => v.setUint8(l3 + 52, 0x40)) });
CASES.UDP_TRUNCATED_HEADER.push({ name: 'IPv6: 7 bytes of UDP after a hop-by-hop header', bytes: mutated6({ ...udp6, extensionHeaders: [{ type: 0 }] }, (v, l3) => v.setUint16(l3 + 4, 15)) });
CASES.UDP_BAD_LENGTH.push({ name: 'IPv6: UDP length beyond the payload', bytes: mutated6(udp6, (v, l3) => v.setUint16(l3 + 44, 27)) });
CASES.TCP_BAD_CHECKSUM.push({ name: 'IPv6: destination changed', bytes: mutated6(tcp6, (v, l3) => v.setUint8(l3 + 39, 9)), flags: ParseFlag.VERIFY_L4_CHECKSUM });
CASES.UDP_BAD_CHECKSUM.push(
  { name: 'IPv6: payload byte flipped', bytes: mutated6(udp6, (v, l3) => v.setUint8(l3 + 50, v.getUint8(l3 + 50) ^ 1)), flags: ParseFlag.VERIFY_L4_CHECKSUM },
  { name: 'IPv6: checksum 0 (mandatory over IPv6)', bytes: frame6({ ...udp6, udpNoChecksum: true }), flags: ParseFlag.VERIFY_L4_CHECKSUM },
);

describe('parseFrame drop reasons', () => {
  for (const [reason, cases] of Object.entries(CASES)) {
    for (const c of cases) {
      it(`${reason.toLowerCase()}: ${c.name}`, () => {
        expect(DROP_REASON_NAMES[parse(c)]).toBe(DROP_REASON_NAMES[DropReason[reason as keyof typeof DropReason]]);
      });
    }
  }

  it('every drop reason has at least one test frame', () => {
    const reasons = Object.keys(DropReason).filter((k) => k !== 'OK');
    const missing = reasons.filter((r) => (CASES as Record<string, Case[] | undefined>)[r] === undefined || CASES[r as keyof typeof CASES].length === 0);
    expect(missing).toEqual([]);
    const reached = new Set<number>();
    for (const cases of Object.values(CASES)) for (const c of cases) reached.add(parse(c));
    for (const r of reasons) expect(reached.has(DropReason[r as keyof typeof DropReason]), r).toBe(true);
  });

  it('the same frames parse OK without the opt-in flags', () => {
    for (const c of [...CASES.TCP_BAD_CHECKSUM, ...CASES.UDP_BAD_CHECKSUM, ...CASES.ICMP_BAD_CHECKSUM, ...CASES.UNSUPPORTED_IP_PROTOCOL]) {
      expect(parse({ ...c, flags: 0 })).toBe(DropReason.OK);
    }
  });

  it('a short frame at the very end of the view is truncated without reading past it', () => {
    const view = new DataView(new ArrayBuffer(64));
    expect(parseFrame(view, 54, 10, new FrameLayout())).toBe(DropReason.ETH_TRUNCATED);
  });
});

describe('parseFrame layouts of good frames', () => {
  const codeOf = (bytes: Uint8Array, flags: number = ParseFlag.VERIFY_L4_CHECKSUM, layout = new FrameLayout()) =>
    parseFrame(placed(bytes, OFF), OFF, bytes.length, layout, flags);

  it('UDP: offsets are absolute and lengths follow the headers', () => {
    const layout = new FrameLayout();
    expect(codeOf(frame(udp), ParseFlag.VERIFY_L4_CHECKSUM, layout)).toBe(DropReason.OK);
    expect(layout).toMatchObject({
      frameOffset: OFF, frameLength: 60, ethertype: 0x0800, vlanCount: 0, l3Offset: OFF + 14, l3Length: 46,
      ipHeaderLength: 20, ipTotalLength: 46, ipProto: 17, isFragment: false, l4Offset: OFF + 34, l4Length: 26,
      payloadOffset: OFF + 42, payloadLength: 18,
    });
  });

  it('TCP with options, QinQ and IP options', () => {
    const layout = new FrameLayout();
    const bytes = frame({ ...tcp, vlanIds: [100, 200], ipOptions: [1, 1, 1, 0], tcpOptions: [2, 4, 5, 0xb4] });
    expect(codeOf(bytes, ParseFlag.VERIFY_L4_CHECKSUM, layout)).toBe(DropReason.OK);
    expect(Array.from(layout.vlanIds)).toEqual([100, 200]);
    expect(layout.vlanCount).toBe(2);
    expect(layout.l3Offset).toBe(OFF + 22);
    expect(layout.ipHeaderLength).toBe(24);
    expect(layout.l4Offset).toBe(OFF + 46);
    expect(layout.payloadOffset).toBe(OFF + 46 + 24);
    expect(layout.payloadLength).toBe(6);
  });

  it('Ethernet padding after the IP packet is legal', () => {
    const layout = new FrameLayout();
    const bytes = frame({ proto: IpProto.TCP, padding: 6 });
    expect(bytes.length).toBe(60);
    expect(codeOf(bytes, ParseFlag.VERIFY_L4_CHECKSUM, layout)).toBe(DropReason.OK);
    expect(layout.l3Length).toBe(40);
    expect(layout.l4Length).toBe(20);
  });

  it('UDP length shorter than the IP payload is accepted and bounds the datagram', () => {
    const bytes = mutated({ ...udp, udpNoChecksum: true }, (v, l3) => v.setUint16(l3 + 24, 10));
    const layout = new FrameLayout();
    expect(codeOf(bytes, ParseFlag.VERIFY_L4_CHECKSUM, layout)).toBe(DropReason.OK);
    expect(layout.l4Length).toBe(10);
    expect(layout.payloadLength).toBe(2);
  });

  it('UDP checksum 0 means none and passes verification', () => {
    const bytes = frame({ ...udp, udpNoChecksum: true });
    expect(viewOf(bytes).getUint16(40)).toBe(0);
    expect(codeOf(bytes)).toBe(DropReason.OK);
  });

  it('ICMP, ARP, other protocols and the reserved/DF flags', () => {
    const layout = new FrameLayout();
    expect(codeOf(frame(icmp), ParseFlag.VERIFY_L4_CHECKSUM, layout)).toBe(DropReason.OK);
    expect(layout.payloadLength).toBe(10);
    expect(codeOf(frame(arp), 0, layout)).toBe(DropReason.OK);
    expect(layout).toMatchObject({ ethertype: 0x0806, l3Offset: OFF + 14, l3Length: 28, l4Offset: -1, payloadOffset: -1 });
    expect(codeOf(frame({ proto: 50, payloadLength: 12 }), ParseFlag.VERIFY_L4_CHECKSUM, layout)).toBe(DropReason.OK);
    expect(layout).toMatchObject({ ipProto: 50, l4Length: 12, payloadOffset: layout.l4Offset, payloadLength: 12 });
    expect(codeOf(frame({ ...udp, ipFlags: 4 }))).toBe(DropReason.OK);
  });

  it('IPv4 options: EOL ends the walk, NOP and length-checked options pass', () => {
    expect(codeOf(frame({ ...udp, ipOptions: [0, 0xff, 0xff, 0xff] }))).toBe(DropReason.OK);
    expect(codeOf(frame({ ...udp, ipOptions: [0x94, 4, 0, 0] }))).toBe(DropReason.OK);
    expect(codeOf(frame({ ...udp, ipOptions: [1, 0x07, 7, 4, 0, 0, 0, 0] }))).toBe(DropReason.OK);
  });

  it('a dropped frame keeps its L2 findings and resets everything deeper', () => {
    const layout = new FrameLayout();
    codeOf(frame({ ...tcp, vlanIds: [5] }), 0, layout);
    expect(layout.vlanCount).toBe(1);
    expect(parse(CASES.IPV4_BAD_CHECKSUM[0], layout)).toBe(DropReason.IPV4_BAD_CHECKSUM);
    expect(layout).toMatchObject({
      frameOffset: OFF, frameLength: 60, ethertype: 0x0800, vlanCount: 0, l3Offset: OFF + 14, l3Length: 0, ipHeaderLength: 0,
      ipTotalLength: 0, ipProto: 0, isFragment: false, l4Offset: -1, l4Length: 0, payloadOffset: -1, payloadLength: 0,
    });
    expect(Array.from(layout.vlanIds)).toEqual([0, 0]);
    expect(parse(CASES.IPV4_FIRST_FRAGMENT[0], layout)).toBe(DropReason.IPV4_FIRST_FRAGMENT);
    expect(layout.isFragment).toBe(true);
    codeOf(frame({ ...tcp, vlanIds: [5, 6] }), 0, layout);
    expect(parse(CASES.VLAN_TRUNCATED_TAG[1], layout)).toBe(DropReason.VLAN_TRUNCATED_TAG);
    expect(layout).toMatchObject({ ethertype: 0, vlanCount: 0, l3Offset: -1, l4Offset: -1, ipProto: 0 });
    expect(Array.from(layout.vlanIds)).toEqual([0, 0]);
  });

  it('verifyL4Checksum checks a frame parsed on the fast path', () => {
    const layout = new FrameLayout();
    for (const [c, want] of [
      [CASES.TCP_BAD_CHECKSUM[0], DropReason.TCP_BAD_CHECKSUM],
      [CASES.UDP_BAD_CHECKSUM[0], DropReason.UDP_BAD_CHECKSUM],
      [CASES.ICMP_BAD_CHECKSUM[0], DropReason.ICMP_BAD_CHECKSUM],
    ] as Array<[Case, DropReasonCode]>) {
      const view = placed(c.bytes, OFF);
      expect(parseFrame(view, OFF, c.bytes.length, layout)).toBe(DropReason.OK);
      expect(verifyL4Checksum(view, layout)).toBe(want);
    }
    for (const spec of [udp, tcp, icmp, arp, { proto: 47 }]) {
      const bytes = frame(spec);
      const view = placed(bytes, OFF);
      expect(parseFrame(view, OFF, bytes.length, layout)).toBe(DropReason.OK);
      expect(verifyL4Checksum(view, layout)).toBe(DropReason.OK);
    }
  });
});

describe('parseFrame shortcut for untagged IPv4 TCP/UDP', () => {
  const fields = (l: FrameLayout) => [l.frameOffset, l.frameLength, l.ethertype, l.vlanCount, l.vlanIds[0], l.vlanIds[1], l.l3Offset, l.l3Length,
    l.ipHeaderLength, l.ipTotalLength, l.ipProto, l.isFragment, l.l4Offset, l.l4Length, l.payloadOffset, l.payloadLength];

  it('agrees with the general parser at every length, header-length and flag boundary', () => {
    const edits: Array<[string, (v: DataView, l3: number) => void]> = [
      ['as built', () => {}],
      ...[0, 1, 19, 20, 27, 28, 29, 39, 40, 41, 45, 46, 47, 48, 60, 0xffff].map((n): [string, (v: DataView, l3: number) => void] => [`total ${n}`, (v, l3) => v.setUint16(l3 + 2, n)]),
      ...[0x44, 0x46, 0x35, 0x55].map((b): [string, (v: DataView, l3: number) => void] => [`version/IHL ${b}`, (v, l3) => v.setUint8(l3, b)]),
      ...[0x2000, 0x0001, 0x1fff, 0x4000, 0x8000].map((f): [string, (v: DataView, l3: number) => void] => [`flags ${f}`, (v, l3) => v.setUint16(l3 + 6, f)]),
      ['ttl 0', (v, l3) => v.setUint8(l3 + 8, 0)],
      ...[1, 47, 0, 255].map((p): [string, (v: DataView, l3: number) => void] => [`proto ${p}`, (v, l3) => v.setUint8(l3 + 9, p)]),
      ...[0, 7, 8, 9, 25, 26, 27].map((n): [string, (v: DataView, l3: number) => void] => [`udp length ${n}`, (v, l3) => v.setUint16(l3 + 24, n)]),
      ...[0x00, 0x40, 0x50, 0x60, 0xf0].map((b): [string, (v: DataView, l3: number) => void] => [`tcp offset ${b}`, (v, l3) => v.setUint8(l3 + 32, b)]),
    ];
    for (const spec of [{ ...udp, payloadLength: 0 }, udp, { ...tcp, payloadLength: 0 }, tcp, { ...tcp, tcpOptions: [1, 1, 1, 1] }]) {
      for (const [name, edit] of edits) {
        if ((name.startsWith('udp') && spec.proto !== IpProto.UDP) || (name.startsWith('tcp') && spec.proto !== IpProto.TCP)) continue;
        for (const fix of [true, false]) {
          const bytes = mutated(spec, edit, fix);
          for (let len = Math.max(0, bytes.length - 30); len <= bytes.length; len++) {
            for (const flags of [0, ParseFlag.VERIFY_L4_CHECKSUM, ParseFlag.DROP_UNSUPPORTED_PROTOCOLS]) {
              const view = placed(bytes.subarray(0, len), OFF);
              const a = new FrameLayout();
              const b = new FrameLayout();
              const where = `${spec.proto} ${name} fix ${fix} len ${len} flags ${flags}`;
              expect(parseFrame(view, OFF, len, a, flags), where).toBe(parseFrameGeneral(view, OFF, len, b, flags));
              expect(fields(a), where).toEqual(fields(b));
            }
          }
        }
      }
    }
  });

  it('clears the VLAN fields of a reused layout when an untagged frame follows a tagged one', () => {
    const layout = new FrameLayout();
    const tagged = frame({ ...udp, vlanIds: [100, 200] });
    const plain = frame(udp);
    expect(parseFrame(placed(tagged, OFF), OFF, tagged.length, layout)).toBe(DropReason.OK);
    expect([layout.vlanCount, ...layout.vlanIds]).toEqual([2, 100, 200]);
    expect(parseFrame(placed(plain, OFF), OFF, plain.length, layout)).toBe(DropReason.OK);
    expect([layout.vlanCount, ...layout.vlanIds, layout.l3Offset]).toEqual([0, 0, 0, OFF + 14]);
    expect(parseFrame(placed(plain, OFF), OFF, plain.length, layout)).toBe(DropReason.OK);
    expect([layout.vlanCount, ...layout.vlanIds]).toEqual([0, 0, 0]);
  });
});
