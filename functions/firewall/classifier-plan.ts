/**
 * The rule compiler's first half: decides HOW a rule set is searched and builds the tables.
 * `classifier-codegen.ts` then turns the plan into JavaScript.
 *
 * - **straight-line** (up to `straightLineMax` rules, default 16): one `if` per rule with only
 *   the tests that rule needs, constants inlined — nothing is faster for a handful of rules.
 * - **trees** (everything larger): the rules are split by how WIDE their address fields are
 *   (EffiCuts, Vamanan et al. 2010): source narrower than /8 or not × destination narrower
 *   than /8 or not, at most four groups, and one HiCuts-style decision tree
 *   (`decision-tree.ts`) is built per group. A single tree over all rules explodes on real
 *   ACLs — every rule with a wildcard source is copied into every slice of a source cut —
 *   while inside one group the cut dimensions are the ones its rules are narrow in. A lookup
 *   walks every tree (2–4, a few levels each) and keeps the lowest matching rule index; a
 *   tree's leaf scan stops at the first rule whose index is not below the best so far.
 * - **linear**: the interpreter's first-match scan, for benchmarks and as the fallback when
 *   even the largest leaves cannot keep the trees within `memoryMiB`.
 *
 * Dual stack: {@link planFamily} plans one classifier per address family. The IPv4 plan
 * holds the rules of family 4 and 0; with no IPv6 rule it is exactly `planClassifier` of
 * all rules. The IPv6 plan holds the rules of family 6 and 0 with their prefixes reduced to
 * 32-bit ranges (`address-reduction.ts`), so it is the same kind of plan over the same six
 * dimensions. A plan over a subset carries `ids`, the index of each of its rules in the full
 * rule set, and the generated code yields those.
 *
 * @example
 * ```ts
 * const plan = planClassifier(rules, classifierOptionsSchema.parse({}));
 * console.log(plan.kind, plan.trees?.map((t) => t.stats));
 * ```
 */
import { DIM_COUNT, DIM_FULL, ruleBox, type AclRule } from './acl-rule.ts';
import { buildAddressReduction, reducedRule, type AddressReduction } from './address-reduction.ts';
import type { ClassifierOptions } from './config.ts';
import { buildDecisionTree, type DecisionTreeStats } from './decision-tree.ts';
import { packRuleTable } from './rule-table.ts';
import { EncodedTrees, encodeTree } from './tree-encoding.ts';

/** Address prefixes shorter than this are "wide" when rules are grouped. */
export const WIDE_PREFIX = 8;

/** One decision tree of a plan, stored in the plan's shared arrays. */
export interface PlannedTree {
  /** Which rules it holds: `s`/`W` narrow/wide source, `d`/`W` narrow/wide destination. */
  readonly group: string;
  readonly ruleCount: number;
  /** Per dimension: does some rule of the tree constrain it (else leaf tests skip it)? */
  readonly usedDims: readonly boolean[];
  /** Root ref into the shared arrays (see `tree-encoding.ts`). */
  readonly root: number;
  readonly stats: DecisionTreeStats;
}

/** How a rule set is searched; input of the code generator. */
export interface ClassifierPlan {
  readonly kind: 'straight-line' | 'trees' | 'linear';
  readonly rules: readonly AclRule[];
  /** Trees (kind `trees`): their nodes and leaves, encoded as in `tree-encoding.ts`. */
  readonly words?: Int32Array;
  readonly trees?: readonly PlannedTree[];
  /** Leaf size the trees were built with (it grows when the memory budget forces it). */
  readonly leafSize?: number;
  /** Why a tree plan fell back to `linear`, if it did. */
  readonly fallback?: string;
  /** Index in the full rule set of each rule of `rules` (absent: the same index). */
  readonly ids?: readonly number[];
  /** IPv6 plans: how addresses reduce to the 32-bit values `rules` are boxed in. */
  readonly reduction?: AddressReduction;
}

/** Per dimension, whether some rule constrains it (is not the full range). */
export function usedDims(rules: readonly AclRule[]): boolean[] {
  const used = new Array<boolean>(DIM_COUNT).fill(false);
  const lo: number[] = [];
  const hi: number[] = [];
  for (const r of rules) {
    ruleBox(r, lo, hi);
    for (let d = 0; d < DIM_COUNT; d++) if (lo[d] !== 0 || hi[d] !== DIM_FULL[d]) used[d] = true;
  }
  return used;
}

/** Address ranges at least this wide are "wide" (the span of a prefix shorter than `WIDE_PREFIX`). */
const WIDE_SPAN = 2 ** (32 - WIDE_PREFIX);

/**
 * Groups rule indices by the wideness of their source and destination (see the module doc):
 * for IPv4 prefixes, shorter than /8; for reduced IPv6 ranges, as wide as such a prefix.
 */
export function groupRules(rules: readonly AclRule[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const key of ['sd', 'Wd', 'sW', 'WW']) groups.set(key, []);
  const lo: number[] = [];
  const hi: number[] = [];
  rules.forEach((r, i) => {
    ruleBox(r, lo, hi);
    const key = (hi[2] - lo[2] >= WIDE_SPAN ? 'W' : 's') + (hi[3] - lo[3] >= WIDE_SPAN ? 'W' : 'd');
    (groups.get(key) as number[]).push(i);
  });
  for (const [key, list] of groups) if (list.length === 0) groups.delete(key);
  return groups;
}

/**
 * Plans the classifier of `rules` (priority order). Deterministic. Tree building is bounded
 * by `options.memoryMiB`: over budget, leaves double in size (up to 64 rules), and past that
 * the plan falls back to `linear` with the reason in `fallback`.
 */
export function planClassifier(rules: readonly AclRule[], options: ClassifierOptions): ClassifierPlan {
  return planWithIds(rules, options, undefined);
}

/** `planClassifier` of a subset of a rule set whose indices in the full set are `ids`. */
function planWithIds(rules: readonly AclRule[], options: ClassifierOptions, ids: readonly number[] | undefined): ClassifierPlan {
  const algorithm = options.algorithm;
  if (algorithm === 'linear') return { kind: 'linear', rules };
  if (algorithm === 'straight-line' || (algorithm === 'auto' && rules.length <= options.straightLineMax)) {
    return { kind: 'straight-line', rules };
  }
  const maxWords = Math.floor(options.memoryMiB * 262144);
  for (let leafSize = options.leafSize; leafSize <= 64; leafSize *= 2) {
    const plan = buildTrees(rules, options, leafSize, maxWords, ids);
    if (plan !== undefined) return plan;
  }
  return { kind: 'linear', rules, fallback: `decision trees exceed ${options.memoryMiB} MiB even with 64-rule leaves` };
}

/**
 * Plans the classifier of the packets of one address family (see the module doc): family 4
 * over the rules of family 4 and 0, family 6 over those of family 6 and 0 with reduced
 * addresses. The plan's lookup yields indices into `rules`.
 *
 * @example
 * ```ts
 * const v6 = planFamily(rules, 6, options);
 * const classify = classifierFunction6(v6); // rule index in `rules`, or -1
 * ```
 */
export function planFamily(rules: readonly AclRule[], family: 4 | 6, options: ClassifierOptions): ClassifierPlan {
  const other = family === 4 ? 6 : 4;
  if (family === 4 && !rules.some((r) => r.family === other)) return planClassifier(rules, options);
  const ids: number[] = [];
  rules.forEach((r, i) => {
    if (r.family !== other) ids.push(i);
  });
  if (family === 4) return { ...planWithIds(ids.map((i) => rules[i]), options, ids), ids };
  const reduction = buildAddressReduction(rules);
  return { ...planWithIds(ids.map((i) => reducedRule(rules[i], reduction)), options, ids), ids, reduction };
}

/** The tree plan with `leafSize`, or `undefined` if it does not fit `maxWords`. */
function buildTrees(rules: readonly AclRule[], options: ClassifierOptions, leafSize: number, maxWords: number, ids?: readonly number[]): ClassifierPlan | undefined {
  const groups = [...groupRules(rules)].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
  const table = packRuleTable(rules);
  const out = new EncodedTrees();
  const trees: PlannedTree[] = [];
  for (const [group, members] of groups) {
    const tree = buildDecisionTree(
      members.map((i) => rules[i]),
      { leafSize, spaceFactor: options.spaceFactor, maxCutBits: options.maxCutBits, maxWords: maxWords - out.words.length },
    );
    if (tree === undefined) return undefined;
    const root = encodeTree(tree, members, table, out, ids);
    if (root === undefined || out.words.length > maxWords) return undefined;
    trees.push({ group, ruleCount: members.length, usedDims: usedDims(members.map((i) => rules[i])), root, stats: tree.stats });
  }
  return { kind: 'trees', rules, words: Int32Array.from(out.words), trees, leafSize };
}
