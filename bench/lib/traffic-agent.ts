/**
 * The traffic agent: a process run inside a lab's client namespace that makes HTTP
 * traffic on command, for scaling experiments (the `scale` benchmark, the autoscaling
 * end-to-end test). It holds long-lived connections (`long-lived-connections.ts`), runs
 * one load at a time (short connections, `short-connection-load.ts`, or autocannon,
 * `autocannon-load.ts`, whose rate can change while it runs), and closes a `LoadWindow` every `sampleMs` into a timeline of
 * samples. It is driven over HTTP on a Unix socket (POST `/` with one JSON command, a
 * JSON reply); `traffic-agent-client.ts` is the typed caller.
 *
 * Usage: `node --import tsx bench/lib/traffic-agent.ts <socket path> [sampleMs]`; prints
 * `ready` once listening.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { AutocannonLoad, type AutocannonLoadOptions, type AutocannonLoadSummary } from './autocannon-load.ts';
import { LoadWindow, type LoadSample, type LoadTotals } from './load-window.ts';
import { LongLivedConnections, type LongLivedStatus } from './long-lived-connections.ts';
import { ShortConnectionLoad, type ShortConnectionLoadOptions } from './short-connection-load.ts';

/** What the agent is asked (one per request). */
export type TrafficCommand =
  | { readonly op: 'open'; readonly url: string; readonly count: number; readonly intervalMs: number; readonly tag?: string }
  | { readonly op: 'close'; readonly ids?: readonly number[] }
  | { readonly op: 'connections' }
  | ({ readonly op: 'load-short' } & ShortConnectionLoadOptions)
  | ({ readonly op: 'load-autocannon' } & AutocannonLoadOptions)
  | { readonly op: 'load-rate'; readonly rate: number }
  | { readonly op: 'stop-load' }
  | { readonly op: 'samples'; readonly after: number }
  | { readonly op: 'latency'; readonly from: number }
  | { readonly op: 'totals' };

/** Latency percentiles, ms, over `count` requests. */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly count: number;
}

/** Totals since the agent started. */
export interface TrafficTotals {
  readonly totals: LoadTotals;
  /** Latency percentiles of every good load request, ms. */
  readonly latency: LatencySummary;
  /** Latency samples so far: a mark for the `latency` command. */
  readonly latencyMark: number;
  /** Short connections opened by `load-short` loads. */
  readonly shortConnections: number;
  /** autocannon's own totals, one per `load-autocannon` load ended so far. */
  readonly autocannon: readonly AutocannonLoadSummary[];
}

/** The reply to each command. */
export interface TrafficReplies {
  open: LongLivedStatus[];
  close: LongLivedStatus[];
  connections: LongLivedStatus[];
  'load-short': { started: true };
  'load-autocannon': { started: true };
  /** The running autocannon load's new rate. */
  'load-rate': { rate: number };
  'stop-load': TrafficTotals;
  /** Samples with index > `after` (indexes from 1), and the last index. */
  samples: { samples: LoadSample[]; last: number };
  /** Percentiles of the load's latencies since a mark (`TrafficTotals.latencyMark`). */
  latency: LatencySummary;
  totals: TrafficTotals;
}

/** The agent's state and command handling (exported for in-process use and tests). */
export class TrafficAgentCore {
  readonly window = new LoadWindow();
  readonly long = new LongLivedConnections(this.window);
  private readonly samples: LoadSample[] = [];
  private readonly cannon = new AutocannonLoad(this.window);
  private readonly cannonSummaries: AutocannonLoadSummary[] = [];
  private short: ShortConnectionLoad | null = null;
  private shortConnections = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(sampleMs: number) {
    this.timer = setInterval(() => this.samples.push(this.window.take(Date.now())), sampleMs);
  }

  async run(cmd: TrafficCommand): Promise<unknown> {
    switch (cmd.op) {
      case 'open':
        return this.long.open(cmd.url, cmd.count, cmd.intervalMs, cmd.tag ?? '');
      case 'close':
        return this.long.close(cmd.ids);
      case 'connections':
        return this.long.statuses();
      case 'load-short': {
        await this.stopLoad();
        this.short = new ShortConnectionLoad(this.window, cmd);
        this.short.start();
        return { started: true };
      }
      case 'load-autocannon':
        await this.stopLoad();
        this.cannon.start(cmd);
        return { started: true };
      case 'load-rate':
        if (!this.cannon.running) throw new Error('no autocannon load is running');
        this.cannon.setRate(cmd.rate);
        return { rate: cmd.rate };
      case 'stop-load':
        await this.stopLoad();
        return this.totals();
      case 'samples':
        return { samples: this.samples.slice(Math.max(0, cmd.after)), last: this.samples.length };
      case 'latency':
        return this.window.percentiles(cmd.from);
      case 'totals':
        return this.totals();
    }
  }

  /** Stops the load and the sampling, ends every connection at once. */
  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.stopLoad();
    this.long.destroy();
  }

  private async stopLoad(): Promise<void> {
    if (this.short !== null) {
      await this.short.stop();
      this.shortConnections += this.short.connections;
      this.short = null;
    }
    if (this.cannon.running) this.cannonSummaries.push(await this.cannon.stop());
  }

  private totals(): TrafficTotals {
    return {
      totals: this.window.totals,
      latency: this.window.percentiles(),
      latencyMark: this.window.latencyCount,
      shortConnections: this.shortConnections + (this.short?.connections ?? 0),
      autocannon: [...this.cannonSummaries],
    };
  }
}

const [socketPath, sampleText] = process.argv.slice(2);
if (socketPath !== undefined && process.argv[1]?.endsWith('traffic-agent.ts')) {
  const core = new TrafficAgentCore(Number(sampleText ?? 250));
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d));
    req.on('end', () => {
      core.run(JSON.parse(text) as TrafficCommand).then(
        (out) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(out));
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: err.message }));
        },
      );
    });
  });
  rmSync(socketPath, { force: true });
  server.listen(socketPath, () => console.log('ready'));
  process.on('SIGTERM', () => {
    void core.shutdown().finally(() => server.close(() => process.exit(0)));
  });
}
