import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { InstanceState, InstanceStatus } from '../controller/controller-api.ts';
import type { BackendStatus } from '../controller/backend-status.ts';
import { BuiltinCounter } from '../pipeline/compiled-pipeline.ts';
import { SANDBOX_REASONS } from '../runtime/sandbox-reasons.ts';
import { Side } from '../pipeline/verdict.ts';
import { CollectedHistogram, type HistogramSeries } from './collected-histogram.ts';
import type { InstanceStatsSource, StatsSources } from './instance-stats-source.ts';
import { BATCH_BUCKET_BOUNDS_NS, isLoopStats, LoopStat } from './loop-stats.ts';

/**
 * Name of the label that carries the instance id. Note: Prometheus sets its own `instance`
 * label (the scrape target) and renames ours to `exported_instance` unless the scrape job
 * has `honor_labels: true` (see docs/metrics.md).
 */
export const INSTANCE_LABEL = 'instance';

/** Label values of the `side` label, by side number. */
const SIDE_NAMES = ['inside', 'outside'] as const;

/** Every instance state, so each function exports one `nfvkit_instances` series per state. */
export const INSTANCE_STATES: readonly InstanceState[] = ['booting', 'ready', 'draining', 'stopped', 'failed'];

/** Buckets of the boot-time histogram, seconds. */
export const BOOT_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Buckets of the controller RPC duration histogram, seconds. */
export const RPC_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** How an instance's isolate was started. */
export type BootMode = 'cold' | 'warm';

/** Which way a function was scaled. */
export type ScaleDirection = 'out' | 'in';

/** The labels that name one function of one chain. */
export interface FunctionLabels {
  readonly chain: string;
  readonly function: string;
}

/** What `nfvkit_instances` counts: one entry per instance (e.g. `ControllerApi.listInstances()`). */
export type InstanceCountEntry = Pick<InstanceStatus, 'chain' | 'function' | 'state'>;

/** One backend as the backend gauges read it (`BackendStatus` of `ListBackends`). */
export type BackendMetricEntry = Pick<BackendStatus, 'chain' | 'function' | 'service' | 'backend' | 'state' | 'health' | 'effective' | 'connections'>;

/** One chain's data-plane fault counts (`ChainDataPlane.faults`), by kind. */
export interface ChainFaults {
  readonly chain: string;
  readonly faults: Readonly<Record<string, number>>;
}

/** Where outside a pipeline a frame was dropped (each layer is one metric, `nfvkit_<layer>_drops_total`). */
export type DropLayer = 'host' | 'ring' | 'link' | 'port' | 'gateway';

/** The drop layers, in the order of the packet's way in. */
export const DROP_LAYERS: readonly DropLayer[] = ['port', 'gateway', 'host', 'ring', 'link'];

/**
 * One drop counter outside the pipelines (`setLayerDrops`), one per declared reason:
 * `host` (`HOST_DROP_LIST`: the chain host between ports and instances), `ring`
 * (`RING_DROP_LIST`: the host's device end of an instance's virtio-net rings), `link`
 * (the drop reasons of `DIRECT_LINK_COUNTER_LIST`: what an instance dropped sending over its
 * direct links to the adjacent stage's instances), `port`
 * (`VxlanDrop`, a classifier's rejects) and `gateway` (`GatewayDrop`, the L3 edge of a VXLAN
 * port). Labels a layer does not know are left out.
 */
export interface LayerDrop {
  readonly layer: DropLayer;
  readonly chain: string;
  /** host: the function whose stage the frame was entering (at a chain end: leaving); ring, link: whose instance. */
  readonly function?: string;
  /** The instance id (ring, link). */
  readonly instance?: string;
  /** ring: the instance's side (`inside` = eth0); port, gateway: the chain end (`inside` = ingress). */
  readonly side?: 'inside' | 'outside';
  /** port, gateway: the port's type (`vxlan`, `generator`, …). */
  readonly port?: string;
  readonly reason: string;
  readonly value: number;
}

/** How long the layer-drop metrics share one read of the provider when scraped through `registry` directly, ms. */
const LAYER_DROPS_REUSE_MS = 250;

/** Labels of each layer's drop metric. */
const LAYER_LABELS: Readonly<Record<DropLayer, readonly string[]>> = {
  host: ['chain', 'function', 'reason'],
  ring: ['chain', 'function', INSTANCE_LABEL, 'side', 'reason'],
  link: ['chain', 'function', INSTANCE_LABEL, 'reason'],
  port: ['chain', 'side', 'port', 'reason'],
  gateway: ['chain', 'side', 'port', 'reason'],
};

/** Help of each layer's drop metric. */
const LAYER_HELP: Readonly<Record<DropLayer, string>> = {
  host: 'Frames the chain host dropped between the ports and the instances, by reason (HOST_DROP_LIST).',
  ring: "Frames the host's device end of an instance's virtio-net rings dropped, by side and reason (RING_DROP_LIST).",
  link: "Frames an instance dropped sending over its direct links to the adjacent stage's instances, by reason (DIRECT_LINK_COUNTER_LIST).",
  port: 'Frames or datagrams a chain end (port) dropped, by reason (VxlanDrop, classifier).',
  gateway: "Frames the L3 gateway edge of a chain end dropped, by reason (GatewayDrop).",
};

/** What the image-store gauges read at scrape time (`setImageStore`, e.g. `ImageStore.usage()`). */
export interface ImageStoreFigures {
  readonly images: number;
  readonly bytes: number;
  /** Images (and bytes) some running controller holds a lease on. */
  readonly inUseImages: number;
  readonly inUseBytes: number;
  /** The store's size cap, bytes, when it has one. */
  readonly capBytes?: number;
}

/** Why the image collector removed an image: past the grace period, or to fit the cap. */
export type ImagePruneReason = 'unused' | 'cap';

/** Options of `NfvkitMetrics`. */
export interface NfvkitMetricsOptions {
  /** Also export prom-client's process and Node.js metrics (`process_*`, `nodejs_*`). Default false. */
  readonly processMetrics?: boolean;
}

const NO_SOURCES: StatsSources = () => [];
const NO_INSTANCES = (): Iterable<InstanceCountEntry> => [];

/**
 * nfvkit's Prometheus metrics, in their own prom-client `Registry` (never the global one).
 *
 * Data-plane series (packets, bytes, drops by reason, queue occupancy, batch durations)
 * are not incremented on the data path: they are read from the instances' shared counters
 * at scrape time through `setSources` (`collect` hooks that rebuild the series on every
 * scrape, so instances that are gone disappear). Control-plane series are recorded by the
 * controller through `instanceBooted`, `scalingEvent` and `rpc`; `nfvkit_instances` reads
 * the provider given to `setInstances`. Every metric is listed in docs/metrics.md.
 *
 * @example
 * ```ts
 * const metrics = new NfvkitMetrics({ processMetrics: true });
 * metrics.setSources(() => dataPlane.statsSources());
 * metrics.setInstances(() => controller.listInstances());
 * metrics.instanceBooted({ chain: 'web-edge', function: 'fw' }, 0.042, 'warm');
 * const server = await startMetricsServer(metrics, { port: 9464 });
 * ```
 */
export class NfvkitMetrics {
  /** The registry every nfvkit metric is registered in. */
  readonly registry = new Registry();
  private sources: StatsSources = NO_SOURCES;
  private instances: () => Iterable<InstanceCountEntry> = NO_INSTANCES;
  private backends: () => Iterable<BackendMetricEntry> = () => [];
  private backendsRead: { readonly at: number; readonly rows: readonly BackendMetricEntry[] } | undefined;
  private imageStore: () => ImageStoreFigures | undefined = () => undefined;
  private chainFaults: () => Iterable<ChainFaults> = () => [];
  private layerDrops: () => Iterable<LayerDrop> = () => [];
  private layerDropsRead: { readonly at: number; readonly rows: readonly LayerDrop[] } | undefined;
  private imageStoreRead: { readonly at: number; readonly figures: ImageStoreFigures | undefined } | undefined;
  private readonly imagesPruned: Counter<'reason'>;
  private readonly imageBytesPruned: Counter<'reason'>;
  private readonly bootSeconds: Histogram<'chain' | 'function' | 'mode'>;
  private readonly scalingEvents: Counter<'chain' | 'function' | 'direction' | 'reason'>;
  private readonly rpcs: Counter<'method' | 'code'>;
  private readonly rpcSeconds: Histogram<'method' | 'code'>;

  constructor(options: NfvkitMetricsOptions = {}) {
    const registers = [this.registry];
    const traffic = ['chain', 'function', INSTANCE_LABEL, 'side', 'direction'];
    const packets: Counter<string> = new Counter({
      name: 'nfvkit_function_packets_total',
      help: 'Packets a function instance received (direction=rx) or sent (direction=tx) on a side (inside=eth0, outside=eth1).',
      labelNames: traffic,
      registers,
      collect: (): void => this.collectTraffic(packets, BuiltinCounter.RX_INSIDE_PACKETS, BuiltinCounter.TX_INSIDE_PACKETS),
    });
    const bytes: Counter<string> = new Counter({
      name: 'nfvkit_function_bytes_total',
      help: 'Frame bytes (Ethernet header included, no FCS) a function instance received or sent on a side.',
      labelNames: traffic,
      registers,
      collect: (): void => this.collectTraffic(bytes, BuiltinCounter.RX_INSIDE_BYTES, BuiltinCounter.TX_INSIDE_BYTES),
    });
    const drops: Counter<string> = new Counter({
      name: 'nfvkit_function_drops_total',
      help: 'Packets a function instance dropped, by reason (one series per drop counter of its pipeline).',
      labelNames: ['chain', 'function', INSTANCE_LABEL, 'reason'],
      registers,
      collect: (): void => this.collectDrops(drops),
    });
    const denied: Counter<string> = new Counter({
      name: 'nfvkit_sandbox_denied_total',
      help: 'Calls an instance process made that its sandbox denied (they failed with EPERM inside the instance), by reason',
      labelNames: ['chain', 'function', INSTANCE_LABEL, 'reason'],
      registers: [this.registry],
      collect: (): void => this.collectDenied(denied),
    });
    const faults: Counter<string> = new Counter({
      name: 'nfvkit_dataplane_faults_total',
      help: 'What a chain data plane found wrong in memory its instances write and contained, by kind (DataPlaneFaults)',
      labelNames: ['chain', 'kind'],
      registers: [this.registry],
      collect: (): void => {
        faults.reset();
        for (const c of this.chainFaults()) for (const [kind, n] of Object.entries(c.faults)) faults.inc({ chain: c.chain, kind }, nonNegative(n));
      },
    });
    for (const layer of DROP_LAYERS) {
      const metric: Counter<string> = new Counter({
        name: `nfvkit_${layer}_drops_total`,
        help: LAYER_HELP[layer],
        labelNames: LAYER_LABELS[layer],
        registers,
        collect: (): void => this.collectLayerDrops(metric, layer),
      });
    }
    const occupancy: Gauge<string> = new Gauge({
      name: 'nfvkit_queue_occupancy_ratio',
      help: 'Share of a side receive queue of an instance holding frames not yet taken by the instance, 0..1.',
      labelNames: ['chain', 'function', INSTANCE_LABEL, 'side'],
      registers,
      collect: (): void => this.collectOccupancy(occupancy),
    });
    new CollectedHistogram({
      name: 'nfvkit_batch_duration_seconds',
      help: 'Time an instance spent processing one batch (receive, pipeline, transmit); _sum is its busy time.',
      labelNames: ['chain', 'function', INSTANCE_LABEL],
      bounds: BATCH_BUCKET_BOUNDS_NS.map((ns) => ns / 1e9),
      registry: this.registry,
      collect: () => this.batchSeries(),
    });
    const instances: Gauge<string> = new Gauge({
      name: 'nfvkit_instances',
      help: 'Instances of a function by lifecycle state.',
      labelNames: ['chain', 'function', 'state'],
      registers,
      collect: (): void => this.collectInstances(instances),
    });
    const backendLabels = ['chain', 'function', 'service', 'backend'];
    const backendConnections: Gauge<string> = new Gauge({
      name: 'nfvkit_backend_connections',
      help: 'Live connections to a backend of a function with backends (the load balancer), over its instances.',
      labelNames: backendLabels,
      registers,
      collect: (): void => {
        backendConnections.reset();
        for (const b of this.readBackends()) backendConnections.set(backendSeries(b), nonNegative(b.connections));
      },
    });
    const backendInfo: Gauge<string> = new Gauge({
      name: 'nfvkit_backend_info',
      help: 'Always 1, one series per backend: its state (set by the config or SetBackendState), health (unchecked, unknown, up, down) and effective state (what its instances apply).',
      labelNames: [...backendLabels, 'state', 'health', 'effective'],
      registers,
      collect: (): void => {
        backendInfo.reset();
        for (const b of this.readBackends()) backendInfo.set({ ...backendSeries(b), state: b.state, health: b.health, effective: b.effective }, 1);
      },
    });
    this.bootSeconds = new Histogram({
      name: 'nfvkit_instance_boot_seconds',
      help: 'Instance boot time, from the boot request to ready; mode=cold (new isolate) or warm (from the warm pool).',
      labelNames: ['chain', 'function', 'mode'],
      buckets: [...BOOT_BUCKETS_SECONDS],
      registers,
    });
    this.scalingEvents = new Counter({
      name: 'nfvkit_scaling_events_total',
      help: 'Scaling decisions carried out for a function: direction=out (more replicas) or in (fewer), by reason.',
      labelNames: ['chain', 'function', 'direction', 'reason'],
      registers,
    });
    this.rpcs = new Counter({
      name: 'nfvkit_controller_rpcs_total',
      help: 'Controller RPCs handled, by method and gRPC status code name.',
      labelNames: ['method', 'code'],
      registers,
    });
    this.rpcSeconds = new Histogram({
      name: 'nfvkit_controller_rpc_duration_seconds',
      help: 'Time the controller took to handle an RPC, by method and gRPC status code name (streams: until they end).',
      labelNames: ['method', 'code'],
      buckets: [...RPC_BUCKETS_SECONDS],
      registers,
    });
    const storeImages: Gauge<string> = new Gauge({
      name: 'nfvkit_image_store_images',
      help: 'Images in the image store: state=in_use (a running controller holds them) or unused.',
      labelNames: ['state'],
      registers,
      collect: (): void => this.collectImageStore(storeImages, 'images'),
    });
    const storeBytes: Gauge<string> = new Gauge({
      name: 'nfvkit_image_store_bytes',
      help: 'Bytes of the images in the image store (bundle, source map, manifest): state=in_use or unused.',
      labelNames: ['state'],
      registers,
      collect: (): void => this.collectImageStore(storeBytes, 'bytes'),
    });
    const storeCap: Gauge<string> = new Gauge({
      name: 'nfvkit_image_store_cap_bytes',
      help: 'Size cap of the image store, bytes; 0 when it has none.',
      registers,
      collect: (): void => storeCap.set(this.readImageStore()?.capBytes ?? 0),
    });
    this.imagesPruned = new Counter({
      name: 'nfvkit_images_pruned_total',
      help: 'Images the controller removed from the image store: reason=unused (past the grace period) or cap (to fit the size cap).',
      labelNames: ['reason'],
      registers,
    });
    this.imageBytesPruned = new Counter({
      name: 'nfvkit_images_pruned_bytes_total',
      help: 'Bytes the controller freed in the image store, by reason (unused or cap).',
      labelNames: ['reason'],
      registers,
    });
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    this.layerDropsRead = undefined;
    return this.registry.metrics();
  }

  /** Content type of `metrics()` (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Sets the instances whose shared counters are exported (read at every scrape). */
  setSources(sources: StatsSources): void {
    this.sources = sources;
  }

  /** Sets the provider of instance states counted by `nfvkit_instances` (read at every scrape). */
  setInstances(instances: () => Iterable<InstanceCountEntry>): void {
    this.instances = instances;
  }

  /** Sets the provider of the backends of the functions with backends (`nfvkit_backend_*`, read once per scrape; a throw: no series). */
  setBackends(backends: () => Iterable<BackendMetricEntry>): void {
    this.backends = backends;
    this.backendsRead = undefined;
  }

  /** The backends, read once for the two gauges of one scrape. */
  private readBackends(): readonly BackendMetricEntry[] {
    const now = performance.now();
    if (this.backendsRead === undefined || now - this.backendsRead.at >= LAYER_DROPS_REUSE_MS) {
      let rows: readonly BackendMetricEntry[];
      try {
        rows = Array.from(this.backends());
      } catch {
        rows = []; // a chain being torn down mid-read
      }
      this.backendsRead = { at: now, rows };
    }
    return this.backendsRead.rows;
  }

  /** Sets the provider of each chain's data-plane fault counts (`nfvkit_dataplane_faults_total`, read at every scrape). */
  setChainFaults(faults: () => Iterable<ChainFaults>): void {
    this.chainFaults = faults;
  }

  /**
   * Sets the provider of the drops outside the pipelines (`nfvkit_{host,ring,port,gateway}_drops_total`),
   * read once per scrape (`metrics()` reads afresh; the layer metrics share one read; a throw: no series).
   */
  setLayerDrops(drops: () => Iterable<LayerDrop>): void {
    this.layerDrops = drops;
    this.layerDropsRead = undefined;
  }

  /** Sets the provider of the image-store gauges (read at every scrape; undefined or a throw: no series). */
  setImageStore(figures: () => ImageStoreFigures | undefined): void {
    this.imageStore = figures;
    this.imageStoreRead = undefined;
  }

  /** Counts `count` images (`bytes` bytes) the image collector removed for `reason`. */
  imagesRemoved(reason: ImagePruneReason, count: number, bytes: number): void {
    if (count > 0) this.imagesPruned.inc({ reason }, count);
    if (bytes > 0) this.imageBytesPruned.inc({ reason }, bytes);
  }

  /** Records a boot that took `seconds` (request → ready). Non-finite or negative values are ignored. */
  instanceBooted(labels: FunctionLabels, seconds: number, mode: BootMode): void {
    if (!(seconds >= 0) || seconds === Infinity) return;
    this.bootSeconds.observe({ chain: labels.chain, function: labels.function, mode }, seconds);
  }

  /**
   * Counts one scaling decision carried out. `reason` should be a short token
   * (`load`, `manual`, `min`, `max`, …), not a message: each value is a series.
   */
  scalingEvent(labels: FunctionLabels, direction: ScaleDirection, reason: string): void {
    this.scalingEvents.inc({ chain: labels.chain, function: labels.function, direction, reason });
  }

  /** Counts one handled RPC (`code`: gRPC status name, e.g. `OK`, `NOT_FOUND`) and its duration. */
  rpc(method: string, code: string, seconds: number): void {
    this.rpcs.inc({ method, code });
    if (seconds >= 0 && seconds !== Infinity) this.rpcSeconds.observe({ method, code }, seconds);
  }

  private collectTraffic(metric: Counter<string>, rxInside: number, txInside: number): void {
    metric.reset();
    for (const s of this.sources()) {
      const c = s.counters;
      for (let side = 0; side < 2; side++) {
        metric.inc(trafficLabels(s, side, 'rx'), nonNegative(c[rxInside + side]));
        metric.inc(trafficLabels(s, side, 'tx'), nonNegative(c[txInside + side]));
      }
    }
  }

  private collectDrops(metric: Counter<string>): void {
    metric.reset();
    for (const s of this.sources()) {
      const info = s.counterInfo;
      const n = info.length < s.counters.length ? info.length : s.counters.length;
      for (let slot = 0; slot < n; slot++) {
        if (!info[slot].drop) continue;
        metric.inc({ chain: s.chain, function: s.function, [INSTANCE_LABEL]: s.id, reason: info[slot].name }, nonNegative(s.counters[slot]));
      }
    }
  }

  private collectDenied(metric: Counter<string>): void {
    metric.reset();
    for (const s of this.sources()) {
      const words = s.sandboxDenied;
      if (words === undefined) continue;
      const n = words.length < SANDBOX_REASONS.length ? words.length : SANDBOX_REASONS.length;
      for (let i = 0; i < n; i++) metric.inc({ chain: s.chain, function: s.function, [INSTANCE_LABEL]: s.id, reason: SANDBOX_REASONS[i] }, nonNegative(words[i]));
    }
  }

  private collectLayerDrops(metric: Counter<string>, layer: DropLayer): void {
    metric.reset();
    const now = performance.now();
    if (this.layerDropsRead === undefined || now - this.layerDropsRead.at >= LAYER_DROPS_REUSE_MS) {
      let rows: readonly LayerDrop[];
      try {
        rows = Array.from(this.layerDrops());
      } catch {
        rows = []; // a chain being torn down mid-read: no series this scrape
      }
      this.layerDropsRead = { at: now, rows };
    }
    for (const d of this.layerDropsRead.rows) {
      if (d.layer !== layer) continue;
      const labels: Record<string, string> = { chain: d.chain, reason: d.reason };
      if (d.function !== undefined) labels.function = d.function;
      if (d.instance !== undefined) labels[INSTANCE_LABEL] = d.instance;
      if (d.side !== undefined) labels.side = d.side;
      if (d.port !== undefined) labels.port = d.port;
      metric.inc(labels, nonNegative(d.value));
    }
  }

  private collectOccupancy(metric: Gauge<string>): void {
    metric.reset();
    for (const s of this.sources()) {
      for (const side of [Side.INSIDE, Side.OUTSIDE]) {
        const x = s.queueOccupancy(side);
        metric.set({ chain: s.chain, function: s.function, [INSTANCE_LABEL]: s.id, side: SIDE_NAMES[side] }, x > 0 ? (x < 1 ? x : 1) : 0);
      }
    }
  }

  private batchSeries(): HistogramSeries[] {
    const out: HistogramSeries[] = [];
    for (const s of this.sources()) {
      if (!isLoopStats(s.loopStats)) continue;
      out.push({
        labels: { chain: s.chain, function: s.function, [INSTANCE_LABEL]: s.id },
        counts: s.loopStats,
        offset: LoopStat.FIRST_BUCKET,
        sum: s.loopStats[LoopStat.BUSY_NS] / 1e9,
      });
    }
    return out;
  }

  /** The image-store figures, read once per scrape (the three gauges share them for 1 s). */
  private readImageStore(): ImageStoreFigures | undefined {
    const now = performance.now();
    if (this.imageStoreRead !== undefined && now - this.imageStoreRead.at < 1000) return this.imageStoreRead.figures;
    let figures: ImageStoreFigures | undefined;
    try {
      figures = this.imageStore();
    } catch {
      figures = undefined; // a store being rewritten or damaged: no series this scrape
    }
    this.imageStoreRead = { at: now, figures };
    return figures;
  }

  private collectImageStore(metric: Gauge<string>, what: 'images' | 'bytes'): void {
    metric.reset();
    const f = this.readImageStore();
    if (f === undefined) return;
    const inUse = what === 'images' ? f.inUseImages : f.inUseBytes;
    const all = what === 'images' ? f.images : f.bytes;
    metric.set({ state: 'in_use' }, inUse);
    metric.set({ state: 'unused' }, Math.max(0, all - inUse));
  }

  private collectInstances(metric: Gauge<string>): void {
    metric.reset();
    const counts = new Map<string, { chain: string; function: string; byState: Map<InstanceState, number> }>();
    for (const i of this.instances()) {
      const key = `${i.chain}\u0000${i.function}`;
      let entry = counts.get(key);
      if (entry === undefined) {
        entry = { chain: i.chain, function: i.function, byState: new Map() };
        counts.set(key, entry);
      }
      entry.byState.set(i.state, (entry.byState.get(i.state) ?? 0) + 1);
    }
    for (const { chain, function: fn, byState } of counts.values()) {
      for (const state of INSTANCE_STATES) metric.set({ chain, function: fn, state }, byState.get(state) ?? 0);
    }
  }
}

function trafficLabels(s: InstanceStatsSource, side: number, direction: 'rx' | 'tx'): Record<string, string> {
  return { chain: s.chain, function: s.function, [INSTANCE_LABEL]: s.id, side: SIDE_NAMES[side], direction };
}

/** Shared counters are written by another thread: never hand prom-client a NaN or a negative. */
function nonNegative(x: number): number {
  return x > 0 ? x : 0;
}

/** The labels that name one backend's series. */
function backendSeries(b: BackendMetricEntry): Record<string, string> {
  return { chain: b.chain, function: b.function, service: b.service, backend: b.backend };
}
