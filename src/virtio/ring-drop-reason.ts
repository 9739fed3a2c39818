import { counterList, type CounterDecl } from '../counters/counter-list.ts';
import type { VirtioNetCounters } from './virtio-net-device.ts';

/**
 * Why a host device end (`VirtioNetDeviceEnd`, the host's side of an instance's virtio-net
 * rings) dropped a frame: one declaration gives the reasons (the `reason` of
 * `nfvkit_ring_drops_total`), their help, and where each is counted: the direction (`rx`:
 * the host delivering into the instance's receiveq, `tx`: the host taking from its
 * transmitq) and the `VirtioNetCounters` field.
 *
 * @example
 * ```ts
 * for (const d of RING_DROP_LIST.declared) console.log(d.name, (d.direction === 'rx' ? end.rxCounters : end.txCounters)[d.field]);
 * ```
 */
export const RING_DROP_LIST = counterList([
  { name: 'rx_ring_full', direction: 'rx', field: 'dropsRingFull', drop: true, help: 'the instance had posted too few receive buffers for the frames the host delivered' },
  { name: 'rx_no_headroom', direction: 'rx', field: 'dropsNoHeadroom', drop: true, help: 'the frame started less than the 12-byte virtio-net header into its buffer' },
  { name: 'rx_bad_descriptor', direction: 'rx', field: 'dropsBadDescriptor', drop: true, help: 'its metadata described no frame inside its buffer, the buffer was re-owned under the host, or the instance broke the ring protocol' },
  { name: 'tx_bad_descriptor', direction: 'tx', field: 'dropsBadDescriptor', drop: true, help: 'a transmitq descriptor named no buffer handed to the host (skipped)' },
] as const satisfies readonly (CounterDecl & { readonly direction: 'rx' | 'tx'; readonly field: keyof VirtioNetCounters })[]);

/** Ring drop reasons by UPPER_SNAKE name. */
export const RingDrop = RING_DROP_LIST.index;

/** The value of each ring drop reason of one device end, in `RING_DROP_LIST` order (scrape time: allocates). */
export function ringDropCounts(end: { readonly rxCounters: VirtioNetCounters; readonly txCounters: VirtioNetCounters }): number[] {
  return RING_DROP_LIST.declared.map((d) => (d.direction === 'rx' ? end.rxCounters : end.txCounters)[d.field]);
}
