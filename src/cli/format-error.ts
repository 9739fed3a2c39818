/**
 * How `nfvkit` prints a failure on stderr: always with its code (the gRPC status and the
 * `NFVKIT_ERR_*` code the controller attached, or the local catalog code), and for an
 * invalid spec every problem on its own line as `file:line:col path: message`.
 *
 * @example
 * ```ts
 * formatCliError(err);
 * // nfvkit: INVALID_ARGUMENT (NFVKIT_ERR_CONFIG_INVALID): chain spec web-edge.yaml: 2 problem(s)
 * //   web-edge.yaml:14:12 spec.functions[1].scaling.max: must be >= min (5)
 * //   web-edge.yaml:21:7 spec.functions[2].function: unknown function 'natt'
 * ```
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { CommanderError } from 'commander';
import { ConfigValidationError, NfvkitError, type ConfigIssue } from '../errors/catalog.ts';
import { ControllerRpcError } from '../grpc/controller-rpc-error.ts';
import type { FieldViolation } from '../grpc/status-details.ts';
import { ReportedFailure } from './exit-codes.ts';

/** A field violation's description starts with `file:line:column ` when the server knew the position. */
const POSITIONED = /^(.*?:\d+:\d+) (.*)$/s;

/** `  file:line:col path: message` (or `  path: message` without a position) for one violation. */
export function formatViolation(v: FieldViolation): string {
  const field = v.field || '(root)';
  const m = POSITIONED.exec(v.description);
  return m === null ? `  ${field}: ${v.description}` : `  ${m[1]} ${field}: ${m[2]}`;
}

/** `  file:line:col path: message` for one local config issue. */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.file === undefined ? '' : issue.line === undefined ? `${issue.file} ` : `${issue.file}:${issue.line}:${issue.column ?? 1} `;
  return `  ${where}${issue.path || '(root)'}: ${issue.message}`;
}

/** A hint after the error for statuses a user can fix by changing the command line. */
function hintFor(err: ControllerRpcError): string | undefined {
  if (err.status === GrpcStatus.UNAVAILABLE) {
    return '  is the controller running? `nfvkit up <chain.yaml>` starts one; pick it with --server or NFVKIT_SERVER';
  }
  if (err.status === GrpcStatus.UNAUTHENTICATED) return '  pass the controller token with --token or NFVKIT_TOKEN (and --tls-cert/--tls-key for mutual TLS)';
  return undefined;
}

/**
 * The stderr text for `err` (no trailing newline), or '' for commander's own errors and
 * `ReportedFailure`s, which were already reported.
 */
export function formatCliError(err: unknown): string {
  if (err instanceof CommanderError || err instanceof ReportedFailure) return '';
  if (err instanceof ControllerRpcError) {
    const head = err.nfvkitCode === undefined ? err.statusName : `${err.statusName} (${err.nfvkitCode})`;
    const [first, ...rest] = err.message.split('\n');
    const lines = [`nfvkit: ${head}: ${first}`];
    if (err.fieldViolations.length > 0) lines.push(...err.fieldViolations.map(formatViolation));
    else lines.push(...rest);
    const hint = hintFor(err);
    if (hint !== undefined) lines.push(hint);
    return lines.join('\n');
  }
  if (err instanceof ConfigValidationError) {
    const [first] = err.message.split('\n');
    return [`nfvkit: ${err.code}: ${first}`, ...err.issues.map(formatIssue)].join('\n');
  }
  if (err instanceof NfvkitError) return `nfvkit: ${err.code}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return typeof code === 'string' && !err.message.includes(code) ? `nfvkit: ${code}: ${err.message}` : `nfvkit: ${err.message}`;
  }
  return `nfvkit: ${String(err)}`;
}
