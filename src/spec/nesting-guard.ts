import { Parser } from 'yaml';

/** Deepest nesting of mappings and lists a chain spec may have. */
export const MAX_SPEC_DEPTH = 100;

/** Where a text is nested too deeply. */
export interface NestingProblem {
  /** Source offset of the first collection beyond the limit. */
  readonly offset: number;
  readonly message: string;
}

interface CstNode {
  type?: string;
  offset?: number;
  value?: CstNode;
  items?: Array<{ key?: CstNode | null; value?: CstNode | null }>;
}

/**
 * Refuses absurdly deep YAML before it is composed. The YAML library's composer recurses
 * per level: a document nested hundreds of levels deep overflows the stack, and V8 does
 * not always survive repeated overflows (seen here: a fatal out-of-memory in the RegExp
 * compiler on the second one). The library's CST parser is iterative, so the depth is
 * measured on its tokens with an explicit stack. A chain spec needs about ten levels.
 *
 * @example
 * ```ts
 * findDeepNesting('['.repeat(1000)); // { offset: 100, message: 'nested deeper than 100 levels' }
 * ```
 */
export function findDeepNesting(text: string): NestingProblem | undefined {
  const stack: Array<[CstNode, number]> = [];
  for (const token of new Parser().parse(text)) stack.push([token as CstNode, 0]);
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [CstNode, number];
    if (node.value !== undefined && node.value !== null) stack.push([node.value, depth]);
    if (node.items === undefined) continue;
    if (depth >= MAX_SPEC_DEPTH) return { offset: node.offset ?? 0, message: `nested deeper than ${MAX_SPEC_DEPTH} levels` };
    for (const item of node.items) {
      if (item.key !== undefined && item.key !== null) stack.push([item.key, depth + 1]);
      if (item.value !== undefined && item.value !== null) stack.push([item.value, depth + 1]);
    }
  }
  return undefined;
}
