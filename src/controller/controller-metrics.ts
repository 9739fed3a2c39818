import type { InstanceStatsSource } from '../metrics/instance-stats-source.ts';
import type { NfvkitMetrics } from '../metrics/nfvkit-metrics.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import type { Controller } from './controller.ts';

/** The stats sources (shared counters) of every live instance of the given chains. */
export function instanceStatsSources(chains: Iterable<ChainRuntime>): InstanceStatsSource[] {
  const out: InstanceStatsSource[] = [];
  for (const chain of chains) {
    for (const stage of chain.dataPlane.stages) {
      for (const inst of stage.live) {
        const host = inst.host;
        out.push({
          id: `${chain.name}/${inst.id}`,
          chain: chain.name,
          function: stage.name,
          counters: host.counters,
          counterInfo: inst.manifest.counters,
          // The host's backlog toward the instance: a receiveq's own fill level mostly shows
          // how lazily the driver reposts buffers, not load.
          queueOccupancy: (side) => inst.backlog(side),
          loopStats: host.loopStats,
        });
      }
    }
  }
  return out;
}

/**
 * Feeds a controller's state into Prometheus metrics: the instances' shared counters at
 * scrape time, instance counts by state, boot times and scaling events from the event
 * stream. Returns the unsubscribe function.
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
  return controller.subscribe((e) => {
    if (e.type === 'instance-booted') {
      const ms = Number(e.details.bootMs);
      if (Number.isFinite(ms)) metrics.instanceBooted({ chain: e.chain, function: e.function }, ms / 1000, e.details.warm === 'true' ? 'warm' : 'cold');
    } else if (e.type === 'scaled') {
      const from = Number(e.details.from);
      const to = Number(e.details.to);
      metrics.scalingEvent({ chain: e.chain, function: e.function }, to > from ? 'out' : 'in', e.details.source ?? 'unknown');
    }
  }, controller.events.lastSeq);
}
