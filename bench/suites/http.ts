/**
 * `http` suite: real HTTP/1.1 over real kernel TCP, in one lab (`WebLab`: network
 * namespaces, three Node HTTP servers), through three paths:
 *
 * - **nfvkit**: the `web-edge` chain (firewall → load balancer → NAT) applied by the
 *   controller, its VXLAN ends in this process;
 * - **nftables**: a middle namespace doing the same three things in the kernel (stateful
 *   filter, DNAT to the backends in turn, masquerade);
 * - **veth**: the client straight to one server (the floor).
 *
 * At 1, 10 and 100 connections, each path is measured by the microsecond closed-loop client
 * and by autocannon (whole milliseconds), both run inside the client namespace. Then the
 * chain is profiled at 10 connections (CPU by thread and process, machine-wide user /
 * system / softirq, V8 samples of the host thread), shut down (leak check) and the lab
 * removed. Writes `http.json`, `http.md` and the chart `http.svg` under bench/results/.
 *
 * Environment: `HTTP_BENCH_SECONDS` (5 per run), `HTTP_BENCH_WARMUP` (1),
 * `HTTP_BENCH_CONNECTIONS` (`1,10,100`), `HTTP_BENCH_PROFILE` (`0` skips the profile),
 * `HTTP_BENCH_IN_PLANE` (`1` wraps the chain's ends in the in-plane transit probe, which keeps
 * them on the host: without it a fused web-edge runs its VXLAN ends in its replicas).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { startWebEdgeChain, type WebEdgeChain } from '../../src/netlab/web-edge-chain.ts';
import type { Placement } from '../../src/spec/chain-spec.ts';
import { WEB_CLIENT_VNI, WebLab } from '../../src/netlab/web-lab.ts';
import type { ChainPort } from '../../src/dataplane/chain-port.ts';
import { FunctionRegistry } from '../../src/pipeline/function-registry.ts';
import type { AutocannonSummary } from '../lib/autocannon-client.ts';
import { measureChainTransit, type ChainTransit } from '../lib/chain-transit.ts';
import { TransitProbe, type TransitSummary } from '../lib/transit-probe.ts';
import type { ClosedLoopResult } from '../lib/closed-loop-client.ts';
import { cpuSnapshot, cpuUsageSince, type CpuUsage } from '../lib/cpu-usage.ts';
import { autocannonIn, closedLoopIn, tcpRetransmits } from '../lib/http-load.ts';
import { profileMainThread, type MainThreadProfile } from '../lib/main-thread-profile.ts';
import { RESULTS_DIR, type BenchSuite, type ResultTable, type SuiteReport } from '../lib/report.ts';
import { barChartsSvg } from '../lib/svg-chart.ts';

const SECONDS = Number(process.env.HTTP_BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.HTTP_BENCH_WARMUP ?? 1);
const CONNECTIONS = (process.env.HTTP_BENCH_CONNECTIONS ?? '1,10,100').split(',').map(Number);
const PROFILE = process.env.HTTP_BENCH_PROFILE !== '0';
/** Wrap the ends in the in-plane probe (host ends only: a wrapped end cannot run in a replica). */
const IN_PLANE = process.env.HTTP_BENCH_IN_PLANE === '1';
/** `spec.placement` of the chain under test (default: the topology's, `auto`). */
const PLACEMENT = process.env.HTTP_BENCH_PLACEMENT as Placement | undefined;

const TARGET_RPS = 25_000;
const TARGET_SHARE = 0.5;
const TARGET_P99_US = 1000;

type PathName = 'nfvkit' | 'nftables' | 'veth';
const PATHS: readonly PathName[] = ['nfvkit', 'nftables', 'veth'];
const LABEL: Record<PathName, string> = { nfvkit: 'nfvkit web-edge', nftables: 'nftables DNAT', veth: 'plain veth' };

interface PathRun {
  path: PathName;
  connections: number;
  loop: ClosedLoopResult;
  cannon: AutocannonSummary;
  retransmits: number;
  /** Frames the chain dropped during the run (nfvkit only). */
  chainDrops: number;
}

interface CpuRow {
  path: PathName;
  usage: CpuUsage;
}

function chainDrops(edge: WebEdgeChain): number {
  let n = edge.runtime.dataPlane.dropped();
  for (const side of ['inside', 'outside'] as const) {
    for (const [reason, v] of Object.entries(edge.endDrops(side))) if (!reason.startsWith('gateway:not_for_gateway')) n += v;
  }
  return n;
}

const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
const fixed = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '—');

async function measure(progress: (line: string) => void): Promise<SuiteReport> {
  const runs: PathRun[] = [];
  const cpu: CpuRow[] = [];
  const notes: string[] = [];
  let profile: MainThreadProfile<ClosedLoopResult> | undefined;
  let transit: ChainTransit<ClosedLoopResult> | undefined;
  let inPlane: TransitSummary | undefined;
  const probe = new TransitProbe();
  let leaked = 'not checked';
  const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-http-bench-'));
  const web = await WebLab.create({ kernelPaths: true, prefix: 'nfvb' });
  let edge: WebEdgeChain | undefined;
  try {
    edge = await startWebEdgeChain(web, { registry: registerBuiltinFunctions(new FunctionRegistry()), store: ImageStore.open(storeDir), ...(IN_PLANE ? { wrapPort: (_side: 'inside' | 'outside', port: ChainPort) => probe.wrap(port) } : {}), ...(PLACEMENT === undefined ? {} : { placement: PLACEMENT }) });
    notes.push(`web-edge placement: ${edge.runtime.placement.placement} (${edge.runtime.placement.reason}); ends: ${edge.runtime.endsPlacement.where} (${edge.runtime.endsPlacement.reason})`);
    const url: Record<PathName, string> = { nfvkit: web.targets.chain, nftables: web.targets.kernel, veth: web.targets.veth };
    const servers = web.backends.map((b) => b.server.pid ?? 0).filter((p) => p > 0);
    for (const connections of CONNECTIONS) {
      for (const path of PATHS) {
        const r0 = await tcpRetransmits(web.lab, web.client);
        const d0 = chainDrops(edge);
        const before = connections === 10 ? cpuSnapshot({ servers }) : undefined;
        const loop = await closedLoopIn(web.lab, web.client, url[path], connections, SECONDS, WARMUP);
        if (before !== undefined) cpu.push({ path, usage: cpuUsageSince(before) });
        const cannon = await autocannonIn(web.lab, web.client, url[path], connections, SECONDS);
        const retransmits = (await tcpRetransmits(web.lab, web.client)) - r0;
        runs.push({ path, connections, loop, cannon, retransmits, chainDrops: path === 'nfvkit' ? chainDrops(edge) - d0 : 0 });
        progress(`${LABEL[path]} ×${connections}: closed-loop ${loop.rps} req/s p50/p99 ${loop.p50}/${loop.p99} µs; autocannon ${cannon.rps} req/s p99 ${cannon.p99} ms`);
      }
    }
    if (PROFILE) {
      progress('profiling the chain host thread at 10 connections');
      profile = await profileMainThread(() => closedLoopIn(web.lab, web.client, url.nfvkit, 10, SECONDS, WARMUP));
      progress('timing segments through the chain on the wire (tcpdump), 1 connection');
      transit = await measureChainTransit([web.insideListen, web.outsideListen], WEB_CLIENT_VNI, async () => {
        if (IN_PLANE) probe.start();
        try {
          return await closedLoopIn(web.lab, web.client, url.nfvkit, 1, Math.min(SECONDS, 2), 0.5);
        } finally {
          if (IN_PLANE) inPlane = probe.stop();
        }
      });
      if (transit === undefined) notes.push('chain transit not measured: tcpdump cannot run here (apt-get install -y tcpdump)');
    }
    const drops = edge.runtime.dataPlane.dropsByReason();
    if (Object.keys(drops).length > 0) notes.push(`chain drops by reason over the whole run: ${JSON.stringify(drops)}`);
    const portDrops = { inside: edge.endDrops('inside'), outside: edge.endDrops('outside') };
    notes.push(`VXLAN port drops (gateway:not_for_gateway are the namespaces' own IPv6/multicast chatter): ${JSON.stringify(portDrops)}`);
  } finally {
    if (edge !== undefined) leaked = (await edge.close(500)).leakedBuffers;
    const report = await web.destroy();
    rmSync(storeDir, { recursive: true, force: true });
    if (report.errors.length > 0 || report.leftovers.length > 0) notes.push(`lab cleanup problems: ${JSON.stringify(report)}`);
  }
  return buildReport(runs, cpu, profile, transit, inPlane, leaked, notes);
}

function buildReport(runs: PathRun[], cpu: CpuRow[], profile: MainThreadProfile<ClosedLoopResult> | undefined, transit: ChainTransit<ClosedLoopResult> | undefined, inPlane: TransitSummary | undefined, leaked: string, notes: string[]): SuiteReport {
  const find = (path: PathName, c: number) => runs.find((r) => r.path === path && r.connections === c);
  const tables: ResultTable[] = [
    {
      title: `Closed-loop client (keep-alive, latency in µs, ${SECONDS} s per run after ${WARMUP} s warm-up)`,
      columns: ['path', 'connections', 'req/s', 'p50 µs', 'p90 µs', 'p99 µs', 'max µs', 'failed', 'TCP retransmits', 'chain drops'],
      rows: runs.map((r) => [LABEL[r.path], r.connections, r.loop.rps, r.loop.p50, r.loop.p90, r.loop.p99, r.loop.max, r.loop.errors + r.loop.non2xx, r.retransmits, r.path === 'nfvkit' ? r.chainDrops : '—']),
    },
    {
      title: `autocannon 9 (keep-alive, no pipelining, latency in whole ms, ${SECONDS} s per run)`,
      columns: ['path', 'connections', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'timeouts', 'non-2xx'],
      rows: runs.map((r) => [LABEL[r.path], r.connections, r.cannon.rps, r.cannon.p50, r.cannon.p90, r.cannon.p99, r.cannon.max, r.cannon.errors, r.cannon.timeouts, r.cannon.non2xx]),
    },
  ];
  const ratioRows: Array<Array<string | number>> = [];
  for (const c of CONNECTIONS) {
    const n = find('nfvkit', c);
    const k = find('nftables', c);
    const v = find('veth', c);
    if (n === undefined || k === undefined || v === undefined) continue;
    ratioRows.push([c, fixed(n.loop.rps / k.loop.rps), fixed(n.cannon.rps / k.cannon.rps), fixed(n.loop.p50 / k.loop.p50), fixed(n.loop.p99 / k.loop.p99), fixed(n.loop.rps / v.loop.rps), fixed(k.loop.rps / v.loop.rps)]);
  }
  tables.push({
    title: 'Ratios nfvkit / kernel (nftables DNAT); req/s > 1 is better for nfvkit, latency < 1',
    columns: ['connections', 'req/s (closed-loop)', 'req/s (autocannon)', 'p50', 'p99', 'nfvkit / veth req/s', 'nftables / veth req/s'],
    rows: ratioRows,
  });
  if (cpu.length > 0) {
    tables.push({
      title: 'Where CPU goes at 10 connections (closed-loop run; cores = CPU-seconds per second, the machine has 2)',
      columns: ['path', 'bench main thread (chain host: sockets, gateway, pump)', 'bench other threads (fw, lb, nat instances; V8)', 'HTTP servers', 'machine user', 'machine system', 'machine softirq', 'machine idle'],
      rows: cpu.map(({ path, usage: u }) => [LABEL[path], fixed(u.mainThread), fixed(u.otherThreads), fixed(u.groups.servers ?? 0), fixed(u.system.user), fixed(u.system.system), fixed(u.system.softirq), fixed(u.system.idle)]),
    });
  }
  if (transit !== undefined) {
    const r = transit.result;
    const inChain = transit.toServers.p50 + transit.toClients.p50;
    tables.push({
      title: `Where a request's time goes, 1 connection (${r.rps} req/s, p50 ${r.p50} µs): data segments timed on the wire in and out of the chain host (tcpdump)`,
      columns: ['part', 'p50 µs', 'p90 µs', 'max µs', 'segments', 'share of the p50 request'],
      rows: [
        ['client → servers, through the chain host (socket in, fw, lb, nat, socket out)', transit.toServers.p50, transit.toServers.p90, transit.toServers.max, transit.toServers.samples, pct(transit.toServers.p50 / r.p50)],
        ['servers → client, through the chain host', transit.toClients.p50, transit.toClients.p90, transit.toClients.max, transit.toClients.samples, pct(transit.toClients.p50 / r.p50)],
        ...(inPlane === undefined ? [] : [['of which: data plane only, port fill → port take (3 instance hops), both directions', inPlane.p50, inPlane.p90, inPlane.max, inPlane.samples, pct((2 * inPlane.p50) / r.p50) + ' (both ways)']]),
        ['the rest (client, kernel TCP/VXLAN, veth, HTTP server)', Math.max(0, r.p50 - inChain), '', '', '', pct(Math.max(0, r.p50 - inChain) / r.p50)],
      ],
    });
  }
  if (profile !== undefined) {
    tables.push({
      title: `Chain host thread, V8 samples by file (10 connections, ${profile.result.rps} req/s while profiled; idle = waiting in the event loop)`,
      columns: ['file', 'self ms', 'share'],
      rows: profile.byFile.slice(0, 14).map((e) => [e.name, fixed(e.selfMs, 0), pct(e.share)]),
    });
    tables.push({
      title: 'Chain host thread, top functions by self time',
      columns: ['function', 'self ms', 'share'],
      rows: profile.byFunction.slice(0, 16).map((e) => [e.name, fixed(e.selfMs, 0), pct(e.share)]),
    });
  }

  const n10 = find('nfvkit', 10);
  const k10 = find('nftables', 10);
  const targets: SuiteReport['targets'] = [];
  if (n10 !== undefined && k10 !== undefined) {
    targets.push(
      { name: 'HTTP through web-edge, 10 connections (autocannon)', target: `≥ ${TARGET_RPS} req/s`, measured: `${n10.cannon.rps} req/s (closed-loop ${n10.loop.rps})`, met: n10.cannon.rps >= TARGET_RPS },
      { name: 'web-edge vs nftables DNAT, 10 connections (autocannon req/s)', target: `≥ ${pct(TARGET_SHARE)}`, measured: `${pct(n10.cannon.rps / k10.cannon.rps)} (closed-loop ${pct(n10.loop.rps / k10.loop.rps)})`, met: n10.cannon.rps / k10.cannon.rps >= TARGET_SHARE },
      { name: 'web-edge p99 latency, 10 connections (closed-loop)', target: `≤ ${TARGET_P99_US} µs`, measured: `${n10.loop.p99} µs (autocannon ${n10.cannon.p99} ms)`, met: n10.loop.p99 <= TARGET_P99_US },
    );
  }
  const nfv = runs.filter((r) => r.path === 'nfvkit');
  const failed = nfv.reduce((s, r) => s + r.loop.errors + r.loop.non2xx + r.cannon.errors + r.cannon.timeouts + r.cannon.non2xx, 0);
  targets.push({ name: 'failed requests through web-edge (all runs, both clients)', target: '0', measured: String(failed), met: nfv.length > 0 && failed === 0 });
  targets.push({ name: 'leaked pool buffers after the run', target: '0', measured: leaked, met: leaked === '0' });

  const chart = barChartsSvg(
    [
      { title: 'Requests per second (closed-loop)', unit: 'req/s', groups: CONNECTIONS.map(String), series: PATHS.map((p) => ({ name: LABEL[p], values: CONNECTIONS.map((c) => find(p, c)?.loop.rps ?? NaN) })) },
      { title: 'Requests per second (autocannon)', unit: 'req/s', groups: CONNECTIONS.map(String), series: PATHS.map((p) => ({ name: LABEL[p], values: CONNECTIONS.map((c) => find(p, c)?.cannon.rps ?? NaN) })) },
      { title: 'p99 latency (closed-loop)', unit: 'µs', groups: CONNECTIONS.map(String), series: PATHS.map((p) => ({ name: LABEL[p], values: CONNECTIONS.map((c) => find(p, c)?.loop.p99 ?? NaN) })) },
    ],
    { title: 'HTTP/1.1 keep-alive through nfvkit web-edge vs the kernel', groupLabel: 'connections' },
  );
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, 'http.svg'), chart);
  notes.unshift(
    'Topology: client, 3 backends (Node http servers) and the nftables middle box are network namespaces; the nfvkit chain runs in this process (controller, autoscale off: one instance per function), reached over VXLAN on veth underlays. Chart: [http.svg](http.svg).',
    'Both clients run in the client namespace as separate Node processes; they share the 2 cores with the servers, the chain and the kernel, so every path is client- and server-bound as well.',
  );
  return { suite: 'http', tables, targets, notes };
}

/** The `http` benchmark suite (see the module documentation). */
export const httpSuite: BenchSuite = {
  name: 'http',
  description: 'real HTTP through the web-edge chain vs nftables DNAT vs plain veth, autocannon + µs closed-loop client, 1/10/100 connections',
  async run(progress) {
    const probe = await canCreateNamespaces();
    if (!probe.ok) {
      progress(`skipped: ${probe.reason}`);
      return { suite: 'http', tables: [], targets: [], notes: [`not run: ${probe.reason}`] };
    }
    return measure(progress);
  },
};
