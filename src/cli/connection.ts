/**
 * How the client commands reach the controller: `--server` (else `NFVKIT_SERVER`, else
 * `127.0.0.1:50051`), `--token` (else `NFVKIT_TOKEN`), and TLS from `--tls-ca` (server CA),
 * `--tls-cert`/`--tls-key` (client certificate for mutual TLS), `--tls` (TLS with the system
 * roots) and `--tls-server-name`.
 *
 * @example
 * ```ts
 * addConnectionOptions(program.command('get'));
 * await withClient(ctx, opts, async (client) => println(ctx, String((await client.listChains()).length)));
 * ```
 */
import { readFileSync } from 'node:fs';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Option, type Command } from 'commander';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { createControllerClient, type ClientTlsOptions, type ControllerClient, type ControllerClientOptions } from '../grpc/controller-client.ts';
import { ControllerRpcError } from '../grpc/controller-rpc-error.ts';
import type { CliContext } from './cli-context.ts';

/** Where the controller listens unless told otherwise (also `nfvkit up`'s default). */
export const DEFAULT_SERVER = '127.0.0.1:50051';
/** Environment variable naming the controller address. */
export const SERVER_ENV = 'NFVKIT_SERVER';
/** Environment variable holding the bearer token (client and `nfvkit up`). */
export const TOKEN_ENV = 'NFVKIT_TOKEN';

/** The connection flags as commander parses them. */
export interface ConnectionFlags {
  server?: string;
  token?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
}

/** A resolved connection: address and client options. */
export interface Connection {
  readonly address: string;
  readonly options: ControllerClientOptions;
}

/** Adds `--server`, `--token` and the TLS flags to a client command. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-s, --server <address>', `controller address host:port (default: $${SERVER_ENV}, else ${DEFAULT_SERVER})`))
    .addOption(new Option('--token <token>', `bearer token (default: $${TOKEN_ENV})`))
    .addOption(new Option('--tls', 'use TLS with the system CA roots'))
    .addOption(new Option('--tls-ca <file>', 'CA certificate (PEM) that signed the server certificate; implies --tls'))
    .addOption(new Option('--tls-cert <file>', 'client certificate (PEM) for mutual TLS; implies --tls'))
    .addOption(new Option('--tls-key <file>', 'client private key (PEM) for mutual TLS'))
    .addOption(new Option('--tls-server-name <name>', 'name expected in the server certificate, when it differs from the address'));
}

/** Reads a PEM file named by a flag; a missing file is a usage error. */
export function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new InvalidArgumentError(`${flag}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Resolves flags and environment into an address and client options. */
export function resolveConnection(flags: ConnectionFlags, env: CliContext['env']): Connection {
  const address = flags.server ?? (env[SERVER_ENV] || undefined) ?? DEFAULT_SERVER;
  const token = flags.token ?? (env[TOKEN_ENV] || undefined);
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  const useTls = flags.tls === true || flags.tlsCa !== undefined || flags.tlsCert !== undefined || flags.tlsServerName !== undefined;
  let tls: ClientTlsOptions | undefined;
  if (useTls) {
    tls = {
      ...(flags.tlsCa === undefined ? {} : { ca: readPem('--tls-ca', flags.tlsCa) }),
      ...(flags.tlsCert === undefined ? {} : { cert: readPem('--tls-cert', flags.tlsCert) }),
      ...(flags.tlsKey === undefined ? {} : { key: readPem('--tls-key', flags.tlsKey) }),
      ...(flags.tlsServerName === undefined ? {} : { serverName: flags.tlsServerName }),
    };
  }
  return { address, options: { ...(token === undefined ? {} : { token }), ...(tls === undefined ? {} : { tls }) } };
}

/**
 * Opens a client for the flags, runs `work`, and closes the client. An UNAVAILABLE status
 * is reworded to name the address that could not be reached.
 */
export async function withClient<T>(ctx: CliContext, flags: ConnectionFlags, work: (client: ControllerClient, connection: Connection) => Promise<T>): Promise<T> {
  const connection = resolveConnection(flags, ctx.env);
  const client = createControllerClient(connection.address, connection.options);
  try {
    return await work(client, connection);
  } catch (err) {
    if (err instanceof ControllerRpcError && err.status === GrpcStatus.UNAVAILABLE) {
      const detail = err.message.replace(/\s*Resolution note:\s*$/, '');
      throw new ControllerRpcError(err.status, `cannot reach the controller at ${connection.address}: ${detail}`, err.nfvkitCode, err.fieldViolations, err.metadata);
    }
    throw err;
  } finally {
    client.close();
  }
}
