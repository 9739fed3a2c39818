/**
 * The data plane of one service chain: stages (one per function) of one or more instances,
 * the two chain ends (ports), and the link tables that keep every flow on the instances
 * holding its state while instances are added, drained, stopped or fail.
 *
 * ```
 *  inside ─ link 0 ─► stage 0 { fw-0, fw-1 } ─ link 1 ─► stage 1 { lb-0 } ─ link 2 ─► … ─ link S ─ outside
 * ```
 *
 * Frames move between instances as descriptors only (virtio-net device ends over one shared
 * pool; the buffer's ownership moves, its bytes never do). Each frame crossing a link is
 * classified once (its 5-tuple as seen on that link, canonical order) and looked up in the
 * link's table:
 * - crossing **rightward** from instance `i` of stage k−1 (or the inside port): the entry
 *   learns `left = i`; the frame goes to the entry's `right` instance of stage k, or, for a
 *   new flow, to the instance Maglev picks among stage k's active ones (then pinned);
 * - crossing **leftward** mirrors it. A reply therefore reaches the instance that emitted
 *   the request on that link, even when the function rewrote the addresses.
 *
 * With `links: 'direct'` the links between stages are the instances' own (`DirectLinkHost`,
 * `src/dataplane/links/`): each sender steers over a queue pair per peer, and this thread
 * steers and carries only the frames of link 0 and link S (the ports'); what it keeps for
 * the links between stages is their lifecycle.
 *
 * Pins expire when idle (per protocol) or shortly after a TCP connection closes (FIN both
 * ways, RST). A draining instance gets no new flows and is stopped once no pin refers to it
 * (or its drain timeout passes). A failed instance's pins are re-chosen on their next frame.
 *
 * **Instances are not trusted.** Everything an instance can write (its rings, the pool's
 * header, free stack, lock, metadata and ownership words) is checked where the host reads
 * it (`VirtioNetDeviceEnd`, `PacketPool`); nothing it writes makes the pump throw. What
 * can be pinned on one instance fails it through `InstanceHost.fault` and the
 * `instance-failed` event says why: `protocol-violation` (a broken ring, a descriptor
 * naming no buffer handed over, a transmitted buffer re-owned before the host took it),
 * `lock-held` (it kept the pool lock past the pool's timeout: the host took the lock back,
 * see `PacketPool.checkLock`). What cannot be pinned on one (a scribbled header, free stack
 * or ownership word) is repaired: when the pool's error counters move, and after every
 * failure, buffers whose state word names no live owner are freed and the free stack and
 * header rebuilt (`faults.scrubbed`). As a last resort each instance's and each port's
 * share of a pump pass runs in one try/catch (not per packet): an exception fails that
 * instance (`faults.caught`). All instances of a chain share its pool, so one can still
 * spoil the others' packets there; other chains, on other pools, are out of its reach.
 *
 * @example
 * ```ts
 * const dp = ChainDataPlane.create(['fw', 'lb', 'nat']);
 * await dp.addInstance(0, fwImage);
 * await dp.addInstance(1, lbImage);
 * await dp.addInstance(2, natImage);
 * await dp.runUntil(gen, sink, () => gen.done && sink.frames + dp.dropped() >= gen.sent, 10_000);
 * const { leaks } = await dp.shutdown();
 * ```
 */
import { FailedPreconditionError, InstanceFailedError, InvalidArgumentError, LinkNotCapturableError, NotFoundError } from '../errors/catalog.ts';
import type { ImageManifest } from '../image/image-manifest.ts';
import { FrameLayout } from '../packet/frame-layout.ts';
import { parseFrame } from '../packet/parse-frame.ts';
import { tcpResetPermitted, writeTcpReset } from '../packet/reply/tcp-reset.ts';
import { BuiltinCounter, type StateTakeover } from '../pipeline/compiled-pipeline.ts';
import { PacketPool, type HeldBuffer } from '../pool/packet-pool.ts';
import { HEAP_MEMORY, MemfdMemory, type SharedMemory } from '../memory/shared-memory.ts';
import { computePoolLayout, DEFAULT_HEADROOM, DEFAULT_STRIDE } from '../pool/pool-layout.ts';
import { InstanceHost, processSpawner, type InstanceEvent, type InstanceSpawner } from '../runtime/instance-host.ts';
import { ProcessIsolate, type ProcessSandbox } from '../runtime/process-isolate.ts';
import { SANDBOX_UID } from '../runtime/sandbox-reasons.ts';
import { Doorbell } from '../virtio/doorbell.ts';
import { WarmPool } from '../runtime/warm-pool.ts';
import { WarmProcessPool } from '../runtime/warm-process-pool.ts';
import { portRuntimePath, processBootstrapPath } from '../runtime/runtime-bundle.ts';
import { LinkArea } from './links/link-area.ts';
import { DirectLinkHost, directDrops, directDropsByReason, directTraffic, type LaneReservation } from './links/direct-link-host.ts';
import type { VirtioNetDeviceEnd } from '../virtio/virtio-net-device-end.ts';
import { NULL_PORT, type ChainPort } from './chain-port.ts';
import { PumpLoop } from './pump-loop.ts';
import type { LinkFifo } from './link-fifo.ts';
import { UNSET_SIDE, type LinkFlowTable } from './link-flow-table.ts';
import { LinkSteering, stageSides, type SteeringCounters } from './link-steering.ts';
import { HostDrop } from './host-drop-reason.ts';
import type { LinkTap } from '../capture/link-tap.ts';
import type { TraceMarker } from '../trace/trace-marker.ts';
import { TRACE_SESSION_MAX, TraceWord } from '../trace/trace-layout.ts';
import { LOCAL_PORT_COUNTERS, type LocalPortsSpec } from './ports/local-ports.ts';
import type { InstanceFailureReason } from '../runtime/instance-host.ts';
import { AWAITING_HEIR, STATE_LOST, Stage, StageInstance } from './stage.ts';

/** Pool owner id of the data plane's own handle (ports); instances get 2, 3, … */
export const DATA_PLANE_OWNER = 1;

const BATCH = 256;
/** Link-table clock: one tick per 250 ms. */
const TICK_MS = 250;

/** Idle timeouts of flow pins, seconds. */
export interface PinTimeouts {
  /** A TCP flow with no FIN both ways / RST (default 3600). */
  readonly tcp: number;
  /** A TCP flow after FIN both ways or RST (default 4: late ACKs and retransmits still find their instance). */
  readonly tcpClosed: number;
  /** UDP (default 120). */
  readonly udp: number;
  /** Other protocols, ICMP (default 30). */
  readonly other: number;
}

/** Options of `ChainDataPlane.create`. */
export interface ChainDataPlaneOptions {
  /** Pool buffers (default 32768). */
  readonly bufferCount?: number;
  /**
   * A pool made beforehand with `createDataPlanePool`, e.g. so ports can open sockets over
   * its memory first; `bufferCount` is then ignored and its memory decides the instance mode.
   */
  readonly pool?: PacketPool;
  /** Entries per virtqueue (default 256). */
  readonly queueSize?: number;
  /** Frames waiting per instance receiveq (default 2 × queueSize). */
  readonly fifoSize?: number;
  /** Pinned flows per link (default 65536). */
  readonly flowCapacity?: number;
  readonly pinTimeouts?: Partial<PinTimeouts>;
  /** Seed of the flow hash used to pick instances (default 0). */
  readonly hashSeed?: number;
  /** Called for every instance lifecycle change. */
  readonly onEvent?: (event: DataPlaneEvent) => void;
  /**
   * Where instances run (default `process` where the native addon is loaded, else
   * `worker`): `process` boots each instance as its own sandboxed OS process over a
   * memfd holding the pool and the rings; `worker` as a worker thread of this process.
   */
  readonly instanceMode?: InstanceMode;
  /** Sandbox instance processes (default true); false only for tests and profiling. */
  readonly sandbox?: boolean;
  /** How long a failed instance's connection state waits for a successor, ms (default `ORPHAN_WAIT_MS`). */
  readonly orphanWaitMs?: number;
  /**
   * How frames cross between the instances of adjacent stages (default `defaultLinkMode()`: `host`): `host`, every
   * frame through this thread (`cross`, `LinkSteering` on every link); `direct`, over queue
   * pairs between the instances themselves in a link area of shared memory (`LinkArea`,
   * `DirectLinks`): each sender steers, and this thread carries frames only from and to the
   * ports. A chain of one stage has no link between stages either way.
   */
  readonly links?: LinkMode;
  /** `links: 'direct'`: instances one stage can have alive at once, draining ones included (default 16, at most 64). */
  readonly linkLanes?: number;
  /**
   * `links: 'direct'`: entries per ring of a queue pair between instances (a power of two;
   * default `queueSize`). Deeper rings let a sender go on while its peer waits for a core
   * (with rings of one batch every hop is a sleep and a wake-up per batch), but hold more
   * frames: under load they stay full, and every frame in a killed instance's inbound rings
   * is lost with it (the kill drill kept fewer flows with 4 × 256 than with 256).
   */
  readonly linkQueueSize?: number;
}

/** How frames cross between adjacent stages (`ChainDataPlaneOptions.links`). */
export type LinkMode = 'host' | 'direct';

/** The link mode a data plane gets when none is asked for: `direct` with `NFVKIT_LINKS=direct` (to run a suite over direct links), else `host`. */
export function defaultLinkMode(): LinkMode {
  return process.env.NFVKIT_LINKS === 'direct' ? 'direct' : 'host';
}

/** Where a data plane's instances run (`ChainDataPlaneOptions.instanceMode`). */
export type InstanceMode = 'process' | 'worker';

/**
 * Shared memory beyond the pool for a process-mode data plane's rings, counters, words and
 * the instances' connection state (a stateful function keeps ~4 MiB per 65536 connections, 8 MiB dual-stack,
 * per instance; a failed instance's state stays until a successor took it over), bytes.
 * Only the pages in use cost memory.
 */
const INSTANCE_MEMORY_BYTES = 1024 << 20;

/** The instance mode a data plane gets when none is asked for. */
export function defaultInstanceMode(): InstanceMode {
  return process.env.NFVKIT_INSTANCE_MODE === 'worker' || !MemfdMemory.available() ? 'worker' : 'process';
}

/** One line for people: where instances run by default here, and why. */
export function describeInstanceMode(): string {
  if (defaultInstanceMode() === 'process') return 'sandboxed processes (seccomp, no secrets, shared memory through a memfd)';
  return process.env.NFVKIT_INSTANCE_MODE === 'worker' ? 'worker threads (NFVKIT_INSTANCE_MODE=worker; no sandbox)' : 'worker threads (no native addon: no sandbox)';
}

/** Lifecycle changes the data plane reports. */
export type DataPlaneEvent =
  | { readonly type: 'instance-booted'; readonly stage: string; readonly instance: string; readonly bootMs: number; readonly warm: boolean }
  | { readonly type: 'instance-ready'; readonly stage: string; readonly instance: string; readonly bootMs: number; readonly warm: boolean; readonly takeover?: InstanceTakeover }
  | { readonly type: 'instance-draining'; readonly stage: string; readonly instance: string; readonly reason: string; readonly flows: number }
  | { readonly type: 'instance-stopped'; readonly stage: string; readonly instance: string; readonly reason: string; readonly flowsLeft: number }
  | { readonly type: 'instance-failed'; readonly stage: string; readonly instance: string; readonly reason: string };

/** What a successor took over from the failed instance whose state it was given. */
export interface InstanceTakeover extends StateTakeover {
  /** The failed instance's id. */
  readonly from: string;
}

/**
 * How long the connection state of a failed instance waits for a successor of the same
 * image (the controller's restart back-off starts at 100 ms), ms. Meanwhile its flows'
 * frames are dropped as `awaitingHeir` (TCP retransmits them); afterwards its pins move
 * to other instances and its state is freed.
 */
export const ORPHAN_WAIT_MS = 5000;

/** An image to boot: what `buildImage` / the image store return. */
export interface StageImage {
  readonly imagePath: string;
  readonly manifest: ImageManifest;
}

/** Options of `addInstance`. */
export interface AddInstanceOptions {
  /**
   * Boot in a pre-started isolate of this pool (cold when omitted or when the image needs
   * more memory): a `WarmPool` of worker threads for a `worker` data plane, a
   * `WarmProcessPool` for a `process` one (a pool of the other kind is not used).
   */
  readonly warm?: WarmPool | WarmProcessPool;
  /** Control words for the pipeline (e.g. load-balancer backend states), allocated from the data plane's `memory`. */
  readonly controlSab?: SharedArrayBuffer;
  /** Heartbeat stall that marks the instance hung, ms (default 1000). */
  readonly hangTimeoutMs?: number;
  /**
   * Split resources the stage's instances must not share (NAT ports) into this many shards
   * and give the instance the lowest one no live or booting instance of the stage holds
   * (`PipelineRuntime.shard`). Use the stage's most instances; omitted: no sharding.
   */
  readonly shards?: number;
  /**
   * Place the chain's ends in the instance: it opens these ports itself and carries every
   * frame from one to the other on its own thread (no frame crosses the host). Its
   * counters are `StageInstance.portCounters` (`LocalPortCounter` slots).
   */
  readonly ports?: LocalPortsSpec;
}

/** Flow and frame counts of the data plane (host side): what its link steering counts. */
export type DataPlaneCounters = SteeringCounters;

/** Frames the host dropped, by reason. */
export interface DataPlaneDrops {
  /** No active instance in the stage the frame had to enter. */
  noInstance: number;
  /** Frames waiting for an instance that stopped or failed. */
  instanceGone: number;
  /** A buffer handed over by a device end that the host could not take (protocol error). */
  ownership: number;
  /** Link table full: the flow went through unpinned. */
  unpinned: number;
  /** Frames of a flow whose instance failed while a successor that takes its state over boots. */
  awaitingHeir: number;
  /** Frames of a flow whose instance is gone with its state: a TCP segment is answered with a reset to its sender. */
  stateLost: number;
}

/**
 * What the host found wrong in what instances wrote, and did about it (see the module
 * documentation). Every figure stays 0 while instances keep the protocol.
 */
export interface DataPlaneFaults {
  /** Instances failed as `protocol-violation` (ring, descriptor or buffer ownership). */
  protocolViolations: number;
  /** Instances failed as `lock-held`. */
  lockHeld: number;
  /** Pool lock holds taken back whose holder word named no instance of this chain (nobody could be failed). */
  lockUnattributed: number;
  /** Buffers freed because their state word named no live owner (scribbled by an instance). */
  scrubbed: number;
  /** Exceptions caught at an instance's or a port's boundary in the pump (the instance was failed). */
  caught: number;
}

/** What `shutdown` found. */
export interface DataPlaneShutdownReport {
  /** Buffers still held after everything was stopped (must be empty). */
  readonly leaks: readonly HeldBuffer[];
  /** Frames each instance stopped by this shutdown took from its receiveqs, by instance id. */
  readonly received: Readonly<Record<string, number>>;
}

/** Drain bookkeeping of one instance. */
interface Drain {
  readonly deadline: number;
  readonly resolve: () => void;
  /** Flows the host cannot see (ends in the replicas): the drain goes on while this says true. */
  readonly holds: (() => boolean) | undefined;
}

/** The memory each pool from `createDataPlanePool` lives in. */
const poolMemory = new WeakMap<PacketPool, SharedMemory>();

/**
 * A pool for a chain's data plane, held by the host as `DATA_PLANE_OWNER` (default 32768
 * buffers), in memory its instances can map: a memfd for `process` instances (the
 * default where the addon is loaded), the heap for `worker` ones. Pass it to
 * `ChainDataPlane.create` as `pool`, which then runs instances of that mode.
 */
export function createDataPlanePool(bufferCount = 32768, mode: InstanceMode = defaultInstanceMode()): PacketPool {
  const memory = mode === 'process' ? createDataPlaneMemory(bufferCount) : HEAP_MEMORY;
  const pool = PacketPool.create({ bufferCount, owner: DATA_PLANE_OWNER, memory });
  poolMemory.set(pool, memory);
  return pool;
}

/** Memory for a data plane whose instances are processes: room for a pool of `bufferCount` and its instances' rings. */
function createDataPlaneMemory(bufferCount: number): MemfdMemory {
  return MemfdMemory.create(computePoolLayout({ bufferCount, stride: DEFAULT_STRIDE, headroom: DEFAULT_HEADROOM }).totalBytes + INSTANCE_MEMORY_BYTES);
}

/** The data plane of one chain; see the module documentation. */
export class ChainDataPlane {
  /** The data plane's pool handle (owner `DATA_PLANE_OWNER`): ports fill and take with it. */
  readonly pool: PacketPool;
  readonly stages: Stage[];
  /** `links[k]` sits before stage k; `links[stages.length]` before the outside port. */
  readonly links: LinkFlowTable[];
  readonly counters: DataPlaneCounters = { newFlows: 0, repinned: 0, inherited: 0, learnConflicts: 0, unkeyed: 0, expired: 0 };
  readonly drops: DataPlaneDrops = { noInstance: 0, instanceGone: 0, ownership: 0, unpinned: 0, awaitingHeir: 0, stateLost: 0 };
  readonly faults: DataPlaneFaults = { protocolViolations: 0, lockHeld: 0, lockUnattributed: 0, scrubbed: 0, caught: 0 };
  /** The last exception a port's share of a pump pass threw (counted in `faults.caught`), for diagnosis. */
  lastPortError: unknown = undefined;
  /** Frames in from and out to each port. */
  readonly traffic = { enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 };
  /** Pump passes, and those that moved nothing (for profiles). */
  passes = 0;
  /**
   * `taps[k]`: the taps on link k (`attachTap`), null when it has none. Checked once per
   * batch crossing the link: a link without taps does no work for capture.
   */
  private readonly taps: (LinkTap[] | null)[];
  /** The trace session on now (`startTrace`), null when none: checked once per batch at the chain's ends. */
  private tracing: TraceMarker | null = null;
  /** Trace sessions started so far (the next one's id, wrapping within 16 bits). */
  private traceSessions = 0;
  idlePasses = 0;
  private readonly queueSize: number;
  private readonly fifoSize: number;
  /** Which instance each frame crossing a link goes to (the links' flow pins). */
  private readonly steering: LinkSteering;
  private readonly onEvent: ((event: DataPlaneEvent) => void) | undefined;
  private readonly ids = new Uint32Array(BATCH);
  private readonly outIds = new Uint32Array(BATCH);
  private readonly one = new Uint32Array(1);
  /** The chain's ends during a pump pass: inside (0) and outside (1). */
  private readonly ends: [ChainPort, ChainPort] = [NULL_PORT, NULL_PORT];
  private readonly orphanWaitMs: number;
  /** Scratch layout of the rare frames answered with a reset (`resetToSender`). */
  private readonly resetLayout = new FrameLayout();
  private readonly drains = new Map<StageInstance, Drain>();
  private nextOwner = DATA_PLANE_OWNER + 1;
  /** Owner ids of instances being booted (not in a stage yet, but they hold buffers). */
  private readonly booting = new Set<number>();
  /** Sum of the pool's error counters when last looked at (`checkPool`). */
  private poolErrorsSeen = 0;
  /** An instance was failed during this pass: take it out at the end of the pass. */
  private healthDirty = false;
  /** Frames in `outIds` being handed to a port (`take`), 0 otherwise: freed if the port throws. */
  private handing = 0;
  private tick = 0;
  private lastSweepTick = 0;
  private readonly epoch = performance.now();
  /** Where instances run. */
  readonly instanceMode: InstanceMode;
  /** Where the pool, rings and words live (a memfd when instances are processes). */
  readonly memory: SharedMemory;
  /** The host's interrupt line: instances ring it when they transmit while the host sleeps (`waitForWork`). */
  private readonly hostIrq: Int32Array;
  private readonly hostBell: Doorbell;
  private readonly sandbox: boolean;
  private spawner: Promise<InstanceSpawner> | undefined;
  /** The pending `hostWakeOrTimeout`'s resolver (process mode). */
  private hostWaiter: (() => void) | undefined;
  private closed = false;
  /** How frames cross between stages. */
  readonly linkMode: LinkMode;
  /** The link area of `direct` links (null for `host` ones or a chain of one stage). */
  readonly linkArea: LinkArea | null;
  /** The lifecycle of `direct` links (null for `host` ones or a chain of one stage). */
  private readonly direct: DirectLinkHost | null;

  private constructor(pool: PacketPool, memory: SharedMemory, stageNames: readonly string[], options: ChainDataPlaneOptions) {
    this.pool = pool;
    this.memory = memory;
    this.instanceMode = memory.kind === 'memfd' ? 'process' : 'worker';
    this.sandbox = options.sandbox ?? true;
    this.hostIrq = new Int32Array(memory.allocate(4));
    this.hostBell = new Doorbell(this.hostIrq, 0);
    this.queueSize = options.queueSize ?? 256;
    this.fifoSize = options.fifoSize ?? 2 * this.queueSize;
    this.orphanWaitMs = options.orphanWaitMs ?? ORPHAN_WAIT_MS;
    this.onEvent = options.onEvent;
    const t = { tcp: 3600, tcpClosed: 4, udp: 120, other: 30, ...options.pinTimeouts };
    const ticks = (s: number) => Math.max(1, Math.ceil((s * 1000) / TICK_MS));
    const timeouts = { tcp: ticks(t.tcp), tcpClosed: ticks(t.tcpClosed), udp: ticks(t.udp), other: ticks(t.other) };
    this.stages = stageNames.map((name, i) => new Stage(name, i));
    const capacity = options.flowCapacity ?? 65536;
    this.steering = new LinkSteering(stageSides(this.stages), capacity, options.hashSeed ?? 0, timeouts, this.counters, this.drops);
    this.links = this.steering.links;
    this.taps = this.links.map(() => null);
    this.linkMode = options.links ?? defaultLinkMode();
    this.linkArea =
      this.linkMode === 'direct' && stageNames.length > 1
        ? LinkArea.create({ stages: stageNames.length, lanes: options.linkLanes ?? 16, queueSize: options.linkQueueSize ?? this.queueSize }, (n) => memory.allocate(n))
        : null;
    this.direct = this.linkArea === null ? null : new DirectLinkHost(this.linkArea, pool, { hashSeed: options.hashSeed ?? 0, flowCapacity: capacity, pinTimeouts: timeouts, tickMs: TICK_MS });
  }

  /**
   * A data plane with one stage per image (named after the image's function, `-<i>` added
   * when a name repeats) and one instance of each, booted cold.
   */
  static async boot(images: readonly StageImage[], options: ChainDataPlaneOptions = {}): Promise<ChainDataPlane> {
    const names = images.map((img) => img.manifest.name);
    const unique = names.map((n, i) => (names.indexOf(n) === names.lastIndexOf(n) ? n : `${n}-${i}`));
    const dp = ChainDataPlane.create(unique, options);
    try {
      for (let k = 0; k < images.length; k++) await dp.addInstance(k, images[k]);
    } catch (err) {
      await dp.shutdown();
      throw err;
    }
    return dp;
  }

  /** Creates an empty data plane with one stage per name (add instances with `addInstance`). */
  static create(stageNames: readonly string[], options: ChainDataPlaneOptions = {}): ChainDataPlane {
    if (stageNames.length === 0) throw new InvalidArgumentError('a chain needs at least one function');
    if (new Set(stageNames).size !== stageNames.length) throw new InvalidArgumentError(`stage names must be unique: ${stageNames.join(', ')}`);
    let pool = options.pool;
    if (pool === undefined) pool = createDataPlanePool(options.bufferCount, options.instanceMode);
    const memory = poolMemory.get(pool) ?? HEAP_MEMORY;
    if (options.instanceMode === 'process' && memory.kind !== 'memfd') throw new InvalidArgumentError("process instances need a pool from createDataPlanePool(n, 'process')");
    return new ChainDataPlane(pool, memory, stageNames, options);
  }

  /**
   * Hands `tap` every batch that crosses link `k` (either way), before the frames move on;
   * `detachTap` ends it. Link k sits before stage k; `links.length - 1` is the outside end.
   * With direct links only the chain's ends cross the host: a link between stages is
   * refused (`LinkNotCapturableError`, `NFVKIT_ERR_LINK_NOT_CAPTURABLE`).
   */
  attachTap(k: number, tap: LinkTap): void {
    if (!Number.isInteger(k) || k < 0 || k >= this.links.length) throw new InvalidArgumentError(`no link ${k}: the chain has links 0..${this.links.length - 1}`);
    if (this.linkArea !== null && k > 0 && k < this.stages.length) {
      throw new LinkNotCapturableError(`link ${k} runs directly between the instances of ${this.stages[k - 1].name} and ${this.stages[k].name} (links: direct): its frames never cross the host; capture link 0 or ${this.stages.length}`);
    }
    this.taps[k] = [...(this.taps[k] ?? []), tap];
  }

  /** Removes `tap` from link `k` (nothing when it is not there). */
  detachTap(k: number, tap: LinkTap): void {
    const left = (this.taps[k] ?? []).filter((t) => t !== tap);
    this.taps[k] = left.length === 0 ? null : left;
  }

  /**
   * Starts a trace session: from now on every frame entering the chain is marked by
   * `create(session)` (the first ones its filter passes are traced), and every instance
   * runs its pipeline's tracing variant until `stopTrace`. One session at a time.
   */
  startTrace(create: (session: number) => TraceMarker): TraceMarker {
    if (this.tracing !== null) throw new FailedPreconditionError('a trace is already running on this chain');
    this.traceSessions = (this.traceSessions % TRACE_SESSION_MAX) + 1;
    const marker = create(this.traceSessions);
    this.tracing = marker;
    for (const inst of this.instances()) this.armTrace(inst);
    return marker;
  }

  /** Ends the trace session `marker` (instances go back to their normal batch loop). */
  stopTrace(marker: TraceMarker): void {
    if (this.tracing !== marker) return;
    this.tracing = null;
    for (const stage of this.stages) for (const inst of stage.bySlot) Atomics.store(inst.host.traceArea, TraceWord.SESSION, 0);
  }

  /** Points an instance's trace area at the session on now, its slots empty. */
  private armTrace(inst: StageInstance): void {
    const area = inst.host.traceArea;
    const written = Atomics.load(area, TraceWord.WRITTEN);
    Atomics.store(area, TraceWord.CONSUMED, written);
    Atomics.store(area, TraceWord.SESSION, this.tracing === null ? 0 : this.tracing.session);
  }

  /** The stage called `name`. */
  stage(name: string): Stage {
    const found = this.stages.find((s) => s.name === name);
    if (found === undefined) throw new NotFoundError(`no function "${name}" in this chain`);
    return found;
  }

  /** Every instance that is not gone, stage by stage. */
  instances(): StageInstance[] {
    return this.stages.flatMap((s) => s.live);
  }

  /** The live instance with this id. */
  instance(id: string): StageInstance {
    for (const s of this.stages) for (const i of s.live) if (i.id === id) return i;
    throw new NotFoundError(`no running instance "${id}"`);
  }

  /**
   * The instance of stage `stageIndex` a flow is pinned to, given by its 5-tuple as it
   * enters that stage from the inside (either direction); undefined when not pinned. Over
   * direct links, for a stage after the first, the instances are asked (their tables hold
   * those pins; `DirectLinkHost.pinnedInstance`): the call blocks until they answered,
   * 250 ms at most.
   */
  pinnedInstance(stageIndex: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): StageInstance | undefined {
    // Over direct links the pins of a link between stages are the instances' own: ask them.
    if (this.direct !== null && stageIndex > 0 && stageIndex < this.stages.length) return this.direct.pinnedInstance(this.stages[stageIndex], srcIp, dstIp, srcPort, dstPort, proto);
    const slot = this.steering.pinnedSlot(stageIndex, srcIp, dstIp, srcPort, dstPort, proto);
    return slot === UNSET_SIDE ? undefined : this.stages[stageIndex].bySlot[slot];
  }


  /**
   * Boots an instance of `image` in stage `stageIndex`; it takes new flows once ready.
   * Throws `InstanceFailedError` if it fails to boot (already contained).
   */
  async addInstance(stageIndex: number, image: StageImage, options: AddInstanceOptions = {}): Promise<StageInstance> {
    if (this.closed) throw new FailedPreconditionError('the data plane is shut down');
    const stage = this.stages[stageIndex];
    if (stage === undefined) throw new InvalidArgumentError(`no stage ${stageIndex}`);
    const owner = this.nextOwner;
    this.nextOwner += 2;
    this.booting.add(owner);
    const id = stage.nextId();
    // A failed instance of the same image left its connections: this one takes them over,
    // with its shard (NAT ports), once the failed one can no longer write them.
    const stateBytes = image.manifest.stateBytes ?? 0;
    const predecessor = stateBytes > 0 ? stage.takeOrphan(image.manifest.id) : undefined;
    let shard = predecessor?.shard;
    if (shard === undefined && options.shards !== undefined && options.shards > 1) {
      shard = stage.reserveShard(options.shards);
      if (shard === undefined) throw new FailedPreconditionError(`stage ${stage.name} already runs ${options.shards} instances, one per shard`);
    }
    if (predecessor !== undefined) await predecessor.host.settled();
    let stateSab: SharedArrayBuffer | undefined;
    let lane: LaneReservation | undefined;
    let portCounters: Float64Array | undefined;
    /** Undoes the reservations above when the boot fails. */
    const undo = () => {
      if (lane !== undefined) this.direct!.cancel(lane);
      if (stateSab !== undefined) this.memory.release(stateSab);
      if (portCounters !== undefined) this.releasePortCounters(portCounters);
      if (predecessor !== undefined) stage.returnOrphan(predecessor, performance.now() + this.orphanWaitMs);
      else if (shard !== undefined) stage.releaseShard(shard);
    };
    try {
      if (stateBytes > 0) stateSab = this.memory.allocate(stateBytes);
      // Direct links: a lane of the link area, its queue pairs laid out; published once ready.
      if (this.direct !== null) lane = await this.direct.reserve(stageIndex, this.stages.length);
    } catch (err) {
      undo();
      this.emit({ type: 'instance-failed', stage: stage.name, instance: id, reason: `boot: ${(err as Error).message}` });
      throw new InstanceFailedError(`instance ${id} failed to boot: ${(err as Error).message}`);
    }
    // Its ports' counters: released once it is gone and its last figures were read (`releasePortCounters`).
    if (options.ports !== undefined) portCounters = new Float64Array(this.memory.allocate(LOCAL_PORT_COUNTERS * 8));
    const ports = options.ports === undefined ? undefined : { bundle: await portRuntimePath(), spec: options.ports, countersSab: portCounters!.buffer as SharedArrayBuffer };
    const base = {
      ...(ports === undefined ? {} : { ports }),
      imagePath: image.imagePath,
      manifest: image.manifest,
      pool: this.pool,
      owner,
      deviceOwner: owner + 1,
      queueSize: this.queueSize,
      ...(options.controlSab === undefined ? {} : { controlSab: options.controlSab }),
      ...(options.hangTimeoutMs === undefined ? {} : { hangTimeoutMs: options.hangTimeoutMs }),
      ...(shard === undefined ? {} : { shard: { index: shard, count: options.shards! } }),
      ...(stateSab === undefined ? {} : { stateSab }),
      ...(predecessor?.stateSab === undefined ? {} : { previousStateSab: predecessor.stateSab }),
      hostIrqSab: this.hostIrq.buffer as SharedArrayBuffer,
      ...(lane === undefined ? {} : { irq: lane.irq, links: lane.links }),
      // A failure is taken out at once (not at the next tick): its successor can start sooner.
      onEvent: this.onInstanceEvent,
    };
    const workerWarm = options.warm instanceof WarmPool && this.instanceMode === 'worker' && options.warm.memoryMiB >= image.manifest.memoryMiB ? options.warm : undefined;
    const processWarm = options.warm instanceof WarmProcessPool && this.instanceMode === 'process' ? options.warm : undefined;
    let host: InstanceHost;
    try {
      if (workerWarm !== undefined) host = await workerWarm.acquire(base);
      else if (processWarm !== undefined) host = await processWarm.acquire({ ...base, memory: this.memory as MemfdMemory, sandbox: this.processSandbox() });
      else host = await InstanceHost.boot({ ...base, memory: this.memory, ...(await this.processSpawn()) });
    } catch (err) {
      undo();
      throw err;
    }
    if (host.state !== 'running') {
      undo();
      const f = host.failure;
      this.emit({ type: 'instance-failed', stage: stage.name, instance: id, reason: `boot: ${f?.reason ?? host.state}: ${f?.detail ?? ''}` });
      throw new InstanceFailedError(`instance ${id} failed to boot: ${f?.reason ?? host.state} ${f?.detail ?? ''}`);
    }
    if (this.closed) {
      undo();
      await host.stop();
      throw new FailedPreconditionError('the data plane was shut down while the instance booted');
    }
    if (host.worker instanceof ProcessIsolate) host.worker.wakes.on('data', this.onHostWake);
    const instance = new StageInstance(stage.nextSlot, id, host, image.manifest, image.imagePath, this.fifoSize, shard, portCounters, stateSab);
    const isWarm = host.events.some((e: InstanceEvent) => e.type === 'booted' && e.ms === 0);
    this.emit({ type: 'instance-booted', stage: stage.name, instance: id, bootMs: host.bootMs, warm: isWarm });
    this.booting.delete(owner);
    if (this.tracing !== null) this.armTrace(instance);
    stage.add(instance);
    if (lane !== undefined) this.direct!.activate(instance, lane, owner);
    let takeover: InstanceTakeover | undefined;
    if (predecessor !== undefined) {
      // Its pins follow the successor from now on; its state was copied during the boot.
      predecessor.heir = instance.slot;
      this.direct?.publish(stage);
      this.memory.release(predecessor.stateSab!);
      const ready = host.events.find((e: InstanceEvent) => e.type === 'ready');
      const took = (ready?.type === 'ready' ? ready.startup?.takeover : undefined) ?? { adopted: 0, rejected: 0 };
      takeover = { from: predecessor.id, adopted: took.adopted, rejected: took.rejected };
    }
    this.emit({ type: 'instance-ready', stage: stage.name, instance: id, bootMs: host.bootMs, warm: isWarm, ...(takeover === undefined ? {} : { takeover }) });
    return instance;
  }

  /** The spawner of instance processes (with the bundled bootstrap), or nothing for worker threads. */
  private async processSpawn(): Promise<{ spawn?: InstanceSpawner }> {
    if (this.instanceMode !== 'process') return {};
    const memory = this.memory as MemfdMemory;
    const sandbox = this.processSandbox();
    this.spawner ??= processBootstrapPath().then((bootstrap) => processSpawner(memory, bootstrap, sandbox));
    return { spawn: await this.spawner };
  }

  /** How instance processes sandbox themselves: down to `nobody` when the controller is root. */
  private processSandbox(): ProcessSandbox {
    return this.sandbox ? { uid: process.getuid?.() === 0 ? SANDBOX_UID : -1, gid: SANDBOX_UID } : null;
  }

  /**
   * Stops sending new flows to the instance; resolves once no flow is pinned to it any more
   * (or `timeoutMs` passed), then stops it. Refuses to drain a stage's last active instance.
   * `holds`: the instance still holds flows no host pin shows (its ends run in it, e.g. a
   * VXLAN replica still handed frames of its flows): the drain also waits while it says true.
   */
  async drainInstance(id: string, reason: string, timeoutMs = 30_000, holds?: () => boolean): Promise<void> {
    const instance = this.instance(id);
    const stage = this.stages.find((s) => s.bySlot[instance.slot] === instance)!;
    if (instance.state === 'active') {
      if (stage.activeCount() <= 1) throw new FailedPreconditionError(`${id} is the last active instance of ${stage.name}`);
      stage.setState(instance, 'draining', reason);
      this.direct?.publish(stage);
      this.emit({ type: 'instance-draining', stage: stage.name, instance: id, reason, flows: instance.flows });
    }
    let drain = this.drains.get(instance);
    if (drain === undefined) {
      const done = new Promise<void>((resolve) => {
        drain = { deadline: performance.now() + timeoutMs, resolve, holds };
      });
      this.drains.set(instance, drain!);
      this.checkDrains();
      await done;
    }
    await this.stopInstance(stage, instance, reason);
  }

  /**
   * Takes the whole chain out of service, first step: every instance stops taking new
   * flows (their frames are dropped as `noInstance`) and existing flows get up to
   * `timeoutMs` to finish (the data plane must keep being pumped meanwhile). Returns the
   * flows still pinned; `shutdown` follows.
   */
  async drainAll(reason: string, timeoutMs: number): Promise<number> {
    for (const stage of this.stages) {
      for (const inst of stage.live) {
        if (inst.state !== 'active') continue;
        stage.setState(inst, 'draining', reason);
        this.emit({ type: 'instance-draining', stage: stage.name, instance: inst.id, reason, flows: inst.flows });
      }
      this.direct?.publish(stage);
    }
    const deadline = performance.now() + timeoutMs;
    const pinned = () => (this.direct?.syncPins(this.stages), this.instances().reduce((n, i) => n + Math.max(0, i.pins), 0));
    while (pinned() > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    return this.instances().reduce((n, i) => n + Math.max(0, i.flows), 0);
  }

  /** Frames dropped by the host and by every instance's pipeline. */
  dropped(): number {
    let n = this.drops.noInstance + this.drops.instanceGone + this.drops.ownership;
    for (const s of this.stages) {
      for (const i of s.live) {
        n += i.host.counters[BuiltinCounter.DROPPED_PACKETS] + directDrops(i);
        const e0 = i.host.eth0;
        const e1 = i.host.eth1;
        n += e0.rxCounters.dropsNoHeadroom + e0.rxCounters.dropsRingFull + e0.rxCounters.dropsBadDescriptor + e0.txCounters.dropsBadDescriptor;
        n += e1.rxCounters.dropsNoHeadroom + e1.rxCounters.dropsRingFull + e1.rxCounters.dropsBadDescriptor + e1.txCounters.dropsBadDescriptor;
      }
    }
    return n + this.goneDrops;
  }

  /** Every non-zero drop counter of the live instances' pipelines (`instance:reason`) and of the host (`host:reason`). */
  dropsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const inst of this.instances()) {
      inst.manifest.counters.forEach((c, slot) => {
        const v = inst.host.counters[slot];
        if (c.drop && v > 0) out[`${inst.id}:${c.name}`] = v;
      });
      directDropsByReason(inst, out);
    }
    for (const [reason, v] of Object.entries(this.drops)) if (v > 0) out[`host:${reason}`] = v;
    return out;
  }

  /** Pipeline drops of instances that are gone (kept so `dropped()` never goes down). */
  private goneDrops = 0;

  /**
   * One pass: take frames from both ports, move every instance's transmitted frames across
   * their link, deliver waiting frames into receiveqs, expire pins every tick. Returns how
   * many frames moved.
   */
  pump(inside: ChainPort, outside: ChainPort): number {
    this.ends[0] = inside;
    this.ends[1] = outside;
    this.passes++;
    const now = performance.now() - this.epoch;
    const tick = (now / TICK_MS) | 0;
    if (tick !== this.tick) {
      this.tick = tick;
      if (tick - this.lastSweepTick >= 4) this.sweep();
      this.direct?.violations(this.stages, (peer, detail) => this.fault(peer, 'protocol-violation', detail));
      this.checkHealth();
      this.checkPool();
    }
    const holder = this.pool.checkLock();
    if (holder !== 0) this.lockTakenBack(holder);
    const stages = this.stages;
    const last = stages.length - 1;
    let moved = 0;
    let room = stages[0].minFree(0);
    if (room > 0) {
      try {
        moved += this.fillFrom(inside, room, 0, outside);
      } catch (err) {
        this.portFault(err);
      }
    }
    room = stages[last].minFree(1);
    if (room > 0) {
      try {
        moved += this.fillFrom(outside, room, 1, inside);
      } catch (err) {
        this.portFault(err);
      }
    }
    for (let k = 0; k <= last; k++) {
      const live = stages[k].live;
      for (let j = 0; j < live.length; j++) {
        const inst = live[j];
        if (inst.host.state !== 'running') continue;
        try {
          moved += this.pollInstance(k, inst, inside, outside);
        } catch (err) {
          this.caught(inst, err);
        }
      }
    }
    for (let k = 0; k <= last; k++) {
      const live = stages[k].live;
      for (let j = 0; j < live.length; j++) {
        const inst = live[j];
        if (inst.host.state !== 'running') continue;
        const h = inst.host;
        try {
          flush(inst.toEth0, h.eth0);
          flush(inst.toEth1, h.eth1);
        } catch (err) {
          this.caught(inst, err);
        }
        if (h.eth0.violations + h.eth1.violations !== 0) this.violated(inst);
      }
    }
    if (this.healthDirty) {
      this.healthDirty = false;
      this.checkHealth();
    }
    if (moved === 0) this.idlePasses++;
    return moved;
  }

  /** Takes up to `room` frames from `port` and sends them across the chain's end on `side` (0 inside, 1 outside). */
  private fillFrom(port: ChainPort, room: number, side: 0 | 1, other: ChainPort): number {
    const ids = this.ids;
    const n = port.fill(this.pool, ids, room < BATCH ? room : BATCH);
    if (n === 0) return 0;
    if (this.tracing !== null) this.tracing.mark(this.pool, ids, n, side);
    if (side === 0) {
      this.traffic.enteredInside += n;
      this.cross(0, 0, UNSET_SIDE, this.pool, ids, n, other);
    } else {
      this.traffic.enteredOutside += n;
      this.cross(this.stages.length, 1, UNSET_SIDE, this.pool, ids, n, other);
    }
    return n;
  }

  /**
   * Takes what instance `inst` of stage `k` transmitted on both sides and sends it across
   * the links; fails it if its rings broke the protocol or a buffer it transmitted was
   * re-owned before the host took it. Returns how many frames moved.
   */
  private pollInstance(k: number, inst: StageInstance, inside: ChainPort, outside: ChainPort): number {
    const stages = this.stages;
    const last = stages.length - 1;
    const ids = this.ids;
    const h = inst.host;
    const ownershipBefore = this.drops.ownership;
    let moved = 0;
    let room = k < last ? stages[k + 1].minFree(0) : BATCH;
    if (room > 0) {
      const n = h.eth1.pollTx(ids, room < BATCH ? room : BATCH);
      if (n > 0) {
        moved += n;
        this.cross(k + 1, 0, inst.slot, inst.pool, ids, n, outside);
      }
    }
    room = k > 0 ? stages[k - 1].minFree(1) : BATCH;
    if (room > 0) {
      const n = h.eth0.pollTx(ids, room < BATCH ? room : BATCH);
      if (n > 0) {
        moved += n;
        this.cross(k, 1, inst.slot, inst.pool, ids, n, inside);
      }
    }
    if (h.eth0.violations + h.eth1.violations !== 0) this.violated(inst);
    else if (this.drops.ownership !== ownershipBefore) this.fault(inst, 'protocol-violation', 'a buffer it transmitted changed owner before the host took it');
    return moved;
  }

  /** Fails `inst` for the first violation its device ends recorded. */
  private violated(inst: StageInstance): void {
    const e0 = inst.host.eth0;
    const e1 = inst.host.eth1;
    this.fault(inst, 'protocol-violation', e0.violations !== 0 ? `eth0 ${e0.violation}` : `eth1 ${e1.violation}`);
  }

  /** Fails `inst` (once) for what the host found in memory it writes; it is taken out at the end of the pass. */
  private fault(inst: StageInstance, reason: Extract<InstanceFailureReason, 'protocol-violation' | 'lock-held'>, detail: string): void {
    const h = inst.host;
    if (h.state === 'failed' || h.state === 'stopped') return;
    if (reason === 'lock-held') this.faults.lockHeld++;
    else this.faults.protocolViolations++;
    this.healthDirty = true;
    void h.fault(reason, detail);
  }

  /** An exception escaped the host's work for `inst`: counted, and the instance is failed. */
  private caught(inst: StageInstance, err: unknown): void {
    this.faults.caught++;
    this.reclaimHanding();
    const e = err as Error;
    this.fault(inst, 'protocol-violation', `the host failed serving it: ${e?.name ?? 'Error'}: ${e?.message ?? String(err)}`);
  }

  /** An exception escaped a port's share of the pass (its frames are lost; the pass goes on). */
  private portFault(err: unknown): void {
    this.faults.caught++;
    this.reclaimHanding();
    this.lastPortError = err;
  }

  /**
   * A port threw while taking frames (a buffer's ownership word changed under the host,
   * which only an instance can do): it is taken to have kept none of them, so those still
   * the data plane's are freed (the scrub frees the others).
   */
  private reclaimHanding(): void {
    if (this.handing === 0) return;
    this.pool.freeOwned(this.outIds, this.handing);
    this.handing = 0;
  }

  /** The pool lock was taken back from `holder` (`PacketPool.checkLock`): fail the instance it names, if any. */
  private lockTakenBack(holder: number): void {
    for (const stage of this.stages) {
      for (const inst of stage.live) {
        if (inst.host.owner === holder) {
          this.fault(inst, 'lock-held', 'kept the pool lock past its timeout; the host took it back');
          return;
        }
      }
    }
    this.faults.lockUnattributed++;
  }

  /**
   * Once a tick: when the pool's error counters moved (stack entries rejected, ownership
   * errors, locks taken back), something scribbled on it: free what names no live owner.
   */
  private checkPool(): void {
    const s = this.pool.stats();
    const errors = s.freeStackRejects + s.ownershipErrors + s.lockSteals;
    if (errors === this.poolErrorsSeen) return;
    this.poolErrorsSeen = errors;
    // First blame whoever re-owned buffers it had posted: the scrub would free them as nobody's.
    for (const stage of this.stages) {
      for (const inst of stage.live) {
        const h = inst.host;
        if (h.state === 'running' && !(h.eth0.auditPostedRx() && h.eth1.auditPostedRx())) this.violated(inst);
      }
    }
    this.scrub();
  }

  /** Frees buffers whose state word names no live owner, and rebuilds the free stack and header. */
  private scrub(): void {
    if (this.closed) return;
    this.faults.scrubbed += this.pool.reclaimAllBut(this.liveOwners());
  }

  /**
   * Every owner id that may hold a buffer: the data plane's, and both ids of each instance
   * booting, running, stopping, or failed and not yet contained (its containment frees them).
   */
  private liveOwners(): number[] {
    const live = [DATA_PLANE_OWNER];
    for (const owner of this.booting) live.push(owner, owner + 1);
    for (const stage of this.stages) {
      for (const inst of stage.bySlot) {
        const h = inst.host;
        const contained = h.state === 'failed' && h.events[h.events.length - 1]?.type === 'failed';
        if (h.state !== 'stopped' && !contained) live.push(h.owner, h.deviceOwner);
      }
    }
    return live;
  }

  /**
   * Sleeps, without blocking the event loop, until an instance transmits, posts receive
   * buffers that frames waiting toward it need, `wakeAll()` is called (a port got frames)
   * or `timeoutMs` passes: arms every instance's transmitqs and the receiveqs its FIFOs
   * wait on, re-checks them, then `Atomics.waitAsync`s on the host's interrupt line.
   * Resolves at once when frames already wait or can be delivered.
   */
  async waitForWork(timeoutMs: number): Promise<void> {
    const seen = this.hostBell.sequence();
    const armed: StageInstance[] = [];
    const pending = this.armTransmits(armed);
    if (!pending) await (this.instanceMode === 'process' ? this.hostWakeOrTimeout(seen, timeoutMs) : this.hostBell.waitAsync(seen, timeoutMs));
    this.disarmTransmits(armed);
  }

  /**
   * Arms the transmitqs of every running instance (listed in `armed`), and the receiveq of
   * each side whose FIFO holds frames (the instance rings when it posts buffers); true if
   * frames already wait in a transmitq, or a FIFO's receiveq has room.
   */
  private armTransmits(armed: StageInstance[]): boolean {
    let pending = false;
    for (const inst of this.instances()) {
      if (inst.host.state !== 'running') continue;
      armed.push(inst);
      const h = inst.host;
      if (h.eth0.armTx()) pending = true;
      if (h.eth1.armTx()) pending = true;
      if (inst.toEth0.count > 0 && h.eth0.armRxRoom()) pending = true;
      if (inst.toEth1.count > 0 && h.eth1.armRxRoom()) pending = true;
    }
    return pending;
  }

  private disarmTransmits(armed: readonly StageInstance[]): void {
    for (const inst of armed) {
      if (inst.host.state !== 'running') continue;
      const h = inst.host;
      h.eth0.disarmTx();
      h.eth1.disarmTx();
      h.eth0.disarmRxRoom();
      h.eth1.disarmRxRoom();
    }
  }

  /**
   * True while frames are inside the chain: delivered to an instance and not yet polled
   * back, dropped, or waiting in a FIFO or a direct link's queue pair. A host loop keeps polling then (an instance's
   * answer comes within microseconds; sleeping would add a wake-up per hop).
   */
  hasFramesInFlight(): boolean {
    for (const inst of this.instances()) {
      if (inst.toEth0.count > 0 || inst.toEth1.count > 0) return true;
      const h = inst.host;
      if (h.state !== 'running') continue;
      const links = directTraffic(inst);
      const delivered = h.eth0.rxCounters.packets + h.eth1.rxCounters.packets + links.received;
      const back = h.eth0.txCounters.packets + h.eth1.txCounters.packets + h.counters[BuiltinCounter.DROPPED_PACKETS] + links.sent + directDrops(inst);
      if (delivered > back) return true;
      // Direct links: frames its peers made available that it has not taken yet.
      if (this.direct !== null && inst.linkStats !== undefined && this.direct.pendingToward(inst) > 0) return true;
    }
    return false;
  }

  /** Ends a `waitForWork` now (e.g. a port has frames). */
  wakeAll(): void {
    if (this.instanceMode === 'process') this.onHostWake();
    else this.hostBell.ring();
  }

  /**
   * Process mode: instances ring the host's interrupt through their wake pipes, which this
   * loop reads (`ProcessIsolate.wakes`); resolves on the next byte, a `wakeAll`, or the timeout.
   */
  private hostWakeOrTimeout(seen: number, timeoutMs: number): Promise<void> {
    if (this.hostBell.sequence() !== seen) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.hostWaiter === done) this.hostWaiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.hostWaiter = done;
    });
  }

  /** Ends a `hostWakeOrTimeout` (a byte on an instance's wake pipe, or `wakeAll`). */
  private readonly onHostWake = (): void => this.hostWaiter?.();

  private readonly onInstanceEvent = (event: InstanceEvent): void => {
    if (event.type !== 'failed') return;
    this.healthDirty = true;
    this.onHostWake();
  };

  /**
   * Pumps until `done()` is true or `timeoutMs` passes, with the scheduler the controller
   * uses (`PumpLoop`: slices that yield to the event loop, sleep on the host's interrupt
   * when idle, socket ports wake it); `done()` is checked between slices. Returns whether
   * `done()` became true.
   */
  async runUntil(inside: ChainPort, outside: ChainPort = NULL_PORT, done: () => boolean = () => false, timeoutMs = 10_000): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    const loop = new PumpLoop(this, inside, outside);
    loop.start();
    try {
      while (!done()) {
        if (performance.now() > deadline) return false;
        // A timer, not setImmediate: a sleeping loop must leave the core to the instances.
        await new Promise<void>((resolve) => setTimeout(resolve, 1));
      }
      return true;
    } finally {
      await loop.stop();
    }
  }

  /**
   * Stops every instance (in-flight frames are freed and counted), and returns the pool's
   * leak check. The data plane cannot be used afterwards.
   */
  async shutdown(): Promise<DataPlaneShutdownReport> {
    this.closed = true;
    for (const [, drain] of this.drains) drain.resolve();
    const received: Record<string, number> = {};
    for (const stage of this.stages) {
      await Promise.all(
        stage.live.map(async (i) => {
          const last = await this.stopInstance(stage, i, 'shutdown');
          if (last?.type === 'stopped') received[i.id] = last.received;
        }),
      );
    }
    for (const stage of this.stages) for (const orphan of stage.expireOrphans(Infinity)) this.memory.release(orphan.stateSab!);
    // Every instance is gone: a state word naming an id never issued here was scribbled by one.
    const issued: number[] = [];
    for (let owner = DATA_PLANE_OWNER; owner < this.nextOwner; owner++) issued.push(owner);
    this.faults.scrubbed += this.pool.reclaimAllBut(issued);
    const leaks = this.pool.leakCheck();
    this.memory.close();
    return { leaks, received };
  }

  /**
   * Frames crossing link `k` from slot `from` of the stage on its `dir` side (UNSET_SIDE: a
   * port), toward the other: `dir` 0 rightward (from stage k−1 to stage k, or out the
   * outside port `port`), 1 leftward (from stage k to stage k−1, or out the inside port).
   * One body for both directions: the side a frame comes from is the entry's side `dir`.
   */
  private cross(k: number, dir: 0 | 1, from: number, fromPool: PacketPool, ids: Uint32Array, n: number, port: ChainPort): void {
    const link = this.links[k];
    const stages = this.stages;
    const toward = k - dir;
    const stage = toward >= 0 && toward < stages.length ? stages[toward] : null;
    const taps = this.taps[k];
    const far: 0 | 1 = dir === 0 ? 1 : 0;
    if (taps !== null) for (let t = 0; t < taps.length; t++) taps[t].frames(fromPool, ids, n, far);
    const steering = this.steering;
    const view = fromPool.view;
    const meta = fromPool.meta;
    const stride = fromPool.stride;
    const base = fromPool.dataAreaOffset;
    const tick = this.tick;
    const out = this.outIds;
    let m = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      // Shared metadata, read once: a frame it does not place inside its buffer is not classified.
      const dataOff = meta.dataOff[id];
      const len = meta.length[id];
      const target =
        dataOff <= stride && len <= stride - dataOff && link.classify(view, base + id * stride + dataOff, len)
          ? steering.steer(k, dir, from, tick)
          : steering.steerUnkeyed(k, dir);
      if (target === STATE_LOST) this.resetToSender(stage as Stage, k - 1 + dir, from, fromPool, id, far);
      else if (this.route(stage, target, fromPool, id, dir)) out[m++] = id;
    }
    if (m > 0) {
      if (this.tracing !== null) this.tracing.exited(this.pool, out, m);
      if (dir === 0) this.traffic.leftOutside += m;
      else this.traffic.leftInside += m;
      this.handing = m;
      port.take(this.pool, out, m);
      this.handing = 0;
    }
  }

  /**
   * Hands frame `id` (owned by `fromPool`'s owner) on: into the FIFO toward side `side` of
   * instance `target` of `stage`, or, when `stage` is null (a chain end), to the data
   * plane's own owner; returns true in that case (the caller passes it to the port). A frame
   * with no instance to go to is freed and counted, in the chain's totals (`drops`) and
   * against the stage it was entering (`Stage.hostDrops`; at a chain end, the stage it left).
   */
  private route(stage: Stage | null, target: number, fromPool: PacketPool, id: number, side: 0 | 1): boolean {
    if (stage === null) {
      if (fromPool.tryTransfer(id, DATA_PLANE_OWNER)) return true;
      this.drops.ownership++;
      // side 0: leaving rightward, out of the last stage; side 1: out of the first.
      this.stages[side === 0 ? this.stages.length - 1 : 0].hostDrops[HostDrop.OWNERSHIP]++;
      return false;
    }
    if (target < 0) {
      if (target === AWAITING_HEIR) {
        this.drops.awaitingHeir++;
        stage.hostDrops[HostDrop.AWAITING_HEIR]++;
      } else {
        this.drops.noInstance++;
        stage.hostDrops[HostDrop.NO_INSTANCE]++;
      }
      this.one[0] = id;
      fromPool.freeOwned(this.one, 1);
      return false;
    }
    const inst = stage.bySlot[target];
    if (!fromPool.tryTransfer(id, inst.host.deviceOwner)) {
      this.drops.ownership++;
      stage.hostDrops[HostDrop.OWNERSHIP]++;
    }
    else if (side === 0) inst.toEth0.pushOne(id);
    else inst.toEth1.pushOne(id);
    return false;
  }

  /**
   * Closes a TCP flow whose state is lost (`STATE_LOST`) toward the side that sent frame
   * `id`: the segment becomes a reset from its receiver (sequence number = its ACK, so the
   * sender accepts it) and goes back where it came from — into slot `from` of stage
   * `stageIndex` on side `side` (0 eth0, 1 eth1), or, when `from` is a port, out of that
   * port (the chain's end opposite `side`). The instances on the way back still know the flow and let it pass.
   * Anything that may not be answered (a reset, a broadcast) is freed. Rare path. Counted
   * against `lostAt`, the stage whose instance lost the flow's state.
   */
  private resetToSender(lostAt: Stage, stageIndex: number, from: number, fromPool: PacketPool, id: number, side: 0 | 1): void {
    this.drops.stateLost++;
    lostAt.hostDrops[HostDrop.STATE_LOST]++;
    const off = fromPool.dataOffset(id);
    const layout = this.resetLayout;
    const view = fromPool.view;
    // IPv4 TCP only: an IPv6 segment of a lost flow is dropped (counted) until resets speak IPv6.
    const answerable =
      parseFrame(view, off, fromPool.meta.length[id], layout) === 0 &&
      layout.ethertype === 0x0800 &&
      layout.ipProto === 6 &&
      tcpResetPermitted(view, off, layout.l3Offset, layout.l4Offset);
    if (answerable) fromPool.meta.length[id] = writeTcpReset(view, off, layout.l3Offset, layout.l4Offset);
    this.one[0] = id;
    if (!answerable) fromPool.freeOwned(this.one, 1);
    else if (from !== UNSET_SIDE) this.route(this.stages[stageIndex], from, fromPool, id, side);
    else if (fromPool.tryTransfer(id, DATA_PLANE_OWNER)) this.ends[side === 0 ? 1 : 0].take(this.pool, this.one, 1);
    else {
      this.drops.ownership++;
      lostAt.hostDrops[HostDrop.OWNERSHIP]++;
    }
  }

  /** Removes idle and closed pins from every link and settles drains. */
  private sweep(): void {
    this.lastSweepTick = this.tick;
    this.steering.expire(this.tick);
    this.checkDrains();
    const wall = performance.now();
    for (const stage of this.stages) {
      for (const orphan of stage.expireOrphans(wall)) this.memory.release(orphan.stateSab!);
      this.direct?.publish(stage);
    }
    this.direct?.settle((stage, frames) => this.countGone(stage, frames));
  }

  /** Counts `n` frames lost with an instance of `stage` that left (sent to it over a direct link, never taken). */
  private countGone(stage: Stage, n: number): void {
    this.drops.instanceGone += n;
    stage.hostDrops[HostDrop.INSTANCE_GONE] += n;
  }

  /** Resolves drains whose instance has no pin left or whose deadline passed. */
  private checkDrains(): void {
    this.direct?.syncPins(this.stages);
    const now = performance.now();
    for (const [inst, drain] of this.drains) {
      if ((inst.pins <= 0 && drain.holds?.() !== true) || now >= drain.deadline || inst.state === 'gone') {
        this.drains.delete(inst);
        drain.resolve();
      }
    }
  }

  /** Marks instances whose InstanceHost failed as gone (their buffers were reclaimed by containment). */
  private checkHealth(): void {
    for (const stage of this.stages) {
      for (const inst of stage.live) {
        if (inst.host.state !== 'failed') continue;
        // Containment reclaims everything the device owner holds, FIFO contents included.
        this.drops.instanceGone += inst.toEth0.count + inst.toEth1.count;
        stage.hostDrops[HostDrop.INSTANCE_GONE] += inst.toEth0.count + inst.toEth1.count;
        inst.toEth0.count = 0;
        inst.toEth1.count = 0;
        // Containment may have run before the last of them were routed here: free those too.
        inst.host.reclaimLate();
        // Then free what it may have scribbled into other buffers' state words; its port counters were read at instance-failed.
        void inst.host.settled().then(() => {
          this.scrub();
          if (inst.portCounters !== undefined) this.releasePortCounters(inst.portCounters);
        });
        this.keepDropsOf(inst);
        const f = inst.host.failure;
        const reason = `${f?.reason ?? 'failed'}: ${f?.detail ?? ''}`;
        // Its connections stay in host memory for a successor of the same image (the pins wait).
        if (inst.stateSab !== undefined && !this.closed) stage.orphan(inst, reason, performance.now() + this.orphanWaitMs);
        else stage.setState(inst, 'gone', reason);
        this.direct?.publish(stage);
        this.emit({ type: 'instance-failed', stage: stage.name, instance: inst.id, reason: inst.reason });
      }
    }
  }

  /** Takes an instance out of the chain: frees what waits for it, stops it. */
  private async stopInstance(stage: Stage, inst: StageInstance, reason: string): Promise<InstanceEvent | undefined> {
    if (inst.state === 'gone') return undefined;
    const flowsLeft = inst.flows;
    // Flows still pinned to a stateful instance stopped for good (a drain that timed out)
    // cannot go on elsewhere: they are closed with resets rather than dropped in silence.
    this.direct?.syncPins(this.stages);
    if (inst.stateSab !== undefined && inst.pins > 0 && !this.closed) inst.heir = STATE_LOST;
    stage.setState(inst, 'gone', reason);
    this.direct?.publish(stage);
    const waiting = inst.toEth0.count + inst.toEth1.count;
    if (inst.host.state === 'running') {
      inst.pool.freeOwned(inst.toEth0.ids, inst.toEth0.count);
      inst.pool.freeOwned(inst.toEth1.ids, inst.toEth1.count);
    }
    this.drops.instanceGone += waiting;
    stage.hostDrops[HostDrop.INSTANCE_GONE] += waiting;
    inst.toEth0.count = 0;
    inst.toEth1.count = 0;
    this.keepDropsOf(inst);
    const last = await inst.host.stop();
    // Direct links: what its peers had sent it and it had not taken is still its own.
    // (Counted once its lane settles: `DirectLinkHost.settle`.)
    if (inst.lane >= 0) this.pool.reclaimOwner(inst.host.owner);
    if (inst.stateSab !== undefined) this.memory.release(inst.stateSab);
    this.emit({ type: 'instance-stopped', stage: stage.name, instance: inst.id, reason, flowsLeft });
    // The event's handlers took its ports' last figures (`ReplicaEnds.gone`); nobody reads them after.
    if (inst.portCounters !== undefined) this.releasePortCounters(inst.portCounters);
    return last;
  }

  /** Gives back an instance's port-counter block (process instances: its range of the memfd is handed out again). */
  private releasePortCounters(counters: Float64Array): void {
    this.memory.release(counters.buffer as SharedArrayBuffer);
  }

  /** Keeps a leaving instance's pipeline drops in `dropped()`. */
  private keepDropsOf(inst: StageInstance): void {
    this.goneDrops += inst.host.counters[BuiltinCounter.DROPPED_PACKETS] + directDrops(inst);
  }

  private emit(event: DataPlaneEvent): void {
    this.onEvent?.(event);
  }
}


/** Delivers as much of `fifo` as the receiveq has room for. */
function flush(fifo: LinkFifo, end: VirtioNetDeviceEnd): void {
  if (fifo.count === 0) return;
  const room = end.rxRoom();
  if (room === 0) return;
  const k = room < fifo.count ? room : fifo.count;
  end.deliverRx(fifo.ids, k);
  fifo.shift(k);
}
