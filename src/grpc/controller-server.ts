/**
 * Starts the gRPC controller: `nfvkit.v1.Controller` over a `ControllerApi`, the standard
 * `grpc.health.v1.Health` service (`""` and `nfvkit.v1.Controller` SERVING until close),
 * and server reflection (v1 and v1alpha) so `grpcurl list` / `describe` work.
 *
 * Security: listens on `127.0.0.1:0` by default. Any address reachable from other machines
 * is refused unless TLS or a bearer token is configured. With a token every call except
 * health must carry `authorization: Bearer <token>`; with `tls.requireClientCert` every call
 * except health must come over a connection with a client certificate signed by `tls.ca`.
 *
 * @example
 * ```ts
 * const server = await startControllerServer(controller, { token: process.env.NFVKIT_TOKEN });
 * console.log(`controller on ${server.address}`);   // e.g. 127.0.0.1:41237
 * process.on('SIGTERM', () => void server.close());
 * ```
 */
import { Server } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import type { ControllerApi } from '../controller/controller-api.ts';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { createAuthInterceptor } from './auth-interceptor.ts';
import { CONTROLLER_SERVICE, controllerPackageDefinition, controllerServiceDefinition, PROTO_LOADER_OPTIONS } from './controller-proto.ts';
import { ControllerService, type InternalErrorSink } from './controller-service.ts';
import { formatHostPort, parseListenAddress } from './listen-address.ts';
import { serverCredentials, type ServerTlsOptions } from './server-tls.ts';

/** Default listen address: loopback, any free port. */
export const DEFAULT_CONTROLLER_ADDRESS = '127.0.0.1:0';

/** How `close()` waits for in-flight calls before cutting them. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000;

/** Options of {@link startControllerServer}. */
export interface ControllerServerOptions {
  /** `host:port`, `[v6]:port` or `unix:/path`; default `127.0.0.1:0` (port 0 → a free port, see `port`). */
  readonly address?: string;
  /** Bearer token every call (except health) must present. Printable ASCII, no spaces. */
  readonly token?: string;
  /** Serve TLS; with `requireClientCert`, mutual TLS. */
  readonly tls?: ServerTlsOptions;
  /** Grace for in-flight calls on `close()`, default 5000 ms. */
  readonly shutdownGraceMs?: number;
  /** Receives errors that were not catalog errors (the client got INTERNAL); default logs to stderr. */
  readonly onInternalError?: InternalErrorSink;
}

/** A running controller server. */
export interface ControllerServer {
  /** Bound port (the chosen one when the address said 0; 0 for Unix sockets). */
  readonly port: number;
  /** Address clients dial, e.g. `127.0.0.1:41237`. */
  readonly address: string;
  /** Server streams open now (for tests and metrics). */
  readonly openStreams: number;
  /**
   * Health → NOT_SERVING, ends open streams with OK, stops accepting calls, waits up to the
   * grace for in-flight calls, then cuts the rest. Idempotent.
   */
  close(): Promise<void>;
}

const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

const defaultInternalErrorSink: InternalErrorSink = (err, method) => {
  console.error(`nfvkit controller: ${method} failed with an unexpected error:`, err);
};

function checkOptions(options: ControllerServerOptions, loopback: boolean, address: string): void {
  if (options.token !== undefined && !TOKEN_PATTERN.test(options.token)) {
    throw new InvalidArgumentError('token must be non-empty printable ASCII without spaces');
  }
  if (!loopback && options.token === undefined && options.tls === undefined) {
    throw new InvalidArgumentError(
      `refusing to listen on ${address} without TLS or a token: it is reachable from other machines. ` +
        'Use a loopback address (127.0.0.1:port), or set tls (cert/key, optionally ca + requireClientCert) and/or token.',
    );
  }
}

/** Package definition the reflection service describes: the controller API plus health. */
function reflectedPackage(): ReturnType<typeof controllerPackageDefinition> {
  return { ...controllerPackageDefinition(), ...loadSync(healthProtoPath, PROTO_LOADER_OPTIONS) };
}

/**
 * Starts the server and resolves once it listens.
 * @throws InvalidArgumentError for a bad address or options; the bind error when the port is taken.
 */
export async function startControllerServer(api: ControllerApi, options: ControllerServerOptions = {}): Promise<ControllerServer> {
  const requested = options.address ?? DEFAULT_CONTROLLER_ADDRESS;
  const listen = parseListenAddress(requested);
  checkOptions(options, listen.loopback, requested);
  const credentials = serverCredentials(options.tls);
  const requireClientCert = options.tls?.requireClientCert === true;

  const interceptors = options.token !== undefined || requireClientCert ? [createAuthInterceptor({ token: options.token, requireClientCert })] : [];
  const server = new Server({ interceptors });
  const service = new ControllerService(api, options.onInternalError ?? defaultInternalErrorSink);
  server.addService(controllerServiceDefinition(), service.handlers());

  const health = new HealthImplementation({ '': 'SERVING', [CONTROLLER_SERVICE]: 'SERVING' });
  health.addToServer(server);
  new ReflectionService(reflectedPackage()).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(requested, credentials, (err, boundPort) => {
      if (!err) return resolve(boundPort);
      server.forceShutdown();
      reject(err);
    });
  });
  const address = listen.unix ? requested : formatHostPort(listen.host, port);
  const grace = options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(CONTROLLER_SERVICE, 'NOT_SERVING');
      service.endStreams();
      const cut = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, grace);
      server.tryShutdown(() => {
        clearTimeout(cut);
        resolve();
      });
    });
    return closing;
  };

  return {
    port,
    address,
    get openStreams() {
      return service.openStreams;
    },
    close,
  };
}
