/**
 * The notification rule of VIRTIO_F_EVENT_IDX (virtio 1.2 §2.7, "Used Buffer Notification
 * Suppression" and "Available Buffer Notification Suppression"), the spec's
 * `vring_need_event()`:
 *
 * ```c
 * return (u16)(new_idx - event_idx - 1) < (u16)(new_idx - old_idx);
 * ```
 *
 * A producer that moved its index from `oldIdx` to `newIdx` in one publish must notify
 * its peer iff the peer's event index lies in `[oldIdx, newIdx)` (mod 2^16), i.e. iff the
 * peer asked to be woken when the index passes `eventIdx` and this publish passed it.
 *
 * @example
 * ```ts
 * vringNeedEvent(5, 6, 5);  // true: the peer wanted to hear when entry 5 arrives
 * vringNeedEvent(9, 6, 5);  // false: not there yet, stay quiet
 * ```
 */
export function vringNeedEvent(eventIdx: number, newIdx: number, oldIdx: number): boolean {
  return ((newIdx - eventIdx - 1) & 0xffff) < ((newIdx - oldIdx) & 0xffff);
}
