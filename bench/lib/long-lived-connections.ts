/**
 * Long-lived HTTP/1.1 connections for scaling experiments: each is one raw TCP socket that
 * stays open for the whole run and sends `GET /long/<id>` every `intervalMs` (the next
 * request after the previous response). Every response is checked and what the backend
 * saw is kept: which backend answered and the peer (address:port) it saw, i.e. the NAT
 * mapping of the flow. The socket is never replaced: a reset, an unexpected close or a
 * request without answer is a failure of that connection, recorded with its reason.
 *
 * Runs inside the client namespace (the traffic agent drives it).
 *
 * @example
 * ```ts
 * const set = new LongLivedConnections(window);
 * const opened = await set.open('http://198.18.2.100/', 10, 200, 'a');
 * opened[0].seen;                  // ['198.18.3.2:40123'] — one NAT mapping per connection
 * await set.close([opened[0].id]); // graceful end (FIN), after the request in flight
 * set.statuses().every((c) => c.failed === 0);
 * ```
 */
import { connect, type Socket } from 'node:net';
import { HttpResponseReader } from './http-response-reader.ts';
import type { LoadWindow } from './load-window.ts';

/** Where a long-lived connection is. */
export type LongLivedState = 'opening' | 'open' | 'closing' | 'closed' | 'failed';

/** What one long-lived connection went through (all JSON). */
export interface LongLivedStatus {
  readonly id: number;
  /** Group label given at `open`. */
  readonly tag: string;
  readonly state: LongLivedState;
  /** The client's local port (the socket's, fixed for its life). */
  readonly localPort: number;
  /** Backends that answered (one for a connection that never moved). */
  readonly backends: readonly string[];
  /** Distinct `address:port` the backends saw as the peer: the flow's NAT mapping(s). */
  readonly seen: readonly string[];
  readonly requests: number;
  readonly ok: number;
  readonly failed: number;
  /** Failure reasons, in order (`ECONNRESET`, `closed by peer`, `timeout`, `status 502`, …). */
  readonly errors: readonly string[];
  /** Unix ms of the last good response (0: none). */
  readonly lastOkAt: number;
}

/** Options of `LongLivedConnections`. */
export interface LongLivedOptions {
  /** A request without a complete response after this long fails the connection, ms (default 5000). */
  readonly timeoutMs?: number;
}

class LongLivedConnection {
  state: LongLivedState = 'opening';
  localPort = 0;
  readonly backends = new Set<string>();
  readonly seen = new Set<string>();
  requests = 0;
  ok = 0;
  failed = 0;
  readonly errors: string[] = [];
  lastOkAt = 0;
  private readonly socket: Socket;
  private readonly reader = new HttpResponseReader();
  private readonly request: Buffer;
  private inFlight = false;
  private sentAt = 0;
  private next: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly firstAnswer: Promise<void>;
  private answered!: () => void;
  private readonly ended: Promise<void>;

  constructor(
    readonly id: number,
    readonly tag: string,
    target: URL,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly window: LoadWindow,
  ) {
    this.request = Buffer.from(`GET /long/${id} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`, 'latin1');
    this.firstAnswer = new Promise((resolve) => (this.answered = resolve));
    const s = connect({ host: target.hostname, port: Number(target.port || 80) });
    this.socket = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      this.localPort = s.localPort ?? 0;
      this.state = 'open';
      this.send();
    });
    s.on('data', (chunk: Buffer) => {
      for (let r = this.reader.push(chunk); r !== null; r = this.reader.next()) this.onResponse(r.status, r.body);
    });
    s.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code ?? err.message));
    this.ended = new Promise((resolve) => {
      s.on('close', () => {
        clearTimeout(this.next);
        clearTimeout(this.timer);
        if (this.state === 'closing') this.state = 'closed';
        else if (this.state !== 'failed') this.fail(this.inFlight ? 'closed by peer with a request in flight' : 'closed by peer');
        this.answered();
        resolve();
      });
    });
  }

  /** Resolves after the first response (or the connection's failure). */
  ready(): Promise<void> {
    return this.firstAnswer;
  }

  /** Ends the connection gracefully after the request in flight; resolves when it is closed. */
  close(): Promise<void> {
    if (this.state === 'open' || this.state === 'opening') {
      this.state = 'closing';
      clearTimeout(this.next);
      if (!this.inFlight) this.socket.end();
    }
    return this.ended;
  }

  /** Ends it at once (run abandoned). */
  destroy(): void {
    if (this.state === 'open' || this.state === 'opening') this.state = 'closing';
    this.socket.destroy();
  }

  status(): LongLivedStatus {
    return {
      id: this.id,
      tag: this.tag,
      state: this.state,
      localPort: this.localPort,
      backends: [...this.backends],
      seen: [...this.seen],
      requests: this.requests,
      ok: this.ok,
      failed: this.failed,
      errors: [...this.errors],
      lastOkAt: this.lastOkAt,
    };
  }

  private send(): void {
    if (this.state !== 'open') return;
    this.inFlight = true;
    this.requests++;
    this.sentAt = performance.now();
    this.socket.write(this.request);
    this.timer = setTimeout(() => {
      this.fail(`timeout: no response in ${this.timeoutMs} ms`);
      this.socket.destroy();
    }, this.timeoutMs);
  }

  private onResponse(status: number, body: string): void {
    clearTimeout(this.timer);
    this.inFlight = false;
    const ms = performance.now() - this.sentAt;
    let parsed: { backend?: string; from?: string; port?: number } = {};
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      // A body that is not the backend's JSON fails the request below.
    }
    if (status >= 200 && status < 300 && parsed.backend !== undefined) {
      this.ok++;
      this.lastOkAt = Date.now();
      this.backends.add(parsed.backend);
      this.seen.add(`${parsed.from}:${parsed.port}`);
      this.window.ok(ms, 'long');
    } else {
      this.failed++;
      this.errors.push(`status ${status}`);
      this.window.fail('long', `status ${status}`);
    }
    this.answered();
    if (this.state === 'closing') this.socket.end();
    else this.next = setTimeout(() => this.send(), this.intervalMs);
  }

  private fail(reason: string): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    if (this.state === 'closing' && !this.inFlight) return;
    this.state = 'failed';
    this.failed++;
    this.errors.push(reason);
    this.window.fail('long', reason);
  }
}

/** A set of long-lived connections; see the module documentation. */
export class LongLivedConnections {
  private readonly conns = new Map<number, LongLivedConnection>();
  private nextId = 1;
  private readonly timeoutMs: number;

  constructor(
    private readonly window: LoadWindow,
    options: LongLivedOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** Opens `count` connections to `url`, each requesting every `intervalMs`; resolves after each one's first answer. */
  async open(url: string, count: number, intervalMs: number, tag = ''): Promise<LongLivedStatus[]> {
    const target = new URL(url);
    const made: LongLivedConnection[] = [];
    for (let i = 0; i < count; i++) {
      const c = new LongLivedConnection(this.nextId++, tag, target, intervalMs, this.timeoutMs, this.window);
      this.conns.set(c.id, c);
      made.push(c);
    }
    await Promise.all(made.map((c) => c.ready()));
    return made.map((c) => c.status());
  }

  /** Closes these connections gracefully (all when `ids` is omitted); resolves with their statuses once closed. */
  async close(ids?: readonly number[]): Promise<LongLivedStatus[]> {
    const chosen = ids === undefined ? [...this.conns.values()] : ids.map((id) => this.conns.get(id)).filter((c) => c !== undefined);
    await Promise.all(chosen.map((c) => c.close()));
    return chosen.map((c) => c.status());
  }

  /** Ends every connection at once. */
  destroy(): void {
    for (const c of this.conns.values()) c.destroy();
  }

  statuses(): LongLivedStatus[] {
    return [...this.conns.values()].map((c) => c.status());
  }
}
