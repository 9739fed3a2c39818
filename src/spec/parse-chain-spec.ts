import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigValidationError, type ConfigIssue } from '../errors/catalog.ts';
import { formatPath } from '../config/validate-config.ts';
import { DEFAULT_IMAGE_MEMORY_MIB } from '../image/image-manifest.ts';
import type { FunctionRegistry } from '../pipeline/function-registry.ts';
import type { ChainFunctionSpec, ChainSpec } from './chain-spec.ts';
import { chainSpecSchema, type ChainSpecDocument } from './chain-spec-schema.ts';
import { checkChainSpec, fromZodIssue, type SpecIssue } from './chain-spec-rules.ts';
import { specErrorMap } from './spec-messages.ts';
import { YamlLocator } from './yaml-locator.ts';
import { findDeepNesting } from './nesting-guard.ts';

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
 *   web-edge.yaml:14:9 spec.functions[1].config.services[0].backends[0].address: not an IPv4 address
 *   web-edge.yaml:31:14 spec.functions[2].scaling.min: min (3) > max (2)
 * ```
 *
 * Nothing else is thrown for any input text. YAML syntax errors are reported alone (the
 * structure after them cannot be trusted); duplicate keys are reported with the rest.
 *
 * @example
 * ```ts
 * const registry = registerBuiltinFunctions(new FunctionRegistry());
 * const spec = parseChainSpec(text, 'web-edge.yaml', registry);
 * spec.spec.functions[0].scaling; // { min: 1, max: 4, target: 500000, drainTimeoutSeconds: 30, cooldownSeconds: 10 }
 * ```
 */
export function parseChainSpec(text: string, source: string, registry: FunctionRegistry): ChainSpec {
  const deep = findDeepNesting(text);
  if (deep !== undefined) {
    const { line, column } = new YamlLocator(undefined, text).position(deep.offset);
    fail(source, [{ file: source, line, column, path: '', message: `YAML: ${deep.message}` }]);
  }
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, version: '1.2', merge: false });
  const locator = new YamlLocator(doc, text);
  const issues: ConfigIssue[] = [];
  const at = (path: readonly PropertyKey[], message: string, position: { line: number; column: number }): void => {
    issues.push({ file: source, line: position.line, column: position.column, path: formatPath(path), message });
  };

  let syntaxErrors = 0;
  for (const error of doc.errors) {
    const position = locator.position(error.pos[0]);
    if (error.code === 'DUPLICATE_KEY') {
      at(locator.keyPathAt(error.pos[0]) ?? [], 'duplicate key (a YAML mapping holds each key once)', position);
    } else if (++syntaxErrors <= MAX_SYNTAX_ERRORS) {
      at([], error.code === 'MULTIPLE_DOCS' ? 'a chain spec is one YAML document (found a second after "---")' : `YAML: ${error.message}`, position);
    }
  }
  if (syntaxErrors > MAX_SYNTAX_ERRORS) {
    const last = doc.errors.filter((e) => e.code !== 'DUPLICATE_KEY')[MAX_SYNTAX_ERRORS];
    at([], `YAML: ${syntaxErrors - MAX_SYNTAX_ERRORS} more syntax error(s) from here on, most likely caused by the first ones`, locator.position(last.pos[0]));
  }
  if (syntaxErrors > 0) fail(source, issues);
  if (doc.contents === null) {
    at([], 'empty document: expected a ServiceFunctionChain (apiVersion, kind, metadata, spec)', { line: 1, column: 1 });
    fail(source, issues);
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    at([], `YAML: ${(err as Error).message}`, { line: 1, column: 1 });
    fail(source, issues);
  }

  const parsed = chainSpecSchema.safeParse(raw, { error: specErrorMap });
  const found: SpecIssue[] = parsed.success ? [] : parsed.error.issues.flatMap((issue) => fromZodIssue(issue));
  const check = checkChainSpec(raw, registry);
  found.push(...check.issues);
  for (const issue of found) at(issue.path, issue.message, locator.locate(issue.path, issue.atKey === true));
  if (issues.length > 0 || !parsed.success) fail(source, issues);
  return toChainSpec(parsed.data, check.configs, registry);
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

function fail(source: string, issues: ConfigIssue[]): never {
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
      return { name: fn.name, image: fn.image.toLowerCase(), scaling: fn.scaling, resources: { memoryMiB: fn.resources.memory } };
    }
    const name = fn.function as string;
    return {
      name: fn.name,
      function: name,
      config: configs.get(i),
      rawConfig: fn.config === undefined ? {} : fn.config,
      scaling: fn.scaling,
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
