import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { firewall } from '../../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../../functions/load-balancer/pipeline.ts';
import { nat } from '../../../functions/nat/pipeline.ts';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import type { CompiledPipeline, PipelineInstance, PipelineModule } from '../../../src/pipeline/compiled-pipeline.ts';
import { createFusedPipeline } from '../../../src/pipeline/fused-pipeline.ts';
import { importPipelineModule } from '../../../src/pipeline/load-pipeline.ts';
import { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { PacketTracer } from '../../../src/trace/packet-tracer.ts';
import { TRACE_AREA_BYTES, TraceWord } from '../../../src/trace/trace-layout.ts';
import { readTraceRecords, type TracePipelineShape } from '../../../src/trace/trace-reader.ts';
import { formatFunctionTrace, type FunctionTraceView } from '../../../src/trace/trace-format.ts';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';

const webEdge = parseYaml(readFileSync(new URL('../../../topologies/web-edge.yaml', import.meta.url), 'utf8')) as { spec: { functions: Array<{ name: string; config: unknown }> } };
const configOf = (name: string) => webEdge.spec.functions.find((f) => f.name === name)!.config;
const ip = (s: string) => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);

const SESSION = 7;

function shape(c: CompiledPipeline): TracePipelineShape {
  return { elements: c.trace.elements.length, noteElements: c.trace.notes.map((n) => n.element), counters: c.counters.length };
}

interface Setup {
  compiled: CompiledPipeline[];
  pool: PacketPool;
  tracer: PacketTracer;
  area: Int32Array;
}

async function setup(): Promise<Setup & { modules: PipelineModule[] }> {
  const compiled = [compilePipeline(firewall, configOf('fw')), compilePipeline(loadBalancer, configOf('lb')), compilePipeline(nat, configOf('nat'))];
  const modules = await Promise.all(compiled.map(importPipelineModule));
  const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
  const area = new Int32Array(new SharedArrayBuffer(TRACE_AREA_BYTES));
  return { compiled, modules, pool, area, tracer: new PacketTracer(area, pool.meta.trace) };
}

function frameInPool(pool: PacketPool, frame: Uint8Array, mark: number): number {
  const id = pool.alloc();
  pool.copyIn(id, frame, 0, frame.length);
  pool.meta.trace[id] = mark;
  return id;
}

const syn = buildFrame({ proto: 6, srcIp: ip('198.18.1.5'), dstIp: ip('198.18.2.100'), srcPort: 40000, dstPort: 80, tcpFlags: 0x02, minFrameLength: 60 });
const ssh = buildFrame({ proto: 6, srcIp: ip('198.18.1.6'), dstIp: ip('198.18.2.100'), srcPort: 40001, dstPort: 22, tcpFlags: 0x02, minFrameLength: 60 });
const other = buildFrame({ proto: 6, srcIp: ip('198.18.1.7'), dstIp: ip('198.18.2.100'), srcPort: 40002, dstPort: 80, tcpFlags: 0x02, minFrameLength: 60 });

function runOne(p: PipelineInstance, s: Setup, ids: number[], traced: boolean): PacketBatch {
  const batch = new PacketBatch(s.pool.view);
  for (const id of ids) batch.push(id, s.pool.dataOffset(id), s.pool.meta.length[id], 0);
  if (traced) p.processBatchTraced!(batch, 1000, s.tracer);
  else p.processBatch(batch, 1000);
  for (let i = 0; i < batch.count; i++) {
    s.pool.meta.dataOff[batch.ids[i]] = batch.offsets[i] - s.pool.bufferOffset(batch.ids[i]);
    s.pool.meta.length[batch.ids[i]] = batch.lengths[i];
  }
  return batch;
}

function views(s: Setup, shapes: TracePipelineShape[], names: string[], issued: number): FunctionTraceView[] {
  const got = readTraceRecords(s.area, SESSION, issued, shapes);
  expect(got.rejected).toBe(0);
  return got.records.map((r) =>
    formatFunctionTrace(r, { function: names[r.part], instance: `i-${r.part}`, info: s.compiled[r.part].trace, counters: s.compiled[r.part].counters.map((c) => c.name) }),
  );
}

describe('the tracing variant of a compiled pipeline', () => {
  it('records a SYN through fw → lb → nat, each function in its own instance: the firewall rule, the LB backend, the NAT mapping', async () => {
    const s = await setup();
    const names = ['fw', 'lb', 'nat'];
    const id = frameInPool(s.pool, syn, (SESSION << 16) | 1);
    const untraced = frameInPool(s.pool, other, (SESSION << 16) | 0);
    const got: FunctionTraceView[] = [];
    for (let k = 0; k < 3; k++) {
      const area = new Int32Array(new SharedArrayBuffer(TRACE_AREA_BYTES));
      area[TraceWord.SESSION] = SESSION;
      const one: Setup = { ...s, compiled: [s.compiled[k]], area, tracer: new PacketTracer(area, s.pool.meta.trace) };
      const p = s.modules[k].createPipeline({ counters: new Float64Array(s.compiled[k].counters.length) });
      const b = runOne(p, one, [id, untraced], true);
      expect([...b.verdicts.subarray(0, 2)]).toEqual([1, 1]);
      const v = views(one, [shape(s.compiled[k])], [names[k]], 1);
      expect(v).toHaveLength(1);
      got.push(v[0]);
    }
    expect(got[0].steps[1].notes).toEqual(['rule 0 (web): allow']);
    expect(got[1].packet).toBe('tcp 198.18.1.5:40000 > 198.18.2.100:80 [S] ttl 64 len 60');
    const lbStep = got[1].steps[got[1].steps.length - 1];
    expect(lbStep.notes[1]).toMatch(/^backend 198\.18\.3\.1[123]:8080\/tcp of service web$/);
    expect(got[2].packet).toMatch(/^tcp 198\.18\.1\.5:40000 > 198\.18\.3\.1[123]:8080 \[S\]/);
    expect(got[2].steps[got[2].steps.length - 1].rewrites[0]).toBe('ip.src 198.18.1.5 -> 198.18.3.1');
  });

  it('records each function of a fused chain under its part, and ends the record at a drop', async () => {
    const s = await setup();
    const counters = new Float64Array(s.compiled.reduce((n, c) => n + c.counters.length, 0));
    const fused = createFusedPipeline(s.modules, { counters });
    s.area[TraceWord.SESSION] = SESSION;
    const a = frameInPool(s.pool, syn, (SESSION << 16) | 1);
    const b = frameInPool(s.pool, ssh, (SESSION << 16) | 2);
    const c = frameInPool(s.pool, other, ((SESSION + 1) << 16) | 3); // an older session's mark: not traced
    const batch = runOne(fused, s, [a, b, c], true);
    expect([...batch.verdicts.subarray(0, 3)]).toEqual([1, 0, 1]); // ssh answered with a RST on the inside
    const got = views(s, s.compiled.map(shape), ['fw', 'lb', 'nat'], 2);
    const bySeq = (seq: number) => got.filter((v) => v.packet.includes(seq === 1 ? ':40000' : ':40001'));
    const first = bySeq(1);
    expect(first.map((f) => f.function)).toEqual(['fw', 'lb', 'nat']);
    expect(first[0]).toMatchObject({ arrived: 'inside', packet: 'tcp 198.18.1.5:40000 > 198.18.2.100:80 [S] ttl 64 len 60' });
    expect(first[0].steps.map((st) => st.element)).toEqual(['parse-frame', 'firewall']);
    expect(first[0].steps[1]).toMatchObject({ verdict: 'outside', dropReason: '', rewrites: [], notes: ['rule 0 (web): allow'] });
    const lbStep = first[1].steps.find((st) => st.element === 'lb-maglev')!;
    expect(lbStep.notes[0]).toBe('connection new, balanced by Maglev');
    expect(lbStep.notes[1]).toMatch(/^backend 198\.18\.3\.1[123]:8080\/tcp of service web$/);
    const backend = /198\.18\.3\.(1[123])/.exec(lbStep.notes[1])![0];
    expect(lbStep.rewrites).toEqual([`ip.dst 198.18.2.100 -> ${backend}`, 'tcp.dport 80 -> 8080']);
    const natStep = first[2].steps[first[2].steps.length - 1];
    expect(natStep.verdict).toBe('outside');
    expect(natStep.rewrites[0]).toBe('ip.src 198.18.1.5 -> 198.18.3.1');
    expect(natStep.rewrites[1]).toMatch(/^tcp\.sport 40000 -> \d+$/);

    const second = bySeq(2);
    expect(second.map((f) => f.function)).toEqual(['fw']);
    expect(second[0].steps[1]).toMatchObject({ element: 'firewall', verdict: 'inside', notes: ['rule 1 (ssh): reject'] });
    expect(second[0].steps[1].rewrites).toContain('tcp.flags 0x2 -> 0x14');
  });

  it('runs nothing of tracing in the normal variant, and the normal module holds no hook', async () => {
    const s = await setup();
    for (const c of s.compiled) {
      const normal = c.source.slice(c.source.indexOf('function processBatch('), c.source.indexOf('function processBatchTraced('));
      expect(normal).not.toMatch(/tr\.|tOn|@trace/);
      expect(c.source).toMatch(/function processBatchTraced\(batch, now, tr\)/);
    }
    const [fw] = s.modules.map((m, i) => m.createPipeline({ counters: new Float64Array(s.compiled[i].counters.length) }));
    s.area[TraceWord.SESSION] = SESSION;
    const id = frameInPool(s.pool, syn, (SESSION << 16) | 1);
    runOne(fw, s, [id], false);
    expect(Atomics.load(s.area, TraceWord.WRITTEN)).toBe(0);
  });

  it('counts records it has no slot for as lost, and the host rejects records that do not check out', async () => {
    const s = await setup();
    const [fw] = s.modules.map((m, i) => m.createPipeline({ counters: new Float64Array(s.compiled[i].counters.length) }));
    s.area[TraceWord.SESSION] = SESSION;
    const ids: number[] = [];
    for (let k = 1; k <= 40; k++) ids.push(frameInPool(s.pool, buildFrame({ proto: 6, srcIp: ip('198.18.1.5') + k, dstIp: ip('198.18.2.100'), srcPort: 1000 + k, dstPort: 80 }), (SESSION << 16) | k));
    runOne(fw, s, ids, true);
    expect(s.area[TraceWord.LOST]).toBe(8);
    // An instance that scribbles: a record naming an element the pipeline does not have.
    s.area[16 + 4 * 256 + 14] = 99;
    const got = readTraceRecords(s.area, SESSION, 40, [shape(s.compiled[0])]);
    expect(got.records).toHaveLength(31);
    expect(got.rejected).toBe(1);
    expect(got.lost).toBe(8);
    // Marks beyond what the host issued are refused too.
    expect(readTraceRecords(s.area, SESSION, 40, [shape(s.compiled[0])]).records).toHaveLength(0);
    s.area[TraceWord.WRITTEN] = 1_000_000;
    expect(readTraceRecords(s.area, SESSION, 40, [shape(s.compiled[0])])).toMatchObject({ records: [], rejected: 32 });
  });
});
