import { beforeAll, describe, expect, it } from 'vitest';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { importPipelineModule } from '../../../src/pipeline/load-pipeline.ts';
import { BuiltinCounter, STATE_HEADER_BYTES, type PipelineInstance, type PipelineModule } from '../../../src/pipeline/compiled-pipeline.ts';
import { fuseModules } from '../../../src/pipeline/fuse-chain.ts';
import { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { IpProto, parseIpv4 } from '../../../src/packet/ipv4.ts';
import { TcpFlag } from '../../../src/packet/tcp.ts';
import { writeFrame } from '../../../src/traffic/frame-builder.ts';
import { firewall } from '../../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../../functions/load-balancer/pipeline.ts';
import { nat } from '../../../functions/nat/pipeline.ts';
import { Rng } from '../../support/rng.ts';

// A successor instance takes over the connections of a failed one: fw → lb → nat fused (so one
// attachState covers every element that keeps state), flows opened on instance A, then A's
// state handed to a fresh instance B on another clock, which must carry the established flows
// with the same backend and the same NAT port, and must refuse what is corrupt.

const ip = (s: string): number => parseIpv4(s) as number;
const STRIDE = 2048;
const FLOWS = 200;

const PARTS: ReadonlyArray<{ name: string; def: Parameters<typeof compilePipeline>[0]; config: unknown }> = [
  { name: 'fw', def: firewall, config: { defaultPolicy: 'drop', stateful: true, conntrack: { capacity: 1024 }, rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 }] } },
  { name: 'lb', def: loadBalancer, config: { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: ['198.18.3.11', '198.18.3.12', '198.18.3.13'].map((address) => ({ address, port: 8080 })) }] } },
  { name: 'nat', def: nat, config: { snat: { addresses: '198.18.3.1/32', ports: '20000-20999' }, capacity: 1024 } },
];

let chain: PipelineModule;
/** Where each part's state (and its clock header) starts in the fused state. */
let partStarts: number[];

beforeAll(async () => {
  const modules = await Promise.all(PARTS.map((p) => importPipelineModule(compilePipeline(p.def, p.config))));
  partStarts = modules.map((_, k) => modules.slice(0, k).reduce((s, m) => s + (m.STATE_BYTES ?? 0), 0));
  chain = fuseModules(modules, PARTS.map((p) => p.name));
});

interface Instance {
  pipeline: PipelineInstance;
  counters: Float64Array;
  state: Uint8Array;
}

function boot(previous: Uint8Array | undefined, now: number): Instance & { took: { adopted: number; rejected: number } } {
  const counters = new Float64Array(chain.COUNTERS.length);
  const pipeline = chain.createPipeline({ counters });
  const state = new Uint8Array(new SharedArrayBuffer(chain.STATE_BYTES!));
  const took = pipeline.attachState!(state, previous, now);
  return { pipeline, counters, state, took };
}

const mem = new DataView(new ArrayBuffer(256 * STRIDE));
const layout = new FrameLayout();

/** Sends one frame per flow; returns, per flow, the verdict and the (src, sport, dst, dport) it left with. */
function send(inst: Instance, side: number, frames: ReadonlyArray<Parameters<typeof writeFrame>[2]>, now: number): Array<{ verdict: number; src: number; sport: number; dst: number; dport: number }> {
  const batch = new PacketBatch(mem);
  frames.forEach((f, i) => batch.push(i, i * STRIDE, writeFrame(mem, i * STRIDE, f), side));
  inst.pipeline.processBatch(batch, now);
  return frames.map((_, i) => {
    expect(parseFrame(mem, batch.offsets[i], batch.lengths[i], layout)).toBe(0);
    return {
      verdict: batch.verdicts[i],
      src: mem.getUint32(layout.l3Offset + 12),
      dst: mem.getUint32(layout.l3Offset + 16),
      sport: mem.getUint16(layout.l4Offset),
      dport: mem.getUint16(layout.l4Offset + 2),
    };
  });
}

const client = (i: number) => ({ addr: ip('198.18.1.1') + (i % 50), port: 10000 + i });

/** Opens FLOWS connections through `inst` (SYN, SYN-ACK, ACK); returns where each went. */
function open(inst: Instance, now: number) {
  const out = send(inst, Side.INSIDE, Array.from({ length: FLOWS }, (_, i) => ({ proto: IpProto.TCP, srcIp: client(i).addr, dstIp: ip('198.18.2.10'), srcPort: client(i).port, dstPort: 80, tcpFlags: TcpFlag.SYN })), now);
  expect(out.every((o) => o.verdict === Verdict.OUTSIDE)).toBe(true);
  const back = send(inst, Side.OUTSIDE, out.map((o) => ({ proto: IpProto.TCP, srcIp: o.dst, dstIp: o.src, srcPort: o.dport, dstPort: o.sport, tcpFlags: TcpFlag.SYN | TcpFlag.ACK })), now);
  expect(back.every((b) => b.verdict === Verdict.INSIDE)).toBe(true);
  expect(send(inst, Side.INSIDE, Array.from({ length: FLOWS }, (_, i) => established(i)), now).every((o) => o.verdict === Verdict.OUTSIDE)).toBe(true);
  return out;
}

const established = (i: number) => ({ proto: IpProto.TCP, srcIp: client(i).addr, dstIp: ip('198.18.2.10'), srcPort: client(i).port, dstPort: 80, tcpFlags: TcpFlag.ACK, payloadLength: 10 });

describe('state takeover (PipelineInstance.attachState)', () => {
  it('a fused fw → lb → nat keeps state in the host memory it was given, after a header holding its clock', () => {
    expect(chain.STATE_BYTES).toBeGreaterThan(STATE_HEADER_BYTES);
    const a = boot(undefined, 1000);
    expect(a.took).toEqual({ adopted: 0, rejected: 0 });
    open(a, 1500);
    expect(new Float64Array(a.state.buffer, 0, 1)[0]).toBe(1500);
  });

  it('a successor on another clock carries every established flow with the same backend and NAT port', () => {
    const a = boot(undefined, 0);
    const paths = open(a, 10);
    // B's clock is unrelated to A's (another process): its expiry times move by the shift.
    const b = boot(a.state, 5_000_000);
    expect(b.took).toEqual({ adopted: FLOWS * 3, rejected: 0 });
    const out = send(b, Side.INSIDE, Array.from({ length: FLOWS }, (_, i) => established(i)), 5_000_010);
    out.forEach((o, i) => {
      expect(o.verdict).toBe(Verdict.OUTSIDE);
      expect([o.src, o.sport, o.dst, o.dport]).toEqual([paths[i].src, paths[i].sport, paths[i].dst, paths[i].dport]);
    });
    const replies = send(b, Side.OUTSIDE, out.map((o) => ({ proto: IpProto.TCP, srcIp: o.dst, dstIp: o.src, srcPort: o.dport, dstPort: o.sport, tcpFlags: TcpFlag.ACK, payloadLength: 20 })), 5_000_020);
    replies.forEach((r, i) => {
      expect(r.verdict).toBe(Verdict.INSIDE);
      expect([r.src, r.sport, r.dst, r.dport]).toEqual([ip('198.18.2.10'), 80, client(i).addr, client(i).port]);
    });
    expect(b.counters[BuiltinCounter.DROPPED_PACKETS]).toBe(0);
    // A new flow on B gets a NAT port no taken-over mapping holds.
    const fresh = send(b, Side.INSIDE, [{ proto: IpProto.TCP, srcIp: ip('198.18.1.200'), dstIp: ip('198.18.2.10'), srcPort: 999, dstPort: 80, tcpFlags: TcpFlag.SYN }], 5_000_030)[0];
    expect(fresh.verdict).toBe(Verdict.OUTSIDE);
    expect(paths.map((p) => p.sport)).not.toContain(fresh.sport);
  });

  it('entries that expired while nobody ran are not taken over', () => {
    const a = boot(undefined, 0);
    open(a, 0);
    // A's last batch ran 10 days after the flows' last packets (its clock in each part's header).
    for (const at of partStarts) new Float64Array(a.state.buffer, at, 1)[0] = 10 * 86_400_000;
    const b = boot(a.state, 0);
    expect(b.took.adopted).toBe(0);
    expect(b.took.rejected).toBe(FLOWS * 3);
  });

  it('a corrupt entry costs its own flow, not the others', () => {
    const a = boot(undefined, 0);
    open(a, 0);
    // Scribble over every 64-byte record word by word in a few places (the header excluded).
    const words = new Int32Array(a.state.buffer);
    const rng = new Rng(7);
    let hits = 0;
    for (let w = 16; w < words.length && hits < 40; w += 16) {
      if (words[w + 7] !== 0 && rng.int(5) === 0) {
        words[w + 7] = 0x7fff0000 + hits; // an impossible state or list
        words[w + 5] = 0x7fff0000 + hits;
        hits++;
      }
    }
    expect(hits).toBeGreaterThan(5);
    const b = boot(a.state, 0);
    expect(b.took.adopted + b.took.rejected).toBe(FLOWS * 3);
    expect(b.took.rejected).toBeGreaterThanOrEqual(hits / 2);
    expect(b.took.adopted).toBeGreaterThanOrEqual(FLOWS * 3 - hits * 2);
  });

  it('random bytes as previous state never throw and never break the successor', () => {
    const rng = new Rng(11);
    for (let round = 0; round < 5; round++) {
      const junk = new Uint8Array(new SharedArrayBuffer(chain.STATE_BYTES!));
      for (let i = 0; i < junk.length; i += 4) new DataView(junk.buffer).setUint32(i, rng.int(2) === 0 ? 0 : rng.next());
      const b = boot(junk, 0);
      expect(b.took.adopted).toBeLessThanOrEqual(3 * 1024);
      const paths = open(b, 1);
      expect(paths).toHaveLength(FLOWS);
    }
  });

  it('a previous state too short for the layout is ignored', () => {
    const b = boot(new Uint8Array(new SharedArrayBuffer(64)), 0);
    expect(b.took).toEqual({ adopted: 0, rejected: 0 });
  });
});
