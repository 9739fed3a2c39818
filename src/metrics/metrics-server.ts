import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { InvalidArgumentError } from '../errors/catalog.ts';
import { formatHostPort, isLoopbackHost } from '../grpc/listen-address.ts';
import type { ServerTlsOptions } from '../grpc/server-tls.ts';
import type { NfvkitMetrics } from './nfvkit-metrics.ts';

/** Options of `startMetricsServer`. */
export interface MetricsServerOptions {
  /** Address to listen on (default `127.0.0.1`: loopback only). */
  readonly host?: string;
  /** Port (default 0: any free port; read it back from `port`). */
  readonly port?: number;
  /** Bearer token `/metrics` requires (`Authorization: Bearer <token>`; `/healthz` stays open). */
  readonly token?: string;
  /** Serve HTTPS; with `requireClientCert`, only clients with a certificate signed by `ca` connect. */
  readonly tls?: ServerTlsOptions;
  /** Serve a non-loopback address without TLS or a token (the operator says so: `--metrics-unauthenticated`). */
  readonly unauthenticated?: boolean;
}

const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/**
 * Refuses to expose `/metrics` beyond this machine without protection: a non-loopback
 * `host` needs TLS, a token, or `unauthenticated` (the same rule as the gRPC API, plus the
 * explicit opt-out). Throws `InvalidArgumentError` saying how to proceed.
 *
 * @example
 * ```ts
 * checkMetricsExposure('0.0.0.0', 9464, {});                        // throws
 * checkMetricsExposure('0.0.0.0', 9464, { unauthenticated: true }); // ok
 * ```
 */
export function checkMetricsExposure(host: string, port: number, options: Pick<MetricsServerOptions, 'token' | 'tls' | 'unauthenticated'>): void {
  if (options.token !== undefined && !TOKEN_PATTERN.test(options.token)) {
    throw new InvalidArgumentError('metrics token must be non-empty printable ASCII without spaces');
  }
  if (!isLoopbackHost(host) && options.token === undefined && options.tls === undefined && options.unauthenticated !== true) {
    throw new InvalidArgumentError(
      `refusing to serve /metrics on ${formatHostPort(host, port)} without TLS or a token: it is reachable from other machines. ` +
        'Use a loopback address (--metrics 127.0.0.1:9464), set --token and/or --tls-cert/--tls-key, or pass --metrics-unauthenticated to serve it to the network anyway.',
    );
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The port it listens on. */
  readonly port: number;
  /** Full URL of the metrics page, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/**
 * Serves `metrics` over HTTP (node:http), or HTTPS with `tls`: `GET /metrics` is the
 * Prometheus text exposition (the registry's content type), `GET /healthz` answers `ok`;
 * `HEAD` works on both, other methods get 405, other paths 404. A scrape that fails
 * answers 500 with the error message. With a `token`, `/metrics` answers 401 unless the
 * request carries `Authorization: Bearer <token>` (compared in constant time). A
 * non-loopback `host` is refused without TLS, a token or `unauthenticated`
 * (`checkMetricsExposure`).
 *
 * @example
 * ```ts
 * const server = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0 });
 * console.log(await (await fetch(server.url)).text());
 * await server.close();
 * ```
 */
export async function startMetricsServer(metrics: NfvkitMetrics, options: MetricsServerOptions = {}): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  checkMetricsExposure(host, options.port ?? 0, options);
  const expected = options.token === undefined ? undefined : digest(options.token);
  const handler = (req: IncomingMessage, res: ServerResponse): void => void handle(metrics, expected, req, res);
  const tls = options.tls;
  const server =
    tls === undefined
      ? createServer(handler)
      : createHttpsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.ca === undefined ? {} : { ca: tls.ca }),
            ...(tls.requireClientCert === true ? { requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    port,
    url: `${tls === undefined ? 'http' : 'https'}://${hostPart}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Whether `req` carries the expected bearer token. */
function authorized(expected: Buffer, req: IncomingMessage): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1]), expected);
}

async function handle(metrics: NfvkitMetrics, expected: Buffer | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz') return reply(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (path === '/healthz') return reply(res, 200, 'text/plain; charset=utf-8', 'ok\n', req.method === 'HEAD');
  if (expected !== undefined && !authorized(expected, req)) {
    res.setHeader('WWW-Authenticate', 'Bearer realm="nfvkit metrics"');
    return reply(res, 401, 'text/plain; charset=utf-8', 'unauthorized: send "Authorization: Bearer <token>"\n', req.method === 'HEAD');
  }
  try {
    const body = await metrics.metrics();
    reply(res, 200, metrics.contentType, body, req.method === 'HEAD');
  } catch (err) {
    reply(res, 500, 'text/plain; charset=utf-8', `metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}

function reply(res: ServerResponse, status: number, contentType: string, body: string, headOnly = false): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(headOnly ? undefined : body);
}
