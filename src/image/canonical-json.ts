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
  return write(value, '$');
}

/** SHA-256 of `data` (a string is hashed as UTF-8), lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidArgumentError(`canonical JSON: ${path} is ${value}, not a finite number`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => write(v === undefined ? null : v, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new InvalidArgumentError(`canonical JSON: ${path} is a ${proto?.constructor?.name ?? 'non-plain object'}, not plain data`);
      }
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        if (record[key] === undefined) continue;
        parts.push(`${JSON.stringify(key)}:${write(record[key], `${path}.${key}`)}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      throw new InvalidArgumentError(`canonical JSON: ${path} is a ${typeof value}, not JSON data`);
  }
}
