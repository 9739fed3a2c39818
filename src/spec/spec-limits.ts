/**
 * The limits of what a chain spec may ask for, declared once. The spec schema
 * (`chain-spec-schema.ts`, `checkSpecLimits`), the parser (spec bytes before any parsing),
 * the controller (`ApplyAdmission`: instances in all, concurrent applies) and the docs
 * table (`docs/limits.md`, kept equal by a test) all read this table.
 *
 * Each limit is chosen so that the largest spec it allows applies on a 2-core machine
 * while the controller's event loop stays responsive (see `docs/limits.md` for the figures).
 *
 * @example
 * ```ts
 * if (labels > SPEC_LIMITS.labels.value) issues.push({ path: ['metadata', 'labels'], message: limitMessage('labels', labels) });
 * ```
 */

/** How a violation is reported: the spec is wrong, or the controller has no room for it now. */
export type LimitKind = 'INVALID_ARGUMENT' | 'RESOURCE_EXHAUSTED';

/** One row of the limits table. */
export interface SpecLimit {
  /** Largest value allowed (inclusive). */
  readonly value: number;
  /** Unit of `value`, for messages and docs. */
  readonly unit: string;
  /** Field path the violation is reported at (`[i]`: the offending function or list). */
  readonly field: string;
  /** gRPC status of a violation. */
  readonly kind: LimitKind;
  /** Why the limit exists, one line. */
  readonly why: string;
}

/** Every limit by name. `RESOURCE_EXHAUSTED` limits are the controller's, checked at apply time. */
export const SPEC_LIMITS = Object.freeze({
  specBytes: {
    value: 256 * 1024,
    unit: 'bytes (UTF-8)',
    field: '(root)',
    kind: 'INVALID_ARGUMENT',
    why: 'checked before any parsing: YAML composition costs ~4 µs per byte here, so the text bounds all parsing work',
  },
  labels: {
    value: 64,
    unit: 'labels',
    field: 'metadata.labels',
    kind: 'INVALID_ARGUMENT',
    why: 'labels are echoed by every list and status call',
  },
  configListItems: {
    value: 256,
    unit: 'items per list',
    field: 'spec.functions[i].config.<list>',
    kind: 'INVALID_ARGUMENT',
    why: 'bounds the config checks and the rule compilation (both in worker threads; firewall `rules`: 1,024 rules took 70 ms to check and 120 ms to compile here)',
  },
  generatorFrameBytes: {
    value: 16 * 1024 * 1024,
    unit: 'bytes (flows × packetSize)',
    field: 'spec.ingress.flows',
    kind: 'INVALID_ARGUMENT',
    why: 'the generator builds one frame per flow up front (16 M flows × 1514 B asked for 25 GB)',
  },
  functionsPerChain: {
    value: 16,
    unit: 'functions',
    field: 'spec.functions',
    kind: 'INVALID_ARGUMENT',
    why: 'each function is an image build and a stage of instances',
  },
  instancesPerChain: {
    value: 64,
    unit: 'instances (sum of scaling.max)',
    field: 'spec.functions[i].scaling.max',
    kind: 'INVALID_ARGUMENT',
    why: 'each instance is an isolate with its own heap and poll loop',
  },
  instancesTotal: {
    value: 128,
    unit: 'instances (sum of scaling.max over every chain)',
    field: 'spec.functions',
    kind: 'RESOURCE_EXHAUSTED',
    why: 'what the whole controller may run; 192 isolates on 2 cores made `get chains` take 15 s',
  },
  healthChecksPerFunction: {
    value: 16,
    unit: 'health checks',
    field: 'spec.functions[i].healthChecks',
    kind: 'INVALID_ARGUMENT',
    why: 'one check per service; each runs timers and sockets in the controller',
  },
  healthProbesPerSecond: {
    value: 200,
    unit: 'probes per second (checked backends ÷ intervalSeconds, summed over the chain)',
    field: 'spec.functions[i].healthChecks[j].intervalSeconds',
    kind: 'INVALID_ARGUMENT',
    why: 'every probe is a TCP connection (and an HTTP request) the controller opens on its event loop',
  },
  concurrentApplies: {
    value: 4,
    unit: 'applies in progress',
    field: '(request)',
    kind: 'RESOURCE_EXHAUSTED',
    why: 'an apply parses, compiles and builds images; more at once only queue behind each other (100 at once: 28 hit the deadline)',
  },
} satisfies Record<string, SpecLimit>);

/** Name of a limit. */
export type SpecLimitName = keyof typeof SPEC_LIMITS;

/** The value of each limit, for callers that override some (tests, `ControllerOptions.limits`). */
export type LimitValues = { readonly [K in SpecLimitName]: number };

/** The default value of every limit. */
export const DEFAULT_LIMIT_VALUES: LimitValues = Object.freeze(
  Object.fromEntries(Object.entries(SPEC_LIMITS).map(([name, limit]) => [name, limit.value])) as LimitValues,
);

/** `"<found> <unit>, the limit is <value> (<name>)"`: the message of a violation. */
export function limitMessage(name: SpecLimitName, found: number, value: number = SPEC_LIMITS[name].value): string {
  return `${found} ${SPEC_LIMITS[name].unit}, the limit is ${value} (limit ${name})`;
}

/** The limits table as Markdown (`docs/limits.md` holds this text between its markers). */
export function renderLimitsTable(): string {
  const rows = Object.entries(SPEC_LIMITS).map(([name, l]) => `| \`${name}\` | ${l.value} ${l.unit} | \`${l.field}\` | ${l.kind} | ${l.why} |`);
  return ['| limit | value | field | status | why |', '|---|---|---|---|---|', ...rows].join('\n');
}
