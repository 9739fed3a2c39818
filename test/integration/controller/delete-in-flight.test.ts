import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { Controller } from '../../../src/controller/controller.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-delete-it-'));
const topology = parseYaml(readFileSync(new URL('../../../topologies/web-edge.yaml', import.meta.url), 'utf8')) as Record<string, any>;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('deleting a chain under full load loses no frame', () => {
  it.each(['isolated', 'fused'] as const)('%s: the ingress closes first, what is inside leaves, then the instances stop', async (placement) => {
    const controller = await Controller.create({ registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(join(dir, placement)), warm: false, deleteTimeoutMs: 50 });
    try {
      const spec = structuredClone(topology);
      spec.metadata.name = `del-${placement}`;
      spec.spec.placement = placement;
      for (const fn of spec.spec.functions) fn.scaling = { min: 1, max: 1 };
      await controller.apply(stringify(spec), 'web-edge.yaml');
      // The unpaced generator keeps every queue full: frames are inside the instances at any moment.
      // (Fused, its ends run in the replicas: the chain's traffic is their counters, the host's is 0.)
      const entered = () => controller.chainTraffic(spec.metadata.name).enteredInside;
      const until = performance.now() + 10_000;
      while (entered() < 20_000 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(entered()).toBeGreaterThanOrEqual(20_000);
      const seq = controller.events.lastSeq;
      await controller.deleteChain(spec.metadata.name);
      const deleted = controller.events.since(seq).find((e) => e.type === 'deleted');
      expect(deleted?.details).toMatchObject({ leakedBuffers: '0', dropped: '0' });
      const d = deleted!.details;
      expect(d.leftOutside).toBe(d.enteredInside);
      expect(d.leftInside).toBe(d.enteredOutside);
    } finally {
      await controller.close(0);
    }
  }, 60_000);
});
