import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeIcmpv6Checksum, computeTcpChecksumIpv6, computeUdpChecksumIpv6 } from '../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { icmpv6Checksum, icmpv6Type } from '../../src/packet/icmpv6.ts';
import { ParseFlag, parseFrame } from '../../src/packet/parse-frame.ts';
import { rewriteDstPort, rewriteSrcPort } from '../../src/packet/rewrite.ts';
import { decrementHopLimit, rewriteIcmpv6EchoId, rewriteIpv6Dst, rewriteIpv6Src } from '../../src/packet/rewrite-ipv6.ts';
import { tcpChecksum } from '../../src/packet/tcp.ts';
import { udpChecksum } from '../../src/packet/udp.ts';
import { copyFrame, KERNEL_FIXTURES_IPV6, loadKernelFixture } from './kernel-fixtures.ts';

interface Rewrite {
  src: number[];
  dst: number[];
  sport: number;
  dport: number;
  echoId: number;
}

// Every kernel-made IPv6 frame with a whole upper layer (fragments carry a checksum over the reassembled datagram).
const frames = KERNEL_FIXTURES_IPV6.flatMap((name) => loadKernelFixture(name).records.map((rec, i) => ({ name, index: i + 1, rec })))
  .filter(({ rec }) => {
    const layout = new FrameLayout();
    return parseFrame(copyFrame(rec), 0, rec.caplen, layout) === DropReason.OK && !layout.isFragment;
  });

function rewriteAndCheck(view: DataView, caplen: number, w: Rewrite, label: string): void {
  const L = new FrameLayout();
  expect(parseFrame(view, 0, caplen, L), label).toBe(DropReason.OK);
  const { l3Offset: l3, l4Offset: l4, ipProto: proto, l4Length } = L;
  rewriteIpv6Src(view, l3, l4, proto, w.src[0], w.src[1], w.src[2], w.src[3]);
  rewriteIpv6Dst(view, l3, l4, proto, w.dst[0], w.dst[1], w.dst[2], w.dst[3]);
  rewriteSrcPort(view, l4, proto, w.sport);
  rewriteDstPort(view, l4, proto, w.dport);
  decrementHopLimit(view, l3);
  if (proto === 58 && (icmpv6Type(view, l4) === 128 || icmpv6Type(view, l4) === 129)) rewriteIcmpv6EchoId(view, l4, w.echoId);
  if (proto === 6) expect(tcpChecksum(view, l4), `${label} tcp`).toBe(computeTcpChecksumIpv6(view, l3, l4, l4Length));
  if (proto === 17) expect(udpChecksum(view, l4), `${label} udp`).toBe(computeUdpChecksumIpv6(view, l3, l4, l4Length));
  if (proto === 58) expect(icmpv6Checksum(view, l4), `${label} icmpv6`).toBe(computeIcmpv6Checksum(view, l3, l4, l4Length));
  const reparsed = w.src[0] >>> 24 === 0xff ? DropReason.IPV6_MULTICAST_SOURCE : DropReason.OK;
  expect(parseFrame(view, 0, caplen, L, ParseFlag.VERIFY_L4_CHECKSUM), `${label} reparse`).toBe(reparsed);
}

describe('golden: IPv6 incremental checksum updates equal a full recompute on every fixture frame', () => {
  it('covers TCP, UDP (with extension headers) and ICMPv6 frames', () => {
    const kinds = new Set<number>();
    const L = new FrameLayout();
    for (const { rec } of frames) {
      parseFrame(copyFrame(rec), 0, rec.caplen, L);
      kinds.add(L.ipProto);
    }
    expect([...kinds].sort((a, b) => a - b)).toEqual([6, 17, 58]);
    expect(frames.length).toBeGreaterThanOrEqual(25);
  });

  it('edge values and random 128-bit rewrites', () => {
    const ones = [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff];
    const edges: Rewrite[] = [
      { src: [0, 0, 0, 0], dst: [0, 0, 0, 0], sport: 0, dport: 0, echoId: 0 },
      { src: ones, dst: ones, sport: 0xffff, dport: 0xffff, echoId: 0xffff },
      { src: [0x20010db8, 0, 0, 0x10], dst: [0x20010db8, 1, 0, 0x80], sport: 40000, dport: 443, echoId: 7 },
    ];
    for (const { name, index, rec } of frames) for (const w of edges) rewriteAndCheck(copyFrame(rec), rec.caplen, w, `${name} frame ${index}`);
    const u32 = fc.integer({ min: 0, max: 0xffffffff });
    const u16 = fc.integer({ min: 0, max: 0xffff });
    fc.assert(fc.property(
      fc.integer({ min: 0, max: frames.length - 1 }), fc.array(u32, { minLength: 4, maxLength: 4 }), fc.array(u32, { minLength: 4, maxLength: 4 }), u16, u16, u16,
      (i, src, dst, sport, dport, echoId) => {
        const { name, index, rec } = frames[i];
        rewriteAndCheck(copyFrame(rec), rec.caplen, { src, dst, sport, dport, echoId }, `${name} frame ${index}`);
      },
    ), { numRuns: 3000 });
  });
});
