import { describe, expect, it } from 'vitest';
import type { ChainEnd, ChainEndContext } from '../../../src/controller/chain-ends.ts';
import { generatorPortType } from '../../../src/ports/generator.ts';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import type { GeneratorPortSpec } from '../../../src/spec/port-spec.ts';
import { SPEC_LIMITS } from '../../../src/spec/spec-limits.ts';
import { lagWithinBudget } from '../../support/lag-probe.ts';

const context = { chain: 'c', side: 'inside' } as ChainEndContext;
const generator = (flows: number, packetSize: number, protocol: 'tcp' | 'udp' = 'udp'): GeneratorPortSpec => ({
  type: 'generator',
  flows,
  packetSize,
  protocol,
  clients: '198.18.0.0/15',
  service: '198.18.2.100:80',
});

describe('generator end limits (issue 13 item 2)', () => {
  it('refuses 16777216 flows × 1514 B before building a frame', async () => {
    const started = performance.now();
    await expect(generatorPortType.open(generator(16_777_216, 1514), context)).rejects.toThrow(InvalidArgumentError);
    await expect(generatorPortType.open(generator(16_777_216, 1514), context)).rejects.toThrow('limit generatorFrameBytes');
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('builds the largest allowed generator in slices: every flow sent, event-loop p99 lag within 50 ms', async () => {
    const flows = Math.floor(SPEC_LIMITS.generatorFrameBytes.value / 1514);
    let end: ChainEnd | undefined;
    const { lag, idle, budgetMs, attempt } = await lagWithinBudget(async () => {
      end = await generatorPortType.open(generator(flows, 1514), context);
    });
    console.log(`generator ${flows} flows × 1514 B: lag p99 ${lag.p99Ms.toFixed(1)} ms, max ${lag.maxMs.toFixed(1)} ms; idle p99 ${idle.p99Ms.toFixed(1)} ms; budget ${budgetMs.toFixed(1)} ms (attempt ${attempt})`);
    expect(lag.p99Ms).toBeLessThan(budgetMs);
    const pool = PacketPool.create({ bufferCount: 256 });
    const ids = new Uint32Array(256);
    const frame = new Uint8Array(2048);
    const sources = new Set<number>();
    for (let sent = 0; sent < flows; ) {
      const n = end!.port.fill(pool, ids, 256);
      for (let i = 0; i < n; i++) {
        expect(pool.copyOut(ids[i], frame, 0)).toBe(1514);
        // IPv4 source address and UDP source port: one pair per flow.
        sources.add(((frame[26] << 24) | (frame[27] << 16) | (frame[28] << 8) | frame[29]) * 65536 + ((frame[34] << 8) | frame[35]));
      }
      pool.freeBatch(ids, n);
      sent += n;
    }
    expect(sources.size).toBe(flows);
    await end!.close();
  }, 60_000);
});
