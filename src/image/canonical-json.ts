import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors/catalog.ts';

/**
 * Canonical JSON: object keys sorted by UTF-16 code unit order, no whitespace, properties
 * whose value is `undefined` left out, numbers as `JSON.stringify` writes them. Two values
 * that are equal as JSON data give the same text, whatever order their keys were written
 * in, which is what makes hashes of configurations and manifests stable.
 *
 * Only JSON data is accepted (plain objects, arrays, strings, finite numbers, booleans,
 * null); anything else (a Map, a bigint, NaN, a function) throws `InvalidArgumentError`
 * naming its path, because it would not survive a round trip through a manifest.
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  try {
    return write(value);
  } catch (err) {
    // The walk keeps no path (building one per value cost most of the time on large
    // manifests); the path of what is not JSON is found by a second walk.
    if (err === NOT_JSON) throw new InvalidArgumentError(`canonical JSON: ${firstProblem(value, '$')}`);
    throw err;
  }
}

/** SHA-256 of `data` (a string is hashed as UTF-8), lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Thrown by `write` for a value that is not JSON data. */
const NOT_JSON = Symbol('not JSON data');

function write(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw NOT_JSON;
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => write(v === undefined ? null : v)).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw NOT_JSON;
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        if (record[key] === undefined) continue;
        parts.push(`${JSON.stringify(key)}:${write(record[key])}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw NOT_JSON;
  }
}

/** What the first value that is not JSON data is, and its path (in the order `write` meets it); undefined when all is JSON. */
function firstProblem(value: unknown, path: string): string | undefined {
  if (value === null) return undefined;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}, not a finite number`;
    case 'object': {
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const found = value[i] === undefined ? undefined : firstProblem(value[i], `${path}[${i}]`);
          if (found !== undefined) return found;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return `${path} is a ${proto?.constructor?.name ?? 'non-plain object'}, not plain data`;
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record).sort()) {
        const found = record[key] === undefined ? undefined : firstProblem(record[key], `${path}.${key}`);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    default:
      return `${path} is a ${typeof value}, not JSON data`;
  }
}
