import { describe, expect, it } from 'vitest';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame6 } from '../../unit/packet/frame-fixtures.ts';
import { startLb } from './lb-harness.ts';

// parse-frame accepts IPv6; until the load balancer is dual-stack it must drop it with a
// counted reason, never forward it unbalanced.
const V6: Ipv6FrameSpec[] = [
  { proto: 6, dstPort: 80, tcpFlags: 0x02 },
  { proto: 17, dstPort: 53, payloadLength: 20 },
  { proto: 58, icmpType: 128, payloadLength: 16 },
  { proto: 58, icmpType: 135, hopLimit: 255, payloadLength: 16 },
  { proto: 6, dstPort: 80, extensionHeaders: [{ type: 0 }, { type: 44, fragmentOffset: 3 }] },
];
const SIDES = [Side.INSIDE, Side.OUTSIDE];
const frames = SIDES.flatMap((side) => V6.map((spec) => ({ side, bytes: frame6(spec) })));

describe('the load balancer drops IPv6 frames with a counted reason until it is dual-stack', () => {
  it('load balancer (nonVipTraffic: forward): ipv6_not_supported, not non_vip_forwarded', async () => {
    const lb = await startLb({
      services: [{ name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }] }],
      maglevTableSize: 251,
    });
    const out = lb.send(frames.map((f) => ({ side: f.side, frame: f.bytes })), 0);
    expect(out.map((r) => [r.verdict, r.reason])).toEqual(frames.map(() => [Verdict.DROP, 'ipv6_not_supported']));
    expect(lb.counter('ipv6_not_supported')).toBe(frames.length);
    expect(lb.counter('non_vip_forwarded')).toBe(0);
  });

});
