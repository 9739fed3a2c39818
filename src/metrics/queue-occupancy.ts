import type { VirtioNetDeviceEnd } from '../virtio/virtio-net-device-end.ts';

/**
 * Occupancy of an instance's receiveq seen from the host's device end, 0..1: the share of
 * its descriptors that do not hold an empty buffer the host could fill now. The instance
 * reposts a buffer as soon as it takes a frame, so this is the share of the queue holding
 * frames that wait for the instance (1 = the instance is not keeping up; the host's link
 * FIFO queues or back-pressures behind it). Reads two ring indices; no allocation.
 *
 * @example
 * ```ts
 * const occ = receiveQueueOccupancy(host.eth0);   // 0 when idle, → 1 when overloaded
 * ```
 */
export function receiveQueueOccupancy(end: VirtioNetDeviceEnd): number {
  const size = end.rxq.queueSize;
  const free = end.rxRoom();
  if (size <= 0 || free >= size) return 0;
  return (size - free) / size;
}
