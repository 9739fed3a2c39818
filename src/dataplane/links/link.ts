import type { ArmableRx } from '../../virtio/virtio-net-device.ts';

/**
 * One side of an instance in a chain: where the frames of that side come from and where
 * the frames its pipeline sends that way go. `InstanceLoop` drives two, `links[0]` (eth0,
 * the inside) and `links[1]` (eth1, the outside), and knows nothing of what is behind them.
 *
 * Two implementations:
 * - the host-forwarded link: the instance's `VirtioNetDriverEnd` of a virtio-net device
 *   whose other end is the host, which steers each frame on to the next stage
 *   (`ChainDataPlane`); the only kind at a chain's ends;
 * - the direct link (`DirectLink`): one queue pair per instance of the adjacent stage in
 *   shared memory (`QueuePairEnd`, like the queue pairs of a VIRTIO_NET_F_MQ device); the
 *   instance steers each frame it sends itself (pins, then the Maglev table the host
 *   publishes) and no frame crosses the host.
 *
 * Buffers change hands with every call: `receive` hands the caller buffers it now owns,
 * `transmit` consumes every buffer it is given (sent, or dropped and counted), and takes up
 * to `txRoom()` frames without dropping any (the loop takes no more from its receive side,
 * so a full peer back-pressures instead of losing frames). Nothing a peer writes makes a
 * call throw. `armRx`/`disarmRx`/`hasRx` (`ArmableRx`) let the loop sleep on its one
 * interrupt line for both sides; `armTx`/`disarmTx` let it sleep there while it waits for
 * room (`waitOnLinks`): a loop held back by a full peer must not spin, since on a machine
 * with fewer cores than busy threads its spinning takes the core its peer needs to drain.
 *
 * @example
 * ```ts
 * const room = Math.min(links[0].txRoom(), links[1].txRoom());
 * const n = links[side].receive(ids, Math.min(room, 256));
 * // … run the pipeline, then per verdict:
 * links[1].transmit(outIds, out1);
 * ```
 */
export interface Link extends ArmableRx {
  /** Frames `transmit` takes now without dropping any (recycles what the peers are done with first). */
  txRoom(): number;
  /** Takes up to `max` frames into `outIds` (buffers now the caller's; `meta.dataOff`/`length` describe each). */
  receive(outIds: Uint32Array, max: number): number;
  /** Sends `ids[0..n)` (the caller's buffers); every buffer is consumed. Returns how many were sent. */
  transmit(ids: Uint32Array, n: number): number;
  /**
   * Asks the peers to ring the instance's interrupt line once they have taken frames this
   * link sent (room for `transmit` again), before a sleep while back-pressured; true if
   * some are already taken (then do not sleep). Costs the peers nothing until armed.
   */
  armTx(): boolean;
  /** Stops the peers from ringing for taken frames (while polling). */
  disarmTx(): void;
  /** Sleeps until frames arrive or `timeoutMs` passes, for a loop without a shared interrupt line; true if frames wait. */
  waitForRx(timeoutMs: number): boolean;
  /**
   * True when the peers behind this link are instances that may wait for this one as it
   * waits for them (a direct link). The loop then holds a batch taken from this link back
   * only for room on the other side (where it forwards), not on this one: two neighbours
   * whose rings are full both ways would otherwise each wait for the other for ever. A frame
   * sent back the way it came onto a full ring is dropped and counted. Absent on the
   * host-forwarded link, whose host always takes what the instance sends.
   */
  readonly direct?: boolean;
}
