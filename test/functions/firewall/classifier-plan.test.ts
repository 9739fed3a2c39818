import { describe, expect, it } from 'vitest';
import { packetPorts, type AclRule } from '../../../functions/firewall/acl-rule.ts';
import { groupRules, planClassifier } from '../../../functions/firewall/classifier-plan.ts';
import { classifierFunction } from '../../../functions/firewall/classifier-codegen.ts';
import { classifierOptionsSchema, firewallRuleSchema, toAclRule } from '../../../functions/firewall/config.ts';
import { firstMatch } from '../../../functions/firewall/interpreter.ts';
import { generateRuleSet, generateTraffic } from '../../../functions/firewall/rule-set-generator.ts';
import { randomRules } from './random-rules.ts';

const options = (o: object = {}) => classifierOptionsSchema.parse(o);
const classBench = (count: number, seed: number): AclRule[] => generateRuleSet({ count, seed }).map((r) => toAclRule(firewallRuleSchema.parse(r)));

describe('classifier plan', () => {
  const rules10k = classBench(10_000, 42);

  it('compiles 10,000 ClassBench-like rules into bounded decision trees quickly', () => {
    const started = performance.now();
    const plan = planClassifier(rules10k, options());
    const ms = performance.now() - started;
    expect(plan.kind).toBe('trees');
    expect(ms).toBeLessThan(5000);
    expect((plan.words as Int32Array).length * 4).toBeLessThan(16 * 2 ** 20);
    expect(plan.trees?.length).toBeLessThanOrEqual(4);
    for (const t of plan.trees ?? []) expect(t.stats.maxDepth).toBeLessThanOrEqual(32);
    const classify = classifierFunction(plan);
    for (const p of generateTraffic(rules10k, 3000, 9)) {
      const [sp, dp] = packetPorts(p);
      expect(classify(p.side, p.proto, p.src, p.dst, sp, dp)).toBe(firstMatch(rules10k, p));
    }
  });

  it('is deterministic', () => {
    const a = planClassifier(rules10k.slice(0, 3000), options());
    const b = planClassifier(rules10k.slice(0, 3000), options());
    expect(a.words).toEqual(b.words);
    expect(a.trees?.map((t) => t.root)).toEqual(b.trees?.map((t) => t.root));
  });

  it('groups rules by the wideness of their addresses', () => {
    const groups = groupRules(rules10k);
    const total = [...groups.values()].reduce((n, g) => n + g.length, 0);
    expect(total).toBe(10_000);
    for (const i of groups.get('Wd') ?? []) expect(rules10k[i].srcPrefix).toBeLessThan(8);
    for (const i of groups.get('sd') ?? []) expect(Math.min(rules10k[i].srcPrefix, rules10k[i].dstPrefix)).toBeGreaterThanOrEqual(8);
  });

  it('chooses straight-line code for small sets and the interpreter on request', () => {
    expect(planClassifier(rules10k.slice(0, 16), options()).kind).toBe('straight-line');
    expect(planClassifier(rules10k.slice(0, 17), options()).kind).toBe('trees');
    expect(planClassifier(rules10k.slice(0, 17), options({ algorithm: 'linear' })).kind).toBe('linear');
  });

  it('stays within its memory budget, growing leaves and finally falling back to the interpreter', () => {
    const rules = randomRules(7, 600);
    const roomy = planClassifier(rules, options({ leafSize: 1 }));
    const tight = planClassifier(rules, options({ leafSize: 1, memoryMiB: 0.25 / 4 }));
    expect(tight.kind).toBe('trees');
    expect(tight.leafSize).toBeGreaterThan(roomy.leafSize as number);
    expect((tight.words as Int32Array).length).toBeLessThanOrEqual(0.0625 * 262144);
    const starved = planClassifier(classBench(3000, 1), options({ memoryMiB: 1 / 1024 }));
    expect(starved.kind).toBe('linear');
    expect(starved.fallback).toMatch(/exceed/);
    const classify = classifierFunction(starved);
    for (const p of generateTraffic(starved.rules, 500, 2)) {
      const [sp, dp] = packetPorts(p);
      expect(classify(p.side, p.proto, p.src, p.dst, sp, dp)).toBe(firstMatch(starved.rules, p));
    }
  });
});
