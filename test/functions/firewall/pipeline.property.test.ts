import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FrameSpec } from '../../../src/packet/frame-builder.ts';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { Verdict } from '../../../src/pipeline/verdict.ts';
import { Action, type AclPacket, type AclPacket6, type AclRule } from '../../../functions/firewall/acl-rule.ts';
import { firewallRuleSchema, toAclRule } from '../../../functions/firewall/config.ts';
import { firstMatch, firstMatch6 } from '../../../functions/firewall/interpreter.ts';
import { generateRuleSet, generateTraffic, generateTraffic6 } from '../../../functions/firewall/rule-set-generator.ts';
import { frame6 } from '../../unit/packet/frame-fixtures.ts';
import { Firewall } from './harness.ts';

function specOf(p: AclPacket): FrameSpec {
  if (p.proto === 6) return { proto: 6, srcIp: p.src, dstIp: p.dst, srcPort: p.sport, dstPort: p.dport, tcpFlags: 0x02 };
  if (p.proto === 17) return { proto: 17, srcIp: p.src, dstIp: p.dst, srcPort: p.sport, dstPort: p.dport, payloadLength: 4 };
  if (p.proto === 1) return { proto: 1, srcIp: p.src, dstIp: p.dst, icmpType: p.icmpType ?? 0, payloadLength: 28 };
  return { proto: p.proto, srcIp: p.src, dstIp: p.dst, payloadLength: 8 };
}

/** Four address words as the frame builder's eight groups. */
const groups = (w: ArrayLike<number>) => Array.from(w).flatMap((x) => [(x >>> 16) & 0xffff, x & 0xffff]);

function spec6Of(p: AclPacket6): Ipv6FrameSpec {
  const base = { src: groups(p.src), dst: groups(p.dst), proto: p.proto };
  if (p.proto === 6) return { ...base, srcPort: p.sport, dstPort: p.dport, tcpFlags: 0x02 };
  if (p.proto === 17) return { ...base, srcPort: p.sport, dstPort: p.dport, payloadLength: 4 };
  if (p.proto === 58) return { ...base, icmpType: p.icmpType ?? 128, payloadLength: 8 };
  return { ...base, payloadLength: 8 };
}

const host = (a: number) => a >>> 24 !== 0 && a >>> 24 !== 127 && a >>> 24 < 224;

/** What the firewall must do with one new packet, from the reference interpreter. */
function expected(rules: readonly AclRule[], defaultAction: number, p: AclPacket): { verdict: number; reason: string } {
  const r = firstMatch(rules, p);
  const action = r < 0 ? defaultAction : rules[r].action;
  if (action === Action.ALLOW) return { verdict: p.side ^ 1, reason: '' };
  if (action === Action.DROP) return { verdict: Verdict.DROP, reason: r < 0 ? 'default_policy' : 'acl_denied' };
  const icmpError = p.proto === 1 && [3, 4, 5, 11, 12].includes(p.icmpType ?? 0);
  const answerable = host(p.src) && host(p.dst) && !icmpError;
  return answerable ? { verdict: p.side, reason: '' } : { verdict: Verdict.DROP, reason: 'reject_suppressed' };
}

describe('compiled firewall pipeline vs interpreter (property)', () => {
  it('gives every frame the verdict and drop reason the interpreter implies', async () => {
    const cases = fc.sample(
      fc.record({
        seed: fc.integer({ min: 0, max: 0x7fffffff }),
        count: fc.constantFrom(0, 3, 12, 40, 300, 1500),
        defaultPolicy: fc.constantFrom('allow', 'drop', 'reject') as fc.Arbitrary<'allow' | 'drop' | 'reject'>,
      }),
      { numRuns: 16, seed: 20251126 },
    );
    let frames = 0;
    for (const c of cases) {
      const raw = generateRuleSet({ count: c.count, seed: c.seed });
      const rules = raw.map((r) => toAclRule(firewallRuleSchema.parse(r)));
      const fw = await Firewall.create({ stateful: false, defaultPolicy: c.defaultPolicy, rules: raw });
      const defaultAction = { allow: Action.ALLOW, drop: Action.DROP, reject: Action.REJECT }[c.defaultPolicy];
      const packets = generateTraffic(rules, 1024, c.seed + 1, 0.2);
      for (let b = 0; b < packets.length; b += 256) {
        const chunk = packets.slice(b, b + 256);
        const sent = fw.send(chunk.map((p) => ({ side: p.side, spec: specOf(p) })));
        sent.forEach((s, i) => {
          const want = expected(rules, defaultAction, chunk[i]);
          if (s.verdict !== want.verdict || s.reason !== want.reason) {
            expect({ packet: chunk[i], got: [s.verdict, s.reason] }).toEqual({ packet: chunk[i], got: [want.verdict, want.reason] });
          }
          frames++;
        });
      }
    }
    expect(frames).toBe(16 * 1024);
  });

  it('with mixed IPv4/IPv6 rule sets: each family judged by its own rules and the family-free ones, rule hits counted at their index in the full set', async () => {
    let frames = 0;
    for (const [count, seed] of [[12, 3], [60, 4], [400, 5]] as const) {
      const raw = generateRuleSet({ count, seed, ipv6Share: 0.5 });
      const rules = raw.map((r) => toAclRule(firewallRuleSchema.parse(r)));
      expect(rules.some((r) => r.family === 6) && rules.some((r) => r.family === 4)).toBe(true);
      const fw = await Firewall.create({ stateful: false, defaultPolicy: 'drop', rules: raw });
      const hits = new Array<number>(rules.length).fill(0);
      const packets = generateTraffic(rules, 768, seed + 1, 0.2);
      for (let b = 0; b < packets.length; b += 256) {
        const chunk = packets.slice(b, b + 256);
        const sent = fw.send(chunk.map((p) => ({ side: p.side, spec: specOf(p) })));
        sent.forEach((s, i) => {
          const want = expected(rules, Action.DROP, chunk[i]);
          expect([s.verdict, s.reason]).toEqual([want.verdict, want.reason]);
          const r = firstMatch(rules, chunk[i]);
          if (r >= 0) hits[r]++;
          frames++;
        });
      }
      // A multicast source is the parser's drop (ipv6_multicast_source), not the firewall's.
      const packets6 = generateTraffic6(rules, 1024, seed + 2, 0.2)
        .filter((p) => Array.from(p.src)[0] >>> 24 !== 0xff)
        .slice(0, 768);
      expect(packets6).toHaveLength(768);
      for (let b = 0; b < packets6.length; b += 256) {
        const chunk = packets6.slice(b, b + 256);
        const sent = fw.send(chunk.map((p) => ({ side: p.side, bytes: frame6(spec6Of(p)) })));
        sent.forEach((s, i) => {
          const p = chunk[i];
          const r = firstMatch6(rules, p);
          const nd = p.proto === 58 && (p.icmpType ?? 0) >= 133 && (p.icmpType ?? 0) <= 137;
          const action = nd ? Action.ALLOW : r < 0 ? Action.DROP : rules[r].action;
          // An IPv6 reject is answered (back out of the arrival side) unless RFC 4443 forbids it.
          const t = p.icmpType ?? 0;
          const answerable6 = Array.from(p.dst)[0] >>> 24 !== 0xff && Array.from(p.src).some((w) => w !== 0) && !(p.proto === 58 && (t < 128 || t === 137));
          const want =
            action === Action.ALLOW ? [p.side ^ 1, ''] : action === Action.DROP ? [Verdict.DROP, r < 0 ? 'default_policy' : 'acl_denied'] : answerable6 ? [p.side, ''] : [Verdict.DROP, 'reject_suppressed'];
          expect([s.verdict, s.reason], JSON.stringify(p)).toEqual(want);
          if (r >= 0 && !nd) hits[r]++;
          frames++;
        });
      }
      hits.forEach((n, i) => expect(fw.counter(`rule_${i}`), `rule_${i}`).toBe(n));
      expect(hits.some((n, i) => n > 0 && rules[i].family === 6)).toBe(true);
    }
    expect(frames).toBe(3 * 2 * 768);
  });
});
