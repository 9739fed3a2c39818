/**
 * `chain` suite: packets per second through service chains run by `ChainDataPlane` (one host
 * thread moving descriptors between the instances' virtio-net devices, one worker per
 * function), fed by the generator port with 64-byte frames (60 B + FCS) of 1024 TCP flows
 * and drained by a sink port: chains of 1, 2 and 3 pass-through functions (the per-hop cost
 * of the framework) and firewall → load balancer → NAT. The copy baseline in the same run
 * sends each frame by `postMessage` through the same number of plain workers (a structured
 * clone, i.e. one copy, per hop).
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ChainDataPlane, defaultInstanceMode, describeInstanceMode, type InstanceMode, type LinkMode } from '../../src/dataplane/chain-data-plane.ts';
import { ProcessIsolate } from '../../src/runtime/process-isolate.ts';
import { LocalPortCounter } from '../../src/dataplane/ports/local-ports.ts';
import type { StageInstance } from '../../src/dataplane/stage.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { buildFusedImage, buildImage, type BuildImageResult } from '../../src/image/image-builder.ts';
import type { FusedChainPart } from '../../src/pipeline/fuse-chain.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { TcpFlag } from '../../src/packet/tcp.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { perFunctionNsInFreshProcess } from '../lib/per-function-cost.ts';
import type { BenchSuite, SuiteReport } from '../lib/report.ts';

const PACKETS = Number(process.env.CHAIN_BENCH_PACKETS ?? 1_000_000);
const COPY_PACKETS = Number(process.env.CHAIN_BENCH_COPY_PACKETS ?? 200_000);
const FLOWS = 1024;
const TARGET_MPPS = 5;
const TARGET_FUSED_MPPS = 3;
const TARGET_FUSED_SCALING = 1.6;
const TARGET_ISOLATED_MPPS = 1.5;
const TARGET_PASS3_RATIO = 0.6;

const ip = (s: string): number => parseIpv4(s) as number;

/** Mean of a few runs. */
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Worker/process pairs per case of the instance-mode comparison (each pair: worker run, then process run). */
const MODE_PAIRS = Number(process.env.CHAIN_BENCH_MODE_PAIRS ?? 5);

function templates(): Uint8Array[] {
  const client = ip('198.18.1.0');
  const vip = ip('198.18.2.10');
  return Array.from({ length: FLOWS }, (_, f) =>
    buildFrame({ proto: IpProto.TCP, srcIp: client + (f >> 6), dstIp: vip, srcPort: 40000 + f, dstPort: 80, tcpFlags: TcpFlag.SYN, minFrameLength: 60 }),
  );
}

interface ChainRun {
  mpps: number;
  seconds: number;
  delivered: number;
  dropped: number;
  copiesIn: number;
  copiesOut: number;
  leaks: number;
  /** CPU of the whole process (host + instance threads) over the run, in cores. */
  cores: number;
  /** Share of host passes that moved nothing (the host waiting for instances). */
  hostIdle: number;
  /** Frames each instance received over the run (warm-up included). */
  received: string;
}

/** CPU seconds of this process and of every instance process of `chain` so far (instance threads are in this process's figure). */
function chainCpuSeconds(chain: ChainDataPlane): number {
  const own = process.cpuUsage();
  let ticks = 0;
  for (const inst of chain.instances()) {
    const worker = inst.host.worker;
    if (!(worker instanceof ProcessIsolate) || worker.pid === undefined) continue;
    try {
      // /proc/<pid>/stat: fields 14 and 15 (utime, stime) after the parenthesised name.
      const fields = readFileSync(`/proc/${worker.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return (own.user + own.system) / 1e6 + ticks / CLOCK_TICKS;
}

/** `sysconf(_SC_CLK_TCK)` on Linux. */
const CLOCK_TICKS = 100;

async function runChain(images: BuildImageResult[], frames: Uint8Array[], total: number, replicas = 1, instanceMode: InstanceMode = defaultInstanceMode(), links: LinkMode = 'host'): Promise<ChainRun> {
  const chain = ChainDataPlane.create(images.map((img, i) => `${img.manifest.name}-${i}`), { queueSize: 256, instanceMode, links });
  for (const [k, img] of images.entries()) {
    for (let r = 0; r < replicas; r++) await chain.addInstance(k, img, replicas > 1 ? { shards: replicas } : {});
  }
  const gen = new GeneratorPort(frames, { total });
  const sink = new SinkPort();
  // Warm-up (JIT, rings stocked) is part of a separate small run.
  const warm = new GeneratorPort(frames, { total: 50_000 });
  await chain.runUntil(warm, sink, () => warm.done && sink.frames + chain.dropped() >= warm.sent, 30_000);
  const base = sink.frames;
  const baseDrop = chain.dropped();
  const idle0 = chain.idlePasses;
  const cpu0 = chainCpuSeconds(chain);
  const passes0 = chain.passes;
  const t0 = performance.now();
  await chain.runUntil(gen, sink, () => gen.done && sink.frames - base + chain.dropped() - baseDrop >= gen.sent, 120_000);
  const cpu = chainCpuSeconds(chain) - cpu0;
  const seconds = (performance.now() - t0) / 1000;
  const stats = chain.pool.stats();
  const report = await chain.shutdown();
  const delivered = sink.frames - base;
  return {
    mpps: delivered / seconds / 1e6,
    seconds,
    delivered,
    dropped: chain.dropped() - baseDrop,
    copiesIn: stats.copiesIn,
    copiesOut: stats.copiesOut,
    leaks: report.leaks.length,
    cores: cpu / seconds,
    hostIdle: (chain.idlePasses - idle0) / Math.max(1, chain.passes - passes0),
    received: Object.values(report.received).join(' / '),
  };
}

interface LocalRun {
  mpps: number;
  cores: number;
  leaks: number;
  perReplica: string;
}

const LOCAL_WARMUP_MS = 300;
const LOCAL_WINDOW_MS = Number(process.env.CHAIN_BENCH_WINDOW_MS ?? 2000);

/**
 * Ports in the instances: each replica runs its own generator (its share of the flows) and
 * sink, and carries every frame to completion on its own thread; the host only boots them
 * and reads their counters. Rate of frames reaching the sinks over a window after warm-up.
 */
async function runLocal(image: BuildImageResult, frames: Uint8Array[], replicas: number, instanceMode: InstanceMode = defaultInstanceMode()): Promise<LocalRun> {
  const chain = ChainDataPlane.create(['chain'], { bufferCount: 8192, instanceMode });
  const instances: StageInstance[] = [];
  for (let r = 0; r < replicas; r++) {
    const mine = frames.filter((_, f) => f % replicas === r);
    instances.push(await chain.addInstance(0, image, { ...(replicas > 1 ? { shards: replicas } : {}), ports: { inside: { type: 'generator', frames: mine }, outside: { type: 'sink' } } }));
  }
  const out = (): number => instances.reduce((sum, i) => sum + i.portCounters![LocalPortCounter.OUTSIDE_OUT], 0);
  await new Promise((r) => setTimeout(r, LOCAL_WARMUP_MS));
  const c0 = out();
  const each0 = instances.map((i) => i.portCounters![LocalPortCounter.OUTSIDE_OUT]);
  const cpu0 = chainCpuSeconds(chain);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, LOCAL_WINDOW_MS));
  const c1 = out();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = chainCpuSeconds(chain) - cpu0;
  const perReplica = instances.map((i, k) => ((i.portCounters![LocalPortCounter.OUTSIDE_OUT] - each0[k]) / seconds / 1e6).toFixed(3)).join(' / ');
  const report = await chain.shutdown();
  return { mpps: (c1 - c0) / seconds / 1e6, cores: cpu / seconds, leaks: report.leaks.length, perReplica };
}

/** Worker code of the copy baseline: forwards every frame it gets to the next port (or counts it at the end). */
const COPY_HOP = `
const { parentPort, workerData } = require('node:worker_threads');
const { input, output } = workerData;
let n = 0;
input.on('message', (frame) => {
  if (output) output.postMessage(frame);
  else if (++n === workerData.total) parentPort.postMessage('done');
});
parentPort.postMessage('ready');
`;

async function runCopyBaseline(hops: number, frames: Uint8Array[], total: number): Promise<number> {
  const { MessageChannel } = await import('node:worker_threads');
  const channels = Array.from({ length: hops }, () => new MessageChannel());
  const workers: Worker[] = [];
  for (let h = 0; h < hops; h++) {
    const input = channels[h].port2;
    const output = h + 1 < hops ? channels[h + 1].port1 : undefined;
    const transfer = output ? [input, output] : [input];
    workers.push(new Worker(COPY_HOP, { eval: true, workerData: { input, output, total }, transferList: transfer }));
  }
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const done = new Promise((resolve) => workers[hops - 1].once('message', resolve));
  const entry = channels[0].port1;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    entry.postMessage(frames[i % frames.length]);
    if ((i & 4095) === 4095) await new Promise((r) => setImmediate(r));
  }
  await done;
  const seconds = (performance.now() - t0) / 1000;
  for (const w of workers) await w.terminate();
  entry.close();
  return total / seconds / 1e6;
}

export const chainSuite: BenchSuite = {
  name: 'chain',
  description: 'Mpps through chains of 1–3 functions on the chain data plane (descriptors only between instances) vs a postMessage copy per hop',
  async run(progress): Promise<SuiteReport> {
    const store = ImageStore.open(join(tmpdir(), 'nfvkit-bench-chain-images'));
    const frames = templates();
    const pass = await buildImage(passThrough, {}, { store });
    const parts: FusedChainPart[] = [
      { name: 'fw', definition: firewall, config: { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 }] } },
      { name: 'lb', definition: loadBalancer, config: { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: ['198.18.3.11', '198.18.3.12', '198.18.3.13'].map((address) => ({ address, port: 8080 })) }] } },
      { name: 'nat', definition: nat, config: { snat: { addresses: '198.18.3.1/32', ports: '20000-29999' } } },
    ];
    const [fw, lb, nt] = await Promise.all(parts.map((p) => buildImage(p.definition, p.config, { store })));
    const fused = await buildFusedImage(parts, { store });

    const chains: Array<{ label: string; hops: number; images: BuildImageResult[]; replicas?: number; links?: LinkMode }> = [
      { label: 'pass-through ×1', hops: 1, images: [pass] },
      { label: 'pass-through ×2', hops: 2, images: [pass, pass] },
      { label: 'pass-through ×3', hops: 3, images: [pass, pass, pass] },
      { label: 'firewall → load balancer → NAT (isolated)', hops: 3, images: [fw, lb, nt] },
      { label: 'firewall → load balancer → NAT (fused, 1 replica)', hops: 3, images: [fused] },
      { label: 'firewall → load balancer → NAT (fused, 2 replicas)', hops: 3, images: [fused], replicas: 2 },
      // Direct links (issue 12 item 2): the instances of adjacent stages exchange descriptors themselves; the host only feeds and drains the ends.
      { label: 'pass-through ×3 (isolated, direct links)', hops: 3, images: [pass, pass, pass], links: 'direct' },
      { label: 'firewall → load balancer → NAT (isolated, direct links)', hops: 3, images: [fw, lb, nt], links: 'direct' },
    ];
    const rows: Array<Array<string | number>> = [];
    const results: ChainRun[] = [];
    for (const c of chains) {
      progress(`${c.label}: ${PACKETS.toLocaleString('en')} frames`);
      const r = await runChain(c.images, frames, PACKETS, c.replicas ?? 1, defaultInstanceMode(), c.links ?? 'host');
      results.push(r);
      rows.push([c.label, c.hops, r.mpps.toFixed(3), (1000 / r.mpps).toFixed(0), r.delivered, r.dropped, r.copiesIn, r.copiesOut, r.leaks, r.cores.toFixed(2), `${(r.hostIdle * 100).toFixed(0)} %`, r.received]);
      progress(`  ${r.mpps.toFixed(3)} Mpps, ${r.dropped} dropped, leaks ${r.leaks}`);
    }
    const localRuns: Array<{ label: string; image: BuildImageResult; replicas: number }> = [
      { label: 'pass-through ×1, ports in the instance', image: pass, replicas: 1 },
      { label: 'fw → lb → NAT fused, 1 replica, ports in the replica', image: fused, replicas: 1 },
      { label: 'fw → lb → NAT fused, 2 replicas, ports in the replicas', image: fused, replicas: 2 },
    ];
    const local: LocalRun[] = [];
    const localRows: Array<Array<string | number>> = [];
    for (const c of localRuns) {
      progress(`${c.label}: ${LOCAL_WINDOW_MS} ms window`);
      const r = await runLocal(c.image, frames, c.replicas);
      local.push(r);
      localRows.push([c.label, c.replicas, r.mpps.toFixed(3), (1000 / r.mpps).toFixed(0), r.perReplica, r.cores.toFixed(2), r.leaks]);
      progress(`  ${r.mpps.toFixed(3)} Mpps (${r.perReplica}), leaks ${r.leaks}`);
    }
    const perHop = (results[2].seconds / results[2].delivered - results[0].seconds / results[0].delivered) / 2;

    // Instance processes next to worker threads, same run, interleaved (worker, process, worker, process, …).
    const modeRows: Array<Array<string | number>> = [];
    const modeRatios: number[] = [];
    if (defaultInstanceMode() === 'process') {
      const modeCases: Array<{ label: string; run: (mode: InstanceMode) => Promise<number> }> = [
        { label: chains[0].label, run: async (m) => (await runChain(chains[0].images, frames, PACKETS, 1, m)).mpps },
        { label: chains[3].label, run: async (m) => (await runChain(chains[3].images, frames, PACKETS, 1, m)).mpps },
        { label: chains[7].label, run: async (m) => (await runChain(chains[7].images, frames, PACKETS, 1, m, 'direct')).mpps },
        { label: chains[4].label, run: async (m) => (await runChain(chains[4].images, frames, PACKETS, 1, m)).mpps },
        { label: localRuns[1].label, run: async (m) => (await runLocal(fused, frames, 1, m)).mpps },
        { label: localRuns[2].label, run: async (m) => (await runLocal(fused, frames, 2, m)).mpps },
      ];
      for (const c of modeCases) {
        const got: Record<InstanceMode, number[]> = { worker: [], process: [] };
        for (let pair = 0; pair < MODE_PAIRS; pair++) {
          for (const mode of ['worker', 'process'] as const) {
            progress(`instance modes: ${c.label}, ${mode}`);
            got[mode].push(await c.run(mode));
          }
        }
        const w = median(got.worker);
        const p = median(got.process);
        // Pair by pair: each process run against the worker run just before it, so a slow spell of the VM hits both sides of a ratio.
        const ratio = median(got.process.map((x, k) => x / got.worker[k]));
        modeRatios.push(ratio);
        modeRows.push([c.label, got.worker.map((x) => x.toFixed(3)).join(' / '), got.process.map((x) => x.toFixed(3)).join(' / '), (p / w).toFixed(2), ratio.toFixed(2)]);
        progress(`  worker ${w.toFixed(3)}, process ${p.toFixed(3)} Mpps (pair-by-pair median ${ratio.toFixed(2)})`);
      }
    }

    const copyRows: Array<Array<string | number>> = [];
    for (const hops of [1, 2, 3]) {
      progress(`postMessage baseline ×${hops}: ${COPY_PACKETS.toLocaleString('en')} frames`);
      const mpps = await runCopyBaseline(hops, frames, COPY_PACKETS);
      copyRows.push([`postMessage ×${hops}`, hops, mpps.toFixed(3), (1000 / mpps).toFixed(0)]);
      progress(`  ${mpps.toFixed(3)} Mpps`);
    }

    progress('per-function cost on one thread, in a fresh process (ideal chain)');
    const ns = perFunctionNsInFreshProcess({ parts: parts.map((p) => ({ function: p.definition.name, config: p.config })), frames: frames.map((f) => Buffer.from(f).toString('base64')) });
    const idealNs = ns.reduce((a, b) => a + b, 0);
    const cores = 2;
    /** Measured Mpps ÷ what `cores` cores could do at the functions' own cost. */
    const efficiency = (mpps: number): number => mpps / (cores / idealNs) / 1e3;
    const [iso, isoDirect] = [results[3], results[7]];
    const [f1, f2] = [local[1], local[2]];
    const pass3 = results[2].mpps / results[0].mpps;
    const pass3Direct = results[6].mpps / results[0].mpps;
    return {
      suite: 'chain',
      tables: [
        {
          title: `Chain data plane, ${PACKETS.toLocaleString('en')} × 60 B frames (64 B with FCS), ${FLOWS} TCP flows, queues of 256`,
          columns: ['chain', 'functions', 'Mpps', 'ns/frame', 'delivered', 'dropped', 'pool copies in', 'pool copies out', 'leaked buffers', 'CPU (cores)', 'host idle passes', 'frames per instance'],
          rows,
        },
        ...(modeRows.length === 0
          ? []
          : [
              {
                title: `Instance processes vs worker threads, same run (${MODE_PAIRS} runs each, interleaved worker, process, worker, …)`,
                columns: ['chain', 'worker threads Mpps', 'sandboxed processes Mpps', 'process ÷ worker, medians', 'process ÷ worker, median of the pairs'],
                rows: modeRows,
              },
            ]),
        {
          title: `Copy baseline: each frame postMessage'd through plain workers (${COPY_PACKETS.toLocaleString('en')} frames)`,
          columns: ['chain', 'workers', 'Mpps', 'ns/frame'],
          rows: copyRows,
        },
        {
          title: `Ports in the instances: each replica generates its share of the ${FLOWS} flows and sinks what leaves, run to completion on its own thread; the host carries no frame (${LOCAL_WINDOW_MS} ms window after ${LOCAL_WARMUP_MS} ms warm-up)`,
          columns: ['chain', 'replicas', 'Mpps', 'ns/frame', 'Mpps per replica', 'CPU (cores)', 'leaked buffers'],
          rows: localRows,
        },
        {
          title: `Efficiency: measured Mpps ÷ (${cores} cores ÷ Σ per-function ns/packet on one thread of a fresh process, measured in this run: ${parts.map((p, k) => `${p.name} ${ns[k].toFixed(0)}`).join(' + ')} = ${idealNs.toFixed(0)} ns)`,
          columns: ['chain', 'Mpps', 'ideal Mpps on 2 cores', 'efficiency'],
          rows: [
            [chains[3].label, iso],
            [chains[7].label, isoDirect],
            [chains[4].label, results[4]],
            [chains[5].label, results[5]],
            [localRuns[1].label, f1],
            [localRuns[2].label, f2],
          ].map(([label, r]) => [label as string, (r as { mpps: number }).mpps.toFixed(3), ((cores / idealNs) * 1e3).toFixed(2), `${(efficiency((r as { mpps: number }).mpps) * 100).toFixed(1)} %`]),
        },
      ],
      targets: [
        { name: 'fw → lb → NAT fused, 2 replicas, ports in the replicas', target: `≥ ${TARGET_FUSED_MPPS} Mpps`, measured: `${f2.mpps.toFixed(3)} Mpps`, met: f2.mpps >= TARGET_FUSED_MPPS },
        { name: 'fused, ports in the replicas: 2 replicas ÷ 1 replica', target: `≥ ${TARGET_FUSED_SCALING}×`, measured: `${(f2.mpps / f1.mpps).toFixed(2)}×`, met: f2.mpps / f1.mpps >= TARGET_FUSED_SCALING },
        { name: 'fw → lb → NAT isolated', target: `≥ ${TARGET_ISOLATED_MPPS} Mpps`, measured: `${iso.mpps.toFixed(3)} Mpps`, met: iso.mpps >= TARGET_ISOLATED_MPPS },
        { name: 'pass-through ×3 ÷ ×1 (isolated)', target: `≥ ${TARGET_PASS3_RATIO}`, measured: pass3.toFixed(2), met: pass3 >= TARGET_PASS3_RATIO },
        { name: 'fw → lb → NAT isolated, direct links', target: `≥ ${TARGET_ISOLATED_MPPS} Mpps`, measured: `${isoDirect.mpps.toFixed(3)} Mpps`, met: isoDirect.mpps >= TARGET_ISOLATED_MPPS },
        { name: 'pass-through ×3 (direct links) ÷ ×1', target: `≥ ${TARGET_PASS3_RATIO}`, measured: pass3Direct.toFixed(2), met: pass3Direct >= TARGET_PASS3_RATIO },
        { name: 'fw → lb → NAT, best placement (issue 4)', target: `≥ ${TARGET_MPPS} Mpps`, measured: `${Math.max(iso.mpps, isoDirect.mpps, f1.mpps, f2.mpps).toFixed(3)} Mpps`, met: Math.max(iso.mpps, isoDirect.mpps, f1.mpps, f2.mpps) >= TARGET_MPPS },
        ...(modeRatios.length === 0
          ? []
          : [{ name: 'instance processes ÷ worker threads, worst chain (median of the pair ratios)', target: '≥ 0.9', measured: Math.min(...modeRatios).toFixed(2), met: Math.min(...modeRatios) >= 0.9 }]),
        { name: 'leaked buffers, ports in the instances', target: '0', measured: String(local.reduce((s, r) => s + r.leaks, 0)), met: local.every((r) => r.leaks === 0) },
      ],
      notes: [
        `Per-hop cost (pass-through ×3 vs ×1, per frame, divided by 2): ${(perHop * 1e9).toFixed(0)} ns.`,
        `Instances run as ${describeInstanceMode()} in the tables above (NFVKIT_INSTANCE_MODE=worker for threads); CPU (cores) includes the instance processes' own CPU (/proc/<pid>/stat).`,
        'Copies: the pool counts one copy in per frame (generator) and none between instances; the sink does not copy out in this suite.',
        'Isolated: one host thread plus one worker per function share 2 cores with each other (and with whatever else runs): with 3 functions, 4 busy threads on 2 cores. Direct links: the host thread carries frames only from the generator and to the sink; between stages each instance sends to the next over a queue pair of its own and steers itself. Fused: the three functions in one image, one worker per replica; the host thread still carries every frame between the ports and the replicas (data plane v2 moves the ports into the instances).',
      ],
    };
  },
};
