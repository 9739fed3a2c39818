import type { InstanceStatsSource } from '../metrics/instance-stats-source.ts';
import type { SideNumber } from '../pipeline/verdict.ts';
import type { LayerDrop, NfvkitMetrics } from '../metrics/nfvkit-metrics.ts';
import { HOST_DROP_LIST } from '../dataplane/host-drop-reason.ts';
import { ringDropCounts, RING_DROP_LIST } from '../virtio/ring-drop-reason.ts';
import { DIRECT_LINK_COUNTER_LIST } from '../dataplane/links/direct-link-counters.ts';
import { directLinkDropCounts } from '../dataplane/links/direct-link-host.ts';
import { loadFunctionName, type ChainRuntime } from './chain-runtime.ts';
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
 * Every drop counter outside the pipelines of the given chains, one row per declared
 * reason: the host's per stage (`HOST_DROP_LIST`, `Stage.hostDrops`; a fused chain's one
 * stage with its first function), each live instance's device ends (`RING_DROP_LIST`,
 * a fused replica's inside ring with its first function, its outside ring with its last),
 * each live instance's direct links (`DIRECT_LINK_COUNTER_LIST.dropNames`, when the chain runs
 * over direct links) and each chain end's port and gateway (`ChainEnd.drops`).
 */
export function chainLayerDrops(chains: Iterable<ChainRuntime>): LayerDrop[] {
  const out: LayerDrop[] = [];
  for (const chain of chains) {
    const dp = chain.dataPlane;
    for (const stage of dp.stages) {
      const fn = chain.functions.find((f) => f.spec.name === stage.name);
      const name = fn === undefined ? stage.name : loadFunctionName(fn);
      for (const [k, reason] of HOST_DROP_LIST.names.entries()) out.push({ layer: 'host', chain: chain.name, function: name, reason, value: stage.hostDrops[k] });
    }
    for (const stage of dp.stages) {
      for (const inst of stage.live) {
        const parts = inst.manifest.parts;
        for (const [side, end] of [['inside', inst.host.eth0], ['outside', inst.host.eth1]] as const) {
          const fn = parts === undefined ? stage.name : parts[side === 'inside' ? 0 : parts.length - 1].name;
          const instance = parts === undefined ? `${chain.name}/${inst.id}` : `${chain.name}/${inst.id}/${fn}`;
          const counts = ringDropCounts(end);
          for (const [k, d] of RING_DROP_LIST.declared.entries()) out.push({ layer: 'ring', chain: chain.name, function: fn, instance, side, reason: d.name, value: counts[k] });
        }
        const link = directLinkDropCounts(inst);
        if (link !== null) {
          const fn = chain.functions.find((f) => f.spec.name === stage.name);
          const name = fn === undefined ? stage.name : loadFunctionName(fn);
          for (const [k, reason] of DIRECT_LINK_COUNTER_LIST.dropNames.entries()) out.push({ layer: 'link', chain: chain.name, function: name, instance: `${chain.name}/${inst.id}`, reason, value: link[k] });
        }
      }
    }
    for (const [side, end, spec] of [['inside', chain.ends.inside, chain.spec.spec.ingress], ['outside', chain.ends.outside, chain.spec.spec.egress]] as const) {
      const drops = end.drops?.();
      if (drops === undefined) continue;
      for (const [reason, value] of Object.entries(drops.port)) out.push({ layer: 'port', chain: chain.name, side, port: spec.type, reason, value });
      for (const [reason, value] of Object.entries(drops.gateway ?? {})) out.push({ layer: 'gateway', chain: chain.name, side, port: spec.type, reason, value });
    }
  }
  return out;
}

/**
 * Feeds a controller's state into Prometheus metrics: the instances' shared counters and
 * the drops of the host, the rings and the chain ends (`chainLayerDrops`) at scrape time, instance counts by state, the image store's size, boot times, scaling
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
  metrics.setLayerDrops(() => chainLayerDrops(controller.runtimes()));
  metrics.setBackends(() => controller.runtimes().flatMap((chain) => chain.functions.flatMap((f) => (f.backends === undefined ? [] : chain.backends(f.backends.fn)))));
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
