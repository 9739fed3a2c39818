/**
 * autocannon 9 run in-process as a rate-limited load whose rate can be changed while it
 * runs (the phases of a load ramp), feeding every response and error into a `LoadWindow`
 * so a caller sees served req/s and latency every few hundred ms, not only at the end.
 * Keep-alive connections, no pipelining; `reconnectRate` makes each connection reconnect
 * (FIN, after a complete response) after that many requests, so the load keeps opening
 * new flows (which is what lets new chain instances take a share of it).
 *
 * autocannon's rate limit lets each connection send its share of the rate once per
 * second, as fast as it can: a second's requests leave in one burst at its start, which a
 * sampler at a finer interval sees as load switching on and off. So the load runs `lanes`
 * autocannon instances, each with its share of the rate and of the connections, started
 * `1000 / lanes` ms apart: the bursts come `lanes` times a second.
 *
 * Changing the rate (`setRate`) and stopping gracefully (`stop`) set each autocannon
 * client's `rate` field, which autocannon 9 reads before every request (not a documented
 * API: checked at start, and an error if it is missing). A stop first pauses every client
 * (rate −1: no new request), waits for the requests in flight, then ends autocannon, which
 * closes idle connections: neither a rate change nor the stop aborts a request or resets a
 * connection. Responses are counted from each client's `headers` event (autocannon reports
 * no `response` for the reply that precedes a reconnect); latencies come from the
 * `response` events.
 *
 * @example
 * ```ts
 * const load = new AutocannonLoad(window);
 * load.start({ url, connections: 16, rate: 300, reconnectRate: 20 });
 * load.setRate(2000);
 * …
 * const summary = await load.stop(); // { requests, errors, timeouts, non2xx }
 * ```
 */
import autocannon from 'autocannon';
import type { LoadWindow } from './load-window.ts';

/** What autocannon loads: where, how many connections, how fast. */
export interface AutocannonLoadOptions {
  readonly url: string;
  readonly connections: number;
  /** Requests per second over all connections. */
  readonly rate: number;
  /** Requests per connection before it reconnects (default 0: never). */
  readonly reconnectRate?: number;
  /** Request timeout, s (default 10). */
  readonly timeoutSeconds?: number;
  /** autocannon instances started evenly over one second (default 4; at most `connections`). */
  readonly lanes?: number;
}

/** autocannon's own totals of one load, all lanes. */
export interface AutocannonLoadSummary {
  readonly requests: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
}

/** An autocannon client as far as the rate goes (see the module documentation). */
interface RatedClient {
  rate: number;
}

/** One autocannon instance of the load and its clients. */
interface Lane {
  readonly instance: autocannon.Instance;
  readonly clients: RatedClient[];
  readonly done: Promise<AutocannonLoadSummary>;
}

/** A paused client's rate: `reqsMadeThisSecond < rate` never holds (0 would mean unlimited). */
const PAUSED = -1;

/** See the module documentation. */
export class AutocannonLoad {
  private lanes: Lane[] = [];
  private starting: NodeJS.Timeout[] = [];
  private laneCount = 0;
  private rate = 0;
  private connections = 0;

  constructor(private readonly window: LoadWindow) {}

  /** Whether a load is running. */
  get running(): boolean {
    return this.laneCount > 0;
  }

  /** Starts the load (stop the previous one first). The rate must be at least one request per second per connection. */
  start(options: AutocannonLoadOptions): void {
    if (this.running) throw new Error('an autocannon load is already running');
    checkRate(options.rate, options.connections);
    this.connections = options.connections;
    const lanes = Math.max(1, Math.min(options.lanes ?? 4, options.connections, Math.floor(options.rate)));
    this.laneCount = lanes;
    this.rate = options.rate;
    for (let lane = 0; lane < lanes; lane++) {
      const begin = () => this.lanes.push(this.lane(options, share(options.connections, lanes, lane), share(this.rate, lanes, lane)));
      if (lane === 0) begin();
      else this.starting.push(setTimeout(begin, (lane * 1000) / lanes));
    }
  }

  /**
   * Changes the rate (req/s over all connections, at least one per connection) from the
   * next second of each client on.
   */
  setRate(rate: number): void {
    checkRate(rate, this.connections);
    this.rate = rate;
    this.lanes.forEach((lane, k) => setClientRates(lane.clients, share(rate, this.laneCount, k)));
  }

  /**
   * Stops without aborting anything: pauses every client, waits up to `settleMs` for the
   * requests in flight, then ends autocannon. Resolves with autocannon's totals (all lanes).
   */
  async stop(settleMs = 500): Promise<AutocannonLoadSummary> {
    for (const t of this.starting) clearTimeout(t);
    const lanes = this.lanes;
    for (const lane of lanes) setClientRates(lane.clients, PAUSED);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    for (const lane of lanes) lane.instance.stop();
    const summaries = await Promise.all(lanes.map((l) => l.done));
    this.lanes = [];
    this.starting = [];
    this.laneCount = 0;
    return {
      requests: summaries.reduce((n, s) => n + s.requests, 0),
      errors: summaries.reduce((n, s) => n + s.errors, 0),
      timeouts: summaries.reduce((n, s) => n + s.timeouts, 0),
      non2xx: summaries.reduce((n, s) => n + s.non2xx, 0),
    };
  }

  /** One autocannon instance of the load. */
  private lane(options: AutocannonLoadOptions, connections: number, rate: number): Lane {
    const window = this.window;
    const clients: RatedClient[] = [];
    let settle!: (s: AutocannonLoadSummary) => void;
    const done = new Promise<AutocannonLoadSummary>((resolve) => (settle = resolve));
    const instance = autocannon(
      {
        url: options.url,
        connections,
        overallRate: rate,
        reconnectRate: options.reconnectRate ?? 0,
        pipelining: 1,
        timeout: options.timeoutSeconds ?? 10,
        duration: 24 * 3600,
        sampleInt: 100,
        // Its own latency histogram would be fed the client's rate, which a pause makes −1; ours is the window.
        ignoreCoordinatedOmission: true,
        setupClient: (client: autocannon.Client) => {
          const rated = client as unknown as Partial<RatedClient>;
          if (typeof rated.rate !== 'number') throw new Error('autocannon clients have no numeric `rate` field any more: AutocannonLoad needs updating');
          clients.push(rated as RatedClient);
          // At run time the argument is the parser's header info, with `statusCode` (not headers as typed).
          client.on('headers', (info: unknown) => {
            const status = (info as { statusCode: number }).statusCode;
            if (status >= 200 && status < 300) window.ok(Number.NaN, 'load');
            else window.fail('load', `status ${status}`);
          });
        },
      },
      (err: unknown, r: autocannon.Result) => {
        if (err !== null && err !== undefined) settle({ requests: 0, errors: 1, timeouts: 0, non2xx: 0 });
        else settle({ requests: r.requests.total, errors: r.errors, timeouts: r.timeouts, non2xx: r.non2xx });
      },
    );
    instance.on('response', (_client: autocannon.Client, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) window.latency(ms);
    });
    instance.on('reqError', (err: NodeJS.ErrnoException) => window.fail('load', err?.code ?? err?.message ?? 'error'));
    // setupClient runs in each client's constructor, before its first second: set the exact shares now.
    setClientRates(clients, rate);
    return { instance, clients, done };
  }
}

/**
 * A client paused by autocannon's rate limit only resumes on its next second if it had
 * asked for a request in the one before: one whose share is 0 would stop for good.
 */
function checkRate(rate: number, connections: number): void {
  if (!(Number.isInteger(rate) && rate >= connections)) throw new Error(`autocannon load: rate ${rate} req/s must be a whole number ≥ the ${connections} connections`);
}

/** Part `k` of `total` split in `parts` (the first ones get the remainder). */
function share(total: number, parts: number, k: number): number {
  return Math.floor(total / parts) + (k < total % parts ? 1 : 0);
}

/** Spreads `rate` over the clients (PAUSED: all paused, for good). */
function setClientRates(clients: RatedClient[], rate: number): void {
  clients.forEach((c, i) => {
    const r = rate === PAUSED ? PAUSED : share(rate, clients.length, i);
    c.rate = r > 0 ? r : PAUSED;
  });
}
