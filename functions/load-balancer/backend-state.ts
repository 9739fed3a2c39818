/**
 * The load balancer's backend states and control-array layout: the framework's
 * (`src/backends/backend-control-layout.ts`), which the controller writes for every
 * instance of the function.
 *
 * @example
 * ```ts
 * if (set.state[b] === BackendState.REMOVED) dropConnection();
 * ```
 */
export { BackendState, CONTROL_BACKEND_COUNT, CONTROL_GENERATION, CONTROL_STATES, controlLength } from '../../src/backends/backend-control-layout.ts';
