import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigValidationError, type ConfigIssue } from '../errors/catalog.ts';
import { formatPath } from '../config/validate-config.ts';
import { DEFAULT_IMAGE_MEMORY_MIB } from '../image/image-manifest.ts';
import type { FunctionRegistry } from '../pipeline/function-registry.ts';
import type { ChainFunctionSpec, ChainSpec } from './chain-spec.ts';
import { chainSpecSchema, type ChainSpecDocument } from './chain-spec-schema.ts';
import { checkChainSpec, checkChainSpecInSlices, fromZodIssue, type SpecIssue } from './chain-spec-rules.ts';
import { specErrorMap } from './spec-messages.ts';
import { YamlLocator } from './yaml-locator.ts';
import { findDeepNesting } from './nesting-guard.ts';
import { findDuplicateKeys } from './duplicate-keys.ts';
import { limitMessage, SPEC_LIMITS } from './spec-limits.ts';

/** Most aliases a spec may expand (guards against "billion laughs" documents). */
const MAX_ALIAS_COUNT = 100;
/** YAML syntax errors reported one by one; later ones are mostly echoes of the first. */
const MAX_SYNTAX_ERRORS = 10;
/** Issues listed one by one in the error; a last issue counts the rest. */
export const MAX_REPORTED_ISSUES = 200;

/**
 * Parses and validates a chain spec (YAML text). Returns the spec with every default
 * applied and each function's configuration parsed by that function's schema, or throws
 * ONE `ConfigValidationError` listing every problem found (YAML syntax, shapes, unknown
 * fields, cross-field rules, each function's config), sorted by position, each with
 * `file` = `source`, `line`, `column` and the field path:
 *
 * ```
 * chain spec web-edge.yaml: 2 problem(s)
 *   web-edge.yaml:14:9 spec.functions[1].config.services[0].backends[0].address: not an IP address (IPv4 a.b.c.d or IPv6 such as 2001:db8::1)
 *   web-edge.yaml:31:14 spec.functions[2].scaling.min: min (3) > max (2)
 * ```
 *
 * Nothing else is thrown for any input text. YAML syntax errors are reported alone (the
 * structure after them cannot be trusted); duplicate keys are reported with the rest. A text
 * larger than `SPEC_LIMITS.specBytes` is refused before any parsing; the other limits of
 * `SPEC_LIMITS` are problems like the rest, at their field path. Everything runs on the
 * calling thread: the controller uses `SpecParser`, which moves the YAML work to a worker.
 *
 * @example
 * ```ts
 * const registry = registerBuiltinFunctions(new FunctionRegistry());
 * const spec = parseChainSpec(text, 'web-edge.yaml', registry);
 * spec.spec.functions[0].scaling; // { min: 1, max: 4, target: 500000, drainTimeoutSeconds: 30, cooldownSeconds: 10 }
 * ```
 */
export function parseChainSpec(text: string, source: string, registry: FunctionRegistry): ChainSpec {
  const { raw, locator, duplicates } = readSpecYaml(text, source);
  const result = validateSpecData(raw, registry);
  if (result.spec === undefined || duplicates.length > 0) fail(source, [...duplicates, ...locateIssues(result.issues, source, locator)]);
  return result.spec;
}

/** What `readSpecYaml` made of a text: its plain data, and how to find a field path in the text. */
export interface SpecYaml {
  readonly raw: unknown;
  readonly locator: YamlLocator;
  /** Duplicate keys, located: reported with the issues the schema finds (the data is still checked). */
  readonly duplicates: readonly ConfigIssue[];
}

/**
 * The YAML half of `parseChainSpec`: checks the size (`SPEC_LIMITS.specBytes`, before
 * anything else) and the nesting depth, parses, reports syntax errors and duplicate keys
 * (syntax errors: one `ConfigValidationError`; duplicate keys: returned located, to be
 * reported with the schema's issues), and turns the document into plain data. Its cost grows
 * with the text; `SpecParser` runs it off the event loop.
 */
export function readSpecYaml(text: string, source: string, maxBytes: number = SPEC_LIMITS.specBytes.value): SpecYaml {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) fail(source, [{ file: source, line: 1, column: 1, path: '', message: `spec too large: ${limitMessage('specBytes', bytes, maxBytes)}` }]);
  const deep = findDeepNesting(text);
  if (deep !== undefined) {
    const { line, column } = new YamlLocator(undefined, text).position(deep.offset);
    fail(source, [{ file: source, line, column, path: '', message: `YAML: ${deep.message}` }]);
  }
  // Keys are checked below in one linear pass; the library's own check is quadratic.
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false, version: '1.2', merge: false });
  const locator = new YamlLocator(doc, text);
  const issues: ConfigIssue[] = [];
  const at = (path: readonly PropertyKey[], message: string, position: { line: number; column: number }): void => {
    issues.push({ file: source, line: position.line, column: position.column, path: formatPath(path), message });
  };

  let syntaxErrors = 0;
  for (const error of doc.errors) {
    if (++syntaxErrors <= MAX_SYNTAX_ERRORS) {
      at([], error.code === 'MULTIPLE_DOCS' ? 'a chain spec is one YAML document (found a second after "---")' : `YAML: ${error.message}`, locator.position(error.pos[0]));
    }
  }
  if (syntaxErrors > MAX_SYNTAX_ERRORS) {
    const last = doc.errors[MAX_SYNTAX_ERRORS];
    at([], `YAML: ${syntaxErrors - MAX_SYNTAX_ERRORS} more syntax error(s) from here on, most likely caused by the first ones`, locator.position(last.pos[0]));
  }
  if (syntaxErrors > 0) fail(source, issues);
  if (doc.contents === null) {
    at([], 'empty document: expected a ServiceFunctionChain (apiVersion, kind, metadata, spec)', { line: 1, column: 1 });
    fail(source, issues);
  }
  const duplicates = findDuplicateKeys(doc);
  for (const dup of duplicates.slice(0, MAX_REPORTED_ISSUES + 1)) at(dup.path, 'duplicate key (a YAML mapping holds each key once)', locator.position(dup.offset));

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    at([], `YAML: ${(err as Error).message}`, { line: 1, column: 1 });
    fail(source, issues);
  }
  return { raw, locator, duplicates: issues };
}

/** What `validateSpecData` found: the spec, or the issues (without positions). */
export interface SpecDataCheck {
  /** The spec with every default applied; undefined when there are issues. */
  readonly spec: ChainSpec | undefined;
  readonly issues: readonly SpecIssue[];
}

/**
 * The schema half of `parseChainSpec`: the zod schema, the cross-field rules, the limits
 * and each function's config schema, on the plain data of a document. Its cost is bounded
 * by the limits (`SPEC_LIMITS`), so it may run on the event loop.
 */
export function validateSpecData(raw: unknown, registry: FunctionRegistry): SpecDataCheck {
  const parsed = chainSpecSchema.safeParse(raw, { error: specErrorMap });
  const issues: SpecIssue[] = parsed.success ? [] : parsed.error.issues.flatMap((issue) => fromZodIssue(issue));
  const check = checkChainSpec(raw, registry);
  issues.push(...check.issues);
  if (issues.length > 0 || !parsed.success) return { spec: undefined, issues };
  return { spec: toChainSpec(parsed.data, check.configs, registry), issues };
}

/**
 * `validateSpecData` in slices: the event loop gets a turn (`pause`) after the schema and
 * after each function's config check (`checkChainSpecInSlices`).
 */
export async function validateSpecDataInSlices(raw: unknown, registry: FunctionRegistry, pause: () => Promise<void>): Promise<SpecDataCheck> {
  const parsed = chainSpecSchema.safeParse(raw, { error: specErrorMap });
  await pause();
  const issues: SpecIssue[] = parsed.success ? [] : parsed.error.issues.flatMap((issue) => fromZodIssue(issue));
  const check = await checkChainSpecInSlices(raw, registry, pause);
  issues.push(...check.issues);
  if (issues.length > 0 || !parsed.success) return { spec: undefined, issues };
  return { spec: toChainSpec(parsed.data, check.configs, registry), issues };
}

/** Each issue with `file` = `source` and the line and column of its field path. */
export function locateIssues(issues: readonly SpecIssue[], source: string, locator: YamlLocator): ConfigIssue[] {
  return issues.map((issue) => {
    const { line, column } = locator.locate(issue.path, issue.atKey === true);
    const located: ConfigIssue = { file: source, line, column, path: formatPath(issue.path), message: issue.message };
    if (issue.code !== undefined) located.code = issue.code;
    return located;
  });
}

/**
 * Reads and parses a chain spec file (see `parseChainSpec`); positions name `path` as given.
 * An unreadable file is a `ConfigValidationError` naming the path.
 *
 * @example
 * ```ts
 * const spec = loadChainSpec('topologies/web-edge.yaml', registry);
 * ```
 */
export function loadChainSpec(path: string, registry: FunctionRegistry): ChainSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigValidationError(`chain spec ${path}`, [{ file: path, path: '', message: `cannot read the file: ${reason}` }]);
  }
  return parseChainSpec(text, path, registry);
}

/** Throws one `ConfigValidationError` with `issues` sorted by position, repeats removed, at most `MAX_REPORTED_ISSUES` listed. */
export function fail(source: string, issues: ConfigIssue[]): never {
  const sorted = issues
    .map((issue, order) => ({ issue, order }))
    .sort((a, b) => (a.issue.line ?? 0) - (b.issue.line ?? 0) || (a.issue.column ?? 0) - (b.issue.column ?? 0) || a.order - b.order)
    .map((e) => e.issue);
  const seen = new Set<string>();
  const unique = sorted.filter((i) => {
    const key = `${i.line}:${i.column} ${i.path}: ${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (unique.length === 0) unique.push({ file: source, line: 1, column: 1, path: '', message: 'invalid chain spec' });
  if (unique.length > MAX_REPORTED_ISSUES) {
    const rest = unique.length - MAX_REPORTED_ISSUES;
    unique.splice(MAX_REPORTED_ISSUES, rest, { ...unique[MAX_REPORTED_ISSUES], path: '', message: `${rest} more problem(s) from here on, not listed` });
  }
  throw new ConfigValidationError(`chain spec ${source}`, unique);
}

function toChainSpec(doc: ChainSpecDocument, configs: Map<number, unknown>, registry: FunctionRegistry): ChainSpec {
  const functions = doc.spec.functions.map((fn, i): ChainFunctionSpec => {
    if (fn.image !== undefined) {
      return { name: fn.name, image: fn.image.toLowerCase(), scaling: fn.scaling, healthChecks: fn.healthChecks, resources: { memoryMiB: fn.resources.memory } };
    }
    const name = fn.function as string;
    return {
      name: fn.name,
      function: name,
      config: configs.get(i),
      rawConfig: fn.config === undefined ? {} : fn.config,
      scaling: fn.scaling,
      healthChecks: fn.healthChecks,
      resources: { memoryMiB: fn.resources.memory ?? registry.get(name).memoryMiB ?? DEFAULT_IMAGE_MEMORY_MIB },
    };
  });
  const { classifier } = doc.spec;
  return {
    apiVersion: doc.apiVersion,
    kind: doc.kind,
    metadata: { name: doc.metadata.name, labels: doc.metadata.labels },
    spec: {
      ingress: doc.spec.ingress,
      egress: doc.spec.egress,
      ...(classifier === undefined ? {} : { classifier }),
      functions,
      placement: doc.spec.placement,
    },
  };
}
