import { isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';

/** A 1-based line and column in a source text. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/**
 * Finds where a field path points in a parsed YAML document, so that an issue found on
 * the plain data (`spec.functions[1].config`) can be reported at its line and column.
 * A path that does not exist in the document (a missing field) resolves to its nearest
 * existing parent; an empty value (`config:` with nothing after it) resolves to its key.
 *
 * Lines and columns are counted on the text itself (the YAML library's `LineCounter`
 * misses newlines inside tokens of broken documents).
 *
 * @example
 * ```ts
 * const doc = parseDocument(text);
 * new YamlLocator(doc, text).locate(['spec', 'functions', 1, 'name']); // { line: 14, column: 11 }
 * ```
 */
export class YamlLocator {
  private readonly doc: Document | undefined;
  /** Offset at which each line starts. */
  private readonly lineStarts: number[] = [0];

  constructor(doc: Document | undefined, text: string) {
    this.doc = doc;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.lineStarts.push(i + 1);
  }

  /** Position of a source offset. */
  position(offset: number): SourcePosition {
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo] + 1 };
  }

  /**
   * Position of the value at `path`, or of its key when `atKey` (an unknown field) or when
   * the value is empty; the nearest existing parent when the path is not in the document.
   */
  locate(path: ReadonlyArray<PropertyKey>, atKey = false): SourcePosition {
    if (this.doc === undefined) return this.position(0);
    let node: unknown = this.doc.contents;
    let offset = startOf(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(this.doc);
      const segment = path[i];
      if (isMap(node)) {
        let pair: { key: unknown; value: unknown } | undefined;
        for (const p of node.items) if (isScalar(p.key) && String(p.key.value) === String(segment)) pair = p;
        if (pair === undefined) break;
        const keyStart = startOf(pair.key);
        const valueStart = isEmpty(pair.value) ? undefined : startOf(pair.value);
        const last = i === path.length - 1;
        offset = (last && atKey ? keyStart : valueStart ?? keyStart) ?? offset;
        if (valueStart === undefined) break;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        const start = startOf(item);
        if (start === undefined) break;
        offset = start;
        if (isEmpty(item)) break;
        node = item;
      } else {
        break;
      }
    }
    return this.position(offset);
  }

  /** Field path of the mapping key that starts at `offset` (e.g. a duplicate key), if any. */
  keyPathAt(offset: number): PropertyKey[] | undefined {
    return this.doc === undefined ? undefined : findKey(this.doc.contents, offset, [], 0);
  }
}

function findKey(node: unknown, offset: number, path: PropertyKey[], depth: number): PropertyKey[] | undefined {
  if (depth > 256) return undefined;
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      if (startOf(pair.key) === offset) return [...path, key];
      const inner = findKey(pair.value, offset, [...path, key], depth + 1);
      if (inner !== undefined) return inner;
    }
  } else if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const inner = findKey(node.items[i], offset, [...path, i], depth + 1);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

function startOf(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range === undefined || range === null ? undefined : range[0];
}

/** A null scalar with no source text (`key:` followed by nothing). */
function isEmpty(node: unknown): boolean {
  if (node === null || node === undefined) return true;
  if (!isScalar(node) || node.value !== null) return false;
  const range = node.range;
  return range === undefined || range === null || range[0] === range[1];
}
