import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeIcmpv6Checksum, computeTcpChecksumIpv6, computeUdpChecksumIpv6 } from '../../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { natRewriteIpv6Dst, natRewriteIpv6Src } from '../../../src/packet/nat-rewrite-ipv6.ts';
import { parseFrame, ParseFlag } from '../../../src/packet/parse-frame.ts';
import { rewriteIpv6Dst, rewriteIpv6Src } from '../../../src/packet/rewrite-ipv6.ts';
import { rewriteDstPort, rewriteSrcPort } from '../../../src/packet/rewrite.ts';
import { frame6, viewOf } from './frame-fixtures.ts';

const u16 = fc.oneof(fc.constantFrom(0, 1, 0xfffe, 0xffff), fc.integer({ min: 0, max: 0xffff }));
const groups = fc.array(u16, { minLength: 8, maxLength: 8 });
/** A source the parser takes: not multicast (ff00::/8). */
const unicast = groups.map((g) => (g[0] >= 0xff00 ? [g[0] - 0x100, ...g.slice(1)] : g));
const words = fc.tuple(...Array.from({ length: 4 }, () => fc.oneof(fc.constantFrom(0, 0xffffffff, 0x20010db8), fc.integer({ min: 0, max: 0xffffffff }))));

const spec: fc.Arbitrary<Ipv6FrameSpec> = fc.record({
  proto: fc.constantFrom(6, 17, 58),
  src: unicast,
  dst: groups,
  srcPort: u16,
  dstPort: u16,
  tcpFlags: fc.integer({ min: 0, max: 0xff }),
  icmpType: fc.constantFrom(1, 128, 129),
  payload: fc.uint8Array({ maxLength: 41 }),
  udpNoChecksum: fc.boolean(),
  vlanIds: fc.constantFrom([], [7]),
  extensionHeaders: fc.constantFrom([], [{ type: 0 }], [{ type: 60, length: 16 }, { type: 44 }]),
});

const layout = new FrameLayout();

/** The checksum the upper layer should carry, computed in full (the oracle). */
function fullChecksum(view: DataView): number {
  const { l3Offset: l3, l4Offset: l4, l4Length: n, ipProto: p } = layout;
  if (p === 6) return computeTcpChecksumIpv6(view, l3, l4, n);
  if (p === 17) return computeUdpChecksumIpv6(view, l3, l4, n);
  return computeIcmpv6Checksum(view, l3, l4, n);
}

const fieldOf = (p: number) => (p === 6 ? 16 : p === 17 ? 6 : 2);

describe('natRewriteIpv6Dst / natRewriteIpv6Src', () => {
  it('the one incremental update equals a full recomputation, for random frames and rewrites (property)', () => {
    fc.assert(
      fc.property(spec, words, u16, fc.boolean(), (s, w, port, dst) => {
        const bytes = frame6(s);
        const view = viewOf(bytes);
        expect(parseFrame(view, 0, bytes.length, layout, s.udpNoChecksum ? 0 : ParseFlag.VERIFY_L4_CHECKSUM)).toBe(DropReason.OK);
        const { l3Offset: l3, l4Offset: l4, ipProto: p } = layout;
        const before = bytes.slice();
        (dst ? natRewriteIpv6Dst : natRewriteIpv6Src)(view, l3, l4, p, Int32Array.of(7, ...w, 7), 1, port);
        const at = l3 + (dst ? 24 : 8);
        expect([0, 4, 8, 12].map((k) => view.getUint32(at + k))).toEqual(w.map((x) => x >>> 0));
        const portAt = l4 + (dst ? 2 : 0);
        if (p !== 58) expect(view.getUint16(portAt)).toBe(port);
        const carried = view.getUint16(l4 + fieldOf(p));
        if (p === 17 && s.udpNoChecksum) expect(carried).toBe(0);
        else expect(carried).toBe(fullChecksum(view));
        // Nothing else moved.
        for (let i = 0; i < bytes.length; i++) {
          const inAddr = i >= at && i < at + 16;
          const inPort = p !== 58 && i >= portAt && i < portAt + 2;
          const inSum = i >= l4 + fieldOf(p) && i < l4 + fieldOf(p) + 2;
          if (!inAddr && !inPort && !inSum) expect(bytes[i], `byte ${i}`).toBe(before[i]);
        }
      }),
      { numRuns: 400, seed: 6 },
    );
  });

  it('gives the bytes of the field-by-field rewrites (rewrite-ipv6.ts, then the port)', () => {
    fc.assert(
      fc.property(spec.filter((s) => s.proto !== 58), words, u16, fc.boolean(), (s, w, port, dst) => {
        const one = frame6(s);
        const two = frame6(s);
        parseFrame(viewOf(one), 0, one.length, layout);
        const { l3Offset: l3, l4Offset: l4, ipProto: p } = layout;
        if (dst) {
          natRewriteIpv6Dst(viewOf(one), l3, l4, p, Int32Array.from(w), 0, port);
          rewriteIpv6Dst(viewOf(two), l3, l4, p, w[0], w[1], w[2], w[3]);
          rewriteDstPort(viewOf(two), l4, p, port);
        } else {
          natRewriteIpv6Src(viewOf(one), l3, l4, p, Int32Array.from(w), 0, port);
          rewriteIpv6Src(viewOf(two), l3, l4, p, w[0], w[1], w[2], w[3]);
          rewriteSrcPort(viewOf(two), l4, p, port);
        }
        expect(one).toEqual(two);
      }),
      { numRuns: 300, seed: 9 },
    );
  });

  it('writes the address only for another upper layer', () => {
    const bytes = frame6({ proto: 59, payloadLength: 8 });
    const view = viewOf(bytes);
    parseFrame(view, 0, bytes.length, layout);
    const before = bytes.slice();
    natRewriteIpv6Dst(view, layout.l3Offset, layout.l4Offset, 59, Int32Array.of(0x20010db8, 0, 0, 9), 0, 1234);
    expect(view.getUint32(layout.l3Offset + 36)).toBe(9);
    expect(bytes.slice(layout.l4Offset)).toEqual(before.slice(layout.l4Offset));
  });
});
