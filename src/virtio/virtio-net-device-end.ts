import { InvalidArgumentError } from '../errors/catalog.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import type { Doorbell } from './doorbell.ts';
import { VirtqueueDevice } from './virtqueue-device.ts';
import { takeHandedBuffers } from './handed-buffers.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './split-ring-layout.ts';
import { VIRTIO_NET_HDR_SIZE, writeVirtioNetHeaderEmpty } from './virtio-net-header.ts';
import { newCounters, type VirtioNetCounters, type VirtioNetDevice } from './virtio-net-device.ts';

/**
 * The backend side of `dev`; `pool` must act for its `deviceOwner`. One per device, in one
 * thread. Lives apart from `VirtioNetDevice` so that images (drivers only) do not bundle it.
 */
export function deviceEnd(dev: VirtioNetDevice, pool: PacketPool): VirtioNetDeviceEnd {
  if (pool.ownerId !== dev.deviceOwner) throw new InvalidArgumentError(`device end needs a pool handle of owner ${dev.deviceOwner}, got ${pool.ownerId}`);
  return new VirtioNetDeviceEnd(dev, pool);
}

/**
 * The device (backend) end of a `VirtioNetDevice`: takes transmitted frames and delivers
 * received ones, zero-copy (see `VirtioNetDevice`).
 *
 * **The driver is not trusted.** The host runs this end; the instance at the other end can
 * write anything into the rings and the pool. Every value read from shared memory is
 * checked before it is used, and a violation never throws: it is counted in `violations`
 * (the first one described in `violation`), the end stops moving frames (each call
 * consumes its input and returns 0), and the host fails the instance (see
 * `ChainDataPlane`). What is checked:
 * - ring indices and heads (`VirtqueueDevice.tryPop`: available index at most the free
 *   entries ahead, heads in range and not already held, head flags: transmitq 0, receiveq
 *   WRITE; no chains, no INDIRECT);
 * - transmitq descriptors: `addr` inside one pool buffer, 12 ≤ `len`, `addr + len` inside
 *   that buffer, the buffer owned by this end (handed over with the descriptor) and named
 *   by no other descriptor of the batch;
 * - receiveq descriptors: `addr` inside a buffer owned by this end, each buffer named once
 *   and none that is also a frame being delivered;
 * - frames to deliver: `dataOff`/`length` (shared metadata, read once) describe a frame
 *   inside its buffer; the buffer is still this end's when it is handed over (one
 *   compare-and-swap), otherwise it is skipped and counted, never freed.
 */
export class VirtioNetDeviceEnd {
  readonly pool: PacketPool;
  readonly rxq: VirtqueueDevice;
  readonly txq: VirtqueueDevice;
  /** Frames delivered to the driver, and delivery drops by reason. */
  readonly rxCounters: VirtioNetCounters = newCounters();
  /** Frames taken from the driver, and bad descriptors skipped. */
  readonly txCounters: VirtioNetCounters = newCounters();
  private readonly peer: number;
  private readonly heads: Uint16Array;
  private readonly addrs: Float64Array;
  private readonly lens: Uint32Array;
  private readonly usedLens: Uint32Array;
  private readonly spare: Uint32Array;
  private readonly drops: Uint32Array;
  /** 1 for each buffer taken by the `pollTx` in progress (host memory): a buffer named twice is caught. */
  private readonly taken: Uint8Array;
  /** `takeHandedBuffers`' report: first refused descriptor, how many. */
  private readonly refused = new Int32Array(2);
  /** Protocol violations of the driver seen so far (0: none); the end is dead after the first. */
  violations = 0;
  /** The first violation, described (empty while there is none). */
  violation = '';

  constructor(dev: VirtioNetDevice, pool: PacketPool) {
    const n = dev.rx.queueSize;
    this.pool = pool;
    this.peer = dev.driverOwner;
    this.rxq = new VirtqueueDevice(dev.rx);
    this.txq = new VirtqueueDevice(dev.tx);
    const oneDescriptor = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT;
    this.txq.acceptHeadFlags(oneDescriptor, 0);
    this.rxq.acceptHeadFlags(oneDescriptor, VIRTQ_DESC_F_WRITE);
    this.heads = new Uint16Array(n);
    this.addrs = new Float64Array(n);
    this.lens = new Uint32Array(n);
    this.usedLens = new Uint32Array(n);
    this.spare = new Uint32Array(n);
    this.drops = new Uint32Array(Math.max(n, 256));
    this.taken = new Uint8Array(pool.bufferCount);
  }

  /**
   * Takes up to `max` transmitted frames into `outIds` (buffers now owned by this end,
   * `meta.dataOff`/`meta.length` set from the descriptor) and recycles their descriptors
   * with one used publish. A descriptor that does not designate a buffer handed to this end
   * is skipped, counted in `txCounters.dropsBadDescriptor`, and is a violation; so is a
   * broken ring (then nothing is taken).
   */
  pollTx(outIds: Uint32Array, max: number): number {
    if (this.violations !== 0) return 0;
    const k = this.txq.tryPop(this.heads, this.addrs, this.lens, max < outIds.length ? max : outIds.length);
    if (k < 0) {
      this.flag(`transmitq: ${this.txq.violation}`);
      return 0;
    }
    const n = takeHandedBuffers(this.pool, this.addrs, this.lens, k, VIRTIO_NET_HDR_SIZE, this.taken, outIds, this.refused);
    this.txCounters.dropsBadDescriptor += this.refused[1];
    const length = this.pool.meta.length;
    for (let i = 0; i < n; i++) this.txCounters.bytes += length[outIds[i]];
    this.usedLens.fill(0, 0, k);
    if (k > 0) this.txq.pushBatch(this.heads, this.usedLens, k);
    const bad = this.refused[0];
    if (bad >= 0) this.flag(`transmitq descriptor ${this.heads[bad]} (addr ${this.addrs[bad]}, len ${this.lens[bad]}) is not a buffer handed to the device end`);
    this.txCounters.packets += n;
    return n;
  }

  /**
   * Delivers `ids[0..n)` (owned by this end) to the driver without copying, one used
   * publish. Every buffer is consumed: delivered (ownership to the driver end), or dropped
   * and freed (`rxCounters.dropsRingFull` when the driver posted too few buffers,
   * `dropsNoHeadroom` when the frame starts < 12 bytes into its buffer,
   * `dropsBadDescriptor` when its metadata describes no frame inside its buffer or the
   * driver broke the protocol), or skipped (`dropsBadDescriptor`) when it is no longer this
   * end's. Returns how many were delivered.
   */
  deliverRx(ids: Uint32Array, n: number): number {
    if (n > ids.length) n = ids.length;
    if (n <= 0) return 0;
    if (this.violations !== 0) return this.refuse(ids, n);
    const pool = this.pool;
    const meta = pool.meta;
    const count = pool.bufferCount;
    const stride = pool.stride;
    const me = pool.ownerId;
    let deliverable = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (id < count && meta.dataOff[id] >= VIRTIO_NET_HDR_SIZE) deliverable++;
    }
    const q = this.rxq;
    const k = deliverable > 0 ? q.tryPop(this.heads, this.addrs, this.lens, deliverable) : 0;
    if (k < 0) {
      this.flag(`receiveq: ${q.violation}`);
      return this.refuse(ids, n);
    }
    const taken = this.taken;
    let bad = -1;
    for (let j = 0; j < k; j++) {
      const spare = pool.bufferIdAt(this.addrs[j]);
      if (spare < 0 || taken[spare] !== 0 || pool.ownerOf(spare) !== me) {
        bad = j;
        break;
      }
      taken[spare] = 1;
      this.spare[j] = spare;
    }
    // A buffer both posted empty and on its way as a frame: the ring names one it does not hold.
    for (let i = 0; bad < 0 && i < n; i++) if (ids[i] < count && taken[ids[i]] !== 0) bad = k;
    for (let j = 0; j < k && j < (bad < 0 ? k : bad); j++) taken[this.spare[j]] = 0;
    if (bad >= 0) {
      if (bad < k) this.flag(`receiveq descriptor ${this.heads[bad]} (addr ${this.addrs[bad]}) does not hold a buffer handed to the device end`);
      else this.flag('receiveq holds a buffer that is also a frame on its way to the driver');
      return this.refuse(ids, n);
    }
    const view = pool.view;
    let j = 0;
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      // Shared metadata: read once, checked, then only the checked copies are used.
      const dataOff = id < count ? meta.dataOff[id] : 0;
      const length = id < count ? meta.length[id] : 0;
      if (id >= count || dataOff > stride || length > stride - dataOff) {
        this.rxCounters.dropsBadDescriptor++;
        this.drops[dropped++] = id;
      } else if (dataOff < VIRTIO_NET_HDR_SIZE) {
        this.rxCounters.dropsNoHeadroom++;
        this.drops[dropped++] = id;
      } else if (j < k) {
        const at = pool.bufferOffset(id) + dataOff - VIRTIO_NET_HDR_SIZE;
        const len = VIRTIO_NET_HDR_SIZE + length;
        writeVirtioNetHeaderEmpty(view, at, 1);
        if (pool.tryTransfer(id, this.peer)) {
          q.swapDescBuffer(this.heads[j], at, len);
          this.usedLens[j++] = len;
          this.rxCounters.bytes += length;
        } else {
          this.rxCounters.dropsBadDescriptor++;
        }
      } else {
        this.rxCounters.dropsRingFull++;
        this.drops[dropped++] = id;
      }
      if (dropped === this.drops.length) {
        pool.freeOwned(this.drops, dropped);
        dropped = 0;
      }
    }
    if (k > 0) {
      // Descriptors left without a frame (one was re-owned under us) go back empty, their buffer with them.
      for (let e = j; e < k; e++) {
        this.usedLens[e] = 0;
        if (!pool.tryTransfer(this.spare[e], this.peer)) this.flag(`receiveq buffer ${this.spare[e]} was re-owned while posted`);
      }
      q.pushBatch(this.heads, this.usedLens, k);
      if (pool.freeOwned(this.spare, j) > 0) this.flag('receiveq buffer re-owned while the device end replaced it');
    }
    if (dropped > 0) pool.freeOwned(this.drops, dropped);
    this.rxCounters.packets += j;
    return j;
  }

  /**
   * Gives every posted receive buffer back to the driver, empty (used len 0), for
   * shutdown after the driver end's `close()`. Returns how many. A broken ring or a
   * descriptor naming no buffer of this end is a violation (then it stops).
   */
  /**
   * Checks that every receive buffer the driver has posted (and the device end not taken
   * yet) is still owned by this device end, as it was when posted; a buffer re-owned
   * under it (its ownership word rewritten) is a violation (`flag`). Returns whether all
   * held. The host runs it before it frees buffers whose owner is no one alive, so a
   * forgery is blamed on the driver that posted them rather than freed as nobody's.
   */
  auditPostedRx(): boolean {
    const pool = this.pool;
    const n = this.rxq.peekAvailAddrs(this.addrs);
    for (let i = 0; i < n; i++) {
      const id = pool.bufferIdAt(this.addrs[i]);
      if (id >= 0 && pool.ownerOf(id) !== pool.ownerId) {
        this.flag(`receiveq buffer ${id} was re-owned (owner ${pool.ownerOf(id)}) while posted`);
        return false;
      }
    }
    return true;
  }

  returnRx(): number {
    if (this.violations !== 0) return 0;
    const q = this.rxq;
    const pool = this.pool;
    let total = 0;
    for (;;) {
      const k = q.tryPop(this.heads, this.addrs, this.lens, this.heads.length);
      if (k < 0) {
        this.flag(`receiveq: ${q.violation}`);
        return total;
      }
      if (k === 0) return total;
      let bad = -1;
      for (let i = 0; i < k; i++) {
        const spare = pool.bufferIdAt(this.addrs[i]);
        this.usedLens[i] = 0;
        if (spare < 0 || !pool.tryTransfer(spare, this.peer)) {
          if (bad < 0) bad = i;
        }
      }
      q.pushBatch(this.heads, this.usedLens, k);
      total += k;
      if (bad >= 0) {
        this.flag(`receiveq descriptor ${this.heads[bad]} (addr ${this.addrs[bad]}) does not hold a buffer handed to the device end`);
        return total;
      }
    }
  }

  /** Records a violation of the driver (the first one's description is kept). */
  private flag(detail: string): void {
    if (this.violations++ === 0) this.violation = detail;
  }

  /** Consumes `ids[0..n)` without delivering (the driver broke the protocol): frees what is still this end's. */
  private refuse(ids: Uint32Array, n: number): number {
    this.rxCounters.dropsBadDescriptor += n;
    this.pool.freeOwned(ids, n);
    return 0;
  }

  /**
   * Also rings `bell` whenever the receiveq or the transmitq rings its driver (frames
   * delivered; transmitted frames taken while the driver waits for room): the interrupt
   * line an instance sleeps on for all its devices (`waitOnLinks`). Null removes it.
   */
  setInterrupt(bell: Doorbell | null): void {
    this.rxq.interrupt = bell;
    this.txq.interrupt = bell;
  }

  /**
   * Asks the driver to ring when it transmits (before the host sleeps on its interrupt
   * line); returns true if frames already wait in the transmitq (then do not sleep).
   */
  armTx(): boolean {
    return this.txq.enableAvailNotifications();
  }

  /** Stops the driver from ringing for transmitted frames (while the host polls). */
  disarmTx(): void {
    this.txq.disableAvailNotifications();
  }

  /**
   * Asks the driver to ring when it posts receive buffers (before the host sleeps with
   * frames waiting for room toward it); returns true if some are already posted (then do
   * not sleep). The driver rings the host's interrupt line with it (`setTxInterrupt`).
   */
  armRxRoom(): boolean {
    return this.rxq.enableAvailNotifications();
  }

  /** Stops the driver from ringing for posted receive buffers (while the host polls). */
  disarmRxRoom(): void {
    this.rxq.disableAvailNotifications();
  }

  /** Receive buffers the driver has posted: how many frames `deliverRx` can take now. */
  rxRoom(): number {
    return this.rxq.availCount();
  }

  /** Sleeps until frames are transmitted or `timeoutMs` passes; true if frames wait. */
  waitForTx(timeoutMs: number): boolean {
    return this.txq.waitForAvail(timeoutMs);
  }
}
