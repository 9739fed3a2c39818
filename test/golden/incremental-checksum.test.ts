import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeIcmpChecksum, computeIpv4HeaderChecksum, computeTcpChecksum, computeUdpChecksum,
} from '../../src/packet/checksum.ts';
import { DropReason } from '../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { icmpChecksum, icmpType } from '../../src/packet/icmp.ts';
import { ipv4Checksum, ipv4Ttl } from '../../src/packet/ipv4.ts';
import { ParseFlag, parseFrame } from '../../src/packet/parse-frame.ts';
import {
  decrementTtl, rewriteDstPort, rewriteIcmpEchoId, rewriteIpv4Dst, rewriteIpv4Src, rewriteSrcPort,
} from '../../src/packet/rewrite.ts';
import { tcpChecksum } from '../../src/packet/tcp.ts';
import { udpChecksum } from '../../src/packet/udp.ts';
import { copyFrame, KERNEL_FIXTURES, loadKernelFixture } from './kernel-fixtures.ts';

interface Rewrite {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  icmpId: number;
  ttlSteps: number;
}

const ipFrames = KERNEL_FIXTURES.flatMap((name) =>
  loadKernelFixture(name).records.map((rec, i) => ({ name, index: i + 1, rec })),
).filter(({ rec }) => {
  const layout = new FrameLayout();
  return parseFrame(copyFrame(rec), 0, rec.caplen, layout) === DropReason.OK && layout.ethertype === 0x0800;
});

/** Applies the rewrites with the incremental helpers, then checks every checksum against a full recompute. */
function rewriteAndCheck(view: DataView, caplen: number, w: Rewrite, label: string): void {
  const layout = new FrameLayout();
  expect(parseFrame(view, 0, caplen, layout), label).toBe(DropReason.OK);
  const { l3Offset: l3, l4Offset: l4, ipProto: proto, l4Length } = layout;
  const udpWasZero = proto === 17 && udpChecksum(view, l4) === 0;
  rewriteIpv4Src(view, l3, l4, proto, w.src);
  rewriteIpv4Dst(view, l3, l4, proto, w.dst);
  rewriteSrcPort(view, l4, proto, w.sport);
  rewriteDstPort(view, l4, proto, w.dport);
  for (let s = 0; s < w.ttlSteps && ipv4Ttl(view, l3) > 0; s++) decrementTtl(view, l3);
  if (proto === 1 && (icmpType(view, l4) === 0 || icmpType(view, l4) === 8)) rewriteIcmpEchoId(view, l4, l4Length, w.icmpId);

  expect(ipv4Checksum(view, l3), `${label} ip`).toBe(computeIpv4HeaderChecksum(view, l3));
  if (proto === 6) expect(tcpChecksum(view, l4), `${label} tcp`).toBe(computeTcpChecksum(view, l3, l4, l4Length));
  if (proto === 17) {
    expect(udpChecksum(view, l4), `${label} udp`).toBe(udpWasZero ? 0 : computeUdpChecksum(view, l3, l4, l4Length));
  }
  if (proto === 1) expect(icmpChecksum(view, l4), `${label} icmp`).toBe(computeIcmpChecksum(view, l4, l4Length));
  const reparsed = ipv4Ttl(view, l3) > 0 ? DropReason.OK : DropReason.IPV4_TTL_ZERO;
  expect(parseFrame(view, 0, caplen, layout, ParseFlag.VERIFY_L4_CHECKSUM), `${label} reparse`).toBe(reparsed);
}

describe('golden: incremental checksum updates equal a full recompute on every fixture frame', () => {
  it('covers TCP, UDP (with and without checksum) and ICMP frames', () => {
    const layout = new FrameLayout();
    const kinds = new Set<string>();
    for (const { rec } of ipFrames) {
      const view = copyFrame(rec);
      parseFrame(view, 0, rec.caplen, layout);
      const zeroUdp = layout.ipProto === 17 && udpChecksum(view, layout.l4Offset) === 0;
      kinds.add(`${layout.ipProto}${zeroUdp ? '/0' : ''}${layout.vlanCount > 0 ? '/vlan' : ''}`);
    }
    expect([...kinds].sort()).toEqual(['1', '1/vlan', '17', '17/0', '17/vlan', '6', '6/vlan']);
    expect(ipFrames.length).toBeGreaterThanOrEqual(35);
  });

  it('fixed edge values', () => {
    const edges: Rewrite[] = [
      { src: 0, dst: 0, sport: 0, dport: 0, icmpId: 0, ttlSteps: 1 },
      { src: 0xffffffff, dst: 0xffffffff, sport: 0xffff, dport: 0xffff, icmpId: 0xffff, ttlSteps: 64 },
      { src: 0xc6120001, dst: 0xc6120002, sport: 80, dport: 443, icmpId: 1, ttlSteps: 2 },
      { src: 0x0a000001, dst: 0x7f000001, sport: 1, dport: 65534, icmpId: 0x8000, ttlSteps: 0 },
    ];
    for (const { name, index, rec } of ipFrames) {
      for (const w of edges) rewriteAndCheck(copyFrame(rec), rec.caplen, w, `${name} frame ${index}`);
    }
  });

  it('random rewrites', () => {
    const u16 = fc.integer({ min: 0, max: 0xffff });
    const rewrite = fc.record({
      src: fc.integer({ min: 0, max: 0xffffffff }),
      dst: fc.integer({ min: 0, max: 0xffffffff }),
      sport: u16,
      dport: u16,
      icmpId: u16,
      ttlSteps: fc.integer({ min: 0, max: 70 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: ipFrames.length - 1 }), rewrite, (i, w) => {
        const { name, index, rec } = ipFrames[i];
        rewriteAndCheck(copyFrame(rec), rec.caplen, w, `${name} frame ${index}`);
      }),
      { numRuns: 2000 },
    );
  });
});
