/**
 * `scale` suite: autoscaling under real traffic. One run in a web lab (`WebLab`: client and
 * three HTTP servers in network namespaces) through the web-edge chain (firewall → load
 * balancer → NAT) applied by the controller with the autoscaler on: long-lived keep-alive
 * connections stay open across the whole run while autocannon ramps the load low → high →
 * low (rate-limited phases, connections reconnecting every few requests so the load keeps
 * opening new flows); more long-lived connections open halfway through the high phase, so
 * that the instances later drained hold some. Every 250 ms the suite records the instances of each function (ready,
 * draining, booting) and their load, the offered and served req/s and the latency; it
 * records every controller event. From them: the time from the load crossing the target
 * to each scaling decision and from the decision to the new instance taking new flows
 * (`instance-ready`) and to its first packet; failed requests; whether every long-lived
 * connection is alive at the end on its one NAT mapping; drains; leaks. At the end the
 * long-lived connections are closed, and the drained instances, which were holding them,
 * must stop. Writes `scale.json`, `scale.md` and the timeline `scale.svg` under
 * bench/results/.
 *
 * Environment: `SCALE_BENCH_SECONDS` (seconds per phase, one value or one per phase:
 * `8`), `SCALE_BENCH_RATES` (autocannon req/s per phase: `300,2000,300`),
 * `SCALE_BENCH_TARGET` (target pps per instance: 2000), `SCALE_BENCH_FUNCTIONS`
 * (functions that autoscale: `fw,lb,nat`), `SCALE_BENCH_MAX` (their most instances: 3),
 * `SCALE_BENCH_LONG` (long-lived connections opened at the start: 20), `SCALE_BENCH_LONG_LATE`
 * (more opened halfway through each rising phase, spread over the new instances: 10),
 * `SCALE_BENCH_CONNECTIONS` (autocannon
 * connections: 16), `SCALE_BENCH_RECONNECT` (requests per autocannon connection: 20).
 *
 * Saturation: after the ramp, the chain is applied twice more with every function held at
 * 1 and then at as many replicas as the autoscaler would reach (`SCALE_BENCH_SATURATION_REPLICAS`,
 * default `1,<min(SCALE_BENCH_MAX, cores)>`: a fused chain scales out to the cores at most; autoscaler off) and loaded with no rate limit
 * (`measureSaturation`, the closed-loop client: `SCALE_BENCH_SATURATION_CONNECTIONS` keep-alive connections, 64;
 * `SCALE_BENCH_SATURATION_SECONDS`, 5, after 2 s of warm-up; placement
 * `SCALE_BENCH_SATURATION_PLACEMENT`, default the topology's `auto`): the ratio of the two
 * is the throughput scaling adds.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import type { ControllerEvent } from '../../src/controller/controller-api.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { startWebEdgeChain, type WebEdgeChain } from '../../src/netlab/web-edge-chain.ts';
import { WEB_BACKEND_PORT, WEB_LAB_ADDRESSES, WEB_SERVICE_PORT, WebLab } from '../../src/netlab/web-lab.ts';
import { parseIpv4 } from '../../src/packet/ipv4.ts';
import { BuiltinCounter } from '../../src/pipeline/compiled-pipeline.ts';
import { FunctionRegistry } from '../../src/pipeline/function-registry.ts';
import type { LoadSample } from '../lib/load-window.ts';
import type { LongLivedStatus } from '../lib/long-lived-connections.ts';
import { RESULTS_DIR, type BenchSuite, type ResultTable, type SuiteReport } from '../lib/report.ts';
import { measureSaturation, type SaturationResult } from '../lib/scale-saturation.ts';
import { timelineSvg, type TimelineMarker } from '../lib/svg-timeline.ts';
import { tcpMib, tcpMibDelta, type TcpMib } from '../lib/tcp-mib.ts';
import { TrafficAgent } from '../lib/traffic-agent-client.ts';
import type { LatencySummary, TrafficTotals } from '../lib/traffic-agent.ts';

const RATES = (process.env.SCALE_BENCH_RATES ?? '300,2000,300').split(',').map(Number);
const SECONDS_LIST = (process.env.SCALE_BENCH_SECONDS ?? '8').split(',').map(Number);
const SECONDS = RATES.map((_, i) => SECONDS_LIST[Math.min(i, SECONDS_LIST.length - 1)]);
const TARGET_PPS = Number(process.env.SCALE_BENCH_TARGET ?? 2000);
const SCALED = (process.env.SCALE_BENCH_FUNCTIONS ?? 'fw,lb,nat').split(',').filter((f) => f !== '');
const MAX = Number(process.env.SCALE_BENCH_MAX ?? 3);
const LONG = Number(process.env.SCALE_BENCH_LONG ?? 20);
const LONG_LATE = Number(process.env.SCALE_BENCH_LONG_LATE ?? 10);
const CONNECTIONS = Number(process.env.SCALE_BENCH_CONNECTIONS ?? 16);
const RECONNECT = Number(process.env.SCALE_BENCH_RECONNECT ?? 20);
const FUNCTIONS = ['fw', 'lb', 'nat'] as const;
const SATURATION_CONNECTIONS = Number(process.env.SCALE_BENCH_SATURATION_CONNECTIONS ?? 64);
const SATURATION_SECONDS = Number(process.env.SCALE_BENCH_SATURATION_SECONDS ?? 5);
const SATURATION_PLACEMENT = (process.env.SCALE_BENCH_SATURATION_PLACEMENT ?? 'auto') as 'auto' | 'isolated' | 'fused';
/** Min and max replicas measured at saturation: 1 and as far as the autoscaler goes here (a fused chain's scale-out stops at the cores). */
const SATURATION_REPLICAS = (process.env.SCALE_BENCH_SATURATION_REPLICAS ?? `1,${Math.min(MAX, availableParallelism())}`).split(',').map(Number);
/** Max replicas ÷ min replicas at saturation (issue 12). */
const TARGET_SCALING_GAIN = 1.6;
const SAMPLE_MS = 250;
const LONG_INTERVAL_MS = 200;
/** Long enough that the long-lived connections outlive the run on a drained instance. */
const DRAIN_SECONDS = 300;
const POLICY = { outAfterMs: 500, inAfterMs: 2000 };
/** Enough warm isolates for every function to reach `MAX` at once (256 MiB: the firewall's and load balancer's class). */
const WARM = Math.max(2, SCALED.length * (MAX - 1));
const CHAIN = 'web-edge-scale';

const TARGET_DECISION_MS = 2000;
const TARGET_SERVING_MS = 50;

/** One 250 ms look at the controller. */
interface ControlSample {
  /** ms since the run started. */
  readonly t: number;
  readonly fns: Record<string, { ready: number; draining: number; booting: number; desired: number; pps: number }>;
  /** Flows pinned to each live instance, by instance id (`nat-1`). */
  readonly flows: Record<string, number>;
}

/** A controller event, timed from the run's start. */
interface TimedEvent {
  readonly t: number;
  readonly e: ControllerEvent;
}

/** A scaling decision with what followed it. */
interface ScalingEpisode {
  readonly fn: string;
  readonly from: number;
  readonly to: number;
  readonly decisionT: number;
  readonly reason: string;
  /** ms since start when the load entered the phase in which the decision came. */
  readonly phaseT: number;
  /** First sample of the run of samples above the target (out) or below `inBelow × target` (in) that led to it. */
  readonly crossingT: number;
  /** Instances that became ready for it (scale-out). */
  readonly ready: Array<{ id: string; t: number; bootMs: string; warm: string; firstPacketT: number }>;
  /** Instances drained for it (scale-in), with when they stopped. */
  readonly drained: Array<{ id: string; t: number; stoppedT: number; flowsLeft: string }>;
}

interface RunResult {
  readonly phases: Array<{ rate: number; seconds: number; startT: number; endT: number; latency: LatencySummary }>;
  readonly control: ControlSample[];
  readonly load: LoadSample[];
  readonly events: TimedEvent[];
  readonly firstPacket: Map<string, number>;
  readonly totals: TrafficTotals;
  readonly longAtEnd: LongLivedStatus[];
  /** Long-lived connections pinned to each instance just before they were closed. */
  readonly longPinned: Map<string, number>;
  readonly longClosedT: number;
  readonly mib: Record<string, TcpMib>;
  readonly counters: { learnConflicts: number; repinned: number; newFlows: number };
  readonly drops: Record<string, number>;
  readonly dropped: number;
  readonly leaked: string;
  readonly notes: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (x: number): string | number => (Number.isFinite(x) ? Math.round(x) : '—');

async function runOnce(progress: (line: string) => void): Promise<RunResult> {
  const notes: string[] = [];
  const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-scale-bench-'));
  const web = await WebLab.create({ prefix: 'nfvs' });
  let edge: WebEdgeChain | undefined;
  let agent: TrafficAgent | undefined;
  let leaked = 'not checked';
  const scaling: Record<string, { min: number; max: number; target?: number; cooldownSeconds?: number; drainTimeoutSeconds?: number }> = {};
  for (const fn of FUNCTIONS) {
    scaling[fn] = SCALED.includes(fn) ? { min: 1, max: MAX, target: TARGET_PPS, cooldownSeconds: 1, drainTimeoutSeconds: DRAIN_SECONDS } : { min: 1, max: 1 };
  }
  try {
    edge = await startWebEdgeChain(web, {
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(storeDir),
      name: CHAIN,
      // Per-function scaling (the fused placement scales the whole chain; its scale bench comes with ports in the replicas).
      placement: 'isolated',
      autoscale: true,
      scaling,
      scalingPolicy: POLICY,
      sampleIntervalMs: SAMPLE_MS,
      warm: { size: WARM, memoryMiB: 256 },
    });
    const chain = edge;
    const url = web.targets.chain;
    agent = await TrafficAgent.start(web.lab, web.client, { sampleMs: SAMPLE_MS });
    const namespaces = [web.client, ...web.backends.map((b) => b.ns)];
    const mib0 = new Map<string, TcpMib>();
    for (const ns of namespaces) mib0.set(ns, await tcpMib(web.lab, ns));

    const start = Date.now();
    const events: TimedEvent[] = [];
    const firstPacket = new Map<string, number>();
    const watched = new Set<string>();
    const rxOf = (id: string): number => {
      const inst = chain.runtime.dataPlane.stages.flatMap((s) => s.live).find((i) => i.id === id);
      return inst === undefined ? 0 : inst.host.counters[BuiltinCounter.RX_INSIDE_PACKETS] + inst.host.counters[BuiltinCounter.RX_OUTSIDE_PACKETS];
    };
    // Polled every 1 ms, only while a new instance waits for its first packet.
    let watcher: NodeJS.Timeout | undefined;
    const watch = (id: string) => {
      watched.add(id);
      watcher ??= setInterval(() => {
        for (const w of watched) {
          if (rxOf(w) > 0) {
            firstPacket.set(w, Date.now() - start);
            watched.delete(w);
          }
        }
        if (watched.size === 0) {
          clearInterval(watcher);
          watcher = undefined;
        }
      }, 1);
    };
    const unsubscribe = chain.controller.subscribe((e) => {
      events.push({ t: e.time - start, e });
      if (e.type === 'instance-ready' && e.time >= start) watch(e.instance.split('/')[1]);
    }, chain.controller.events.lastSeq);

    const control: ControlSample[] = [];
    const sampler = setInterval(() => {
      const t = Date.now() - start;
      const fns: ControlSample['fns'] = {};
      const status = chain.controller.getChain(CHAIN);
      const instances = chain.controller.listInstances(CHAIN);
      const rates = chain.controller.stats(CHAIN);
      for (const f of status.functions) {
        const mine = instances.filter((i) => i.function === f.name);
        fns[f.name] = {
          ready: mine.filter((i) => i.state === 'ready').length,
          draining: mine.filter((i) => i.state === 'draining').length,
          booting: mine.filter((i) => i.state === 'booting').length,
          desired: f.desiredReplicas,
          pps: rates.filter((r) => r.function === f.name).reduce((n, r) => n + r.rxPps, 0),
        };
      }
      const flows: Record<string, number> = {};
      for (const i of instances) if (i.state !== 'booting') flows[i.id.split('/')[1]] = i.flows;
      control.push({ t, fns, flows });
    }, SAMPLE_MS);

    const phases: RunResult['phases'] = [];
    let longAtEnd: LongLivedStatus[] = [];
    const longPinned = new Map<string, number>();
    let longClosedT = Number.NaN;
    let totals: TrafficTotals;
    try {
      const opened = await agent.open(url, LONG, LONG_INTERVAL_MS, 'long');
      progress(`${opened.filter((c) => c.state === 'open').length}/${LONG} long-lived connections open (a request every ${LONG_INTERVAL_MS} ms each)`);
      for (const [i, rate] of RATES.entries()) {
        const mark = (await agent.totals()).latencyMark;
        const startT = Date.now() - start;
        if (i === 0) await agent.loadAutocannon({ url, connections: CONNECTIONS, rate, reconnectRate: RECONNECT });
        else await agent.loadRate(rate);
        if (i > 0 && rate > RATES[i - 1] && LONG_LATE > 0) {
          await sleep(SECONDS[i] * 500);
          const late = await agent.open(url, LONG_LATE, LONG_INTERVAL_MS, 'late');
          progress(`${late.filter((c) => c.state === 'open').length}/${LONG_LATE} more long-lived connections open`);
          await sleep(Math.max(0, startT + SECONDS[i] * 1000 - (Date.now() - start)));
        } else {
          await sleep(SECONDS[i] * 1000);
        }
        const latency = await agent.latency(mark);
        phases.push({ rate, seconds: SECONDS[i], startT, endT: Date.now() - start, latency });
        const now = chain.controller.getChain(CHAIN).functions.map((f) => `${f.name} ${f.readyReplicas}`).join(', ');
        progress(`phase ${i + 1}: ${rate} req/s for ${SECONDS[i]} s, p50/p99 ${latency.p50.toFixed(1)}/${latency.p99.toFixed(1)} ms; ready instances: ${now}`);
      }
      totals = await agent.stopLoad();
      await sleep(600);
      longAtEnd = await agent.connections();
      for (const c of longAtEnd) for (const inst of pinnedInstances(chain, c)) longPinned.set(inst, (longPinned.get(inst) ?? 0) + 1);
      progress(`long-lived connections alive at the end: ${longAtEnd.filter((c) => c.state === 'open' && c.failed === 0).length}/${longAtEnd.length}`);
      longClosedT = Date.now() - start;
      await agent.close();
      const draining = () => chain.controller.listInstances(CHAIN).filter((i) => i.state === 'draining').length;
      const deadline = Date.now() + 15_000;
      while (draining() > 0 && Date.now() < deadline) await sleep(100);
      if (draining() > 0) notes.push(`${draining()} instance(s) still draining 15 s after the long-lived connections closed`);
      await sleep(2 * SAMPLE_MS);
    } finally {
      clearInterval(sampler);
      if (watcher !== undefined) clearInterval(watcher);
      unsubscribe();
    }
    const { samples } = await agent.samples(0);
    const mib: Record<string, TcpMib> = {};
    for (const ns of namespaces) mib[ns === web.client ? 'client' : web.backends.find((b) => b.ns === ns)!.name] = tcpMibDelta(mib0.get(ns)!, await tcpMib(web.lab, ns));
    const dp = chain.runtime.dataPlane;
    const result = {
      phases,
      control,
      load: samples.map((s) => ({ ...s, t: s.t - start })),
      events,
      firstPacket,
      totals,
      longAtEnd,
      longPinned,
      longClosedT,
      mib,
      counters: { learnConflicts: dp.counters.learnConflicts, repinned: dp.counters.repinned, newFlows: dp.counters.newFlows },
      drops: dp.dropsByReason(),
      dropped: dp.dropped(),
      notes,
    };
    await agent.stop();
    agent = undefined;
    leaked = (await edge.close(500)).leakedBuffers;
    return { ...result, leaked };
  } finally {
    await agent?.stop().catch(() => undefined);
    if (edge !== undefined && leaked === 'not checked') await edge.close(0).catch(() => undefined);
    const report = await web.destroy();
    rmSync(storeDir, { recursive: true, force: true });
    if (report.errors.length > 0 || report.leftovers.length > 0) notes.push(`lab cleanup problems: ${JSON.stringify(report)}`);
  }
}

/** The instances (fw, lb, nat) a long-lived connection's flow is pinned to. */
function pinnedInstances(chain: WebEdgeChain, c: LongLivedStatus): string[] {
  const dp = chain.runtime.dataPlane;
  const client = parseIpv4(WEB_LAB_ADDRESSES.client) as number;
  const vip = parseIpv4(WEB_LAB_ADDRESSES.vip) as number;
  const backend = parseIpv4(WEB_LAB_ADDRESSES.backendBase + (10 + Number(c.backends[0]?.split('-')[1] ?? 0))) as number;
  return [
    dp.pinnedInstance(0, client, vip, c.localPort, WEB_SERVICE_PORT, 6)?.id,
    dp.pinnedInstance(1, client, vip, c.localPort, WEB_SERVICE_PORT, 6)?.id,
    dp.pinnedInstance(2, client, backend, c.localPort, WEB_BACKEND_PORT, 6)?.id,
  ].filter((id) => id !== undefined);
}

/** Pairs every autoscaler decision with the samples before it and the instances it started or drained. */
function episodesOf(r: RunResult): ScalingEpisode[] {
  const out: ScalingEpisode[] = [];
  const scaled = r.events.filter((x) => x.e.type === 'scaled' && x.e.details.source === 'autoscaler');
  for (const { t, e } of scaled) {
    const from = Number(e.details.from);
    const to = Number(e.details.to);
    const fn = e.function;
    const phase = [...r.phases].reverse().find((p) => p.startT <= t);
    const before = r.control.filter((c) => c.t <= t && c.fns[fn] !== undefined);
    const over = (c: ControlSample) => {
      const f = c.fns[fn];
      const per = f.pps / Math.max(1, f.desired);
      return to > from ? per > TARGET_PPS : per < 0.5 * TARGET_PPS;
    };
    let k = before.length - 1;
    while (k >= 0 && !over(before[k])) k--;
    let crossing = Number.NaN;
    while (k >= 0 && over(before[k])) crossing = before[k--].t;
    const later = r.events.filter((x) => x.e.function === fn && x.e.seq > e.seq);
    const ready = to > from
      ? later
          .filter((x) => x.e.type === 'instance-ready')
          .slice(0, to - from)
          .map((x) => {
            const id = x.e.instance.split('/')[1];
            const booted = later.find((b) => b.e.type === 'instance-booted' && b.e.instance === x.e.instance);
            return { id, t: x.t, bootMs: x.e.details.bootMs ?? '', warm: booted?.e.details.warm ?? '', firstPacketT: r.firstPacket.get(id) ?? Number.NaN };
          })
      : [];
    const drained = to < from
      ? later
          .filter((x) => x.e.type === 'instance-draining')
          .slice(0, from - to)
          .map((x) => {
            const stopped = later.find((s) => s.e.type === 'instance-stopped' && s.e.instance === x.e.instance);
            return { id: x.e.instance.split('/')[1], t: x.t, stoppedT: stopped?.t ?? Number.NaN, flowsLeft: stopped?.e.details.flowsLeft ?? '' };
          })
      : [];
    out.push({ fn, from, to, decisionT: t, reason: e.reason, phaseT: phase?.startT ?? Number.NaN, crossingT: crossing, ready, drained });
  }
  return out;
}

function buildReport(r: RunResult, saturation: readonly SaturationResult[]): { report: SuiteReport; svg: string } {
  const episodes = episodesOf(r);
  const outs = episodes.filter((x) => x.to > x.from);
  const ins = episodes.filter((x) => x.to < x.from);
  const longRate = (LONG * 1000) / LONG_INTERVAL_MS;
  const servedIn = (a: number, b: number) => {
    const s = r.load.filter((x) => x.t > a && x.t <= b);
    const span = s.reduce((n, x) => n + x.ms, 0);
    return span > 0 ? (s.reduce((n, x) => n + x.ok, 0) * 1000) / span : 0;
  };
  const failedIn = (a: number, b: number) => r.load.filter((x) => x.t > a && x.t <= b).reduce((n, x) => n + x.failed + x.longFailed, 0);
  const readyAt = (fn: string, t: number) => [...r.control].reverse().find((c) => c.t <= t)?.fns[fn]?.ready ?? 0;
  const maxReady = (fn: string, a: number, b: number) => Math.max(0, ...r.control.filter((c) => c.t > a && c.t <= b).map((c) => c.fns[fn]?.ready ?? 0));

  const tables: ResultTable[] = [];
  tables.push({
    title: `Load phases (autocannon ${CONNECTIONS} connections, each reconnecting every ${RECONNECT} requests; plus ${LONG} long-lived connections, ${LONG_LATE} more from halfway through the high phase, each a request every ${LONG_INTERVAL_MS} ms)`,
    columns: ['phase', 'from s', 'offered req/s (autocannon)', 'served req/s (autocannon)', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'failed', ...FUNCTIONS.map((f) => `${f} ready: most / at end`)],
    rows: r.phases.map((p, i) => [
      `${i + 1}: ${i === 0 ? 'low' : p.rate > r.phases[i - 1].rate ? 'high' : 'low'}`,
      (p.startT / 1000).toFixed(1),
      p.rate,
      Math.round(servedIn(p.startT, p.endT)),
      p.latency.p50.toFixed(2),
      p.latency.p90.toFixed(2),
      p.latency.p99.toFixed(2),
      p.latency.max.toFixed(1),
      failedIn(p.startT, p.endT),
      ...FUNCTIONS.map((f) => `${maxReady(f, p.startT, p.endT)} / ${readyAt(f, p.endT)}`),
    ]),
  });
  tables.push({
    title: `Scaling decisions (autoscaler; target ${TARGET_PPS} pps per instance, out after ${POLICY.outAfterMs} ms above it, in after ${POLICY.inAfterMs} ms below half of it, sampled every ${SAMPLE_MS} ms; times in ms, 1 ms resolution)`,
    columns: ['at s', 'function', 'step', 'load crossed → decision', 'load change (phase) → decision', 'decision → instance ready (taking new flows)', 'decision → first packet', 'boot', 'served req/s in the 2 s after: lowest 250 ms window / offered', 'p99 ms in the 2 s after: worst window', 'reason'],
    rows: episodes.map((x) => {
      const after = r.load.filter((l) => l.t > x.decisionT && l.t <= x.decisionT + 2000 && l.ms > 0);
      const lowest = after.length === 0 ? Number.NaN : Math.min(...after.map((l) => (l.ok * 1000) / l.ms));
      const worstP99 = after.length === 0 ? Number.NaN : Math.max(...after.map((l) => l.p99));
      const readyMs = x.ready.length > 0 ? Math.max(...x.ready.map((i) => i.t)) - x.decisionT : Number.NaN;
      const firstMs = x.ready.length > 0 ? Math.max(...x.ready.map((i) => i.firstPacketT)) - x.decisionT : Number.NaN;
      const boot = x.ready.map((i) => `${i.id} ${i.warm === 'true' ? 'warm' : 'cold'} ${i.bootMs} ms`).join('; ') || x.drained.map((d) => `drains ${d.id}`).join('; ');
      return [(x.decisionT / 1000).toFixed(2), x.fn, `${x.from} → ${x.to}`, ms(x.decisionT - x.crossingT), ms(x.decisionT - x.phaseT), ms(readyMs), ms(firstMs), boot, `${ms(lowest)} / ${offeredAt(r, x.decisionT)}`, Number.isFinite(worstP99) ? worstP99.toFixed(1) : '—', x.reason];
    }),
  });
  const drains = ins.flatMap((x) => x.drained.map((d) => ({ ...d, fn: x.fn })));
  tables.push({
    title: `Drains (drain timeout ${DRAIN_SECONDS} s, longer than the run: a drained instance keeps the long-lived connections it holds until they end; they are closed at ${(r.longClosedT / 1000).toFixed(1)} s)`,
    columns: ['instance', 'draining from s', 'flows pinned to it then (to the others ready)', 'long-lived connections it still held at the end', 'stopped at s', 'drain took s', 'stopped after the long-lived connections closed, ms', 'flows left when stopped'],
    rows: drains.map((d) => {
      const held = r.longPinned.get(d.id) ?? 0;
      const after = d.stoppedT - r.longClosedT;
      const then = [...r.control].reverse().find((c) => c.t <= d.t);
      const others = then === undefined ? '' : Object.entries(then.flows).filter(([id]) => id !== d.id && id.startsWith(`${d.fn}-`) && !drains.some((o) => o.id === id && o.t < d.t)).map(([id, n]) => `${id} ${n}`).join(', ');
      return [d.id, (d.t / 1000).toFixed(2), `${then?.flows[d.id] ?? '?'} (${others})`, held, Number.isFinite(d.stoppedT) ? (d.stoppedT / 1000).toFixed(2) : 'still draining', Number.isFinite(d.stoppedT) ? ((d.stoppedT - d.t) / 1000).toFixed(1) : '—', after < 0 ? 'before (its flows had ended)' : ms(after), d.flowsLeft];
    }),
  });
  const alive = r.longAtEnd.filter((c) => c.state === 'open' && c.failed === 0);
  const oneMapping = r.longAtEnd.filter((c) => c.seen.length === 1 && c.seen[0].startsWith(`${WEB_LAB_ADDRESSES.nat}:`) && c.backends.length === 1);
  tables.push({
    title: 'Long-lived connections (one TCP connection each for the whole run)',
    columns: ['connections', 'alive at the end', 'with one NAT mapping and one backend throughout', 'requests answered', 'failed', 'failure reasons'],
    rows: [[r.longAtEnd.length, alive.length, oneMapping.length, r.longAtEnd.reduce((n, c) => n + c.ok, 0), r.longAtEnd.reduce((n, c) => n + c.failed, 0), [...new Set(r.longAtEnd.flatMap((c) => c.errors))].join('; ') || 'none']],
  });
  const ac = r.totals.autocannon;
  tables.push({
    title: 'Requests, resets and the data plane over the whole run',
    columns: ['what', 'value'],
    rows: [
      ['load requests answered (2xx)', r.totals.totals.ok],
      ['load requests failed (errors, timeouts, non-2xx)', r.totals.totals.failed],
      ['autocannon errors / timeouts / non-2xx (its own counts)', `${ac.reduce((n, s) => n + s.errors, 0)} / ${ac.reduce((n, s) => n + s.timeouts, 0)} / ${ac.reduce((n, s) => n + s.non2xx, 0)}`],
      ['failures by reason', JSON.stringify(r.totals.totals.failures)],
      ['load latency over the run, p50 / p90 / p99 / max ms', `${r.totals.latency.p50.toFixed(2)} / ${r.totals.latency.p90.toFixed(2)} / ${r.totals.latency.p99.toFixed(2)} / ${r.totals.latency.max.toFixed(1)}`],
      ...Object.entries(r.mib).map(([ns, d]) => [`TCP ${ns}: EstabResets / AttemptFails / OutRsts / RetransSegs`, `${d.EstabResets} / ${d.AttemptFails} / ${d.OutRsts} / ${d.RetransSegs}`] as Array<string | number>),
      ['data plane: new flows / re-pinned / learn conflicts', `${r.counters.newFlows} / ${r.counters.repinned} / ${r.counters.learnConflicts}`],
      ['data plane: frames dropped', `${r.dropped} ${JSON.stringify(r.drops)}`],
    ],
  });
  tables.push({
    title: `Timeline (every ${SAMPLE_MS} ms: the controller's view and the client's)`,
    columns: ['t s', 'offered req/s (autocannon)', 'served req/s (autocannon)', 'served req/s (long-lived)', 'p99 ms', 'failed', ...FUNCTIONS.map((f) => `${f} ready/draining`), ...SCALED.map((f) => `${f} pps per instance`)],
    rows: r.control.map((c) => {
      const l = nearest(r.load, c.t);
      return [
        (c.t / 1000).toFixed(2),
        offeredAt(r, c.t),
        l === undefined ? '' : Math.round((l.ok * 1000) / l.ms),
        l === undefined ? '' : Math.round((l.longOk * 1000) / l.ms),
        l === undefined ? '' : l.p99.toFixed(1),
        l === undefined ? '' : l.failed + l.longFailed,
        ...FUNCTIONS.map((f) => `${c.fns[f]?.ready ?? 0}/${c.fns[f]?.draining ?? 0}`),
        ...SCALED.map((f) => Math.round((c.fns[f]?.pps ?? 0) / Math.max(1, c.fns[f]?.desired ?? 1))),
      ];
    }),
  });

  const decisionMs = outs.map((x) => x.decisionT - x.crossingT).filter(Number.isFinite);
  const servingMs = outs.flatMap((x) => x.ready.map((i) => i.t - x.decisionT));
  const firstMs = outs.flatMap((x) => x.ready.map((i) => i.firstPacketT - x.decisionT)).filter(Number.isFinite);
  const failed = r.totals.totals.failed + r.totals.totals.longFailed + ac.reduce((n, s) => n + s.errors + s.non2xx, 0);
  const resets = Object.values(r.mib).reduce((n, d) => n + d.EstabResets, 0);
  const worst = (xs: number[]) => (xs.length === 0 ? Number.NaN : Math.max(...xs));
  const atMin = saturation[0];
  const atMax = saturation[saturation.length - 1];
  const gain = atMax.rps / atMin.rps;
  tables.push({
    title: `Saturation: HTTP with no rate limit (the closed-loop client, ${SATURATION_CONNECTIONS} keep-alive connections, ${SATURATION_SECONDS} s after 2 s of warm-up), every function held at min and at max replicas, autoscaler off`,
    columns: ['replicas', 'placement', 'ready instances', 'req/s', 'p50 µs', 'p99 µs', 'failed', 'TCP resets', 'leaked buffers'],
    rows: saturation.map((x) => [x.replicas, x.placement, x.instances, Math.round(x.rps), x.p50Us, x.p99Us, x.failed, x.resets, x.leakedBuffers]),
  });
  const targets: SuiteReport['targets'] = [
    { name: `throughput at saturation, ${atMax.replicas} replicas ÷ ${atMin.replicas}`, target: `≥ ${TARGET_SCALING_GAIN}×`, measured: `${gain.toFixed(2)}× (${Math.round(atMax.rps)} ÷ ${Math.round(atMin.rps)} req/s)`, met: gain >= TARGET_SCALING_GAIN },
    { name: 'failed requests and resets at saturation', target: '0', measured: `${atMin.failed + atMax.failed} failed, ${atMin.resets + atMax.resets} resets`, met: atMin.failed + atMax.failed + atMin.resets + atMax.resets === 0 && atMin.leakedBuffers === '0' && atMax.leakedBuffers === '0' },
    { name: 'the autoscaler scaled out under the high load and back in after it', target: 'both', measured: `${outs.length} scale-out and ${ins.length} scale-in decision(s)`, met: outs.length > 0 && ins.length > 0 },
    { name: 'scaling decision after the load crossed the target (worst scale-out)', target: `≤ ${TARGET_DECISION_MS} ms`, measured: decisionMs.length === 0 ? 'no scale-out' : `${ms(worst(decisionMs))} ms (${decisionMs.map((x) => ms(x)).join(', ')})`, met: decisionMs.length > 0 && worst(decisionMs) <= TARGET_DECISION_MS },
    { name: 'new instance serving after the decision: instance-ready, taking new flows (worst)', target: `≤ ${TARGET_SERVING_MS} ms`, measured: servingMs.length === 0 ? 'no new instance' : `${ms(worst(servingMs))} ms; first packet after ${firstMs.length === 0 ? '—' : `${ms(worst(firstMs))} ms (worst)`}`, met: servingMs.length > 0 && worst(servingMs) <= TARGET_SERVING_MS },
    { name: 'failed requests across the ramp (autocannon and long-lived)', target: '0', measured: String(failed), met: failed === 0 },
    { name: 'connections reset (TCP EstabResets in the client and server namespaces)', target: '0', measured: String(resets), met: resets === 0 },
    { name: 'long-lived connections alive at the end, each on one NAT mapping throughout', target: `all ${r.longAtEnd.length}`, measured: `${alive.length}/${r.longAtEnd.length} alive, ${oneMapping.length} with one mapping`, met: r.longAtEnd.length > 0 && alive.length === r.longAtEnd.length && oneMapping.length === r.longAtEnd.length },
    { name: 'leaked pool buffers after the run', target: '0', measured: r.leaked, met: r.leaked === '0' },
  ];

  const loadPoints = r.load.filter((x) => x.t >= 0);
  const markers: TimelineMarker[] = episodes.map((x) => ({ x: x.decisionT / 1000, label: `${x.to > x.from ? 'out' : 'in'} ${x.fn} ${x.from}→${x.to} @${(x.decisionT / 1000).toFixed(1)} s`, color: x.to > x.from ? '#d64545' : '#3aa66a' }));
  const svg = timelineSvg(
    [
      {
        title: 'Instances per function (ready: taking new flows; draining: dashed)',
        unit: 'instances',
        minTop: MAX + 0.5,
        series: FUNCTIONS.flatMap((f, i) => [
          { name: `${f} ready`, points: r.control.map((c) => [c.t / 1000, (c.fns[f]?.ready ?? 0) + i * 0.04] as const), step: true, color: ['#2f6fdf', '#e8833a', '#3aa66a'][i] },
          { name: `${f} draining`, points: r.control.map((c) => [c.t / 1000, (c.fns[f]?.draining ?? 0) + i * 0.04] as const), step: true, dashed: true, color: ['#2f6fdf', '#e8833a', '#3aa66a'][i] },
        ]),
      },
      {
        title: `Requests per second (autocannon; the long-lived connections add ${longRate} req/s, ${((LONG + LONG_LATE) * 1000) / LONG_INTERVAL_MS} once the late ones are open)`,
        unit: 'req/s',
        series: [
          { name: 'offered', points: r.control.map((c) => [c.t / 1000, offeredAt(r, c.t)] as const), step: true, color: '#9aa5b1', dashed: true },
          { name: 'served', points: loadPoints.map((x) => [x.t / 1000, (x.ok * 1000) / x.ms] as const), color: '#2f6fdf' },
          { name: 'failed', points: loadPoints.map((x) => [x.t / 1000, ((x.failed + x.longFailed) * 1000) / x.ms] as const), color: '#d64545' },
        ],
      },
      {
        title: `Load per instance the autoscaler sees (packets/s; target ${TARGET_PPS})`,
        unit: 'pps',
        series: [
          ...SCALED.map((f) => ({ name: f, points: r.control.map((c) => [c.t / 1000, (c.fns[f]?.pps ?? 0) / Math.max(1, c.fns[f]?.desired ?? 1)] as const) })),
          { name: 'target', points: [[0, TARGET_PPS], [(r.control.at(-1)?.t ?? 0) / 1000, TARGET_PPS]], color: '#d64545', dashed: true },
        ],
      },
      {
        title: 'Latency of the autocannon requests (per 250 ms window)',
        unit: 'ms',
        series: [
          { name: 'p50', points: loadPoints.map((x) => [x.t / 1000, x.ok > 0 ? x.p50 : Number.NaN] as const) },
          { name: 'p99', points: loadPoints.map((x) => [x.t / 1000, x.ok > 0 ? x.p99 : Number.NaN] as const), color: '#e8833a' },
        ],
      },
    ],
    {
      title: `nfvkit web-edge autoscaling under an HTTP load ramp (${RATES.join(' → ')} req/s)`,
      markers,
      bands: r.phases.map((p) => ({ from: p.startT / 1000, to: p.endT / 1000, label: `${p.rate} req/s` })),
    },
  );

  const notes = [
    `Topology: the web lab (client and 3 Node HTTP servers in network namespaces, VXLAN to the chain in this process); ${SCALED.join(', ')} autoscale between 1 and ${MAX} instances (target ${TARGET_PPS} pps per instance, cooldown 1 s, drain timeout ${DRAIN_SECONDS} s), the others stay at 1. Warm pool of ${WARM} isolates of 256 MiB; the controller has them preload and prepare the chain's images when it applies the chain. Chart: [scale.svg](scale.svg).`,
    'The load per instance is what the controller samples (rx packets/s of the function\'s instances over its replicas); "load crossed → decision" counts from the first sample of the run of samples above the target (below half of it for scale-in) that led to the decision, so it includes the policy\'s sustain time.',
    '"Instance ready" is when the data plane added the new instance to the stage\'s Maglev table (it takes new flows from then on); "first packet" is when its receive counters first moved (polled every 1 ms), which also waits for a new flow to hash to it.',
    'autocannon runs in-process in the client namespace (bench/lib/traffic-agent.ts) as one run over the whole ramp, 4 staggered instances (autocannon sends each second\'s quota in one burst), the rate changed per phase; the stop pauses the clients and lets the requests in flight finish, so nothing is aborted. Responses are counted from each client\'s headers event (autocannon reports no response event for the reply before a reconnect).',
    'The machine has 2 cores shared by the chain host, its instance threads, the servers, the client and other jobs: the figures are noisy.',
    ...r.notes,
  ];
  return { report: { suite: 'scale', tables, targets, notes }, svg };
}

/** The autocannon rate asked for at `t` (0 outside the phases). */
function offeredAt(r: RunResult, t: number): number {
  return [...r.phases].reverse().find((x) => x.startT <= t && t <= x.endT)?.rate ?? 0;
}

function nearest(samples: readonly LoadSample[], t: number): LoadSample | undefined {
  let best: LoadSample | undefined;
  for (const s of samples) if (best === undefined || Math.abs(s.t - t) < Math.abs(best.t - t)) best = s;
  return best;
}

/** The `scale` benchmark suite (see the module documentation). */
export const scaleSuite: BenchSuite = {
  name: 'scale',
  description: 'autoscaling under real HTTP load: autocannon ramp low → high → low plus long-lived connections through web-edge, timeline of instances, req/s, latency, decision and boot times',
  async run(progress) {
    const probe = await canCreateNamespaces();
    if (!probe.ok) {
      progress(`skipped: ${probe.reason}`);
      return { suite: 'scale', tables: [], targets: [], notes: [`not run: ${probe.reason}`] };
    }
    const result = await runOnce(progress);
    const saturation: SaturationResult[] = [];
    for (const replicas of SATURATION_REPLICAS) {
      progress(`saturation: every function at ${replicas} replica(s), no rate limit`);
      saturation.push(await measureSaturation({ replicas, placement: SATURATION_PLACEMENT, connections: SATURATION_CONNECTIONS, warmupSeconds: 2, seconds: SATURATION_SECONDS }, progress));
    }
    const { report, svg } = buildReport(result, saturation);
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'scale.svg'), svg);
    return report;
  },
};
