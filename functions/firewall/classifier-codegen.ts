/**
 * The rule compiler's second half: turns a {@link ClassifierPlan} into JavaScript that the
 * firewall element splices into the fused batch loop. The code reads six classifier fields
 * from variables (see `acl-rule.ts`: side, protocol, source and destination address as
 * 32-bit patterns, the two port fields) and assigns the index of the first matching rule, or
 * -1, to a result variable. It allocates nothing and calls nothing (except `linear`, which
 * calls the interpreter on purpose).
 *
 * What is specialised at compile time: the algorithm (straight-line / trees / linear), the
 * number of trees and their roots (one unrolled walk per tree), and the rule tests — a leaf
 * checks only the dimensions some rule constrains, most selective first; straight-line code
 * inlines every constant and emits only the tests each rule needs.
 *
 * IPv6 ({@link generateClassifier6}): the plan of `planFamily(rules, 6, …)` runs on the
 * reduced addresses (`address-reduction.ts`); the generated code first reduces the packet's
 * eight address words (two walks of a byte trie over the boundaries), then runs the same lookup.
 * Straight-line IPv6 code needs no reduction: it tests each prefix on the words it covers.
 * Plans over a subset of the rules yield the full set's indices (`plan.ids`).
 *
 * @example
 * ```ts
 * const code = generateClassifier(plan, { prefix: 'e2c', constant: ctx.constant, importName: ctx.importName },
 *   { side: 'side', proto: 'p', src: 's', dst: 'd', sp: 'a', dp: 'b', result: 'rule' });
 * // code.init at instance start, code.lookup per packet
 * ```
 */
import { DIM_COUNT, DIM_FULL, ruleBox, type AclRule } from './acl-rule.ts';
import type { ClassifierPlan } from './classifier-plan.ts';
import { decodeInt32Base64, encodeInt32Base64 } from './packed-int32.ts';
import { linearClassify } from './interpreter.ts';
import { buildReductionIndex, reduceAddress } from './address-reduction.ts';
import { packRuleTable } from './rule-table.ts';
import { LEAF_DIM, LEAF_ENTRY_WORDS } from './tree-encoding.ts';

/** How generated code reaches constants and library functions (the element's `GenContext`). */
export interface ClassifierIo {
  /** Prefix of every identifier the code declares. */
  readonly prefix: string;
  /** Embeds a JSON value as a module constant; returns its identifier. */
  constant(value: unknown): string;
  /** Imports a library export; returns the local identifier. */
  importName(module: string, name: string): string;
}

/** Names of the variables the lookup reads, and of the one it assigns. */
export interface ClassifierVars {
  readonly side: string;
  readonly proto: string;
  /** Source / destination address as an int32 pattern (`view.getInt32`). */
  readonly src: string;
  readonly dst: string;
  readonly sp: string;
  readonly dp: string;
  /** Declared by the caller (`let`); receives the rule index or -1. */
  readonly result: string;
}

/** Generated code: `init` runs once per instance, `perBatch` once per batch, `lookup` once per packet. */
export interface ClassifierCode {
  readonly init: string;
  readonly perBatch: string;
  readonly lookup: string;
}

const MODULE = '#functions/firewall/';

/** Dimensions in the order leaf tests check them: most selective first. */
const CHECK_ORDER = [3, 2, 5, 1, 0, 4];

function fieldOf(vars: ClassifierVars, d: number): string {
  return [vars.side, vars.proto, vars.src, vars.dst, vars.sp, vars.dp][d];
}

/** Generates the lookup code of `plan`. Deterministic. */
export function generateClassifier(plan: ClassifierPlan, io: ClassifierIo, vars: ClassifierVars): ClassifierCode {
  if (plan.kind === 'straight-line') return straightLine(plan.rules, vars, plan.ids);
  const P = io.prefix;
  const decode = io.importName(`${MODULE}packed-int32.ts`, 'decodeInt32Base64');
  if (plan.kind === 'linear') {
    const scan = io.importName(`${MODULE}interpreter.ts`, 'linearClassify');
    const f = (d: number) => fieldOf(vars, d);
    let init = `const ${P}RB = ${decode}(${io.constant(encodeInt32Base64(packRuleTable(plan.rules)))});\n`;
    let lookup = `${vars.result} = ${scan}(${P}RB, ${plan.rules.length}, ${f(0)}, ${f(1)}, ${f(2)}, ${f(3)}, ${f(4)}, ${f(5)});`;
    if (plan.ids !== undefined) {
      init += `const ${P}ID = ${decode}(${io.constant(encodeInt32Base64(Int32Array.from(plan.ids)))});\n`;
      lookup += ` if (${vars.result} >= 0) ${vars.result} = ${P}ID[${vars.result}];`;
    }
    return { init, perBatch: '', lookup };
  }
  const trees = plan.trees ?? [];
  let init = `const ${P}TG = ${decode}(${io.constant(encodeInt32Base64(plan.words as Int32Array))});\n`;
  init += `const ${P}KG = new Int32Array(8);\n`;
  // Hoisted into the batch function so the JIT keeps the arrays in registers.
  const perBatch = `const ${P}T = ${P}TG, ${P}K = ${P}KG;`;

  // Leaf entry tests, on the packed bounds of `tree-encoding.ts`.
  const leafTest = [
    `((${vars.side} - ((${P}T[j + 7] >>> 16) & 255)) >>> 0) <= (${P}T[j + 7] >>> 24)`,
    `((${vars.proto} - (${P}T[j + 7] & 255)) >>> 0) <= ((${P}T[j + 7] >>> 8) & 255)`,
    `(((${vars.src} - ${P}T[j + 1]) | 0) >>> 0) <= (${P}T[j + 2] >>> 0)`,
    `(((${vars.dst} - ${P}T[j + 3]) | 0) >>> 0) <= (${P}T[j + 4] >>> 0)`,
    `((${vars.sp} - (${P}T[j + 5] >>> 16)) >>> 0) <= (${P}T[j + 5] & 65535)`,
    `((${vars.dp} - (${P}T[j + 6] >>> 16)) >>> 0) <= (${P}T[j + 6] & 65535)`,
  ];
  // Each tree tests only the dimensions its own rules constrain.
  const matchOf = (used: readonly boolean[]) => {
    const tests = CHECK_ORDER.filter((d) => used[d]).map((d) => leafTest[d]);
    return tests.length === 0 ? 'true' : tests.join(' &&\n      ');
  };
  const r = (t: number) => `${P}r${t}`;
  let lookup = '';
  for (let d = 0; d < DIM_COUNT; d++) lookup += `${P}K[${d}] = ${fieldOf(vars, d)}; `;
  lookup += '\n';
  // First step of every tree with its root's cut inlined as constants.
  trees.forEach((tree, t) => {
    const ref = tree.root;
    const dim = ref & 7;
    lookup +=
      dim === LEAF_DIM
        ? `let ${r(t)} = ${ref};\n`
        : `let ${r(t)} = ${P}T[${ref >>> 12} + ((${fieldOf(vars, dim)} >>> ${(ref >>> 3) & 31}) & ${(1 << ((ref >>> 8) & 15)) - 1})];\n`;
  });
  // The rest: leaves absorb, so a step from a leaf is harmless. A tree at most one step
  // below its root takes that step unconditionally; the deeper ones walk in lockstep until
  // each is on a leaf, so a shallow tree never waits in the loop of a deep one.
  const step = (x: string) =>
    `${x} = ${P}T[(${x} >>> 12) + ((${P}K[${x} & 7] >>> ((${x} >>> 3) & 31)) & ((1 << ((${x} >>> 8) & 15)) - 1))];`;
  const deep: string[] = [];
  trees.forEach((tree, t) => {
    // maxDepth counts the nodes of the longest path, leaf included; the root's step is taken above.
    if (tree.stats.maxDepth === 3) lookup += `${step(r(t))}\n`;
    else if (tree.stats.maxDepth > 3) deep.push(r(t));
  });
  if (deep.length > 0) {
    lookup += `while (((${deep.join(' & ')}) & 7) !== ${LEAF_DIM}) {\n${deep.map((x) => '  ' + step(x)).join('\n')}\n}\n`;
  }
  lookup += `let ${P}best = 2147483647;\n`;
  trees.forEach((tree, t) => {
    lookup +=
      `{ // tree ${t}: ${tree.ruleCount} rules (${tree.group}), ${tree.stats.nodes} nodes, depth ≤ ${tree.stats.maxDepth}\n` +
      `  const o = (${r(t)} >>> 12) + 1;\n` +
      `  for (let j = o + 1, e = o + 1 + ${P}T[o] * ${LEAF_ENTRY_WORDS}; j < e; j += ${LEAF_ENTRY_WORDS}) {\n` +
      `    const id = ${P}T[j];\n` +
      `    if (id < 0) { ${t > 0 ? `if (~id < ${P}best) ` : ''}${P}best = ~id; break; }\n` +
      (t > 0 ? `    if (id >= ${P}best) break;\n` : '') +
      `    if (${matchOf(tree.usedDims)}) { ${P}best = id; break; }\n` +
      `  }\n` +
      `}\n`;
  });
  lookup += `${vars.result} = ${P}best === 2147483647 ? -1 : ${P}best;`;
  return { init, perBatch, lookup };
}

/** One `if` per rule, constants inlined, tests only where the rule is not a wildcard. */
function straightLine(rules: readonly AclRule[], vars: ClassifierVars, ids: readonly number[] | undefined, words6?: ClassifierVars6): ClassifierCode {
  const lo: number[] = [];
  const hi: number[] = [];
  let code = '';
  rules.forEach((rule, i) => {
    ruleBox(rule, lo, hi);
    const tests: string[] = [];
    for (const d of CHECK_ORDER) {
      if (lo[d] === 0 && hi[d] === DIM_FULL[d]) continue;
      const v = fieldOf(vars, d);
      if ((d === 2 || d === 3) && words6 !== undefined) {
        // IPv6 straight-line code tests the prefix on the address words themselves.
        const prefix = d === 2 ? rule.srcPrefix : rule.dstPrefix;
        if (rule.family === 6) tests.push(...prefixWordTests(d === 2 ? words6.src : words6.dst, d === 2 ? rule.srcAddr6 : rule.dstAddr6, prefix));
      } else if ((d === 2 || d === 3) && rule.addrRanges !== undefined) {
        tests.push(`(((${v} - ${lo[d] | 0}) | 0) >>> 0) <= ${hi[d] - lo[d]}`);
      } else if (d === 2 || d === 3) {
        const prefix = d === 2 ? rule.srcPrefix : rule.dstPrefix;
        const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) | 0;
        tests.push(prefix === 32 ? `${v} === ${lo[d] | 0}` : `(${v} & ${mask}) === ${lo[d] | 0}`);
      } else if (lo[d] === hi[d]) {
        tests.push(`${v} === ${lo[d]}`);
      } else {
        tests.push(`((${v} - ${lo[d]}) >>> 0) <= ${hi[d] - lo[d]}`);
      }
    }
    code += `${i === 0 ? '' : 'else '}if (${tests.length === 0 ? 'true' : tests.join(' && ')}) ${vars.result} = ${ids === undefined ? i : ids[i]};\n`;
  });
  code += rules.length === 0 ? `${vars.result} = -1;` : `else ${vars.result} = -1;`;
  return { init: '', perBatch: '', lookup: code };
}

/** Tests of a 128-bit prefix on the four word variables `w`: one per word the prefix reaches. */
function prefixWordTests(w: readonly string[], net: readonly number[], prefix: number): string[] {
  const tests: string[] = [];
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i));
    if (bits === 0) break;
    const value = net[i] | 0;
    tests.push(bits === 32 ? `${w[i]} === ${value}` : `(${w[i]} & ${(0xffffffff << (32 - bits)) | 0}) === ${value & ((0xffffffff << (32 - bits)) | 0)}`);
  }
  return tests;
}

/** Names of the variables an IPv6 lookup reads (the eight address words, int32, most significant first) and assigns. */
export interface ClassifierVars6 {
  readonly side: string;
  readonly proto: string;
  readonly src: readonly [string, string, string, string];
  readonly dst: readonly [string, string, string, string];
  readonly sp: string;
  readonly dp: string;
  readonly result: string;
}

/**
 * Generates the lookup code of an IPv6 plan (`planFamily(rules, 6, …)`): the two address
 * reductions, then {@link generateClassifier}'s lookup on the reduced values. Deterministic;
 * no allocation per packet.
 */
export function generateClassifier6(plan: ClassifierPlan, io: ClassifierIo, vars: ClassifierVars6): ClassifierCode {
  const red = plan.reduction;
  if (red === undefined) throw new Error('generateClassifier6 needs an IPv6 plan (planFamily(rules, 6, options))');
  if (plan.kind === 'straight-line') {
    // A handful of rules: test the address words directly, no reduction.
    const scalar = { side: vars.side, proto: vars.proto, src: '', dst: '', sp: vars.sp, dp: vars.dp, result: vars.result };
    return straightLine(plan.rules, scalar, plan.ids, vars);
  }
  const P = io.prefix;
  const decode = io.importName(`${MODULE}packed-int32.ts`, 'decodeInt32Base64');
  const reduce = io.importName(`${MODULE}address-reduction.ts`, 'reduceAddress');
  const index = io.importName(`${MODULE}address-reduction.ts`, 'buildReductionIndex');
  const inner = generateClassifier(plan, io, { side: vars.side, proto: vars.proto, src: `${P}s6`, dst: `${P}d6`, sp: vars.sp, dp: vars.dp, result: vars.result });
  const init =
    `const ${P}SB = ${decode}(${io.constant(encodeInt32Base64(red.src))});\n` +
    `const ${P}DB = ${decode}(${io.constant(encodeInt32Base64(red.dst))});\n` +
    `const ${P}SI = ${index}(${P}SB, ${red.srcCount});\n` +
    `const ${P}DI = ${index}(${P}DB, ${red.dstCount});\n` +
    inner.init;
  const lookup =
    `const ${P}s6 = ${reduce}(${P}SB, ${red.srcCount}, ${red.srcShift}, ${P}SI, ${vars.src.join(', ')});\n` +
    `const ${P}d6 = ${reduce}(${P}DB, ${red.dstCount}, ${red.dstShift}, ${P}DI, ${vars.dst.join(', ')});\n` +
    inner.lookup;
  return { init, perBatch: inner.perBatch, lookup };
}

/** A classifier as a plain function, built from exactly the generated code (tests, benchmarks). */
export type ClassifierFunction = (side: number, proto: number, src: number, dst: number, sp: number, dp: number) => number;

/**
 * Evaluates the code {@link generateClassifier} produces for `plan` into a function, with
 * the same constants and library functions the pipeline gets — so tests hold the real
 * generated code to the interpreter. `src`/`dst` may be given unsigned; they are made int32.
 */
export function classifierFunction(plan: ClassifierPlan): ClassifierFunction {
  const constants: string[] = [];
  const io = testIo(constants);
  const code = generateClassifier(plan, io, { side: 'side', proto: 'proto', src: 'src', dst: 'dst', sp: 'sp', dp: 'dp', result: 'r' });
  const body =
    `${constants.join('\n')}\n${code.init}\n` +
    `return function classify(side, proto, src, dst, sp, dp) {\n  src |= 0; dst |= 0;\n  ${code.perBatch}\n  let r = -1;\n${code.lookup}\n  return r;\n};`;
  return new Function(...Object.keys(TEST_IMPORTS), body)(...Object.values(TEST_IMPORTS)) as ClassifierFunction;
}

const TEST_IMPORTS: Record<string, unknown> = { decodeInt32Base64, linearClassify, reduceAddress, buildReductionIndex };

function testIo(constants: string[]): ClassifierIo {
  return {
    prefix: 'c_',
    constant(value) {
      constants.push(`const K${constants.length} = ${JSON.stringify(value)};`);
      return `K${constants.length - 1}`;
    },
    importName: (_module, name) => name,
  };
}

/** An IPv6 classifier as a plain function: addresses as four words each (unsigned or int32). */
export type ClassifierFunction6 = (side: number, proto: number, src: ArrayLike<number>, dst: ArrayLike<number>, sp: number, dp: number) => number;

/** {@link classifierFunction} for an IPv6 plan: exactly the code {@link generateClassifier6} produces. */
export function classifierFunction6(plan: ClassifierPlan): ClassifierFunction6 {
  const constants: string[] = [];
  const io = testIo(constants);
  const code = generateClassifier6(plan, io, {
    side: 'side',
    proto: 'proto',
    src: ['s0', 's1', 's2', 's3'],
    dst: ['d0', 'd1', 'd2', 'd3'],
    sp: 'sp',
    dp: 'dp',
    result: 'r',
  });
  const body =
    `${constants.join('\n')}\n${code.init}\n` +
    `return function classify6(side, proto, src, dst, sp, dp) {\n` +
    `  const s0 = src[0] | 0, s1 = src[1] | 0, s2 = src[2] | 0, s3 = src[3] | 0, d0 = dst[0] | 0, d1 = dst[1] | 0, d2 = dst[2] | 0, d3 = dst[3] | 0;\n` +
    `  ${code.perBatch}\n  let r = -1;\n${code.lookup}\n  return r;\n};`;
  return new Function(...Object.keys(TEST_IMPORTS), body)(...Object.values(TEST_IMPORTS)) as ClassifierFunction6;
}
