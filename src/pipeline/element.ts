import type { z } from 'zod';

/** A side as elements name it: `inside` is device eth0, `outside` is eth1. */
export type SideName = 'inside' | 'outside';

/**
 * The ports of an element: the sides whose packets it processes and the sides it may send
 * packets out on. Packets that arrived on a side not in `input` skip the element (the
 * compiler guards its code with a side test).
 */
export interface ElementPorts {
  readonly input: readonly SideName[];
  readonly output: readonly SideName[];
}

/** Ports of a middlebox stage: packets from both sides, out on both sides (the default). */
export const MIDDLEBOX_PORTS: ElementPorts = { input: ['inside', 'outside'], output: ['inside', 'outside'] };

/** A counter an element declares: every drop has one, named after its reason. */
export interface CounterSpec {
  /** snake_case name, unique within the element (`acl_denied`, `nat_ports_exhausted`). */
  readonly name: string;
  /** True when the counter counts dropped packets (its name is the drop reason). */
  readonly drop: boolean;
  /** One line for `/metrics` help and docs. */
  readonly help: string;
}

/**
 * What an element gives the compiler to splice into the fused batch loop.
 *
 * Code runs inside `createPipeline(rt)` of the generated module, where these names exist:
 * - module level (`init`): `rt` (the runtime environment: `rt.counters`, a Float64Array),
 *   `counters`, and whatever identifiers the element obtained from `GenContext`;
 * - per batch (`perBatch`): also `batch`, `view` (DataView over the pool), `n`, `now` (ms);
 * - per packet (`perPacket`): also `i`, `off` and `len` (the frame's absolute offset and
 *   length; assignable), `side` (arrival side), `verdict` (assignable; starts as the side
 *   opposite to `side`), `L` (the shared `FrameLayout`, filled by the `parse-frame` element)
 *   and every per-packet local declared through `GenContext.packetLocal`.
 * Per-packet code ends a packet early with the snippets `GenContext.drop()` or
 * `GenContext.finish()` return; it must not allocate, create closures or use try/catch.
 */
export interface ElementCode {
  /** Statements run once when an instance starts (tables built from the baked config). */
  readonly init?: string;
  /**
   * Statements run when the instance learns its shard (`PipelineRuntime.shard`, in scope as
   * `shard`: `{ index, count }`), after `init` — at creation, or later for a pipeline built
   * ahead in a warm isolate — always before the first batch.
   */
  readonly onShard?: string;
  /**
   * Statements run when the instance gets its control words (`PipelineRuntime.control`, in
   * scope as `control`: an Int32Array on memory the host writes, e.g. the load balancer's
   * backend states), after `init` — at creation, or later for a pipeline built ahead in a
   * warm isolate (`PipelineInstance.setControl`) — always before the first batch.
   */
  readonly onControl?: string;
  /**
   * Statements run when the instance attaches its state (`PipelineInstance.attachState`),
   * after `onShard`, before the first batch. In scope: `state` (the pipeline's whole state,
   * a Uint8Array; the element's region is at the offset `GenContext.stateRegion` returned),
   * `previous` (a failed predecessor's state in the same layout, or undefined), `now`,
   * `shift` (ms to add to a time read from `previous` to put it on this instance's clock)
   * and `took` (a `StateTakeover` to add the element's adopted and rejected entries to).
   */
  readonly onAttach?: string;
  /** Statements run once per batch, before the packet loop. */
  readonly perBatch?: string;
  /** Statements run for every packet still in flight. */
  readonly perPacket: string;
}

/** Services the compiler offers an element while it generates code. */
export interface GenContext {
  /** Unique prefix for identifiers this element instance declares (`e2`). */
  readonly id: string;
  /**
   * Imports `name` from a library module and returns the local identifier. `module` is a
   * package subpath specifier (`#nfvkit/packet/ipv4.ts`, `#functions/nat/port-allocator.ts`),
   * so generated code is independent of where the checkout lives.
   */
  importName(module: string, name: string): string;
  /** Code that drops the packet, counting it under this element's drop counter `counter`. */
  drop(counter: string): string;
  /** Code that drops the packet with a counter index computed at run time (`base + code`). */
  dropIndex(indexExpression: string): string;
  /** Code that ends processing of the packet with the current `verdict` (no later stage runs). */
  finish(): string;
  /** Code that adds `by` (default 1) to this element's counter `counter`. */
  count(counter: string, by?: string): string;
  /** Global index of this element's counter `counter` in the pipeline's counter array. */
  counterIndex(counter: string): number;
  /**
   * Declares a per-packet local shared by the pipeline's elements, reset to `initial` for
   * every packet; returns its name. Two elements declaring the same name share it (the
   * initial values must agree), which is how a stage passes results to a later one.
   */
  packetLocal(name: string, initial: string): string;
  /** Embeds a JSON-serialisable value as a module-level constant; returns its identifier. */
  constant(value: unknown): string;
  /**
   * A statement, for per-packet code, that reports the int32 value of `expression` in traces
   * under `label` (`rule`, `backend`); `values` names the values 0, 1, … when they name
   * something. Only the tracing variant of the pipeline (`processBatchTraced`) evaluates it:
   * the normal batch loop holds nothing of it.
   */
  trace(label: string, expression: string, values?: readonly string[]): string;
  /**
   * Reserves `bytes` of the pipeline's state (memory the host owns, which a successor of a
   * failed instance takes over: see `ElementCode.onAttach`); returns the region's offset.
   */
  stateRegion(bytes: number): number;
}

/**
 * An element: one stage of a pipeline, in one file. It declares its config schema and its
 * counters, and generates the code the compiler fuses into the pipeline's batch loop.
 *
 * @example
 * ```ts
 * export const decrementTtl: ElementDefinition<{}> = {
 *   kind: 'decrement-ttl',
 *   description: 'Decrements the IPv4 TTL, dropping packets whose TTL would reach zero.',
 *   config: z.object({}).strict(),
 *   counters: [{ name: 'ttl_exceeded', drop: true, help: 'TTL reached zero' }],
 *   generate(_cfg, ctx) {
 *     const dec = ctx.importName('#nfvkit/packet/checksum-rewrite.ts', 'decrementTtl');
 *     return { perPacket: `if (view.getUint8(L.l3Offset + 8) <= 1) ${ctx.drop('ttl_exceeded')}\n${dec}(view, L.l3Offset);` };
 *   },
 * };
 * ```
 */
export interface ElementDefinition<C = unknown> {
  /** Element kind, kebab-case, unique in a pipeline's vocabulary (`firewall-acl`). */
  readonly kind: string;
  /** One sentence: what the element does. */
  readonly description: string;
  /** Schema of the element's configuration (validated before code generation). */
  readonly config: z.ZodType<C>;
  /** Sides it processes and sends to; default `MIDDLEBOX_PORTS`. */
  readonly ports?: ElementPorts;
  /** Every counter the element may touch, drops included. */
  readonly counters: readonly CounterSpec[];
  /** Generates the element's code for one (validated) configuration. */
  generate(config: C, ctx: GenContext): ElementCode;
}

/** An element placed in a pipeline with its configuration. */
export interface ElementUse {
  readonly element: ElementDefinition<any>;
  /** Configuration for this use; validated against `element.config` by the compiler. */
  readonly config: unknown;
  /** Name of this use, for counters and `--emit` (defaults to the element kind). */
  readonly name?: string;
}

/** Places `element` in a pipeline with `config` (type-checked against the element). */
export function use<C>(element: ElementDefinition<C>, config: C, name?: string): ElementUse {
  return name === undefined ? { element, config } : { element, config, name };
}
