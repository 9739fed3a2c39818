import type { BackendStateValue } from './backend-control-layout.ts';

/** One backend of a function's configuration, as the controller sees it. */
export interface FunctionBackend {
  /** Name of the service it serves (unique within the function). */
  readonly service: string;
  /** The backend's name within its service: `a.b.c.d:port`, or `[2001:db8::1]:port` for IPv6. */
  readonly name: string;
  /** Address: an IPv4 dotted quad, or IPv6 text (RFC 5952). */
  readonly address: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  /** State the configuration gives it (`BackendState`). */
  readonly configured: BackendStateValue;
}

/**
 * What a function with backends (the load balancer) tells the framework, so that the
 * controller can list its backends, steer them through the shared control array
 * (`backend-control-layout.ts`, passed to each instance as `PipelineRuntime.control`) and
 * check their health — without the framework importing the function. Set as
 * `PipelineDefinition.backends`.
 *
 * The function's instances must read the control array as laid out there, with backend
 * `i` of `list(config)` at slot `CONTROL_STATES + i`.
 *
 * @example
 * ```ts
 * export const loadBalancer = definePipeline({
 *   name: 'load-balancer',
 *   backends: { list: (cfg) => backendsOf(cfg), connectionsCounter: (i) => `connections_backend_${i}`, newFlowsCounter: (i) => `new_flows_backend_${i}` },
 *   …
 * });
 * ```
 */
export interface FunctionBackends<C> {
  /** Every backend of a validated configuration, in control-array order. */
  list(config: C): FunctionBackend[];
  /** Name of the counter holding backend `i`'s live connections in one instance (a gauge). */
  connectionsCounter(i: number): string;
  /** Name of the counter of new flows sent to backend `i` by one instance. */
  newFlowsCounter(i: number): string;
}
