import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checksumUpdate128, computeIcmpv6Checksum, computeTcpChecksumIpv6, computeUdpChecksumIpv6, pseudoHeaderSumIpv6,
  verifyIcmpv6Checksum, verifyTcpChecksumIpv6, verifyUdpChecksumIpv6,
} from '../../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { ParseFlag, parseFrame } from '../../../src/packet/parse-frame.ts';
import { rewriteDstPort, rewriteSrcPort } from '../../../src/packet/rewrite.ts';
import { decrementHopLimit, rewriteIcmpv6EchoId, rewriteIpv6Dst, rewriteIpv6Src } from '../../../src/packet/rewrite-ipv6.ts';
import { frame6, reference16, toHex as hex, viewOf } from './frame-fixtures.ts';

const u32 = fc.oneof(fc.constantFrom(0, 0xffffffff, 0x20010db8), fc.integer({ min: 0, max: 0xffffffff }));
const addr = fc.array(u32, { minLength: 4, maxLength: 4 });
const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((g) => (g[0] >>> 8 === 0xff ? [0x2001, ...g.slice(1)] : g));

const packetSpec: fc.Arbitrary<Ipv6FrameSpec> = fc.record({
  proto: fc.constantFrom(6, 17, 58),
  src: groups,
  dst: groups,
  srcPort: fc.integer({ min: 0, max: 0xffff }),
  dstPort: fc.integer({ min: 0, max: 0xffff }),
  icmpType: fc.constantFrom(128, 129, 1, 135),
  payload: fc.uint8Array({ maxLength: 41 }),
  vlanIds: fc.constantFrom([], [7]),
  extensionHeaders: fc.constantFrom([], [{ type: 0 }], [{ type: 0 }, { type: 60, length: 16 }, { type: 51, length: 12 }]),
});

/** Full recompute of the upper-layer checksum of a parsed frame, with an independent byte-wise sum. */
function referenceChecksum(bytes: Uint8Array, l3: number, l4: number, length: number, next: number, field: number): number {
  const pseudo = new Uint8Array(40);
  pseudo.set(bytes.subarray(l3 + 8, l3 + 40), 0);
  new DataView(pseudo.buffer).setUint32(32, length);
  pseudo[39] = next;
  const copy = bytes.slice(l4, l4 + length);
  copy[field] = 0;
  copy[field + 1] = 0;
  const sum = reference16(copy, 0, copy.length, reference16(pseudo, 0, 40));
  return ~sum & 0xffff;
}

function parsedOk(bytes: Uint8Array): FrameLayout {
  const layout = new FrameLayout();
  expect(parseFrame(viewOf(bytes), 0, bytes.length, layout, ParseFlag.VERIFY_L4_CHECKSUM)).toBe(DropReason.OK);
  return layout;
}

describe('IPv6 pseudo-header checksums', () => {
  it('equal an independent byte-wise computation for TCP, UDP and ICMPv6 (extension headers skipped)', () => {
    fc.assert(fc.property(packetSpec, (spec) => {
      const bytes = frame6(spec);
      const v = viewOf(bytes);
      const L = parsedOk(bytes);
      const field = spec.proto === 6 ? 16 : spec.proto === 17 ? 6 : 2;
      const want = referenceChecksum(bytes, L.l3Offset, L.l4Offset, L.l4Length, spec.proto!, field);
      const got = spec.proto === 6 ? computeTcpChecksumIpv6(v, L.l3Offset, L.l4Offset, L.l4Length)
        : spec.proto === 17 ? computeUdpChecksumIpv6(v, L.l3Offset, L.l4Offset, L.l4Length)
          : computeIcmpv6Checksum(v, L.l3Offset, L.l4Offset, L.l4Length);
      expect(got).toBe(spec.proto === 17 && want === 0 ? 0xffff : want);
    }), { numRuns: 400 });
  });

  it('a UDP sum of 0 is sent as 0xFFFF and a 0 field does not verify over IPv6', () => {
    const bytes = frame6({ proto: 17, udpNoChecksum: true, payloadLength: 2 });
    const v = viewOf(bytes);
    expect(verifyUdpChecksumIpv6(v, 14, 54, 10)).toBe(false);
    // Choose payload bytes that make the sum come out 0: the field must then be 0xffff.
    v.setUint16(62, 0);
    const c = computeUdpChecksumIpv6(v, 14, 54, 10);
    v.setUint16(62, (~c & 0xffff) === 0 ? 0 : c);
    v.setUint16(60, computeUdpChecksumIpv6(v, 14, 54, 10));
    expect(verifyUdpChecksumIpv6(v, 14, 54, 10)).toBe(true);
    expect(pseudoHeaderSumIpv6(v, 22, 38, 17, 0x12345)).toBe(pseudoHeaderSumIpv6(v, 22, 38, 17, 0x2345) + 1);
  });

  it('verify accepts what compute writes and refuses a changed address', () => {
    const bytes = frame6({ proto: 6, payloadLength: 9 });
    const v = viewOf(bytes);
    expect(verifyTcpChecksumIpv6(v, 14, 54, 29)).toBe(true);
    v.setUint8(14 + 8 + 15, 9);
    expect(verifyTcpChecksumIpv6(v, 14, 54, 29)).toBe(false);
    const icmp = frame6({ proto: 58, payloadLength: 9 });
    expect(verifyIcmpv6Checksum(viewOf(icmp), 14, 54, 17)).toBe(true);
  });
});

describe('RFC 1624 updates for IPv6 rewrites = full recompute', () => {
  it('checksumUpdate128 equals recomputing after any 128-bit change', () => {
    fc.assert(fc.property(packetSpec, addr, (spec, w) => {
      const bytes = frame6(spec);
      const v = viewOf(bytes);
      const L = parsedOk(bytes);
      const field = spec.proto === 6 ? 16 : spec.proto === 17 ? 6 : 2;
      const at = L.l3Offset + 24;
      const old = [0, 4, 8, 12].map((i) => v.getUint32(at + i));
      const updated = checksumUpdate128(v.getUint16(L.l4Offset + field), old[0], old[1], old[2], old[3], w[0], w[1], w[2], w[3]);
      for (let i = 0; i < 4; i++) v.setUint32(at + 4 * i, w[i]);
      const full = referenceChecksum(bytes, L.l3Offset, L.l4Offset, L.l4Length, spec.proto!, field);
      // One's complement has two zeros: both encodings verify; the update keeps the non-zero one as a recompute does.
      expect(updated === full || (updated === 0xffff && full === 0) || (updated === 0 && full === 0xffff)).toBe(true);
    }), { numRuns: 500 });
  });

  it('rewriting source, destination, ports and the echo id keeps every checksum valid, and matches a frame built with the new values', () => {
    fc.assert(fc.property(packetSpec, groups, groups, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (spec, src, dst, sp, dp) => {
      const bytes = frame6(spec);
      const v = viewOf(bytes);
      const L = parsedOk(bytes);
      const w = (g: number[]) => [0, 1, 2, 3].map((i) => ((g[2 * i] << 16) | g[2 * i + 1]) >>> 0);
      const [s, d] = [w(src), w(dst)];
      rewriteIpv6Src(v, L.l3Offset, L.l4Offset, L.ipProto, s[0], s[1], s[2], s[3]);
      rewriteIpv6Dst(v, L.l3Offset, L.l4Offset, L.ipProto, d[0], d[1], d[2], d[3]);
      const want: Ipv6FrameSpec = { ...spec, src, dst };
      if (spec.proto === 6 || spec.proto === 17) {
        rewriteSrcPort(v, L.l4Offset, L.ipProto, sp);
        rewriteDstPort(v, L.l4Offset, L.ipProto, dp);
        want.srcPort = sp;
        want.dstPort = dp;
      } else if (spec.icmpType === 128 || spec.icmpType === 129) {
        rewriteIcmpv6EchoId(v, L.l4Offset, sp);
        want.icmpRest = ((sp << 16) | 1) >>> 0;
      }
      parsedOk(bytes);
      const rebuilt = frame6(want);
      const cs = L.l4Offset + (spec.proto === 6 ? 16 : spec.proto === 17 ? 6 : 2);
      // Equal bytes, but for the ±0 ambiguity of a checksum field.
      const a = bytes.slice();
      const b = rebuilt.slice();
      if (viewOf(a).getUint16(cs) + viewOf(b).getUint16(cs) === 0xffff) { a[cs] = b[cs]; a[cs + 1] = b[cs + 1]; }
      expect(hex(a)).toBe(hex(b));
    }), { numRuns: 300 });
  });

  it('a UDP checksum of 0 stays 0; other protocols get the address only; the hop limit stops at 0', () => {
    const bytes = frame6({ proto: 17, udpNoChecksum: true });
    const v = viewOf(bytes);
    rewriteIpv6Dst(v, 14, 54, 17, 1, 2, 3, 4);
    expect(v.getUint16(60)).toBe(0);
    expect(v.getUint32(14 + 36)).toBe(4);
    const esp = frame6({ proto: 50, payloadLength: 8 });
    const e = viewOf(esp);
    rewriteIpv6Src(e, 14, 54, 50, 0x20010db8, 0, 0, 0x99);
    expect(e.getUint32(14 + 20)).toBe(0x99);
    expect(hex(esp.subarray(54))).toBe('0001020304050607');
    const h = viewOf(frame6({ hopLimit: 1 }));
    expect(decrementHopLimit(h, 14)).toBe(0);
    expect(decrementHopLimit(h, 14)).toBe(0);
    expect(h.getUint8(21)).toBe(0);
  });
});
