import { counterList } from '../counters/counter-list.ts';
import type { ElementPorts } from './element.ts';
import type { PacketBatch } from './packet-batch.ts';
import type { PacketTracer } from '../trace/packet-tracer.ts';

/** One counter of a compiled pipeline: its slot in the counter array and what it counts. */
export interface CounterInfo {
  /** snake_case counter name (the drop reason for drop counters). */
  readonly name: string;
  /** Element use the counter belongs to (`pipeline` for the built-in traffic counters). */
  readonly element: string;
  /** True for counters of dropped packets. */
  readonly drop: boolean;
  /** What it counts (the HELP line of its metric series and its row in docs/metrics.md). */
  readonly help: string;
}

/**
 * What a generated pipeline module's `COUNTERS` says of each counter: its slot's name,
 * element and whether it counts drops, without the help text. Images do not carry help
 * (an instance never shows it): the host reads it from `CompiledPipeline.counters` or the
 * image manifest (`ImageManifest.counters`), both `CounterInfo`.
 */
export type ModuleCounter = Pick<CounterInfo, 'name' | 'element' | 'drop'>;

/** The built-in traffic counters every pipeline keeps, at fixed slots 0…8 (one declaration: index, names, help). */
export const BUILTIN_COUNTER_LIST = counterList([
  { name: 'rx_inside_packets', help: 'packets received on the inside side' },
  { name: 'rx_outside_packets', help: 'packets received on the outside side' },
  { name: 'tx_inside_packets', help: 'packets sent out on the inside side' },
  { name: 'tx_outside_packets', help: 'packets sent out on the outside side' },
  { name: 'rx_inside_bytes', help: 'bytes received on the inside side' },
  { name: 'rx_outside_bytes', help: 'bytes received on the outside side' },
  { name: 'tx_inside_bytes', help: 'bytes sent out on the inside side' },
  { name: 'tx_outside_bytes', help: 'bytes sent out on the outside side' },
  { name: 'dropped_packets', help: 'packets dropped, all reasons' },
] as const);

/** Slot of each built-in counter (`counters[BuiltinCounter.DROPPED_PACKETS]`). */
export const BuiltinCounter = BUILTIN_COUNTER_LIST.index;

/** Metadata of the built-in counters, in slot order. */
export const BUILTIN_COUNTERS: readonly CounterInfo[] = BUILTIN_COUNTER_LIST.entries.map((c) => ({ name: c.name, element: 'pipeline', drop: c.drop, help: c.help }));

/** One element of a compiled pipeline, in order. */
export interface CompiledElement {
  /** Name of the use (defaults to the kind). */
  readonly name: string;
  readonly kind: string;
  readonly ports: ElementPorts;
}

/** The output of the pipeline compiler: a self-contained ES module's source and its metadata. */
export interface CompiledPipeline {
  /** Function name. */
  readonly name: string;
  /** SHA-256 (hex) of the generated source: same function + config → same hash. */
  readonly sourceHash: string;
  /** The generated ES module (JavaScript). Exports `COUNTERS` and `createPipeline(rt)`. */
  readonly source: string;
  /** Every counter, indexed by slot. */
  readonly counters: readonly CounterInfo[];
  /** The elements, in order, with their ports. */
  readonly elements: readonly CompiledElement[];
  /** Library modules the generated code imports (package subpath specifiers). */
  readonly imports: readonly string[];
  /** The validated configuration that was baked in. */
  readonly config: unknown;
  /** A fused chain (`compileFusedChain`): each function's own compiled pipeline, in chain order, bundled beside `source`. */
  readonly parts?: readonly CompiledPipeline[];
  /** A fused chain: the functions' names in the chain, in the order of `parts`. */
  readonly partNames?: readonly string[];
  /** What a trace record's element and note numbers name (a fused chain: its parts carry theirs). */
  readonly trace: PipelineTraceInfo;
  /**
   * Bytes of connection state (`PipelineInstance.attachState`) the pipeline keeps in memory
   * its host owns, header included; 0 when it keeps none.
   */
  readonly stateBytes: number;
}

/** One note an element reports in traces (`GenContext.trace`). */
export interface TraceNoteInfo {
  /** Index of the element in `PipelineTraceInfo.elements`. */
  readonly element: number;
  /** What the value is (`rule`, `backend`). */
  readonly label: string;
  /** Names of the values 0, 1, … when they name something (rules, backends); absent: the number itself. */
  readonly values?: readonly string[];
}

/** The element and note numbers of a pipeline's trace records. */
export interface PipelineTraceInfo {
  /** Element names, in pipeline order (a record's steps name them by index). */
  readonly elements: readonly string[];
  /** Notes, by note id. */
  readonly notes: readonly TraceNoteInfo[];
}

/** What a running pipeline needs from its host. */
export interface PipelineRuntime {
  /** One slot per counter (`CompiledPipeline.counters.length`), usually in shared memory. */
  readonly counters: Float64Array;
  /**
   * Optional control words the host may flip at run time (e.g. the load balancer's
   * per-backend drain/remove states), usually in shared memory. Elements that use it
   * document their layout.
   */
  readonly control?: Int32Array;
  /**
   * This instance's share of resources that instances of one function must not both hand
   * out (e.g. NAT external ports): shard `index` of `count` (0 ≤ index < count). Absent:
   * the instance owns everything.
   */
  readonly shard?: InstanceShard;
}

/** See `PipelineRuntime.shard`. */
export interface InstanceShard {
  readonly index: number;
  readonly count: number;
}

/** A pipeline instantiated from generated code. */
export interface PipelineInstance {
  /** Runs the fused pipeline over `batch` in place; `now` is the clock in milliseconds. */
  processBatch(batch: PacketBatch, now: number): void;
  /**
   * The same as `processBatch`, compiled separately with trace hooks: each packet the host
   * marked for `tracer`'s session gets a record of every element's verdict, reason,
   * rewrites and notes. The instance loop runs it only for batches while a session is on,
   * so `processBatch` stays free of tracing. Generated pipelines always have it.
   */
  processBatchTraced?(batch: PacketBatch, now: number, tracer: PacketTracer): void;
  /**
   * Gives the instance its shard after creation (a pipeline built ahead, without
   * `rt.shard`); call before the first batch. Generated pipelines always have it.
   */
  setShard?(shard: InstanceShard): void;
  /**
   * Gives the instance its control words after creation (a pipeline built ahead, without
   * `rt.control`); call before the first batch. Generated pipelines have it when an element
   * reads control words (`ElementCode.onControl`).
   */
  setControl?(control: Int32Array): void;
  /**
   * Moves the pipeline's connection state (conntrack, NAT mappings…) into `state`, memory
   * of at least `STATE_BYTES` that the host owns and keeps after the instance is gone; with
   * `previous` (the state of a failed instance of the same image), first takes over its
   * entries, validating each (a corrupt one is rejected, never trusted). Call once, after
   * `setShard` and before the first batch. Control path. Generated pipelines with
   * `STATE_BYTES > 0` have it.
   */
  attachState?(state: Uint8Array, previous: Uint8Array | undefined, now: number): StateTakeover;
}

/** What `PipelineInstance.attachState` took over from the previous state. */
export interface StateTakeover {
  /** Entries (connections, mappings) taken over. */
  adopted: number;
  /** Entries found in the previous state and refused (invalid, clashing, or no room). */
  rejected: number;
}

/**
 * Bytes at the start of a pipeline's state: the clock (float64, ms) of its last batch, so a
 * successor can move the previous instance's expiry times onto its own clock.
 */
export const STATE_HEADER_BYTES = 64;

/** Alignment of each element's region in a pipeline's state, bytes. */
export const STATE_ALIGN = 64;

/** The shape of a generated pipeline module. */
export interface PipelineModule {
  /** One entry per counter slot, in slot order (no help text: see `ModuleCounter`). */
  readonly COUNTERS: readonly ModuleCounter[];
  /** `CompiledPipeline.stateBytes` (absent in modules built before state existed: 0). */
  readonly STATE_BYTES?: number;
  createPipeline(rt: PipelineRuntime): PipelineInstance;
}
