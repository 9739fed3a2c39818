import { describe, expect, it } from 'vitest';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame6 } from '../../unit/packet/frame-fixtures.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { ip, NatHarness, srcAddrOf } from './nat-harness.ts';

// Without NAT64, IPv6 is routed, not hidden: every IPv6 frame leaves on the other side with
// its bytes unchanged, counted as ipv6_passed (never as untranslated, never dropped).
const V6: Ipv6FrameSpec[] = [
  { proto: 6, dstPort: 80, tcpFlags: 0x02 },
  { proto: 6, dstPort: 80, tcpFlags: 0x10 },
  { proto: 17, dstPort: 53, payloadLength: 20 },
  { proto: 58, icmpType: 128, payloadLength: 16 },
  { proto: 58, icmpType: 135, hopLimit: 255, payloadLength: 16 },
  { proto: 6, dstPort: 80, extensionHeaders: [{ type: 0 }, { type: 44, fragmentOffset: 3 }] },
  { proto: 47, payloadLength: 12 },
  // Addressed to the well-known NAT64 prefix: still untouched while NAT64 is off.
  { proto: 17, dst: [0x64, 0xff9b, 0, 0, 0, 0, 0xc612, 0x6401], dstPort: 53, payloadLength: 8 },
];

describe('NAT forwards IPv6 untranslated by default, counted', () => {
  for (const side of [Side.INSIDE, Side.OUTSIDE]) {
    it(`from the ${side === Side.INSIDE ? 'inside' : 'outside'}: same bytes, other side, ipv6_passed`, async () => {
      const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1', match: ['10.1.0.0/16'] } });
      const frames = V6.map((spec) => ({ side, bytes: frame6(spec) }));
      const out = nat.run(frames, 1000);
      expect(out.map((r) => r.verdict)).toEqual(frames.map(() => side ^ 1));
      out.forEach((r, i) => expect(Buffer.from(r.bytes).equals(Buffer.from(frames[i].bytes))).toBe(true));
      expect(nat.counter('ipv6_passed')).toBe(frames.length);
      expect(nat.counter('untranslated')).toBe(0);
      expect(nat.counter('mappings_created')).toBe(0);
    });
  }

  it('IPv4 in the same batch is still translated', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1', match: ['10.1.0.0/16'] } });
    const v4 = buildFrame({ proto: 17, srcIp: ip('10.1.0.5'), dstIp: ip('198.18.0.9'), srcPort: 4000, dstPort: 53 });
    const out = nat.run([{ side: Side.INSIDE, bytes: frame6({ proto: 17, dstPort: 53 }) }, { side: Side.INSIDE, bytes: v4 }], 1000);
    expect(out.map((r) => r.verdict)).toEqual([Verdict.OUTSIDE, Verdict.OUTSIDE]);
    expect(srcAddrOf(out[1].bytes)).toBe(ip('198.18.100.1'));
    expect(nat.counter('translated_outbound')).toBe(1);
    expect(nat.counter('ipv6_passed')).toBe(1);
  });
});
