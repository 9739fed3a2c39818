import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NfvkitMetrics } from './nfvkit-metrics.ts';

/** Options of `startMetricsServer`. */
export interface MetricsServerOptions {
  /** Address to listen on (default `127.0.0.1`: loopback only). */
  readonly host?: string;
  /** Port (default 0: any free port; read it back from `port`). */
  readonly port?: number;
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
 * Serves `metrics` over plain HTTP (node:http): `GET /metrics` is the Prometheus text
 * exposition (the registry's content type), `GET /healthz` answers `ok`; `HEAD` works on
 * both, other methods get 405, other paths 404. A scrape that fails answers 500 with the
 * error message.
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
  const server = createServer((req, res) => void handle(metrics, req, res));
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
    url: `http://${hostPart}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(metrics: NfvkitMetrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz') return reply(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  if (path === '/healthz') return reply(res, 200, 'text/plain; charset=utf-8', 'ok\n', req.method === 'HEAD');
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
