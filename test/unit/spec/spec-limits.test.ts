import { readFileSync } from 'node:fs';
import { Document, type YAMLMap } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { ConfigValidationError, InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { findDuplicateKeys } from '../../../src/spec/duplicate-keys.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';
import { renderLimitsTable, SPEC_LIMITS } from '../../../src/spec/spec-limits.ts';
import { SpecParser } from '../../../src/spec/spec-parser.ts';
import { lagWithinBudget } from '../../support/lag-probe.ts';
import type { ChainSpec } from '../../../src/spec/chain-spec.ts';

const registry = registerBuiltinFunctions(new FunctionRegistry());

function spec(o: { labels?: number; labelValue?: string; ingress?: string; functions?: string[]; rules?: number; pad?: number } = {}): string {
  const labels = Array.from({ length: o.labels ?? 0 }, (_, i) => `    k${i}: "${o.labelValue ?? `v${i}`}"`);
  const rules = Array.from({ length: o.rules ?? 1 }, (_, i) => `            - { action: allow, proto: tcp, src: 10.${(i >> 8) & 255}.${i & 255}.0/24, dport: ${1 + i} }`);
  const functions = o.functions ?? [`    - name: fw\n      function: firewall\n      config:\n        rules:\n${rules.join('\n')}`];
  return [
    'apiVersion: nfvkit.dev/v1',
    'kind: ServiceFunctionChain',
    'metadata:',
    '  name: big',
    ...(labels.length > 0 ? ['  labels:', ...labels] : []),
    'spec:',
    `  ingress: ${o.ingress ?? '{ type: generator }'}`,
    '  egress: { type: sink }',
    '  functions:',
    ...functions,
    ...(o.pad === undefined ? [] : [`# ${'x'.repeat(o.pad)}`]),
    '',
  ].join('\n');
}

function issues(text: string): string[] {
  try {
    parseChainSpec(text, 's.yaml', registry);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return (err as ConfigValidationError).issues.map((i) => `${i.path || '(root)'}: ${i.message}`);
  }
  return [];
}

const fn = (name: string, scaling: string): string => `    - { name: ${name}, function: pass-through, scaling: ${scaling} }`;

describe('spec limits (issue 13 item 2): each hostile input refused with its field path', () => {
  const parser = new SpecParser();
  afterAll(() => parser.close());

  it('spec bytes: a text over the limit is refused before any parsing', () => {
    const text = spec({ pad: SPEC_LIMITS.specBytes.value });
    const started = performance.now();
    expect(issues(text)).toEqual([expect.stringMatching(/^\(root\): spec too large: \d+ bytes \(UTF-8\), the limit is 262144 \(limit specBytes\)$/)]);
    expect(performance.now() - started).toBeLessThan(50);
    expect(issues(spec({ pad: SPEC_LIMITS.specBytes.value - 2000 }))).toEqual([]);
  });

  it('40,000 labels (1 MB): refused by size at once; 10,000 within the size: too many labels at metadata.labels', () => {
    expect(issues(spec({ labels: 40_000 }))[0]).toMatch(/^\(root\): spec too large/);
    const text = spec({ labels: 10_000 });
    expect(Buffer.byteLength(text)).toBeLessThan(SPEC_LIMITS.specBytes.value);
    expect(issues(text)).toEqual(['metadata.labels: too many labels: 10000 labels, the limit is 64 (limit labels)']);
    expect(issues(spec({ labels: 64 }))).toEqual([]);
  });

  it('duplicate keys are found in linear time, each with its path', () => {
    const doc = (n: number): Document => {
      const d = new Document({ a: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 1])) });
      (d.get('a', true) as YAMLMap).items.push(d.createPair('k7', 2));
      return d;
    };
    const time = (n: number): number => {
      const d = doc(n);
      let best = Infinity;
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        expect(findDuplicateKeys(d).map((x) => x.path)).toEqual([['a', 'k7']]);
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    time(1000);
    // 8× the keys: linear work takes ~8× as long, quadratic work 64×.
    expect(time(40_000) / Math.max(time(5_000), 0.5)).toBeLessThan(24);
    expect(issues(spec({ labels: 3 }).replace('    k1: "v1"', '    k0: "again"'))).toEqual(['metadata.labels.k0: duplicate key (a YAML mapping holds each key once)']);
  });

  it('config lists: 100,000 firewall rules refused by size, 257 at spec.functions[0].config.rules, 256 accepted', () => {
    expect(issues(spec({ rules: 100_000 }))[0]).toMatch(/^\(root\): spec too large/);
    expect(issues(spec({ rules: 257 }))).toEqual(['spec.functions[0].config.rules: list too long: 257 items per list, the limit is 256 (limit configListItems)']);
    expect(issues(spec({ rules: 256 }))).toEqual([]);
  });

  it('generator flows × packet size: 16777216 × 1514 refused at spec.ingress.flows, the product bounded', () => {
    expect(issues(spec({ ingress: '{ type: generator, flows: 16777216, packetSize: 1514 }' }))).toEqual([
      'spec.ingress.flows: must be <= 279620',
      'spec.ingress.flows: 16777216 flows × 1514 B frames: 25400705024 bytes (flows × packetSize), the limit is 16777216 (limit generatorFrameBytes)',
    ]);
    expect(issues(spec({ ingress: '{ type: generator, flows: 11082, packetSize: 1514 }' }))).toEqual([
      'spec.ingress.flows: 11082 flows × 1514 B frames: 16778148 bytes (flows × packetSize), the limit is 16777216 (limit generatorFrameBytes)',
    ]);
    expect(issues(spec({ ingress: '{ type: generator, flows: 11081, packetSize: 1514 }' }))).toEqual([]);
  });

  it('functions per chain: 17 refused at spec.functions', () => {
    const many = (n: number) => spec({ functions: Array.from({ length: n }, (_, i) => fn(`f${i}`, '{ min: 1 }')) });
    expect(issues(many(17))).toEqual(['spec.functions: at most 16 functions in a chain (limit functionsPerChain)']);
    expect(issues(many(16))).toEqual([]);
  });

  it('instances per chain: 3 functions × min 64 refused at the function that crosses the limit', () => {
    const three = spec({ functions: [fn('a', '{ min: 64 }'), fn('b', '{ min: 64 }'), fn('c', '{ min: 64 }')] });
    expect(issues(three)).toEqual(['spec.functions[1].scaling.min: too many instances: functions [0..1] may run 128 instances (sum of scaling.max), the limit is 64 (limit instancesPerChain)']);
    expect(issues(spec({ functions: [fn('a', '{ min: 1, max: 32 }'), fn('b', '{ min: 2, max: 32 }')] }))).toEqual([]);
  });

  it('SpecParser gives the same answers as parseChainSpec, with positions', async () => {
    const bad = spec({ rules: 257, labels: 3 }).replace('    k1: "v1"', '    k0: "again"');
    const sync = (() => {
      try {
        parseChainSpec(bad, 's.yaml', registry);
      } catch (err) {
        return (err as ConfigValidationError).issues;
      }
    })();
    await expect(parser.parse(bad, 's.yaml', registry)).rejects.toMatchObject({ issues: sync });
    expect(sync?.map((i) => `${i.line}:${i.column} ${i.path}`)).toEqual(['7:5 metadata.labels.k0', '17:13 spec.functions[0].config.rules']);
    const good = spec({ rules: 8 });
    expect(await parser.parse(good, 's.yaml', registry)).toEqual(parseChainSpec(good, 's.yaml', registry));
  });

  it('the largest allowed spec parses with event-loop p99 lag under 50 ms', async () => {
    const value = 'v'.repeat(250);
    const largest = spec({ labels: 64, labelValue: value, rules: 256 });
    const padded = largest + `# ${'x'.repeat(SPEC_LIMITS.specBytes.value - Buffer.byteLength(largest) - 8)}\n`;
    expect(Buffer.byteLength(padded)).toBeLessThanOrEqual(SPEC_LIMITS.specBytes.value);
    await parser.parse(padded, 'warm.yaml', registry);
    let parsed: ChainSpec[] = [];
    const { lag, idle, budgetMs, attempt } = await lagWithinBudget(async () => {
      parsed = [];
      for (let i = 0; i < 3; i++) parsed.push(await parser.parse(padded, 'largest.yaml', registry));
    });
    console.log(`largest spec (${Buffer.byteLength(padded)} B) ×3 through SpecParser: lag p99 ${lag.p99Ms.toFixed(1)} ms, max ${lag.maxMs.toFixed(1)} ms; idle loop p99 ${idle.p99Ms.toFixed(1)} ms; budget ${budgetMs.toFixed(1)} ms (attempt ${attempt})`);
    expect(parsed[2].metadata.labels.k63).toBe(value);
    expect(lag.p99Ms).toBeLessThan(budgetMs);
  }, 40_000);

  it('the spec with the most rules allowed (every function a firewall of 256 rules, up to the size) parses in slices, p99 lag within 50 ms', async () => {
    const rules = Array.from({ length: SPEC_LIMITS.configListItems.value }, (_, i) => `            - { action: allow, proto: tcp, src: 10.${(i >> 8) & 255}.${i & 255}.0/24, dport: ${1 + i} }`).join('\n');
    const firewall = (k: number): string => `    - name: fw${k}\n      function: firewall\n      config:\n        rules:\n${rules}`;
    let count = 1;
    while (Buffer.byteLength(spec({ functions: Array.from({ length: count + 1 }, (_, k) => firewall(k)) })) <= SPEC_LIMITS.specBytes.value) count++;
    const text = spec({ functions: Array.from({ length: count }, (_, k) => firewall(k)) });
    await parser.parse(text, 'warm.yaml', registry);
    let parsed: ChainSpec | undefined;
    const { lag, idle, budgetMs, attempt } = await lagWithinBudget(async () => {
      parsed = await parser.parse(text, 'rules.yaml', registry);
    });
    console.log(`${count} firewalls × ${SPEC_LIMITS.configListItems.value} rules (${Buffer.byteLength(text)} B) through SpecParser: lag p99 ${lag.p99Ms.toFixed(1)} ms, max ${lag.maxMs.toFixed(1)} ms; idle loop p99 ${idle.p99Ms.toFixed(1)} ms; budget ${budgetMs.toFixed(1)} ms (attempt ${attempt})`);
    expect(count).toBeGreaterThan(4);
    expect(parsed?.spec.functions).toHaveLength(count);
    expect(lag.p99Ms).toBeLessThan(budgetMs);
  }, 60_000);

  it('SpecParser refuses a spec that takes longer than its time bound, each time; with room it gives the spec\'s own problems', async () => {
    const big = spec({ labels: 10_000 });
    const slow = new SpecParser({ timeoutMs: 5 });
    try {
      await expect(slow.parse(big, 'slow.yaml', registry)).rejects.toThrow(/slow\.yaml: reading it took longer than 5 ms; refused/);
      await expect(slow.parse(big, 'slow.yaml', registry)).rejects.toThrow(InvalidArgumentError);
    } finally {
      slow.close();
    }
    const fresh = new SpecParser({ timeoutMs: 20_000 });
    try {
      await expect(fresh.parse(big, 'big.yaml', registry)).rejects.toMatchObject({ issues: [{ path: 'metadata.labels', line: 6, column: 5 }] });
    } finally {
      fresh.close();
    }
  }, 30_000);

  it('docs/limits.md holds the limits table as declared', () => {
    const doc = readFileSync(new URL('../../../docs/limits.md', import.meta.url), 'utf8');
    expect(doc).toContain(renderLimitsTable());
  });
});
