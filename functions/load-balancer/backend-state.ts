/**
 * Backend states as numbers (baked into the plan and written to the control array).
 *
 * @example
 * ```ts
 * if (set.state[b] === BackendState.REMOVED) dropConnection();
 * ```
 */
export const BackendState = {
  /** Receives new flows and keeps its existing ones. */
  ACTIVE: 0,
  /** Keeps its existing flows; gets no new ones (no Maglev slots). */
  DRAINING: 1,
  /** Gone: its existing flows are dropped (`backend_removed`) and forgotten; no new ones. */
  REMOVED: 2,
} as const;

/* Layout of the runtime control array (see `BackendControl`). */

/** Slot of the generation word: the host bumps it after changing states. */
export const CONTROL_GENERATION = 0;
/** Slot holding the number of backends (checked by the instance against its plan). */
export const CONTROL_BACKEND_COUNT = 1;
/** Slot of backend 0's state; backend `b` is at `CONTROL_STATES + b`. */
export const CONTROL_STATES = 2;

/** Length of the control array for `backendCount` backends. */
export function controlLength(backendCount: number): number {
  return CONTROL_STATES + backendCount;
}
