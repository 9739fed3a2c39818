import { describe, expect, it } from 'vitest';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame6 } from '../../unit/packet/frame-fixtures.ts';
import { NatHarness } from './nat-harness.ts';

// parse-frame accepts IPv6; until NAT handles it, it must drop it with a counted reason,
// never forward it untranslated.
const V6: Ipv6FrameSpec[] = [
  { proto: 6, dstPort: 80, tcpFlags: 0x02 },
  { proto: 17, dstPort: 53, payloadLength: 20 },
  { proto: 58, icmpType: 128, payloadLength: 16 },
  { proto: 58, icmpType: 135, hopLimit: 255, payloadLength: 16 },
  { proto: 6, dstPort: 80, extensionHeaders: [{ type: 0 }, { type: 44, fragmentOffset: 3 }] },
];
const SIDES = [Side.INSIDE, Side.OUTSIDE];
const frames = SIDES.flatMap((side) => V6.map((spec) => ({ side, bytes: frame6(spec) })));

describe('NAT drops IPv6 frames with a counted reason until it handles them', () => {
  it('nat: ipv6_not_supported both ways, not untranslated', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1', match: ['10.1.0.0/16'] } });
    const out = nat.run(frames, 1000);
    expect(out.map((r) => [r.verdict, r.reason])).toEqual(frames.map(() => [Verdict.DROP, 'ipv6_not_supported']));
    expect(nat.counter('ipv6_not_supported')).toBe(frames.length);
    expect(nat.counter('untranslated')).toBe(0);
  });
});
