import { describe, expect, it } from 'vitest';
import { FLOW_NOT_FOUND } from '../../../src/flow/flow-table.ts';
import { LINK_TABLE_INITIAL_CAPACITY, LinkFlowTable, PinFlag, UNSET_SIDE } from '../../../src/dataplane/link-flow-table.ts';
import { type FrameSpec } from '../../../src/packet/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { TcpFlag } from '../../../src/packet/tcp.ts';
import { Rng } from '../../support/rng.ts';
import { frame, viewOf } from '../packet/frame-fixtures.ts';

const A = 0x0a000001; // 10.0.0.1
const B = 0xc0a80102; // 192.168.1.2 (≥ 2^31: canonical order must compare unsigned)
const R = 0x0a0000fe; // a router sending ICMP errors

/** Classifies a built frame placed 40 bytes into a bigger buffer (offsets are absolute). */
function classify(link: LinkFlowTable, spec: FrameSpec, len?: number): boolean {
  const bytes = frame(spec);
  const mem = new Uint8Array(bytes.length + 200).fill(0xee);
  mem.set(bytes, 40);
  return link.classify(viewOf(mem), 40, len ?? bytes.length);
}

function tuple(link: LinkFlowTable): [number, number, number, number, number] {
  return [link.s >>> 0, link.d >>> 0, link.sp, link.dp, link.proto];
}

/** What `ChainDataPlane.sweep` does to one link (timeouts in ticks). */
function sweep(link: LinkFlowTable, now: number, t = { tcp: 100, tcpClosed: 4, udp: 20, other: 10 }): number {
  return link.table.removeWhere((slot) => link.isExpired(slot, now, t));
}

describe('LinkFlowTable.classify', () => {
  it('keys a TCP frame by its canonical 5-tuple (lower endpoint first) and keeps its flags', () => {
    const link = new LinkFlowTable(16, 1);
    expect(classify(link, { proto: IpProto.TCP, srcIp: B, dstIp: A, srcPort: 443, dstPort: 50000, tcpFlags: TcpFlag.SYN | TcpFlag.ACK })).toBe(true);
    expect(tuple(link)).toEqual([A, B, 50000, 443, IpProto.TCP]);
    expect(link.tcpFlags).toBe(TcpFlag.SYN | TcpFlag.ACK);
    // The other direction gives the same fields.
    expect(classify(link, { proto: IpProto.TCP, srcIp: A, dstIp: B, srcPort: 50000, dstPort: 443, tcpFlags: TcpFlag.ACK })).toBe(true);
    expect(tuple(link)).toEqual([A, B, 50000, 443, IpProto.TCP]);
    expect(link.tcpFlags).toBe(TcpFlag.ACK);
  });

  it('orders equal addresses by port, and addresses unsigned', () => {
    const link = new LinkFlowTable(16, 1);
    classify(link, { proto: IpProto.UDP, srcIp: A, dstIp: A, srcPort: 9000, dstPort: 53 });
    expect(tuple(link)).toEqual([A, A, 53, 9000, IpProto.UDP]);
    classify(link, { proto: IpProto.UDP, srcIp: 0xffffffff, dstIp: 1, srcPort: 1, dstPort: 2 });
    expect(tuple(link)).toEqual([1, 0xffffffff, 2, 1, IpProto.UDP]);
    expect(link.tcpFlags).toBe(0);
  });

  it('reads through one 802.1Q tag and past IPv4 options', () => {
    const link = new LinkFlowTable(16, 1);
    classify(link, { proto: IpProto.UDP, srcIp: A, dstIp: B, srcPort: 1234, dstPort: 53 });
    const plain = tuple(link);
    expect(classify(link, { vlanIds: [42], proto: IpProto.UDP, srcIp: A, dstIp: B, srcPort: 1234, dstPort: 53 })).toBe(true);
    expect(tuple(link)).toEqual(plain);
    expect(classify(link, { ipOptions: [1, 1, 1, 1, 1, 1, 1, 0], proto: IpProto.UDP, srcIp: A, dstIp: B, srcPort: 1234, dstPort: 53 })).toBe(true);
    expect(tuple(link)).toEqual(plain);
  });

  it('refuses frames it cannot key: ARP, other EtherTypes, shorter than 34 bytes, IPv6 shorter than its header', () => {
    const link = new LinkFlowTable(16, 1);
    expect(classify(link, { kind: 'arp' })).toBe(false);
    const udp = { proto: IpProto.UDP, srcIp: A, dstIp: B };
    expect(classify(link, udp, 33)).toBe(false);
    const bytes = frame(udp);
    bytes[12] = 0x88; // EtherType 0x88cc (LLDP)
    bytes[13] = 0xcc;
    expect(link.classify(viewOf(bytes), 0, bytes.length)).toBe(false);
    bytes[12] = 0x86; // EtherType 0x86dd (IPv6) over 28 bytes: no room for its 40-byte header
    bytes[13] = 0xdd;
    expect(link.classify(viewOf(bytes), 0, bytes.length)).toBe(false);
  });

  it('keys fragments and truncated L4 headers without ports (all fragments of a datagram agree)', () => {
    const link = new LinkFlowTable(16, 1);
    expect(classify(link, { proto: IpProto.TCP, srcIp: A, dstIp: B, srcPort: 1000, dstPort: 80, ipFlags: 1, tcpFlags: TcpFlag.FIN })).toBe(true);
    expect(tuple(link)).toEqual([A, B, 0, 0, IpProto.TCP]);
    expect(link.tcpFlags).toBe(0);
    expect(classify(link, { proto: IpProto.UDP, srcIp: B, dstIp: A, fragmentOffset: 185, ipFlags: 0, payloadLength: 16 })).toBe(true);
    expect(tuple(link)).toEqual([A, B, 0, 0, IpProto.UDP]);
    // 14 + 20 + 4 bytes: the ports are not all there.
    expect(classify(link, { proto: IpProto.TCP, srcIp: A, dstIp: B, srcPort: 1000, dstPort: 80 }, 38)).toBe(true);
    expect(tuple(link)).toEqual([A, B, 0, 0, IpProto.TCP]);
    // Ports there, flags byte not: ports kept, flags 0.
    expect(classify(link, { proto: IpProto.TCP, srcIp: A, dstIp: B, srcPort: 1000, dstPort: 80, tcpFlags: TcpFlag.RST }, 14 + 20 + 13)).toBe(true);
    expect(tuple(link)).toEqual([A, B, 1000, 80, IpProto.TCP]);
    expect(link.tcpFlags).toBe(0);
  });

  it('keys an ICMP echo by its identifier, so request and reply share the entry', () => {
    const link = new LinkFlowTable(16, 1);
    classify(link, { proto: IpProto.ICMP, srcIp: A, dstIp: B, icmpType: 8, icmpId: 0x1234, icmpSeq: 7 });
    expect(tuple(link)).toEqual([A, B, 0x1234, 0x1234, IpProto.ICMP]);
    const slot = link.insert(3, 5, 1);
    classify(link, { proto: IpProto.ICMP, srcIp: B, dstIp: A, icmpType: 0, icmpId: 0x1234, icmpSeq: 7 });
    expect(link.find()).toBe(slot);
    classify(link, { proto: IpProto.ICMP, srcIp: B, dstIp: A, icmpType: 0, icmpId: 0x1235, icmpSeq: 7 });
    expect(link.find()).toBe(FLOW_NOT_FOUND);
  });

  it('keys an ICMP error by the flow it quotes, so it finds that flow’s pin', () => {
    const link = new LinkFlowTable(16, 1);
    const udp = { proto: IpProto.UDP, srcIp: A, dstIp: B, srcPort: 40000, dstPort: 53 } as const;
    classify(link, udp);
    const slot = link.insert(1, 2, 1);
    // Router R tells A that B is unreachable, quoting A's datagram (IP header + 8 bytes).
    const quoted = frame({ ...udp, payloadLength: 20 }).subarray(14, 14 + 28);
    expect(classify(link, { proto: IpProto.ICMP, srcIp: R, dstIp: A, icmpType: 3, icmpCode: 1, icmpId: 0, icmpSeq: 0, payload: quoted })).toBe(true);
    expect(tuple(link)).toEqual([A, B, 40000, 53, IpProto.UDP]);
    expect(link.find()).toBe(slot);
    // Time exceeded (11) too, quoting the reply direction.
    const reply = frame({ proto: IpProto.UDP, srcIp: B, dstIp: A, srcPort: 53, dstPort: 40000 }).subarray(14, 14 + 28);
    classify(link, { proto: IpProto.ICMP, srcIp: R, dstIp: B, icmpType: 11, icmpId: 0, icmpSeq: 0, payload: reply });
    expect(link.find()).toBe(slot);
    // An error quoting an ICMP echo finds the echo's entry (keyed by identifier, like the
    // echo itself and like extractIcmpInnerFlowKey in the pipeline).
    const ping = { proto: IpProto.ICMP, srcIp: A, dstIp: B, icmpType: 8, icmpId: 0x4242, icmpSeq: 3 } as const;
    classify(link, ping);
    const pingSlot = link.insert(4, 6, 1);
    const quotedPing = frame(ping).subarray(14, 14 + 28);
    expect(classify(link, { proto: IpProto.ICMP, srcIp: R, dstIp: A, icmpType: 11, icmpId: 0, icmpSeq: 0, payload: quotedPing })).toBe(true);
    expect(tuple(link)).toEqual([A, B, 0x4242, 0x4242, IpProto.ICMP]);
    expect(link.find()).toBe(pingSlot);
    // A quote too short to read is keyed as plain ICMP between R and A (ports 0).
    classify(link, { proto: IpProto.ICMP, srcIp: R, dstIp: A, icmpType: 3, icmpId: 0, icmpSeq: 0, payload: quoted.subarray(0, 20) });
    expect(tuple(link)).toEqual([A, R, 0, 0, IpProto.ICMP]);
  });
});

/** 2001:db8::/32 addresses for the IPv6 cases: `v6addr(1)` = 2001:db8::1, `v6addr(1, 0x10000)` = 2001:db8:1::1. */
function v6addr(low: number, high = 0): Uint8Array<ArrayBuffer> {
  const a = new Uint8Array(16);
  const v = new DataView(a.buffer);
  v.setUint32(0, 0x20010db8);
  v.setUint32(4, high);
  v.setUint32(12, low);
  return a;
}

interface V6Spec {
  src: Uint8Array;
  dst: Uint8Array;
  /** Extension headers before the transport header: [type, total bytes] (fragment headers are 8 bytes). */
  ext?: [number, number][];
  /** Transport protocol and header bytes. */
  proto: number;
  l4: Uint8Array;
  /** Fields of the fragment header, if `ext` has one (default offset 0, no more fragments: an atomic fragment). */
  fragment?: { offset: number; more: boolean };
}

/** An Ethernet + IPv6 frame (no checksums: the link table does not read them). */
function v6frame(spec: V6Spec): Uint8Array<ArrayBuffer> {
  const ext = spec.ext ?? [];
  const extBytes = ext.reduce((n, [, size]) => n + size, 0);
  const bytes = new Uint8Array(14 + 40 + extBytes + spec.l4.length);
  const v = new DataView(bytes.buffer);
  v.setUint16(12, 0x86dd);
  v.setUint32(14, 0x60000000);
  v.setUint16(18, extBytes + spec.l4.length);
  v.setUint8(20, ext.length > 0 ? ext[0][0] : spec.proto);
  v.setUint8(21, 64);
  bytes.set(spec.src, 22);
  bytes.set(spec.dst, 38);
  let at = 54;
  ext.forEach(([type, size], i) => {
    v.setUint8(at, i + 1 < ext.length ? ext[i + 1][0] : spec.proto);
    // Length field: AH counts 4-byte units minus 2; the others 8-byte units minus 1; fragment has none.
    if (type === 51) v.setUint8(at + 1, size / 4 - 2);
    else if (type !== 44) v.setUint8(at + 1, size / 8 - 1);
    else if (spec.fragment !== undefined) v.setUint16(at + 2, (spec.fragment.offset << 3) | (spec.fragment.more ? 1 : 0));
    at += size;
  });
  bytes.set(spec.l4, at);
  return bytes;
}

/** The first bytes of a TCP or UDP header: ports, and TCP flags at byte 13. */
function ports(sport: number, dport: number, tcpFlags = 0): Uint8Array<ArrayBuffer> {
  const h = new Uint8Array(20);
  const v = new DataView(h.buffer);
  v.setUint16(0, sport);
  v.setUint16(2, dport);
  v.setUint8(13, tcpFlags);
  return h;
}

/** An ICMPv6 header (type, code, identifier, sequence) followed by `body`. */
function icmp6(type: number, id = 0, body: Uint8Array = new Uint8Array(0)): Uint8Array<ArrayBuffer> {
  const h = new Uint8Array(8 + body.length);
  const v = new DataView(h.buffer);
  v.setUint8(0, type);
  v.setUint16(4, id);
  h.set(body, 8);
  return h;
}

describe('LinkFlowTable.classify over IPv6', () => {
  const X = v6addr(1);
  const Y = v6addr(2, 0x10000);
  /** The frame placed at the very end of its buffer: a read past the frame would throw. */
  const key = (link: LinkFlowTable, bytes: Uint8Array, len = bytes.length): ReturnType<typeof tuple> | null => {
    const mem = new Uint8Array(len + 40);
    mem.set(bytes.subarray(0, len), 40);
    return link.classify(viewOf(mem), 40, len) ? tuple(link) : null;
  };

  it('keys both directions of a TCP flow alike, keeps its flags, and tells apart addresses that differ in any word', () => {
    const link = new LinkFlowTable(16, 1);
    const there = key(link, v6frame({ src: X, dst: Y, proto: IpProto.TCP, l4: ports(50000, 443, TcpFlag.SYN) }));
    expect(link.tcpFlags).toBe(TcpFlag.SYN);
    const back = key(link, v6frame({ src: Y, dst: X, proto: IpProto.TCP, l4: ports(443, 50000, TcpFlag.SYN | TcpFlag.ACK) }));
    expect(back).toEqual(there);
    expect(link.tcpFlags).toBe(TcpFlag.SYN | TcpFlag.ACK);
    expect(there![4]).toBe(IpProto.TCP);
    expect([there![2], there![3]].sort()).toEqual([443, 50000]);
    const keys = new Set([JSON.stringify(there)]);
    for (let word = 0; word < 4; word++) {
      const other = Y.slice();
      other[word * 4 + 3] ^= 1;
      keys.add(JSON.stringify(key(link, v6frame({ src: X, dst: other, proto: IpProto.TCP, l4: ports(50000, 443) }))));
    }
    expect(keys.size).toBe(5);
  });

  it('finds the transport header after hop-by-hop, routing, destination options and AH headers', () => {
    const link = new LinkFlowTable(16, 1);
    const plain = key(link, v6frame({ src: X, dst: Y, proto: IpProto.UDP, l4: ports(5353, 53) }));
    const wrapped = key(link, v6frame({ src: X, dst: Y, ext: [[0, 8], [43, 24], [60, 16], [51, 16]], proto: IpProto.UDP, l4: ports(5353, 53) }));
    expect(wrapped).toEqual(plain);
    // More extension headers than the bound: keyed by addresses alone (ports 0), never misread.
    const nine = Array.from({ length: 9 }, (): [number, number] => [60, 8]);
    const deep = key(link, v6frame({ src: X, dst: Y, ext: nine, proto: IpProto.UDP, l4: ports(5353, 53) }));
    expect(deep!.slice(0, 2)).toEqual(plain!.slice(0, 2));
    expect(deep!.slice(2, 4)).toEqual([0, 0]);
  });

  it('keys every fragment of a datagram by its addresses and inner protocol alone; an atomic fragment as a whole datagram', () => {
    const link = new LinkFlowTable(16, 1);
    const whole = key(link, v6frame({ src: X, dst: Y, proto: IpProto.UDP, l4: ports(5353, 53) }));
    const l4 = new Uint8Array(24);
    l4.set(ports(5353, 53));
    const first = key(link, v6frame({ src: X, dst: Y, ext: [[44, 8]], fragment: { offset: 0, more: true }, proto: IpProto.UDP, l4 }));
    expect(first).toEqual([...whole!.slice(0, 2), 0, 0, IpProto.UDP]);
    const later = key(link, v6frame({ src: Y, dst: X, ext: [[0, 8], [44, 8]], fragment: { offset: 3, more: false }, proto: IpProto.UDP, l4: new Uint8Array(8).fill(0x77) }));
    expect(later).toEqual(first);
    // Offset 0 and no more fragments (RFC 6946): not a fragment, the ports are there.
    expect(key(link, v6frame({ src: X, dst: Y, ext: [[44, 8]], proto: IpProto.UDP, l4: ports(5353, 53) }))).toEqual(whole);
  });

  it('keys an ICMPv6 echo by its identifier, and an ICMPv6 error by the flow it quotes', () => {
    const link = new LinkFlowTable(16, 1);
    const request = key(link, v6frame({ src: X, dst: Y, proto: 58, l4: icmp6(128, 0x1234) }));
    expect(request!.slice(2)).toEqual([0x1234, 0x1234, 58]);
    expect(key(link, v6frame({ src: Y, dst: X, proto: 58, l4: icmp6(129, 0x1234) }))).toEqual(request);
    const flow = key(link, v6frame({ src: X, dst: Y, proto: IpProto.TCP, l4: ports(40000, 80) }));
    const slot = link.insert(1, 2, 1);
    const R6 = v6addr(0xfe);
    // Destination unreachable (1), packet too big (2), time exceeded (3), parameter problem (4), each quoting the flow.
    for (const type of [1, 2, 3, 4]) {
      const quoted = v6frame({ src: X, dst: Y, ext: [[0, 8]], proto: IpProto.TCP, l4: ports(40000, 80) }).subarray(14);
      expect(key(link, v6frame({ src: R6, dst: X, proto: 58, l4: icmp6(type, 0, quoted) }))).toEqual(flow);
      expect(link.find()).toBe(slot);
    }
    // An error quoting an echo finds the echo; a quote too short to hold its header is plain ICMPv6.
    expect(key(link, v6frame({ src: R6, dst: X, proto: 58, l4: icmp6(3, 0, v6frame({ src: X, dst: Y, proto: 58, l4: icmp6(128, 0x1234) }).subarray(14)) }))).toEqual(request);
    const short = key(link, v6frame({ src: R6, dst: X, proto: 58, l4: icmp6(1, 0, new Uint8Array(30)) }));
    expect(short!.slice(2)).toEqual([0, 0, 58]);
    // Neighbour solicitation (135): keyed by its addresses.
    expect(key(link, v6frame({ src: X, dst: Y, proto: 58, l4: icmp6(135, 0, new Uint8Array(16)) }))!.slice(2)).toEqual([0, 0, 58]);
  });

  it('never reads past the frame, however it is cut or scribbled', () => {
    const link = new LinkFlowTable(64, 1);
    const rng = new Rng(0x6006);
    const samples = [
      v6frame({ src: X, dst: Y, ext: [[0, 8], [43, 24], [44, 8]], proto: IpProto.TCP, l4: ports(1, 2, TcpFlag.ACK) }),
      v6frame({ src: Y, dst: X, proto: 58, l4: icmp6(1, 0, v6frame({ src: X, dst: Y, ext: [[60, 16]], proto: IpProto.UDP, l4: ports(3, 4) }).subarray(14)) }),
    ];
    for (let i = 0; i < 20_000; i++) {
      const bytes = samples[i & 1].slice();
      for (let k = rng.int(6); k > 0; k--) bytes[14 + rng.int(bytes.length - 14)] = rng.int(256);
      const len = 34 + rng.int(bytes.length - 33);
      expect(() => key(link, bytes, len)).not.toThrow();
    }
  });
});

describe('LinkFlowTable pins', () => {
  it('inserts, finds from both directions and reports each side, UNSET_SIDE until known', () => {
    const link = new LinkFlowTable(16, 7);
    link.setTuple(A, B, 50000, 80, IpProto.TCP);
    expect(link.find()).toBe(FLOW_NOT_FOUND);
    const slot = link.insert(UNSET_SIDE, 3, 42);
    expect(slot).not.toBe(FLOW_NOT_FOUND);
    expect(link.leftOf(slot)).toBe(UNSET_SIDE);
    expect(link.rightOf(slot)).toBe(3);
    expect(link.lastSeen(slot)).toBe(42);
    expect(link.protoOf(slot)).toBe(IpProto.TCP);
    expect(link.isClosed(slot)).toBe(false);
    link.setTuple(B, A, 80, 50000, IpProto.TCP);
    expect(link.find()).toBe(slot);
    // A different protocol, or one port changed, is another flow.
    link.setTuple(B, A, 80, 50000, IpProto.UDP);
    expect(link.find()).toBe(FLOW_NOT_FOUND);
    link.setTuple(B, A, 80, 50001, IpProto.TCP);
    expect(link.find()).toBe(FLOW_NOT_FOUND);

    // Learning the left side (what the data plane does when the left instance emits a frame).
    link.setSide(slot, 0, 7);
    expect(link.leftOf(slot)).toBe(7);
    expect(link.rightOf(slot)).toBe(3);
    expect([link.sideOf(slot, 0), link.sideOf(slot, 1)]).toEqual([7, 3]);
    link.setSide(slot, 1, UNSET_SIDE);
    expect([link.leftOf(slot), link.rightOf(slot)]).toEqual([7, UNSET_SIDE]);
    link.setSide(slot, 0, UNSET_SIDE);
    expect([link.leftOf(slot), link.rightOf(slot)]).toEqual([UNSET_SIDE, UNSET_SIDE]);
    link.setSide(slot, 0, 0xfffe);
    link.setSide(slot, 1, 0);
    expect([link.leftOf(slot), link.rightOf(slot)]).toEqual([0xfffe, 0]);
    link.setSide(slot, 1, 0xffff);
    expect([link.sideOf(slot, 0), link.sideOf(slot, 1)]).toEqual([0xfffe, 0xffff]);
  });

  it('records FIN per direction and RST; a connection is closed after FIN both ways or RST', () => {
    const link = new LinkFlowTable(16, 7);
    const ab = { proto: IpProto.TCP, srcIp: A, dstIp: B, srcPort: 50000, dstPort: 80 } as const;
    const ba = { proto: IpProto.TCP, srcIp: B, dstIp: A, srcPort: 80, dstPort: 50000 } as const;
    classify(link, { ...ab, tcpFlags: TcpFlag.SYN });
    const slot = link.insert(1, 2, 10);
    classify(link, { ...ab, tcpFlags: TcpFlag.ACK | TcpFlag.PSH });
    link.touch(slot, 11, PinFlag.FIN_RIGHT);
    expect(link.lastSeen(slot)).toBe(11);
    expect(link.isClosed(slot)).toBe(false);
    classify(link, { ...ab, tcpFlags: TcpFlag.FIN | TcpFlag.ACK });
    link.touch(slot, 12, PinFlag.FIN_RIGHT);
    expect(link.isClosed(slot)).toBe(false);
    // The same direction again does not close it.
    link.touch(slot, 13, PinFlag.FIN_RIGHT);
    expect(link.isClosed(slot)).toBe(false);
    classify(link, { ...ba, tcpFlags: TcpFlag.FIN | TcpFlag.ACK });
    link.touch(slot, 14, PinFlag.FIN_LEFT);
    expect(link.isClosed(slot)).toBe(true);
    expect(link.protoOf(slot)).toBe(IpProto.TCP);
    expect(link.lastSeen(slot)).toBe(14);
    // Sides are untouched by flags.
    expect([link.leftOf(slot), link.rightOf(slot)]).toEqual([1, 2]);

    link.setTuple(A, B, 50001, 80, IpProto.TCP);
    const other = link.insert(1, 2, 20);
    classify(link, { ...ab, srcPort: 50001, tcpFlags: TcpFlag.RST | TcpFlag.FIN });
    link.touch(other, 21, PinFlag.FIN_RIGHT);
    expect(link.isClosed(other)).toBe(true);
    expect(link.table.aux(other, 1) & (PinFlag.FIN_LEFT | PinFlag.FIN_RIGHT)).toBe(0);
    expect(link.table.aux(other, 1) & PinFlag.RST).toBe(PinFlag.RST);
  });

  it('re-inserting an existing flow replaces its sides and starts its flags afresh', () => {
    const link = new LinkFlowTable(4, 7);
    link.setTuple(A, B, 1, 2, IpProto.TCP);
    const slot = link.insert(1, 1, 5);
    link.tcpFlags = TcpFlag.RST;
    link.touch(slot, 6, PinFlag.FIN_RIGHT);
    expect(link.isClosed(slot)).toBe(true);
    expect(link.insert(2, 3, 9)).toBe(slot);
    expect(link.table.size).toBe(1);
    expect([link.leftOf(slot), link.rightOf(slot), link.lastSeen(slot)]).toEqual([2, 3, 9]);
    expect(link.isClosed(slot)).toBe(false);
  });

  it('when full, insert returns FLOW_NOT_FOUND, counts it and keeps the pins it has', () => {
    const link = new LinkFlowTable(4, 7);
    const slots: number[] = [];
    for (let i = 0; i < 4; i++) {
      link.setTuple(A, B, 1000 + i, 80, IpProto.UDP);
      slots.push(link.insert(i, 10 + i, 1));
    }
    expect(slots).not.toContain(FLOW_NOT_FOUND);
    link.setTuple(A, B, 2000, 80, IpProto.UDP);
    expect(link.insert(9, 9, 1)).toBe(FLOW_NOT_FOUND);
    expect(link.full).toBe(1);
    expect(link.find()).toBe(FLOW_NOT_FOUND);
    expect(link.table.size).toBe(4);
    // An existing flow can still be updated in a full table.
    link.setTuple(B, A, 80, 1002, IpProto.UDP);
    expect(link.insert(5, 6, 2)).toBe(slots[2]);
    expect(link.full).toBe(1);
    for (let i = 0; i < 4; i++) {
      link.setTuple(A, B, 1000 + i, 80, IpProto.UDP);
      const slot = link.find();
      expect(slot).not.toBe(FLOW_NOT_FOUND);
      expect([link.leftOf(slot), link.rightOf(slot)]).toEqual(i === 2 ? [5, 6] : [i, 10 + i]);
    }
    // After an expiry there is room again.
    expect(sweep(link, 1 + 21)).toBe(3); // the three UDP pins last seen at tick 1 (more than 20 ticks ago); the updated one at 2
    link.setTuple(A, B, 2000, 80, IpProto.UDP);
    expect(link.insert(9, 9, 30)).not.toBe(FLOW_NOT_FOUND);
    expect(link.full).toBe(1);
  });

  it('expires pins by idle time per protocol, and closed TCP connections after the short timeout', () => {
    const link = new LinkFlowTable(64, 3);
    const pin = (sp: number, proto: number, tick: number) => {
      link.setTuple(A, B, sp, 80, proto);
      return link.insert(0, 0, tick);
    };
    pin(1, IpProto.TCP, 0);
    pin(2, IpProto.UDP, 0);
    pin(3, IpProto.ICMP, 0);
    const closed = pin(4, IpProto.TCP, 0);
    link.tcpFlags = TcpFlag.FIN;
    link.touch(closed, 0, PinFlag.FIN_LEFT);
    link.setTuple(A, B, 4, 80, IpProto.TCP);
    link.touch(link.find(), 0, PinFlag.FIN_RIGHT);
    link.tcpFlags = 0;
    const alive = (sp: number, proto: number) => {
      link.setTuple(B, A, 80, sp, proto);
      return link.find() !== FLOW_NOT_FOUND;
    };
    const state = () => [alive(1, 6), alive(2, 17), alive(3, 1), alive(4, 6)];
    expect(sweep(link, 4)).toBe(0); // a pin lives at least its timeout: gone only after more than 4 ticks
    expect(state()).toEqual([true, true, true, true]);
    expect(sweep(link, 5)).toBe(1);
    expect(state()).toEqual([true, true, true, false]);
    // Touching keeps a pin alive.
    link.setTuple(A, B, 2, 80, IpProto.UDP);
    link.touch(link.find(), 15, PinFlag.FIN_RIGHT);
    expect(sweep(link, 10)).toBe(0);
    expect(sweep(link, 11)).toBe(1);
    expect(state()).toEqual([true, true, false, false]);
    expect(sweep(link, 35)).toBe(0);
    expect(sweep(link, 36)).toBe(1);
    expect(sweep(link, 100)).toBe(0);
    expect(sweep(link, 101)).toBe(1);
    expect(link.table.size).toBe(0);
  });
});

describe('LinkFlowTable against a Map oracle', () => {
  type Pin = { left: number; right: number; seen: number; proto: number };
  const canon = (s: number, d: number, sp: number, dp: number, proto: number): string => {
    const a = s >>> 0;
    const b = d >>> 0;
    const first = a < b || (a === b && sp <= dp);
    return first ? `${a}:${sp}>${b}:${dp}/${proto}` : `${b}:${dp}>${a}:${sp}/${proto}`;
  };

  for (const seed of [1, 0xdecaf, 0x5eed5]) {
    it(`insert / find / touch / expire over random tuples in random directions agree (seed ${seed})`, () => {
      const rng = new Rng(seed);
      const capacity = 48;
      const link = new LinkFlowTable(capacity, seed * 31);
      const oracle = new Map<string, Pin>();
      const ips = [A, B, 0xffffffff, 0x80000000, 1, 0x7fffffff];
      const protos = [IpProto.TCP, IpProto.UDP, IpProto.ICMP];
      const idle = 20;
      let tick = 0;
      let full = 0;
      for (let step = 0; step < 6000; step++) {
        if (rng.int(8) === 0) tick += 1 + rng.int(3);
        let s = ips[rng.int(ips.length)];
        let d = ips[rng.int(ips.length)];
        let sp = rng.int(6);
        let dp = rng.int(3) === 0 ? sp : rng.int(6);
        const proto = protos[rng.int(protos.length)];
        if (rng.int(2) === 0) [s, d, sp, dp] = [d, s, dp, sp];
        link.setTuple(s, d, sp, dp, proto);
        const key = canon(s, d, sp, dp, proto);
        const want = oracle.get(key);
        const op = rng.int(10);
        const slot = link.find();
        expect(slot === FLOW_NOT_FOUND, `find ${key} at step ${step}`).toBe(want === undefined);
        if (want !== undefined) {
          expect([link.leftOf(slot), link.rightOf(slot), link.lastSeen(slot), link.protoOf(slot)]).toEqual([want.left, want.right, want.seen, want.proto]);
        }
        if (op < 4) {
          if (want === undefined) {
            const left = rng.int(4) === 0 ? UNSET_SIDE : rng.int(8);
            const right = rng.int(4) === 0 ? UNSET_SIDE : rng.int(8);
            const got = link.insert(left, right, tick);
            if (oracle.size >= capacity) {
              expect(got).toBe(FLOW_NOT_FOUND);
              full++;
            } else {
              expect(got).not.toBe(FLOW_NOT_FOUND);
              oracle.set(key, { left, right, seen: tick, proto });
            }
          } else {
            link.touch(slot, tick, PinFlag.FIN_RIGHT);
            want.seen = tick;
          }
        } else if (op < 6 && want !== undefined) {
          const left = rng.int(8);
          link.setSide(slot, 0, left);
          want.left = left;
        } else if (op === 6) {
          const removed = link.table.removeWhere((sl) => tick - link.lastSeen(sl) >= idle);
          let expected = 0;
          for (const [k, pin] of oracle) {
            if (tick - pin.seen >= idle) {
              oracle.delete(k);
              expected++;
            }
          }
          expect(removed).toBe(expected);
        }
        expect(link.table.size).toBe(oracle.size);
        expect(link.full).toBe(full);
      }
      // Every pin the oracle holds is found from both directions, with its sides.
      for (const [key, pin] of oracle) {
        const m = /^(\d+):(\d+)>(\d+):(\d+)\/(\d+)$/.exec(key)!;
        const [s, sp, d, dp, proto] = m.slice(1).map(Number);
        link.setTuple(d, s, dp, sp, proto);
        const slot = link.find();
        expect(slot).not.toBe(FLOW_NOT_FOUND);
        link.setTuple(s, d, sp, dp, proto);
        expect(link.find()).toBe(slot);
        expect([link.leftOf(slot), link.rightOf(slot)]).toEqual([pin.left, pin.right]);
      }
      expect(full).toBeGreaterThan(0); // the run did reach the capacity
    });
  }

  it('classify maps both directions of random TCP/UDP/ICMP-echo frames to one entry', () => {
    const rng = new Rng(0xfeed);
    const link = new LinkFlowTable(1024, 99);
    const slots = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const proto = [IpProto.TCP, IpProto.UDP, IpProto.ICMP][rng.int(3)];
      const a = (0xc0a80000 + rng.int(4)) >>> 0;
      const b = (0x0a000000 + rng.int(4)) >>> 0;
      const pa = 1 + rng.int(5);
      const pb = 1 + rng.int(5);
      const key = proto === IpProto.ICMP ? `${proto}/${a}/${b}/${pa}` : `${proto}/${a}/${b}/${pa}/${pb}`;
      const forward = rng.int(2) === 0;
      const spec: FrameSpec =
        proto === IpProto.ICMP
          ? { proto, srcIp: forward ? a : b, dstIp: forward ? b : a, icmpType: forward ? 8 : 0, icmpId: pa, icmpSeq: rng.int(100) }
          : { proto, srcIp: forward ? a : b, dstIp: forward ? b : a, srcPort: forward ? pa : pb, dstPort: forward ? pb : pa, tcpFlags: TcpFlag.ACK };
      expect(classify(link, spec)).toBe(true);
      let slot = link.find();
      const known = slots.get(key);
      if (known === undefined) {
        expect(slot).toBe(FLOW_NOT_FOUND);
        slot = link.insert(1, 2, i);
        slots.set(key, slot);
      } else {
        expect(slot).toBe(known);
      }
    }
    expect(link.table.size).toBe(slots.size);
  });

  it('starts small and grows with its pins, keeping each one (sides, last seen, flags), up to its capacity', () => {
    const capacity = 5000;
    const link = new LinkFlowTable(capacity, 7);
    expect(link.table.capacity).toBe(LINK_TABLE_INITIAL_CAPACITY);
    const key = (f: number): [number, number, number, number, number] => [0xc6120000 + (f >> 8), 0x0a000001, 1024 + (f & 0xff), 80, f % 3 === 0 ? IpProto.UDP : IpProto.TCP];
    for (let f = 0; f < capacity; f++) {
      link.setTuple(...key(f));
      expect(link.find()).toBe(FLOW_NOT_FOUND);
      const slot = link.insert(f & 0xff, (f >> 8) & 0xff, f);
      expect(slot).not.toBe(FLOW_NOT_FOUND);
      link.tcpFlags = f % 5 === 0 ? TcpFlag.FIN : 0;
      link.touch(slot, f + 1, PinFlag.FIN_LEFT);
    }
    // 1024 → 2048 → 4096 → 5000 entries.
    expect(link.table.capacity).toBe(capacity);
    expect(link.table.size).toBe(capacity);
    for (let f = 0; f < capacity; f++) {
      const [s, d, sp, dp, proto] = key(f);
      link.setTuple(d, s, dp, sp, proto); // the other direction finds it too
      const slot = link.find();
      expect(slot).not.toBe(FLOW_NOT_FOUND);
      expect([link.leftOf(slot), link.rightOf(slot), link.lastSeen(slot), link.protoOf(slot)]).toEqual([f & 0xff, (f >> 8) & 0xff, f + 1, proto]);
      expect(link.table.aux(slot, 1) & PinFlag.FIN_LEFT).toBe(f % 5 === 0 ? PinFlag.FIN_LEFT : 0);
    }
    // Full at its capacity: the next flow is refused and counted, nothing is lost.
    link.setTuple(0x01020304, 0x05060708, 1, 2, IpProto.UDP);
    expect(link.insert(1, 2, 0)).toBe(FLOW_NOT_FOUND);
    expect(link.full).toBe(1);
    expect(link.table.size).toBe(capacity);
    // The sweep works on the grown table.
    expect(sweep(link, 10_000)).toBe(capacity);
    expect(link.table.size).toBe(0);
  });

  it('a capacity below the initial one is its table’s own', () => {
    const link = new LinkFlowTable(16, 3);
    expect(link.table.capacity).toBe(16);
    for (let f = 0; f < 16; f++) {
      link.setTuple(f, 99, 1, 2, IpProto.UDP);
      expect(link.insert(0, 1, 0)).not.toBe(FLOW_NOT_FOUND);
    }
    link.setTuple(16, 99, 1, 2, IpProto.UDP);
    expect(link.insert(0, 1, 0)).toBe(FLOW_NOT_FOUND);
    expect(link.full).toBe(1);
  });
});
