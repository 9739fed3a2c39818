/**
 * `chain` suite: packets per second through service chains run by `ChainDataPlane` (one host
 * thread moving descriptors between the instances' virtio-net devices, one worker per
 * function), fed by the generator port with 64-byte frames (60 B + FCS) of 1024 TCP flows
 * and drained by a sink port: chains of 1, 2 and 3 pass-through functions (the per-hop cost
 * of the framework) and firewall → load balancer → NAT. The copy baseline in the same run
 * sends each frame by `postMessage` through the same number of plain workers (a structured
 * clone, i.e. one copy, per hop).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { buildImage, type BuildImageResult } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { TcpFlag } from '../../src/packet/tcp.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import type { BenchSuite, SuiteReport } from '../lib/report.ts';

const PACKETS = Number(process.env.CHAIN_BENCH_PACKETS ?? 1_000_000);
const COPY_PACKETS = Number(process.env.CHAIN_BENCH_COPY_PACKETS ?? 200_000);
const FLOWS = 1024;
const TARGET_MPPS = 5;

const ip = (s: string): number => parseIpv4(s) as number;

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

async function runChain(images: BuildImageResult[], frames: Uint8Array[], total: number): Promise<ChainRun> {
  const chain = await ChainDataPlane.boot(images, { queueSize: 256 });
  const gen = new GeneratorPort(frames, { total });
  const sink = new SinkPort();
  // Warm-up (JIT, rings stocked) is part of a separate small run.
  const warm = new GeneratorPort(frames, { total: 50_000 });
  await chain.runUntil(warm, sink, () => warm.done && sink.frames + chain.dropped() >= warm.sent, 30_000);
  const base = sink.frames;
  const baseDrop = chain.dropped();
  const idle0 = chain.idlePasses;
  const cpu0 = process.cpuUsage();
  const passes0 = chain.passes;
  const t0 = performance.now();
  await chain.runUntil(gen, sink, () => gen.done && sink.frames - base + chain.dropped() - baseDrop >= gen.sent, 120_000);
  const cpu = process.cpuUsage(cpu0);
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
    cores: (cpu.user + cpu.system) / 1e6 / seconds,
    hostIdle: (chain.idlePasses - idle0) / Math.max(1, chain.passes - passes0),
    received: Object.values(report.received).join(' / '),
  };
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
    const fw = await buildImage(firewall, { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 }] }, { store });
    const lb = await buildImage(
      loadBalancer,
      { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: ['198.18.3.11', '198.18.3.12', '198.18.3.13'].map((address) => ({ address, port: 8080 })) }] },
      { store },
    );
    const nt = await buildImage(nat, { snat: { addresses: '198.18.3.1/32', ports: '20000-29999' } }, { store });

    const chains: Array<{ label: string; hops: number; images: BuildImageResult[] }> = [
      { label: 'pass-through ×1', hops: 1, images: [pass] },
      { label: 'pass-through ×2', hops: 2, images: [pass, pass] },
      { label: 'pass-through ×3', hops: 3, images: [pass, pass, pass] },
      { label: 'firewall → load balancer → NAT', hops: 3, images: [fw, lb, nt] },
    ];
    const rows: Array<Array<string | number>> = [];
    const results: ChainRun[] = [];
    for (const c of chains) {
      progress(`${c.label}: ${PACKETS.toLocaleString('en')} frames`);
      const r = await runChain(c.images, frames, PACKETS);
      results.push(r);
      rows.push([c.label, c.hops, r.mpps.toFixed(3), (1000 / r.mpps).toFixed(0), r.delivered, r.dropped, r.copiesIn, r.copiesOut, r.leaks, r.cores.toFixed(2), `${(r.hostIdle * 100).toFixed(0)} %`, r.received]);
      progress(`  ${r.mpps.toFixed(3)} Mpps, ${r.dropped} dropped, leaks ${r.leaks}`);
    }
    const perHop = (results[2].seconds / results[2].delivered - results[0].seconds / results[0].delivered) / 2;

    const copyRows: Array<Array<string | number>> = [];
    for (const hops of [1, 2, 3]) {
      progress(`postMessage baseline ×${hops}: ${COPY_PACKETS.toLocaleString('en')} frames`);
      const mpps = await runCopyBaseline(hops, frames, COPY_PACKETS);
      copyRows.push([`postMessage ×${hops}`, hops, mpps.toFixed(3), (1000 / mpps).toFixed(0)]);
      progress(`  ${mpps.toFixed(3)} Mpps`);
    }

    const fln = results[3];
    return {
      suite: 'chain',
      tables: [
        {
          title: `Chain data plane, ${PACKETS.toLocaleString('en')} × 60 B frames (64 B with FCS), ${FLOWS} TCP flows, queues of 256`,
          columns: ['chain', 'functions', 'Mpps', 'ns/frame', 'delivered', 'dropped', 'pool copies in', 'pool copies out', 'leaked buffers', 'CPU (cores)', 'host idle passes', 'frames per instance'],
          rows,
        },
        {
          title: `Copy baseline: each frame postMessage'd through plain workers (${COPY_PACKETS.toLocaleString('en')} frames)`,
          columns: ['chain', 'workers', 'Mpps', 'ns/frame'],
          rows: copyRows,
        },
      ],
      targets: [{ name: 'fw → lb → NAT through the chain data plane', target: `≥ ${TARGET_MPPS} Mpps`, measured: `${fln.mpps.toFixed(3)} Mpps`, met: fln.mpps >= TARGET_MPPS }],
      notes: [
        `Per-hop cost (pass-through ×3 vs ×1, per frame, divided by 2): ${(perHop * 1e9).toFixed(0)} ns.`,
        'Copies: the pool counts one copy in per frame (generator) and none between instances; the sink does not copy out in this suite.',
        'One host thread plus one worker per function share 2 cores with each other (and with whatever else runs): with 3 functions, 4 busy threads on 2 cores.',
      ],
    };
  },
};
