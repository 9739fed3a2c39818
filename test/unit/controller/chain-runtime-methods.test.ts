import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { lbBackends } from '../../../functions/load-balancer/lb-backends.ts';
import { loadBalancerConfigSchema } from '../../../functions/load-balancer/config.ts';
import { BackendSteering } from '../../../src/controller/backend-steering.ts';
import type { ChainEnd } from '../../../src/controller/chain-ends.ts';
import { ChainRuntime, type FunctionRuntime, type ResolvedImage } from '../../../src/controller/chain-runtime.ts';
import { ScalingPolicy } from '../../../src/controller/scaling-policy.ts';
import { createDataPlanePool } from '../../../src/dataplane/chain-data-plane.ts';
import { SinkPort } from '../../../src/dataplane/ports/sink-port.ts';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import type { ImageManifest } from '../../../src/image/image-manifest.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';

const registry = registerBuiltinFunctions(new FunctionRegistry());
const yaml = (max: number): string => `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: c }
spec:
  ingress: { type: sink }
  egress: { type: sink }
  functions:
    - { name: fw, function: pass-through, scaling: { min: 1, max: ${max} } }
  placement: isolated
`;
const image = (id: string): ResolvedImage => ({ id: id.repeat(64), imagePath: `/no/such/${id}/image.mjs`, manifest: { id: id.repeat(64), name: 'pass-through' } as ImageManifest });
const end = (): ChainEnd => ({ port: new SinkPort(), stats: () => ({}), close: async () => undefined });
const lb = (address: string): BackendSteering =>
  new BackendSteering('c', 'fw', lbBackends, loadBalancerConfigSchema.parse({ services: [{ name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address }] }], maglevTableSize: 251 }), [], () => undefined);

/** A chain runtime whose function never boots (no reconcile): only its bookkeeping is exercised. */
function runtime(): ChainRuntime {
  const spec = parseChainSpec(yaml(3), 'c.yaml', registry);
  const fnSpec = spec.spec.functions[0];
  return new ChainRuntime(spec, yaml(3), 'd1', [{ spec: fnSpec, image: image('a'), desired: 1, policy: new ScalingPolicy(fnSpec.scaling), sharded: false }], { inside: end(), outside: end() }, () => undefined, undefined, createDataPlanePool(64, 'worker'), { placement: 'isolated', reason: 'test' });
}

describe('ChainRuntime: the controller changes a chain through its methods', () => {
  it('sets replicas, takes a new function spec and image, and replaces backend steering', async () => {
    const chain = runtime();
    try {
      const fn = chain.functions[0];
      expect(chain.setDesired(fn, 3)).toBe(1);
      expect(fn.desired).toBe(3);
      const next = parseChainSpec(yaml(5), 'c.yaml', registry).spec.functions[0];
      chain.updateFunction(fn, { spec: next, image: image('b') });
      expect([fn.spec.scaling.max, fn.policy.bounds.max, fn.image.id]).toEqual([5, 5, 'b'.repeat(64)]);
      chain.updateFunction(fn, { spec: next });
      expect(fn.image.id).toBe('b'.repeat(64));
      const first = lb('198.19.0.1');
      chain.replaceBackends(fn, first);
      expect(fn.backends).toBe(first);
      chain.replaceBackends(fn, undefined);
      expect(fn.backends).toBeUndefined();
      expect(chain.functionStatus(fn)).toMatchObject({ desiredReplicas: 3, max: 5, imageId: 'b'.repeat(64) });
    } finally {
      await chain.delete(0);
    }
  });

  it('counts generations: each applied spec is the next one, a restore takes the stored one', async () => {
    const chain = runtime();
    try {
      expect(chain.generation).toBe(1);
      const before = chain.appliedAt;
      const spec = parseChainSpec(yaml(4), 'c.yaml', registry);
      chain.applySpec(spec, yaml(4), 'd2');
      expect([chain.generation, chain.digest, chain.specYaml, chain.spec]).toEqual([2, 'd2', yaml(4), spec]);
      expect(chain.appliedAt).toBeGreaterThanOrEqual(before);
      chain.restoreGeneration(7, 1234);
      expect([chain.generation, chain.appliedAt, chain.status().generation]).toEqual([7, 1234, 7]);
    } finally {
      await chain.delete(0);
    }
  });

  it('refuses a function of another chain', async () => {
    const [a, b] = [runtime(), runtime()];
    try {
      expect(() => a.setDesired(b.functions[0], 2)).toThrow(InvalidArgumentError);
      expect(() => a.updateFunction({ ...a.functions[0] } as FunctionRuntime, { spec: a.functions[0].spec })).toThrow(/is not one of chain "c"/);
      expect(a.functions[0].desired).toBe(1);
    } finally {
      await Promise.all([a.delete(0), b.delete(0)]);
    }
  });

  it('leaves no field writable from outside (checked by tsc)', async () => {
    const chain = runtime();
    try {
      const fn = chain.functions[0];
      const writes = (): void => {
        // @ts-expect-error generation is read-only outside the runtime
        chain.generation = 2;
        // @ts-expect-error the spec changes through applySpec
        chain.spec = chain.spec;
        // @ts-expect-error replicas change through setDesired
        fn.desired = 2;
        // @ts-expect-error the image changes through updateFunction
        fn.image = image('c');
        // @ts-expect-error booting instances are the runtime's own
        fn.booting.add('x');
        // @ts-expect-error the function list is the runtime's own
        chain.functions.push(fn);
        // @ts-expect-error the scaling bounds change through updateFunction (ScalingPolicy.setBounds)
        fn.policy.bounds = fn.spec.scaling;
      };
      expect(writes).toThrow(TypeError);
    } finally {
      await chain.delete(0);
    }
  });
});
