import { describe, expect, it } from 'vitest';
import { buildFrame, type FrameSpec } from '../../../../src/packet/frame-builder.ts';
import { verifyIcmpChecksum, verifyIpv4HeaderChecksum } from '../../../../src/packet/checksum.ts';
import { DropReason } from '../../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../../src/packet/parse-frame.ts';
import { icmpErrorPermitted, writeIcmpUnreachable } from '../../../../src/packet/reply/icmp-unreachable.ts';

const A = 0xc6120001;
const B = 0xc6130002;
const MAC_A = [0x0200, 0x0000000a] as const;
const MAC_B = [0x0200, 0x0000000b] as const;

function received(spec: FrameSpec) {
  const view = new DataView(new ArrayBuffer(4096));
  const off = 64;
  const len = buildFrame(view, off, { proto: 17, srcIp: A, dstIp: B, srcPort: 5353, dstPort: 53, srcMac: MAC_A, dstMac: MAC_B, ...spec });
  const layout = new FrameLayout();
  expect(parseFrame(view, off, len, layout)).toBe(DropReason.OK);
  const original = new Uint8Array(view.buffer, layout.l3Offset, layout.ipTotalLength).slice();
  return { view, off, layout, original };
}

describe('writeIcmpUnreachable', () => {
  it('quotes the IPv4 header and 8 payload bytes under a fresh header back to the source', () => {
    const { view, off, layout, original } = received({ payloadLength: 100 });
    const len = writeIcmpUnreachable(view, off, layout.l3Offset, 3);
    expect(len).toBe(14 + 20 + 8 + 28);
    const out = new FrameLayout();
    expect(parseFrame(view, off, len, out)).toBe(DropReason.OK);
    const l3 = out.l3Offset;
    expect(verifyIpv4HeaderChecksum(view, l3)).toBe(true);
    expect(verifyIcmpChecksum(view, out.l4Offset, out.l4Length)).toBe(true);
    expect([view.getUint16(off), view.getUint32(off + 2), view.getUint16(off + 6), view.getUint32(off + 8)]).toEqual([...MAC_A, ...MAC_B]);
    expect({ proto: out.ipProto, total: view.getUint16(l3 + 2), tos: view.getUint8(l3 + 1), ttl: view.getUint8(l3 + 8) }).toEqual({ proto: 1, total: 56, tos: 0xc0, ttl: 64 });
    expect([view.getUint32(l3 + 12), view.getUint32(l3 + 16)]).toEqual([B, A]);
    expect([view.getUint8(l3 + 20), view.getUint8(l3 + 21), view.getUint32(l3 + 24)]).toEqual([3, 3, 0]);
    expect(new Uint8Array(view.buffer, l3 + 28, 28)).toEqual(original.subarray(0, 28));
  });

  it('quotes IP options in full and a payload shorter than 8 bytes as it is', () => {
    const { view, off, layout, original } = received({ proto: 47, payloadLength: 3, ipOptions: [1, 1, 1, 0], vlanIds: [7] });
    const len = writeIcmpUnreachable(view, off, layout.l3Offset, 13);
    const out = new FrameLayout();
    expect(parseFrame(view, off, len, out)).toBe(DropReason.OK);
    expect(out.vlanCount).toBe(1);
    expect(out.ipTotalLength).toBe(28 + 24 + 3);
    expect(view.getUint8(out.l4Offset + 1)).toBe(13);
    expect(verifyIcmpChecksum(view, out.l4Offset, out.l4Length)).toBe(true);
    expect(new Uint8Array(view.buffer, out.l3Offset + 28, 27)).toEqual(original);
  });
});

describe('icmpErrorPermitted', () => {
  const ok = (spec: FrameSpec) => {
    const r = received(spec);
    return icmpErrorPermitted(r.view, r.off, r.layout.l3Offset, r.layout.l4Offset);
  };

  it('allows errors about unicast datagrams, ICMP queries included', () => {
    expect(ok({})).toBe(true);
    expect(ok({ proto: 1, icmpType: 8 })).toBe(true);
  });

  it('never answers an ICMP error, a broadcast or multicast, or a source that is not one host', () => {
    for (const type of [3, 4, 5, 11, 12]) expect(ok({ proto: 1, icmpType: type, payloadLength: 28 })).toBe(false);
    expect(ok({ dstMac: [0xffff, 0xffffffff] })).toBe(false);
    expect(ok({ dstIp: 0xffffffff })).toBe(false);
    expect(ok({ dstIp: 0xef000001 })).toBe(false);
    expect(ok({ srcIp: 0 })).toBe(false);
    expect(ok({ srcIp: 0x7f000001 })).toBe(false);
    expect(ok({ srcIp: 0xf0000001 })).toBe(false);
    expect(ok({ dstIp: 0x00000001 })).toBe(false);
    expect(ok({ dstIp: 0x7f000001 })).toBe(false);
  });

  it('never answers a non-initial fragment', () => {
    const view = new DataView(new ArrayBuffer(256));
    buildFrame(view, 0, { proto: 17, srcIp: A, dstIp: B, fragmentOffset: 10, ipFlags: 0, payloadLength: 16 });
    expect(icmpErrorPermitted(view, 0, 14, 34)).toBe(false);
    buildFrame(view, 0, { proto: 17, srcIp: A, dstIp: B, fragmentOffset: 0, ipFlags: 1, payloadLength: 16 });
    expect(icmpErrorPermitted(view, 0, 14, 34)).toBe(true);
  });
});
