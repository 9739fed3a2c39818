import { vi } from 'vitest';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { importPipelineModule } from '../../../src/pipeline/load-pipeline.ts';
import type { CompiledPipeline, PipelineInstance } from '../../../src/pipeline/compiled-pipeline.ts';
import { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { Verdict } from '../../../src/pipeline/verdict.ts';
import { buildFrame, type FrameSpec } from '../../../src/traffic/frame-builder.ts';
import { parseIpv4 } from '../../../src/packet/ipv4.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { verifyIcmpChecksum, verifyIpv4HeaderChecksum, verifyTcpChecksum, verifyUdpChecksum } from '../../../src/packet/checksum.ts';
import { nat } from '../../../functions/nat/pipeline.ts';

export const ip = (s: string): number => parseIpv4(s) as number;

export interface Sent {
  side: number;
  bytes: Uint8Array;
}

export interface Result {
  verdict: number;
  reason: string | null;
  bytes: Uint8Array;
  /** Where the frame now starts relative to where it was placed (NAT64 moves it). */
  moved: number;
}

const STRIDE = 2048;
/** Bytes in front of each frame (NAT64 grows frames into them). */
export const HEADROOM = 64;

export class NatHarness {
  readonly counters: Float64Array;
  private readonly mem = new ArrayBuffer(256 * STRIDE);
  private readonly batch = new PacketBatch(new DataView(this.mem));

  private constructor(readonly compiled: CompiledPipeline, readonly instance: PipelineInstance, counters: Float64Array) {
    this.counters = counters;
  }

  static async create(config: unknown, seed = 12345): Promise<NatHarness> {
    const compiled = compilePipeline(nat, config);
    const module = await importPipelineModule(compiled);
    const counters = new Float64Array(compiled.counters.length);
    let s = seed >>> 0;
    const spy = vi.spyOn(Math, 'random').mockImplementation(() => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 0x1_0000_0000;
    });
    try {
      return new NatHarness(compiled, module.createPipeline({ counters }), counters);
    } finally {
      spy.mockRestore();
    }
  }

  run(packets: readonly Sent[], now: number): Result[] {
    const b = this.batch;
    const bytes = new Uint8Array(this.mem);
    b.clear();
    packets.forEach((p, i) => {
      bytes.set(p.bytes, i * STRIDE + HEADROOM);
      b.push(i, i * STRIDE + HEADROOM, p.bytes.length, p.side);
    });
    this.instance.processBatch(b, now);
    return packets.map((_, i) => ({
      verdict: b.verdicts[i],
      reason: b.verdicts[i] === Verdict.DROP ? this.compiled.counters[b.reasons[i]].name : null,
      bytes: bytes.slice(b.offsets[i], b.offsets[i] + b.lengths[i]),
      moved: b.offsets[i] - (i * STRIDE + HEADROOM),
    }));
  }

  one(side: number, spec: FrameSpec | Uint8Array, now: number): Result {
    return this.run([{ side, bytes: spec instanceof Uint8Array ? spec : buildFrame(spec) }], now)[0];
  }

  counter(name: string): number {
    const slot = this.compiled.counters.findIndex((c) => c.name === name);
    if (slot < 0) throw new Error(`no counter ${name}`);
    return this.counters[slot];
  }
}

/** Parses and verifies every checksum of a frame by a full recompute. */
export function checksumsValid(frame: Uint8Array): boolean {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const L = new FrameLayout();
  if (parseFrame(view, 0, frame.length, L) !== 0) return false;
  if (!verifyIpv4HeaderChecksum(view, L.l3Offset)) return false;
  if (L.ipProto === 6) return verifyTcpChecksum(view, L.l3Offset, L.l4Offset, L.l4Length);
  if (L.ipProto === 17) return verifyUdpChecksum(view, L.l3Offset, L.l4Offset, L.l4Length);
  if (L.ipProto === 1) return verifyIcmpChecksum(view, L.l4Offset, L.l4Length);
  return true;
}

export function srcPortOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset).getUint16(34);
}

export function srcAddrOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset).getUint32(26);
}

export function icmpIdOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset).getUint16(38);
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
