/**
 * The controller's contract: what the gRPC service, the CLI and the metrics exporter ask
 * of it. `Controller` (the reconciler) implements it; transports only translate.
 *
 * Errors: methods throw catalog errors, which the gRPC layer maps to status codes:
 * `ConfigValidationError` → INVALID_ARGUMENT (with every field issue), `NotFoundError` →
 * NOT_FOUND, `FailedPreconditionError` → FAILED_PRECONDITION, `InvalidArgumentError` →
 * INVALID_ARGUMENT, anything else → INTERNAL.
 */
import type { BackendStateName } from '../backends/backend-control-layout.ts';
import type { BackendStatus } from './backend-status.ts';
import type { CaptureSession } from '../capture/capture-session.ts';
import type { TraceSession } from '../trace/trace-session.ts';

/** Lifecycle state of one instance. */
export type InstanceState = 'booting' | 'ready' | 'draining' | 'stopped' | 'failed';

/** One running (or recently ended) instance of a chain function. */
export interface InstanceStatus {
  /** Unique, stable name: `<chain>/<function>-<n>`, e.g. `web-edge/lb-2`. */
  readonly id: string;
  readonly chain: string;
  /** The function's name in the chain spec (`spec.functions[i].name`). */
  readonly function: string;
  /** Image id (content hash) the instance runs. */
  readonly imageId: string;
  readonly state: InstanceState;
  /** Why the instance is in this state (failure message, "scale-in", "rolling update", …). */
  readonly reason: string;
  /** Unix time in ms when the boot started. */
  readonly startedAt: number;
  /** Boot time in ms (request to `ready`), 0 while booting. */
  readonly bootMs: number;
  /** Flows the dispatcher has pinned on this instance. */
  readonly flows: number;
}

/** One function of a chain as the controller sees it. */
export interface FunctionStatus {
  /** Name in the chain spec. */
  readonly name: string;
  /** Registered function it runs (`firewall`, `load-balancer`, `nat`, …). */
  readonly function: string;
  /** Image id of the current spec's config. */
  readonly imageId: string;
  /** Replicas wanted now (autoscaler or `ScaleFunction`), within `min..max`. */
  readonly desiredReplicas: number;
  /** Instances in state `ready` that run `imageId`. */
  readonly readyReplicas: number;
  readonly min: number;
  readonly max: number;
  /** Scaling target: packets per second per instance. */
  readonly target: number;
  /**
   * Failures of its instances (crash, out of memory, hang, failed boot) since it last stayed
   * healthy for the back-off's reset time; 0 when healthy. A fused chain's functions share
   * their replicas' count.
   */
  readonly failures: number;
  /** Wait the crash-loop back-off imposed after the last failure, ms; 0 when healthy. */
  readonly restartDelayMs: number;
  /** Unix time in ms before which no replacement boots; 0 when none is held back. */
  readonly nextRestartAt: number;
}

/**
 * Phase of a chain:
 * - `Pending` until its first reconcile is done;
 * - `Degraded` while a function (a fused chain: its replicas) has fewer ready instances of
 *   its current image than desired, or keeps failing (`FunctionStatus.failures` > 0: a
 *   failure not yet followed by the back-off's healthy reset time);
 * - `Ready` otherwise;
 * - `Deleting` from the delete request on.
 */
export type ChainPhase = 'Pending' | 'Ready' | 'Degraded' | 'Deleting';

/** One applied chain. */
export interface ChainStatus {
  readonly name: string;
  /** Increments each time an apply changes the spec. */
  readonly generation: number;
  readonly phase: ChainPhase;
  /** Why the phase is not `Ready`, e.g. `fw: 0/1 ready; fw: 5 failures, restarts back off 3.2 s`; '' when `Ready`. */
  readonly phaseReason: string;
  readonly functions: readonly FunctionStatus[];
  /** The applied spec, as YAML text (what `describe` prints). */
  readonly specYaml: string;
  /** Unix time in ms of the last apply that changed something. */
  readonly appliedAt: number;
  /** How the functions run (`spec.placement` resolved: `isolated` or `fused`). */
  readonly placement: string;
  /** Why that placement (e.g. `auto: 2 cores for 4 busy threads if isolated`). */
  readonly placementReason: string;
  /** Where the chain's ends run and what they counted (omitted by servers that do not say). */
  readonly ends?: ChainEndsStatus;
}

/** Where a chain's ends run, why, and their port figures (`ChainStatus.ends`). */
export interface ChainEndsStatus {
  /** `host` (the controller's thread carries every frame to and from the instances) or `replicas` (each fused replica runs its own). */
  readonly where: string;
  /** Why, e.g. `fused chain with in-memory ends (generator → responder): …`. */
  readonly reason: string;
  /**
   * Port figures by end, `inside.<figure>` and `outside.<figure>`: frames (`framesIn`,
   * `framesBack`, `framesOut`), a generator's flows (`flowsOpened`, `flowsClosed`,
   * `flowsMovedOut`/`flowsMovedIn` when shards moved between replicas, `shardMoves` …), a
   * responder's `synAcks`/`finAcks`, a socket port's drops.
   */
  readonly figures: Readonly<Record<string, number>>;
}

/** One function in a chain list: its name and replica counts, nothing else. */
export interface FunctionSummary {
  /** Name in the chain spec. */
  readonly name: string;
  /** Registered function it runs. */
  readonly function: string;
  /** Instances in state `ready` that run the current image. */
  readonly readyReplicas: number;
  /** Replicas wanted now. */
  readonly desiredReplicas: number;
}

/**
 * One chain in a list (`ListChains`, `get chains`): small and bounded whatever the spec
 * holds. The spec itself comes only from `getChain`.
 */
export interface ChainSummary {
  readonly name: string;
  readonly generation: number;
  readonly phase: ChainPhase;
  /** `isolated` or `fused`. */
  readonly placement: string;
  readonly functions: readonly FunctionSummary[];
  /** Unix time in ms of the last apply that changed something. */
  readonly appliedAt: number;
}

/** Which page of the chain list to return. */
export interface ListChainsRequest {
  /** Most chains in the page: 0 or omitted means `DEFAULT_CHAIN_PAGE_SIZE`; larger than `MAX_CHAIN_PAGE_SIZE` is clamped. */
  readonly pageSize?: number;
  /** `nextPageToken` of the previous page; '' or omitted: the first page. */
  readonly pageToken?: string;
}

/** One page of the chain list, ordered by name. */
export interface ChainPage {
  readonly chains: readonly ChainSummary[];
  /** Token of the next page; '' when this page is the last. */
  readonly nextPageToken: string;
}

/** Result of `apply`. */
export interface ApplyResult {
  readonly chain: ChainStatus;
  /** False when the spec equals the running one (idempotent apply: nothing was done). */
  readonly changed: boolean;
}

/** Kind of a lifecycle event. */
export type ControllerEventType =
  | 'applied'
  | 'image-built'
  | 'instance-booted'
  | 'instance-ready'
  | 'instance-draining'
  | 'instance-failed'
  | 'instance-stopped'
  | 'restart-delayed'
  | 'scaled'
  | 'deleted'
  /** The controller's image collection removed unused images, or the store stays over its cap (chain ''). */
  | 'image-gc'
  /** A backend's state was set (`SetBackendState`): drained, removed or activated for every instance. */
  | 'backend-state'
  /** A health check took a backend out (down) or brought it back (up). */
  | 'backend-health';

/** One lifecycle event (WatchEvents, `nfvkit events`). */
export interface ControllerEvent {
  /** Increasing sequence number, from 1. */
  readonly seq: number;
  /** Unix time in ms. */
  readonly time: number;
  readonly type: ControllerEventType;
  readonly chain: string;
  /** Function name in the chain, '' for chain-level events. */
  readonly function: string;
  /** Instance id, '' when not about one instance. */
  readonly instance: string;
  /** Human-readable reason, e.g. `scale-out: 1.9 Mpps/instance > target 1 Mpps`. */
  readonly reason: string;
  /** Figures behind the event (image id, replicas from/to, load, boot ms …), as strings. */
  readonly details: Readonly<Record<string, string>>;
}

/** Rates of one instance over the last sampling interval. */
export interface InstanceRates {
  readonly instance: string;
  readonly chain: string;
  readonly function: string;
  /** Packets per second into the instance (both sides). */
  readonly rxPps: number;
  /** Packets per second out of the instance (both sides). */
  readonly txPps: number;
  /** Dropped packets per second (all reasons). */
  readonly dropPps: number;
  /** Bytes per second into the instance. */
  readonly rxBps: number;
  /** Receive-queue occupancy, 0..1. */
  readonly queueOccupancy: number;
  /** Fraction of wall time the instance spent processing batches, 0..1. */
  readonly busyRatio: number;
}

/**
 * What a chain's ends carried and what it dropped (`ControllerApi.chainTraffic`; what
 * `nfvkit up` shows live and sums up when it stops).
 */
export interface ChainTraffic {
  readonly chain: string;
  /** Frames that entered the chain at its inside end (ingress, clients). */
  readonly enteredInside: number;
  /** Frames that entered at its outside end (egress, servers' replies). */
  readonly enteredOutside: number;
  /** Frames that left the chain at its inside end. */
  readonly leftInside: number;
  /** Frames that left at its outside end. */
  readonly leftOutside: number;
  /** Frames dropped inside the chain (pipelines, rings, host), every reason. */
  readonly dropped: number;
  /**
   * Every non-zero drop by reason, named as in `/metrics`: `<instance>:<counter>`
   * (`nfvkit_function_drops_total`), `<instance>:<side>:<reason>` (`nfvkit_ring_drops_total`),
   * `host:<reason>` (`nfvkit_host_drops_total`). Pipeline and ring drops are those of the
   * live instances.
   */
  readonly drops: Readonly<Record<string, number>>;
}

/** Unsubscribes a listener. */
export type Unsubscribe = () => void;

/** What `openTrace` traces (docs/capture.md). */
export interface TraceRequest {
  /** Packets to trace, 1..1000: the next ones entering the chain that pass the filter. */
  readonly count: number;
  /** Filter on the 5-tuple a packet has when it enters the chain; '' or omitted: any packet. */
  readonly filter?: string;
  /** The trace ends after this long even if fewer packets came, ms (0 or omitted: 10000). */
  readonly timeoutMs?: number;
}

/** What `openCapture` captures: one link of a chain, filtered (docs/capture.md). */
export interface CaptureRequest {
  /** Function whose link is captured; omitted or '': the chain's first function. */
  readonly function?: string;
  /** Its inside (default) or outside link. */
  readonly side?: 'inside' | 'outside';
  /** Frames to capture, then the session finishes; 0 or omitted: until closed. */
  readonly count?: number;
  /** Filter on the 5-tuple (`compileFilter`); '' or omitted: every frame. */
  readonly filter?: string;
  /** Bytes kept of each frame; 0 or omitted: whole frames. */
  readonly snaplen?: number;
}

/**
 * The controller as its transports see it.
 *
 * @example
 * ```ts
 * const { chain, changed } = await controller.apply(readFileSync('web-edge.yaml', 'utf8'), 'web-edge.yaml');
 * const off = controller.subscribe((e) => console.log(e.type, e.reason), 0);
 * ```
 */
export interface ControllerApi {
  /** Validates and applies a chain spec (YAML text); `source` names it in error positions. */
  apply(yamlText: string, source: string): Promise<ApplyResult>;
  /** One chain, with its spec. */
  getChain(name: string): ChainStatus;
  /**
   * A page of chain summaries ordered by name (no specs). Each chain that exists for the
   * whole walk appears exactly once over the pages; a bad `pageToken` is an `InvalidArgumentError`.
   */
  listChainSummaries(request?: ListChainsRequest): ChainPage;
  /** Drains the chain's instances (bounded by their drain timeout), stops them and forgets the chain. */
  deleteChain(name: string): Promise<void>;
  /** Instances of one chain, or of every chain when `chain` is omitted. */
  listInstances(chain?: string): InstanceStatus[];
  /** Sets the function's replicas (manual override, must lie within min..max). */
  scaleFunction(chain: string, fn: string, replicas: number): Promise<FunctionStatus>;
  /**
   * Calls `listener` for every event with `seq > afterSeq` already recorded (history, in
   * order), then for each new one as it happens.
   */
  subscribe(listener: (event: ControllerEvent) => void, afterSeq: number): Unsubscribe;
  /** Per-instance rates over the last sampling interval. */
  stats(chain?: string): InstanceRates[];
  /**
   * Frames in and out of `chain`'s ends and its drops by reason, now. `NotFoundError` for a
   * chain that is not running. In process only (`nfvkit up`); over gRPC the same figures are
   * `/metrics` series.
   */
  chainTraffic(chain: string): ChainTraffic;
  /**
   * The backends of function `fn` of `chain` (omitted: the chain's only function with
   * backends), with their state, health and connections. `NotFoundError` for an unknown
   * chain or function, `FailedPreconditionError` when it has no backends.
   */
  listBackends(chain: string, fn?: string): BackendStatus[];
  /**
   * Sets one backend's state (`draining`: no new flows, established ones stay; `removed`:
   * established ones dropped too; `active`) for every instance of the function, those
   * booted later included. `NotFoundError` for an unknown service or backend.
   */
  setBackendState(chain: string, fn: string | undefined, service: string, backend: string, state: BackendStateName): Promise<BackendStatus>;
  /**
   * Starts copying the frames that cross one link of `chain` into a bounded queue (frames
   * the reader is too slow for are counted, never waited for); the caller reads
   * `session.queue` and closes the session. Closed by the controller when the chain goes.
   */
  openCapture(chain: string, request: CaptureRequest): CaptureSession;
  /**
   * Traces the next `count` packets that enter `chain` and pass the filter through every
   * function's elements; the caller polls the session for complete packets and closes it.
   * One trace per chain at a time; ended by the controller when the chain goes.
   */
  openTrace(chain: string, request: TraceRequest): TraceSession;
}
