import { counterList } from '../counters/counter-list.ts';

/**
 * Conntrack counters (one declaration: index, names, help): indices into a fixed-length `Float64Array` (exact up to 2^53), so the
 * array can live in shared memory and be read by the host without messages.
 *
 * @example
 * ```ts
 * const hits = table.counters[CtCounter.LOOKUP_HIT];
 * const all = conntrackCounterSnapshot(table.counters); // { created: 12, … }
 * ```
 */
export const CT_COUNTER_LIST = counterList([
  { name: 'created', help: 'entries created' },
  { name: 'expired', help: 'entries removed because their timeout passed (on lookup, sweep or reclaim when full)' },
  { name: 'evicted', help: 'live, not-yet-expired entries evicted to make room (early drop; see the table\'s full policy)' },
  { name: 'refused_full', help: 'creations refused because the table was full and nothing could be reclaimed' },
  { name: 'clash', help: 'creations refused because the original or reply tuple is already tracked' },
  { name: 'deleted', help: 'entries removed by `delete`' },
  { name: 'lookup_hit', help: 'lookups that found a live entry' },
  { name: 'lookup_miss', help: 'lookups that found nothing (or only an expired entry)' },
  { name: 'invalid', help: 'updates rejected by the protocol state machine (packet does not fit the connection)' },
] as const);

/** Slot of each conntrack counter (`table.counters[CtCounter.LOOKUP_HIT]`). */
export const CtCounter = CT_COUNTER_LIST.index;

/** Length of the counters array. */
export const CT_COUNTER_COUNT = CT_COUNTER_LIST.count;

/** Counter names, indexed by {@link CtCounter} value (metrics labels). */
export const CT_COUNTER_NAMES = CT_COUNTER_LIST.names;

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
