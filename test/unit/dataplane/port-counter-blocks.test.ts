import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { passThrough } from '../../../functions/pass-through/pipeline.ts';
import { ChainDataPlane } from '../../../src/dataplane/chain-data-plane.ts';
import { NULL_PORT } from '../../../src/dataplane/chain-port.ts';
import { LocalPortCounter } from '../../../src/dataplane/ports/local-ports.ts';
import { buildImage } from '../../../src/image/image-builder.ts';
import { ImageStore } from '../../../src/image/image-store.ts';
import { MemfdMemory } from '../../../src/memory/shared-memory.ts';
import { IpProto, parseIpv4 } from '../../../src/packet/ipv4.ts';
import { ProcessIsolate } from '../../../src/runtime/process-isolate.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';

const frames = Array.from({ length: 16 }, (_, i) => buildFrame({ proto: IpProto.UDP, srcIp: (parseIpv4('198.18.1.1') as number) + i, dstIp: parseIpv4('198.18.2.1') as number, srcPort: 5000, dstPort: 53 }));
const ports = { inside: { type: 'generator' as const, frames }, outside: { type: 'sink' as const } };

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

// Only process instances take their port counters from a memfd range that can be handed out again.
describe.runIf(MemfdMemory.available())('port-counter blocks of instances with their own ports (process instances)', () => {
  let dp: ChainDataPlane | undefined;
  afterEach(async () => {
    await dp?.shutdown().catch(() => undefined);
    dp = undefined;
  });

  it('gives an instance\'s block back when it is drained and when it fails, and hands the range out again', async () => {
    const image = await buildImage(passThrough, {}, { store: ImageStore.open(join(tmpdir(), 'nfvkit-port-counter-blocks-test-images')) });
    dp = ChainDataPlane.create(['pass'], { instanceMode: 'process', bufferCount: 1024 });
    const memory = dp.memory;
    const [a, b] = await Promise.all([dp.addInstance(0, image, { ports }), dp.addInstance(0, image, { ports })]);
    const blockOf = (inst: typeof a) => inst.portCounters!.buffer as SharedArrayBuffer;
    expect(memory.locate(blockOf(a))).toBeDefined();
    expect(await until(() => a.portCounters![LocalPortCounter.OUTSIDE_OUT] > 1000, 20_000)).toBe(true);
    await dp.drainInstance(a.id, 'test', 2000);
    expect(memory.locate(blockOf(a))).toBeUndefined();

    // A new instance's block may take the range given back; a failed one gives its own back once it settled.
    const c = await dp.addInstance(0, image, { ports });
    expect(memory.locate(blockOf(c))).toBeDefined();
    expect(await until(() => b.portCounters![LocalPortCounter.OUTSIDE_OUT] > 1000, 20_000)).toBe(true);
    expect(b.host.worker).toBeInstanceOf(ProcessIsolate);
    process.kill((b.host.worker as ProcessIsolate).pid!, 'SIGKILL');
    // The host's loop notices the failure (its health check), as the controller's pump does.
    expect(await dp.runUntil(NULL_PORT, NULL_PORT, () => memory.locate(blockOf(b)) === undefined, 10_000)).toBe(true);
    expect(b.state).not.toBe('active');
    expect(memory.locate(blockOf(c))).toBeDefined();
  }, 60_000);
});
