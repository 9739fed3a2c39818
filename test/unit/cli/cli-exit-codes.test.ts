import { status } from '@grpc/grpc-js';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeFor, exitCodeForStatus, ReportedFailure } from '../../../src/cli/exit-codes.ts';
import { formatCliError } from '../../../src/cli/format-error.ts';
import {
  ConfigValidationError,
  FailedPreconditionError,
  LinkNotCapturableError,
  ImageBuildError,
  ImageNotFoundError,
  InvalidArgumentError,
  NotFoundError,
  UnknownFunctionError,
} from '../../../src/errors/catalog.ts';
import { ControllerRpcError } from '../../../src/grpc/controller-rpc-error.ts';

const rpc = (code: status, message = 'boom', nfvkitCode?: string, violations: { field: string; description: string }[] = []): ControllerRpcError =>
  new ControllerRpcError(code, message, nfvkitCode, violations);

describe('exit codes', () => {
  it('maps gRPC statuses', () => {
    const table: [status, number][] = [
      [status.INVALID_ARGUMENT, 2],
      [status.OUT_OF_RANGE, 2],
      [status.NOT_FOUND, 3],
      [status.FAILED_PRECONDITION, 4],
      [status.ALREADY_EXISTS, 4],
      [status.ABORTED, 4],
      [status.UNAVAILABLE, 5],
      [status.DEADLINE_EXCEEDED, 5],
      [status.UNAUTHENTICATED, 6],
      [status.PERMISSION_DENIED, 6],
      [status.INTERNAL, 1],
      [status.UNKNOWN, 1],
      [status.RESOURCE_EXHAUSTED, 1],
      [status.CANCELLED, 1],
    ];
    for (const [code, exit] of table) {
      expect(exitCodeForStatus(code), status[code]).toBe(exit);
      expect(exitCodeFor(rpc(code)), status[code]).toBe(exit);
    }
  });

  it('maps local catalog errors by code', () => {
    expect(exitCodeFor(new ConfigValidationError('spec', [{ path: 'a', message: 'bad' }]))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new InvalidArgumentError('x'))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new UnknownFunctionError('x'))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new NotFoundError('x'))).toBe(ExitCode.NOT_FOUND);
    expect(exitCodeFor(new ImageNotFoundError('x'))).toBe(ExitCode.NOT_FOUND);
    expect(exitCodeFor(new FailedPreconditionError('x'))).toBe(ExitCode.CONFLICT);
    expect(exitCodeFor(new LinkNotCapturableError('x'))).toBe(ExitCode.CONFLICT);
    expect(exitCodeFor(new ImageBuildError('x'))).toBe(ExitCode.FAILURE);
  });

  it('maps commander errors, reported failures, system errors and the rest', () => {
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownOption', 'unknown option'))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toBe(ExitCode.OK);
    expect(exitCodeFor(new ReportedFailure(ExitCode.USAGE))).toBe(2);
    expect(exitCodeFor(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }))).toBe(ExitCode.CONFLICT);
    expect(exitCodeFor(new TypeError('bug'))).toBe(ExitCode.FAILURE);
    expect(exitCodeFor('string')).toBe(ExitCode.FAILURE);
  });
});

describe('formatCliError', () => {
  it('prints each spec violation as file:line:col path: message', () => {
    const err = rpc(status.INVALID_ARGUMENT, 'chain spec web-edge.yaml: 3 problem(s)\n  (the same lines)', 'NFVKIT_ERR_CONFIG_INVALID', [
      { field: 'spec.functions[1].scaling.max', description: 'web-edge.yaml:14:12 must be >= min (5)' },
      { field: 'spec.functions[2].function', description: 'web-edge.yaml:21:7 unknown function "natt"' },
      { field: 'replicas', description: 'must be a whole number' },
    ]);
    expect(formatCliError(err)).toBe(
      [
        'nfvkit: INVALID_ARGUMENT (NFVKIT_ERR_CONFIG_INVALID): chain spec web-edge.yaml: 3 problem(s)',
        '  web-edge.yaml:14:12 spec.functions[1].scaling.max: must be >= min (5)',
        '  web-edge.yaml:21:7 spec.functions[2].function: unknown function "natt"',
        '  replicas: must be a whole number',
      ].join('\n'),
    );
  });

  it('adds a hint for unreachable and unauthenticated controllers', () => {
    expect(formatCliError(rpc(status.UNAVAILABLE, 'cannot reach the controller at 127.0.0.1:1: refused'))).toBe(
      'nfvkit: UNAVAILABLE: cannot reach the controller at 127.0.0.1:1: refused\n  is the controller running? `nfvkit up <chain.yaml>` starts one; pick it with --server or NFVKIT_SERVER',
    );
    expect(formatCliError(rpc(status.UNAUTHENTICATED, 'missing token')).split('\n')).toEqual([
      'nfvkit: UNAUTHENTICATED: missing token',
      '  pass the controller token with --token or NFVKIT_TOKEN (and --tls-cert/--tls-key for mutual TLS)',
    ]);
  });

  it('prints local errors with their catalog code and every config issue', () => {
    expect(formatCliError(new NotFoundError('no chain named "x"'))).toBe('nfvkit: NFVKIT_ERR_NOT_FOUND: no chain named "x"');
    const invalid = new ConfigValidationError('chain spec a.yaml', [
      { file: 'a.yaml', line: 3, column: 5, path: 'spec.functions[0].name', message: 'required' },
      { file: 'a.yaml', path: '', message: 'cannot read the file: no such file' },
      { path: 'rules[0].dport', message: 'port out of range 0-65535' },
    ]);
    expect(formatCliError(invalid)).toBe(
      [
        'nfvkit: NFVKIT_ERR_CONFIG_INVALID: chain spec a.yaml: 3 problem(s)',
        '  a.yaml:3:5 spec.functions[0].name: required',
        '  a.yaml (root): cannot read the file: no such file',
        '  rules[0].dport: port out of range 0-65535',
      ].join('\n'),
    );
  });

  it('prints nothing for errors already reported and the message for others', () => {
    expect(formatCliError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"))).toBe('');
    expect(formatCliError(new ReportedFailure(ExitCode.USAGE))).toBe('');
    expect(formatCliError(Object.assign(new Error('bind failed'), { code: 'EACCES' }))).toBe('nfvkit: EACCES: bind failed');
    expect(formatCliError(new Error('listen EADDRINUSE: address already in use'))).toBe('nfvkit: listen EADDRINUSE: address already in use');
  });
});
