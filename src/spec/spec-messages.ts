import type { z } from 'zod';

/**
 * Messages for the people who write chain specs: zod's defaults ("Invalid input: expected
 * string, received undefined") reworded in YAML terms ("required", "expected a number,
 * got a string"). Messages a schema sets itself (`'not an IPv4 address'`) win over these,
 * so the functions' own wording is kept.
 *
 * @example
 * ```ts
 * const result = schema.safeParse(value, { error: specErrorMap });
 * ```
 */
export const specErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      if (issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean')) {
        return `expected a string, got ${String(issue.input)} (write it in quotes)`;
      }
      return `expected ${typeName(issue.expected)}, got ${describeValue(issue.input, typeof issue.received === 'string' ? issue.received : undefined)}`;
    case 'invalid_value':
      if (issue.values.length === 1) return `must be ${JSON.stringify(issue.values[0])}`;
      return `expected one of ${issue.values.map((v) => String(v)).join(', ')}, got ${describeValue(issue.input)}`;
    case 'invalid_union': {
      if (issue.discriminator !== undefined) {
        const options = ((issue as { options?: readonly unknown[] }).options ?? []).map((v) => String(v)).join(', ');
        const value = isRecord(issue.input) ? issue.input[issue.discriminator] : undefined;
        return value === undefined ? `required (one of ${options})` : `expected one of ${options}, got ${describeValue(value)}`;
      }
      const expected = new Set<string>();
      for (const branch of issue.errors) for (const inner of branch) if (inner.code === 'invalid_type' && inner.path.length === 0) expected.add(typeName(inner.expected));
      if (expected.size === issue.errors.length) return `expected ${[...expected].join(' or ')}, got ${describeValue(issue.input)}`;
      return undefined;
    }
    case 'too_small':
      return bound(issue.origin, issue.minimum, issue.inclusive, 'at least', '>');
    case 'too_big':
      return bound(issue.origin, issue.maximum, issue.inclusive, 'at most', '<');
    case 'invalid_key':
      return issue.issues[0]?.message;
    case 'unrecognized_keys': {
      const shape = (issue.inst as { shape?: Record<string, unknown> } | undefined)?.shape;
      return shape === undefined ? 'unknown field' : `unknown field (known: ${Object.keys(shape).join(', ')})`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return undefined;
  }
};

function bound(origin: string, limit: number | bigint, inclusive: boolean | undefined, words: string, op: '<' | '>'): string | undefined {
  switch (origin) {
    case 'array':
    case 'set':
      return `needs ${words} ${limit} item${Number(limit) === 1 ? '' : 's'}`;
    case 'string':
      return Number(limit) === 1 && op === '>' ? 'must not be empty' : `needs ${words} ${limit} characters`;
    case 'number':
    case 'int':
    case 'bigint':
      return `must be ${op}${inclusive === false ? '' : '='} ${limit}`;
    default:
      return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

/** How a YAML value is named in a message: `a string ("abc")`, `1.5`, `a list`. */
function describeValue(value: unknown, received?: string): string {
  if (received !== undefined && value === null) return received;
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)})`;
    case 'number':
      return String(value);
    case 'boolean':
      return String(value);
    case 'object':
      return 'a mapping';
    case 'undefined':
      return 'nothing';
    default:
      return typeof value;
  }
}
