/**
 * Results of `NatEngine.outbound` / `NatEngine.inbound`: the side the packet leaves on
 * ({@link INSIDE}, {@link OUTSIDE}), or `DROP_BASE + k` for a drop counted under the
 * element's drop counter at offset `k` (see `NatCounter`; drop counters come first). One
 * constant per result, in a module of their own so that esbuild inlines them into images;
 * each drop's `DROP_<COUNTER>` is generated from the counter list into
 * `src/generated/nat-drop-results.ts` (`npm run gen:counters`).
 *
 * @example
 * ```ts
 * if (r >= DROP_BASE) drop(counterBase + r - DROP_BASE); else verdict = r;
 * ```
 */
export const INSIDE = 0;
/** The packet leaves on the outside. */
export const OUTSIDE = 1;
/** First drop result: `DROP_BASE + k` is the drop counted at the element's counter `k`. */
export const DROP_BASE = 2;
