/**
 * The rule compiler's search structure: a HiCuts-style decision tree over the six
 * classification dimensions (side, protocol, source, destination, two port fields).
 *
 * Every node covers a box of header space whose side in each dimension is an aligned power
 * of two. A node cuts ONE dimension into `2^c` equal slices, so the child of a packet is
 * found by arithmetic, not comparisons: `child[(field >>> shift) & mask]` — a fixed few loads
 * per level and no data-dependent branches, which is what keeps a JIT-compiled walk fast.
 * Leaves hold at most `leafSize` rule indices in priority order (a short first-match scan).
 *
 * Building (the heuristics of HiCuts, Gupta & McKeown 1999, with HyperCuts' pruning):
 * - at each node, rules that do not overlap the box are gone, and every rule after the
 *   first one that covers the whole box is removed (it can never be the first match);
 * - the cut dimension is the one whose best cut minimises the largest child; the number of
 *   cuts grows while the rule references it creates stay within `spaceFactor × rules`;
 * - a box where no cut would leave any child with fewer rules becomes a (larger) leaf;
 * - leaves with identical rule lists are stored once;
 * - a memory budget bounds the result: over it, `buildDecisionTree` gives up and returns
 *   `undefined` (the caller retries with bigger leaves).
 *
 * The build result is two Int32Arrays (`tree-encoding.ts` turns them into the run-time form):
 * - `nodes`: a node at offset `o` is `[dim, shift, mask, child_0 … child_{mask}]`; a child
 *   `≥ 0` is another node's offset, `< 0` is `~leafOffset`;
 * - `leaves`: a leaf at offset `q` is `[count, rule_0 … rule_{count-1}]`; a last entry stored
 *   as `~rule` (negative) covers the leaf's whole box and matches without being tested.
 *
 * @example
 * ```ts
 * const tree = buildDecisionTree(rules, { leafSize: 4, spaceFactor: 8, maxCutBits: 12, maxWords: 1 << 24 });
 * if (tree === undefined) throw new Error('over budget');
 * let o = tree.root;
 * while (o >= 0) o = tree.nodes[o + 3 + ((fields[tree.nodes[o]] >>> tree.nodes[o + 1]) & tree.nodes[o + 2])];
 * // scan tree.leaves at ~o
 * ```
 */
import { DIM_BITS, DIM_COUNT, ruleBox, type AclRule } from './acl-rule.ts';

/** Tuning of {@link buildDecisionTree}. */
export interface DecisionTreeOptions {
  /** Most rules a leaf may hold when the box can still be cut. */
  leafSize: number;
  /** Largest growth of rule references a single cut may cause (HiCuts `spfac`). */
  spaceFactor: number;
  /** Largest fan-out of a node, as a power of two. */
  maxCutBits: number;
  /** Budget of Int32 words (nodes + leaves); over it the build gives up. */
  maxWords: number;
}

/** Shape figures of a built tree (for `--emit`, docs and benchmarks). */
export interface DecisionTreeStats {
  nodes: number;
  leaves: number;
  /** Rule references stored in (deduplicated) leaves. */
  ruleRefs: number;
  /** Longest root-to-leaf path, in nodes. */
  maxDepth: number;
  /** Largest leaf. */
  maxLeaf: number;
  /** Int32 words of `nodes` plus `leaves`. */
  words: number;
}

/** A built tree; see the module documentation for the encoding. */
export interface DecisionTree {
  readonly nodes: Int32Array;
  readonly leaves: Int32Array;
  /** Root: a node offset (≥ 0) or `~leafOffset`. */
  readonly root: number;
  readonly stats: DecisionTreeStats;
}

/** Growable Int32 storage (build time only). */
class Words {
  data = new Int32Array(1024);
  length = 0;

  reserve(n: number): number {
    const at = this.length;
    if (at + n > this.data.length) {
      let size = this.data.length * 2;
      while (size < at + n) size *= 2;
      const bigger = new Int32Array(size);
      bigger.set(this.data.subarray(0, at));
      this.data = bigger;
    }
    this.length = at + n;
    return at;
  }

  finish(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

/**
 * Builds the decision tree of `rules` (priority order), or returns `undefined` when it would
 * exceed `options.maxWords`. Deterministic: the same rules and options give the same arrays.
 */
export function buildDecisionTree(rules: readonly AclRule[], options: DecisionTreeOptions): DecisionTree | undefined {
  const n = rules.length;
  const lo: Float64Array[] = [];
  const hi: Float64Array[] = [];
  for (let d = 0; d < DIM_COUNT; d++) {
    lo.push(new Float64Array(n));
    hi.push(new Float64Array(n));
  }
  const bl: number[] = [];
  const bh: number[] = [];
  for (let r = 0; r < n; r++) {
    ruleBox(rules[r], bl, bh);
    for (let d = 0; d < DIM_COUNT; d++) {
      lo[d][r] = bl[d];
      hi[d][r] = bh[d];
    }
  }
  const builder = new TreeBuilder(lo, hi, options);
  const all = new Int32Array(n);
  for (let r = 0; r < n; r++) all[r] = r;
  const root = builder.build(all, n, [0, 0, 0, 0, 0, 0], DIM_BITS.slice(), 1);
  if (builder.overBudget) return undefined;
  const nodes = builder.nodes.finish();
  const leaves = builder.leaves.finish();
  return {
    nodes,
    leaves,
    root,
    stats: {
      nodes: builder.nodeCount,
      leaves: builder.leafIndex.size,
      ruleRefs: builder.ruleRefs,
      maxDepth: builder.maxDepth,
      maxLeaf: builder.maxLeaf,
      words: nodes.length + leaves.length,
    },
  };
}

class TreeBuilder {
  readonly nodes = new Words();
  readonly leaves = new Words();
  readonly leafIndex = new Map<string, number>();
  nodeCount = 0;
  ruleRefs = 0;
  /** Set when the budget is exceeded: the build unwinds and its result is discarded. */
  overBudget = false;
  maxDepth = 0;
  maxLeaf = 0;

  constructor(
    private readonly lo: Float64Array[],
    private readonly hi: Float64Array[],
    private readonly options: DecisionTreeOptions,
  ) {}

  /** Builds the subtree of the box (`base`, `bits`) for the overlapping rules `list[0..len)`; returns its encoded reference. */
  build(list: Int32Array, len: number, base: number[], bits: number[], depth: number): number {
    const { lo, hi } = this;
    if (this.overBudget) return 0;
    if (depth > this.maxDepth) this.maxDepth = depth;

    // Prune: nothing after the first rule that covers the whole box can match first.
    let m = 0;
    let covered = false;
    for (let i = 0; i < len && !covered; i++) {
      const r = list[i];
      list[m++] = r;
      covered = true;
      for (let d = 0; d < DIM_COUNT && covered; d++) {
        covered = lo[d][r] <= base[d] && hi[d][r] >= base[d] + 2 ** bits[d] - 1;
      }
    }
    if (m <= this.options.leafSize) return this.leaf(list, m, covered);

    // Choose the dimension and the number of cuts.
    let bestDim = -1;
    let bestBits = 0;
    let bestMax = Infinity;
    let bestSum = Infinity;
    for (let d = 0; d < DIM_COUNT; d++) {
      const w = bits[d];
      if (w === 0) continue;
      const rLo = base[d];
      const rHi = rLo + 2 ** w - 1;
      const dl = lo[d];
      const dh = hi[d];
      let useful = false;
      for (let i = 0; i < m && !useful; i++) useful = dl[list[i]] > rLo || dh[list[i]] < rHi;
      if (!useful) continue;
      const maxC = Math.min(w, this.options.maxCutBits);
      let c = 1;
      let sum = this.refsAfterCut(list, m, dl, dh, rLo, rHi, w - 1);
      while (c < maxC) {
        const next = this.refsAfterCut(list, m, dl, dh, rLo, rHi, w - c - 1);
        if (next + 2 ** (c + 1) > this.options.spaceFactor * m) break;
        c++;
        sum = next;
      }
      const largest = this.largestChild(list, m, dl, dh, rLo, rHi, w - c, c);
      if (largest < bestMax || (largest === bestMax && sum < bestSum)) {
        bestDim = d;
        bestBits = c;
        bestMax = largest;
        bestSum = sum;
      }
    }
    // No cut separates any rule from the others (they all overlap everywhere it could cut):
    // cutting on would only copy them, so scan them instead.
    if (bestDim < 0 || bestMax >= m) return this.leaf(list, m, covered);

    // Distribute the rules to the children (counting sort by child slice).
    const d = bestDim;
    const c = bestBits;
    const slices = 2 ** c;
    const shift = bits[d] - c;
    const cell = 2 ** shift;
    const rLo = base[d];
    const rHi = rLo + 2 ** bits[d] - 1;
    const dl = lo[d];
    const dh = hi[d];
    const counts = new Int32Array(slices + 1);
    for (let i = 0; i < m; i++) {
      const r = list[i];
      const a = Math.floor(((dl[r] > rLo ? dl[r] : rLo) - rLo) / cell);
      const b = Math.floor(((dh[r] < rHi ? dh[r] : rHi) - rLo) / cell);
      counts[a]++;
      counts[b + 1]--;
    }
    const starts = new Int32Array(slices + 1);
    let running = 0;
    let total = 0;
    for (let k = 0; k < slices; k++) {
      running += counts[k];
      starts[k] = total;
      total += running;
    }
    starts[slices] = total;
    const fill = starts.slice(0, slices);
    const childLists = new Int32Array(total);
    for (let i = 0; i < m; i++) {
      const r = list[i];
      const a = Math.floor(((dl[r] > rLo ? dl[r] : rLo) - rLo) / cell);
      const b = Math.floor(((dh[r] < rHi ? dh[r] : rHi) - rLo) / cell);
      for (let k = a; k <= b; k++) childLists[fill[k]++] = r;
    }

    const at = this.nodes.reserve(3 + slices);
    this.nodeCount++;
    this.checkBudget();
    this.nodes.data[at] = d;
    this.nodes.data[at + 1] = shift;
    this.nodes.data[at + 2] = slices - 1;
    const childBits = bits.slice();
    childBits[d] = shift;
    for (let k = 0; k < slices; k++) {
      const childBase = base.slice();
      childBase[d] = rLo + k * cell;
      const from = starts[k];
      const count = starts[k + 1] - from;
      const child = this.build(childLists.subarray(from, from + count), count, childBase, childBits, depth + 1);
      this.nodes.data[at + 3 + k] = child; // `nodes.data` may have been reallocated by the recursion
    }
    return at;
  }

  /** Rule references if the box is cut at slice width 2^`shift`. */
  private refsAfterCut(list: Int32Array, m: number, dl: Float64Array, dh: Float64Array, rLo: number, rHi: number, shift: number): number {
    const cell = 2 ** shift;
    let sum = 0;
    for (let i = 0; i < m; i++) {
      const r = list[i];
      const a = Math.floor(((dl[r] > rLo ? dl[r] : rLo) - rLo) / cell);
      const b = Math.floor(((dh[r] < rHi ? dh[r] : rHi) - rLo) / cell);
      sum += b - a + 1;
    }
    return sum;
  }

  /** Rules in the fullest child if the box is cut into 2^`c` slices of width 2^`shift`. */
  private largestChild(list: Int32Array, m: number, dl: Float64Array, dh: Float64Array, rLo: number, rHi: number, shift: number, c: number): number {
    const cell = 2 ** shift;
    const diff = new Int32Array(2 ** c + 1);
    for (let i = 0; i < m; i++) {
      const r = list[i];
      diff[Math.floor(((dl[r] > rLo ? dl[r] : rLo) - rLo) / cell)]++;
      diff[Math.floor(((dh[r] < rHi ? dh[r] : rHi) - rLo) / cell) + 1]--;
    }
    let running = 0;
    let largest = 0;
    for (let k = 0; k < diff.length - 1; k++) {
      running += diff[k];
      if (running > largest) largest = running;
    }
    return largest;
  }

  /**
   * Stores (or finds) the leaf holding `list[0..m)`; returns `~offset`. When the last rule
   * covers the whole box it is stored as `~rule`: it matches without a test.
   */
  private leaf(list: Int32Array, m: number, lastCovers: boolean): number {
    if (lastCovers) list[m - 1] = ~list[m - 1];
    let key = String(m);
    for (let i = 0; i < m; i++) key += ',' + list[i];
    const known = this.leafIndex.get(key);
    if (known !== undefined) return ~known;
    const at = this.leaves.reserve(1 + m);
    this.checkBudget();
    this.leaves.data[at] = m;
    for (let i = 0; i < m; i++) this.leaves.data[at + 1 + i] = list[i];
    this.leafIndex.set(key, at);
    this.ruleRefs += m;
    if (m > this.maxLeaf) this.maxLeaf = m;
    return ~at;
  }

  private checkBudget(): void {
    if (this.nodes.length + this.leaves.length > this.options.maxWords) this.overBudget = true;
  }
}
