import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { definePipeline } from '../../../src/pipeline/define-pipeline.ts';
import { use } from '../../../src/pipeline/element.ts';
import { parseFrameElement } from '../../../src/pipeline/elements/parse-frame-element.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { chainSpecDigest } from '../../../src/spec/chain-spec-digest.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';
import { SPEC_LIMITS } from '../../../src/spec/spec-limits.ts';
import { SpecParser } from '../../../src/spec/spec-parser.ts';

const registry = registerBuiltinFunctions(new FunctionRegistry());
const topologies = new URL('../../../topologies/', import.meta.url);
const rules = Array.from({ length: SPEC_LIMITS.configListItems.value }, (_, i) => `            - { action: allow, proto: tcp, src: 10.${(i >> 8) & 255}.${i & 255}.0/24, dport: ${1 + i} }`).join('\n');
const firewalls = (n: number): string =>
  [
    'apiVersion: nfvkit.dev/v1',
    'kind: ServiceFunctionChain',
    'metadata: { name: rules }',
    'spec:',
    '  ingress: { type: generator }',
    '  egress: { type: sink }',
    '  functions:',
    ...Array.from({ length: n }, (_, k) => `    - name: fw${k}\n      function: firewall\n      config:\n        rules:\n${rules}`),
    '',
  ].join('\n');

const thrown = async (parse: () => unknown): Promise<ConfigValidationError> => {
  try {
    await parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return err as ConfigValidationError;
  }
  throw new Error('parsed');
};

describe('SpecParser (issue 13 item 2): the whole spec checked in its worker', () => {
  const parser = new SpecParser();
  afterAll(() => parser.close());

  it('gives exactly what parseChainSpec gives for every topology, and the same errors with their positions', async () => {
    for (const file of readdirSync(topologies).filter((f) => f.endsWith('.yaml'))) {
      const text = readFileSync(new URL(file, topologies), 'utf8');
      const spec = await parser.parse(text, file, registry);
      const direct = parseChainSpec(text, file, registry);
      expect(spec, file).toEqual(direct);
      expect(chainSpecDigest(spec), file).toBe(chainSpecDigest(direct)); // the worker's, remembered
    }
    const broken = readFileSync(new URL('web-edge.yaml', topologies), 'utf8').replace('dport: 80', 'dport: 80000').replace('min: 1, max: 4', 'min: 5, max: 4');
    const inWorker = await thrown(() => parser.parse(broken, 'broken.yaml', registry));
    const direct = await thrown(() => parseChainSpec(broken, 'broken.yaml', registry));
    expect(inWorker.issues.length).toBeGreaterThanOrEqual(2);
    expect(inWorker.issues).toEqual(direct.issues);
    expect(inWorker.message).toBe(direct.message);
  }, 60_000);

  it('with a function the worker cannot import, checks the data on the loop instead: same result', async () => {
    const local = new FunctionRegistry().register(definePipeline({ name: 'local', description: 'parse only', config: z.object({}).strict(), elements: () => [use(parseFrameElement, {})] }));
    const text = 'apiVersion: nfvkit.dev/v1\nkind: ServiceFunctionChain\nmetadata: { name: l }\nspec:\n  ingress: { type: generator }\n  egress: { type: sink }\n  functions:\n    - { name: a, function: local }\n';
    expect(await parser.parse(text, 'l.yaml', local)).toEqual(parseChainSpec(text, 'l.yaml', local));
    const bad = await thrown(() => parser.parse(text.replace('function: local', 'function: firewall'), 'l.yaml', local));
    expect(bad.issues.map((i) => [i.path, i.line])).toEqual([['spec.functions[0].function', 8]]);
  }, 60_000);

  it('the spec with the most rules the size allows costs the event loop a few ms, not the check of every config', async () => {
    let n = 1;
    while (Buffer.byteLength(firewalls(n + 1)) <= SPEC_LIMITS.specBytes.value) n++;
    const text = firewalls(n);
    await parser.parse(text, 'warm.yaml', registry);
    const before = performance.eventLoopUtilization();
    const spec = await parser.parse(text, 'rules.yaml', registry);
    const busy = performance.eventLoopUtilization(before);
    const started = performance.now();
    parseChainSpec(text, 'rules.yaml', registry);
    const directMs = performance.now() - started;
    console.log(`${n} firewalls × ${SPEC_LIMITS.configListItems.value} rules: event loop busy ${busy.active.toFixed(1)} ms of ${(busy.active + busy.idle).toFixed(0)} ms through SpecParser; parseChainSpec on the loop ${directMs.toFixed(0)} ms`);
    expect(spec.spec.functions).toHaveLength(n);
    // Relative: on a loaded shared machine both grow alike (here ~5 ms against ~300 ms when quiet).
    expect(busy.active).toBeLessThan(directMs / 8);
  }, 60_000);
});
