/**
 * `boot` suite: what an instance costs to start and to keep. For each builtin function
 * (pass-through; firewall with a few rules; load balancer with 2 backends; NAT with one
 * address): image sizes (default = minified, readable, source map); boot time spawn →
 * `ready`, p50/p99, in four ways: cold (a new isolate per instance), warm (an idle isolate of
 * a `WarmPool` imports the image on acquire), preloaded (the isolate imported the image and
 * rehearsed its start-up ahead; the pipeline is built at boot) and prepared (preloaded, and
 * the pipeline's tables built ahead too: the `WarmPool` default for preloaded images); where
 * the time goes (the instance's own start-up marks, `InstanceStartup`, set against the
 * host's clock); then the idle RSS of an instance and of a warm isolate.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type BuildImageResult } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import type { PipelineDefinition } from '../../src/pipeline/define-pipeline.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { MemfdMemory } from '../../src/memory/shared-memory.ts';
import { InstanceHost, processSpawner, type InstanceEvent, type InstanceSpawner } from '../../src/runtime/instance-host.ts';
import type { ProcessIsolate } from '../../src/runtime/process-isolate.ts';
import { processBootstrapPath } from '../../src/runtime/runtime-bundle.ts';
import { SANDBOX_UID } from '../../src/runtime/sandbox-reasons.ts';
import { WarmProcessPool } from '../../src/runtime/warm-process-pool.ts';
import { monotonicMs, type InstanceStartup } from '../../src/runtime/instance-main.ts';
import { WarmPool } from '../../src/runtime/warm-pool.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import type { BenchSuite, SuiteReport } from '../lib/report.ts';

const BOOTS = Number(process.env.BOOT_BENCH_BOOTS ?? 25);
/** Instance processes are sandboxed as in production (dropping to nobody when root). */
const SANDBOX = { uid: process.getuid?.() === 0 ? SANDBOX_UID : -1, gid: SANDBOX_UID };
const IDLE_INSTANCES = 8;
const IDLE_ISOLATES = 4;

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

/** How an instance is started. */
type Mode = 'cold' | 'warm' | 'preloaded' | 'prepared' | 'process-cold' | 'process-warm' | 'process-preloaded';
const MODES: readonly Mode[] = ['cold', 'warm', 'preloaded', 'prepared', 'process-cold', 'process-warm', 'process-preloaded'];
const MODE_HELP: Record<Mode, string> = {
  cold: 'worker thread: a new isolate per instance',
  warm: 'worker thread: idle isolate, image imported on acquire',
  preloaded: 'worker thread: idle isolate, image imported and start-up rehearsed ahead; pipeline built at boot (`prepare: false`)',
  prepared: 'worker thread: idle isolate, image imported, pipeline built and start-up rehearsed ahead (the default for preloaded images)',
  'process-cold': 'sandboxed process: a new process per instance, the memfd as its fd 4',
  'process-warm': 'sandboxed process: an idle process of a `WarmProcessPool` (loader warm) maps the memfd, imports the image and builds the pipeline on boot',
  'process-preloaded': 'sandboxed process: an idle process that imported the image and built its pipeline ahead (counters in the warm pool\'s memfd) maps the data plane\'s memfd and stocks its queues on boot',
};

/** One boot, ms: the host's view and the instance's start-up marks on the same clock. */
interface BootSample {
  /** Spawn (host post / new Worker) → `ready` seen by the host (`InstanceHost.bootMs`). */
  readonly bootMs: number;
  /** `acquire` / `InstanceHost.boot` call → resolved (host devices and wake-ups included). */
  readonly acquireMs: number;
  /** Host-side set-up before the spawn: devices, shared words. */
  readonly hostMs: number;
  /** Spawn → the instance's `runInstance` starts: message delivery (+ isolate start, + image import). */
  readonly toInstanceMs: number;
  readonly attachMs: number;
  readonly pipelineMs: number;
  readonly refillMs: number;
  readonly sandboxMs: number;
  /** `ready` posted → seen by the host. */
  readonly toHostMs: number;
}

const COLUMNS: ReadonlyArray<keyof BootSample> = ['hostMs', 'toInstanceMs', 'attachMs', 'pipelineMs', 'refillMs', 'sandboxMs', 'toHostMs', 'bootMs', 'acquireMs'];

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summary(samples: readonly number[]): { p50: number; p99: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
}

const ms = (x: number): string => x.toFixed(2);
const kb = (x: number): string => (x / 1000).toFixed(1);
const clock = monotonicMs;

/** Where `boots` starts its instances. */
type Starter =
  | { readonly kind: 'cold' }
  | { readonly kind: 'warm'; readonly warm: WarmPool }
  | { readonly kind: 'process'; readonly memory: MemfdMemory; readonly spawn: InstanceSpawner }
  | { readonly kind: 'process-warm'; readonly memory: MemfdMemory; readonly warm: WarmProcessPool };

/** Boots `count` instances one after the other (each stopped before the next). */
async function boots(image: BuildImageResult, pool: PacketPool, count: number, starter: Starter): Promise<BootSample[]> {
  const samples: BootSample[] = [];
  for (let i = 0; i < count; i++) {
    if (starter.kind === 'warm' || starter.kind === 'process-warm') await starter.warm.full();
    let readyAt = Number.NaN;
    let startup: InstanceStartup | undefined;
    const onEvent = (e: InstanceEvent): void => {
      if (e.type !== 'ready') return;
      readyAt = clock();
      startup = e.startup;
    };
    const opts = { imagePath: image.imagePath, manifest: image.manifest, pool, owner: 10, onEvent };
    const called = clock();
    const host =
      starter.kind === 'warm'
        ? await starter.warm.acquire(opts)
        : starter.kind === 'process-warm'
          ? await starter.warm.acquire({ ...opts, memory: starter.memory, sandbox: SANDBOX })
          : await InstanceHost.boot(starter.kind === 'process' ? { ...opts, memory: starter.memory, spawn: starter.spawn } : opts);
    const resolved = clock();
    if (host.state !== 'running' || startup === undefined) throw new Error(`instance failed to boot: ${host.failure?.reason} ${host.failure?.detail}`);
    const spawnedAt = readyAt - host.bootMs;
    samples.push({
      bootMs: host.bootMs,
      acquireMs: resolved - called,
      hostMs: spawnedAt - called,
      toInstanceMs: startup.startedAt - spawnedAt,
      attachMs: startup.attachMs,
      pipelineMs: startup.pipelineMs,
      refillMs: startup.refillMs,
      sandboxMs: startup.sandboxMs,
      toHostMs: readyAt - startup.readyAt,
    });
    await host.stop();
  }
  return samples;
}

async function bootsIn(mode: Mode, image: BuildImageResult, pool: PacketPool, processPool: PacketPool, memory: MemfdMemory): Promise<BootSample[]> {
  if (mode === 'cold') return boots(image, pool, BOOTS, { kind: 'cold' });
  if (mode === 'process-cold') return boots(image, processPool, BOOTS, { kind: 'process', memory, spawn: processSpawner(memory, await processBootstrapPath(), SANDBOX) });
  if (mode === 'process-warm' || mode === 'process-preloaded') {
    const preload = mode === 'process-preloaded' ? [image.imagePath] : [];
    const warm = await WarmProcessPool.create({ size: 2, memoryMiB: image.manifest.memoryMiB, preload, learn: 0 });
    try {
      const samples = await boots(image, processPool, BOOTS, { kind: 'process-warm', memory, warm });
      if (warm.warmBoots !== BOOTS) throw new Error(`only ${warm.warmBoots} of ${BOOTS} boots used a warm process`);
      if (mode === 'process-preloaded' && warm.preparedBoots !== BOOTS) throw new Error(`only ${warm.preparedBoots} of ${BOOTS} boots used a pipeline built ahead`);
      return samples;
    } finally {
      await warm.close();
    }
  }
  const preload = mode === 'warm' ? [] : [image.imagePath];
  const warm = await WarmPool.create({ size: 2, memoryMiB: image.manifest.memoryMiB, preload, prepare: mode === 'prepared' });
  try {
    const samples = await boots(image, pool, BOOTS, { kind: 'warm', warm });
    if (mode === 'prepared' && warm.preparedBoots !== BOOTS) throw new Error(`only ${warm.preparedBoots} of ${BOOTS} boots used a prepared pipeline`);
    return samples;
  } finally {
    await warm.close();
  }
}

/**
 * Private memory of a process (USS: private clean + private dirty pages), bytes, without
 * the pages of the data plane's memfd it alone touched (the pool's, counted once for the
 * chain whoever touches them) unless `withShared`.
 */
function privateBytes(pid: number, withShared = false): number {
  let kib = 0;
  let shared = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      shared = head[1].startsWith('/memfd:');
      continue;
    }
    const m = /^Private_(?:Clean|Dirty):\s+(\d+) kB/.exec(line);
    if (m !== null && (withShared || !shared)) kib += Number(m[1]);
  }
  return kib * 1024;
}

/** Resident memory of a process, bytes. */
function rssBytes(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN) * 1024;
}

async function settle(msToWait: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, msToWait));
  (globalThis as { gc?: () => void }).gc?.();
}

/** Process RSS added per unit by `start` (units are threads of this process), averaged. */
async function rssPer(count: number, start: () => Promise<() => Promise<void>>): Promise<number> {
  await settle(300);
  const before = process.memoryUsage().rss;
  const stop = await start();
  await settle(500);
  const after = process.memoryUsage().rss;
  await stop();
  return (after - before) / count;
}

export const bootSuite: BenchSuite = {
  name: 'boot',
  description: 'Image sizes per builtin function, boot time (p50/p99) of worker-thread and process instances, cold and warm, and where it goes; idle memory.',
  async run(progress) {
    const root = mkdtempSync(join(tmpdir(), 'nfvkit-bench-boot-'));
    const store = ImageStore.open(root);
    const pool = PacketPool.create({ bufferCount: 8192, owner: 1 });
    const memory = MemfdMemory.create(64 << 20, 'nfvkit-bench-boot');
    const processPool = PacketPool.create({ bufferCount: 8192, owner: 1, memory });
    const sizeRows: Array<Array<string | number>> = [];
    const bootRows: Array<Array<string | number>> = [];
    const phaseRows: Array<Array<string | number>> = [];
    const all = Object.fromEntries(MODES.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
    /** `acquire` call → resolved, the time a caller waits (an armed warm process works before its boot's clock starts). */
    const allAcquire = Object.fromEntries(MODES.map((m) => [m, [] as number[]])) as Record<Mode, number[]>;
    const passThroughP50: Partial<Record<Mode, number>> = {};
    let maxSize = 0;
    let maxReadable = 0;
    let idlePerInstance = Number.NaN;
    let idlePerIsolate = Number.NaN;
    let idlePerPreparedIsolate = Number.NaN;
    let ussPerProcess = Number.NaN;
    let ussWithPoolPerProcess = Number.NaN;
    let rssPerProcess = Number.NaN;
    try {
      let lbImage: BuildImageResult | undefined;
      for (const f of FUNCTIONS) {
        const image = await buildImage(f.def, f.config, { store });
        const readable = await buildImage(f.def, f.config, { store, minify: false });
        if (f.def === loadBalancer) lbImage = image;
        maxSize = Math.max(maxSize, image.manifest.size);
        maxReadable = Math.max(maxReadable, readable.manifest.size);
        sizeRows.push([f.label, kb(image.manifest.size), kb(readable.manifest.size), kb(image.manifest.sourceMap?.size ?? Number.NaN), image.manifest.modules.length, image.manifest.memoryMiB]);
        const row: Array<string | number> = [f.label];
        for (const mode of MODES) {
          progress(`${f.label}: ${BOOTS} ${mode} boots`);
          const samples = await bootsIn(mode, image, pool, processPool, memory);
          const boot = summary(samples.map((s) => s.bootMs));
          all[mode].push(...samples.map((s) => s.bootMs));
          allAcquire[mode].push(...samples.map((s) => s.acquireMs));
          if (f.def === passThrough) passThroughP50[mode] = boot.p50;
          row.push(`${ms(boot.p50)} / ${ms(boot.p99)}`);
          phaseRows.push([f.label, mode, ...COLUMNS.map((c) => ms(summary(samples.map((s) => s[c])).p50))]);
        }
        bootRows.push(row);
      }

      progress(`idle RSS: ${IDLE_INSTANCES} idle pass-through instances`);
      const pt = await buildImage(passThrough, {}, { store });
      idlePerInstance = await rssPer(IDLE_INSTANCES, async () => {
        const hosts: InstanceHost[] = [];
        for (let i = 0; i < IDLE_INSTANCES; i++) hosts.push(await InstanceHost.boot({ imagePath: pt.imagePath, manifest: pt.manifest, pool, owner: 100 + 2 * i }));
        return async () => {
          for (const h of hosts) await h.stop();
        };
      });
      progress(`idle private memory: ${IDLE_INSTANCES} idle pass-through instance processes`);
      {
        const spawn = processSpawner(memory, await processBootstrapPath(), SANDBOX);
        const hosts: InstanceHost[] = [];
        try {
          for (let i = 0; i < IDLE_INSTANCES; i++) hosts.push(await InstanceHost.boot({ imagePath: pt.imagePath, manifest: pt.manifest, pool: processPool, owner: 100 + 2 * i, memory, spawn }));
          await settle(500);
          const pids = hosts.map((h) => (h.worker as ProcessIsolate).pid!);
          ussPerProcess = pids.map((pid) => privateBytes(pid)).reduce((a, b) => a + b, 0) / pids.length;
          ussWithPoolPerProcess = pids.map((pid) => privateBytes(pid, true)).reduce((a, b) => a + b, 0) / pids.length;
          rssPerProcess = hosts.map((h) => rssBytes((h.worker as ProcessIsolate).pid!)).reduce((a, b) => a + b, 0) / hosts.length;
        } finally {
          for (const h of hosts) await h.stop();
        }
      }
      progress(`idle RSS: ${IDLE_ISOLATES} idle warm isolates, empty and with the load balancer prepared`);
      idlePerIsolate = await rssPer(IDLE_ISOLATES, async () => {
        const warm = await WarmPool.create({ size: IDLE_ISOLATES, memoryMiB: 256 });
        return () => warm.close();
      });
      const lb = lbImage!;
      idlePerPreparedIsolate = await rssPer(IDLE_ISOLATES, async () => {
        const warm = await WarmPool.create({ size: IDLE_ISOLATES, memoryMiB: lb.manifest.memoryMiB, preload: [lb.imagePath] });
        return () => warm.close();
      });
      if (pool.leakCheck().length > 0) throw new Error(`buffers leaked: ${pool.leakCheck().length}`);
      if (processPool.leakCheck().length > 0) throw new Error(`buffers leaked by instance processes: ${processPool.leakCheck().length}`);
    } finally {
      memory.close();
      rmSync(root, { recursive: true, force: true });
    }

    const s = Object.fromEntries(MODES.map((m) => [m, summary(all[m])])) as Record<Mode, { p50: number; p99: number }>;
    const processWarmWait = summary(allAcquire['process-preloaded']);
    const mib = (x: number): string => (x / 2 ** 20).toFixed(1);
    const report: SuiteReport = {
      suite: 'boot',
      tables: [
        {
          title: 'Images (KB = 1000 bytes)',
          columns: ['function', 'image KB (default: minified)', 'readable KB (`minify: false`)', 'source map KB (beside the image)', 'modules', 'memory MiB'],
          rows: sizeRows,
        },
        {
          title: `Boot per function, spawn → ready, p50 / p99 ms (${BOOTS} boots per cell)`,
          columns: ['function', ...MODES],
          rows: bootRows,
        },
        {
          title: 'Where the boot time goes (medians, ms; instance marks set against the host clock)',
          columns: ['function', 'mode', 'host set-up', 'spawn → instance starts', 'attach', 'pipeline', 'refill', 'sandbox', 'ready → host', 'boot (spawn → ready)', 'acquire call → resolved'],
          rows: phaseRows,
        },
        {
          title: 'All functions',
          columns: ['measure', 'value'],
          rows: [
            ...MODES.map((m) => [`${m} boot p50 / p99 (ms): ${MODE_HELP[m]}`, `${ms(s[m].p50)} / ${ms(s[m].p99)}`]),
            [`idle RSS per instance (MiB, pass-through, mean of ${IDLE_INSTANCES})`, mib(idlePerInstance)],
            [`idle private memory (USS) per instance process (MiB, pass-through, mean of ${IDLE_INSTANCES}; without pool pages only it touched)`, mib(ussPerProcess)],
            [`idle private memory per instance process with the pool pages only it touched (MiB)`, mib(ussWithPoolPerProcess)],
            [`idle RSS per instance process, shared pages included (MiB, mean of ${IDLE_INSTANCES})`, mib(rssPerProcess)],
            [`idle RSS per warm isolate (MiB, mean of ${IDLE_ISOLATES})`, mib(idlePerIsolate)],
            [`idle RSS per warm isolate with the load balancer prepared (MiB, mean of ${IDLE_ISOLATES})`, mib(idlePerPreparedIsolate)],
          ],
        },
      ],
      targets: [
        { name: 'warm boot p50, pass-through (preloaded, prepared)', target: '≤ 2 ms', measured: `${ms(passThroughP50.prepared ?? Number.NaN)} ms`, met: (passThroughP50.prepared ?? Infinity) <= 2 },
        { name: 'warm boot p50, all functions (preloaded, prepared)', target: '≤ 2 ms', measured: `${ms(s.prepared.p50)} ms`, met: s.prepared.p50 <= 2 },
        { name: 'warm boot p50, pass-through (image imported on acquire)', target: '≤ 2 ms', measured: `${ms(passThroughP50.warm ?? Number.NaN)} ms`, met: (passThroughP50.warm ?? Infinity) <= 2 },
        { name: 'cold boot p50, all functions', target: '≤ 50 ms', measured: `${ms(s.cold.p50)} ms`, met: s.cold.p50 <= 50 },
        {
          name: 'process instance: warm boot p50, all functions (preloaded), acquire call → resolved',
          target: '≤ 3 ms',
          measured: `${ms(processWarmWait.p50)} ms (spawn → ready ${ms(s['process-preloaded'].p50)} ms)`,
          met: processWarmWait.p50 <= 3,
        },
        { name: 'process instance: cold boot p50, all functions', target: '≤ 100 ms', measured: `${ms(s['process-cold'].p50)} ms`, met: s['process-cold'].p50 <= 100 },
        { name: 'process instance: idle private memory (USS)', target: '≤ 10 MiB', measured: `${mib(ussPerProcess)} MiB`, met: ussPerProcess <= 10 * 2 ** 20 },
        { name: 'image size (largest, default build)', target: '≤ 100 KB', measured: `${kb(maxSize)} KB`, met: maxSize <= 100_000 },
        { name: 'idle RSS per instance', target: '≤ 10 MB', measured: `${(idlePerInstance / 1e6).toFixed(1)} MB`, met: idlePerInstance <= 10e6 },
      ],
      notes: [
        `Modes: ${MODES.map((m) => `**${m}**: ${MODE_HELP[m]}`).join('; ')}. Warm modes use a \`WarmPool\` of 2 isolates of the image's memory class, refilled (awaited) before each measured boot, so no boot pays for a refill.`,
        'Breakdown: "spawn → instance starts" is message delivery to the idle isolate (plus, for warm, importing the image; for cold, starting the isolate and loading the image); attach = pool and both devices attached; pipeline = `createPipeline` (0 when prepared); refill = loop made and both receive queues stocked; sandbox = the seccomp filter and the drop to nobody (processes only; for a process of the warm pool booting a preloaded image, only what is left of it: the pool arms the process it takes before building the instance\'s devices, so the process maps the memfd and begins the entry on the addon\'s thread while the host sets up, and waits for it right before `ready`; "spawn → instance starts" then includes any wait for that mapping); "ready → host" = the `ready` message reaching the host\'s event loop. Marks come from `InstanceStartup` in the `ready` event (`monotonicMs()`, `process.hrtime`, in both threads).',
        `Images are minified by default (whitespace and syntax; identifiers kept, so stack traces keep function names); the source map is stored beside the image (\`image.mjs.map\`), not referenced from it. Largest readable image: ${kb(maxReadable)} KB.`,
        'Cold: `new Worker(image, { execArgv: [], resourceLimits })` per instance (old generation = the image\'s memory, young generation 2 MiB). A warm isolate keeps the heap limit it was created with: warm pools are per memory class.',
        'Idle RSS: process RSS after starting the units minus before, divided by their number (isolates are threads of this process).',
        'Before this work (this suite, 2026-11-26 16:50, same machine): cold 29.51 / 37.64 ms, warm 10.73 / 25.40 ms, preloaded 6.03 / 14.77 ms (p50 / p99, all functions; pass-through preloaded 2.27 ms, load balancer 12.31 ms), images 92.6–137.8 KiB unminified by default (up to 141.1 KB), idle RSS 8.1 MiB per instance.',
        'Interleaved A/B against the previous runtime (commit 254f2c7, same process and load, 25 boots each, 2026-11-26 17:31), p50 ms old → new, cold / warm / preloaded (new: prepared): pass-through 36.2 → 30.5 / 9.7 → 4.6 / 3.1 → 1.05; firewall 39.8 → 32.8 / 10.8 → 7.4 / 8.0 → 1.4; load balancer 45.1 → 36.9 / 20.5 → 16.2 / 15.4 → 1.0; NAT 38.6 → 32.8 / 13.1 → 9.8 / 10.2 → 1.0.',
        'What is left on the warm path (image imported on acquire): compiling the image (~1.2 ms for 58 KB, V8 has no code cache for ES modules on Node 20) and the ESM loader (~0.5 ms), the first run of the runtime code (attach + refill ~1.4 ms, ~0.45 ms once compiled), and `createPipeline` (firewall ~2 ms, NAT ~4.5 ms, load balancer ~10 ms: conntrack tables of 65536 entries, a 65537-slot Maglev table). Preloading (or `WarmPool` `learn`) takes all of it off the boot.',
        'The machine has 2 cores shared with other work; boot times are noisy.',
      ],
    };
    return report;
  },
};
