/**
 * The run-time form of the decision trees: ONE `Int32Array` holding the nodes and leaves of
 * every tree of a plan, designed so that one step down a tree is two dependent loads and a
 * few ALU operations, with no branch:
 *
 * ```
 * ref = T[(ref >>> 12) + ((K[ref & 7] >>> ((ref >>> 3) & 31)) & ((1 << ((ref >>> 8) & 15)) - 1))]
 * ```
 *
 * A **ref** (a reference to a node, held by its parent) carries everything needed to take the
 * step: bits 0–2 the dimension to cut (0–5; 6 = leaf), bits 3–7 the shift, bits 8–11 the
 * number of cut bits `c` (fan-out `2^c`, at most 2^15) and bits 12–31 the node's offset in
 * `T`, where its `2^c` children refs are. `K` holds the packet's six fields and `K[6] = 0`.
 *
 * A **leaf** ref has dimension 6 and `c = 0`, so a step from it lands on `T[offset]`, which
 * holds the leaf ref itself: leaves absorb, and several trees can be walked in lockstep until
 * all of them sit on a leaf. The leaf's contents follow on the same cache line:
 * `T[offset + 1]` is its entry count, then the entries, {@link LEAF_ENTRY_WORDS} words each:
 * the rule index (stored as `~index` when the rule covers the leaf's whole box and needs no
 * test), then the rule's bounds (`lo`, `span`; see `rule-table.ts`) packed:
 * `srcLo, srcSpan, dstLo, dstSpan, sportLo << 16 | sportSpan, dportLo << 16 | dportSpan,
 * protoLo | protoSpan << 8 | sideLo << 16 | sideSpan << 24` — 32 bytes per rule.
 *
 * @example
 * ```ts
 * const out = new EncodedTrees();
 * const root = encodeTree(tree, memberIds, packRuleTable(rules), out);
 * ```
 */
import type { DecisionTree } from './decision-tree.ts';
import { RULE_WORDS } from './rule-table.ts';

/** Words per leaf entry: rule index + 7 words of packed bounds. */
export const LEAF_ENTRY_WORDS = 8;
/** Dimension field value of a leaf ref. */
export const LEAF_DIM = 6;
/** Largest offset a ref can hold (20 bits). */
export const MAX_REF_OFFSET = (1 << 20) - 1;

/** Growable output of the encoder (shared by the trees of one plan). */
export class EncodedTrees {
  words: number[] = [];
}

/** Makes a ref from its fields (`offset` ≤ {@link MAX_REF_OFFSET}). */
export function makeRef(offset: number, dim: number, shift: number, cutBits: number): number {
  return ((offset << 12) | (cutBits << 8) | (shift << 3) | dim) | 0;
}

/**
 * Appends `tree` to `out` in the run-time form and returns its root ref, or `undefined` when
 * `out` outgrows the 20-bit offsets of refs. `ruleIds` maps the tree's local rule indices to
 * the plan's ones; `ruleTable` is the packed table of ALL the plan's rules; `storedIds`, if
 * given, is the index stored for each plan rule (its index in the full rule set of a
 * per-family plan; ascending, so priority order is kept). Shared leaves stay shared.
 */
export function encodeTree(
  tree: DecisionTree,
  ruleIds: readonly number[],
  ruleTable: Int32Array,
  out: EncodedTrees,
  storedIds?: readonly number[],
): number | undefined {
  const nodeRefs = new Map<number, number>();
  const leafRefs = new Map<number, number>();
  const T = out.words;

  const leafRef = (q: number): number => {
    const known = leafRefs.get(q);
    if (known !== undefined) return known;
    const count = tree.leaves[q];
    const ref = makeRef(T.length, LEAF_DIM, 0, 0);
    T.push(ref, count);
    for (let j = 1; j <= count; j++) {
      const local = tree.leaves[q + j];
      const rule = ruleIds[local >= 0 ? local : ~local];
      const b = rule * RULE_WORDS;
      const t = ruleTable;
      const id = storedIds === undefined ? rule : storedIds[rule];
      T.push(local >= 0 ? id : ~id, t[b + 4], t[b + 5], t[b + 6], t[b + 7]);
      T.push((t[b + 8] << 16) | t[b + 9], (t[b + 10] << 16) | t[b + 11], t[b + 2] | (t[b + 3] << 8) | (t[b] << 16) | (t[b + 1] << 24));
    }
    leafRefs.set(q, ref);
    return ref;
  };

  const nodeRef = (o: number): number => {
    if (o < 0) return leafRef(~o);
    const known = nodeRefs.get(o);
    if (known !== undefined) return known;
    const slices = tree.nodes[o + 2] + 1;
    const t = T.length;
    const ref = makeRef(t, tree.nodes[o], tree.nodes[o + 1], Math.log2(slices));
    nodeRefs.set(o, ref);
    for (let k = 0; k < slices; k++) T.push(0);
    for (let k = 0; k < slices; k++) T[t + k] = nodeRef(tree.nodes[o + 3 + k]);
    return ref;
  };

  const root = nodeRef(tree.root);
  return T.length > MAX_REF_OFFSET + 1 ? undefined : root;
}
