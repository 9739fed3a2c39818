import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packetPorts, type AclRule } from '../../../functions/firewall/acl-rule.ts';
import { buildAddressReduction, buildReductionIndex, reduceAddress, wordsToBigInt } from '../../../functions/firewall/address-reduction.ts';
import { planClassifier, planFamily } from '../../../functions/firewall/classifier-plan.ts';
import { classifierFunction, classifierFunction6 } from '../../../functions/firewall/classifier-codegen.ts';
import { classifierOptionsSchema, firewallRuleSchema, toAclRule } from '../../../functions/firewall/config.ts';
import { firstMatch, firstMatch6 } from '../../../functions/firewall/interpreter.ts';
import { generateRuleSet, generateTraffic, generateTraffic6 } from '../../../functions/firewall/rule-set-generator.ts';
import { randomDualStackRules } from './random-rules.ts';

const SETS = 150;
const PACKETS_PER_FAMILY = 300;

function classBench(seed: number, count: number, ipv6Share: number): AclRule[] {
  return generateRuleSet({ count, seed, ipv6Share }).map((r) => toAclRule(firewallRuleSchema.parse(r)));
}

describe('dual-stack rule compiler vs interpreter (property)', () => {
  it(`agrees on every IPv4 and IPv6 packet: ${SETS} random dual-stack rule sets × ${PACKETS_PER_FAMILY} packets per family`, () => {
    let v4 = 0;
    let v6 = 0;
    let matched6 = 0;
    const kinds = new Set<string>();
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 0x7fffffff }),
          count: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 40, max: 500 })),
          style: fc.constantFrom('classbench', 'random'),
          ipv6Share: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
          algorithm: fc.constantFrom('auto', 'tree', 'straight-line', 'linear'),
          leafSize: fc.integer({ min: 1, max: 16 }),
          spaceFactor: fc.integer({ min: 1, max: 16 }),
          maxCutBits: fc.integer({ min: 1, max: 15 }),
        }),
        (p) => {
          const rules = p.style === 'classbench' ? classBench(p.seed, p.count, p.ipv6Share) : randomDualStackRules(p.seed, p.count);
          const options = classifierOptionsSchema.parse({ algorithm: p.algorithm, leafSize: p.leafSize, spaceFactor: p.spaceFactor, maxCutBits: p.maxCutBits });
          const plan4 = planFamily(rules, 4, options);
          const plan6 = planFamily(rules, 6, options);
          kinds.add(`4:${plan4.kind}`).add(`6:${plan6.kind}`);
          const classify4 = classifierFunction(plan4);
          const classify6 = classifierFunction6(plan6);
          for (const pkt of generateTraffic(rules, PACKETS_PER_FAMILY, p.seed ^ 0x5bd1e995, 0.15)) {
            const [sp, dp] = packetPorts(pkt);
            const got = classify4(pkt.side, pkt.proto, pkt.src, pkt.dst, sp, dp);
            const want = firstMatch(rules, pkt);
            if (got !== want) expect({ family: 4, pkt, got, want, rules: rules.length }).toBeUndefined();
            v4++;
          }
          for (const pkt of generateTraffic6(rules, PACKETS_PER_FAMILY, p.seed ^ 0x1b873593, 0.15)) {
            const [sp, dp] = packetPorts(pkt);
            const got = classify6(pkt.side, pkt.proto, pkt.src, pkt.dst, sp, dp);
            const want = firstMatch6(rules, pkt);
            if (got !== want) expect({ family: 6, pkt, got, want, rules: rules.length }).toBeUndefined();
            if (want >= 0 && rules[want].family === 6) matched6++;
            v6++;
          }
        },
      ),
      { numRuns: SETS },
    );
    expect(v4).toBe(SETS * PACKETS_PER_FAMILY);
    expect(v6).toBe(SETS * PACKETS_PER_FAMILY);
    // The IPv6 traffic really exercises IPv6 prefixes, not only family-free rules or misses.
    expect(matched6).toBeGreaterThan(v6 / 5);
    for (const k of ['4:straight-line', '4:trees', '4:linear', '6:straight-line', '6:trees', '6:linear']) expect(kinds).toContain(k);
  });

  it('never matches a rule of the other family; a rule without addresses matches both', () => {
    const rules = ['2001:db8::/32', '198.18.0.0/15', undefined].map((src, i) =>
      toAclRule(firewallRuleSchema.parse({ action: 'allow', name: `r${i}`, ...(src === undefined ? {} : { src }), proto: 'tcp', dport: 443 })),
    );
    const opts = classifierOptionsSchema.parse({});
    const c4 = classifierFunction(planFamily(rules, 4, opts));
    const c6 = classifierFunction6(planFamily(rules, 6, opts));
    // 198.18.0.1 and ::c612:1 (the same low word) each match only their own family's rule.
    expect(c4(0, 6, 0xc6120001, 1, 5000, 443)).toBe(1);
    expect(c6(0, 6, [0, 0, 0, 0xc6120001], [0, 0, 0, 1], 5000, 443)).toBe(2);
    expect(c6(0, 6, [0x20010db8, 0, 0, 1], [0, 0, 0, 1], 5000, 443)).toBe(0);
    expect(c4(0, 6, 0x20010db8, 1, 5000, 443)).toBe(2);
    expect(c4(0, 6, 0x0a000001, 1, 5000, 80)).toBe(-1);
    expect(c6(0, 6, [0x20010db8, 0, 0, 1], [0, 0, 0, 1], 5000, 80)).toBe(-1);
  });

  it('leaves the IPv4 plan of an IPv4-only rule set exactly as it was', () => {
    const rules = classBench(7, 600, 0);
    expect(rules.every((r) => r.family === 4)).toBe(true);
    const opts = classifierOptionsSchema.parse({});
    expect(planFamily(rules, 4, opts)).toEqual(planClassifier(rules, opts));
  });

  it('reduces every address to the interval that holds it (boundaries and their neighbours)', () => {
    const rules = randomDualStackRules(11, 200).filter((r) => r.family === 6);
    const red = buildAddressReduction(rules);
    const index = buildReductionIndex(red.src, red.srcCount);
    const points = [...red.srcIndex.keys()].sort((a, b) => (a < b ? -1 : 1));
    const words = (v: bigint) => [Number((v >> 96n) & 0xffffffffn), Number((v >> 64n) & 0xffffffffn), Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn)];
    points.forEach((p, i) => {
      for (const [v, want] of [[p, i], [p - 1n, i - 1], [p + 1n, i]] as const) {
        if (v < 0n || v >= 1n << 128n || (want === i && i + 1 < points.length && v >= points[i + 1])) continue;
        const w = words(v);
        expect(wordsToBigInt(w)).toBe(v);
        expect(reduceAddress(red.src, red.srcCount, red.srcShift, index, w[0] | 0, w[1] | 0, w[2] | 0, w[3] | 0) >>> 0).toBe((want * 2 ** red.srcShift) >>> 0);
      }
    });
  });
});
