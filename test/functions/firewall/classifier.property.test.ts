import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packetPorts, type AclRule } from '../../../functions/firewall/acl-rule.ts';
import { planClassifier } from '../../../functions/firewall/classifier-plan.ts';
import { classifierFunction } from '../../../functions/firewall/classifier-codegen.ts';
import { classifierOptionsSchema, firewallRuleSchema, toAclRule } from '../../../functions/firewall/config.ts';
import { firstMatch, linearClassify } from '../../../functions/firewall/interpreter.ts';
import { generateRuleSet, generateTraffic } from '../../../functions/firewall/rule-set-generator.ts';
import { packRuleTable } from '../../../functions/firewall/rule-table.ts';
import { randomRules } from './random-rules.ts';

const PACKETS_PER_SET = 520;
const SETS = 210;

function classBench(seed: number, count: number): AclRule[] {
  return generateRuleSet({ count, seed }).map((r) => toAclRule(firewallRuleSchema.parse(r)));
}

describe('rule compiler vs interpreter (property)', () => {
  it(`agrees on every packet: ${SETS} random rule sets × ${PACKETS_PER_SET} packets aimed at rule edges`, () => {
    let packets = 0;
    const kinds = new Set<string>();
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 0x7fffffff }),
          count: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 40, max: 600 })),
          style: fc.constantFrom('classbench', 'random'),
          algorithm: fc.constantFrom('auto', 'tree', 'straight-line'),
          leafSize: fc.integer({ min: 1, max: 16 }),
          spaceFactor: fc.integer({ min: 1, max: 16 }),
          maxCutBits: fc.integer({ min: 1, max: 15 }),
        }),
        (p) => {
          const rules = p.style === 'classbench' ? classBench(p.seed, p.count) : randomRules(p.seed, p.count);
          const options = classifierOptionsSchema.parse({ algorithm: p.algorithm, leafSize: p.leafSize, spaceFactor: p.spaceFactor, maxCutBits: p.maxCutBits });
          const plan = planClassifier(rules, options);
          kinds.add(plan.kind);
          const classify = classifierFunction(plan);
          for (const pkt of generateTraffic(rules, PACKETS_PER_SET, p.seed ^ 0x5bd1e995, 0.15)) {
            const [sp, dp] = packetPorts(pkt);
            const got = classify(pkt.side, pkt.proto, pkt.src, pkt.dst, sp, dp);
            if (got !== firstMatch(rules, pkt)) {
              expect({ pkt, got, want: firstMatch(rules, pkt), rules: rules.length }).toBeUndefined();
            }
            packets++;
          }
        },
      ),
      { numRuns: SETS },
    );
    expect(packets).toBeGreaterThanOrEqual(100_000);
    expect([...kinds].sort()).toEqual(['straight-line', 'trees']);
  });

  it('the packed interpreter agrees with the reference interpreter', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rules = seed % 2 === 0 ? classBench(seed, 300) : randomRules(seed, 300);
      const table = packRuleTable(rules);
      for (const pkt of generateTraffic(rules, 500, seed)) {
        const [sp, dp] = packetPorts(pkt);
        expect(linearClassify(table, rules.length, pkt.side, pkt.proto, pkt.src | 0, pkt.dst | 0, sp, dp)).toBe(firstMatch(rules, pkt));
      }
    }
  });
});
