/**
 * 64-bit counters in shared memory built from two Uint32 words (lo at `i`, hi at `i + 1`),
 * updated with `Atomics` so several threads may add at once without allocating (BigInt
 * atomics would allocate per update).
 *
 * A reader racing a writer that is carrying into `hi` may briefly see a value 2^32 too
 * small; it never sees a value larger than the truth, and reads are exact once writers
 * pause. Good enough for statistics and leak/copy accounting; not a sequence number.
 *
 * @example
 * ```ts
 * addCounter64(words, C_COPIES_IN, 1);
 * const copies = readCounter64(words, C_COPIES_IN);
 * ```
 */

const TWO_32 = 4294967296;

/** Adds `n` (0 ≤ n < 2^32) to the counter at words[i] (lo) / words[i + 1] (hi). */
export function addCounter64(words: Uint32Array, i: number, n: number): void {
  const old = Atomics.add(words, i, n);
  if (old + n >= TWO_32) Atomics.add(words, i + 1, 1);
}

/** Reads the counter at words[i] / words[i + 1], retrying while `hi` moves under it. */
export function readCounter64(words: Uint32Array, i: number): number {
  for (;;) {
    const hi = Atomics.load(words, i + 1);
    const lo = Atomics.load(words, i);
    if (Atomics.load(words, i + 1) === hi) return hi * TWO_32 + lo;
  }
}
