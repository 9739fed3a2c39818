import type { PoolHandle } from '../pool/pool-handle.ts';
import type { Doorbell } from './doorbell.ts';
import { SplitRing } from './split-ring.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './split-ring-layout.ts';
import { VirtqueueDevice } from './virtqueue-device.ts';
import { VirtqueueDriver } from './virtqueue-driver.ts';
import { takeHandedBuffers } from './handed-buffers.ts';
import { VIRTIO_NET_HDR_SIZE, writeVirtioNetHeaderEmpty } from './virtio-net-header.ts';

/** Features of both rings of a queue pair: EVENT_IDX and IN_ORDER (each direction is a transmit path). */
const PAIR_RING_OPTIONS = { eventIdx: true, inOrder: true } as const;

/** Bytes one queue pair of `queueSize` entries per direction takes (a multiple of 64). */
export function queuePairBytes(queueSize: number): number {
  return 2 * SplitRing.bytesNeeded(queueSize, PAIR_RING_OPTIONS);
}

/**
 * Lays a queue pair out at byte `base` (a multiple of 64) of `sab`: zeroes its region,
 * then creates both rings. Ring 0 carries frames from side 0 (the left instance) to
 * side 1, ring 1 the other way. Only the host calls this, before telling either side.
 */
export function createQueuePair(sab: SharedArrayBuffer, base: number, queueSize: number): void {
  const ring = SplitRing.bytesNeeded(queueSize, PAIR_RING_OPTIONS);
  new Uint8Array(sab, base, 2 * ring).fill(0);
  SplitRing.createIn(sab, base, queueSize, PAIR_RING_OPTIONS);
  SplitRing.createIn(sab, base + ring, queueSize, PAIR_RING_OPTIONS);
}

/**
 * One side of a queue pair between two instances of adjacent stages (in the spirit of a
 * VIRTIO_NET_F_MQ queue pair): it is the driver of its outbound ring (it makes frames
 * available, as on a transmitq) and the device of its inbound ring (it takes the frames the
 * peer made available and marks them used). Each frame is one descriptor, `addr` = the
 * `virtio_net_hdr` in the headroom before the frame, `len` = 12 + frame, as on a virtio-net
 * transmitq; both rings run IN_ORDER, so a batch is marked used with one element.
 *
 * **Ownership moves with the descriptor**: `send` transfers each buffer to the peer's pool
 * owner before publishing it; `receive` takes a frame only if its buffer is this side's by
 * then. Bytes never move.
 *
 * **The peer is not trusted.** Everything it writes (its available index and ring, its
 * descriptors, the used ring of this side's outbound queue) is checked before use:
 * indices through `VirtqueueDevice.tryPop` (at most the queue's free entries ahead, heads in
 * range and not held, head flags those of a one-descriptor transmit), each descriptor
 * inside one pool buffer that is this side's and named once per batch, the used ring by
 * `VirtqueueDriver.reclaim`. Nothing it writes makes this side throw or touch memory
 * outside the pool and the pair's region: the first violation is kept in `violation`, the
 * pair is `broken` from then on (each call returns 0), and the caller reports the peer.
 *
 * @example
 * ```ts
 * createQueuePair(sab, base, 256);                                        // host
 * const left = QueuePairEnd.attach(sab, base, 256, 0, pool2, 4, taken);   // instance of stage k−1 (owner 2)
 * const right = QueuePairEnd.attach(sab, base, 256, 1, pool4, 2, taken4); // instance of stage k (owner 4)
 * left!.send(ids, n);
 * const got = right!.receive(rxIds, 256);
 * ```
 */
export class QueuePairEnd {
  readonly pool: PoolHandle;
  /** The peer's pool owner id: sent buffers are transferred to it. */
  readonly peerOwner: number;
  /** Frames sent and received. */
  sent = 0;
  received = 0;
  /** Descriptors of the peer that named no buffer handed to this side (skipped). */
  badDescriptors = 0;
  /** The first protocol violation of the peer, described; empty while there is none. */
  violation = '';
  private readonly out: VirtqueueDriver;
  private readonly in: VirtqueueDevice;
  private readonly heads: Uint16Array;
  private readonly addrs: Float64Array;
  private readonly lens: Uint32Array;
  /** Buffers taken by the `receive` in progress (private memory, one byte per pool buffer, may be shared by the ends of one thread). */
  private readonly taken: Uint8Array;
  /** `takeHandedBuffers`' report: first refused descriptor, how many. */
  private readonly refused = new Int32Array(2);

  private constructor(out: VirtqueueDriver, inbound: VirtqueueDevice, pool: PoolHandle, peerOwner: number, taken: Uint8Array) {
    this.out = out;
    this.in = inbound;
    this.pool = pool;
    this.peerOwner = peerOwner;
    this.taken = taken;
    const n = out.queueSize;
    this.heads = new Uint16Array(n);
    this.addrs = new Float64Array(n);
    this.lens = new Uint32Array(n);
    inbound.acceptHeadFlags(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT, 0);
  }

  /**
   * Side `side` (0 left, 1 right) of the queue pair at `base` of `sab`, expected to hold
   * `queueSize` entries per ring (the geometry comes from the caller, never from the shared
   * control blocks alone: a pair whose blocks disagree is refused). `pool` acts for this
   * side's owner; `taken` is scratch of `pool.bufferCount` bytes. Returns null when the
   * region does not hold such a pair (the caller counts it and leaves the peer unlinked).
   */
  static attach(sab: SharedArrayBuffer, base: number, queueSize: number, side: 0 | 1, pool: PoolHandle, peerOwner: number, taken: Uint8Array): QueuePairEnd | null {
    const ringBytes = SplitRing.bytesNeeded(queueSize, PAIR_RING_OPTIONS);
    if (!Number.isInteger(base) || base < 0 || base + 2 * ringBytes > sab.byteLength || taken.length < pool.bufferCount) return null;
    let r0: SplitRing;
    let r1: SplitRing;
    try {
      r0 = SplitRing.attach(sab, base);
      r1 = SplitRing.attach(sab, base + ringBytes);
    } catch {
      return null;
    }
    for (const r of [r0, r1]) if (r.queueSize !== queueSize || !r.inOrder || !r.eventIdx || r.layout.totalBytes !== ringBytes) return null;
    const outRing = side === 0 ? r0 : r1;
    const inRing = side === 0 ? r1 : r0;
    return new QueuePairEnd(new VirtqueueDriver(outRing), new VirtqueueDevice(inRing), pool, peerOwner, taken);
  }

  /** True after the peer broke the protocol (see `violation`); the pair moves nothing any more. */
  get broken(): boolean {
    return this.violation !== '';
  }

  /** Rings `bell` (the peer's interrupt line) whenever sending rings the peer, so it sleeps on one word for all its queues. */
  setPeerInterrupt(bell: Doorbell | null): void {
    this.out.interrupt = bell;
  }

  /**
   * Rings `bell` (the peer's interrupt line) whenever this side marks frames used while the
   * peer asked for it (`armTx`: a sender waiting for room before it sleeps).
   */
  setInterrupt(bell: Doorbell | null): void {
    this.in.interrupt = bell;
  }

  /** Descriptors free on the outbound ring after recycling the ones the peer used: frames `send` takes now. */
  room(): number {
    if (this.broken) return 0;
    this.reclaim();
    return this.broken ? 0 : this.out.freeDescriptors;
  }

  /**
   * Sends `ids[0..n)` (owned by this side; frame at `meta.dataOff`, `meta.length`
   * bytes, with ≥ 12 bytes of headroom) with one publish: writes each `virtio_net_hdr`,
   * transfers the buffers to the peer, makes them available. Sends at most `room()`;
   * returns how many were sent (the caller keeps the rest).
   */
  send(ids: Uint32Array, n: number): number {
    const room = this.room();
    if (n > room) n = room;
    if (n <= 0) return 0;
    const pool = this.pool;
    const meta = pool.meta;
    const view = pool.view;
    const addrs = this.addrs;
    const lens = this.lens;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const at = pool.dataOffset(id) - VIRTIO_NET_HDR_SIZE;
      writeVirtioNetHeaderEmpty(view, at, 0);
      addrs[i] = at;
      lens[i] = VIRTIO_NET_HDR_SIZE + meta.length[id];
    }
    pool.transferBatch(ids, n, this.peerOwner);
    this.out.addBatch(addrs, lens, null, n, false);
    this.sent += n;
    return n;
  }

  /**
   * Takes up to `max` frames the peer sent into `outIds` (buffers now this side's,
   * `meta.dataOff`/`meta.length` set from the descriptor, not from what the peer wrote into
   * the metadata) and marks them used with one publish. A descriptor naming no buffer handed
   * to this side is skipped, counted, and breaks the pair (see the class documentation).
   */
  receive(outIds: Uint32Array, max: number): number {
    if (this.broken) return 0;
    const k = this.in.tryPop(this.heads, this.addrs, this.lens, max < outIds.length ? max : outIds.length);
    if (k < 0) {
      this.violation = `inbound ring: ${this.in.violation}`;
      return 0;
    }
    // A frame of at least one byte after its header.
    const n = takeHandedBuffers(this.pool, this.addrs, this.lens, k, VIRTIO_NET_HDR_SIZE + 1, this.taken, outIds, this.refused);
    this.badDescriptors += this.refused[1];
    if (k > 0) this.in.pushBatch(this.heads, null, k);
    const bad = this.refused[0];
    if (bad >= 0) this.violation = `inbound descriptor ${this.heads[bad]} (addr ${this.addrs[bad]}, len ${this.lens[bad]}) is not a buffer handed to this side`;
    this.received += n;
    return n;
  }

  /** Whether the peer made frames available that `receive` has not taken. */
  hasRx(): boolean {
    return !this.broken && this.in.hasAvail();
  }

  /** Asks the peer to ring when it sends (before a sleep); true if frames already wait. */
  armRx(): boolean {
    return !this.broken && this.in.enableAvailNotifications();
  }

  /** Stops the peer from ringing (while polling). */
  disarmRx(): void {
    this.in.disableAvailNotifications();
  }

  /** Asks the peer to ring when it marks sent frames used (before a sleep for room); true if some already are. */
  armTx(): boolean {
    return !this.broken && this.out.enableUsedNotifications();
  }

  /** Stops the peer from ringing for used frames (while polling). */
  disarmTx(): void {
    this.out.disableUsedNotifications();
  }

  /** Frames sent and not yet marked used by the peer. */
  get inFlight(): number {
    return this.out.chainsInFlight;
  }

  /** Recycles outbound descriptors the peer used; a used ring the peer broke breaks the pair. */
  private reclaim(): void {
    try {
      this.out.reclaim(null, null, this.out.queueSize);
    } catch (err) {
      this.violation = `outbound ring: ${(err as Error).message}`;
    }
  }
}
