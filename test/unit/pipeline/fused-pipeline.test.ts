import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { importPipelineModule } from '../../../src/pipeline/load-pipeline.ts';
import type { PipelineInstance, PipelineModule } from '../../../src/pipeline/compiled-pipeline.ts';
import { BuiltinCounter } from '../../../src/pipeline/compiled-pipeline.ts';
import { fuseModules } from '../../../src/pipeline/fuse-chain.ts';
import { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { ipv4Dst, ipv4Src, IpProto, parseIpv4 } from '../../../src/packet/ipv4.ts';
import { tcpDstPort, tcpSrcPort, TcpFlag } from '../../../src/packet/tcp.ts';
import { writeFrame } from '../../../src/traffic/frame-builder.ts';
import { firewall } from '../../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../../functions/load-balancer/pipeline.ts';
import { nat } from '../../../functions/nat/pipeline.ts';
import { Rng } from '../../support/rng.ts';

const ip = (s: string): number => parseIpv4(s) as number;
const VIP = ip('198.18.2.10');
const NAT_ADDR = ip('198.18.3.1');
const STRIDE = 2048;
const HEAD = 128;

const PARTS: ReadonlyArray<{ name: string; def: Parameters<typeof compilePipeline>[0]; config: unknown }> = [
  { name: 'fw', def: firewall, config: { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 }, { name: 'telnet', action: 'reject', side: 'inside', proto: 'tcp', dport: 23 }] } },
  { name: 'lb', def: loadBalancer, config: { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: ['198.18.3.11', '198.18.3.12', '198.18.3.13'].map((address) => ({ address, port: 8080 })) }] } },
  { name: 'nat', def: nat, config: { snat: { addresses: '198.18.3.1/32', ports: '20000-20999' } } },
];

let modules: PipelineModule[];
let randomSpy: ReturnType<typeof vi.spyOn> | undefined;

/** Math.random as a fixed sequence from here on (the functions seed their hash tables with it when created). */
function seedRandom(): void {
  randomSpy?.mockRestore();
  let s = 12345;
  randomSpy = vi.spyOn(Math, 'random').mockImplementation(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 0x1_0000_0000;
  });
}

beforeEach(async () => {
  modules ??= await Promise.all(PARTS.map((p) => importPipelineModule(compilePipeline(p.def, p.config))));
});
afterEach(() => {
  randomSpy?.mockRestore();
  randomSpy = undefined;
});

/** The oracle: each function on its own, one packet at a time, a verdict moving the packet to the next or previous function. */
class OneAtATime {
  readonly counters: Float64Array[];
  private readonly pipelines: PipelineInstance[];
  private readonly batch: PacketBatch;
  constructor(view: DataView) {
    seedRandom();
    this.counters = modules.map((m) => new Float64Array(m.COUNTERS.length));
    this.pipelines = modules.map((m, i) => m.createPipeline({ counters: this.counters[i] }));
    this.batch = new PacketBatch(view);
  }

  run(offset: number, length: number, from: number, now: number): { verdict: number; offset: number; length: number } {
    let k = from === Side.INSIDE ? 0 : this.pipelines.length - 1;
    let side = from;
    for (;;) {
      const b = this.batch;
      b.clear();
      b.push(0, offset, length, side);
      this.pipelines[k].processBatch(b, now);
      offset = b.offsets[0];
      length = b.lengths[0];
      const v = b.verdicts[0];
      if (v === Verdict.DROP) return { verdict: v, offset, length };
      const next = v === Verdict.OUTSIDE ? k + 1 : k - 1;
      if (next < 0 || next >= this.pipelines.length) return { verdict: v, offset, length };
      k = next;
      side = v === Verdict.OUTSIDE ? Side.INSIDE : Side.OUTSIDE;
    }
  }
}

interface Pkt {
  from: number;
  write: (v: DataView, off: number) => number;
}

/** Runs the same packets through the oracle (one at a time) and the fused pipeline (as one batch); returns both outcomes. */
function both(oracle: OneAtATime, fused: PipelineInstance, oView: DataView, fView: DataView, batch: PacketBatch, pkts: Pkt[], now: number) {
  batch.clear();
  const expected = pkts.map((p, i) => {
    const len = p.write(oView, i * STRIDE + HEAD);
    p.write(fView, i * STRIDE + HEAD);
    batch.push(i, i * STRIDE + HEAD, len, p.from);
    const r = oracle.run(i * STRIDE + HEAD, len, p.from, now);
    return { verdict: r.verdict, bytes: r.verdict === Verdict.DROP ? '' : Buffer.from(oView.buffer, r.offset, r.length).toString('hex') };
  });
  fused.processBatch(batch, now);
  const actual = pkts.map((_, i) => ({
    verdict: batch.verdicts[i],
    bytes: batch.verdicts[i] === Verdict.DROP ? '' : Buffer.from(fView.buffer, batch.offsets[i], batch.lengths[i]).toString('hex'),
  }));
  return { expected, actual };
}

describe('fused pipeline: the chain firewall → load balancer → NAT run to completion in one batch loop', () => {
  it('gives every packet the verdict and bytes, and every function the counters, that the functions give one packet at a time (random flows, both ways)', () => {
    const oView = new DataView(new ArrayBuffer(256 * STRIDE));
    const fView = new DataView(new ArrayBuffer(256 * STRIDE));
    const oracle = new OneAtATime(oView);
    seedRandom();
    const fusedModule = fuseModules(modules, PARTS.map((p) => p.name));
    const counters = new Float64Array(fusedModule.COUNTERS.length);
    const fused = fusedModule.createPipeline({ counters });
    const batch = new PacketBatch(fView);
    const rng = new Rng(7);
    let now = 1000;
    const replies: Pkt[] = [];
    let forwarded = 0;
    for (let round = 0; round < 40; round++) {
      // Client packets: new flows to the web service, some to refused or rejected ports, some broken.
      const pkts: Pkt[] = [];
      const n = 1 + rng.int(200);
      for (let i = 0; i < n; i++) {
        const src = ip('198.18.1.0') + 1 + rng.int(200);
        const sport = 30000 + rng.int(20000);
        const pick = rng.int(10);
        const dport = pick === 0 ? 23 : pick === 1 ? 22 : 80;
        const truncate = pick === 2;
        pkts.push({
          from: Side.INSIDE,
          write: (v, off) => {
            const len = writeFrame(v, off, { proto: IpProto.TCP, srcIp: src, dstIp: VIP, srcPort: sport, dstPort: dport, tcpFlags: TcpFlag.SYN, seq: 100 });
            return truncate ? 30 : len;
          },
        });
      }
      const { expected, actual } = both(oracle, fused, oView, fView, batch, pkts, now);
      expect(actual).toEqual(expected);
      // Server answers to what got through (in a later batch, as a server would).
      const L = new FrameLayout();
      for (let i = 0; i < n; i++) {
        if (batch.verdicts[i] !== Verdict.OUTSIDE) continue;
        forwarded++;
        expect(parseFrame(fView, batch.offsets[i], batch.lengths[i], L, 0)).toBe(0);
        const backend = ipv4Dst(fView, L.l3Offset);
        expect(ipv4Src(fView, L.l3Offset)).toBe(NAT_ADDR);
        const natPort = tcpSrcPort(fView, L.l4Offset);
        const bport = tcpDstPort(fView, L.l4Offset);
        replies.push({ from: Side.OUTSIDE, write: (v, off) => writeFrame(v, off, { proto: IpProto.TCP, srcIp: backend, dstIp: NAT_ADDR, srcPort: bport, dstPort: natPort, tcpFlags: TcpFlag.SYN | TcpFlag.ACK, seq: 900, ack: 101 }) });
      }
      if (replies.length > 0 && rng.int(2) === 0) {
        const chunk = replies.splice(0, Math.min(replies.length, 256));
        const r = both(oracle, fused, oView, fView, batch, chunk, now);
        expect(r.actual).toEqual(r.expected);
        expect(r.actual.filter((a) => a.verdict === Verdict.INSIDE).length).toBe(chunk.length);
      }
      now += 10;
    }
    // 1000 NAT ports: the later rounds also compare the exhaustion path.
    expect(forwarded).toBe(1000);
    let first = 0;
    for (const [k, m] of modules.entries()) {
      expect(Array.from(counters.subarray(first, first + m.COUNTERS.length)), PARTS[k].name).toEqual(Array.from(oracle.counters[k]));
      first += m.COUNTERS.length;
    }
    // The firewall rejected telnet with an answer toward the inside, and dropped ssh.
    const fw = oracle.counters[0];
    expect(fw[BuiltinCounter.TX_INSIDE_PACKETS]).toBeGreaterThan(0);
    expect(fw[BuiltinCounter.DROPPED_PACKETS]).toBeGreaterThan(0);
  });

  it('names each function in its counters and keeps them in its own block', () => {
    const fusedModule = fuseModules(modules, ['fw', 'lb', 'nat']);
    expect(fusedModule.FUNCTION_NAME).toBe('fused:fw+lb+nat');
    expect(fusedModule.COUNTERS.length).toBe(modules.reduce((s, m) => s + m.COUNTERS.length, 0));
    expect(fusedModule.COUNTERS[0]).toMatchObject({ name: 'rx_inside_packets', element: 'fw/pipeline' });
    expect(fusedModule.COUNTERS[modules[0].COUNTERS.length]).toMatchObject({ name: 'rx_inside_packets', element: 'lb/pipeline' });
    expect(() => fusedModule.createPipeline({ counters: new Float64Array(3) })).toThrow(/needs \d+ counters/);
  });

  it('drops a packet that two functions keep sending back to each other, and counts it', () => {
    const bounce = (verdict: number): PipelineModule => ({
      COUNTERS: Array.from({ length: 9 }, (_, i) => ({ name: `c${i}`, element: 'pipeline', drop: false, help: '' })),
      createPipeline: () => ({
        processBatch(b: PacketBatch) {
          for (let i = 0; i < b.count; i++) b.verdicts[i] = verdict;
        },
      }),
    });
    // Part 0 always sends outside (to part 1), part 1 always back inside (to part 0).
    const m = fuseModules([bounce(Verdict.OUTSIDE), bounce(Verdict.INSIDE)], ['a', 'b']);
    const counters = new Float64Array(m.COUNTERS.length);
    const p = m.createPipeline({ counters });
    const b = new PacketBatch(new DataView(new ArrayBuffer(4096)));
    b.push(0, 0, 60, Side.INSIDE);
    b.push(1, 100, 60, Side.OUTSIDE);
    p.processBatch(b, 0);
    expect(Array.from(b.verdicts.subarray(0, 2))).toEqual([Verdict.DROP, Verdict.DROP]);
    expect(counters[BuiltinCounter.DROPPED_PACKETS] + counters[9 + BuiltinCounter.DROPPED_PACKETS]).toBe(2);
  });
  it('runs a batch from one side through the parts in place while every packet moves on, and routes the rest as the sweeps do', () => {
    // Each part records the ids and sides it saw; part 1 sends ids ≡ 0 (mod 4) back inside
    // and drops ids ≡ 1 (mod 4) when they come from the inside, forwards everything else.
    const seen: string[] = [];
    const part = (name: string, rule: (id: number, side: number) => number): PipelineModule => ({
      COUNTERS: Array.from({ length: 9 }, (_, i) => ({ name: `c${i}`, element: 'pipeline', drop: false, help: '' })),
      createPipeline: () => ({
        processBatch(b: PacketBatch) {
          seen.push(`${name}:${Array.from(b.ids.subarray(0, b.count), (id, i) => `${id}${b.sides[i] === Side.INSIDE ? 'i' : 'o'}`).join(',')}`);
          for (let i = 0; i < b.count; i++) {
            b.verdicts[i] = rule(b.ids[i], b.sides[i]);
            b.lengths[i] += 1;
          }
        },
      }),
    });
    const pass = (_id: number, side: number) => side ^ 1;
    const middle = (id: number, side: number) => (side === Side.INSIDE && id % 4 === 0 ? Verdict.INSIDE : side === Side.INSIDE && id % 4 === 1 ? Verdict.DROP : side ^ 1);
    const m = fuseModules([part('a', pass), part('b', middle), part('c', pass)], ['a', 'b', 'c']);
    const p = m.createPipeline({ counters: new Float64Array(m.COUNTERS.length) });
    const b = new PacketBatch(new DataView(new ArrayBuffer(4096)));
    // All moving on: each part once, over the whole batch.
    for (const id of [2, 3, 6]) b.push(id, 0, 60, Side.INSIDE);
    p.processBatch(b, 0);
    expect(seen).toEqual(['a:2i,3i,6i', 'b:2i,3i,6i', 'c:2i,3i,6i']);
    expect(Array.from(b.verdicts.subarray(0, 3))).toEqual([Verdict.OUTSIDE, Verdict.OUTSIDE, Verdict.OUTSIDE]);
    expect(Array.from(b.lengths.subarray(0, 3))).toEqual([63, 63, 63]);
    // From the outside, backwards through c, b, a.
    seen.length = 0;
    b.clear();
    for (const id of [4, 5]) b.push(id, 0, 60, Side.OUTSIDE);
    p.processBatch(b, 0);
    expect(seen).toEqual(['c:4o,5o', 'b:4o,5o', 'a:4o,5o']);
    expect(Array.from(b.verdicts.subarray(0, 2))).toEqual([Verdict.INSIDE, Verdict.INSIDE]);
    // A middle part sends one back and drops one: the rest of the forward sweep, then back.
    seen.length = 0;
    b.clear();
    for (const id of [8, 9, 10]) b.push(id, 0, 60, Side.INSIDE);
    p.processBatch(b, 0);
    expect(seen).toEqual(['a:8i,9i,10i', 'b:8i,9i,10i', 'c:10i', 'a:8o']);
    expect(Array.from(b.verdicts.subarray(0, 3))).toEqual([Verdict.INSIDE, Verdict.DROP, Verdict.OUTSIDE]);
    expect(Array.from(b.lengths.subarray(0, 3))).toEqual([63, 62, 63]);
  });
});
