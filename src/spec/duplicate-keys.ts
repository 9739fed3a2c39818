import { isMap, isScalar, isSeq, type Document } from 'yaml';

/** A mapping key that appears a second time in its mapping. */
export interface DuplicateKey {
  /** Field path of the repeated key. */
  readonly path: PropertyKey[];
  /** Source offset of the repeated key. */
  readonly offset: number;
}

/**
 * Finds every repeated key of every mapping in a document, in one pass with a set per
 * mapping: linear in the document's size. (The YAML library's `uniqueKeys` option compares
 * each new key with every earlier one: 40,000 labels froze the event loop for 12 s.) Keys
 * are equal when they are scalars of the same type and value, as for `uniqueKeys`; other
 * keys (collections) are never equal. The walk is recursive: call it only on documents
 * whose depth `findDeepNesting` has bounded.
 *
 * @example
 * ```ts
 * const doc = parseDocument(text, { uniqueKeys: false });
 * for (const dup of findDuplicateKeys(doc)) console.log(dup.path, dup.offset);
 * ```
 */
export function findDuplicateKeys(doc: Document): DuplicateKey[] {
  const found: DuplicateKey[] = [];
  walk(doc.contents, [], found);
  return found;
}

function walk(node: unknown, path: PropertyKey[], found: DuplicateKey[]): void {
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = pair.key;
      if (isScalar(key)) {
        const id = `${typeof key.value}:${String(key.value)}`;
        if (seen.has(id)) found.push({ path: [...path, String(key.value)], offset: key.range?.[0] ?? 0 });
        else seen.add(id);
        walk(pair.value, [...path, String(key.value)], found);
      } else {
        walk(pair.value, path, found);
      }
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => walk(item, [...path, i], found));
  }
}
