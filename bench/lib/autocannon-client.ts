/**
 * Runs autocannon (keep-alive HTTP/1.1, no pipelining) against one URL and prints one JSON
 * line (`AutocannonSummary`). Run it where the traffic should start (a lab namespace):
 * `node --import tsx bench/lib/autocannon-client.ts <url> <connections> <seconds>`
 *
 * ```json
 * {"connections":10,"seconds":5,"requests":150120,"rps":30024,"errors":0,"timeouts":0,"non2xx":0,"p50":0,"p90":1,"p99":1,"max":14.2}
 * ```
 */
import autocannon from 'autocannon';

/** What the script prints. Latencies are autocannon's, in ms (whole milliseconds in practice). */
export interface AutocannonSummary {
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  /** Mean requests per second over the run. */
  readonly rps: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Runs autocannon in this process and summarises its result. */
export async function runAutocannon(url: string, connections: number, seconds: number): Promise<AutocannonSummary> {
  const r = await autocannon({ url, connections, duration: seconds, pipelining: 1, timeout: 10 });
  return {
    connections,
    seconds,
    requests: r.requests.total,
    rps: Math.round(r.requests.average),
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
  };
}

const [url, connText, secondsText] = process.argv.slice(2);
if (url !== undefined && process.argv[1]?.endsWith('autocannon-client.ts')) {
  console.log(JSON.stringify(await runAutocannon(url, Number(connText ?? 10), Number(secondsText ?? 5))));
}
