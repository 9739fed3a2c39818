/**
 * The runtime backend-control array shared by the controller and every instance of a
 * function with backends (the load balancer): an `Int32Array` on shared memory laid out
 * `[generation, backendCount, state₀, state₁, …]`. The host writes states, then bumps the
 * generation; an instance compares the generation once per batch and applies the states
 * between batches. Data-plane safe: constants only, no schema.
 *
 * @example
 * ```ts
 * const words = new Int32Array(memory.allocate(controlLength(n) * 4));
 * words[CONTROL_BACKEND_COUNT] = n;
 * Atomics.store(words, CONTROL_STATES + b, BackendState.DRAINING);
 * Atomics.add(words, CONTROL_GENERATION, 1);
 * ```
 */

/** Backend states as numbers (baked into a plan and written to the control array). */
export const BackendState = {
  /** Receives new flows and keeps its existing ones. */
  ACTIVE: 0,
  /** Keeps its existing flows; gets no new ones. */
  DRAINING: 1,
  /** Gone: its existing flows are dropped and forgotten; no new ones. */
  REMOVED: 2,
} as const;

/** One of the {@link BackendState} values. */
export type BackendStateValue = (typeof BackendState)[keyof typeof BackendState];

/** Names of the backend states, indexed by value (`BACKEND_STATE_NAMES[BackendState.DRAINING]` is `draining`). */
export const BACKEND_STATE_NAMES = ['active', 'draining', 'removed'] as const;

/** A backend state by name. */
export type BackendStateName = (typeof BACKEND_STATE_NAMES)[number];

/** Slot of the generation word: the host bumps it after changing states. */
export const CONTROL_GENERATION = 0;
/** Slot holding the number of backends (checked by the instance against its plan). */
export const CONTROL_BACKEND_COUNT = 1;
/** Slot of backend 0's state; backend `b` is at `CONTROL_STATES + b`. */
export const CONTROL_STATES = 2;

/** Length of the control array for `backendCount` backends, in int32 words. */
export function controlLength(backendCount: number): number {
  return CONTROL_STATES + backendCount;
}
