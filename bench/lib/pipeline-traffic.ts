import { PacketBatch } from '../../src/pipeline/packet-batch.ts';
import type { PipelineInstance } from '../../src/pipeline/compiled-pipeline.ts';
import { Verdict } from '../../src/pipeline/verdict.ts';
import { writeFrame, type FrameSpec } from '../../src/traffic/frame-builder.ts';

/**
 * Shared harness of the function benchmarks (load balancer, NAT): a packet memory laid out
 * like the pool, prebuilt batches, headers restored between passes outside the timed
 * region, and a measurement loop that reports Mpps by wall clock and per CPU-second.
 *
 * @example
 * ```ts
 * const traffic = new Traffic(flows);
 * for (let k = 0; k < flows; k++) traffic.set(k, spec(k), Side.INSIDE);
 * traffic.seal();
 * const m = measure(pipeline, (pass) => traffic.load(pass % traffic.windows.length), traffic.windows.length, () => now);
 * ```
 */

/** Frame slot size in the packet memory (the pool's buffer stride). */
export const STRIDE = 2176;
export const BATCH = 32;
/** Header bytes restored between passes (Ethernet + IPv4 + TCP: 54; Ethernet + IPv6 + TCP: 74). */
export const HEADER = 96;
export const MEASURE_MS = 700;
export const REPEATS = 3;
/** Frame slots in the packet memory (≈ 17 MiB): the pool the traffic cycles through. */
export const POOL_FRAMES = 8192;

/** Frame lengths without FCS: 64 B on the wire, or the 7:4:1 IMIX of 64/594/1518. */
export const SIZES_64 = [60];
export const SIZES_IMIX = [60, 60, 60, 590, 60, 590, 60, 60, 590, 60, 590, 1514];

/** Result of `measure`. */
export interface Measured {
  /** Mpps by wall clock. */
  best: number;
  median: number;
  /** Mpps per CPU-second of this process (excludes time the shared machine gave others). */
  cpuBest: number;
  cpuMedian: number;
  packets: number;
  drops: number;
}

/** Deterministic xorshift32 for the flow order. */
export function shuffled(n: number, seed: number): Int32Array {
  const a = Int32Array.from({ length: n }, (_, i) => i);
  let x = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

/**
 * The traffic of a scenario: every frame's first HEADER bytes kept in `pristine`, and a
 * packet memory of at most POOL_FRAMES slots at STRIDE in one ArrayBuffer (a pool's worth:
 * 64k flows are not 128k buffers). Pass `w` copies window `w` of the frames into the
 * memory (outside the timed region) and runs its prebuilt batches of 32.
 */
export class Traffic {
  readonly slots: number;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly pristine: Uint8Array;
  readonly lengths: Int32Array;
  readonly sides: Uint8Array;
  readonly windows: PacketBatch[][] = [];
  private readonly scratch = new DataView(new ArrayBuffer(STRIDE));
  constructor(readonly count: number) {
    this.slots = Math.min(count, POOL_FRAMES);
    this.view = new DataView(new ArrayBuffer(this.slots * STRIDE));
    this.bytes = new Uint8Array(this.view.buffer);
    this.pristine = new Uint8Array(count * HEADER);
    this.lengths = new Int32Array(count);
    this.sides = new Uint8Array(count);
  }
  /** Builds frame `k` (its payload is zeros, as in the packet memory). */
  set(k: number, spec: FrameSpec, side: number): void {
    this.write(k, (view) => writeFrame(view, 0, spec), side);
  }
  /** Builds frame `k` with `build`, which writes it at offset 0 of the view and returns its length (e.g. `buildIpv6Frame`). */
  write(k: number, build: (view: DataView) => number, side: number): void {
    new Uint8Array(this.scratch.buffer, 0, HEADER).fill(0);
    this.lengths[k] = build(this.scratch);
    this.sides[k] = side;
    this.pristine.set(new Uint8Array(this.scratch.buffer, 0, HEADER), k * HEADER);
  }
  seal(): void {
    for (let start = 0; start < this.count; start += this.slots) {
      const batches: PacketBatch[] = [];
      for (let first = start; first < Math.min(this.count, start + this.slots); first += BATCH) {
        const b = new PacketBatch(this.view);
        for (let k = first; k < Math.min(this.count, start + this.slots, first + BATCH); k++) b.push(k, (k - start) * STRIDE, this.lengths[k], this.sides[k]);
        batches.push(b);
      }
      this.windows.push(batches);
    }
  }
  /** Copies window `w`'s headers into the packet memory; returns its batches. */
  load(w: number): PacketBatch[] {
    const start = w * this.slots;
    const end = Math.min(this.count, start + this.slots);
    for (let k = start; k < end; k++) this.bytes.set(this.pristine.subarray(k * HEADER, (k + 1) * HEADER), (k - start) * STRIDE);
    return this.windows[w];
  }
}

/** Runs the batches, adding the wall-clock ms to out[0] and this process's CPU ms to out[1]. */
function runPass(pipeline: PipelineInstance, batches: readonly PacketBatch[], now: number, out: Float64Array): void {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let k = 0; k < batches.length; k++) pipeline.processBatch(batches[k], now);
  const t1 = performance.now();
  const c1 = process.cpuUsage(c0);
  out[0] += t1 - t0;
  out[1] += (c1.user + c1.system) / 1000;
}

export function countDrops(b: PacketBatch): number {
  let d = 0;
  for (let i = 0; i < b.count; i++) if (b.verdicts[i] === Verdict.DROP) d++;
  return d;
}

/**
 * Warms up (at least 3 passes, or one per window), then runs REPEATS windows of
 * MEASURE_MS each; `prepare(pass)` returns the batches of a pass (restoring headers
 * outside the timing), `clock()` the `now` the pipeline sees.
 */
export function measure(pipeline: PipelineInstance, prepare: (pass: number) => PacketBatch[], windows: number, clock: () => number): Measured {
  let pass = 0;
  const time = new Float64Array(2);
  while (pass < Math.max(3, windows)) runPass(pipeline, prepare(pass++), clock(), time);
  let drops = 0;
  let packets = 0;
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    time.fill(0);
    let n = 0;
    while (time[0] < MEASURE_MS) {
      const batches = prepare(pass++);
      runPass(pipeline, batches, clock(), time);
      for (const b of batches) {
        n += b.count;
        drops += countDrops(b);
      }
    }
    packets += n;
    wall.push(n / time[0] / 1000);
    cpu.push(n / time[1] / 1000);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return { best: wall[REPEATS - 1], median: wall[REPEATS >> 1], cpuBest: cpu[REPEATS - 1], cpuMedian: cpu[REPEATS >> 1], packets, drops };
}
