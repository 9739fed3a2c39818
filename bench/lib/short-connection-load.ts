/**
 * A load of short HTTP/1.1 connections: `concurrency` workers, each opening a TCP
 * connection, sending `requestsPerConnection` requests on it one after the other, closing
 * it gracefully (FIN after the last response) and starting over. Every connection is a new
 * flow for the chain, so new instances get work as soon as they are ready. Optionally
 * paced to `rate` requests per second overall (a request waits for its slot; when the
 * servers are slower, it is a closed loop). `stop()` is graceful too: each worker ends its
 * request in flight and closes its connection, so a stop neither fails nor resets anything.
 *
 * Runs inside the client namespace (the traffic agent drives it).
 *
 * @example
 * ```ts
 * const load = new ShortConnectionLoad(window, { url, concurrency: 8, requestsPerConnection: 4 });
 * load.start();
 * …
 * await load.stop();
 * window.totals; // ok / failed by reason
 * ```
 */
import { connect, type Socket } from 'node:net';
import { HttpResponseReader } from './http-response-reader.ts';
import type { LoadWindow } from './load-window.ts';

/** Options of `ShortConnectionLoad`. */
export interface ShortConnectionLoadOptions {
  readonly url: string;
  /** Connections open at once (workers). */
  readonly concurrency: number;
  /** Requests per connection before it is closed (default 1). */
  readonly requestsPerConnection?: number;
  /** Requests per second over all workers (default: as fast as answered). */
  readonly rate?: number;
  /** A request without a complete response after this long fails, ms (default 5000). */
  readonly timeoutMs?: number;
}

/** What happened to one request. */
type Outcome = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly reason: string };

/** One connection of a worker. */
class ShortConnection {
  private readonly socket: Socket;
  private readonly reader = new HttpResponseReader();
  private waiting: ((o: Outcome) => void) | null = null;
  private broken: string | null = null;
  private readonly closed: Promise<void>;
  private timer: NodeJS.Timeout | undefined;

  constructor(target: URL, private readonly timeoutMs: number) {
    this.socket = connect({ host: target.hostname, port: Number(target.port || 80) });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      const r = this.reader.push(chunk);
      if (r !== null) this.settle({ ok: true, status: r.status });
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.break(err.code ?? err.message));
    this.closed = new Promise((resolve) => this.socket.on('close', () => {
      this.break('closed by peer');
      resolve();
    }));
  }

  /** Sends one request and waits for its response (the socket queues it until connected). */
  request(request: Buffer): Promise<Outcome> {
    if (this.broken !== null) return Promise.resolve({ ok: false, reason: this.broken });
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.timer = setTimeout(() => {
        this.break(`timeout: no response in ${this.timeoutMs} ms`);
        this.socket.destroy();
      }, this.timeoutMs);
      this.socket.write(request);
    });
  }

  /** Graceful close: FIN, then wait for the peer's. */
  end(): Promise<void> {
    if (this.broken === null) this.socket.end();
    else this.socket.destroy();
    return this.closed;
  }

  private settle(o: Outcome): void {
    clearTimeout(this.timer);
    const w = this.waiting;
    this.waiting = null;
    w?.(o);
  }

  private break(reason: string): void {
    this.broken ??= reason;
    this.settle({ ok: false, reason: this.broken });
  }
}

/** The short-connection load; see the module documentation. */
export class ShortConnectionLoad {
  private running = false;
  private workers: Promise<void>[] = [];
  private nextSlot = 0;
  private readonly target: URL;
  private readonly request: Buffer;
  /** Connections opened so far. */
  connections = 0;

  constructor(
    private readonly window: LoadWindow,
    private readonly options: ShortConnectionLoadOptions,
  ) {
    this.target = new URL(options.url);
    this.request = Buffer.from(`GET /load HTTP/1.1\r\nHost: ${this.target.host}\r\n\r\n`, 'latin1');
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.nextSlot = performance.now();
    this.workers = Array.from({ length: this.options.concurrency }, () => this.work());
  }

  /** Stops gracefully: resolves when every worker has closed its connection. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    const per = this.options.requestsPerConnection ?? 1;
    const timeoutMs = this.options.timeoutMs ?? 5000;
    while (this.running) {
      const conn = new ShortConnection(this.target, timeoutMs);
      this.connections++;
      for (let i = 0; i < per && this.running; i++) {
        await this.pace();
        const t0 = performance.now();
        const o = await conn.request(this.request);
        if (o.ok && o.status >= 200 && o.status < 300) this.window.ok(performance.now() - t0, 'load');
        else {
          this.window.fail('load', o.ok ? `status ${o.status}` : o.reason);
          if (!o.ok) await new Promise((resolve) => setTimeout(resolve, 10));
          break;
        }
      }
      await conn.end();
    }
  }

  /** Waits for this request's slot when paced. */
  private async pace(): Promise<void> {
    const rate = this.options.rate;
    if (rate === undefined || !(rate > 0)) return;
    const now = performance.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + 1000 / rate;
    if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
  }
}
