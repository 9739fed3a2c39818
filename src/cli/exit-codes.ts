/**
 * The `nfvkit` exit codes and how errors map onto them: gRPC statuses from the controller
 * on the client side, catalog codes (`NFVKIT_ERR_*`) for work done locally. Scripts may rely
 * on these numbers (see docs/cli.md).
 *
 * @example
 * ```ts
 * try { await client.getChain('web-edge'); }
 * catch (err) { process.exitCode = exitCodeFor(err); }   // NOT_FOUND → 3
 * ```
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { CommanderError } from 'commander';
import { NfvkitError } from '../errors/catalog.ts';
import { ControllerRpcError } from '../grpc/controller-rpc-error.ts';

/** Process exit codes of `nfvkit`. */
export const ExitCode = {
  /** Success. */
  OK: 0,
  /** Runtime failure (internal error, instance or image failure, anything unexpected). */
  FAILURE: 1,
  /** Usage or invalid input: bad flags, invalid chain spec or configuration, unknown function. */
  USAGE: 2,
  /** The named chain, function, instance or image does not exist. */
  NOT_FOUND: 3,
  /** Failed precondition or conflict: replicas outside min..max, chain being deleted, port in use. */
  CONFLICT: 4,
  /** The controller cannot be reached or did not answer in time. */
  UNAVAILABLE: 5,
  /** Missing or wrong token or client certificate. */
  UNAUTHENTICATED: 6,
} as const;

/** One of {@link ExitCode}'s values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

const BY_GRPC_STATUS: Readonly<Partial<Record<number, ExitCodeValue>>> = {
  [GrpcStatus.OK]: ExitCode.OK,
  [GrpcStatus.INVALID_ARGUMENT]: ExitCode.USAGE,
  [GrpcStatus.OUT_OF_RANGE]: ExitCode.USAGE,
  [GrpcStatus.NOT_FOUND]: ExitCode.NOT_FOUND,
  [GrpcStatus.FAILED_PRECONDITION]: ExitCode.CONFLICT,
  [GrpcStatus.ALREADY_EXISTS]: ExitCode.CONFLICT,
  [GrpcStatus.ABORTED]: ExitCode.CONFLICT,
  [GrpcStatus.UNAVAILABLE]: ExitCode.UNAVAILABLE,
  [GrpcStatus.DEADLINE_EXCEEDED]: ExitCode.UNAVAILABLE,
  [GrpcStatus.UNAUTHENTICATED]: ExitCode.UNAUTHENTICATED,
  [GrpcStatus.PERMISSION_DENIED]: ExitCode.UNAUTHENTICATED,
};

const BY_CATALOG_CODE: Readonly<Partial<Record<string, ExitCodeValue>>> = {
  NFVKIT_ERR_CONFIG_INVALID: ExitCode.USAGE,
  NFVKIT_ERR_INVALID_ARGUMENT: ExitCode.USAGE,
  NFVKIT_ERR_UNKNOWN_FUNCTION: ExitCode.USAGE,
  NFVKIT_ERR_NOT_FOUND: ExitCode.NOT_FOUND,
  NFVKIT_ERR_IMAGE_NOT_FOUND: ExitCode.NOT_FOUND,
  NFVKIT_ERR_FAILED_PRECONDITION: ExitCode.CONFLICT,
  NFVKIT_ERR_DATA_PATH: ExitCode.CONFLICT,
  NFVKIT_ERR_LINK_NOT_CAPTURABLE: ExitCode.CONFLICT,
};

/** Node error codes with a meaning of their own (`up` binding a port already taken). */
const BY_SYSTEM_CODE: Readonly<Partial<Record<string, ExitCodeValue>>> = {
  EADDRINUSE: ExitCode.CONFLICT,
  EADDRNOTAVAIL: ExitCode.USAGE,
  EACCES: ExitCode.FAILURE,
};

/** Exit code for a gRPC status code (anything unlisted, e.g. INTERNAL, is a runtime failure). */
export function exitCodeForStatus(code: number): ExitCodeValue {
  return BY_GRPC_STATUS[code] ?? ExitCode.FAILURE;
}

/** Exit code for a catalog code (`NFVKIT_ERR_*`); unlisted codes are runtime failures. */
export function exitCodeForCatalogCode(code: string): ExitCodeValue {
  return BY_CATALOG_CODE[code] ?? ExitCode.FAILURE;
}

/**
 * Exit code for anything a command threw: commander usage errors → 2 (help and version
 * → 0), controller errors by gRPC status, catalog errors by code, else 1.
 */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof ReportedFailure) return err.exitCode;
  if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  if (err instanceof ControllerRpcError) return exitCodeForStatus(err.status);
  if (err instanceof NfvkitError) return exitCodeForCatalogCode(err.code);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return BY_SYSTEM_CODE[code] ?? ExitCode.FAILURE;
  return ExitCode.FAILURE;
}

/**
 * Ends a command with `code` after it has printed its own report (e.g. `validate` with
 * some invalid files): nothing more is printed.
 */
export class ReportedFailure extends Error {
  constructor(readonly exitCode: ExitCodeValue) {
    super(`exit ${exitCode}`);
    this.name = 'ReportedFailure';
  }
}
