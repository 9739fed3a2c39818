/**
 * Runs the HTTP load clients (`closed-loop-client.ts`, `autocannon-client.ts`) as processes
 * inside a lab namespace, so their sockets are the namespace's, and returns what they
 * printed. Each run is a fresh Node process: the bench process itself (which hosts the
 * nfvkit chain's main thread) stays idle while it waits.
 *
 * @example
 * ```ts
 * const r = await closedLoopIn(web.lab, web.client, web.targets.chain, 10, 5);
 * r.rps; r.p99; // µs
 * const a = await autocannonIn(web.lab, web.client, web.targets.chain, 10, 5);
 * ```
 */
import type { Lab } from '../../src/netlab/lab.ts';
import type { LabProcess } from '../../src/netlab/lab-process.ts';
import type { AutocannonSummary } from './autocannon-client.ts';
import type { ClosedLoopResult } from './closed-loop-client.ts';

/** Runs `script` with `args` in namespace `ns` and parses the last line it printed as JSON. */
export async function runJsonScript<T>(lab: Lab, ns: string, script: URL, args: readonly string[], timeoutMs: number): Promise<{ result: T; process: LabProcess }> {
  const p = lab.spawnNode(ns, script, args);
  const timer = setTimeout(() => void p.kill(), timeoutMs);
  const exit = await p.exited;
  clearTimeout(timer);
  const last = p.stdout.trim().split('\n').at(-1) ?? '';
  if (exit.code !== 0 || !last.startsWith('{')) {
    throw new Error(`${p.label} failed (code ${exit.code}, signal ${exit.signal}): ${p.stderr.trim().slice(-600) || last}`);
  }
  return { result: JSON.parse(last) as T, process: p };
}

/** The microsecond closed-loop client: `connections` keep-alive connections for `seconds` after `warmupSeconds`. */
export async function closedLoopIn(lab: Lab, ns: string, url: string, connections: number, seconds: number, warmupSeconds = 1): Promise<ClosedLoopResult> {
  const script = new URL('./closed-loop-client.ts', import.meta.url);
  const args = [url, String(connections), String(seconds), String(warmupSeconds)];
  return (await runJsonScript<ClosedLoopResult>(lab, ns, script, args, (seconds + warmupSeconds + 30) * 1000)).result;
}

/** autocannon with `connections` connections for `seconds`. */
export async function autocannonIn(lab: Lab, ns: string, url: string, connections: number, seconds: number): Promise<AutocannonSummary> {
  const script = new URL('./autocannon-client.ts', import.meta.url);
  return (await runJsonScript<AutocannonSummary>(lab, ns, script, [url, String(connections), String(seconds)], (seconds + 40) * 1000)).result;
}

/** TCP segments retransmitted so far by namespace `ns` (`RetransSegs` of its `/proc/net/snmp`). */
export async function tcpRetransmits(lab: Lab, ns: string): Promise<number> {
  const { stdout } = await lab.exec(ns, 'cat', ['/proc/net/snmp']);
  const lines = stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  if (lines.length < 2) return 0;
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('RetransSegs')] ?? 0);
}
