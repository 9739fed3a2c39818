import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { definePipeline } from '../../../src/pipeline/define-pipeline.ts';
import { use, type ElementDefinition } from '../../../src/pipeline/element.ts';
import { parseFrameElement } from '../../../src/pipeline/elements/parse-frame-element.ts';
import { loadPipeline } from '../../../src/pipeline/load-pipeline.ts';
import { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { BuiltinCounter } from '../../../src/pipeline/compiled-pipeline.ts';
import { ConfigValidationError, PipelineCompileError } from '../../../src/errors/catalog.ts';
import { writeFrame } from '../../../src/traffic/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';

const blockUdpPort: ElementDefinition<{ port: number }> = {
  kind: 'block-udp-port',
  description: 'drops UDP to one port',
  config: z.object({ port: z.number().int().min(0).max(65535) }).strict(),
  counters: [
    { name: 'udp_port_blocked', drop: true, help: 'blocked' },
    { name: 'udp_seen', drop: false, help: 'udp packets' },
  ],
  generate(config, ctx) {
    const dport = ctx.importName('#nfvkit/packet/udp.ts', 'udpDstPort');
    return {
      perPacket:
        `if (L.ipProto === 17) {\n  ${ctx.count('udp_seen')}\n` +
        `  if (${dport}(view, L.l4Offset) === ${config.port}) ${ctx.drop('udp_port_blocked')}\n}`,
    };
  },
};

const testPipeline = definePipeline({
  name: 'test-block',
  description: 'parse, then block one UDP port',
  config: z.object({ port: z.number() }).strict(),
  elements: (c) => [use(parseFrameElement, {}), use(blockUdpPort, { port: c.port })],
});

function batchWith(frames: Array<{ side: number; write: (v: DataView, off: number) => number }>): PacketBatch {
  const mem = new DataView(new ArrayBuffer(frames.length * 2048));
  const batch = new PacketBatch(mem);
  frames.forEach((f, i) => {
    const off = i * 2048 + 64;
    batch.push(i, off, f.write(mem, off), f.side);
  });
  return batch;
}

describe('pipeline compiler', () => {
  it('fuses the elements into one loop and gives verdicts and counters', async () => {
    const compiled = compilePipeline(testPipeline, { port: 53 });
    // One loop in the batch function, and one in its separately compiled tracing variant.
    const normal = compiled.source.slice(compiled.source.indexOf('function processBatch('), compiled.source.indexOf('function processBatchTraced('));
    expect(normal.match(/for \(let i = 0; i < n; i\+\+\)/g)).toHaveLength(1);
    expect(compiled.source.match(/for \(let i = 0; i < n; i\+\+\)/g)).toHaveLength(2);
    expect(compiled.source).toContain('GENERATED');
    const counters = new Float64Array(compiled.counters.length);
    const p = await loadPipeline(compiled, { counters });
    const batch = batchWith([
      { side: Side.INSIDE, write: (v, o) => writeFrame(v, o, { proto: IpProto.UDP, srcIp: 0xc6120001, dstIp: 0xc6120002, dstPort: 53 }) },
      { side: Side.INSIDE, write: (v, o) => writeFrame(v, o, { proto: IpProto.UDP, srcIp: 0xc6120001, dstIp: 0xc6120002, dstPort: 54 }) },
      { side: Side.OUTSIDE, write: (v, o) => writeFrame(v, o, { proto: IpProto.TCP, srcIp: 0xc6120002, dstIp: 0xc6120001 }) },
      { side: Side.INSIDE, write: (v, o) => { writeFrame(v, o, { proto: IpProto.TCP, srcIp: 1, dstIp: 2 }); v.setUint8(o + 14 + 10, 0); return 54; } },
    ]);
    p.processBatch(batch, 0);
    expect([...batch.verdicts.subarray(0, 4)]).toEqual([Verdict.DROP, Verdict.OUTSIDE, Verdict.INSIDE, Verdict.DROP]);
    const name = (slot: number) => compiled.counters[slot].name;
    expect(name(batch.reasons[0])).toBe('udp_port_blocked');
    expect(name(batch.reasons[3])).toBe('ipv4_bad_checksum');
    const byName = (n: string) => counters[compiled.counters.findIndex((c) => c.name === n)];
    expect(byName('udp_seen')).toBe(2);
    expect(byName('udp_port_blocked')).toBe(1);
    expect(counters[BuiltinCounter.RX_INSIDE_PACKETS]).toBe(3);
    expect(counters[BuiltinCounter.RX_OUTSIDE_PACKETS]).toBe(1);
    expect(counters[BuiltinCounter.TX_OUTSIDE_PACKETS]).toBe(1);
    expect(counters[BuiltinCounter.TX_INSIDE_PACKETS]).toBe(1);
    expect(counters[BuiltinCounter.DROPPED_PACKETS]).toBe(2);
  });

  it('gives the same source and hash for the same input, another for another config', () => {
    const a = compilePipeline(testPipeline, { port: 53 });
    const b = compilePipeline(testPipeline, { port: 53 });
    const c = compilePipeline(testPipeline, { port: 54 });
    expect(a.source).toBe(b.source);
    expect(a.sourceHash).toBe(b.sourceHash);
    expect(c.sourceHash).not.toBe(a.sourceHash);
  });

  it('reports every config problem with its field path', () => {
    const bad = definePipeline({
      name: 'bad',
      description: 'x',
      config: z.object({ a: z.number(), b: z.array(z.string()) }).strict(),
      elements: () => [],
    });
    try {
      compilePipeline(bad, { a: 'x', b: ['ok', 3], c: 1 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigValidationError);
      const paths = (err as ConfigValidationError).issues.map((i) => i.path).sort();
      expect(paths).toEqual(['', 'a', 'b[1]']);
    }
  });

  it('runs an element declared for one side only on packets from that side', async () => {
    const insideOnly: ElementDefinition<{ port: number }> = { ...blockUdpPort, kind: 'block-inside', ports: { input: ['inside'], output: ['outside'] } };
    const p = definePipeline({
      name: 'inside-only',
      description: 'x',
      config: z.object({}),
      elements: () => [use(parseFrameElement, {}), use(insideOnly, { port: 53 })],
    });
    const compiled = compilePipeline(p, {});
    expect(compiled.elements.map((e) => [e.name, e.ports.input.join('+')])).toEqual([['parse-frame', 'inside+outside'], ['block-inside', 'inside']]);
    const pipeline = await loadPipeline(compiled, { counters: new Float64Array(compiled.counters.length) });
    const udp53 = (v: DataView, o: number) => writeFrame(v, o, { proto: IpProto.UDP, srcIp: 0xc6120001, dstIp: 0xc6120002, dstPort: 53 });
    const batch = batchWith([{ side: Side.INSIDE, write: udp53 }, { side: Side.OUTSIDE, write: udp53 }]);
    pipeline.processBatch(batch, 0);
    expect([...batch.verdicts.subarray(0, 2)]).toEqual([Verdict.DROP, Verdict.INSIDE]);
  });

  it('refuses an element that drops under an undeclared or non-drop counter', () => {
    const sloppy: ElementDefinition<object> = { ...blockUdpPort, config: z.object({}), generate: (_c, ctx) => ({ perPacket: ctx.drop('udp_seen') }) };
    const p = definePipeline({ name: 'p', description: 'x', config: z.object({}), elements: () => [use(sloppy, {})] });
    expect(() => compilePipeline(p, {})).toThrow(PipelineCompileError);
    const undeclared: ElementDefinition<object> = { ...sloppy, generate: (_c, ctx) => ({ perPacket: ctx.drop('nope') }) };
    const q = definePipeline({ name: 'q', description: 'x', config: z.object({}), elements: () => [use(undeclared, {})] });
    expect(() => compilePipeline(q, {})).toThrow(/undeclared counter "nope"/);
  });
});
