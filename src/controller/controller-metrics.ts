import type { InstanceStatsSource } from '../metrics/instance-stats-source.ts';
import type { SideNumber } from '../pipeline/verdict.ts';
import type { NfvkitMetrics } from '../metrics/nfvkit-metrics.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import type { Controller } from './controller.ts';

/** Views of each fused part's counters, made once per replica: the rate sampler tells a replaced instance by a new array. */
const partViews = new WeakMap<Float64Array, Float64Array[]>();

function partCounters(counters: Float64Array, k: number, first: number, end: number): Float64Array {
  let views = partViews.get(counters);
  if (views === undefined) partViews.set(counters, (views = []));
  return (views[k] ??= counters.subarray(first, end));
}

/** The stats sources (shared counters) of every live instance of the given chains. */
export function instanceStatsSources(chains: Iterable<ChainRuntime>): InstanceStatsSource[] {
  const out: InstanceStatsSource[] = [];
  for (const chain of chains) {
    for (const stage of chain.dataPlane.stages) {
      for (const inst of stage.live) {
        const host = inst.host;
        // The host's backlog toward the instance: a receiveq's own fill level mostly shows
        // how lazily the driver reposts buffers, not load.
        const queueOccupancy = (side: SideNumber): number => inst.backlog(side);
        const parts = inst.manifest.parts;
        if (parts === undefined) {
          out.push({ id: `${chain.name}/${inst.id}`, chain: chain.name, function: stage.name, counters: host.counters, counterInfo: inst.manifest.counters, queueOccupancy, loopStats: host.loopStats, sandboxDenied: host.sandboxCounters });
          continue;
        }
        // A fused replica: one source per function, over that function's block of counters;
        // the replica's loop (busy time, batch times) is every function's.
        for (const [k, part] of parts.entries()) {
          const end = part.firstCounter + part.counterCount;
          out.push({
            id: `${chain.name}/${inst.id}/${part.name}`,
            chain: chain.name,
            function: part.name,
            counters: partCounters(host.counters, k, part.firstCounter, end),
            counterInfo: inst.manifest.counters.slice(part.firstCounter, end),
            queueOccupancy,
            loopStats: host.loopStats,
            // The replica's sandbox is one: its denials count once, with its first function.
            ...(k === 0 ? { sandboxDenied: host.sandboxCounters } : {}),
          });
        }
      }
    }
  }
  return out;
}

/**
 * Feeds a controller's state into Prometheus metrics: the instances' shared counters at
 * scrape time, instance counts by state, the image store's size, boot times, scaling
 * events and images removed by the collector from the event stream. Returns the unsubscribe function.
 *
 * @example
 * ```ts
 * const metrics = new NfvkitMetrics();
 * const detach = attachControllerMetrics(controller, metrics);
 * const server = await startMetricsServer(metrics);
 * ```
 */
export function attachControllerMetrics(controller: Controller, metrics: NfvkitMetrics): () => void {
  metrics.setSources(() => instanceStatsSources(controller.runtimes()));
  metrics.setInstances(() => controller.listInstances());
  metrics.setChainFaults(() => Array.from(controller.runtimes(), (chain) => ({ chain: chain.name, faults: { ...chain.dataPlane.faults } })));
  metrics.setImageStore(() => {
    const cap = controller.imageStoreCapBytes;
    return { ...controller.imageStoreUsage(), ...(cap === undefined ? {} : { capBytes: cap }) };
  });
  return controller.subscribe((e) => {
    if (e.type === 'instance-booted') {
      const ms = Number(e.details.bootMs);
      if (Number.isFinite(ms)) metrics.instanceBooted({ chain: e.chain, function: e.function }, ms / 1000, e.details.warm === 'true' ? 'warm' : 'cold');
    } else if (e.type === 'scaled') {
      const from = Number(e.details.from);
      const to = Number(e.details.to);
      metrics.scalingEvent({ chain: e.chain, function: e.function }, to > from ? 'out' : 'in', e.details.source ?? 'unknown');
    } else if (e.type === 'image-gc' && e.details.removed !== undefined) {
      const byCap = Number(e.details.removedByCap ?? 0);
      const bytesByCap = Number(e.details.freedBytesByCap ?? 0);
      metrics.imagesRemoved('unused', Number(e.details.removed) - byCap, Number(e.details.freedBytes ?? 0) - bytesByCap);
      metrics.imagesRemoved('cap', byCap, bytesByCap);
    }
  }, controller.events.lastSeq);
}
