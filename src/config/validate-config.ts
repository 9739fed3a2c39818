import type { z } from 'zod';
import { ConfigValidationError, ISSUE_CODES, type ConfigIssue, type IssueCode } from '../errors/catalog.ts';

/**
 * Formats a field path the way users write it: `rules[3].dst`, `spec.functions[1].config`.
 *
 * @example
 * ```ts
 * formatPath(['rules', 3, 'dst']); // 'rules[3].dst'
 * ```
 */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/**
 * Validates `value` against `schema` and returns the parsed value, or throws a
 * `ConfigValidationError` listing every issue with its field path (prefixed by `pathPrefix`).
 *
 * @example
 * ```ts
 * const cfg = validateConfig(firewall.config, raw, 'firewall config');
 * ```
 */
export function validateConfig<T>(schema: z.ZodType<T>, value: unknown, subject: string, pathPrefix: PropertyKey[] = []): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: ConfigIssue[] = result.error.issues.flatMap((issue) => leafIssues(issue, pathPrefix)).map((issue) => {
    const code = issueCode(issue);
    return { path: formatPath(issue.path), message: issue.message, ...(code === undefined ? {} : { code }) };
  });
  throw new ConfigValidationError(subject, issues);
}

/** The fields of a zod issue that `leafIssues` and the chain spec's `fromZodIssue` read. */
export interface ZodIssueLike {
  readonly code: string;
  readonly path: PropertyKey[];
  readonly message: string;
  readonly keys?: string[];
  readonly errors?: ZodIssueLike[][];
  readonly params?: unknown;
}

/**
 * The branch that says what is wrong with a value a union refused: the one branch whose
 * type the value has (the string of `CIDR | CIDR[]`), or `undefined` when that is not one.
 */
export function typedUnionBranch(issue: ZodIssueLike): ZodIssueLike[] | undefined {
  if (issue.code !== 'invalid_union' || issue.errors === undefined) return undefined;
  const typed = issue.errors.filter((branch) => !branch.every((inner) => inner.code === 'invalid_type' && inner.path.length === 0));
  return typed.length === 1 ? typed[0] : undefined;
}

/** `issue` under `prefix`, a union refusal replaced by the issues of its typed branch (`typedUnionBranch`). */
function leafIssues(issue: ZodIssueLike, prefix: readonly PropertyKey[]): ZodIssueLike[] {
  const path = [...prefix, ...issue.path];
  const branch = typedUnionBranch(issue);
  if (branch !== undefined) return branch.flatMap((inner) => leafIssues(inner, path));
  return [{ ...issue, path }];
}

/**
 * The `ISSUE_CODES` code a zod issue carries in `params.code` (set by schemas such as
 * `ipv4AddressField` through `ipv6UnsupportedIssue`), if any.
 */
export function issueCode(issue: object): IssueCode | undefined {
  const code = ((issue as { params?: unknown }).params as { code?: unknown } | undefined)?.code;
  return (ISSUE_CODES as readonly unknown[]).includes(code) ? (code as IssueCode) : undefined;
}
