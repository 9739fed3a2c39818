import { availableParallelism } from 'node:os';
import { createDataPlanePool, defaultInstanceMode } from '../dataplane/chain-data-plane.ts';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '../errors/catalog.ts';
import { buildFusedImage, buildImage } from '../image/image-builder.ts';
import type { ImageLease } from '../image/image-lease.ts';
import { ImageStore, type ImageStoreUsage } from '../image/image-store.ts';
import { canonicalJson } from '../image/canonical-json.ts';
import type { PipelineDefinition } from '../pipeline/define-pipeline.ts';
import type { FunctionRegistry } from '../pipeline/function-registry.ts';
import { WarmPool } from '../runtime/warm-pool.ts';
import { WarmProcessPool } from '../runtime/warm-process-pool.ts';
import type { BuiltFunctionSpec, ChainFunctionSpec, ChainSpec } from '../spec/chain-spec.ts';
import { chainSpecDigest, functionSpecDigest } from '../spec/chain-spec-digest.ts';
import { SpecParser } from '../spec/spec-parser.ts';
import { ApplyAdmission, type ApplyAdmissionLimits } from './apply-admission.ts';
import { readChainTraffic } from './chain-traffic.ts';
import { classifiedEnd, openBuiltinEnd, type ChainEnd, type ChainEndFactory } from './chain-ends.ts';
import { DataDir, type DataDirOptions } from './data-dir.ts';
import { ChainRuntime, FUSED_UNIT, fusedUnitSpec, type FunctionRuntime, type FunctionRuntimeInit, type ResolvedImage } from './chain-runtime.ts';
import { pageOfChains, summarizeChain } from './chain-list.ts';
import { BackendSteering } from './backend-steering.ts';
import type { BackendStatus } from './backend-status.ts';
import type { BackendStateName } from '../backends/backend-control-layout.ts';
import type { ApplyResult, CaptureRequest, ChainPage, TraceRequest, ChainStatus, ChainTraffic, ControllerApi, ListChainsRequest, ControllerEvent, FunctionStatus, InstanceRates, InstanceStatus, Unsubscribe } from './controller-api.ts';
import type { CaptureSession } from '../capture/capture-session.ts';
import { ChainCaptures } from './chain-capture.ts';
import { ChainTraces } from './chain-trace.ts';
import type { TraceSession } from '../trace/trace-session.ts';
import { instanceStatsSources } from './controller-metrics.ts';
import { EventLog } from './event-log.ts';
import { Autoscaler } from './autoscaler.ts';
import { ScalingPolicy, type ScalingDecision, type ScalingPolicyOptions } from './scaling-policy.ts';
import { RateSampler } from '../metrics/rate-sampler.ts';
import { resolvePlacement } from './placement.ts';
import { placeEnds } from './replica-ends.ts';
import { ImageGc, resolveImageGcOptions, type ImageGcOptions } from './image-gc.ts';
import { RestartBackoff, type RestartBackoffOptions } from './restart-backoff.ts';
import type { StateStore, StoredChain } from './state-store.ts';

/** Options of `Controller.create`. */
export interface ControllerOptions {
  /** The functions chains may use (`registerBuiltinFunctions(new FunctionRegistry())`). */
  readonly registry: FunctionRegistry;
  /** Where images are built and looked up (default: the default store). */
  readonly store?: ImageStore;
  /**
   * Pre-booted isolates for fast instance start (default: 4 isolates of 256 MiB that preload
   * and prepare the applied chains' images; `false`: cold boots only).
   */
  readonly warm?: { readonly size: number; readonly memoryMiB: number; readonly learn?: number } | false;
  /**
   * Chain-end factories that replace the built-in one of their port type (`src/ports/`:
   * generator, sink, responder, pcap, vxlan), e.g. a test's sink that counts what it gets.
   */
  readonly endFactories?: Partial<Record<string, ChainEndFactory>>;
  /**
   * Run a fused chain's in-memory ends (generator → responder/sink) in its replicas (default
   * true; `placeEnds`); false keeps every chain's ends on the host, where `capture` and
   * `trace` see the frames entering and leaving the chain.
   */
  readonly endsInReplicas?: boolean;
  /** Longest wait for flows to finish when a chain is deleted, ms (default: the chain's largest drain timeout). */
  readonly deleteTimeoutMs?: number;
  /** How often per-instance rates are sampled and the autoscaler decides, ms (default 500). */
  readonly sampleIntervalMs?: number;
  /** Scale functions to their traffic (default true). */
  readonly autoscale?: boolean;
  /** Tuning of every function's scaling policy (sustain times, hysteresis band). */
  readonly scalingPolicy?: ScalingPolicyOptions;
  /**
   * The only directories files named in specs (pcap `read`/`write`) resolve in (default
   * `.nfvkit/data/read` and `.nfvkit/data/write` under the working directory, created on
   * first use); see `DataDir`.
   */
  readonly dataDir?: DataDir | DataDirOptions;
  /**
   * Where the desired state is kept across restarts (default: nowhere, memory only). Every
   * successful apply, scale and delete saves it; `restore()` brings it back.
   */
  readonly stateStore?: StateStore;
  /**
   * Image garbage collection (default on: unused images go 10 min after their last use, no
   * size cap; `false`: off). The controller holds a lease on the images its chains use, so
   * no prune, by it or any other process sharing the store, removes them.
   */
  readonly imageGc?: ImageGcOptions | false;
  /**
   * Crash-loop back-off of every function (a fused chain: of its replicas): a failed
   * instance's replacement waits `baseMs × 2^(k−1)` after the k-th failed restart in a row,
   * at most `maxMs`; the count is forgotten once the function stayed healthy for
   * `resetAfterMs` (and twice the last wait). Defaults 100 ms, 30 s, 10 s.
   */
  readonly restartBackoff?: RestartBackoffOptions;
  /**
   * The controller-wide limits (defaults: `SPEC_LIMITS` of `src/spec/spec-limits.ts`):
   * instances of all chains together and applies at once, each refused with
   * `LimitExceededError` (gRPC `RESOURCE_EXHAUSTED`).
   */
  readonly limits?: Partial<ApplyAdmissionLimits>;
}

/** What `Controller.restore` brought back. */
export interface RestoreResult {
  /** Chains running again, with their stored generation and replicas. */
  readonly restored: readonly string[];
  /** Chains that could not be started; they stay in the store until applied again or deleted. */
  readonly failed: readonly { readonly name: string; readonly error: Error }[];
}

/**
 * The nfvkit controller: applies chain specs declaratively (idempotent: the same spec twice
 * changes nothing), builds images through the store's cache, boots and wires instances,
 * rolls instances over to a new image when a function's config changes (existing flows
 * finish on the old ones), scales functions within their bounds and records every step
 * as an event.
 *
 * @example
 * ```ts
 * const controller = await Controller.create({ registry: registerBuiltinFunctions(new FunctionRegistry()) });
 * await controller.apply(readFileSync('topologies/web-edge.yaml', 'utf8'), 'topologies/web-edge.yaml');
 * controller.listInstances('web-edge');
 * await controller.close();
 * ```
 */
export class Controller implements ControllerApi {
  readonly events = new EventLog();
  private readonly chains = new Map<string, ChainRuntime>();
  /** Captures open on the chains (closed when their chain goes). */
  private readonly captures = new ChainCaptures();
  /** Traces running on the chains (ended when their chain goes). */
  private readonly traces = new ChainTraces();
  private readonly registry: FunctionRegistry;
  private readonly store: ImageStore;
  private readonly endFactories: Partial<Record<string, ChainEndFactory>>;
  private readonly endsInReplicas: boolean;
  /** Where files named in specs resolve (never the client-supplied source). */
  readonly dataDir: DataDir;
  private readonly deleteTimeoutMs: number | undefined;
  private readonly sampler = new RateSampler(() => instanceStatsSources(this.chains.values()));
  private readonly sampleTimer: NodeJS.Timeout;
  private readonly autoscaler: Autoscaler;
  private readonly policyOptions: ScalingPolicyOptions;
  private readonly warm: WarmPool | WarmProcessPool | undefined;
  /** Serialises applies and deletes of the same chain name. */
  private readonly pending = new Map<string, Promise<unknown>>();
  private readonly stateStore: StateStore | undefined;
  /** Stored chains whose restore failed: kept in the store until applied or deleted. */
  private readonly unrestored = new Map<string, StoredChain>();
  /** Set by `close()`: shutting down deletes the running chains, not the stored ones. */
  private closing = false;
  /** The `source` each running chain was last applied from (stored with its spec). */
  private readonly sources = new Map<string, string>();
  /** Holds the images the chains use (and those of the applies in progress) against any prune. */
  private readonly lease: ImageLease;
  /** Images resolved by the operation running on each chain name, until it ends. */
  private readonly resolving = new Map<string, Set<string>>();
  private readonly imageGc: ImageGc | undefined;
  private readonly restartBackoff: RestartBackoffOptions;
  /** Parses specs with the YAML work in a worker thread. */
  private readonly specParser = new SpecParser();
  private readonly admission: ApplyAdmission;

  private constructor(options: ControllerOptions, warm: WarmPool | WarmProcessPool | undefined) {
    this.registry = options.registry;
    this.store = options.store ?? ImageStore.open();
    this.endFactories = { ...options.endFactories };
    this.endsInReplicas = options.endsInReplicas ?? true;
    this.dataDir = options.dataDir instanceof DataDir ? options.dataDir : DataDir.resolve(options.dataDir);
    this.deleteTimeoutMs = options.deleteTimeoutMs;
    this.warm = warm;
    this.policyOptions = options.scalingPolicy ?? {};
    this.stateStore = options.stateStore;
    this.lease = this.store.lease('controller');
    this.imageGc =
      options.imageGc === false
        ? undefined
        : new ImageGc(
            {
              store: this.store,
              lease: this.lease,
              inUse: () => this.imagesInUse(),
              record: (e) => this.events.record(e),
              removed: (paths) => this.warm?.forget(paths),
            },
            options.imageGc,
          );
    this.imageGc?.start();
    this.restartBackoff = options.restartBackoff ?? {};
    this.admission = new ApplyAdmission(options.limits);
    const interval = options.sampleIntervalMs ?? 500;
    this.sampleTimer = setInterval(() => this.sampler.sample(performance.now()), interval);
    this.sampleTimer.unref();
    this.autoscaler = new Autoscaler(
      { chains: () => this.chains.values(), rates: (chain) => this.sampler.latest(chain), scale: (chain, fn, d) => this.autoscale(chain, fn, d) },
      interval,
    );
    if (options.autoscale !== false) this.autoscaler.start();
  }

  /** Throws `InvalidArgumentError` for a `restartBackoff` that cannot back off. */
  static async create(options: ControllerOptions): Promise<Controller> {
    // Checked before anything starts (a chain would only find out after opening its ports).
    new RestartBackoff(options.restartBackoff);
    if (options.imageGc !== false) resolveImageGcOptions(options.imageGc);
    const warmOptions = options.warm === undefined ? { size: 4, memoryMiB: 256 } : options.warm;
    // Warm isolates of the kind the chains' data planes will run: processes where the addon loads, else worker threads.
    const warm =
      warmOptions === false || warmOptions.size === 0
        ? undefined
        : defaultInstanceMode() === 'process'
          ? await WarmProcessPool.create({ size: warmOptions.size, memoryMiB: warmOptions.memoryMiB })
          : await WarmPool.create({ learn: 8, ...warmOptions });
    return new Controller(options, warm);
  }

  async apply(yamlText: string, source: string): Promise<ApplyResult> {
    // Limits first (applies at once, then the spec's instances), the YAML off the event loop.
    const ticket = this.admission.enter();
    try {
      const spec = await this.specParser.parse(yamlText, source, this.registry);
      ticket.reserve(spec, this.runtimes().map((c) => c.spec));
      return await this.applyAdmitted(spec, yamlText, source);
    } finally {
      ticket.release();
    }
  }

  private applyAdmitted(spec: ChainSpec, yamlText: string, source: string): Promise<ApplyResult> {
    const name = spec.metadata.name;
    return this.exclusive(name, () => this.persistAfter(async () => {
      const digest = chainSpecDigest(spec);
      const existing = this.chains.get(name);
      if (existing !== undefined && existing.phase === 'Deleting') throw new FailedPreconditionError(`chain "${name}" is being deleted`);
      if (existing !== undefined && existing.digest === digest) return { chain: existing.status(), changed: false };
      if (existing !== undefined && structureDigest(existing.spec) === structureDigest(spec)) {
        await existing.serial(() => this.update(existing, spec, yamlText, digest));
        this.sources.set(name, source);
        return { chain: existing.status(), changed: true };
      }
      if (existing !== undefined) {
        this.events.record({ type: 'applied', chain: name, reason: 'ports or function list changed: recreating the chain' });
        await this.remove(existing);
      }
      this.unrestored.delete(name);
      const chain = await this.create(spec, yamlText, digest, source);
      return { chain: chain.status(), changed: true };
    }));
  }

  /**
   * Starts every chain of the state store (none without one), each with its stored spec,
   * generation and desired replicas (clamped to the spec's bounds; the autoscaler then waits
   * a cooldown before moving them). Call it once, before serving. A chain that fails to
   * start is reported in `failed` and an `applied` event, and stays stored. Throws
   * `StateStoreError`, starting nothing, when the snapshot is corrupt.
   */
  async restore(): Promise<RestoreResult> {
    if (this.stateStore === undefined) return { restored: [], failed: [] };
    const { chains } = this.stateStore.load();
    const restored: string[] = [];
    const failed: { name: string; error: Error }[] = [];
    for (const stored of chains) {
      try {
        // Off the event loop too: the chains restored before this one already run their data planes on it.
        const spec = await this.specParser.parse(stored.specYaml, stored.source, this.registry);
        if (spec.metadata.name !== stored.name) throw new FailedPreconditionError(`stored spec of "${stored.name}" names chain "${spec.metadata.name}"`);
        await this.exclusive(stored.name, async () => {
          if (this.chains.has(stored.name)) throw new FailedPreconditionError(`chain "${stored.name}" is already running`);
          await this.create(spec, stored.specYaml, chainSpecDigest(spec), stored.source, stored);
        });
        restored.push(stored.name);
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        if (!this.chains.has(stored.name)) this.unrestored.set(stored.name, stored);
        this.events.record({ type: 'applied', chain: stored.name, reason: `restore from the state store failed: ${error.message}`, details: { generation: stored.generation } });
        failed.push({ name: stored.name, error });
      }
    }
    return { restored, failed };
  }

  getChain(name: string): ChainStatus {
    return this.chain(name).status();
  }

  /** Every chain's full status, specs included (in process; transports serve `listChainSummaries`). */
  listChains(): ChainStatus[] {
    return [...this.chains.values()].map((c) => c.status()).sort((a, b) => a.name.localeCompare(b.name));
  }

  listChainSummaries(request: ListChainsRequest = {}): ChainPage {
    return pageOfChains(this.chains.values(), (c) => c.name, request, (c) => summarizeChain(c.status()));
  }

  async deleteChain(name: string): Promise<void> {
    if (!this.chains.has(name) && this.unrestored.delete(name)) return this.persist();
    const chain = this.chain(name);
    if (chain.phase === 'Deleting') throw new FailedPreconditionError(`chain "${name}" is already being deleted`);
    await this.exclusive(name, () => this.persistAfter(() => this.remove(chain)));
    this.imageGc?.chainDeleted();
  }

  /**
   * Ids of the images in use: those of every running chain (current images and the images
   * of instances still draining) and those resolved by applies in progress.
   */
  imagesInUse(): Set<string> {
    const ids = new Set<string>();
    for (const chain of this.chains.values()) for (const id of chain.imageIds()) ids.add(id);
    for (const pending of this.resolving.values()) for (const id of pending) ids.add(id);
    return ids;
  }

  /** How much the image store holds and how much of it live leases hold (for gauges). */
  imageStoreUsage(): ImageStoreUsage {
    return this.store.usage();
  }

  /** The image store's size cap in bytes, if the collector has one. */
  get imageStoreCapBytes(): number | undefined {
    return this.imageGc?.capBytes;
  }

  listInstances(chain?: string): InstanceStatus[] {
    const chains = chain === undefined ? [...this.chains.values()] : [this.chain(chain)];
    return chains.flatMap((c) => c.instances());
  }

  async scaleFunction(chainName: string, fnName: string, replicas: number): Promise<FunctionStatus> {
    const chain = this.chain(chainName);
    // A fused chain scales as one: any of its functions (or `fused`) names its replicas.
    const fn = chain.functions.find((f) => f.spec.name === fnName || f.parts?.some((p) => p.name === fnName) === true);
    if (fn === undefined) throw new NotFoundError(`chain "${chainName}" has no function "${fnName}"; it has: ${chain.spec.spec.functions.map((f) => f.name).join(', ')}`);
    if (!Number.isInteger(replicas)) throw new InvalidArgumentError(`replicas must be a whole number, got ${replicas}`);
    const { min, max } = fn.spec.scaling;
    if (replicas < min || replicas > max) throw new FailedPreconditionError(`replicas ${replicas} outside ${fnName}'s scaling bounds ${min}..${max}`);
    if (chain.phase === 'Deleting') throw new FailedPreconditionError(`chain "${chainName}" is being deleted`);
    await chain.serial(async () => {
      const from = fn.desired;
      if (from === replicas) return;
      chain.setDesired(fn, replicas);
      fn.policy.noteStep(performance.now());
      this.events.record({ type: 'scaled', chain: chainName, function: fnName, reason: `manual: ${from} → ${replicas} replicas`, details: { from, to: replicas, source: 'ScaleFunction' } });
      await chain.reconcile();
    });
    await this.persist();
    return chain.functionStatus(fn);
  }

  subscribe(listener: (event: ControllerEvent) => void, afterSeq: number): Unsubscribe {
    return this.events.subscribe(listener, afterSeq);
  }

  stats(chain?: string): InstanceRates[] {
    if (chain !== undefined) this.chain(chain);
    return this.sampler.latest(chain);
  }

  chainTraffic(chain: string): ChainTraffic {
    return readChainTraffic(this.chain(chain));
  }

  listBackends(chain: string, fn?: string): BackendStatus[] {
    return this.chain(chain).backends(fn);
  }

  async setBackendState(chainName: string, fn: string | undefined, service: string, backend: string, state: BackendStateName): Promise<BackendStatus> {
    const chain = this.chain(chainName);
    if (chain.phase === 'Deleting') throw new FailedPreconditionError(`chain "${chainName}" is being deleted`);
    const { steering } = chain.steeringOf(fn);
    if (steering.setState(service, backend, state, 'SetBackendState')) await this.persist();
    const row = chain.backends(steering.fn).find((b) => b.service === service && (b.backend === backend || b.address === backend));
    if (row === undefined) throw new NotFoundError(`service "${service}" has no backend ${backend}`);
    return row;
  }

  openCapture(chain: string, request: CaptureRequest): CaptureSession {
    return this.captures.openOn(this.chain(chain), request);
  }

  openTrace(chain: string, request: TraceRequest): TraceSession {
    return this.traces.openOn(this.chain(chain), request);
  }

  /** The running chain called `name` (for the metrics layer and tests). */
  chain(name: string): ChainRuntime {
    const found = this.chains.get(name);
    if (found === undefined) throw new NotFoundError(`no chain named "${name}"`);
    return found;
  }

  /** Every running chain. */
  runtimes(): ChainRuntime[] {
    return [...this.chains.values()];
  }

  /** Samples every instance's rates now (also done every `sampleIntervalMs`). */
  sampleStats(): InstanceRates[] {
    return this.sampler.sample(performance.now());
  }

  /** Deletes every chain, giving flows at most `drainMs` to finish, and closes the warm pool. */
  async close(drainMs = 1000): Promise<void> {
    this.closing = true;
    clearInterval(this.sampleTimer);
    this.autoscaler.stop();
    for (const chain of [...this.chains.values()]) if (chain.phase !== 'Deleting') await this.remove(chain, drainMs).catch(() => undefined);
    await this.warm?.close();
    this.specParser.close();
    if (this.imageGc !== undefined) this.imageGc.close();
    else this.closeLease();
  }

  private closeLease(): void {
    try {
      this.lease.close();
    } catch {
      // the lease file is gone anyway
    }
  }

  /** Creates a chain; `restored`: from the state store, with its generation and replicas. */
  private async create(spec: ChainSpec, yamlText: string, digest: string, source: string, restored?: StoredChain): Promise<ChainRuntime> {
    const name = spec.metadata.name;
    const placement = resolvePlacement(spec.spec);
    const functions: FunctionRuntimeInit[] = placement.placement === 'fused' ? [await this.fusedRuntime(name, builtParts(spec))] : [];
    for (const fnSpec of placement.placement === 'fused' ? [] : spec.spec.functions) {
      const image = await this.resolveImage(name, fnSpec);
      const definition = this.registry.names().includes(image.manifest.name) ? this.registry.get(image.manifest.name) : undefined;
      functions.push({
        spec: fnSpec,
        image,
        desired: fnSpec.scaling.min,
        policy: new ScalingPolicy(fnSpec.scaling, this.policyOptions),
        sharded: definition?.sharded === true,
        ...this.steering(name, fnSpec.name, fnSpec),
      });
    }
    await this.warm?.learnImages(functions.map((f) => ({ imagePath: f.image.imagePath, memoryMiB: f.image.manifest.memoryMiB })));
    const dataDir = this.dataDir;
    const pool = createDataPlanePool();
    // In-memory ends of a fused chain run in its replicas; the rest are opened here.
    const endsPlacement = this.endsInReplicas ? placeEnds(spec, placement, (type) => this.endFactories[type] !== undefined) : { where: 'host' as const, reason: 'the controller keeps every end on the host (endsInReplicas: false)' };
    let hostEnds: { inside: ChainEnd; outside: ChainEnd } | undefined;
    if (endsPlacement.where === 'host') {
      const inside = await this.openEnd(spec.spec.ingress, { chain: name, side: 'inside', dataDir, pool });
      let outside: ChainEnd;
      try {
        outside = await this.openEnd(spec.spec.egress, { chain: name, side: 'outside', dataDir, pool });
      } catch (err) {
        await inside.close();
        throw err;
      }
      hostEnds = { inside: spec.spec.classifier === undefined ? inside : classifiedEnd(inside, spec.spec.classifier), outside };
    }
    const chain = new ChainRuntime(spec, yamlText, digest, functions, hostEnds, (e) => this.events.record(e), this.warm, pool, placement, this.restartBackoff, endsPlacement);
    if (restored !== undefined) this.restoreDesired(chain, restored);
    this.chains.set(name, chain);
    this.sources.set(name, source);
    this.events.record({ type: 'applied', chain: name, reason: restored === undefined ? 'chain created' : 'chain restored from the state store', details: { generation: chain.generation, functions: spec.spec.functions.map((f) => f.name).join(','), placement: placement.placement, placementReason: placement.reason, ends: endsPlacement.where, endsReason: endsPlacement.reason } });
    await chain.serial(() => chain.reconcile());
    chain.loop.start();
    return chain;
  }

  /** Same ports and functions, other configs or scaling: roll images, clamp replicas. */
  private async update(chain: ChainRuntime, spec: ChainSpec, yamlText: string, digest: string): Promise<void> {
    const changes: string[] = [];
    const unit = chain.functions[0];
    if (unit.parts !== undefined) {
      const parts = builtParts(spec);
      const unitSpec = fusedUnitSpec(parts);
      if (parts.some((p, i) => functionSpecDigest(p) !== functionSpecDigest(unit.parts![i]))) {
        const image = await this.resolveFusedImage(chain.name, parts, unitSpec);
        if (image.id !== unit.image.id) changes.push(`${FUSED_UNIT}: image ${unit.image.id.slice(0, 12)} → ${image.id.slice(0, 12)}`);
        chain.updateFunction(unit, { spec: unit.spec, image });
      }
      this.clampReplicas(chain, unit, unitSpec);
      chain.updateFunction(unit, { spec: unitSpec, parts });
      this.resteer(chain, unit, unitSpec);
    }
    for (const [k, fnSpec] of (unit.parts === undefined ? spec.spec.functions : []).entries()) {
      const fn = chain.functions[k];
      if (functionSpecDigest(fn.spec) !== functionSpecDigest(fnSpec)) {
        const image = await this.resolveImage(chain.name, fnSpec);
        if (image.id !== fn.image.id) changes.push(`${fnSpec.name}: image ${fn.image.id.slice(0, 12)} → ${image.id.slice(0, 12)}`);
        chain.updateFunction(fn, { spec: fn.spec, image });
      }
      this.clampReplicas(chain, fn, fnSpec);
      chain.updateFunction(fn, { spec: fnSpec });
      this.resteer(chain, fn, fnSpec);
    }
    await this.warm?.learnImages(chain.functions.map((f) => ({ imagePath: f.image.imagePath, memoryMiB: f.image.manifest.memoryMiB })));
    chain.applySpec(spec, yamlText, digest);
    this.events.record({ type: 'applied', chain: chain.name, reason: changes.length > 0 ? `rolling update: ${changes.join('; ')}` : 'spec updated', details: { generation: chain.generation } });
    await chain.reconcile();
  }

  /** Clamps a function's (or fused unit's) replicas to the bounds of its new spec (an event when they move). */
  private clampReplicas(chain: ChainRuntime, fn: FunctionRuntime, fnSpec: ChainFunctionSpec): void {
    const desired = Math.min(fnSpec.scaling.max, Math.max(fnSpec.scaling.min, fn.desired));
    if (desired !== fn.desired) {
      this.events.record({ type: 'scaled', chain: chain.name, function: fnSpec.name, reason: `scaling bounds changed: ${fn.desired} → ${desired} replicas`, details: { from: fn.desired, to: desired, source: 'ApplyChain' } });
      chain.setDesired(fn, desired);
    }
  }

  /** The runtime of a fused chain's one unit: every function in one image, replicas scaled together. */
  private async fusedRuntime(chain: string, parts: readonly BuiltFunctionSpec[]): Promise<FunctionRuntimeInit> {
    const spec = fusedUnitSpec(parts);
    return {
      spec,
      image: await this.resolveFusedImage(chain, parts, spec),
      desired: spec.scaling.min,
      // Each replica is one busy thread: the autoscaler adds none beyond the cores (a manual scale may).
      policy: new ScalingPolicy(spec.scaling, { outCap: availableParallelism(), ...this.policyOptions }),
      sharded: parts.some((p) => this.registry.get(p.function).sharded === true),
      ...shardedPortsOf(parts.map((p) => ({ definition: this.registry.get(p.function), config: p.config }))),
      parts,
      ...this.steering(chain, FUSED_UNIT, undefined, parts),
    };
  }

  /**
   * `{ backends }` for a function with backends (a fused unit: its one part with backends;
   * two such parts in one unit share one control array, which cannot be: none then).
   */
  private steering(chain: string, name: string, fnSpec: ChainFunctionSpec | undefined, parts?: readonly BuiltFunctionSpec[]): { backends?: BackendSteering } {
    const candidates = (parts ?? (fnSpec === undefined ? [] : [fnSpec])).filter((p): p is BuiltFunctionSpec => p.function !== undefined && this.registry.names().includes(p.function) && this.registry.get(p.function).backends !== undefined);
    if (candidates.length !== 1) return {};
    const part = candidates[0];
    const contract = this.registry.get(part.function).backends!;
    return { backends: new BackendSteering(chain, parts === undefined ? name : part.name, contract, part.config, part.healthChecks, (e) => this.events.record(e)) };
  }

  /** Brings a function's backend steering to its new spec (an apply that changes config or checks). */
  private resteer(chain: ChainRuntime, fn: FunctionRuntime, fnSpec: ChainFunctionSpec): void {
    const next = this.steering(chain.name, fnSpec.name, fnSpec, fn.parts);
    const part = fn.parts?.find((p) => p.name === next.backends?.fn) ?? fnSpec;
    if (next.backends !== undefined && fn.backends !== undefined && fn.backends.fn === next.backends.fn && part.function !== undefined) {
      fn.backends.configure(part.config, part.healthChecks);
      return;
    }
    chain.replaceBackends(fn, next.backends);
  }

  private async resolveFusedImage(chain: string, parts: readonly BuiltFunctionSpec[], unit: BuiltFunctionSpec): Promise<ResolvedImage> {
    const result = await buildFusedImage(
      parts.map((p) => ({ name: p.name, definition: this.registry.get(p.function), config: p.rawConfig })),
      { store: this.store, memoryMiB: unit.resources.memoryMiB, lease: this.lease },
    );
    this.noteResolved(chain, result.manifest.id, result.cache !== 'hit');
    this.events.record({
      type: 'image-built',
      chain,
      function: FUSED_UNIT,
      reason: result.cache === 'hit' ? 'image store cache hit' : 'fused image built',
      details: { imageId: result.manifest.id, bytes: result.manifest.size, cache: result.cache, functions: parts.map((p) => p.name).join('+') },
    });
    return { id: result.manifest.id, imagePath: result.imagePath, manifest: result.manifest };
  }

  /** Applies an autoscaler decision: event, then reconcile. */
  private async autoscale(chain: ChainRuntime, fn: FunctionRuntime, decision: ScalingDecision): Promise<void> {
    if (chain.phase === 'Deleting') return;
    await chain.serial(async () => {
      const from = fn.desired;
      const { min, max } = fn.spec.scaling;
      const to = Math.min(max, Math.max(min, decision.replicas));
      if (to === from) return;
      chain.setDesired(fn, to);
      this.events.record({ type: 'scaled', chain: chain.name, function: fn.spec.name, reason: decision.reason, details: { ...decision.details, from, to, source: 'autoscaler' } });
      await chain.reconcile();
    });
    await this.persist().catch((err: unknown) => {
      this.events.record({ type: 'scaled', chain: chain.name, function: fn.spec.name, reason: `desired replicas not saved: ${(err as Error).message}` });
    });
  }

  /** Sets a restored chain's generation, apply time and replicas (clamped to its bounds) before its first reconcile. */
  private restoreDesired(chain: ChainRuntime, stored: StoredChain): void {
    chain.restoreGeneration(stored.generation, stored.appliedAt);
    const now = performance.now();
    for (const fn of chain.functions) {
      const wanted = stored.replicas[fn.spec.name];
      if (wanted === undefined) continue;
      chain.setDesired(fn, Math.min(fn.spec.scaling.max, Math.max(fn.spec.scaling.min, wanted)));
      // A restored count is a step: the autoscaler waits a cooldown before moving it.
      fn.policy.noteStep(now);
    }
    for (const fn of chain.functions) {
      const steering = fn.backends;
      const states = steering === undefined ? undefined : stored.backends?.[steering.fn];
      if (steering !== undefined && states !== undefined) steering.restoreOverrides(states, 'restored from the state store');
    }
  }

  /** Runs `op`, then saves the desired state whether `op` succeeded or not (memory and store stay alike). */
  private async persistAfter<T>(op: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await op();
    } catch (err) {
      await this.persist().catch(() => undefined);
      throw err;
    }
    await this.persist();
    return result;
  }

  /** Saves every chain's spec, generation and desired replicas to the state store (none: nothing; not while closing). */
  private async persist(): Promise<void> {
    if (this.stateStore === undefined || this.closing) return;
    const chains = new Map<string, StoredChain>(this.unrestored);
    for (const chain of this.chains.values()) {
      if (chain.phase === 'Deleting') continue;
      chains.set(chain.name, {
        name: chain.name,
        source: this.sources.get(chain.name) ?? '-',
        specYaml: chain.specYaml,
        generation: chain.generation,
        appliedAt: chain.appliedAt,
        replicas: Object.fromEntries(chain.functions.map((f) => [f.spec.name, f.desired])),
        ...storedBackends(chain),
      });
    }
    await this.stateStore.save({ chains: [...chains.values()].sort((a, b) => a.name.localeCompare(b.name)) });
  }

  private async remove(chain: ChainRuntime, drainMs?: number): Promise<void> {
    const timeout = drainMs ?? this.deleteTimeoutMs ?? Math.max(...chain.functions.map((f) => f.spec.scaling.drainTimeoutSeconds)) * 1000;
    this.captures.closeAll(chain);
    this.traces.closeAll(chain);
    try {
      await chain.serial(() => chain.delete(timeout));
    } finally {
      this.chains.delete(chain.name);
    }
  }

  private async resolveImage(chain: string, fnSpec: ChainFunctionSpec): Promise<ResolvedImage> {
    if (fnSpec.image !== undefined) {
      const entry = this.store.resolve(fnSpec.image);
      if (!this.lease.hold(entry.id)) throw new NotFoundError(`image ${fnSpec.image} was removed from the store meanwhile`);
      this.noteResolved(chain, entry.id, false);
      const manifest = this.store.verify(entry.id);
      return { id: manifest.id, imagePath: this.store.imagePath(entry.id), manifest };
    }
    const definition = this.registry.get(fnSpec.function);
    const result = await buildImage(definition, fnSpec.rawConfig, { store: this.store, memoryMiB: fnSpec.resources.memoryMiB, lease: this.lease });
    this.noteResolved(chain, result.manifest.id, result.cache !== 'hit');
    this.events.record({
      type: 'image-built',
      chain,
      function: fnSpec.name,
      reason: result.cache === 'hit' ? 'image store cache hit' : 'image built',
      details: { imageId: result.manifest.id, bytes: result.manifest.size, cache: result.cache },
    });
    return { id: result.manifest.id, imagePath: result.imagePath, manifest: result.manifest };
  }

  /** Keeps image `id` in use until the operation on `chain` ends; after a build that added it, lets a capped store evict. */
  private noteResolved(chain: string, id: string, added: boolean): void {
    let ids = this.resolving.get(chain);
    if (ids === undefined) this.resolving.set(chain, (ids = new Set()));
    ids.add(id);
    if (added) this.imageGc?.imageAdded(id);
  }

  private async openEnd(spec: ChainSpec['spec']['ingress'], context: Parameters<ChainEndFactory>[1]): Promise<ChainEnd> {
    // The port type's own factory (`BUILTIN_PORTS`) unless the controller was given another.
    const factory = this.endFactories[spec.type] ?? openBuiltinEnd;
    return factory(spec, context);
  }

  private exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.pending.get(name) ?? Promise.resolve();
    // Images an operation resolved count as in use until it ends (then its chain holds them, or nothing does).
    const op = (): Promise<T> => work().finally(() => this.resolving.delete(name));
    const next = before.then(op, op);
    const settled = next.catch(() => undefined);
    this.pending.set(name, settled);
    void settled.then(() => {
      if (this.pending.get(name) === settled) this.pending.delete(name);
    });
    return next;
  }
}

/** `{ backends }` of a stored chain: the states set at run time that differ from the configuration (nothing when none). */
function storedBackends(chain: ChainRuntime): { backends?: Record<string, Record<string, BackendStateName>> } {
  const backends: Record<string, Record<string, BackendStateName>> = {};
  for (const fn of chain.functions) {
    const overrides = fn.backends?.overrides();
    if (fn.backends !== undefined && overrides !== undefined && Object.keys(overrides).length > 0) backends[fn.backends.fn] = overrides;
  }
  return Object.keys(backends).length === 0 ? {} : { backends };
}

/** What must stay equal for an update in place: ports, classifier and the function list. */
function structureDigest(spec: ChainSpec): string {
  return canonicalJson({ ingress: spec.spec.ingress, egress: spec.spec.egress, classifier: spec.spec.classifier ?? null, functions: spec.spec.functions.map((f) => f.name), placement: spec.spec.placement });
}

/** `{ shardedPorts }` of the first sharded part that cuts a port range (`PipelineDefinition.shardedPorts`), or nothing. */
function shardedPortsOf(parts: ReadonlyArray<{ definition: PipelineDefinition<unknown>; config: unknown }>): { shardedPorts?: { from: number; to: number } } {
  const part = parts.find((p) => p.definition.sharded === true && p.definition.shardedPorts !== undefined);
  if (part === undefined) return {};
  const { from, to } = part.definition.shardedPorts!(part.config);
  return { shardedPorts: { from, to } };
}

/** A spec's functions as built ones (fused placement refuses prebuilt images: `checkChainSpec`). */
function builtParts(spec: ChainSpec): BuiltFunctionSpec[] {
  return spec.spec.functions.map((f) => {
    if (f.function === undefined) throw new FailedPreconditionError(`function "${f.name}" is a prebuilt image: fused placement needs every function built from \`function\``);
    return f;
  });
}
