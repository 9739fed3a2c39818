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
 * @example
 * ```ts
 * const plan = planClassifier(rules, classifierOptionsSchema.parse({}));
 * console.log(plan.kind, plan.trees?.map((t) => t.stats));
 * ```
 */
import { DIM_COUNT, DIM_FULL, ruleBox, type AclRule } from './acl-rule.ts';
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

/** Groups rule indices by the wideness of their source and destination (see the module doc). */
export function groupRules(rules: readonly AclRule[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const key of ['sd', 'Wd', 'sW', 'WW']) groups.set(key, []);
  rules.forEach((r, i) => {
    const key = (r.srcPrefix < WIDE_PREFIX ? 'W' : 's') + (r.dstPrefix < WIDE_PREFIX ? 'W' : 'd');
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
  const algorithm = options.algorithm;
  if (algorithm === 'linear') return { kind: 'linear', rules };
  if (algorithm === 'straight-line' || (algorithm === 'auto' && rules.length <= options.straightLineMax)) {
    return { kind: 'straight-line', rules };
  }
  const maxWords = Math.floor(options.memoryMiB * 262144);
  for (let leafSize = options.leafSize; leafSize <= 64; leafSize *= 2) {
    const plan = buildTrees(rules, options, leafSize, maxWords);
    if (plan !== undefined) return plan;
  }
  return { kind: 'linear', rules, fallback: `decision trees exceed ${options.memoryMiB} MiB even with 64-rule leaves` };
}

/** The tree plan with `leafSize`, or `undefined` if it does not fit `maxWords`. */
function buildTrees(rules: readonly AclRule[], options: ClassifierOptions, leafSize: number, maxWords: number): ClassifierPlan | undefined {
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
    const root = encodeTree(tree, members, table, out);
    if (root === undefined || out.words.length > maxWords) return undefined;
    trees.push({ group, ruleCount: members.length, usedDims: usedDims(members.map((i) => rules[i])), root, stats: tree.stats });
  }
  return { kind: 'trees', rules, words: Int32Array.from(out.words), trees, leafSize };
}
