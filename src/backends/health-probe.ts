import { request } from 'node:http';
import { connect } from 'node:net';

/** What one probe found. */
export interface ProbeResult {
  readonly ok: boolean;
  /** Why it failed (`ECONNREFUSED`, `timeout after 500 ms`, `HTTP 503`), or what it got (`connected`, `HTTP 200`). */
  readonly detail: string;
}

/** One probe's target and rules. */
export interface ProbeTarget {
  readonly protocol: 'tcp' | 'http';
  readonly address: string;
  readonly port: number;
  /** HTTP path (http only). */
  readonly path: string;
  readonly timeoutMs: number;
}

/** Runs one probe; never rejects. */
export type Probe = (target: ProbeTarget) => Promise<ProbeResult>;

/**
 * The controller's probe of a backend: `tcp` connects and closes at once (up when the
 * connection is accepted); `http` sends `GET path` (`Connection: close`, no agent) and is up
 * on a 2xx or 3xx status. Either fails after `timeoutMs`. Never rejects.
 *
 * @example
 * ```ts
 * const r = await probeBackend({ protocol: 'http', address: '198.19.0.1', port: 8080, path: '/healthz', timeoutMs: 500 });
 * if (!r.ok) console.log(r.detail); // 'ECONNREFUSED'
 * ```
 */
export const probeBackend: Probe = (target) => (target.protocol === 'http' ? probeHttp(target) : probeTcp(target));

function probeTcp(target: ProbeTarget): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: target.address, port: target.port });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, detail: `timeout after ${target.timeoutMs} ms` }), target.timeoutMs);
    socket.once('connect', () => done({ ok: true, detail: 'connected' }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }));
  });
}

function probeHttp(target: ProbeTarget): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = request({ host: target.address, port: target.port, path: target.path, method: 'GET', agent: false, headers: { connection: 'close', 'user-agent': 'nfvkit-health-check' } }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      done({ ok: status >= 200 && status < 400, detail: `HTTP ${status}` });
    });
    const timer = setTimeout(() => done({ ok: false, detail: `timeout after ${target.timeoutMs} ms` }), target.timeoutMs);
    req.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }));
    req.end();
  });
}
