import type { ChainEnd, ChainEndFactory } from '../controller/chain-ends.ts';
import type { ChainPort } from '../dataplane/chain-port.ts';
import { vxlanPortType } from '../ports/vxlan.ts';
import type { ChainRuntime } from '../controller/chain-runtime.ts';
import { Controller, type ControllerOptions } from '../controller/controller.ts';
import type { ScalingPolicyOptions } from '../controller/scaling-policy.ts';
import { VxlanPort } from '../dataplane/ports/vxlan-port.ts';
import { InvalidArgumentError, NetlabError } from '../errors/catalog.ts';
import type { ImageStore } from '../image/image-store.ts';
import type { FunctionRegistry } from '../pipeline/function-registry.ts';
import type { WebChainSpecOptions, WebLab } from './web-lab.ts';

/** Options of `startWebEdgeChain`. */
export interface WebEdgeChainOptions {
  /** Functions the controller may use (`registerBuiltinFunctions(new FunctionRegistry())`). */
  readonly registry: FunctionRegistry;
  /** Image store (a temporary one in tests and benchmarks). */
  readonly store: ImageStore;
  /** Let the autoscaler change replicas (default false: one instance per function, as the spec's `min`). */
  readonly autoscale?: boolean;
  /** Chain name (default `web-edge-vxlan`). */
  readonly name?: string;
  /** Scaling overrides by function name (`WebChainSpecOptions.scaling`), kept by `setBackends`. */
  readonly scaling?: WebChainSpecOptions['scaling'];
  /** `spec.placement` (default: the topology's, `auto`). */
  readonly placement?: WebChainSpecOptions['placement'];
  /** A health check of the load balancer's service (`WebChainSpecOptions.healthCheck`), kept by `setBackends`. */
  readonly healthCheck?: WebChainSpecOptions['healthCheck'];
  /** The controller's scaling policy tuning (sustain times, hysteresis; default: the controller's). */
  readonly scalingPolicy?: ScalingPolicyOptions;
  /** The controller's warm pool (default: the controller's, 4 isolates of 256 MiB preloading the chain's images). */
  readonly warm?: ControllerOptions['warm'];
  /** How often the controller samples rates and the autoscaler decides, ms (default: the controller's, 500). */
  readonly sampleIntervalMs?: number;
  /**
   * Wraps each end's VXLAN port before the controller uses it (instrumentation, e.g. a
   * benchmark's timing probe). A wrapper must keep the wrapped port in `inner`. Given, it
   * keeps the ends on the host (the controller's own `vxlan` end factory); omitted, a fused
   * chain runs its ends in its replicas (`placeEnds`).
   */
  readonly wrapPort?: (side: 'inside' | 'outside', port: ChainPort) => ChainPort & { readonly inner: ChainPort };
}

/** What the chain's deletion reported (`deleted` event details). */
export interface WebEdgeShutdown {
  /** Buffers still held after the data plane stopped, as the event says (must be `'0'`). */
  readonly leakedBuffers: string;
  /** Flows still pinned when the drain time ran out. */
  readonly flowsLeft: string;
}

/** The web-edge chain running for a `WebLab`. */
export interface WebEdgeChain {
  readonly controller: Controller;
  readonly name: string;
  /** The controller's runtime of the chain (data plane, instances, ends). */
  readonly runtime: ChainRuntime;
  /**
   * One end's figures as the controller reports them for either placement of the ends
   * (`ChainStatus.ends.figures` of that side, unprefixed): `framesIn`, `framesOut`,
   * `datagramsIn`, `datagramsOut`, `drops:<reason>` …
   */
  endFigures(side: 'inside' | 'outside'): Record<string, number>;
  /**
   * One end's non-zero drops by reason, named as `VxlanPort.stats().drops` names them
   * (VXLAN reasons, `gateway:<reason>`, and `classifier` at the inside), wherever the end runs.
   */
  endDrops(side: 'inside' | 'outside'): Record<string, number>;
  /** Applies the lab's spec again with only these backends in the load balancer (a rolling update). */
  setBackends(names: readonly string[]): Promise<void>;
  /** Closes the controller (every chain deleted, flows given `drainMs`) and returns the chain's `deleted` details. */
  close(drainMs?: number): Promise<WebEdgeShutdown>;
}

/** The controller's `vxlan` chain-end factory, with the port wrapped when asked (probes). */
function vxlanEnd(wrap: WebEdgeChainOptions['wrapPort']): ChainEndFactory {
  return async (spec, context) => {
    if (spec.type !== 'vxlan') throw new InvalidArgumentError(`not a vxlan port: ${spec.type}`);
    const end = await vxlanPortType.open(spec, context);
    if (wrap === undefined) return end;
    const port = wrap(context.side, end.port);
    // Without it the pump loop would only find datagrams on its idle polls (a ms per hop).
    if (port.onReadable === undefined) throw new InvalidArgumentError('wrapPort must forward the socket port\'s onReadable');
    return { ...end, port };
  };
}

/**
 * Starts a controller and applies the lab's web-edge spec (`WebLab.chainSpec`): the
 * controller builds the three images, boots the instances and opens the VXLAN ends on the
 * lab's underlay. The caller must `close()` it (in `finally`, before destroying the lab).
 *
 * @example
 * ```ts
 * const edge = await startWebEdgeChain(web, { registry, store: ImageStore.open(dir) });
 * try {
 *   // HTTP from web.client to web.targets.chain …
 *   await edge.setBackends(['backend-1', 'backend-2']);
 * } finally {
 *   const { leakedBuffers } = await edge.close();
 * }
 * // Autoscaling: the NAT between 1 and 2 instances, a low target, quick decisions.
 * const scaled = await startWebEdgeChain(web, {
 *   registry, store, autoscale: true, sampleIntervalMs: 250,
 *   scaling: { nat: { min: 1, max: 2, target: 2000, cooldownSeconds: 1 }, fw: { max: 1 }, lb: { max: 1 } },
 *   scalingPolicy: { outAfterMs: 500, inAfterMs: 2000 },
 * });
 * await scaled.close();
 * ```
 */
export async function startWebEdgeChain(web: WebLab, options: WebEdgeChainOptions): Promise<WebEdgeChain> {
  const name = options.name ?? 'web-edge-vxlan';
  const controller = await Controller.create({
    registry: options.registry,
    store: options.store,
    autoscale: options.autoscale ?? false,
    // The controller's own factory only to wrap the ports: it keeps the ends on the host.
    ...(options.wrapPort === undefined ? {} : { endFactories: { vxlan: vxlanEnd(options.wrapPort) } }),
    ...(options.scalingPolicy === undefined ? {} : { scalingPolicy: options.scalingPolicy }),
    ...(options.warm === undefined ? {} : { warm: options.warm }),
    ...(options.sampleIntervalMs === undefined ? {} : { sampleIntervalMs: options.sampleIntervalMs }),
  });
  const scaling = options.scaling;
  let runtime: ChainRuntime;
  try {
    await controller.apply(web.chainSpec({ name, scaling, placement: options.placement, healthCheck: options.healthCheck }), `${name}.yaml`);
    runtime = controller.chain(name);
    if (options.wrapPort !== undefined) for (const end of [runtime.ends.inside, runtime.ends.outside]) portOf(end);
  } catch (err) {
    await controller.close(0);
    throw err;
  }
  let closed: WebEdgeShutdown | undefined;
  return {
    controller,
    name,
    runtime,
    endFigures: (side) => runtime.ends[side].stats(),
    endDrops(side) {
      const drops = runtime.ends[side].drops?.();
      const out: Record<string, number> = {};
      for (const [reason, n] of Object.entries(drops?.port ?? {})) if (n > 0) out[reason] = n;
      for (const [reason, n] of Object.entries(drops?.gateway ?? {})) if (n > 0) out[`gateway:${reason}`] = n;
      return out;
    },
    async setBackends(names) {
      await controller.apply(web.chainSpec({ name, backends: names, scaling, placement: options.placement, healthCheck: options.healthCheck }), `${name}.yaml`);
    },
    async close(drainMs = 500) {
      if (closed !== undefined) return closed;
      const after = controller.events.lastSeq;
      await controller.close(drainMs);
      const deleted = controller.events.since(after).find((e) => e.type === 'deleted' && e.chain === name);
      closed = { leakedBuffers: deleted?.details.leakedBuffers ?? 'unknown (no deleted event)', flowsLeft: deleted?.details.flowsLeft ?? 'unknown' };
      return closed;
    },
  };
}

/** The VXLAN port of a host chain end, looking through wrappers (the ingress classifier, `wrapPort`'s) that keep theirs in `inner`; throws when there is none. */
function portOf(end: ChainEnd): VxlanPort {
  let port: unknown = end.port;
  for (let depth = 0; depth < 4 && !(port instanceof VxlanPort) && typeof port === 'object' && port !== null && 'inner' in port; depth++) {
    port = (port as { inner: unknown }).inner;
  }
  if (!(port instanceof VxlanPort)) throw new NetlabError('the web-edge chain end is not a VXLAN port');
  return port;
}
