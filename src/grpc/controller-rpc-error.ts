/**
 * A failed controller call as the client reports it: the gRPC status, the server's message,
 * and what the `grpc-status-details-bin` trailer said (the `NFVKIT_ERR_*` code and every
 * field violation). `formatRpcError` renders it for a terminal.
 *
 * @example
 * ```ts
 * try {
 *   await client.applyChain(text, 'web-edge.yaml');
 * } catch (err) {
 *   console.error(formatRpcError(err));
 *   // INVALID_ARGUMENT (NFVKIT_ERR_CONFIG_INVALID): chain spec: 2 problem(s)
 *   //   spec.functions[1].scaling.max: web-edge.yaml:14:12 must be ≥ min
 *   //   …
 *   process.exitCode = err instanceof ControllerRpcError && err.status === status.NOT_FOUND ? 3 : 1;
 * }
 * ```
 */
import { status as GrpcStatus, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { decodeStatusDetails, type FieldViolation } from './status-details.ts';

/** Name of a gRPC status code (`NOT_FOUND`), or `CODE_<n>` for unknown codes. */
export function statusName(code: number): string {
  return (GrpcStatus as unknown as Record<number, string | undefined>)[code] ?? `CODE_${code}`;
}

/** A controller call that ended with a non-OK status. */
export class ControllerRpcError extends Error {
  /** gRPC status code (`status.NOT_FOUND` …). */
  readonly status: GrpcStatus;
  /** Its name, e.g. `NOT_FOUND`. */
  readonly statusName: string;
  /** The `NFVKIT_ERR_*` code the server attached, undefined for transport/auth failures. */
  readonly nfvkitCode: string | undefined;
  /** BadRequest field violations (every problem of an invalid spec or request). */
  readonly fieldViolations: readonly FieldViolation[];
  /** Trailing metadata of the call. */
  readonly metadata: Metadata | undefined;

  constructor(status: GrpcStatus, message: string, nfvkitCode: string | undefined, fieldViolations: readonly FieldViolation[], metadata?: Metadata) {
    super(message);
    this.name = 'ControllerRpcError';
    this.status = status;
    this.statusName = statusName(status);
    this.nfvkitCode = nfvkitCode;
    this.fieldViolations = fieldViolations;
    this.metadata = metadata;
  }
}

/** Builds a `ControllerRpcError` from a grpc-js `ServiceError`, decoding its status details. */
export function toControllerRpcError(err: ServiceError): ControllerRpcError {
  const decoded = decodeStatusDetails(err.metadata);
  const message = err.details || decoded?.message || statusName(err.code);
  return new ControllerRpcError(err.code, message, decoded?.reason, decoded?.fieldViolations ?? [], err.metadata);
}

/**
 * One readable block for a CLI: `STATUS (NFVKIT_ERR_…): first line`, then one line per
 * field violation, or the rest of the server's message when it sent none. Other errors are
 * printed as `name: message`.
 */
export function formatRpcError(err: unknown): string {
  if (!(err instanceof ControllerRpcError)) return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const head = err.nfvkitCode === undefined ? err.statusName : `${err.statusName} (${err.nfvkitCode})`;
  const [first, ...rest] = err.message.split('\n');
  const lines = [`${head}: ${first}`];
  if (err.fieldViolations.length > 0) {
    for (const v of err.fieldViolations) lines.push(`  ${v.field || '(root)'}: ${v.description}`);
  } else {
    lines.push(...rest);
  }
  return lines.join('\n');
}
