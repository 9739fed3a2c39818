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
  const issues: ConfigIssue[] = result.error.issues.map((issue) => {
    const code = issueCode(issue);
    return { path: formatPath([...pathPrefix, ...issue.path]), message: issue.message, ...(code === undefined ? {} : { code }) };
  });
  throw new ConfigValidationError(subject, issues);
}

/**
 * The `ISSUE_CODES` code a zod issue carries in `params.code` (set by schemas such as
 * `ipv4AddressField` through `ipv6UnsupportedIssue`), if any.
 */
export function issueCode(issue: object): IssueCode | undefined {
  const code = ((issue as { params?: unknown }).params as { code?: unknown } | undefined)?.code;
  return (ISSUE_CODES as readonly unknown[]).includes(code) ? (code as IssueCode) : undefined;
}
