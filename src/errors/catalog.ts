/**
 * The error catalog: every error nfvkit throws is one of these classes, with a stable
 * `code` (`NFVKIT_ERR_*`) that scripts and docs may rely on. Bad packets are never errors:
 * they are counted drops with a reason (see `src/packet/drop-reason.ts`).
 *
 * Map these to gRPC status codes only at the controller boundary.
 *
 * @example
 * ```ts
 * throw new PoolExhaustedError('pool of 4096 buffers has none free');
 * // err.code === 'NFVKIT_ERR_POOL_EXHAUSTED'
 * ```
 */
export class NfvkitError extends Error {
  /** Stable machine-readable code, `NFVKIT_ERR_*`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A caller passed an argument outside its documented range (size not a power of two, …). */
export class InvalidArgumentError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_INVALID_ARGUMENT', message);
  }
}

/**
 * A capture or trace filter (`src/capture/packet-filter.ts`) that does not parse: the
 * message names the 1-based `column` and what was expected there. Code
 * `NFVKIT_ERR_INVALID_ARGUMENT` (gRPC INVALID_ARGUMENT, field `filter`).
 */
export class FilterSyntaxError extends InvalidArgumentError {
  /** 1-based column of the offending token (one past the end for a filter that ends too soon). */
  readonly column: number;

  constructor(message: string, column: number) {
    super(message);
    this.column = column;
  }
}

/** The packet pool had no free buffer for a request that could not be satisfied partially. */
export class PoolExhaustedError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_POOL_EXHAUSTED', message);
  }
}

/** A buffer was freed twice, freed by a non-owner, or used after free. */
export class BufferOwnershipError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_BUFFER_OWNERSHIP', message);
  }
}

/** Shared memory did not have the layout a peer expected (magic, version, sizes). */
export class SharedLayoutError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_SHARED_LAYOUT', message);
  }
}

/** A virtqueue peer broke the ring protocol (bad descriptor index, loop in a chain, …). */
export class VirtqueueProtocolError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_VIRTQUEUE_PROTOCOL', message);
  }
}

/** A capture file could not be read: bad magic, unsupported link type, corrupt block. */
export class CaptureFormatError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_CAPTURE_FORMAT', message);
  }
}

/** A function name that no registry knows, or a name registered twice. */
export class UnknownFunctionError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_UNKNOWN_FUNCTION', message);
  }
}

/** One problem found in a configuration: where (field path) and what. */
export interface ConfigIssue {
  /** Field path, e.g. `rules[3].dst` (empty for the whole document). */
  path: string;
  message: string;
  /** Source file the value came from (YAML specs), when known. */
  file?: string;
  /** 1-based line and column of the offending value in `file`, when known. */
  line?: number;
  column?: number;
  /**
   * A code of `ISSUE_CODES` when the problem is one scripts may want to tell apart (the
   * error's own code stays `NFVKIT_ERR_CONFIG_INVALID`); the message ends with it too.
   */
  code?: IssueCode;
}

/**
 * IPv6 in a field that takes IPv4 only for now: the value is a valid IPv6 address or
 * prefix, but the part that would use it (a function, the gateway, a port) does not carry
 * IPv6 yet. Refused rather than accepted and ignored.
 */
export const IPV6_UNSUPPORTED = 'NFVKIT_ERR_IPV6_UNSUPPORTED';

/** Every code a single `ConfigIssue` may carry, for docs and the test that keeps docs in step. */
export const ISSUE_CODES = [IPV6_UNSUPPORTED] as const;

/** A code of `ISSUE_CODES`. */
export type IssueCode = (typeof ISSUE_CODES)[number];

/** A configuration failed validation; `issues` lists every problem, not only the first. */
export class ConfigValidationError extends NfvkitError {
  readonly issues: readonly ConfigIssue[];

  constructor(subject: string, issues: readonly ConfigIssue[]) {
    super(
      'NFVKIT_ERR_CONFIG_INVALID',
      `${subject}: ${issues.length} problem(s)\n` + issues.map((i) => `  ${formatIssueLocation(i)}${i.path || '(root)'}: ${i.message}`).join('\n'),
    );
    this.issues = issues;
  }
}

/** `file:line:column ` of an issue, or '' when it has no position. */
function formatIssueLocation(issue: ConfigIssue): string {
  if (issue.file === undefined) return '';
  return issue.line === undefined ? `${issue.file} ` : `${issue.file}:${issue.line}:${issue.column ?? 1} `;
}

/** The pipeline compiler could not build a function (element conflict, bad generated code). */
export class PipelineCompileError extends NfvkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NFVKIT_ERR_PIPELINE_COMPILE', message, options);
  }
}

/** An image could not be built: the bundler failed or the bundle broke an image rule. */
export class ImageBuildError extends NfvkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NFVKIT_ERR_IMAGE_BUILD', message, options);
  }
}

/** No image in the store has this id or id prefix, or the prefix names more than one. */
export class ImageNotFoundError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_IMAGE_NOT_FOUND', message);
  }
}

/** A stored image no longer matches its id (bundle or manifest changed), or the store is unreadable. */
export class ImageIntegrityError extends NfvkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NFVKIT_ERR_IMAGE_INTEGRITY', message, options);
  }
}

/** An instance did not answer its host in time (boot, shutdown) or its isolate failed. */
export class InstanceFailedError extends NfvkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NFVKIT_ERR_INSTANCE_FAILED', message, options);
  }
}

/** No chain, function or instance has the given name. */
export class NotFoundError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_NOT_FOUND', message);
  }
}

/** The request is valid but the system is not in a state to do it (scale outside min/max, chain being deleted, …). */
export class FailedPreconditionError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_FAILED_PRECONDITION', message);
  }
}

/**
 * A capture asked for a link whose frames never cross the host: a link between the
 * instances of adjacent stages of a chain run over direct links (`links: direct`: the
 * sending instance hands them to its peer itself). The message names the link and the
 * links that can be captured (the chain's ends); gRPC `FAILED_PRECONDITION`.
 */
export class LinkNotCapturableError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_LINK_NOT_CAPTURABLE', message);
  }
}

/**
 * A file a chain spec names (a pcap port's `read` or `write`) was refused or cannot be used:
 * the path is absolute or leaves the controller's data directory, a symbolic link leads out
 * of it, the entry is not a regular file, the file is missing or is not a capture. The
 * message says what was refused and why, never what the file holds (gRPC `FAILED_PRECONDITION`).
 */
export class DataPathError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_DATA_PATH', message);
  }
}

/** A network-lab operation failed: a namespace, device or address could not be created or removed, or a command failed. */
export class NetlabError extends NfvkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NFVKIT_ERR_NETLAB', message, options);
  }
}

/**
 * The controller's state store cannot be used: its snapshot is corrupt or unreadable (then
 * nothing is restored), a snapshot cannot be written, or another live process holds its directory.
 */
export class StateStoreError extends NfvkitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NFVKIT_ERR_STATE_STORE', message, options);
  }
}

/** Shared memory between processes could not be had: no addon, or a data plane's memfd is full. */
export class SharedMemoryError extends NfvkitError {
  constructor(message: string) {
    super('NFVKIT_ERR_SHARED_MEMORY', message);
  }
}

/**
 * A request asks for more than the controller allows now: more instances than the limit of
 * all chains together, more applies at once than it takes (`SPEC_LIMITS`, gRPC
 * `RESOURCE_EXHAUSTED`). `field` names what crossed the limit, `limit` which limit it is.
 */
export class LimitExceededError extends NfvkitError {
  /** Field path of the request that crossed the limit (`spec.functions`, or `''` for the request as a whole). */
  readonly field: string;
  /** Name of the limit in `SPEC_LIMITS`. */
  readonly limit: string;

  constructor(message: string, field = '', limit = '') {
    super('NFVKIT_ERR_LIMIT_EXCEEDED', message);
    this.field = field;
    this.limit = limit;
  }
}

/** Every code in the catalog, for docs and the test that keeps docs in step. */
export const ERROR_CODES = [
  'NFVKIT_ERR_INVALID_ARGUMENT',
  'NFVKIT_ERR_POOL_EXHAUSTED',
  'NFVKIT_ERR_BUFFER_OWNERSHIP',
  'NFVKIT_ERR_SHARED_LAYOUT',
  'NFVKIT_ERR_VIRTQUEUE_PROTOCOL',
  'NFVKIT_ERR_CAPTURE_FORMAT',
  'NFVKIT_ERR_UNKNOWN_FUNCTION',
  'NFVKIT_ERR_CONFIG_INVALID',
  'NFVKIT_ERR_PIPELINE_COMPILE',
  'NFVKIT_ERR_IMAGE_BUILD',
  'NFVKIT_ERR_IMAGE_NOT_FOUND',
  'NFVKIT_ERR_IMAGE_INTEGRITY',
  'NFVKIT_ERR_INSTANCE_FAILED',
  'NFVKIT_ERR_NOT_FOUND',
  'NFVKIT_ERR_FAILED_PRECONDITION',
  'NFVKIT_ERR_NETLAB',
  'NFVKIT_ERR_DATA_PATH',
  'NFVKIT_ERR_STATE_STORE',
  'NFVKIT_ERR_SHARED_MEMORY',
  'NFVKIT_ERR_LIMIT_EXCEEDED',
  'NFVKIT_ERR_LINK_NOT_CAPTURABLE',
] as const;
