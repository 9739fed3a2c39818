/**
 * Catalog error → gRPC status, at the controller boundary only. The status code follows
 * the error's `code`; the message is the error's own (multi-line for config errors); the
 * `grpc-status-details-bin` trailer carries an ErrorInfo with the `NFVKIT_ERR_*` code and,
 * for invalid input, a BadRequest listing every field violation. Anything that is not a
 * catalog error becomes INTERNAL with a fixed message: no stack, no internal text.
 *
 * | catalog code | gRPC status |
 * |---|---|
 * | `NFVKIT_ERR_CONFIG_INVALID`, `NFVKIT_ERR_INVALID_ARGUMENT`, `NFVKIT_ERR_UNKNOWN_FUNCTION` | INVALID_ARGUMENT |
 * | `NFVKIT_ERR_NOT_FOUND`, `NFVKIT_ERR_IMAGE_NOT_FOUND` | NOT_FOUND |
 * | `NFVKIT_ERR_FAILED_PRECONDITION`, `NFVKIT_ERR_DATA_PATH`, `NFVKIT_ERR_LINK_NOT_CAPTURABLE` | FAILED_PRECONDITION |
 * | `NFVKIT_ERR_POOL_EXHAUSTED`, `NFVKIT_ERR_LIMIT_EXCEEDED` (with the field as a violation) | RESOURCE_EXHAUSTED |
 * | any other `NFVKIT_ERR_*` | INTERNAL (message and code kept) |
 * | not a catalog error | INTERNAL (`internal error`) |
 *
 * @example
 * ```ts
 * api.getChain(name).then(ok, (err) => callback(errorToStatus(err).status));
 * ```
 */
import { Metadata, status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';
import { ConfigValidationError, InvalidArgumentError, LimitExceededError, NfvkitError, type ConfigIssue } from '../errors/catalog.ts';
import { encodeStatusDetails, STATUS_DETAILS_KEY, type FieldViolation } from './status-details.ts';

/** A request field the transport itself rejected (empty name, interval out of range, …). */
export class InvalidRequestError extends InvalidArgumentError {
  readonly violations: readonly FieldViolation[];

  constructor(violations: readonly FieldViolation[]) {
    super('invalid request:\n' + violations.map((v) => `  ${v.field}: ${v.description}`).join('\n'));
    this.violations = violations;
  }
}

/** Longest `grpc-message` sent; the trailer still carries every violation up to the cap below. */
const MAX_MESSAGE_CHARS = 4096;
/** Most field violations sent, to keep trailers well under HTTP/2 header limits. */
const MAX_VIOLATIONS = 200;
const MAX_DESCRIPTION_CHARS = 512;

const STATUS_BY_CODE: Readonly<Record<string, GrpcStatus>> = {
  NFVKIT_ERR_CONFIG_INVALID: GrpcStatus.INVALID_ARGUMENT,
  NFVKIT_ERR_INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  NFVKIT_ERR_UNKNOWN_FUNCTION: GrpcStatus.INVALID_ARGUMENT,
  NFVKIT_ERR_NOT_FOUND: GrpcStatus.NOT_FOUND,
  NFVKIT_ERR_IMAGE_NOT_FOUND: GrpcStatus.NOT_FOUND,
  NFVKIT_ERR_FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  NFVKIT_ERR_DATA_PATH: GrpcStatus.FAILED_PRECONDITION,
  NFVKIT_ERR_LINK_NOT_CAPTURABLE: GrpcStatus.FAILED_PRECONDITION,
  NFVKIT_ERR_POOL_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  NFVKIT_ERR_LIMIT_EXCEEDED: GrpcStatus.RESOURCE_EXHAUSTED,
};

/** The result of mapping: what to send, and whether it hid an unexpected error (to log). */
export interface MappedStatus {
  readonly status: StatusObject;
  /** True when `err` was not a catalog error (the caller should log it). */
  readonly unexpected: boolean;
}

/** `file:line:column message`, `file message` or `message`, as in `ConfigValidationError`. */
export function issueDescription(issue: ConfigIssue): string {
  if (issue.file === undefined) return issue.message;
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}:${issue.column ?? 1}`;
  return `${where} ${issue.message}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

function violationsOf(err: NfvkitError): FieldViolation[] {
  let all: FieldViolation[] = [];
  if (err instanceof ConfigValidationError) {
    all = err.issues.map((i) => ({ field: i.path, description: issueDescription(i) }));
  } else if (err instanceof InvalidRequestError) {
    all = [...err.violations];
  } else if (err instanceof LimitExceededError) {
    all = [{ field: err.field, description: err.message }];
  }
  return all.slice(0, MAX_VIOLATIONS).map((v) => ({ field: v.field, description: truncate(v.description, MAX_DESCRIPTION_CHARS) }));
}

/** Maps anything thrown by a `ControllerApi` method (or the transport's own checks) to a gRPC status. */
export function errorToStatus(err: unknown): MappedStatus {
  const metadata = new Metadata();
  if (!(err instanceof NfvkitError)) {
    const message = 'internal error (details are in the controller log)';
    metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails({ code: GrpcStatus.INTERNAL, message, fieldViolations: [] }));
    return { status: { code: GrpcStatus.INTERNAL, details: message, metadata }, unexpected: true };
  }
  const code = STATUS_BY_CODE[err.code] ?? GrpcStatus.INTERNAL;
  const message = truncate(err.message, MAX_MESSAGE_CHARS);
  const bin = encodeStatusDetails({ code, message, reason: err.code, fieldViolations: violationsOf(err) });
  metadata.set(STATUS_DETAILS_KEY, bin);
  return { status: { code, details: message, metadata }, unexpected: false };
}
