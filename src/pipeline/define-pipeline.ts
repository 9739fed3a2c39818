import type { z } from 'zod';
import type { FunctionBackends } from '../backends/function-backends.ts';
import type { ElementUse } from './element.ts';

/**
 * A network function: a named pipeline of elements built from a validated configuration.
 *
 * @example
 * ```ts
 * export const passThrough = definePipeline({
 *   name: 'pass-through',
 *   description: 'Forwards every well-formed frame to the other side.',
 *   config: z.object({}).strict(),
 *   elements: () => [use(parseFrameElement, {})],
 * });
 * ```
 */
export interface PipelineDefinition<C = unknown> {
  /** Function name, kebab-case (`firewall`). */
  readonly name: string;
  /** One sentence: what the function does. */
  readonly description: string;
  /** Schema of the function's configuration, as written in a chain spec. */
  readonly config: z.ZodType<C>;
  /** The elements, in order, for a validated configuration. */
  elements(config: C): ElementUse[];
  /** Default memory limit of an instance of this function's image, in MiB. */
  readonly memoryMiB?: number;
  /**
   * True when instances of the function split a resource that must stay unique among them
   * (NAT external ports) by `PipelineRuntime.shard`: the controller then gives each
   * instance a shard. Default false (instances are interchangeable).
   */
  readonly sharded?: boolean;
  /**
   * For a sharded function whose shards are slices of a port range (NAT): that range for a
   * validated configuration, as the function cuts it into equal slices, the last taking the
   * rest. The controller steers replies by it when the chain's VXLAN ends run in its fused
   * replicas (`natShardKey`). Runs on the host, never in an image.
   */
  shardedPorts?(config: C): { readonly from: number; readonly to: number };
  /**
   * The function balances over backends that the controller may steer at run time (drain,
   * remove, activate, health checks) through the shared control array every instance gets
   * as `PipelineRuntime.control`. Default none.
   */
  readonly backends?: FunctionBackends<C>;
}

/** Identity helper that types a pipeline definition. */
export function definePipeline<C>(definition: PipelineDefinition<C>): PipelineDefinition<C> {
  return definition;
}
