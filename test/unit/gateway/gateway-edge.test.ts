import { beforeEach, describe, expect, it } from 'vitest';
import { parseGatewayAddress, type GatewayEdgeOptions } from '../../../src/gateway/gateway-config.ts';
import { GatewayDrop } from '../../../src/gateway/gateway-drop-reason.ts';
import { EGRESS_DROP, EGRESS_HELD, GatewayEdge, GatewayVerdict } from '../../../src/gateway/gateway-edge.ts';
import { NeighbourState } from '../../../src/gateway/neighbour-table.ts';
import { ArpOp } from '../../../src/packet/arp.ts';
import { verifyIcmpChecksum, verifyIpv4HeaderChecksum } from '../../../src/packet/checksum.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { buildFrame, type FrameSpec } from '../../../src/packet/frame-builder.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { buildIpv6Frame } from '../../../src/packet/ipv6-frame-builder.ts';
import { parseFrame, ParseFlag } from '../../../src/packet/parse-frame.ts';
import { cidr, hex, ip, RecordingWire } from './support.ts';

const GW_MAC: [number, number] = [0x0200, 0xc6120101];
const CLIENT_MAC: [number, number] = [0x0200, 0x00000002];
const SERVER_MAC: [number, number] = [0x0200, 0x000000aa];
const OFF = 128;

let mem: Uint8Array;
let view: DataView;
let wire: RecordingWire;

function makeEdge(options: GatewayEdgeOptions = {}, extraPeers: string[][] = []): GatewayEdge {
  return new GatewayEdge(
    {
      addresses: [parseGatewayAddress('198.18.1.1/24')!, parseGatewayAddress('198.18.1.10/32')!, parseGatewayAddress('198.18.2.1/24')!],
      mac: GW_MAC,
      peerSubnets: [[cidr('198.18.1.0/24')], [cidr('198.18.2.0/24'), cidr('198.18.3.0/24')], [cidr('198.18.2.128/25')], ...extraPeers.map((p) => p.map(cidr))],
    },
    wire,
    options,
  );
}

function frame(spec: FrameSpec, at = OFF): number {
  return buildFrame(view, at, { dstMac: GW_MAC, srcMac: CLIENT_MAC, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.2'), ...spec });
}

function arpFrom(mac: [number, number], spa: string, tpa: string, op: number = ArpOp.REQUEST): number {
  return buildFrame(view, OFF, {
    kind: 'arp', arpOp: op, dstMac: op === ArpOp.REQUEST ? [0xffff, 0xffffffff] : GW_MAC, srcMac: mac,
    arpSha: mac, arpSpa: ip(spa), arpTha: op === ArpOp.REQUEST ? [0, 0] : GW_MAC, arpTpa: ip(tpa),
  });
}

function parsed(len: number, at = OFF) {
  const L = new FrameLayout();
  return { reason: parseFrame(view, at, len, L, ParseFlag.VERIFY_L4_CHECKSUM), L };
}

beforeEach(() => {
  mem = new Uint8Array(4096);
  view = new DataView(mem.buffer);
  wire = new RecordingWire();
});

describe('GatewayEdge from the wire: ARP', () => {
  it('answers an ARP request for its interface address with the exact reply bytes and learns the asker', () => {
    const edge = makeEdge();
    const len = arpFrom(CLIENT_MAC, '198.18.1.2', '198.18.1.1');
    expect(edge.fromWire(view, OFF, len, 0, 1000)).toBe(GatewayVerdict.REPLY);
    expect(edge.replyLength).toBe(42);
    expect(hex(mem.subarray(OFF, OFF + 42))).toBe(
      '020000000002' + '0200c6120101' + '0806' + '0001' + '0800' + '06' + '04' + '0002' +
        '0200c6120101' + 'c6120101' + '020000000002' + 'c6120102',
    );
    const s = edge.neighbours.find(ip('198.18.1.2'), 0, 0, 0);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(edge.neighbours.state[s]).toBe(NeighbourState.REACHABLE);
    expect([edge.neighbours.macHi[s], edge.neighbours.macLo[s], edge.neighbours.peer[s]]).toEqual([...CLIENT_MAC, 0]);
    expect(edge.counters.arpRepliesSent).toBe(1);
  });

  it('answers for proxy-ARP addresses, and drops requests for addresses it does not own', () => {
    const edge = makeEdge();
    let len = arpFrom(CLIENT_MAC, '198.18.1.2', '198.18.1.10');
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.REPLY);
    expect(view.getUint16(OFF + 14 + 6)).toBe(ArpOp.REPLY);
    expect(view.getUint32(OFF + 14 + 14)).toBe(ip('198.18.1.10'));
    expect([view.getUint16(OFF + 14 + 8), view.getUint32(OFF + 14 + 10)]).toEqual(GW_MAC);
    len = arpFrom(CLIENT_MAC, '198.18.1.2', '198.18.1.99');
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.ARP_NOT_FOR_US]).toBe(1);
  });

  it('does not learn a sender outside the peer subnets, nor one claiming a gateway address', () => {
    const edge = makeEdge();
    edge.fromWire(view, OFF, arpFrom(CLIENT_MAC, '198.18.2.7', '198.18.1.1'), 0, 0);
    edge.fromWire(view, OFF, arpFrom(CLIENT_MAC, '198.18.1.10', '198.18.1.1'), 0, 0);
    expect(edge.neighbours.count).toBe(0);
  });
});

describe('GatewayEdge from the wire: IPv4', () => {
  it('forwards a frame for its MAC with the TTL decremented and both checksums still valid', () => {
    const edge = makeEdge();
    const len = frame({ proto: IpProto.TCP, ttl: 64, payloadLength: 10 });
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.FORWARD);
    const { reason, L } = parsed(len);
    expect(reason).toBe(DropReason.OK);
    expect(view.getUint8(L.l3Offset + 8)).toBe(63);
    expect(verifyIpv4HeaderChecksum(view, L.l3Offset)).toBe(true);
    expect(edge.counters.forwarded).toBe(1);
  });

  it('drops an IPv6 frame for its MAC as ipv6_no_address when it has no IPv6 address: never forwarded, nothing learnt, bytes untouched', () => {
    const edge = makeEdge();
    const len = buildIpv6Frame(view, OFF, { dstMac: GW_MAC, srcMac: CLIENT_MAC, proto: IpProto.TCP, hopLimit: 64, payloadLength: 10 });
    const before = mem.slice(OFF, OFF + len);
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.IPV6_NO_ADDRESS]).toBe(1);
    expect(edge.drops[GatewayDrop.MALFORMED]).toBe(0);
    expect(edge.counters.forwarded).toBe(0);
    expect(mem.slice(OFF, OFF + len)).toEqual(before);
  });

  it('learns the sender of forwarded traffic only when it is inside the arrival peer subnets', () => {
    const edge = makeEdge();
    edge.fromWire(view, OFF, frame({ proto: IpProto.UDP }), 0, 5);
    const s = edge.neighbours.find(ip('198.18.1.2'), 0, 0, 0);
    expect(edge.neighbours.peer[s]).toBe(0);
    expect(edge.neighbours.seenAt[s]).toBe(5);
    edge.fromWire(view, OFF, frame({ proto: IpProto.UDP }), 0, 9);
    expect(edge.neighbours.seenAt[s]).toBe(9);
    expect(edge.counters.learned).toBe(1);
    edge.fromWire(view, OFF, frame({ proto: IpProto.UDP, srcIp: ip('198.18.3.3'), dstIp: ip('198.18.1.2') }), 0, 0);
    expect(edge.neighbours.find(ip('198.18.3.3'), 0, 0, 0)).toBe(-1);
    edge.fromWire(view, OFF, frame({ proto: IpProto.UDP, srcIp: ip('198.18.3.3'), dstIp: ip('198.18.1.2'), srcMac: SERVER_MAC }), 1, 0);
    const t = edge.neighbours.find(ip('198.18.3.3'), 0, 0, 0);
    expect([edge.neighbours.macLo[t], edge.neighbours.peer[t]]).toEqual([SERVER_MAC[1], 1]);
  });

  it('answers an expiring TTL with ICMP time exceeded from its address, quoting the datagram as received', () => {
    const edge = makeEdge();
    const len = frame({ proto: IpProto.UDP, ttl: 1, payloadLength: 32, srcPort: 5555, dstPort: 33434 });
    const quote = mem.slice(OFF + 14, OFF + 14 + 28);
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.REPLY);
    const { reason, L } = parsed(edge.replyLength);
    expect(reason).toBe(DropReason.OK);
    expect(edge.replyLength).toBe(14 + 20 + 8 + 28);
    expect([view.getUint16(OFF), view.getUint32(OFF + 2)]).toEqual(CLIENT_MAC);
    expect([view.getUint16(OFF + 6), view.getUint32(OFF + 8)]).toEqual(GW_MAC);
    expect(L.ipProto).toBe(IpProto.ICMP);
    expect(view.getUint32(L.l3Offset + 12)).toBe(ip('198.18.1.1'));
    expect(view.getUint32(L.l3Offset + 16)).toBe(ip('198.18.1.2'));
    expect(view.getUint8(L.l3Offset + 8)).toBe(64);
    expect([view.getUint8(L.l4Offset), view.getUint8(L.l4Offset + 1)]).toEqual([11, 0]);
    expect(verifyIpv4HeaderChecksum(view, L.l3Offset)).toBe(true);
    expect(verifyIcmpChecksum(view, L.l4Offset, 36)).toBe(true);
    expect(hex(mem.subarray(L.l4Offset + 8, L.l4Offset + 36))).toBe(hex(quote));
    expect(edge.drops[GatewayDrop.TTL_EXCEEDED]).toBe(1);
    expect(edge.counters.icmpTimeExceededSent).toBe(1);
  });

  it('sends no ICMP error about an ICMP error whose TTL expires (RFC 1122), but counts the drop', () => {
    const edge = makeEdge();
    const len = frame({ proto: IpProto.ICMP, icmpType: 3, icmpCode: 1, ttl: 1, payloadLength: 28 });
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.TTL_EXCEEDED]).toBe(1);
    expect(edge.counters.icmpTimeExceededSent).toBe(0);
  });

  it('answers a ping to its interface address and drops other traffic addressed to it', () => {
    const edge = makeEdge();
    let len = frame({ proto: IpProto.ICMP, icmpType: 8, dstIp: ip('198.18.1.1'), ttl: 9, icmpId: 77, icmpSeq: 3, payloadLength: 16 });
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.REPLY);
    const { reason, L } = parsed(edge.replyLength);
    expect(reason).toBe(DropReason.OK);
    expect(view.getUint8(L.l4Offset)).toBe(0);
    expect(view.getUint16(L.l4Offset + 4)).toBe(77);
    expect([view.getUint32(L.l3Offset + 12), view.getUint32(L.l3Offset + 16)]).toEqual([ip('198.18.1.1'), ip('198.18.1.2')]);
    expect(view.getUint8(L.l3Offset + 8)).toBe(64);
    expect([view.getUint16(OFF), view.getUint32(OFF + 2)]).toEqual(CLIENT_MAC);
    len = frame({ proto: IpProto.TCP, dstIp: ip('198.18.1.1') });
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.FOR_GATEWAY]).toBe(1);
  });

  it('drops frames for another MAC, broadcast IPv4 and malformed frames, each under its reason', () => {
    const edge = makeEdge();
    expect(edge.fromWire(view, OFF, frame({ dstMac: [0x0200, 0x99] }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.fromWire(view, OFF, frame({ dstMac: [0xffff, 0xffffffff] }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.NOT_FOR_GATEWAY]).toBe(2);
    const len = frame({ proto: IpProto.UDP });
    view.setUint16(OFF + 14 + 10, view.getUint16(OFF + 14 + 10) ^ 0x1111);
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.MALFORMED]).toBe(1);
    expect(edge.parseDrops[DropReason.IPV4_BAD_CHECKSUM]).toBe(1);
    expect(edge.dropsByReason()).toEqual({ not_for_gateway: 2, malformed: 1, 'malformed:ipv4_bad_checksum': 1 });
    expect(edge.counters.forwarded).toBe(0);
  });
});

describe('GatewayEdge to the wire', () => {
  function resolve(edge: GatewayEdge, mac: [number, number], addr: string, peer: number): number {
    const len = buildFrame(view, 1024, { kind: 'arp', arpOp: ArpOp.REPLY, dstMac: GW_MAC, srcMac: mac, arpSha: mac, arpSpa: ip(addr), arpTha: GW_MAC, arpTpa: ip('198.18.2.1') });
    return edge.fromWire(view, 1024, len, peer, 0);
  }

  it('rewrites the MACs toward a known neighbour and returns its peer', () => {
    const edge = makeEdge();
    expect(resolve(edge, SERVER_MAC, '198.18.2.2', 1)).toBe(GatewayVerdict.CONSUMED);
    const len = frame({ dstMac: [0x0200, 0x1234], srcMac: [0x0200, 0x5678], dstIp: ip('198.18.2.2') });
    expect(edge.toWire(view, OFF, len, 7, 0)).toBe(1);
    expect([view.getUint16(OFF), view.getUint32(OFF + 2)]).toEqual(SERVER_MAC);
    expect([view.getUint16(OFF + 6), view.getUint32(OFF + 8)]).toEqual(GW_MAC);
    expect(edge.counters.sent).toBe(1);
  });

  it('holds a frame for an unknown next hop, ARPs on the longest-prefix peer only, and releases it on the answer', () => {
    const edge = makeEdge();
    const len = frame({ dstIp: ip('198.18.2.200') });
    expect(edge.toWire(view, OFF, len, 41, 100)).toBe(EGRESS_HELD);
    expect(wire.emitted.map((e) => e.peer)).toEqual([2]);
    const req = wire.emitted[0].frame;
    expect(hex(req)).toBe(
      'ffffffffffff' + '0200c6120101' + '0806' + '0001080006040001' + '0200c6120101' + 'c6120201' + '000000000000' + 'c61202c8',
    );
    let routed = -99;
    wire.onRelease = (h) => (routed = edge.toWire(view, OFF, len, h, 101));
    expect(resolve(edge, SERVER_MAC, '198.18.2.200', 2)).toBe(GatewayVerdict.CONSUMED);
    expect(wire.released).toEqual([41]);
    expect(routed).toBe(2);
    expect([view.getUint16(OFF), view.getUint32(OFF + 2)]).toEqual(SERVER_MAC);
    expect(edge.counters).toMatchObject({ held: 1, released: 1, arpRequestsSent: 1, arpRepliesReceived: 1 });
  });

  it('ARPs on every peer of an equal-prefix group and picks the second subnet of a peer', () => {
    const edge = makeEdge({}, [['198.18.4.0/24'], ['198.18.4.0/24']]);
    expect(edge.toWire(view, OFF, frame({ dstIp: ip('198.18.4.9') }), 1, 0)).toBe(EGRESS_HELD);
    expect(wire.emitted.map((e) => e.peer).sort()).toEqual([3, 4]);
    expect(edge.toWire(view, OFF, frame({ dstIp: ip('198.18.3.9') }), 2, 0)).toBe(EGRESS_HELD);
    expect(wire.emitted.at(-1)!.peer).toBe(1);
  });

  it('drops what it cannot route: no subnet, not IPv4, or a gateway address', () => {
    const edge = makeEdge();
    expect(edge.toWire(view, OFF, frame({ dstIp: ip('198.18.9.9') }), 1, 0)).toBe(EGRESS_DROP);
    const arpLen = arpFrom(CLIENT_MAC, '198.18.1.2', '198.18.1.1');
    expect(edge.toWire(view, OFF, arpLen, 2, 0)).toBe(EGRESS_DROP);
    expect(edge.toWire(view, OFF, frame({ dstIp: ip('198.18.1.10') }), 3, 0)).toBe(EGRESS_DROP);
    expect(edge.dropsByReason()).toEqual({ no_route: 1, egress_not_ipv4: 1, for_gateway: 1 });
    expect(wire.emitted).toEqual([]);
  });

  it('bounds the hold queue per address and the number of unresolved addresses, counting overflow', () => {
    const edge = makeEdge({ holdPerAddress: 2, maxPending: 1 });
    const len = frame({ dstIp: ip('198.18.2.2') });
    expect([1, 2, 3].map((h) => edge.toWire(view, OFF, len, h, 0))).toEqual([EGRESS_HELD, EGRESS_HELD, EGRESS_DROP]);
    expect(edge.toWire(view, OFF, frame({ dstIp: ip('198.18.2.3') }), 4, 0)).toBe(EGRESS_DROP);
    expect(edge.drops[GatewayDrop.HOLD_QUEUE_FULL]).toBe(2);
    expect(edge.neighbours.heldFor(edge.neighbours.find(ip('198.18.2.2'), 0, 0, 0))).toBe(2);
  });

  it('refuses new next hops when the neighbour table is full', () => {
    const edge = makeEdge({ neighbourCapacity: 4 });
    const verdicts = [1, 2, 3, 4].map((i) => edge.toWire(view, OFF, frame({ dstIp: ip(`198.18.2.${i + 10}`) }), i, 0));
    expect(verdicts).toEqual([EGRESS_HELD, EGRESS_HELD, EGRESS_HELD, EGRESS_DROP]);
    expect(edge.drops[GatewayDrop.NEIGHBOUR_TABLE_FULL]).toBe(1);
  });

  it('repeats an unanswered ARP request only after the probe interval, and gives up after the resolve timeout', () => {
    const edge = makeEdge({ probeIntervalMs: 1000, resolveTimeoutMs: 3000 });
    const len = frame({ dstIp: ip('198.18.2.2') });
    edge.toWire(view, OFF, len, 1, 0);
    edge.toWire(view, OFF, len, 2, 500);
    expect(wire.emitted.length).toBe(1);
    edge.toWire(view, OFF, len, 3, 1000);
    expect(wire.emitted.length).toBe(2);
    edge.sweep(2999);
    expect(wire.discarded).toEqual([]);
    edge.sweep(3000);
    expect(wire.discarded).toEqual([1, 2, 3]);
    expect(edge.drops[GatewayDrop.RESOLVE_TIMEOUT]).toBe(3);
    expect(edge.neighbours.count).toBe(0);
    expect(edge.toWire(view, OFF, len, 4, 3001)).toBe(EGRESS_HELD);
    expect(wire.emitted.length).toBe(3);
  });

  it('forgets neighbours it has not heard from for reachableMs, and close() discards held frames', () => {
    const edge = makeEdge({ reachableMs: 10_000 });
    resolve(edge, SERVER_MAC, '198.18.2.2', 1);
    edge.toWire(view, OFF, frame({ dstIp: ip('198.18.2.3') }), 9, 0);
    edge.sweep(9_999);
    expect(edge.neighbours.find(ip('198.18.2.2'), 0, 0, 0)).toBeGreaterThanOrEqual(0);
    edge.sweep(10_000);
    expect(edge.neighbours.find(ip('198.18.2.2'), 0, 0, 0)).toBe(-1);
    const edge2 = makeEdge();
    edge2.toWire(view, OFF, frame({ dstIp: ip('198.18.2.3') }), 5, 0);
    edge2.toWire(view, OFF, frame({ dstIp: ip('198.18.2.4') }), 6, 0);
    wire.discarded.length = 0;
    edge2.close();
    expect(wire.discarded.sort()).toEqual([5, 6]);
    expect(edge2.drops[GatewayDrop.HELD_AT_CLOSE]).toBe(2);
    expect(edge2.neighbours.count).toBe(0);
  });
});
