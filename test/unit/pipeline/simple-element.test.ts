import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { definePipeline } from '../../../src/pipeline/define-pipeline.ts';
import { use } from '../../../src/pipeline/element.ts';
import { parseFrameElement } from '../../../src/pipeline/elements/parse-frame-element.ts';
import { decrementTtlElement } from '../../../src/pipeline/elements/decrement-ttl.ts';
import { loadPipeline } from '../../../src/pipeline/load-pipeline.ts';
import { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { writeFrame } from '../../../src/traffic/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { verifyIpv4HeaderChecksum } from '../../../src/packet/checksum.ts';
import { buildIpv6Frame } from '../../../src/packet/ipv6-frame-builder.ts';

const router = definePipeline({
  name: 'router-ttl',
  description: 'parse, then decrement the TTL',
  config: z.object({}).strict(),
  elements: () => [use(parseFrameElement, {}), use(decrementTtlElement, {})],
});

describe('simple elements (decrement-ttl)', () => {
  it('applies the action across the batch: TTL down by one with a valid checksum, TTL 1 dropped as ttl_exceeded', async () => {
    const compiled = compilePipeline(router, {});
    expect(compiled.source).toContain('createDecrementTtl');
    const counters = new Float64Array(compiled.counters.length);
    const p = await loadPipeline(compiled, { counters });
    const mem = new DataView(new ArrayBuffer(4 * 2048));
    const batch = new PacketBatch(mem);
    [64, 2, 1].forEach((ttl, i) => {
      const off = i * 2048 + 128;
      batch.push(i, off, writeFrame(mem, off, { proto: IpProto.UDP, srcIp: 0xc6120001, dstIp: 0xc6120002, ttl }), Side.INSIDE);
    });
    p.processBatch(batch, 0);
    expect([...batch.verdicts.subarray(0, 3)]).toEqual([Verdict.OUTSIDE, Verdict.OUTSIDE, Verdict.DROP]);
    expect(mem.getUint8(128 + 14 + 8)).toBe(63);
    expect(mem.getUint8(2048 + 128 + 14 + 8)).toBe(1);
    expect(verifyIpv4HeaderChecksum(mem, 128 + 14)).toBe(true);
    expect(verifyIpv4HeaderChecksum(mem, 2048 + 128 + 14)).toBe(true);
    expect(compiled.counters[batch.reasons[2]].name).toBe('ttl_exceeded');
    expect(counters[compiled.counters.findIndex((c) => c.name === 'ttl_exceeded')]).toBe(1);
  });

  it('decrements the IPv6 hop limit the same way (no checksum to fix), hop limit 1 dropped as ttl_exceeded', async () => {
    const compiled = compilePipeline(router, {});
    const counters = new Float64Array(compiled.counters.length);
    const p = await loadPipeline(compiled, { counters });
    const mem = new DataView(new ArrayBuffer(3 * 2048));
    const batch = new PacketBatch(mem);
    [255, 1].forEach((hopLimit, i) => {
      const off = i * 2048 + 128;
      batch.push(i, off, buildIpv6Frame(mem, off, { proto: IpProto.TCP, hopLimit, payloadLength: 4 }), Side.OUTSIDE);
    });
    p.processBatch(batch, 0);
    expect([...batch.verdicts.subarray(0, 2)]).toEqual([Verdict.INSIDE, Verdict.DROP]);
    expect(mem.getUint8(128 + 14 + 7)).toBe(254);
    expect(compiled.counters[batch.reasons[1]].name).toBe('ttl_exceeded');
  });
});
