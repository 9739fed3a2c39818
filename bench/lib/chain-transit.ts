/**
 * How long TCP segments spend inside the nfvkit chain's host, measured on the wire: a
 * `tcpdump` in the root namespace timestamps every VXLAN datagram arriving at and leaving
 * the chain's ports; a data segment is matched in → out by its TCP sequence and
 * acknowledgement numbers (the functions rewrite addresses and ports, never sequence
 * numbers). The transit covers the kernel's delivery to the socket, the event loop, the
 * three functions and the send system call. Pure ACKs (no sequence range) are not matched.
 *
 * @example
 * ```ts
 * const t = await measureChainTransit([web.insideListen, web.outsideListen], () => closedLoopIn(…));
 * t?.toServers.p50; // µs from the client's datagram in to the backend's datagram out
 * ```
 */
import { spawn } from 'node:child_process';

/** Transit times of one direction, µs. */
export interface TransitDirection {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly max: number;
}

/** What `measureChainTransit` found. */
export interface ChainTransit<T> {
  readonly result: T;
  /** Client → backends (segments entering on the client's VNI). */
  readonly toServers: TransitDirection;
  /** Backends → client. */
  readonly toClients: TransitDirection;
}

const HEADER = /^(\d+\.\d+) \S+\s+(In|Out)\s+IP .*VXLAN.*vni (\d+)/;
const INNER = /seq (\d+:\d+), ack (\d+)/;

function summarize(values: number[]): TransitDirection {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => (s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]);
  return { samples: s.length, p50: Math.round(at(0.5)), p90: Math.round(at(0.9)), max: Math.round(s.at(-1) ?? 0) };
}

/**
 * Captures VXLAN traffic to and from `listenAddresses` (the chain's ports) while `work`
 * runs and matches segments in → out. `clientVni` tells the directions apart. Resolves
 * `undefined` when tcpdump cannot run here.
 */
export async function measureChainTransit<T>(listenAddresses: readonly string[], clientVni: number, work: () => Promise<T>): Promise<ChainTransit<T> | undefined> {
  const filter = `udp and (${listenAddresses.map((a) => `host ${a}`).join(' or ')})`;
  const td = spawn('tcpdump', ['-i', 'any', '-nn', '-tt', '-l', '-B', '16384', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  td.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const started = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 5000);
    td.on('error', () => resolve(false));
    td.on('close', () => resolve(false));
    td.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (/listening on/.test(err)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
  });
  if (!started) {
    td.kill('SIGKILL');
    return undefined;
  }
  let result: T;
  try {
    result = await work();
  } finally {
    td.kill('SIGINT');
    await new Promise((resolve) => (td.exitCode === null ? td.on('close', resolve) : resolve(null)));
  }
  const pendingIn = new Map<string, { t: number; toServer: boolean }>();
  const toServers: number[] = [];
  const toClients: number[] = [];
  const lines = out.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const h = HEADER.exec(lines[i]);
    if (h === null) continue;
    const inner = INNER.exec(lines[i + 1]);
    if (inner === null) continue;
    const key = `${inner[1]}/${inner[2]}`;
    const t = Number(h[1]) * 1e6;
    if (h[2] === 'In') {
      pendingIn.set(key, { t, toServer: Number(h[3]) === clientVni });
    } else {
      const seen = pendingIn.get(key);
      if (seen === undefined) continue;
      pendingIn.delete(key);
      (seen.toServer ? toServers : toClients).push(t - seen.t);
    }
  }
  return { result, toServers: summarize(toServers), toClients: summarize(toClients) };
}
