import { ChainDataPlane, type DataPlaneEvent, type StageImage } from '../dataplane/chain-data-plane.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import { PumpLoop } from '../dataplane/pump-loop.ts';
import { HOST_DROP_LIST } from '../dataplane/host-drop-reason.ts';
import { GatedPort } from '../dataplane/ports/gated-port.ts';
import type { Stage, StageInstance } from '../dataplane/stage.ts';
import type { WarmPool } from '../runtime/warm-pool.ts';
import type { WarmProcessPool } from '../runtime/warm-process-pool.ts';
import type { BuiltFunctionSpec, ChainFunctionSpec, ChainSpec } from '../spec/chain-spec.ts';
import type { PlacementDecision } from './placement.ts';
import type { BackendStatus } from './backend-status.ts';
import type { BackendSteering } from './backend-steering.ts';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors/catalog.ts';
import type { ChainEnd } from './chain-ends.ts';
import { HANDOFF_TIMEOUT_MS, ReplicaEnds, type EndsPlacement } from './replica-ends.ts';
import { natShardsOf, ReplicaVxlanEnds, vxlanReplicaMembers } from './replica-vxlan-ends.ts';
import type { EndsInReplicas, EndTraffic } from './ends-in-replicas.ts';
import type { GeneratorPortSpec } from '../ports/generator.ts';
import { parseVxlanPortConfig } from '../ports/vxlan.ts';
import { classifierRules } from './chain-ends.ts';
import { NULL_PORT } from '../dataplane/chain-port.ts';
import { LocalPortCounter } from '../dataplane/ports/local-ports.ts';
import type { ChainPhase, ChainStatus, FunctionStatus, InstanceStatus } from './controller-api.ts';
import type { EventInput } from './event-log.ts';
import { RestartBackoff, type RestartBackoffOptions } from './restart-backoff.ts';
import type { ScalingPolicy } from './scaling-policy.ts';
import { scaleInVictims } from './scale-in-choice.ts';

/**
 * Heartbeat stall after which the controller's instances count as hung, ms. Longer than
 * `InstanceHost`'s 1 s default: on a loaded 2-core machine a busy host can starve an
 * instance thread for over a second, and a false "hung" loses every flow it holds.
 */
export const INSTANCE_HANG_TIMEOUT_MS = 3000;

/**
 * At deletion, after the drain: how long the frames already inside may take to leave once
 * the ingress is closed, ms (they need a few pump passes; a stuck instance must not hold
 * the deletion).
 */
const IN_FLIGHT_TIMEOUT_MS = 250;

/** An image resolved for a function: where it is and what it is. */
export interface ResolvedImage extends StageImage {
  /** Image id (content hash). */
  readonly id: string;
}

/**
 * One function of a running chain, as read outside its `ChainRuntime`: the controller
 * changes it only through the runtime's methods (`setDesired`, `updateFunction`,
 * `replaceBackends`), so the compiler refuses field writes from outside.
 */
export interface FunctionRuntime {
  readonly spec: ChainFunctionSpec;
  /** Image of the current spec: instances of other images are rolled over. */
  readonly image: ResolvedImage;
  /** Replicas wanted (autoscaler or ScaleFunction), within min..max. */
  readonly desired: number;
  /** Instances being booted now (listed as `booting`). */
  readonly booting: ReadonlySet<string>;
  /** The autoscaler's decision rule for this function (its cooldown covers manual steps too). */
  readonly policy: ScalingPolicy;
  /** Its instances split unique resources by shard (`PipelineDefinition.sharded`). */
  readonly sharded: boolean;
  /**
   * Fused placement: the chain's functions this runtime runs as one image (its `spec` is then
   * the fused unit's: name `fused`, scaling merged from theirs, see `fusedUnitSpec`).
   */
  readonly parts?: readonly BuiltFunctionSpec[];
  /**
   * The port range its shards cut (`PipelineDefinition.shardedPorts`; a fused unit: its
   * sharded part's), when it has one: a fused chain's VXLAN ends in the replicas steer
   * translated replies by it.
   */
  readonly shardedPorts?: { readonly from: number; readonly to: number };
  /**
   * Its backends, when it has some (`PipelineDefinition.backends`; a fused chain: those of
   * its one part with backends): wanted states, health checks and one control array per
   * image, given to every instance it boots.
   */
  readonly backends?: BackendSteering;
}

/** What the controller gives a new `ChainRuntime` for one function (nothing is booting yet). */
export type FunctionRuntimeInit = Omit<FunctionRuntime, 'booting'>;

/** A function as its `ChainRuntime` holds it: the same object the outside reads, writable here. */
type FunctionState = { -readonly [K in keyof FunctionRuntimeInit]: FunctionRuntimeInit[K] } & { readonly booting: Set<string> };

/** What an apply changes in one function (`ChainRuntime.updateFunction`). */
export interface FunctionUpdate {
  /** The function's (a fused chain: its unit's) new spec; its scaling becomes the policy's bounds. */
  readonly spec: ChainFunctionSpec;
  /** The image of the new spec, when it was resolved again (its config changed). */
  readonly image?: ResolvedImage;
  /** A fused unit's new parts. */
  readonly parts?: readonly BuiltFunctionSpec[];
}

/** What the last apply of a chain set (`ChainRuntime.spec`, `generation` …). */
interface AppliedState {
  spec: ChainSpec;
  specYaml: string;
  digest: string;
  generation: number;
  appliedAt: number;
}

/** Stage name of a fused chain's one unit (instances are `<chain>/fused-<n>`). */
export const FUSED_UNIT = 'fused';

/**
 * The spec of a fused chain's unit: the replicas' bounds cover every function's (the most
 * of the `min`s, the most of the `max`s), the lowest per-instance target, the longest drain
 * and cooldown, and the sum of the memory limits.
 */
export function fusedUnitSpec(parts: readonly BuiltFunctionSpec[]): BuiltFunctionSpec {
  const min = Math.max(...parts.map((p) => p.scaling.min));
  return {
    name: FUSED_UNIT,
    function: `fused:${parts.map((p) => p.name).join('+')}`,
    config: parts.map((p) => p.config),
    rawConfig: parts.map((p) => p.rawConfig),
    scaling: {
      min,
      max: Math.max(min, ...parts.map((p) => p.scaling.max)),
      target: Math.min(...parts.map((p) => p.scaling.target)),
      drainTimeoutSeconds: Math.max(...parts.map((p) => p.scaling.drainTimeoutSeconds)),
      cooldownSeconds: Math.max(...parts.map((p) => p.scaling.cooldownSeconds)),
    },
    resources: { memoryMiB: parts.reduce((sum, p) => sum + p.resources.memoryMiB, 0) },
    // The parts keep their own checks (the controller runs them per function).
    healthChecks: [],
  };
}

/**
 * Shards the instances of `fn` split unique resources into (`AddInstanceOptions.shards`):
 * twice `max` for a sharded function that may scale out, so a rolling update at `max`
 * still finds free ones while the old instances drain; none otherwise.
 */
export function shardCount(fn: FunctionRuntime): number | undefined {
  return fn.sharded && fn.spec.scaling.max > 1 ? 2 * fn.spec.scaling.max : undefined;
}

/** The function whose rates measure a runtime's load: its own, or a fused unit's first part (what enters a replica). */
export function loadFunctionName(fn: FunctionRuntime): string {
  return fn.parts?.[0].name ?? fn.spec.name;
}

/**
 * Reads counters of function `part` in one instance by name: its whole block, or in a fused
 * replica the block of that part. Unknown names read 0.
 */
function instanceCounters(inst: StageInstance, part: string): (name: string) => number {
  const info = inst.manifest.parts?.find((p) => p.name === part);
  const first = info?.firstCounter ?? 0;
  const end = info === undefined ? inst.manifest.counters.length : first + info.counterCount;
  const slots = new Map<string, number>();
  for (let slot = first; slot < end; slot++) slots.set(inst.manifest.counters[slot].name, slot);
  return (name) => {
    const slot = slots.get(name);
    return slot === undefined ? 0 : inst.host.counters[slot];
  };
}

/** Records an event of this chain. */
export type ChainEventSink = (event: EventInput) => void;

/** Crash-loop bookkeeping of one function (a fused chain: of its replicas). */
interface RestartState {
  readonly backoff: RestartBackoff;
  /** Image the failures were counted against: a new image starts afresh. */
  imageId: string;
  /** Reconcile armed for the end of the current wait. */
  timer: NodeJS.Timeout | undefined;
}

/** A wait as text: `400 ms`, `3.2 s`. */
function formatWait(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * One applied chain: its spec, data plane, ends and pump loop, and the reconciler that
 * makes the running instances match the wanted ones. Operations on a chain run one at a
 * time (`serial`); drains run in the background.
 *
 * A failed instance is replaced after a crash-loop back-off per function (fused: per unit
 * of replicas, `RestartBackoff`): each failure records `instance-failed` then
 * `restart-delayed` (failures, wait), and the reconcile that would boot the replacement
 * waits for the end of the wait. The phase is computed when read (see `ChainPhase`).
 */
export class ChainRuntime {
  readonly name: string;
  readonly dataPlane: ChainDataPlane;
  /** The chain's functions in order (a fused chain: its one unit); changed only through this runtime's methods. */
  readonly functions: readonly FunctionRuntime[];
  readonly loop: PumpLoop;
  /** The chain's ends: the host's ports, or (ends in the replicas) figures read from the replicas' counters. */
  readonly ends: { readonly inside: ChainEnd; readonly outside: ChainEnd };
  /** The ends run by the replicas (`endsPlacement.where === 'replicas'`): in-memory clients and servers, or VXLAN sockets; handoffs, figures. */
  readonly replicaEnds: EndsInReplicas | undefined;
  /** The inside end as the pump loop sees it: closed when the chain is deleted. */
  private readonly ingress: GatedPort;
  /** The same objects as `functions`, writable. */
  private readonly states: readonly FunctionState[];
  private readonly applied: AppliedState;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly drains = new Set<Promise<void>>();
  private reconcileQueued = false;
  /** The first reconcile is done (the phase leaves `Pending`). */
  private reconciled = false;
  private deleting = false;
  private readonly restarts = new Map<FunctionRuntime, RestartState>();
  /** Image path of each live instance, by data-plane id (a failure of an older image's instance does not count). */
  private readonly instanceImages = new Map<string, string>();

  /** `restartBackoff`: tuning of every function's crash-loop back-off (defaults of `RestartBackoff`). */
  constructor(
    spec: ChainSpec,
    specYaml: string,
    digest: string,
    functions: readonly FunctionRuntimeInit[],
    hostEnds: { readonly inside: ChainEnd; readonly outside: ChainEnd } | undefined,
    private readonly record: ChainEventSink,
    private readonly warm: WarmPool | WarmProcessPool | undefined,
    pool: PacketPool,
    readonly placement: PlacementDecision,
    restartBackoff: RestartBackoffOptions = {},
    /** Where the ends run (`placeEnds`): `replicas` needs `hostEnds` undefined; default: on the host. */
    readonly endsPlacement: EndsPlacement = { where: 'host', reason: 'ends opened by the controller' },
  ) {
    this.name = spec.metadata.name;
    this.applied = { spec, specYaml, digest, generation: 1, appliedAt: Date.now() };
    this.states = functions.map((f) => ({ ...f, booting: new Set<string>() }));
    this.functions = this.states;
    this.dataPlane = ChainDataPlane.create(
      functions.map((f) => f.spec.name),
      { onEvent: (e) => this.onDataPlaneEvent(e), pool },
    );
    if (endsPlacement.where === 'replicas') {
      if (hostEnds !== undefined || functions.length !== 1 || functions[0].parts === undefined) throw new InvalidArgumentError('ends in the replicas need one fused unit and no host ends');
      const replicas = endsInReplicas(spec, functions[0], this.dataPlane, endsPlacement.reason);
      this.replicaEnds = replicas;
      // The host's pump loop carries no frame: it keeps the lifecycle (health, drains, pool checks).
      this.ends = {
        inside: { ...replicas.end('inside'), port: NULL_PORT, close: async () => undefined },
        outside: { ...replicas.end('outside'), port: NULL_PORT, close: async () => undefined },
      };
    } else {
      if (hostEnds === undefined) throw new InvalidArgumentError('ends on the host need their ports');
      this.ends = hostEnds;
    }
    this.ingress = new GatedPort(this.ends.inside.port);
    this.loop = new PumpLoop(this.dataPlane, this.ingress, this.ends.outside.port);
    for (const fn of this.functions) this.restarts.set(fn, { backoff: new RestartBackoff(restartBackoff), imageId: fn.image.id, timer: undefined });
    for (const fn of this.functions) fn.backends?.start();
  }

  /** The spec of the last apply that changed something. */
  get spec(): ChainSpec {
    return this.applied.spec;
  }

  /** That spec as the YAML text it was applied from. */
  get specYaml(): string {
    return this.applied.specYaml;
  }

  /** Digest of that spec (an apply of the same digest changes nothing). */
  get digest(): string {
    return this.applied.digest;
  }

  /** 1 at creation, one more for each apply that changed the spec. */
  get generation(): number {
    return this.applied.generation;
  }

  /** Unix time in ms of the last apply that changed something. */
  get appliedAt(): number {
    return this.applied.appliedAt;
  }

  /**
   * Takes a new spec of the chain (after its functions were updated): the next generation,
   * applied now. The caller reconciles.
   */
  applySpec(spec: ChainSpec, specYaml: string, digest: string): void {
    Object.assign(this.applied, { spec, specYaml, digest, generation: this.applied.generation + 1, appliedAt: Date.now() });
  }

  /** Takes the generation and apply time a chain restored from the state store had. */
  restoreGeneration(generation: number, appliedAt: number): void {
    this.applied.generation = generation;
    this.applied.appliedAt = appliedAt;
  }

  /**
   * Sets the replicas `fn` wants (the caller keeps them within its bounds and reconciles);
   * returns the count before.
   */
  setDesired(fn: FunctionRuntime, replicas: number): number {
    const state = this.stateOf(fn);
    const before = state.desired;
    state.desired = replicas;
    return before;
  }

  /**
   * Takes what an apply changed in `fn`: its spec (the scaling policy follows its bounds),
   * and the new image or fused parts when given. Instances of an older image are rolled
   * over by the next reconcile.
   */
  updateFunction(fn: FunctionRuntime, update: FunctionUpdate): void {
    const state = this.stateOf(fn);
    state.spec = update.spec;
    state.policy.setBounds(update.spec.scaling);
    if (update.image !== undefined) state.image = update.image;
    if (update.parts !== undefined) state.parts = update.parts;
  }

  /** Stops `fn`'s backend steering and starts `next` in its place (`undefined`: none any more). */
  replaceBackends(fn: FunctionRuntime, next: BackendSteering | undefined): void {
    const state = this.stateOf(fn);
    state.backends?.stop();
    state.backends = next;
    next?.start();
  }

  /** This runtime's own (writable) state of `fn`; `InvalidArgumentError` for a function of another chain. */
  private stateOf(fn: FunctionRuntime): FunctionState {
    const state = this.states.find((s) => s === fn);
    if (state === undefined) throw new InvalidArgumentError(`function "${fn.spec.name}" is not one of chain "${this.name}"`);
    return state;
  }

  /** The chain's phase now (rules: `ChainPhase`). */
  get phase(): ChainPhase {
    if (this.deleting) return 'Deleting';
    if (!this.reconciled) return 'Pending';
    return this.shortfalls(performance.now()).length === 0 ? 'Ready' : 'Degraded';
  }

  /** Runs `op` after every operation queued before it. */
  serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(op, op);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Boots, drains and rolls instances until each function runs `desired` ready instances
   * of its current image; instances of older images and extras are drained in the
   * background. Sets the phase.
   */
  async reconcile(): Promise<void> {
    await Promise.all(this.functions.map((fn, k) => this.reconcileFunction(fn, k)));
    this.reconciled = true;
  }

  /** Queues a reconcile (once) after the running operations, e.g. when an instance failed. */
  requestReconcile(): void {
    if (this.reconcileQueued || this.deleting) return;
    this.reconcileQueued = true;
    void this.serial(async () => {
      this.reconcileQueued = false;
      if (!this.deleting) await this.reconcile();
    });
  }

  /** Drains everything, stops the instances and the ends. */
  async delete(timeoutMs: number): Promise<void> {
    this.deleting = true;
    for (const restart of this.restarts.values()) clearTimeout(restart.timer);
    for (const fn of this.functions) fn.backends?.stop();
    // Ends in the replicas: the clients close their flows (FINs through the chain), VXLAN replicas take no new ones, before the drain.
    const ends = this.replicaEnds;
    if (ends !== undefined) await ends.closeAll(Math.min(timeoutMs, HANDOFF_TIMEOUT_MS));
    const openInReplicas = ends === undefined ? 0 : ends.openFlows();
    const flowsLeft = (await this.dataPlane.drainAll('chain deleted', timeoutMs)) + openInReplicas;
    // No new frame from the clients; what is inside leaves before the instances stop.
    this.ingress.close();
    const until = performance.now() + IN_FLIGHT_TIMEOUT_MS;
    while (this.dataPlane.hasFramesInFlight() && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.loop.stop();
    const report = await this.dataPlane.shutdown();
    await Promise.allSettled([...this.drains]);
    await Promise.allSettled([this.ends.inside.close(), this.ends.outside.close()]);
    ends?.release();
    this.record({ type: 'deleted', chain: this.name, reason: 'chain deleted', details: { flowsLeft, leakedBuffers: report.leaks.length, ...this.finalFigures() } });
  }

  /**
   * What the chain carried in all, for its `deleted` event (what `nfvkit up` sums up after
   * the chain is gone): frames in and out of each end, the drop total, and each non-zero
   * host drop as `host:<reason>`.
   */
  private finalFigures(): Record<string, number> {
    const dp = this.dataPlane;
    const figures: Record<string, number> = { ...this.traffic(), dropped: dp.dropped() };
    if (this.replicaEnds !== undefined) Object.assign(figures, this.replicaEnds.finalFigures());
    for (const d of HOST_DROP_LIST.declared) if (dp.drops[d.field] > 0) figures[`host:${d.name}`] = dp.drops[d.field];
    return figures;
  }

  /** Frames in and out of each end: the host ports' (`ChainDataPlane.traffic`), or the replicas' counters when they run the ends. */
  traffic(): EndTraffic {
    const t = this.dataPlane.traffic;
    const r = this.replicaEnds?.traffic();
    if (r === undefined) return { ...t };
    return { enteredInside: t.enteredInside + r.enteredInside, enteredOutside: t.enteredOutside + r.enteredOutside, leftInside: t.leftInside + r.leftInside, leftOutside: t.leftOutside + r.leftOutside };
  }

  status(): ChainStatus {
    return {
      name: this.name,
      generation: this.generation,
      phase: this.phase,
      phaseReason: this.deleting || !this.reconciled ? '' : this.shortfalls(performance.now()).join('; '),
      functions: this.functions.flatMap((fn) => (fn.parts === undefined ? [this.functionStatus(fn)] : fn.parts.map((p) => ({ ...this.functionStatus(fn), name: p.name, function: p.function })))),
      placement: this.placement.placement,
      placementReason: this.placement.reason,
      ends: { where: this.endsPlacement.where, reason: this.endsPlacement.reason, figures: this.endFigures() },
      specYaml: this.specYaml,
      appliedAt: this.appliedAt,
    };
  }

  /** Each end's port figures as `inside.<figure>` / `outside.<figure>` (an end that is closing reads nothing). */
  private endFigures(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [side, end] of [['inside', this.ends.inside], ['outside', this.ends.outside]] as const) {
      let stats: Record<string, unknown> = {};
      try {
        stats = end.stats();
      } catch {
        // its port already closed (a chain being deleted)
      }
      for (const [k, v] of Object.entries(stats)) if (typeof v === 'number') out[`${side}.${k}`] = v;
    }
    return out;
  }

  functionStatus(fn: FunctionRuntime): FunctionStatus {
    const now = performance.now();
    const backoff = this.restartOf(fn).backoff.state(now);
    const wait = backoff.restartAt - now;
    return {
      name: fn.spec.name,
      function: fn.spec.function ?? fn.image.manifest.name,
      imageId: fn.image.id,
      desiredReplicas: fn.desired,
      readyReplicas: this.ready(fn).length,
      min: fn.spec.scaling.min,
      max: fn.spec.scaling.max,
      target: fn.spec.scaling.target,
      failures: backoff.failures,
      restartDelayMs: backoff.delayMs,
      nextRestartAt: wait > 0 ? Math.round(Date.now() + wait) : 0,
    };
  }

  /**
   * Why the chain is not `Ready` at `now`: per function (a fused chain: its unit), fewer
   * ready instances than desired, and failures the back-off still counts. Empty when ready.
   */
  shortfalls(now: number): string[] {
    const out: string[] = [];
    for (const fn of this.functions) {
      const ready = this.ready(fn).length;
      if (ready < fn.desired) out.push(`${fn.spec.name}: ${ready}/${fn.desired} ready`);
      const { failures, delayMs, restartAt } = this.restartOf(fn).backoff.state(now);
      if (failures > 0) {
        const wait = restartAt - now;
        out.push(`${fn.spec.name}: ${failures} failure${failures === 1 ? '' : 's'}, restarts back off ${formatWait(delayMs)}${wait > 0 ? ` (next in ${formatWait(wait)})` : ''}`);
      }
    }
    return out;
  }

  instances(): InstanceStatus[] {
    const out: InstanceStatus[] = [];
    for (const [k, fn] of this.functions.entries()) {
      for (const id of fn.booting) {
        out.push({ id: `${this.name}/${id}`, chain: this.name, function: fn.spec.name, imageId: fn.image.id, state: 'booting', reason: '', startedAt: Date.now(), bootMs: 0, flows: 0 });
      }
      for (const inst of this.dataPlane.stages[k].live) out.push(this.instanceStatus(fn, inst));
    }
    return out;
  }

  /**
   * The stage that runs function `name`: its own (isolated), or the fused unit's. Throws
   * `NotFoundError` for a name the chain does not have.
   */
  stageOf(name: string): Stage {
    const fn = this.functions.find((f) => f.spec.name === name || f.parts?.some((p) => p.name === name) === true);
    return this.dataPlane.stage(fn?.spec.name ?? name);
  }

  /**
   * The backends of function `name` (omitted: the chain's only function with backends),
   * with their state, health and connections over its live instances.
   */
  backends(name?: string): BackendStatus[] {
    const { fn, steering } = this.steeringOf(name);
    const stage = this.dataPlane.stage(fn.spec.name);
    return steering.status(stage.live.map((inst) => ({ imagePath: inst.imagePath, counter: instanceCounters(inst, steering.fn) })));
  }

  /**
   * The function runtime and backend steering of function `name` (omitted: the chain's only
   * function with backends). `NotFoundError` for a function the chain does not have,
   * `FailedPreconditionError` when it has no backends, `InvalidArgumentError` when `name` is
   * omitted and several functions have backends.
   */
  steeringOf(name?: string): { fn: FunctionRuntime; steering: BackendSteering } {
    const steered = this.functions.filter((f) => f.backends !== undefined);
    if (name === undefined || name === '') {
      if (steered.length === 1) return { fn: steered[0], steering: steered[0].backends! };
      if (steered.length === 0) throw new FailedPreconditionError(`chain "${this.name}" has no function with backends`);
      throw new InvalidArgumentError(`chain "${this.name}" has several functions with backends: name one of ${steered.map((f) => f.backends!.fn).join(', ')}`);
    }
    const fn = this.functions.find((f) => f.spec.name === name || f.parts?.some((p) => p.name === name) === true);
    if (fn === undefined) throw new NotFoundError(`chain "${this.name}" has no function "${name}"`);
    if (fn.backends === undefined || fn.backends.fn !== name) throw new FailedPreconditionError(`function "${name}" of chain "${this.name}" has no backends to steer`);
    return { fn, steering: fn.backends };
  }

  /** Counter `counter` of function `name`, summed over its live instances (a fused replica's block for that function). */
  functionCounter(name: string, counter: string): number {
    let total = 0;
    for (const inst of this.stageOf(name).live) {
      const part = inst.manifest.parts?.find((p) => p.name === name);
      const first = part?.firstCounter ?? 0;
      const end = part === undefined ? inst.manifest.counters.length : first + part.counterCount;
      for (let slot = first; slot < end; slot++) if (inst.manifest.counters[slot].name === counter) total += inst.host.counters[slot];
    }
    return total;
  }

  /**
   * Ids of the images this chain uses: each function's current image and the image of every
   * live instance (instances of a replaced image run until their drain ends).
   */
  imageIds(): Set<string> {
    const ids = new Set<string>();
    for (const [k, fn] of this.functions.entries()) {
      ids.add(fn.image.id);
      for (const inst of this.dataPlane.stages[k].live) ids.add(inst.manifest.id);
    }
    return ids;
  }

  /** Instances of `fn` that take new flows and run its current image (not those handing their clients over to leave). */
  ready(fn: FunctionRuntime): StageInstance[] {
    const stage = this.dataPlane.stage(fn.spec.name);
    const ends = this.replicaEnds;
    return stage.live.filter((i) => i.state === 'active' && i.imagePath === fn.image.imagePath && ends?.isLeaving(i.id) !== true);
  }

  private instanceStatus(fn: FunctionRuntime, inst: StageInstance): InstanceStatus {
    return {
      id: `${this.name}/${inst.id}`,
      chain: this.name,
      function: fn.spec.name,
      imageId: inst.manifest.id,
      state: inst.state === 'active' ? 'ready' : inst.state === 'draining' ? 'draining' : 'stopped',
      reason: inst.reason,
      startedAt: inst.startedAt,
      bootMs: inst.host.bootMs,
      // Ends in the replicas: the flows its clients have open (no flow is pinned on the host); a gone one's block is given back.
      flows: Math.max(0, inst.portCounters === undefined || inst.state === 'gone' ? inst.flows : inst.portCounters[LocalPortCounter.FLOWS_OPEN]),
    };
  }

  private async reconcileFunction(fn: FunctionRuntime, k: number): Promise<void> {
    const stage = this.dataPlane.stages[k];
    const booting = this.stateOf(fn).booting;
    const current = this.ready(fn);
    const missing = fn.desired - current.length;
    const restart = this.restartOf(fn);
    const wait = restart.backoff.waitMs(performance.now());
    if (missing > 0 && wait > 0) {
      // Crash-loop back-off: the replacement boots when the wait is over.
      restart.timer ??= setTimeout(() => {
        restart.timer = undefined;
        this.requestReconcile();
      }, Math.ceil(wait)).unref();
    } else if (missing > 0) {
      await Promise.all(
        Array.from({ length: missing }, async () => {
          const pending = `${fn.spec.name}-booting-${Math.random().toString(36).slice(2, 8)}`;
          booting.add(pending);
          // Ends in the replicas: each replica runs its share of the clients and its own servers.
          const ends = this.replicaEnds;
          const member = ends?.reserveMember();
          try {
            const inst = await this.dataPlane.addInstance(k, fn.image, {
              ...(ends === undefined ? {} : { ports: ends.portsFor(member!) }),
              hangTimeoutMs: INSTANCE_HANG_TIMEOUT_MS,
              // Instances of a sharded function that may scale out split what must stay unique (NAT ports).
              ...(shardCount(fn) === undefined ? {} : { shards: shardCount(fn) }),
              ...(this.warm === undefined ? {} : { warm: this.warm }),
              // Every instance of a function with backends reads the states the controller wants.
              ...(fn.backends === undefined ? {} : { controlSab: fn.backends.blockFor(fn.image.imagePath, (n) => this.dataPlane.memory.allocate(n)).buffer }),
            });
            ends?.bind(member!, inst);
          } catch {
            // Reported by the data plane (instance-failed); the phase shows the shortfall.
            if (ends !== undefined) ends.cancel(member!);
          } finally {
            booting.delete(pending);
          }
        }),
      );
    }
    fn.backends?.forgetImages(new Set([fn.image.imagePath, ...stage.live.map((i) => i.imagePath)]), (sab) => this.dataPlane.memory.release(sab));
    const now = this.ready(fn);
    if (now.length > fn.desired) {
      // Fewest open flows first: the clients port's when the ends run in the replicas (no host pins there), host pins otherwise.
      const extras = scaleInVictims(now, now.length - fn.desired);
      for (const inst of extras) this.drainInBackground(inst, 'scale-in', fn);
    }
    if (now.length > 0) {
      for (const inst of stage.live) {
        if (inst.state === 'active' && inst.imagePath !== fn.image.imagePath && this.replicaEnds?.isLeaving(inst.id) !== true) {
          this.drainInBackground(inst, `rolling update: image ${inst.manifest.id.slice(0, 12)} replaced by ${fn.image.id.slice(0, 12)}`, fn);
        }
      }
    }
  }

  /** The crash-loop state of `fn`, started afresh when `fn` runs another image than the one its failures were counted against. */
  private restartOf(fn: FunctionRuntime): RestartState {
    const restart = this.restarts.get(fn)!;
    if (restart.imageId !== fn.image.id) {
      restart.backoff.reset();
      restart.imageId = fn.image.id;
    }
    return restart;
  }

  /** Counts a failure of an instance of `stage` against its function's back-off and says how long the replacement waits. */
  private noteFailure(stage: string, instance: string): void {
    const fn = this.functions.find((f) => f.spec.name === stage);
    const imagePath = this.instanceImages.get(instance);
    this.instanceImages.delete(instance);
    // An instance of an older image (draining in a rolling update) says nothing of the current one.
    // Instances stopped by a delete restart nothing.
    if (fn === undefined || this.deleting || (imagePath !== undefined && imagePath !== fn.image.imagePath)) return;
    const now = performance.now();
    const { failures, delayMs, restartAt } = this.restartOf(fn).backoff.fail(now);
    const wait = Math.max(0, restartAt - now);
    this.record({
      type: 'restart-delayed',
      chain: this.name,
      function: stage,
      reason: `${failures} failure${failures === 1 ? '' : 's'} in a row: replacement in ${formatWait(wait)} (back-off ${formatWait(delayMs)})`,
      details: { failures, delayMs, waitMs: Math.round(wait), nextRestartAt: Math.round(Date.now() + wait), failedInstance: `${this.name}/${instance}` },
    });
  }

  /**
   * Drains `inst` in the background. With the ends in the replicas it first hands the
   * replica off (`EndsInReplicas.handOff`: in-memory clients give their shards to the others
   * and close their flows; a VXLAN replica is retired from its groups), and the drain that
   * follows also waits while the replica still holds flows no host pin shows (`holds`).
   */
  private drainInBackground(inst: StageInstance, reason: string, fn: FunctionRuntime): void {
    const ends = this.replicaEnds;
    const drainMs = fn.spec.scaling.drainTimeoutSeconds * 1000;
    const handOff = ends === undefined ? Promise.resolve() : ends.handOff(inst.id, Math.min(HANDOFF_TIMEOUT_MS, drainMs));
    const drain = handOff
      .then(() => this.dataPlane.drainInstance(inst.id, reason, drainMs, ends === undefined ? undefined : () => ends.holds(inst.id)))
      .catch(() => undefined)
      .finally(() => this.drains.delete(drain));
    this.drains.add(drain);
  }

  private onDataPlaneEvent(e: DataPlaneEvent): void {
    const base = { chain: this.name, function: e.stage, instance: `${this.name}/${e.instance}` };
    switch (e.type) {
      case 'instance-booted':
        this.record({ ...base, type: 'instance-booted', reason: e.warm ? 'booted in a warm isolate' : 'booted cold', details: { bootMs: e.bootMs.toFixed(2), warm: String(e.warm) } });
        break;
      case 'instance-ready':
        for (const inst of this.dataPlane.stage(e.stage).live) if (inst.id === e.instance) this.instanceImages.set(e.instance, inst.imagePath);
        if (e.takeover === undefined) this.record({ ...base, type: 'instance-ready', reason: 'taking new flows', details: { bootMs: e.bootMs.toFixed(2) } });
        else {
          const { from, adopted, rejected } = e.takeover;
          this.record({ ...base, type: 'instance-ready', reason: `taking new flows and the ${adopted} connections of ${from}${rejected > 0 ? ` (${rejected} refused)` : ''}`, details: { bootMs: e.bootMs.toFixed(2), tookOverFrom: `${this.name}/${from}`, adopted, rejected } });
        }
        break;
      case 'instance-draining':
        this.record({ ...base, type: 'instance-draining', reason: e.reason, details: { flows: e.flows } });
        break;
      case 'instance-stopped':
        this.replicaEnds?.gone(e.instance);
        this.instanceImages.delete(e.instance);
        this.record({ ...base, type: 'instance-stopped', reason: e.reason, details: { flowsLeft: e.flowsLeft } });
        break;
      case 'instance-failed':
        // Its clients' shards go to the other replicas (its flows were lost with it: they open anew there).
        this.replicaEnds?.gone(e.instance, true);
        this.record({ ...base, type: 'instance-failed', reason: e.reason });
        this.noteFailure(e.stage, e.instance);
        this.requestReconcile();
        break;
    }
  }
}

/**
 * The ends a fused chain's replicas run (`placeEnds` said `replicas`): in-memory clients and
 * servers for generator → responder/sink, VXLAN sockets in steered groups for vxlan → vxlan
 * (the outside group by the NAT's port shards when `unit` has a sharded part with a port
 * range and more than one shard, by the inner destination otherwise).
 */
function endsInReplicas(spec: ChainSpec, unit: FunctionRuntimeInit, dataPlane: ChainDataPlane, reason: string): EndsInReplicas {
  const { ingress, egress, classifier } = spec.spec;
  if (ingress.type === 'generator' && (egress.type === 'responder' || egress.type === 'sink')) return new ReplicaEnds(ingress as GeneratorPortSpec, egress.type, dataPlane.memory, reason);
  if (ingress.type === 'vxlan' && egress.type === 'vxlan') {
    const count = shardCount({ ...unit, booting: new Set() });
    const nat = natShardsOf(unit.shardedPorts, count);
    const settings = { inside: parseVxlanPortConfig(ingress, 'ingress'), outside: parseVxlanPortConfig(egress, 'egress') };
    return new ReplicaVxlanEnds(settings, dataPlane.memory, reason, nat, classifier === undefined ? undefined : classifierRules(classifier), vxlanReplicaMembers(unit.spec.scaling.max));
  }
  throw new InvalidArgumentError(`ends ${ingress.type} → ${egress.type} cannot run in the replicas`);
}
