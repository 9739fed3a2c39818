/**
 * Negative answers of steering besides -1 (no active instance), shared by the host's stages
 * and an instance's view of its neighbours (which bundles this file, not `stage.ts`).
 */

/** `StageInstance.heir` (and a steering answer) of a failed instance whose state waits for a successor. */
export const AWAITING_HEIR = -2;

/**
 * `StageInstance.heir` (and a steering answer) of an instance gone with connection state
 * nobody took over (no successor of its image in time, or stopped with flows left): its
 * TCP flows are closed with a reset to whichever side sends next, never moved to an
 * instance that does not know them (which would drop their segments in silence).
 */
export const STATE_LOST = -3;
