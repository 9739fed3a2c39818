import { BackendControlBlock } from '../backends/backend-control-block.ts';
import { BACKEND_STATE_NAMES, BackendState, type BackendStateName, type BackendStateValue } from '../backends/backend-control-layout.ts';
import type { FunctionBackend, FunctionBackends } from '../backends/function-backends.ts';
import { HealthChecker, type HealthChange, type HealthTarget } from '../backends/health-checker.ts';
import type { Probe } from '../backends/health-probe.ts';
import { NotFoundError } from '../errors/catalog.ts';
import { canonicalJson } from '../image/canonical-json.ts';
import type { HealthCheckSpec } from '../spec/chain-spec.ts';
import type { BackendHealthName, BackendStatus } from './backend-status.ts';
import type { EventInput } from './event-log.ts';

/** One live instance as the steering reads it: its image and its counters (of this function). */
export interface SteeredInstance {
  readonly imagePath: string;
  /** The instance's value of this function's counter `name` (0 when it has none). */
  counter(name: string): number;
}

/** One control array: for the instances of one image, backends in that image's order. */
interface ControlOfImage {
  readonly block: BackendControlBlock;
  readonly keys: readonly string[];
}

const key = (service: string, backend: string): string => `${service}\u0000${backend}`;

/**
 * The controller's side of one function with backends (`PipelineDefinition.backends`): the
 * state wanted for each backend — from the configuration, then `SetBackendState` — and its
 * health when checked; one control array per image of the function, which every instance of
 * that image gets at boot (so instances booted later and replacements start with the wanted
 * states) and which every change is written to at once. A backend's effective state is its
 * state, or `draining` while its health check says `down`. Each change is an event
 * (`backend-state`, `backend-health`).
 *
 * @example
 * ```ts
 * const steering = new BackendSteering('web-edge', 'lb', definition.backends, fnSpec.config, fnSpec.healthChecks, record);
 * const block = steering.blockFor(image.imagePath, (n) => dataPlane.memory.allocate(n));
 * steering.setState('web', '198.18.3.13:8080', 'draining', 'SetBackendState');
 * ```
 */
export class BackendSteering {
  private list: FunctionBackend[] = [];
  private readonly wanted = new Map<string, BackendStateValue>();
  private readonly configured = new Map<string, BackendStateValue>();
  private readonly controls = new Map<string, ControlOfImage>();
  private checker: HealthChecker | undefined;
  private checksDigest = '';
  private checkedKeys = new Map<string, string>();
  private running = false;

  constructor(
    readonly chain: string,
    /** The function's name in the chain spec (a fused chain: the part's). */
    readonly fn: string,
    private readonly contract: FunctionBackends<unknown>,
    config: unknown,
    checks: readonly HealthCheckSpec[],
    private readonly record: (event: EventInput) => void,
    private readonly probe?: Probe,
  ) {
    this.configure(config, checks);
  }

  /**
   * Takes a new configuration and checks (an apply): backends that stay keep the state set
   * at run time unless the configuration changed theirs; new ones start as configured;
   * health checks restart when they changed.
   */
  configure(config: unknown, checks: readonly HealthCheckSpec[]): void {
    const list = this.contract.list(config);
    const keys = new Set<string>();
    for (const b of list) {
      const k = key(b.service, b.name);
      keys.add(k);
      if (!this.wanted.has(k) || this.configured.get(k) !== b.configured) this.wanted.set(k, b.configured);
      this.configured.set(k, b.configured);
    }
    for (const k of [...this.wanted.keys()]) {
      if (!keys.has(k)) {
        this.wanted.delete(k);
        this.configured.delete(k);
      }
    }
    this.list = list;
    const digest = canonicalJson({ checks, backends: list.map((b) => [b.service, b.name, b.address, b.port]) });
    if (digest !== this.checksDigest) {
      this.checksDigest = digest;
      this.checker?.stop();
      this.checker = checks.length === 0 ? undefined : new HealthChecker(this.targets(checks), (c) => this.onHealth(c), this.probe);
      if (this.running) this.checker?.start();
    }
    this.writeAll();
  }

  /** Starts the health checks (if any). */
  start(): void {
    this.running = true;
    this.checker?.start();
  }

  /** Stops the health checks. */
  stop(): void {
    this.running = false;
    this.checker?.stop();
  }

  /**
   * The control array of `imagePath`'s instances (made on first use with the effective
   * states, on memory from `allocate`: the data plane's, which its instances map).
   */
  blockFor(imagePath: string, allocate: (bytes: number) => SharedArrayBuffer): BackendControlBlock {
    let control = this.controls.get(imagePath);
    if (control === undefined) {
      control = { block: BackendControlBlock.create(this.list.length, allocate), keys: this.list.map((b) => key(b.service, b.name)) };
      this.controls.set(imagePath, control);
      this.write(control);
    }
    return control.block;
  }

  /** Forgets the arrays of images no instance runs any more (`live`: image paths in use). */
  forgetImages(live: ReadonlySet<string>, release: (sab: SharedArrayBuffer) => void): void {
    for (const [path, control] of this.controls) {
      if (live.has(path)) continue;
      this.controls.delete(path);
      release(control.block.buffer);
    }
  }

  /**
   * Sets a backend's state (`active`, `draining`, `removed`) for every instance, now and
   * later; `by` says who asked (event reason). Throws `NotFoundError` for an unknown service
   * or backend. Returns false when it already had that state.
   */
  setState(service: string, backend: string, state: BackendStateName, by: string): boolean {
    const b = this.find(service, backend);
    const k = key(b.service, b.name);
    const from = this.wanted.get(k) ?? BackendState.ACTIVE;
    const to = BACKEND_STATE_NAMES.indexOf(state) as BackendStateValue;
    if (from === to) return false;
    this.wanted.set(k, to);
    this.writeAll();
    const verb = state === 'active' ? 'activated' : state === 'draining' ? 'drained: no new flows, established ones stay' : 'removed: no new flows, established ones dropped';
    this.record({
      type: 'backend-state',
      chain: this.chain,
      function: this.fn,
      reason: `backend ${b.name} of service ${b.service} ${verb} (${by})`,
      details: { service: b.service, backend: b.name, from: BACKEND_STATE_NAMES[from], to: state, effective: BACKEND_STATE_NAMES[this.effective(k)], source: by },
    });
    return true;
  }

  /**
   * The states set at run time that differ from the configuration, by `"<service> <backend>"`
   * (what the state store keeps).
   */
  overrides(): Record<string, BackendStateName> {
    const out: Record<string, BackendStateName> = {};
    for (const b of this.list) {
      const k = key(b.service, b.name);
      const wanted = this.wanted.get(k);
      if (wanted !== undefined && wanted !== this.configured.get(k)) out[`${b.service} ${b.name}`] = BACKEND_STATE_NAMES[wanted];
    }
    return out;
  }

  /** Sets the states `overrides()` gave (a restart); entries naming a backend the configuration no longer has are skipped. */
  restoreOverrides(overrides: Readonly<Record<string, BackendStateName>>, by: string): void {
    for (const [name, state] of Object.entries(overrides)) {
      const at = name.lastIndexOf(' ');
      const service = name.slice(0, at);
      const backend = name.slice(at + 1);
      if (!this.list.some((b) => b.service === service && b.name === backend)) continue;
      this.setState(service, backend, state, by);
    }
  }

  /** Every backend with its state, health and counts over `instances` (the function's live instances). */
  status(instances: Iterable<SteeredInstance>): BackendStatus[] {
    const connections = new Map<string, number>();
    const newFlows = new Map<string, number>();
    for (const inst of instances) {
      const control = this.controls.get(inst.imagePath);
      if (control === undefined) continue;
      control.keys.forEach((k, i) => {
        connections.set(k, (connections.get(k) ?? 0) + Math.max(0, inst.counter(this.contract.connectionsCounter(i))));
        newFlows.set(k, (newFlows.get(k) ?? 0) + Math.max(0, inst.counter(this.contract.newFlowsCounter(i))));
      });
    }
    return this.list.map((b) => {
      const k = key(b.service, b.name);
      const checked = this.checkedKeys.get(k);
      const report = checked === undefined ? undefined : this.checker?.report(checked);
      return {
        chain: this.chain,
        function: this.fn,
        service: b.service,
        backend: b.name,
        address: b.address,
        port: b.port,
        protocol: b.protocol,
        state: BACKEND_STATE_NAMES[this.wanted.get(k) ?? BackendState.ACTIVE],
        health: (report?.state ?? 'unchecked') as BackendHealthName,
        healthDetail: report?.detail ?? '',
        healthChangedAt: report?.changedAt ?? 0,
        effective: BACKEND_STATE_NAMES[this.effective(k)],
        connections: connections.get(k) ?? 0,
        newFlows: newFlows.get(k) ?? 0,
      };
    });
  }

  private find(service: string, backend: string): FunctionBackend {
    const own = this.list.filter((b) => b.service === service);
    if (own.length === 0) {
      throw new NotFoundError(`function "${this.fn}" of chain "${this.chain}" has no service "${service}"; it has ${[...new Set(this.list.map((b) => `"${b.service}"`))].join(', ')}`);
    }
    const found = own.find((b) => b.name === backend || (b.address === backend && own.filter((o) => o.address === backend).length === 1));
    if (found === undefined) throw new NotFoundError(`service "${service}" of ${this.chain}/${this.fn} has no backend ${backend}; it has ${own.map((b) => b.name).join(', ')}`);
    return found;
  }

  /** The state instances apply: the wanted one, but draining while the backend is down. */
  private effective(k: string): BackendStateValue {
    const wanted = this.wanted.get(k) ?? BackendState.ACTIVE;
    if (wanted !== BackendState.ACTIVE) return wanted;
    const checked = this.checkedKeys.get(k);
    return checked !== undefined && this.checker?.report(checked)?.state === 'down' ? BackendState.DRAINING : BackendState.ACTIVE;
  }

  private write(control: ControlOfImage): void {
    control.keys.forEach((k, i) => control.block.set(i, this.wanted.has(k) ? this.effective(k) : BackendState.ACTIVE));
  }

  private writeAll(): void {
    for (const control of this.controls.values()) this.write(control);
  }

  private targets(checks: readonly HealthCheckSpec[]): HealthTarget[] {
    this.checkedKeys = new Map();
    const targets: HealthTarget[] = [];
    for (const check of checks) {
      for (const b of this.list) {
        if (b.service !== check.service) continue;
        const k = key(b.service, b.name);
        this.checkedKeys.set(k, k);
        targets.push({
          key: k,
          probe: { protocol: check.protocol, address: check.addresses[b.name] ?? b.address, port: check.port ?? b.port, path: check.path, timeoutMs: Math.round(check.timeoutSeconds * 1000) },
          intervalMs: Math.round(check.intervalSeconds * 1000),
          rise: check.rise,
          fall: check.fall,
        });
      }
    }
    return targets;
  }

  private onHealth(change: HealthChange): void {
    const b = this.list.find((x) => key(x.service, x.name) === change.key);
    if (b === undefined) return;
    this.writeAll();
    // The first probe of a backend that answers is no news.
    if (change.from === 'unknown' && change.to === 'up') return;
    const effect = change.to === 'down' ? 'new flows go to the other backends' : 'takes new flows again';
    this.record({
      type: 'backend-health',
      chain: this.chain,
      function: this.fn,
      reason: `backend ${b.name} of service ${b.service} ${change.to}: ${change.detail} (${change.probes} probes in a row); ${effect}`,
      details: { service: b.service, backend: b.name, from: change.from, to: change.to, detail: change.detail, probes: change.probes, effective: BACKEND_STATE_NAMES[this.effective(change.key)] },
    });
  }
}
