import { describe, expect, it } from 'vitest';
import { computeIcmpv6Checksum } from '../../../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../../src/packet/frame-layout.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../../src/packet/ipv6-frame-builder.ts';
import { parseFrame } from '../../../../src/packet/parse-frame.ts';
import { icmpv6ErrorPermitted, ipv6UpperNextHeaderPointer, writeIcmpv6Error } from '../../../../src/packet/reply/icmpv6-error.ts';

const A = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 5];
const B = [0x2001, 0xdb8, 2, 0, 0, 0, 0, 1];
const GW = Uint32Array.of(0x20010db8, 0xff, 0, 1);
const words = (g: number[]) => [0, 2, 4, 6].map((i) => ((g[i] << 16) | g[i + 1]) >>> 0);

function packet(spec: Ipv6FrameSpec, at = 100) {
  const view = new DataView(new ArrayBuffer(8192));
  const len = buildIpv6Frame(view, at, { proto: 17, src: A, dst: B, srcMac: [0x0200, 0xa], dstMac: [0x0200, 0xb], ...spec });
  const layout = new FrameLayout();
  expect(parseFrame(view, at, len, layout)).toBe(DropReason.OK);
  const original = new Uint8Array(view.buffer, layout.l3Offset, layout.l3Length).slice();
  return { view, layout, off: at, original };
}

function error(spec: Ipv6FrameSpec, type: number, code: number, rest: number, from: Uint32Array | null) {
  const p = packet(spec);
  const len = writeIcmpv6Error(p.view, p.off, p.layout.l3Offset, type, code, rest, from);
  const out = new FrameLayout();
  expect(parseFrame(p.view, p.off, len, out)).toBe(DropReason.OK);
  const v = p.view;
  const l3 = out.l3Offset;
  const l4 = out.l4Offset;
  expect(out.ipProto).toBe(58);
  expect(v.getUint16(l4 + 2)).toBe(computeIcmpv6Checksum(v, l3, l4, out.l4Length));
  return {
    len,
    l3Length: out.l3Length,
    hops: v.getUint8(l3 + 7),
    src: [0, 1, 2, 3].map((i) => v.getUint32(l3 + 8 + 4 * i)),
    dst: [0, 1, 2, 3].map((i) => v.getUint32(l3 + 24 + 4 * i)),
    dstMac: [v.getUint16(p.off), v.getUint32(p.off + 2)],
    icmp: [v.getUint8(l4), v.getUint8(l4 + 1), v.getUint32(l4 + 4)],
    quote: new Uint8Array(v.buffer, l4 + 8, out.l4Length - 8).slice(),
    original: p.original,
  };
}

describe('writeIcmpv6Error', () => {
  it('turns a UDP packet into a port unreachable from its destination to its source, quoting it whole', () => {
    const e = error({ payloadLength: 30 }, 1, 4, 0, null);
    expect(e.src).toEqual(words(B));
    expect(e.dst).toEqual(words(A));
    expect(e.hops).toBe(64);
    expect(e.dstMac).toEqual([0x0200, 0xa]);
    expect(e.icmp).toEqual([1, 4, 0]);
    expect(e.quote).toEqual(e.original);
    expect(e.l3Length).toBe(40 + 8 + 40 + 8 + 30);
  });

  it('quotes as much as fits in 1280 bytes, and sends from the address it is given', () => {
    const e = error({ payloadLength: 1400 }, 3, 0, 0, GW);
    expect(e.l3Length).toBe(1280);
    expect(e.quote).toEqual(e.original.subarray(0, 1232));
    expect(e.src).toEqual([...GW]);
    expect(e.dst).toEqual(words(A));
    expect(e.icmp).toEqual([3, 0, 0]);
  });

  it('carries the 32-bit field (a parameter problem pointer at the last next-header field)', () => {
    const p = packet({ proto: 99, payloadLength: 8, extensionHeaders: [{ type: 0 }, { type: 60, length: 16 }] });
    const l3 = p.layout.l3Offset;
    expect(ipv6UpperNextHeaderPointer(p.view, l3, l3 + p.layout.ipHeaderLength)).toBe(48);
    const q = packet({ proto: 99, payloadLength: 8 });
    expect(ipv6UpperNextHeaderPointer(q.view, q.layout.l3Offset, q.layout.l3Offset + q.layout.ipHeaderLength)).toBe(6);
    const f = packet({ proto: 6, payloadLength: 16, extensionHeaders: [{ type: 44, fragmentOffset: 2 }] });
    expect(ipv6UpperNextHeaderPointer(f.view, f.layout.l3Offset, f.layout.l3Offset + f.layout.ipHeaderLength)).toBe(40);
    const e = error({ proto: 99, payloadLength: 8, extensionHeaders: [{ type: 0 }] }, 4, 1, 40, null);
    expect(e.icmp).toEqual([4, 1, 40]);
  });
});

describe('icmpv6ErrorPermitted (RFC 4443 §2.4 (e))', () => {
  const permitted = (spec: Ipv6FrameSpec) => {
    const p = packet(spec);
    return icmpv6ErrorPermitted(p.view, p.off, p.layout.l3Offset, p.layout.l4Offset, p.layout.ipProto);
  };
  it('answers unicast packets and informational ICMPv6', () => {
    expect(permitted({})).toBe(true);
    expect(permitted({ proto: 6 })).toBe(true);
    expect(permitted({ proto: 58, icmpType: 128 })).toBe(true);
  });
  it('never answers an ICMPv6 error or redirect, a multicast destination, an unspecified or multicast source', () => {
    for (const t of [1, 2, 3, 4, 100, 127, 137]) expect(permitted({ proto: 58, icmpType: t, payloadLength: 48 })).toBe(false);
    expect(permitted({ dst: [0xff02, 0, 0, 0, 0, 0, 0, 1] })).toBe(false);
    expect(permitted({ src: [0, 0, 0, 0, 0, 0, 0, 0] })).toBe(false);
    // parseFrame drops a multicast source itself: the guard is asked without it.
    const m = new DataView(new ArrayBuffer(256));
    buildIpv6Frame(m, 0, { proto: 17, src: [0xff0e, 0, 0, 0, 0, 0, 0, 9], dst: B });
    expect(icmpv6ErrorPermitted(m, 0, 14, 54, 17)).toBe(false);
    expect(permitted({ dstMac: [0x3333, 0xff000001] })).toBe(false);
    expect(permitted({ proto: 58, extensionHeaders: [{ type: 44, fragmentOffset: 5 }], payloadLength: 16 })).toBe(false);
  });
});
