import { beforeEach, describe, expect, it } from 'vitest';
import type { GatewayEdgeOptions, Prefix6 } from '../../../src/gateway/gateway-config.ts';
import { parseGatewayAddress, parseTaggedGatewayAddress, type GatewayAddress6 } from '../../../src/gateway/gateway-config.ts';
import { GatewayDrop } from '../../../src/gateway/gateway-drop-reason.ts';
import { EGRESS_DROP, EGRESS_HELD, GatewayEdge, GatewayVerdict } from '../../../src/gateway/gateway-edge.ts';
import { NeighbourState } from '../../../src/gateway/neighbour-table.ts';
import { computeIcmpv6Checksum } from '../../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { ipv6Mask, parseIpv6, type Ipv6Address } from '../../../src/packet/ipv6-address.ts';
import { parseFrame, ParseFlag } from '../../../src/packet/parse-frame.ts';
import { cidr, hex, RecordingWire } from './support.ts';

const GW_MAC: [number, number] = [0x0200, 0x20000db9];
const CLIENT_MAC: [number, number] = [0x0200, 0x00000002];
const SERVER_MAC: [number, number] = [0x0200, 0x000000aa];
const OFF = 128;

const a6 = (s: string): Ipv6Address => parseIpv6(s)!;
/** The eight 16-bit groups the frame builder takes. */
const groups = (s: string): number[] => a6(s).flatMap((w) => [w >>> 16, w & 0xffff]);
const prefix6 = (s: string): Prefix6 => {
  const [a, p] = s.split('/');
  const mask = ipv6Mask(Number(p));
  return { addr: a6(a).map((w, i) => (w & mask[i]) >>> 0) as unknown as Ipv6Address, prefix: Number(p), mask };
};
const gw6 = (s: string): GatewayAddress6 => {
  const t = parseTaggedGatewayAddress(s)!;
  if (t.family !== 6) throw new Error(s);
  return t;
};

let mem: Uint8Array;
let view: DataView;
let wire: RecordingWire;

function makeEdge(options: GatewayEdgeOptions = {}): GatewayEdge {
  return new GatewayEdge(
    {
      addresses: [],
      addresses6: [gw6('2001:db8:1::1/64'), gw6('2001:db8:1::10/128'), gw6('2001:db8:2::1/64')],
      mac: GW_MAC,
      peerSubnets: [[cidr('198.18.1.0/24')], [cidr('198.18.2.0/24')]],
      peerSubnets6: [[prefix6('2001:db8:1::/64')], [prefix6('2001:db8:2::/64')]],
    },
    wire,
    options,
  );
}

function frame(spec: Ipv6FrameSpec, at = OFF): number {
  return buildIpv6Frame(view, at, { dstMac: GW_MAC, srcMac: CLIENT_MAC, src: groups('2001:db8:1::2'), dst: groups('2001:db8:2::2'), ...spec });
}

/** NDP option bytes: type, length 1, MAC. */
function llOption(type: number, mac: readonly [number, number]): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, type);
  v.setUint8(1, 1);
  v.setUint16(2, mac[0]);
  v.setUint32(4, mac[1]);
  return b;
}

/** A neighbour solicitation or advertisement (type 135/136): target, then options. */
function ndp(type: number, target: string, options: Uint8Array, spec: Ipv6FrameSpec = {}, flags = 0, at = OFF): number {
  const body = new Uint8Array(16 + options.length);
  body.set(Uint8Array.from(Buffer.from(a6(target).map((w) => w.toString(16).padStart(8, '0')).join(''), 'hex')), 0);
  body.set(options, 16);
  return frame({ proto: 58, icmpType: type, icmpRest: flags, hopLimit: 255, payload: body, ...spec }, at);
}

function parsed(len: number, at = OFF) {
  const L = new FrameLayout();
  return { reason: parseFrame(view, at, len, L, ParseFlag.VERIFY_L4_CHECKSUM), L };
}

const words = (at: number) => [0, 1, 2, 3].map((i) => view.getUint32(at + 4 * i));
const macAt = (at: number) => [view.getUint16(at), view.getUint32(at + 2)];

beforeEach(() => {
  mem = new Uint8Array(4096);
  view = new DataView(mem.buffer);
  wire = new RecordingWire();
});

describe('GatewayEdge over IPv6: neighbour discovery', () => {
  it('answers a solicitation for its address with an advertisement (RFC 4861 §7.2.4) and learns the asker', () => {
    const edge = makeEdge();
    const len = ndp(135, '2001:db8:1::1', llOption(1, CLIENT_MAC), { dst: groups('ff02::1:ff00:1'), dstMac: [0x3333, 0xff000001] });
    expect(edge.fromWire(view, OFF, len, 0, 7)).toBe(GatewayVerdict.REPLY);
    expect(edge.replyLength).toBe(14 + 40 + 32);
    const { reason, L } = parsed(edge.replyLength);
    expect(reason).toBe(DropReason.OK);
    const l3 = L.l3Offset;
    const l4 = L.l4Offset;
    expect([macAt(OFF), macAt(OFF + 6)]).toEqual([CLIENT_MAC, GW_MAC]);
    expect(view.getUint8(l3 + 7)).toBe(255);
    expect(words(l3 + 8)).toEqual([...a6('2001:db8:1::1')]);
    expect(words(l3 + 24)).toEqual([...a6('2001:db8:1::2')]);
    expect([view.getUint8(l4), view.getUint8(l4 + 1), view.getUint8(l4 + 4)]).toEqual([136, 0, 0xe0]); // R, S, O
    expect(words(l4 + 8)).toEqual([...a6('2001:db8:1::1')]);
    expect(hex(mem.subarray(l4 + 24, l4 + 32))).toBe(hex(llOption(2, GW_MAC)));
    expect(view.getUint16(l4 + 2)).toBe(computeIcmpv6Checksum(view, l3, l4, 32));
    const s = edge.neighbours6.find(...a6('2001:db8:1::2'));
    expect([edge.neighbours6.state[s], edge.neighbours6.macLo[s], edge.neighbours6.peer[s], edge.neighbours6.seenAt[s]]).toEqual([NeighbourState.REACHABLE, CLIENT_MAC[1], 0, 7]);
    expect(edge.counters.neighbourAdvertisementsSent).toBe(1);
  });

  it('answers a solicitation for another owned address (a VIP) and a duplicate address probe to all nodes', () => {
    const edge = makeEdge();
    let len = ndp(135, '2001:db8:1::10', llOption(1, CLIENT_MAC), { dst: groups('ff02::1:ff00:10'), dstMac: [0x3333, 0xff000010] });
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.REPLY);
    expect(words(OFF + 14 + 8)).toEqual([...a6('2001:db8:1::10')]);
    len = ndp(135, '2001:db8:1::1', new Uint8Array(0), { src: groups('::'), dst: groups('ff02::1:ff00:1'), dstMac: [0x3333, 0xff000001] });
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.REPLY);
    const { reason, L } = parsed(edge.replyLength);
    expect(reason).toBe(DropReason.OK);
    expect(macAt(OFF)).toEqual([0x3333, 1]);
    expect(words(L.l3Offset + 24)).toEqual([0xff020000, 0, 0, 1]);
    expect(view.getUint8(L.l4Offset + 4)).toBe(0xa0); // R, O: not solicited
    expect(view.getUint16(L.l4Offset + 2)).toBe(computeIcmpv6Checksum(view, L.l3Offset, L.l4Offset, 32));
    expect(edge.counters.neighbourAdvertisementsSent).toBe(2);
  });

  it('drops what RFC 4861 §7.1 refuses, solicitations for others, and router discovery, each under its reason', () => {
    const edge = makeEdge();
    const ns = (spec: Ipv6FrameSpec, target = '2001:db8:1::1', options = llOption(1, CLIENT_MAC)) =>
      edge.fromWire(view, OFF, ndp(135, target, options, { dst: groups('ff02::1:ff00:1'), dstMac: [0x3333, 0xff000001], ...spec }), 0, 0);
    expect(ns({ hopLimit: 64 })).toBe(GatewayVerdict.DROP);
    expect(ns({ icmpCode: 1 })).toBe(GatewayVerdict.DROP);
    expect(ns({}, 'ff02::1')).toBe(GatewayVerdict.DROP);
    expect(ns({}, '2001:db8:1::1', Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0))).toBe(GatewayVerdict.DROP); // option of length 0
    expect(ns({ src: groups('::') })).toBe(GatewayVerdict.DROP); // DAD with a link-layer option
    expect(ns({ src: groups('::'), dst: groups('2001:db8:1::1') }, '2001:db8:1::1', new Uint8Array(0))).toBe(GatewayVerdict.DROP); // DAD not to the solicited-node address
    const len = ndp(135, '2001:db8:1::1', llOption(1, CLIENT_MAC), { dst: groups('ff02::1:ff00:1'), dstMac: [0x3333, 0xff000001] });
    view.setUint16(OFF + 14 + 40 + 2, view.getUint16(OFF + 14 + 40 + 2) ^ 0x0101); // checksum
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.NDP_INVALID]).toBe(7);
    expect(ns({}, '2001:db8:1::99')).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.NDP_NOT_FOR_US]).toBe(1);
    expect(edge.fromWire(view, OFF, frame({ proto: 58, icmpType: 133, hopLimit: 255, dst: groups('ff02::2'), dstMac: [0x3333, 2], payloadLength: 8 }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.NDP_UNSUPPORTED]).toBe(1);
    expect(edge.fromWire(view, OFF, frame({ proto: 58, icmpType: 143, hopLimit: 1, dst: groups('ff02::16'), dstMac: [0x3333, 0x16], payloadLength: 20 }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.NOT_FOR_GATEWAY]).toBe(1);
    expect(edge.counters.neighbourAdvertisementsSent).toBe(0);
    expect(edge.neighbours6.count).toBe(0);
  });

  it('drops IPv6 frames when it has no IPv6 address', () => {
    const edge = new GatewayEdge({ addresses: [parseGatewayAddress('198.18.1.1/24')!], mac: GW_MAC, peerSubnets: [[cidr('198.18.1.0/24')]] }, wire);
    expect(edge.fromWire(view, OFF, ndp(135, '2001:db8:1::1', llOption(1, CLIENT_MAC)), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.IPV6_NO_ADDRESS]).toBe(1);
  });
});

describe('GatewayEdge over IPv6: resolution by neighbour solicitation', () => {
  const TARGET = '2001:db8:2::2';
  function advertise(edge: GatewayEdge, flags = 0x60000000, options = llOption(2, SERVER_MAC), target = TARGET, peer = 1): number {
    const len = ndp(136, target, options, { src: groups(target), dst: groups('2001:db8:2::1'), srcMac: SERVER_MAC }, flags, 2048);
    return edge.fromWire(view, 2048, len, peer, 0);
  }
  function outgoing(handle: number, at = OFF + 512 * handle): number {
    return frame({ proto: 17, srcPort: 1000, dstPort: 2000, payloadLength: 20, dstMac: [0x0200, 0x77], srcMac: [0x0200, 0x78], dst: groups(TARGET) }, at);
  }

  it('holds frames for an unknown next hop, solicits its solicited-node address on its peer, and releases them on the advertisement', () => {
    const edge = makeEdge();
    wire.onRelease = (h) => expect(edge.toWire(view, OFF + 512 * h, 0x56, h, 1)).toBe(1);
    expect(edge.toWire(view, OFF, outgoing(0), 0, 0)).toBe(EGRESS_HELD);
    expect(edge.toWire(view, OFF + 512, outgoing(1), 1, 0)).toBe(EGRESS_HELD);
    expect(wire.emitted).toHaveLength(1);
    const { peer, frame: ns } = wire.emitted[0];
    expect(peer).toBe(1);
    const v = new DataView(ns.buffer, ns.byteOffset, ns.byteLength);
    expect([v.getUint16(0), v.getUint32(2)]).toEqual([0x3333, 0xff000002]);
    expect([v.getUint16(6), v.getUint32(8)]).toEqual(GW_MAC);
    const L = new FrameLayout();
    expect(parseFrame(v, 0, ns.length, L, ParseFlag.VERIFY_L4_CHECKSUM)).toBe(DropReason.OK);
    expect(v.getUint8(21)).toBe(255);
    expect([0, 1, 2, 3].map((i) => v.getUint32(22 + 4 * i))).toEqual([...a6('2001:db8:2::1')]);
    expect([0, 1, 2, 3].map((i) => v.getUint32(38 + 4 * i))).toEqual([...a6('ff02::1:ff00:2')]);
    expect([v.getUint8(54), [0, 1, 2, 3].map((i) => v.getUint32(62 + 4 * i))]).toEqual([135, [...a6(TARGET)]]);
    expect(hex(ns.subarray(78, 86))).toBe(hex(llOption(1, GW_MAC)));
    expect(edge.neighbours6.heldFor(edge.neighbours6.find(...a6(TARGET)))).toBe(2);

    expect(advertise(edge)).toBe(GatewayVerdict.CONSUMED);
    expect(wire.released).toEqual([0, 1]);
    expect([macAt(OFF), macAt(OFF + 6)]).toEqual([SERVER_MAC, GW_MAC]);
    expect(edge.counters).toMatchObject({ held: 2, released: 2, neighbourSolicitationsSent: 1, neighbourAdvertisementsReceived: 1, sent: 2 });
    expect(edge.toWire(view, OFF, outgoing(0), 0, 2)).toBe(1);
  });

  it('refuses advertisements without the target MAC, solicited to multicast, or for a target outside the peer', () => {
    const edge = makeEdge();
    expect(advertise(edge, 0x60000000, new Uint8Array(0))).toBe(GatewayVerdict.DROP);
    const len = ndp(136, TARGET, llOption(2, SERVER_MAC), { src: groups(TARGET), dst: groups('ff02::1'), dstMac: [0x3333, 1] }, 0x60000000, 2048);
    expect(edge.fromWire(view, 2048, len, 1, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.NDP_INVALID]).toBe(2);
    expect(advertise(edge, 0x60000000, llOption(2, SERVER_MAC), TARGET, 0)).toBe(GatewayVerdict.DROP);
    expect(advertise(edge, 0x60000000, llOption(2, SERVER_MAC), '2001:db8:2::1')).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.NDP_NOT_FOR_US]).toBe(2);
    expect(edge.neighbours6.count).toBe(0);
  });

  it('gives up after the resolve timeout, bounds the hold queue, and drops what has no route or is its own', () => {
    const edge = makeEdge({ holdPerAddress: 1, resolveTimeoutMs: 100 });
    expect(edge.toWire(view, OFF, outgoing(0), 0, 0)).toBe(EGRESS_HELD);
    expect(edge.toWire(view, OFF + 512, outgoing(1), 1, 0)).toBe(EGRESS_DROP);
    expect(edge.drops[GatewayDrop.HOLD_QUEUE_FULL]).toBe(1);
    edge.sweep(150);
    expect(wire.discarded).toEqual([0]);
    expect(edge.drops[GatewayDrop.RESOLVE_TIMEOUT]).toBe(1);
    expect(edge.neighbours6.count).toBe(0);
    expect(edge.toWire(view, OFF, frame({ proto: 17, dst: groups('2001:db8:9::1') }), 0, 0)).toBe(EGRESS_DROP);
    expect(edge.drops[GatewayDrop.NO_ROUTE]).toBe(1);
    expect(edge.toWire(view, OFF, frame({ proto: 17, dst: groups('2001:db8:2::1') }), 0, 0)).toBe(EGRESS_DROP);
    expect(edge.drops[GatewayDrop.FOR_GATEWAY]).toBe(1);
  });
});

describe('GatewayEdge over IPv6: forwarding, hop limit, echo', () => {
  it('decrements the hop limit of what it forwards and learns the sender inside its peer', () => {
    const edge = makeEdge();
    const len = frame({ proto: 6, hopLimit: 64, payloadLength: 10 });
    expect(edge.fromWire(view, OFF, len, 0, 3)).toBe(GatewayVerdict.FORWARD);
    const { reason, L } = parsed(len);
    expect(reason).toBe(DropReason.OK);
    expect(view.getUint8(L.l3Offset + 7)).toBe(63);
    expect(edge.neighbours6.find(...a6('2001:db8:1::2'))).toBeGreaterThanOrEqual(0);
    expect(edge.counters.forwarded).toBe(1);
    // A VIP the gateway answers neighbour discovery for is forwarded into the chain too.
    expect(edge.fromWire(view, OFF, frame({ proto: 6, dst: groups('2001:db8:1::10') }), 0, 3)).toBe(GatewayVerdict.FORWARD);
  });

  it('answers an expiring hop limit with ICMPv6 time exceeded (3/0) from its address in the sender subnet, quoting the packet', () => {
    const edge = makeEdge();
    const len = frame({ proto: 17, hopLimit: 1, srcPort: 5555, dstPort: 33434, payloadLength: 32 });
    const packet = mem.slice(OFF + 14, OFF + len);
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.REPLY);
    expect(edge.replyLength).toBe(14 + 48 + packet.length);
    const { reason, L } = parsed(edge.replyLength);
    expect(reason).toBe(DropReason.OK);
    const l3 = L.l3Offset;
    const l4 = L.l4Offset;
    expect([macAt(OFF), macAt(OFF + 6)]).toEqual([CLIENT_MAC, GW_MAC]);
    expect(words(l3 + 8)).toEqual([...a6('2001:db8:1::1')]);
    expect(words(l3 + 24)).toEqual([...a6('2001:db8:1::2')]);
    expect([view.getUint8(l4), view.getUint8(l4 + 1), view.getUint32(l4 + 4)]).toEqual([3, 0, 0]);
    expect(view.getUint16(l4 + 2)).toBe(computeIcmpv6Checksum(view, l3, l4, L.l4Length));
    expect(hex(mem.subarray(l4 + 8, l4 + 8 + packet.length))).toBe(hex(packet));
    expect(edge.drops[GatewayDrop.HOP_LIMIT_EXCEEDED]).toBe(1);
    expect(edge.counters.icmpTimeExceededSent).toBe(1);
    // No error about an ICMPv6 error (RFC 4443 §2.4 (e)); still counted.
    expect(edge.fromWire(view, OFF, frame({ proto: 58, icmpType: 1, hopLimit: 1, payloadLength: 48 }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.HOP_LIMIT_EXCEEDED]).toBe(2);
    expect(edge.counters.icmpTimeExceededSent).toBe(1);
  });

  it('answers an echo request to its interface address and drops other traffic for it', () => {
    const edge = makeEdge();
    const len = frame({ proto: 58, icmpType: 128, icmpRest: (77 << 16) | 3, dst: groups('2001:db8:1::1'), hopLimit: 9, payloadLength: 16 });
    expect(edge.fromWire(view, OFF, len, 0, 0)).toBe(GatewayVerdict.REPLY);
    expect(edge.replyLength).toBe(len);
    const { reason, L } = parsed(len);
    expect(reason).toBe(DropReason.OK);
    expect([view.getUint8(L.l4Offset), view.getUint32(L.l4Offset + 4)]).toEqual([129, (77 << 16) | 3]);
    expect(view.getUint16(L.l4Offset + 2)).toBe(computeIcmpv6Checksum(view, L.l3Offset, L.l4Offset, L.l4Length));
    expect([words(L.l3Offset + 8), words(L.l3Offset + 24)]).toEqual([[...a6('2001:db8:1::1')], [...a6('2001:db8:1::2')]]);
    expect(view.getUint8(L.l3Offset + 7)).toBe(64);
    expect([macAt(OFF), macAt(OFF + 6)]).toEqual([CLIENT_MAC, GW_MAC]);
    expect(edge.counters.echoRepliesSent).toBe(1);
    expect(edge.fromWire(view, OFF, frame({ proto: 6, dst: groups('2001:db8:1::1') }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.drops[GatewayDrop.FOR_GATEWAY]).toBe(1);
  });

  it('routes neither multicast nor link-local', () => {
    const edge = makeEdge();
    expect(edge.fromWire(view, OFF, frame({ proto: 17, dst: groups('ff0e::1') }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.fromWire(view, OFF, frame({ proto: 17, dst: groups('fe80::2') }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.fromWire(view, OFF, frame({ proto: 17, src: groups('fe80::2') }), 0, 0)).toBe(GatewayVerdict.DROP);
    expect(edge.dropsByReason()).toEqual({ multicast_not_routed: 1, link_local_not_routed: 2 });
    expect(edge.counters.forwarded).toBe(0);
  });
});
