import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { ConfigValidationError, PipelineCompileError } from '../../../src/errors/catalog.ts';
import { canonicalJson } from '../../../src/image/canonical-json.ts';
import { configSha256, configSha256Of } from '../../../src/image/config-digest.ts';
import { PipelineCompileService } from '../../../src/pipeline/compile-service.ts';
import type { CompiledPipeline } from '../../../src/pipeline/compiled-pipeline.ts';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { definePipeline } from '../../../src/pipeline/define-pipeline.ts';
import { definitionSource } from '../../../src/pipeline/definition-source.ts';
import { use } from '../../../src/pipeline/element.ts';
import { parseFrameElement } from '../../../src/pipeline/elements/parse-frame-element.ts';
import { compileFusedChain } from '../../../src/pipeline/fuse-chain.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { SPEC_LIMITS } from '../../../src/spec/spec-limits.ts';
import { lagWithinBudget } from '../../support/lag-probe.ts';

const registry = registerBuiltinFunctions(new FunctionRegistry());
const rules = (n: number) => Array.from({ length: n }, (_, i) => ({ action: 'allow', proto: 'tcp', src: `10.${(i >> 8) & 255}.${i & 255}.0/24`, dport: 1 + i }));
const configs: Record<string, unknown> = {
  'pass-through': {},
  firewall: { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.100', dport: 80 }, ...rules(40)] },
  'load-balancer': { services: [{ name: 'web', vip: '198.18.2.100', port: 80, proto: 'tcp', backends: [{ address: '198.18.3.11', port: 8080 }, { address: '198.18.3.12', port: 8080 }] }] },
  nat: { snat: { addresses: '198.18.3.1/32', match: ['198.18.1.0/24'] } },
};

/** Everything an image is built from: equal here means the same image id. */
const essence = (c: CompiledPipeline) => ({ ...c, config: canonicalJson(c.config), parts: c.parts?.map((p) => ({ ...p, config: canonicalJson(p.config) })) });

describe('PipelineCompileService (issue 13 item 2): rule compilation off the event loop', () => {
  const service = new PipelineCompileService();
  afterAll(() => service.close());

  it('compiles every built-in function in the worker to exactly what the loop compiles, fused chains too', async () => {
    for (const name of registry.names()) {
      const definition = registry.get(name);
      expect(definitionSource(definition)?.exportName, name).toBeDefined();
      const inWorker = await service.compile(definition, configs[name]);
      const direct = compilePipeline(definition, configs[name]);
      expect(essence(inWorker), name).toEqual(essence(direct));
      expect(configSha256(inWorker), name).toBe(configSha256Of(direct.config)); // the worker's, remembered
    }
    const parts = ['firewall', 'load-balancer', 'nat'].map((f) => ({ name: `${f}-0`, definition: registry.get(f), config: configs[f] }));
    expect(essence(await service.compileFused(parts))).toEqual(essence(compileFusedChain(parts)));
  }, 60_000);

  it('gives the same errors as the loop: every config issue with its path, the catalog class and code', async () => {
    const bad = { defaultPolicy: 'maybe', rules: [{ action: 'allow', src: '10.0.0.0/33' }] };
    const direct = (() => {
      try {
        compilePipeline(registry.get('firewall'), bad);
      } catch (err) {
        return err as ConfigValidationError;
      }
      throw new Error('compiled');
    })();
    const err = (await service.compile(registry.get('firewall'), bad).catch((e: unknown) => e)) as ConfigValidationError;
    expect(err).toBeInstanceOf(ConfigValidationError);
    expect(err.code).toBe('NFVKIT_ERR_CONFIG_INVALID');
    expect(err.message).toBe(direct.message);
    expect(err.issues).toEqual(direct.issues);
    const parts = [{ name: 'a', definition: registry.get('nat'), config: { snat: {} } }];
    const fused = (await service.compileFused(parts).catch((e: unknown) => e)) as ConfigValidationError;
    expect(fused).toBeInstanceOf(ConfigValidationError);
    expect(fused.issues.length).toBeGreaterThan(0);
    expect(() => compileFusedChain(parts)).toThrow(expect.objectContaining({ message: fused.message, issues: fused.issues }));
  }, 60_000);

  it('compiles a function registered without its module on the calling thread', async () => {
    const local = definePipeline({ name: 'local', description: 'parse only', config: z.object({}).strict(), elements: () => [use(parseFrameElement, {})] });
    new FunctionRegistry().register(local);
    expect(definitionSource(local)).toBeUndefined();
    expect(essence(await service.compile(local, {}))).toEqual(essence(compilePipeline(local, {})));
  });

  it('a compile that outlasts its bound fails with PipelineCompileError; the next one starts a new worker', async () => {
    const slow = new PipelineCompileService({ timeoutMs: 1 });
    try {
      await expect(slow.compile(registry.get('firewall'), { rules: rules(256) })).rejects.toThrow(PipelineCompileError);
    } finally {
      slow.close();
    }
    expect((await service.compile(registry.get('pass-through'), {})).name).toBe('pass-through');
  }, 60_000);

  it('a fused chain of 13 firewalls of the most rules allowed compiles with event-loop p99 lag within 50 ms (on the loop it blocks for longer)', async () => {
    const parts = Array.from({ length: 13 }, (_, k) => ({ name: `fw${k}`, definition: registry.get('firewall'), config: { rules: rules(SPEC_LIMITS.configListItems.value) } }));
    const started = performance.now();
    const direct = compileFusedChain(parts);
    const directMs = performance.now() - started;
    let compiled: CompiledPipeline | undefined;
    await service.compileFused(parts.slice(0, 1)); // the worker started and its modules loaded
    const { lag, idle, budgetMs, attempt } = await lagWithinBudget(async () => {
      compiled = await service.compileFused(parts);
    });
    console.log(`13 firewalls × ${SPEC_LIMITS.configListItems.value} rules fused: ${directMs.toFixed(0)} ms on the loop; in the worker lag p99 ${lag.p99Ms.toFixed(1)} ms, max ${lag.maxMs.toFixed(1)} ms; idle p99 ${idle.p99Ms.toFixed(1)} ms; budget ${budgetMs.toFixed(1)} ms (attempt ${attempt})`);
    expect(directMs).toBeGreaterThan(50);
    expect(compiled?.sourceHash).toBe(direct.sourceHash);
    expect(lag.p99Ms).toBeLessThan(budgetMs);
  }, 120_000);
});
