import { DIM_COUNT, ruleBox, type AclRule } from './acl-rule.ts';

/** Int32 words per rule in a packed rule table: `lo` and `span` of each of the six dimensions. */
export const RULE_WORDS = 12;

/**
 * Packs rules into one `Int32Array`, `RULE_WORDS` per rule: for each dimension `d`,
 * word `2d` is the low bound and word `2d + 1` the span (`hi - lo`), both as 32-bit
 * patterns. A field value `v` is inside when `((v - lo) | 0) >>> 0 <= span >>> 0`: one
 * unsigned comparison per dimension, no branches on signedness, the same for 1-bit sides
 * and 32-bit addresses.
 *
 * @example
 * ```ts
 * const table = packRuleTable(rules);
 * const inside = (((src - table[r * 12 + 4]) | 0) >>> 0) <= (table[r * 12 + 5] >>> 0);
 * ```
 */
export function packRuleTable(rules: readonly AclRule[]): Int32Array {
  const out = new Int32Array(rules.length * RULE_WORDS);
  const lo: number[] = [];
  const hi: number[] = [];
  rules.forEach((rule, r) => {
    ruleBox(rule, lo, hi);
    for (let d = 0; d < DIM_COUNT; d++) {
      out[r * RULE_WORDS + 2 * d] = lo[d] | 0;
      out[r * RULE_WORDS + 2 * d + 1] = (hi[d] - lo[d]) | 0;
    }
  });
  return out;
}
