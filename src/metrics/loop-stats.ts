/**
 * The loop-statistics block: a small `Float64Array` in shared memory that an instance's
 * poll loop writes once per batch and the host reads at sampling/scrape time. It carries
 * what the pipeline counters cannot: how many batches ran, how long they took (the busy
 * time, for the autoscaler's busy ratio) and a histogram of batch processing times.
 *
 * Layout (one writer: the instance thread; readers never write):
 *
 * | slot | content |
 * |---|---|
 * | `LoopStat.BATCHES` (0) | batches processed |
 * | `LoopStat.BUSY_NS` (1) | nanoseconds spent processing them (= the histogram's sum) |
 * | `LoopStat.FIRST_BUCKET + i` | batches whose time was ≤ `BATCH_BUCKET_BOUNDS_NS[i]` and > the previous bound (not cumulative) |
 * | `LoopStat.FIRST_BUCKET + BATCH_BUCKET_BOUNDS_NS.length` | batches slower than the last bound (+Inf) |
 *
 * Bounds are powers of two from 1 µs to 2^20 µs (≈ 1.05 s), so the bucket of a time is
 * found with one `Math.clz32`, no loop and no allocation.
 *
 * @example
 * ```ts
 * const stats = createLoopStats();              // host side, passed to the instance as its buffer
 * const t0 = performance.now();
 * processBatch();                               // instance side, once per batch
 * recordBatch(stats, (performance.now() - t0) * 1e6);
 * ```
 */

/** Slots of the loop-statistics block. */
export const LoopStat = {
  BATCHES: 0,
  BUSY_NS: 1,
  FIRST_BUCKET: 2,
} as const;

/** Number of finite histogram bounds: 1 µs · 2^0 … 1 µs · 2^20. */
const FINITE_BUCKETS = 21;

/** Upper bounds (ns) of the finite batch-time buckets, ascending. */
export const BATCH_BUCKET_BOUNDS_NS: readonly number[] = Array.from({ length: FINITE_BUCKETS }, (_, k) => 1000 * 2 ** k);

/** Float64 slots of a loop-statistics block. */
export const LOOP_STATS_LENGTH = LoopStat.FIRST_BUCKET + FINITE_BUCKETS + 1;

/** Allocates a zeroed loop-statistics block in shared memory from `allocate` (default: a fresh SharedArrayBuffer). */
export function createLoopStats(allocate: (bytes: number) => SharedArrayBuffer = (bytes) => new SharedArrayBuffer(bytes)): Float64Array {
  return new Float64Array(allocate(LOOP_STATS_LENGTH * 8));
}

/**
 * Records one batch that took `ns` nanoseconds: batches + 1, busy time + `ns`, one bucket
 * + 1. Allocation-free; meant to be called once per batch by the single writer.
 */
export function recordBatch(stats: Float64Array, ns: number): void {
  if (!(ns > 0)) ns = 0;
  stats[LoopStat.BATCHES] += 1;
  stats[LoopStat.BUSY_NS] += ns;
  // Bucket k holds (2^(k-1) µs, 2^k µs]; index = ceil(log2(ceil(µs))) via clz32.
  const us = Math.ceil(ns / 1000);
  let k = 0;
  if (us > 1) k = us > 1 << 30 ? FINITE_BUCKETS : 32 - Math.clz32(us - 1);
  if (k > FINITE_BUCKETS) k = FINITE_BUCKETS;
  stats[LoopStat.FIRST_BUCKET + k] += 1;
}

/** True when `stats` is long enough to hold a loop-statistics block. */
export function isLoopStats(stats: Float64Array | undefined): stats is Float64Array {
  return stats !== undefined && stats.length >= LOOP_STATS_LENGTH;
}
