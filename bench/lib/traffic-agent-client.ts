/**
 * Starts the traffic agent (`traffic-agent.ts`) in a lab namespace and talks to it over its
 * Unix socket: long-lived connections, a load (short connections or autocannon), the
 * sample timeline and the totals. For the `scale` benchmark and the autoscaling
 * end-to-end test, which run in the root namespace next to the chain.
 *
 * @example
 * ```ts
 * const agent = await TrafficAgent.start(web.lab, web.client);
 * try {
 *   const conns = await agent.open(web.targets.chain, 10, 200, 'early');
 *   await agent.loadAutocannon({ url: web.targets.chain, connections: 16, rate: 300, reconnectRate: 20 });
 *   await agent.loadRate(2000);
 *   const { samples } = await agent.samples(0);
 *   const totals = await agent.stopLoad();
 * } finally {
 *   await agent.stop();
 * }
 * ```
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../src/netlab/lab.ts';
import type { LabProcess } from '../../src/netlab/lab-process.ts';
import type { AutocannonLoadOptions } from './autocannon-load.ts';
import type { LongLivedStatus } from './long-lived-connections.ts';
import type { ShortConnectionLoadOptions } from './short-connection-load.ts';
import type { TrafficCommand, TrafficReplies, TrafficTotals } from './traffic-agent.ts';

/** Options of `TrafficAgent.start`. */
export interface TrafficAgentOptions {
  /** Sample window, ms (default 250). */
  readonly sampleMs?: number;
  /** How long the agent may take to start, ms (default 20 000). */
  readonly startTimeoutMs?: number;
}

/** A running traffic agent; see the module documentation. */
export class TrafficAgent {
  private constructor(
    /** The agent process (its stderr helps when a command fails). */
    readonly process: LabProcess,
    private readonly dir: string,
    private readonly socketPath: string,
  ) {}

  /** Spawns the agent in namespace `ns` and waits until it listens. */
  static async start(lab: Lab, ns: string, options: TrafficAgentOptions = {}): Promise<TrafficAgent> {
    const dir = mkdtempSync(join(tmpdir(), 'nfvkit-traffic-agent-'));
    const socketPath = join(dir, 'agent.sock');
    const proc = lab.spawnNode(ns, new URL('./traffic-agent.ts', import.meta.url), [socketPath, String(options.sampleMs ?? 250)]);
    try {
      await proc.waitForOutput(/ready/, options.startTimeoutMs ?? 20_000);
    } catch (err) {
      await proc.kill();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return new TrafficAgent(proc, dir, socketPath);
  }

  /** Opens `count` long-lived connections (each requests every `intervalMs`); resolves after each one's first answer. */
  open(url: string, count: number, intervalMs: number, tag = ''): Promise<LongLivedStatus[]> {
    return this.call({ op: 'open', url, count, intervalMs, tag });
  }

  /** Closes long-lived connections gracefully (all when `ids` is omitted). */
  close(ids?: readonly number[]): Promise<LongLivedStatus[]> {
    return this.call(ids === undefined ? { op: 'close' } : { op: 'close', ids });
  }

  /** Every long-lived connection's status. */
  connections(): Promise<LongLivedStatus[]> {
    return this.call({ op: 'connections' });
  }

  /** Replaces the load by short connections. */
  loadShort(options: ShortConnectionLoadOptions): Promise<{ started: true }> {
    return this.call({ op: 'load-short', ...options });
  }

  /** Replaces the load by autocannon at `options.rate` (change it with `loadRate`). */
  loadAutocannon(options: AutocannonLoadOptions): Promise<{ started: true }> {
    return this.call({ op: 'load-autocannon', ...options });
  }

  /** Changes the running autocannon load's rate (req/s, at least one per connection). */
  loadRate(rate: number): Promise<{ rate: number }> {
    return this.call({ op: 'load-rate', rate });
  }

  /** Stops the load gracefully (no request aborted) and returns the totals. */
  stopLoad(): Promise<TrafficTotals> {
    return this.call({ op: 'stop-load' });
  }

  /** Samples after index `after` (0: all). */
  samples(after = 0): Promise<TrafficReplies['samples']> {
    return this.call({ op: 'samples', after });
  }

  /** Latency percentiles of the load since `mark` (a `TrafficTotals.latencyMark`). */
  latency(mark: number): Promise<TrafficReplies['latency']> {
    return this.call({ op: 'latency', from: mark });
  }

  totals(): Promise<TrafficTotals> {
    return this.call({ op: 'totals' });
  }

  /** Ends the agent (its connections end at once) and removes its socket. */
  async stop(): Promise<void> {
    await this.process.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private call<C extends TrafficCommand>(cmd: C): Promise<TrafficReplies[C['op']]> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path: '/', method: 'POST', agent: false, timeout: 60_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`traffic agent: ${cmd.op} failed: ${text} ${this.process.stderr.slice(-400)}`));
          else resolve(JSON.parse(text) as TrafficReplies[C['op']]);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`traffic agent: ${cmd.op} timed out`)));
      req.on('error', (err) => reject(new Error(`traffic agent: ${cmd.op}: ${err.message}${this.process.running ? '' : ` (the agent ended: ${this.process.stderr.trim().slice(-600)})`}`)));
      req.end(JSON.stringify(cmd));
    });
  }
}
