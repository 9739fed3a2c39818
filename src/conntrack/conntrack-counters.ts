/**
 * Conntrack counters: indices into a fixed-length `Float64Array` (exact up to 2^53), so the
 * array can live in shared memory and be read by the host without messages.
 *
 * @example
 * ```ts
 * const hits = table.counters[CtCounter.LOOKUP_HIT];
 * const all = conntrackCounterSnapshot(table.counters); // { created: 12, … }
 * ```
 */
export const CtCounter = {
  /** Entries created. */
  CREATED: 0,
  /** Entries removed because their timeout passed (on lookup, sweep or reclaim when full). */
  EXPIRED: 1,
  /** Live, not-yet-expired entries evicted to make room (early drop; see the table's full policy). */
  EVICTED: 2,
  /** Creations refused because the table was full and nothing could be reclaimed. */
  REFUSED_FULL: 3,
  /** Creations refused because the original or reply tuple is already tracked. */
  CLASH: 4,
  /** Entries removed by `delete`. */
  DELETED: 5,
  /** Lookups that found a live entry. */
  LOOKUP_HIT: 6,
  /** Lookups that found nothing (or only an expired entry). */
  LOOKUP_MISS: 7,
  /** Updates rejected by the protocol state machine (packet does not fit the connection). */
  INVALID: 8,
} as const;

/** Length of the counters array. */
export const CT_COUNTER_COUNT = 9;

/** Counter names, indexed by {@link CtCounter} value (metrics labels). */
export const CT_COUNTER_NAMES = [
  'created',
  'expired',
  'evicted',
  'refused_full',
  'clash',
  'deleted',
  'lookup_hit',
  'lookup_miss',
  'invalid',
] as const;

/** A counter name. */
export type CtCounterName = (typeof CT_COUNTER_NAMES)[number];

/**
 * Copies the counters into a plain object keyed by name (control plane only: allocates).
 *
 * @example
 * ```ts
 * console.log(conntrackCounterSnapshot(table.counters).refused_full);
 * ```
 */
export function conntrackCounterSnapshot(counters: Float64Array): Record<CtCounterName, number> {
  const out = {} as Record<CtCounterName, number>;
  for (let i = 0; i < CT_COUNTER_COUNT; i++) out[CT_COUNTER_NAMES[i]] = counters[i];
  return out;
}
