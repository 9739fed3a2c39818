import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import type { CompiledPipeline, PipelineInstance } from '../../../src/pipeline/compiled-pipeline.ts';
import { loadPipeline } from '../../../src/pipeline/load-pipeline.ts';
import { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { buildFrame, type FrameSpec } from '../../../src/packet/frame-builder.ts';
import { firewall } from '../../../functions/firewall/pipeline.ts';
import type { FirewallConfigInput } from '../../../functions/firewall/config.ts';

export const SLOT = 2048;

export interface Sent {
  verdict: number;
  reason: string;
  bytes: Uint8Array;
  view: DataView;
  off: number;
  len: number;
}

export class Firewall {
  readonly counters: Float64Array;
  private readonly mem = new DataView(new ArrayBuffer(256 * SLOT));
  private readonly batch = new PacketBatch(this.mem);

  private constructor(
    readonly compiled: CompiledPipeline,
    private readonly instance: PipelineInstance,
    counters: Float64Array,
  ) {
    this.counters = counters;
  }

  static async create(config: FirewallConfigInput): Promise<Firewall> {
    const compiled = compilePipeline(firewall, config);
    const counters = new Float64Array(compiled.counters.length);
    return new Firewall(compiled, await loadPipeline(compiled, { counters }), counters);
  }

  counter(name: string): number {
    const i = this.compiled.counters.findIndex((c) => c.name === name);
    if (i < 0) throw new Error(`no counter ${name}`);
    return this.counters[i];
  }

  send(frames: ReadonlyArray<{ side: number; spec: FrameSpec } | { side: number; bytes: Uint8Array }>, now = 0): Sent[] {
    const b = this.batch;
    b.clear();
    frames.forEach((f, i) => {
      const off = i * SLOT + 64;
      let len: number;
      if ('bytes' in f) {
        new Uint8Array(this.mem.buffer, off, f.bytes.length).set(f.bytes);
        len = f.bytes.length;
      } else {
        len = buildFrame(this.mem, off, f.spec);
      }
      b.push(i, off, len, f.side);
    });
    this.instance.processBatch(b, now);
    return frames.map((_, i) => ({
      verdict: b.verdicts[i],
      reason: b.verdicts[i] === 255 ? this.compiled.counters[b.reasons[i]].name : '',
      bytes: new Uint8Array(this.mem.buffer, b.offsets[i], b.lengths[i]).slice(),
      view: this.mem,
      off: b.offsets[i],
      len: b.lengths[i],
    }));
  }

  one(side: number, spec: FrameSpec, now = 0): Sent {
    return this.send([{ side, spec }], now)[0];
  }
}

export function frameBytes(spec: FrameSpec): Uint8Array {
  const view = new DataView(new ArrayBuffer(4096));
  const n = buildFrame(view, 0, spec);
  return new Uint8Array(view.buffer, 0, n).slice();
}
