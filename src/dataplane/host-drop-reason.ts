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
] as const satisfies readonly (CounterDecl & { readonly field: keyof DataPlaneDrops })[]);

/** Host drop reasons by UPPER_SNAKE name. */
export const HostDrop = HOST_DROP_LIST.index;
