import { counterList, type CounterDecl } from '../counters/counter-list.ts';
import type { DataPlaneDrops } from './chain-data-plane.ts';

/**
 * Why the chain host (`ChainDataPlane`, between the ports and the instances) dropped a
 * frame: one declaration gives the reasons (the `reason` of `nfvkit_host_drops_total`),
 * their help, and the `DataPlaneDrops` field each is counted in.
 *
 * @example
 * ```ts
 * for (const d of HOST_DROP_LIST.declared) console.log(d.name, dataPlane.drops[d.field]);
 * ```
 */
export const HOST_DROP_LIST = counterList([
  { name: 'no_instance', field: 'noInstance', drop: true, help: 'no active instance in the stage the frame had to enter' },
  { name: 'instance_gone', field: 'instanceGone', drop: true, help: 'frames waiting for an instance that stopped or failed' },
  { name: 'ownership', field: 'ownership', drop: true, help: 'a buffer a port or a device end handed over that the host could not take (protocol error)' },
  { name: 'awaiting_heir', field: 'awaitingHeir', drop: true, help: 'frames of a flow whose instance failed, while the successor that takes its connections over boots (TCP sends them again)' },
  { name: 'state_lost', field: 'stateLost', drop: true, help: 'frames of a flow whose instance is gone with its connections: a TCP segment is answered with a reset to its sender' },
] as const satisfies readonly (CounterDecl & { readonly field: keyof DataPlaneDrops })[]);

/** Host drop reasons by UPPER_SNAKE name. */
export const HostDrop = HOST_DROP_LIST.index;

/** `DataPlaneDrops` fields that count no drop (`unpinned`: the flow went through, just not pinned). */
type NotDrops = 'unpinned';

/**
 * Compile-time check that every drop the host counts has its reason here: a new
 * `DataPlaneDrops` field fails to compile until it is listed above (and in docs/metrics.md,
 * which a test checks against this list).
 */
export const EVERY_HOST_DROP_LISTED: [Unlisted] extends [never] ? true : { readonly addToHostDropList: Unlisted } = true;

/** `DataPlaneDrops` fields that count drops but have no reason in `HOST_DROP_LIST` (must be none). */
type Unlisted = Exclude<keyof DataPlaneDrops, (typeof HOST_DROP_LIST.declared)[number]['field'] | NotDrops>;
