import { InvalidArgumentError } from '../../src/errors/catalog.ts';
import type { LoadBalancerConfig } from './config.ts';
import { BackendState, CONTROL_BACKEND_COUNT, CONTROL_GENERATION, CONTROL_STATES, controlLength } from './backend-state.ts';
import { planLoadBalancer, type LbPlan } from './service-plan.ts';

/**
 * Host-side handle on a running load balancer's **runtime backend control**: an Int32Array
 * on a SharedArrayBuffer holding a state per backend ({@link BackendState}) and a
 * generation word. Pass `control.array` to the instance as `rt.control`; flipping a state
 * takes effect at the instance's next batch, which rebuilds the affected service's Maglev
 * table (control-plane work done between batches).
 *
 * - `drain`: no new flows; established flows keep the backend.
 * - `remove`: no new flows; packets of its established flows are dropped
 *   (`backend_removed`) and their conntrack entries deleted, so a retried connection is
 *   balanced afresh.
 * - `activate`: back to normal.
 *
 * Without a control array an instance keeps the states baked in its image (images are
 * immutable: a config change is a new image).
 *
 * @example
 * ```ts
 * const control = BackendControl.forConfig(compiled.config as LoadBalancerConfig);
 * const rt = { counters, control: control.array };
 * const lb = await loadPipeline(compiled, rt);
 * control.drain('web', '198.19.0.2:8080');
 * ```
 */
export class BackendControl {
  /** The shared control array (`rt.control` of the instance). */
  readonly array: Int32Array;
  private readonly plan: LbPlan;

  private constructor(plan: LbPlan) {
    this.plan = plan;
    this.array = new Int32Array(new SharedArrayBuffer(controlLength(plan.backends.length) * 4));
    this.array[CONTROL_BACKEND_COUNT] = plan.backends.length;
    plan.backends.forEach((b, i) => (this.array[CONTROL_STATES + i] = b.state));
  }

  /** A control array initialised with the states of a validated configuration. */
  static forConfig(config: LoadBalancerConfig): BackendControl {
    return new BackendControl(planLoadBalancer(config));
  }

  /** A control array initialised with the states of a plan. */
  static forPlan(plan: LbPlan): BackendControl {
    return new BackendControl(plan);
  }

  /**
   * Global index of backend `backend` (`a.b.c.d:port`, `[2001:db8::1]:port`) of service `service` (its name, or
   * its index); throws {@link InvalidArgumentError} if there is none.
   */
  indexOf(service: string | number, backend: string): number {
    const s = typeof service === 'number' ? this.plan.services[service] : this.plan.services.find((x) => x.name === service);
    if (s === undefined) throw new InvalidArgumentError(`load balancer has no service ${String(service)}`);
    for (let b = s.first; b < s.first + s.count; b++) if (this.plan.backends[b].name === backend) return b;
    throw new InvalidArgumentError(`service ${s.name} has no backend ${backend}`);
  }

  /** Current state of a backend ({@link BackendState}). */
  state(service: string | number, backend: string): number {
    return Atomics.load(this.array, CONTROL_STATES + this.indexOf(service, backend));
  }

  /** Sets a backend's state and publishes the change (bumps the generation). */
  setState(service: string | number, backend: string, state: number): void {
    if (state !== BackendState.ACTIVE && state !== BackendState.DRAINING && state !== BackendState.REMOVED) {
      throw new InvalidArgumentError(`backend state must be 0 (active), 1 (draining) or 2 (removed), got ${state}`);
    }
    Atomics.store(this.array, CONTROL_STATES + this.indexOf(service, backend), state);
    Atomics.add(this.array, CONTROL_GENERATION, 1);
  }

  /** Stops new flows to a backend; its established flows stay. */
  drain(service: string | number, backend: string): void {
    this.setState(service, backend, BackendState.DRAINING);
  }

  /** Takes a backend out: new flows avoid it and its established flows are dropped. */
  remove(service: string | number, backend: string): void {
    this.setState(service, backend, BackendState.REMOVED);
  }

  /** Returns a backend to service. */
  activate(service: string | number, backend: string): void {
    this.setState(service, backend, BackendState.ACTIVE);
  }
}
