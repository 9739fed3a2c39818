import type { FunctionRegistry } from '../pipeline/function-registry.ts';
import type { IssueCode } from '../errors/catalog.ts';
import { issueCode, typedUnionBranch, type ZodIssueLike } from '../config/validate-config.ts';
import { BUILTIN_PORTS } from '../ports/builtin-ports.ts';
import { specErrorMap } from './spec-messages.ts';
import { limitMessage, SPEC_LIMITS } from './spec-limits.ts';
import { MAX_REPLICAS } from './chain-spec.ts';
import { HEALTH_MIN_INTERVAL_SECONDS } from './health-check-spec.ts';

/** One problem found on the plain data, before it is given a source position. */
export interface SpecIssue {
  /** Field path from the document root. */
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** Point at the key rather than the value (unknown fields). */
  readonly atKey?: boolean;
  /** The `ISSUE_CODES` code of the problem, if it has one (`ConfigIssue.code`). */
  readonly code?: IssueCode;
}

/** What `checkChainSpec` found. */
export interface ChainSpecCheck {
  readonly issues: SpecIssue[];
  /** Parsed configuration of each `function` entry whose config is valid, by index. */
  readonly configs: Map<number, unknown>;
}

/**
 * The rules of a chain spec that span fields or need the function registry, applied to
 * the plain data of the document (whatever its shape: each rule looks only at values of
 * the right type, so it runs even where the schema found other problems):
 *
 * - function names are unique; each entry has exactly one of `function` and `image`;
 *   `config` only with `function`; `function` names a registered function;
 * - each function's `config` passes that function's own schema (paths prefixed with
 *   `spec.functions[i].config`);
 * - `scaling.min ≤ scaling.max`;
 * - each port's own rules across its fields (its port type's `check`, `src/ports/`): a
 *   `pcap` port reads or writes, and its paths stay inside the controller's data directory;
 *   VXLAN peers have unique names and VNIs; generator flows × packet size within the limit;
 * - ingress and egress do not listen on the same UDP socket;
 * - classifier `ports` need `tcp` or `udp` among its `protocols`;
 * - the limits of `SPEC_LIMITS` that span fields: labels, items of any list in a function's
 *   config (checked before the function's schema, which is then skipped), instances per chain (the sum of `scaling.max`), health-check probes per
 *   second;
 * - `healthChecks` only on a registered function with backends, each naming one of its
 *   services once, `addresses` naming that service's backends, `timeoutSeconds ≤
 *   intervalSeconds`, `path` only with `protocol: http`.
 *
 * @example
 * ```ts
 * const { issues, configs } = checkChainSpec(doc.toJS(), registry);
 * ```
 */
export function checkChainSpec(raw: unknown, registry: FunctionRegistry): ChainSpecCheck {
  const check: ChainSpecCheck = { issues: [], configs: new Map() };
  for (const _ of checkSteps(raw, registry, check));
  return check;
}

/**
 * `checkChainSpec` in slices: gives the event loop a turn (`pause`) after each function's
 * config is checked, so that a chain of many functions, each within the limits, never holds
 * the loop for more than one function's check.
 */
export async function checkChainSpecInSlices(raw: unknown, registry: FunctionRegistry, pause: () => Promise<void>): Promise<ChainSpecCheck> {
  const check: ChainSpecCheck = { issues: [], configs: new Map() };
  for (const _ of checkSteps(raw, registry, check)) await pause();
  return check;
}

/** The checks of `checkChainSpec`, yielding after each function. */
function* checkSteps(raw: unknown, registry: FunctionRegistry, check: ChainSpecCheck): Generator<void> {
  const { issues, configs } = check;
  const spec = field(raw, 'spec');
  const functions = field(spec, 'functions');
  const labels = field(field(raw, 'metadata'), 'labels');
  if (isRecord(labels)) {
    const count = Object.keys(labels).length;
    if (count > SPEC_LIMITS.labels.value) issues.push({ path: ['metadata', 'labels'], message: `too many labels: ${limitMessage('labels', count)}` });
  }
  if (Array.isArray(functions)) {
    const names = new Map<string, number>();
    const probes: ProbeRate = { perSecond: 0, reported: false };
    for (const [i, entry] of functions.entries()) {
      checkFunction(entry, i, names, registry, issues, configs);
      checkHealthChecks(entry, i, registry, configs.get(i), issues, probes);
      yield;
    }
    checkInstances(functions, issues);
  }
  const ends = ['ingress', 'egress'] as const;
  for (const end of ends) issues.push(...BUILTIN_PORTS.check(field(spec, end), ['spec', end]));
  const inListen = listenKey(field(spec, 'ingress'));
  if (inListen !== undefined && inListen === listenKey(field(spec, 'egress'))) {
    issues.push({ path: ['spec', 'egress', 'listen'], message: `${inListen} is also spec.ingress.listen; the two ends need their own UDP sockets` });
  }
  if (field(spec, 'placement') === 'fused' && Array.isArray(functions)) {
    functions.forEach((entry, i) => {
      if (isRecord(entry) && entry.image !== undefined) {
        issues.push({ path: ['spec', 'functions', i, 'image'], message: 'fused placement compiles every function into one image: give `function` and `config`, not a prebuilt image' });
      }
    });
  }
  const classifier = field(spec, 'classifier');
  const protocols = field(classifier, 'protocols');
  if (Array.isArray(field(classifier, 'ports')) && Array.isArray(protocols) && !protocols.includes('tcp') && !protocols.includes('udp')) {
    issues.push({ path: ['spec', 'classifier', 'ports'], message: 'ports need tcp or udp in protocols' });
  }
}

function checkFunction(entry: unknown, i: number, names: Map<string, number>, registry: FunctionRegistry, issues: SpecIssue[], configs: Map<number, unknown>): void {
  if (!isRecord(entry)) return;
  const at = ['spec', 'functions', i];
  const name = entry.name;
  if (typeof name === 'string') {
    const first = names.get(name);
    if (first !== undefined) issues.push({ path: [...at, 'name'], message: `duplicate function name "${name}" (also spec.functions[${first}])` });
    else names.set(name, i);
  }
  const hasFunction = entry.function !== undefined;
  const hasImage = entry.image !== undefined;
  if (hasFunction && hasImage) issues.push({ path: [...at, 'image'], message: 'give `function` or `image`, not both' });
  if (!hasFunction && !hasImage) issues.push({ path: at, message: 'needs `function` (a registered function) or `image` (a built image id)' });
  if (hasImage && !hasFunction && 'config' in entry) {
    issues.push({ path: [...at, 'config'], message: '`config` needs `function`; an image has its configuration built in', atKey: true });
  }
  const longList = longestList(entry.config, [...at, 'config']);
  if (longList !== undefined) {
    issues.push({ path: longList.path, message: `list too long: ${limitMessage('configListItems', longList.items)}` });
  } else if (typeof entry.function === 'string' && entry.function !== '') {
    const known = registry.names();
    if (!known.includes(entry.function)) {
      issues.push({ path: [...at, 'function'], message: `unknown function "${entry.function}"; known: ${known.join(', ') || 'none'}` });
    } else {
      const prefix = [...at, 'config'];
      const result = registry.get(entry.function).config.safeParse(entry.config === undefined ? {} : entry.config, { error: specErrorMap });
      if (result.success) configs.set(i, result.data);
      else for (const issue of result.error.issues) issues.push(...fromZodIssue(issue, prefix));
    }
  }
  const scaling = entry.scaling;
  if (isRecord(scaling) && Number.isInteger(scaling.min) && Number.isInteger(scaling.max) && (scaling.min as number) > (scaling.max as number)) {
    issues.push({ path: [...at, 'scaling', 'min'], message: `min (${scaling.min}) > max (${scaling.max})` });
  }
}

/** Health-check probes per second of the functions checked so far. */
interface ProbeRate {
  perSecond: number;
  reported: boolean;
}

/**
 * A function's `healthChecks`: only for a registered function with backends; each names a
 * service of its (valid) config once; `addresses` keys are backends of that service;
 * `timeoutSeconds ≤ intervalSeconds`; `path` only for http; the chain's probes per second
 * within `SPEC_LIMITS.healthProbesPerSecond`.
 */
function checkHealthChecks(entry: unknown, i: number, registry: FunctionRegistry, config: unknown, issues: SpecIssue[], probes: ProbeRate): void {
  const checks = field(entry, 'healthChecks');
  if (!Array.isArray(checks) || checks.length === 0 || !isRecord(entry)) return;
  const at = ['spec', 'functions', i, 'healthChecks'];
  if (entry.image !== undefined && entry.function === undefined) {
    issues.push({ path: at, message: 'health checks need `function` (its config names the backends), not a prebuilt image', atKey: true });
    return;
  }
  const fnName = entry.function;
  if (typeof fnName !== 'string' || !registry.names().includes(fnName)) return;
  const backends = registry.get(fnName).backends;
  if (backends === undefined) {
    issues.push({ path: at, message: `function "${fnName}" has no backends to check`, atKey: true });
    return;
  }
  const list = config === undefined ? undefined : backends.list(config);
  const services = list === undefined ? undefined : [...new Set(list.map((b) => b.service))];
  const seen = new Map<string, number>();
  checks.forEach((check, j) => {
    if (!isRecord(check)) return;
    const here = [...at, j];
    const interval = typeof check.intervalSeconds === 'number' ? check.intervalSeconds : 2;
    if (typeof check.timeoutSeconds === 'number' && check.timeoutSeconds > interval) {
      issues.push({ path: [...here, 'timeoutSeconds'], message: `timeoutSeconds (${check.timeoutSeconds}) > intervalSeconds (${interval}): a probe must end before the next` });
    }
    if (check.path !== undefined && check.protocol !== 'http') issues.push({ path: [...here, 'path'], message: '`path` needs protocol: http', atKey: true });
    if (typeof check.service !== 'string' || list === undefined || services === undefined) return;
    const service = check.service;
    const first = seen.get(service);
    if (first !== undefined) issues.push({ path: [...here, 'service'], message: `service "${service}" is already checked by healthChecks[${first}]` });
    else seen.set(service, j);
    if (!services.includes(service)) {
      issues.push({ path: [...here, 'service'], message: `function "${fnName}" has no service "${service}"; it has ${services.map((x) => `"${x}"`).join(', ')}` });
      return;
    }
    const own = list.filter((b) => b.service === service);
    if (isRecord(check.addresses)) {
      for (const key of Object.keys(check.addresses)) {
        if (!own.some((b) => b.name === key)) {
          issues.push({ path: [...here, 'addresses', key], message: `service "${service}" has no backend ${key}; it has ${own.map((b) => b.name).join(', ')}`, atKey: true });
        }
      }
    }
    // An interval outside the schema's range is reported there, not counted here.
    if (interval >= HEALTH_MIN_INTERVAL_SECONDS) probes.perSecond += own.length / interval;
    const limit = SPEC_LIMITS.healthProbesPerSecond.value;
    if (!probes.reported && probes.perSecond > limit) {
      probes.reported = true;
      issues.push({ path: [...here, 'intervalSeconds'], message: `health checks up to here probe ${limitMessage('healthProbesPerSecond', Math.ceil(probes.perSecond))}; probe less often or fewer backends` });
    }
  });
}

/** The instances a chain may run: the sum of its functions' `scaling.max` (`max` defaults to `min`). */
function checkInstances(functions: readonly unknown[], issues: SpecIssue[]): void {
  const limit = SPEC_LIMITS.instancesPerChain.value;
  let total = 0;
  functions.forEach((entry, i) => {
    const scaling = field(entry, 'scaling');
    const max = field(scaling, 'max') ?? field(scaling, 'min') ?? 1;
    // A count outside 1..MAX_REPLICAS is the schema's to report.
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_REPLICAS) return;
    const before = total;
    total += max;
    if (before <= limit && total > limit) {
      issues.push({ path: ['spec', 'functions', i, 'scaling', field(scaling, 'max') === undefined ? 'min' : 'max'], message: `too many instances: functions [0..${i}] may run ${limitMessage('instancesPerChain', total)}` });
    }
  });
}

/** The first list (depth first) in `value` longer than `SPEC_LIMITS.configListItems`, with its path. */
function longestList(value: unknown, at: readonly PropertyKey[]): { path: PropertyKey[]; items: number } | undefined {
  const stack: Array<[unknown, PropertyKey[]]> = [[value, [...at]]];
  while (stack.length > 0) {
    const [node, path] = stack.pop() as [unknown, PropertyKey[]];
    if (Array.isArray(node)) {
      if (node.length > SPEC_LIMITS.configListItems.value) return { path, items: node.length };
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], [...path, i]]);
    } else if (isRecord(node)) {
      for (const key of Object.keys(node).reverse()) stack.push([node[key], [...path, key]]);
    }
  }
  return undefined;
}

/** `address:port` a VXLAN port listens on, if it is one with a readable listen address. */
function listenKey(port: unknown): string | undefined {
  if (!isRecord(port) || port.type !== 'vxlan') return undefined;
  const listen = port.listen;
  if (!isRecord(listen) || typeof listen.address !== 'string') return undefined;
  const p = listen.port === undefined ? 4789 : listen.port;
  return `${listen.address}:${String(p)}`;
}

/**
 * The `SpecIssue`s of one zod issue, under `prefix`: an `unrecognized_keys` issue becomes
 * one issue per unknown key, pointing at the key; a union that the value matches by type
 * in exactly one branch is reported by that branch's issues.
 */
export function fromZodIssue(issue: ZodIssueLike, prefix: readonly PropertyKey[] = []): SpecIssue[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys' && issue.keys !== undefined) {
    return issue.keys.map((key) => ({ path: [...path, key], message: issue.message, atKey: true }));
  }
  // The one branch whose type the value has (e.g. the string of `CIDR | CIDR[]`) says what is wrong.
  const branch = typedUnionBranch(issue);
  if (branch !== undefined) return branch.flatMap((inner) => fromZodIssue(inner, path));
  const code = issueCode(issue);
  return [code === undefined ? { path, message: issue.message } : { path, message: issue.message, code }];
}

/** The fields of a zod issue that `fromZodIssue` reads. */
export type { ZodIssueLike } from '../config/validate-config.ts';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}
