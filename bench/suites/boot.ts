/**
 * `boot` suite: what an instance costs to start and to keep. For each builtin function
 * (pass-through; firewall with a few rules; load balancer with 2 backends; NAT with one
 * address): image size (plain and minified), cold boot (a new isolate per instance) and warm
 * boot (the image loaded into a pre-booted isolate of a `WarmPool` on acquire, or preloaded in
 * it so that only the instance's start-up remains), spawn → `ready`, p50/p99;
 * then the idle RSS of an instance: process RSS delta per extra idle instance, averaged over
 * several instances.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type BuildImageResult } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import type { PipelineDefinition } from '../../src/pipeline/define-pipeline.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { InstanceHost } from '../../src/runtime/instance-host.ts';
import { WarmPool } from '../../src/runtime/warm-pool.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import type { BenchSuite, SuiteReport } from '../lib/report.ts';

const BOOTS = Number(process.env.BOOT_BENCH_BOOTS ?? 25);
const IDLE_INSTANCES = 8;

const FUNCTIONS: Array<{ label: string; def: PipelineDefinition<any>; config: unknown }> = [
  { label: 'pass-through', def: passThrough, config: {} },
  {
    label: 'firewall (4 rules)',
    def: firewall,
    config: {
      defaultPolicy: 'drop',
      rules: [
        { action: 'allow', proto: 'tcp', dport: 80 },
        { action: 'allow', proto: 'tcp', dport: 443 },
        { action: 'allow', proto: 'udp', dport: 53 },
        { action: 'reject', proto: 'tcp', dport: 23 },
      ],
    },
  },
  {
    label: 'load-balancer (2 backends)',
    def: loadBalancer,
    config: {
      services: [{ name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.2', port: 8080 }] }],
    },
  },
  { label: 'nat (1 address)', def: nat, config: { snat: { addresses: '198.18.100.1', match: ['10.0.0.0/8'] } } },
];

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(samples: number[]): { p50: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
}

const ms = (x: number): string => x.toFixed(2);
const kib = (x: number): string => (x / 1024).toFixed(1);

/** Boots `count` instances one after the other (each stopped before the next), returns boot times. */
async function bootTimes(image: BuildImageResult, pool: PacketPool, count: number, warm: WarmPool | undefined): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const opts = { imagePath: image.imagePath, manifest: image.manifest, pool, owner: 10 };
    if (warm !== undefined) await warm.full();
    const host = warm === undefined ? await InstanceHost.boot(opts) : await warm.acquire(opts);
    if (host.state !== 'running') throw new Error(`instance failed to boot: ${host.failure?.reason} ${host.failure?.detail}`);
    times.push(host.bootMs);
    await host.stop();
  }
  return times;
}

async function warmBootTimes(image: BuildImageResult, pool: PacketPool, preload: string[]): Promise<number[]> {
  const warm = await WarmPool.create({ size: 2, memoryMiB: image.manifest.memoryMiB, preload });
  try {
    return await bootTimes(image, pool, BOOTS, warm);
  } finally {
    await warm.close();
  }
}

async function settle(msToWait: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, msToWait));
  (globalThis as { gc?: () => void }).gc?.();
}

export const bootSuite: BenchSuite = {
  name: 'boot',
  description: 'Image size per builtin function, cold and warm boot time (p50/p99), idle RSS per instance.',
  async run(progress) {
    const root = mkdtempSync(join(tmpdir(), 'nfvkit-bench-boot-'));
    const store = ImageStore.open(root);
    const pool = PacketPool.create({ bufferCount: 8192, owner: 1 });
    const rows: Array<Array<string | number>> = [];
    const cold: number[] = [];
    const warmAll: number[] = [];
    const preloadedAll: number[] = [];
    let maxSize = 0;
    let maxMinified = 0;
    let idlePerInstance = Number.NaN;
    try {
      for (const f of FUNCTIONS) {
        const image = await buildImage(f.def, f.config, { store });
        const minified = await buildImage(f.def, f.config, { store, minify: true });
        maxSize = Math.max(maxSize, image.manifest.size);
        maxMinified = Math.max(maxMinified, minified.manifest.size);
        progress(`${f.label}: image ${kib(image.manifest.size)} KiB (${kib(minified.manifest.size)} KiB minified); ${BOOTS} cold boots`);
        const c = await bootTimes(image, pool, BOOTS, undefined);
        progress(`${f.label}: ${BOOTS} warm boots`);
        const w = await warmBootTimes(image, pool, []);
        progress(`${f.label}: ${BOOTS} warm boots, image preloaded`);
        const p = await warmBootTimes(image, pool, [image.imagePath]);
        cold.push(...c);
        warmAll.push(...w);
        preloadedAll.push(...p);
        const cs = summary(c);
        const ws = summary(w);
        const ps = summary(p);
        rows.push([f.label, kib(image.manifest.size), kib(minified.manifest.size), image.manifest.memoryMiB, ms(cs.p50), ms(cs.p99), ms(ws.p50), ms(ws.p99), ms(ps.p50), ms(ps.p99)]);
      }

      progress(`idle RSS: ${IDLE_INSTANCES} idle pass-through instances`);
      const image = await buildImage(passThrough, {}, { store });
      await settle(300);
      const before = process.memoryUsage().rss;
      const hosts: InstanceHost[] = [];
      for (let i = 0; i < IDLE_INSTANCES; i++) hosts.push(await InstanceHost.boot({ imagePath: image.imagePath, manifest: image.manifest, pool, owner: 100 + 2 * i }));
      await settle(500);
      const after = process.memoryUsage().rss;
      idlePerInstance = (after - before) / IDLE_INSTANCES;
      for (const h of hosts) await h.stop();
      if (pool.leakCheck().length > 0) throw new Error(`buffers leaked: ${pool.leakCheck().length}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }

    const c = summary(cold);
    const w = summary(warmAll);
    const p = summary(preloadedAll);
    const idleMiB = idlePerInstance / 2 ** 20;
    const report: SuiteReport = {
      suite: 'boot',
      tables: [
        {
          title: `Boot per function (${BOOTS} cold + ${BOOTS} warm boots each, spawn → ready, ms)`,
          columns: ['function', 'image KiB', 'minified KiB', 'memory MiB', 'cold p50', 'cold p99', 'warm p50', 'warm p99', 'preloaded p50', 'preloaded p99'],
          rows,
        },
        {
          title: 'All functions',
          columns: ['measure', 'value'],
          rows: [
            ['cold boot p50 / p99 (ms)', `${ms(c.p50)} / ${ms(c.p99)}`],
            ['warm boot p50 / p99 (ms)', `${ms(w.p50)} / ${ms(w.p99)}`],
            ['warm boot, image preloaded, p50 / p99 (ms)', `${ms(p.p50)} / ${ms(p.p99)}`],
            [`idle RSS per instance (MiB, mean of ${IDLE_INSTANCES})`, idleMiB.toFixed(1)],
          ],
        },
      ],
      targets: [
        { name: 'warm boot p50 (image preloaded)', target: '≤ 2 ms', measured: `${ms(p.p50)} ms`, met: p.p50 <= 2 },
        { name: 'warm boot p50 (image loaded on acquire)', target: '≤ 2 ms', measured: `${ms(w.p50)} ms`, met: w.p50 <= 2 },
        { name: 'cold boot p50', target: '≤ 50 ms', measured: `${ms(c.p50)} ms`, met: c.p50 <= 50 },
        { name: 'image size (largest, not minified)', target: '≤ 100 KB', measured: `${(maxSize / 1000).toFixed(1)} KB`, met: maxSize <= 100_000 },
        { name: 'image size (largest, minified)', target: '≤ 100 KB', measured: `${(maxMinified / 1000).toFixed(1)} KB`, met: maxMinified <= 100_000 },
        { name: 'idle RSS per instance', target: '≤ 10 MB', measured: `${(idlePerInstance / 1e6).toFixed(1)} MB`, met: idlePerInstance <= 10e6 },
      ],
      notes: [
        'Cold: `new Worker(image, { execArgv: [], resourceLimits })` per instance (old generation = the image\'s memory, young generation 2 MiB). Warm: a `WarmPool` of 2 isolates of the image\'s memory class; the pool is refilled (awaited) before each measured boot, so a warm boot never pays for a refill.',
        'A warm isolate keeps the heap limit it was created with: warm pools are per memory class.',
        'Idle RSS: process RSS after booting idle instances minus before, divided by their number (isolates are threads of this process).',
        'The machine has 2 cores shared with other work; boot times are noisy.',
      ],
    };
    return report;
  },
};
