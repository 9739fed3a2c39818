/**
 * A closed-loop HTTP/1.1 load client with microsecond latencies (autocannon reports whole
 * milliseconds). Each of `connections` keep-alive TCP connections sends `GET <path>`, waits
 * for the whole response, records its latency (`process.hrtime.bigint()`), and sends the
 * next one; requests answered during the warm-up are not counted. A failed connection is
 * counted and replaced. Prints one JSON line (`ClosedLoopResult`).
 *
 * Run it where the traffic should start (a lab namespace):
 * `node --import tsx bench/lib/closed-loop-client.ts <url> <connections> <seconds> [warmupSeconds]`
 *
 * ```json
 * {"connections":10,"seconds":5,"requests":161233,"rps":32246,"errors":0,"non2xx":0,"p50":287,"p90":402,"p99":690,"max":5210,"mean":305}
 * ```
 */
import { connect, type Socket } from 'node:net';

/** What the client prints (latencies in µs). */
export interface ClosedLoopResult {
  readonly connections: number;
  /** Measured time, s (warm-up excluded). */
  readonly seconds: number;
  /** Complete responses within the measured time. */
  readonly requests: number;
  readonly rps: number;
  /** Connection errors and resets (each also loses the request in flight). */
  readonly errors: number;
  /** Responses whose status was not 2xx. */
  readonly non2xx: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/** One keep-alive connection running requests back to back. */
class LoopConnection {
  private socket: Socket | null = null;
  private pending: Buffer | null = null;
  private sentAt = 0n;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly request: Buffer,
    private readonly stats: Recorder,
  ) {}

  start(): void {
    const s = connect({ host: this.host, port: this.port });
    this.socket = s;
    this.pending = null;
    s.setNoDelay(true);
    s.on('connect', () => this.send());
    s.on('data', (chunk: Buffer) => this.onData(chunk));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.socket !== s) return;
      this.socket = null;
      if (this.stats.running()) {
        this.stats.errors++;
        setTimeout(() => this.start(), 10);
      }
    });
  }

  stop(): void {
    const s = this.socket;
    this.socket = null;
    s?.destroy();
  }

  private send(): void {
    if (!this.stats.running()) {
      this.stop();
      return;
    }
    this.sentAt = process.hrtime.bigint();
    this.socket?.write(this.request);
  }

  private onData(chunk: Buffer): void {
    const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    const end = buf.indexOf(HEADER_END);
    if (end < 0) {
      this.pending = buf;
      return;
    }
    const head = buf.toString('latin1', 0, end);
    const m = CONTENT_LENGTH.exec(head);
    const total = end + 4 + (m === null ? 0 : Number(m[1]));
    if (buf.length < total) {
      this.pending = buf;
      return;
    }
    this.pending = buf.length > total ? buf.subarray(total) : null;
    const status = Number(head.slice(9, 12));
    this.stats.record(Number(process.hrtime.bigint() - this.sentAt) / 1000, status >= 200 && status < 300);
    this.send();
  }
}

/** Latency samples (µs) and counts, recorded only between `measureFrom` and `measureTo`. */
class Recorder {
  errors = 0;
  non2xx = 0;
  count = 0;
  samples = new Float64Array(1 << 20);
  measureFrom = 0;
  measureTo = 0;

  running(): boolean {
    return performance.now() < this.measureTo;
  }

  record(us: number, ok: boolean): void {
    const now = performance.now();
    if (now < this.measureFrom || now >= this.measureTo) return;
    if (!ok) this.non2xx++;
    if (this.count === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count++] = us;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Runs the load and resolves with the result (also usable in-process). */
export async function runClosedLoop(url: string, connections: number, seconds: number, warmupSeconds = 1): Promise<ClosedLoopResult> {
  const target = new URL(url);
  const port = Number(target.port || 80);
  const request = Buffer.from(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n\r\n`, 'latin1');
  const rec = new Recorder();
  const t0 = performance.now();
  rec.measureFrom = t0 + warmupSeconds * 1000;
  rec.measureTo = rec.measureFrom + seconds * 1000;
  const conns = Array.from({ length: connections }, () => new LoopConnection(target.hostname, port, request, rec));
  for (const c of conns) c.start();
  await new Promise((resolve) => setTimeout(resolve, rec.measureTo - t0 + 50));
  for (const c of conns) c.stop();
  const sorted = rec.samples.slice(0, rec.count).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i];
  const r = (x: number) => Math.round(x);
  return {
    connections,
    seconds,
    requests: rec.count,
    rps: r(rec.count / seconds),
    errors: rec.errors,
    non2xx: rec.non2xx,
    p50: r(percentile(sorted, 50)),
    p90: r(percentile(sorted, 90)),
    p99: r(percentile(sorted, 99)),
    max: r(sorted.length === 0 ? 0 : sorted[sorted.length - 1]),
    mean: r(sorted.length === 0 ? 0 : sum / sorted.length),
  };
}

const [url, connText, secondsText, warmupText] = process.argv.slice(2);
if (url !== undefined && process.argv[1]?.endsWith('closed-loop-client.ts')) {
  const result = await runClosedLoop(url, Number(connText ?? 10), Number(secondsText ?? 5), Number(warmupText ?? 1));
  console.log(JSON.stringify(result));
}
