import type { Doorbell } from './doorbell.ts';
import { InvalidArgumentError, SharedLayoutError, VirtqueueProtocolError } from '../errors/catalog.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import { SplitRing, type SplitRingOptions } from './split-ring.ts';
import { VirtqueueDevice } from './virtqueue-device.ts';
import { VirtqueueDriver } from './virtqueue-driver.ts';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './split-ring-layout.ts';
import { VIRTIO_NET_HDR_SIZE, writeVirtioNetHeaderEmpty } from './virtio-net-header.ts';

/** "VNET" read as a little-endian u32. */
const NET_MAGIC = 0x54454e56;
const NET_VERSION = 1;
const NET_CONTROL_BYTES = 64;
const W_MAGIC = 0;
const W_VERSION = 1;
const W_DRIVER_OWNER = 2;
const W_DEVICE_OWNER = 3;
const W_RX_BASE = 4;
const W_TX_BASE = 5;

/** Options of `VirtioNetDevice.create`. */
export interface VirtioNetDeviceOptions extends SplitRingOptions {
  /** Entries per queue, a power of two ≤ 32768 (default 256). */
  queueSize?: number;
  /** Pool owner id of the driver end (the instance using the interface). */
  driverOwner: number;
  /** Pool owner id of the device end (the backend: port, switch, chain hop). */
  deviceOwner: number;
  /** Where the device's memory comes from (default: a fresh SharedArrayBuffer); must be zeroed. */
  allocate?: (bytes: number) => SharedArrayBuffer;
}

/**
 * A virtio-net device: a receiveq (queue 0, device → driver) and a transmitq (queue 1,
 * driver → device) in one SharedArrayBuffer, carrying buffers of a `PacketPool`. Each
 * frame travels as one descriptor: `addr` = the `virtio_net_hdr` in the buffer's headroom
 * right before the frame, `len` = 12 + frame length (see `virtio-net-header.ts`).
 *
 * **Zero copy and ownership.** Frames never move; buffer ownership moves with descriptors:
 * - transmitq: `transmit` transfers each buffer to the device owner as it posts it;
 *   `pollTx` on the device end takes the frame (the buffer is now the backend's) and marks
 *   the descriptor used at once (len 0), which only recycles the descriptor slot.
 * - receiveq: the driver end keeps the queue stocked with empty pool buffers (transferred
 *   to the device owner while posted). `deliverRx` hands the driver *filled* buffers
 *   without copying: for each posted descriptor it rewrites `addr`/`len` to the filled
 *   buffer, transfers that buffer to the driver owner, marks the descriptor used, and frees
 *   the empty buffer it replaced (a netmap-style slot swap). The ring format stays
 *   byte-for-byte virtio; the swap is the one documented liberty (a device writing a
 *   descriptor it holds), taken because copying frames between instances is what the
 *   design forbids.
 * - Every `transmit`/`deliverRx` call consumes all the buffers it is given: posted, or
 *   dropped and freed with a named, counted reason (`tx-ring-full`, `rx-ring-full`,
 *   `no-headroom`).
 *
 * @example
 * ```ts
 * const eth0 = VirtioNetDevice.create({ queueSize: 256, driverOwner: 2, deviceOwner: 1 });
 * const guest = eth0.driverEnd(pool.withOwner(2));     // usually in the instance's worker
 * const backend = eth0.deviceEnd(pool);               // owner 1
 * guest.refillRx();
 * backend.deliverRx(ids, n);                          // frames in, zero copy
 * const got = guest.receive(rxIds, 256);
 * guest.transmit(rxIds, got);                         // and back out
 * const out = backend.pollTx(txIds, 256);
 * ```
 */
export class VirtioNetDevice {
  readonly sab: SharedArrayBuffer;
  /** receiveq: the device makes frames used, the driver reads them. */
  readonly rx: SplitRing;
  /** transmitq: the driver makes frames available, the device reads them. */
  readonly tx: SplitRing;
  readonly driverOwner: number;
  readonly deviceOwner: number;

  private constructor(sab: SharedArrayBuffer, rx: SplitRing, tx: SplitRing, driverOwner: number, deviceOwner: number) {
    this.sab = sab;
    this.rx = rx;
    this.tx = tx;
    this.driverOwner = driverOwner;
    this.deviceOwner = deviceOwner;
  }

  /** Creates both queues in one fresh SharedArrayBuffer. */
  static create(opts: VirtioNetDeviceOptions): VirtioNetDevice {
    const size = opts.queueSize ?? 256;
    if (opts.driverOwner === opts.deviceOwner) throw new InvalidArgumentError('driver and device ends need different owner ids');
    const ringBytes = SplitRing.bytesNeeded(size, opts);
    const bytes = NET_CONTROL_BYTES + 2 * ringBytes;
    const sab = opts.allocate === undefined ? new SharedArrayBuffer(bytes) : opts.allocate(bytes);
    const rx = SplitRing.createIn(sab, NET_CONTROL_BYTES, size, opts);
    const tx = SplitRing.createIn(sab, NET_CONTROL_BYTES + ringBytes, size, opts);
    const w = new Uint32Array(sab, 0, NET_CONTROL_BYTES / 4);
    w[W_VERSION] = NET_VERSION;
    w[W_DRIVER_OWNER] = opts.driverOwner;
    w[W_DEVICE_OWNER] = opts.deviceOwner;
    w[W_RX_BASE] = NET_CONTROL_BYTES;
    w[W_TX_BASE] = NET_CONTROL_BYTES + ringBytes;
    Atomics.store(w, W_MAGIC, NET_MAGIC);
    return new VirtioNetDevice(sab, rx, tx, opts.driverOwner, opts.deviceOwner);
  }

  /** Attaches to a device created elsewhere; throws `SharedLayoutError` on a foreign layout. */
  static attach(sab: SharedArrayBuffer): VirtioNetDevice {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < NET_CONTROL_BYTES) throw new SharedLayoutError('not a virtio-net device memory');
    const w = new Uint32Array(sab, 0, NET_CONTROL_BYTES / 4);
    if (Atomics.load(w, W_MAGIC) !== NET_MAGIC || w[W_VERSION] !== NET_VERSION) throw new SharedLayoutError('virtio-net device magic or version mismatch');
    return new VirtioNetDevice(sab, SplitRing.attach(sab, w[W_RX_BASE]), SplitRing.attach(sab, w[W_TX_BASE]), w[W_DRIVER_OWNER], w[W_DEVICE_OWNER]);
  }

  /** The instance side; `pool` must act for `driverOwner`. One per device, in one thread. */
  driverEnd(pool: PacketPool): VirtioNetDriverEnd {
    if (pool.ownerId !== this.driverOwner) throw new InvalidArgumentError(`driver end needs a pool handle of owner ${this.driverOwner}, got ${pool.ownerId}`);
    return new VirtioNetDriverEnd(this, pool);
  }

  /** The backend side; `pool` must act for `deviceOwner`. One per device, in one thread. */
  deviceEnd(pool: PacketPool): VirtioNetDeviceEnd {
    if (pool.ownerId !== this.deviceOwner) throw new InvalidArgumentError(`device end needs a pool handle of owner ${this.deviceOwner}, got ${pool.ownerId}`);
    return new VirtioNetDeviceEnd(this, pool);
  }
}

/** Counters of one end; drops by reason. */
export interface VirtioNetCounters {
  packets: number;
  bytes: number;
  dropsRingFull: number;
  dropsNoHeadroom: number;
  /**
   * Device end: transmitq descriptors that named no buffer handed to it (skipped), and
   * frames it could not deliver because their metadata described no frame inside their
   * buffer, their buffer was re-owned under it, or the driver had broken the protocol.
   */
  dropsBadDescriptor: number;
}

function newCounters(): VirtioNetCounters {
  return { packets: 0, bytes: 0, dropsRingFull: 0, dropsNoHeadroom: 0, dropsBadDescriptor: 0 };
}

/**
 * The driver (instance) end of a `VirtioNetDevice`: transmits frames, keeps the
 * receiveq stocked and receives frames. Scratch arrays are allocated once.
 */
export class VirtioNetDriverEnd {
  readonly pool: PacketPool;
  readonly rxq: VirtqueueDriver;
  readonly txq: VirtqueueDriver;
  /** Frames and bytes received (frame bytes, header excluded), and RX drops. */
  readonly rxCounters: VirtioNetCounters = newCounters();
  /** Frames and bytes transmitted, and TX drops by reason. */
  readonly txCounters: VirtioNetCounters = newCounters();
  private readonly peer: number;
  private readonly addrs: Float64Array;
  private readonly lens: Uint32Array;
  private readonly ids: Uint32Array;
  private readonly drops: Uint32Array;
  private closed = false;

  constructor(dev: VirtioNetDevice, pool: PacketPool) {
    const n = dev.rx.queueSize;
    this.pool = pool;
    this.peer = dev.deviceOwner;
    this.rxq = new VirtqueueDriver(dev.rx);
    this.txq = new VirtqueueDriver(dev.tx);
    this.addrs = new Float64Array(n);
    this.lens = new Uint32Array(n);
    this.ids = new Uint32Array(n);
    this.drops = new Uint32Array(Math.max(n, 256));
  }

  /**
   * Posts as many empty pool buffers on the receiveq as it has free descriptors (one
   * alloc, one publish). Returns how many. Does nothing after `close`.
   */
  refillRx(): number {
    if (this.closed) return 0;
    const want = this.rxq.freeDescriptors;
    if (want === 0) return 0;
    const pool = this.pool;
    const got = pool.allocBatch(this.ids, want);
    const len = pool.stride - pool.headroom + VIRTIO_NET_HDR_SIZE;
    for (let i = 0; i < got; i++) {
      this.addrs[i] = pool.bufferOffset(this.ids[i]) + pool.headroom - VIRTIO_NET_HDR_SIZE;
      this.lens[i] = len;
    }
    pool.transferBatch(this.ids, got, this.peer);
    return this.rxq.addBatch(this.addrs, this.lens, this.ids, got, true);
  }

  /**
   * Receives up to `max` frames into `outIds` (buffers now owned by this end, `meta.dataOff`
   * and `meta.length` describing the frame), then refills the receiveq. Buffers the device
   * gave back empty (len ≤ 12, e.g. on shutdown) are freed, not returned.
   */
  receive(outIds: Uint32Array, max: number): number {
    const pool = this.pool;
    const meta = pool.meta;
    const k = this.rxq.reclaim(this.ids, this.lens, max < outIds.length ? max : outIds.length, this.addrs);
    let n = 0;
    let freed = 0;
    for (let i = 0; i < k; i++) {
      const addr = this.addrs[i];
      const id = pool.bufferIdAt(addr);
      const len = this.lens[i];
      if (id < 0 || pool.ownerOf(id) !== pool.ownerId || addr + len > pool.bufferOffset(id) + pool.stride) {
        throw new VirtqueueProtocolError(`receiveq returned addr ${addr} len ${len}, not a buffer handed to this end`);
      }
      if (len <= VIRTIO_NET_HDR_SIZE) {
        this.drops[freed++] = id;
        continue;
      }
      meta.dataOff[id] = addr + VIRTIO_NET_HDR_SIZE - pool.bufferOffset(id);
      meta.length[id] = len - VIRTIO_NET_HDR_SIZE;
      this.rxCounters.bytes += len - VIRTIO_NET_HDR_SIZE;
      outIds[n++] = id;
    }
    if (freed > 0) pool.freeBatch(this.drops, freed);
    this.rxCounters.packets += n;
    this.refillRx();
    return n;
  }

  /** Recycles transmitq descriptors the device is done with. Returns how many. */
  reclaimTx(): number {
    return this.txq.reclaim(null, null, this.txq.queueSize);
  }

  /**
   * Transmits `ids[0..n)` (owned by this end; frame at `meta.dataOff`, `meta.length`
   * bytes) with one publish. Every buffer is consumed: posted (ownership to the device
   * end) or dropped and freed (`dropsRingFull`, `dropsNoHeadroom`). Returns how many
   * were posted.
   */
  transmit(ids: Uint32Array, n: number): number {
    if (n > ids.length) n = ids.length;
    this.reclaimTx();
    const pool = this.pool;
    const meta = pool.meta;
    const view = pool.view;
    const room = this.txq.freeDescriptors;
    let posted = 0;
    let dropped = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (posted === room) {
        this.drops[dropped++] = id;
        this.txCounters.dropsRingFull++;
      } else if (meta.dataOff[id] < VIRTIO_NET_HDR_SIZE) {
        this.drops[dropped++] = id;
        this.txCounters.dropsNoHeadroom++;
      } else {
        const at = pool.dataOffset(id) - VIRTIO_NET_HDR_SIZE;
        writeVirtioNetHeaderEmpty(view, at, 0);
        this.addrs[posted] = at;
        this.lens[posted] = VIRTIO_NET_HDR_SIZE + meta.length[id];
        this.txCounters.bytes += meta.length[id];
        this.ids[posted++] = id;
      }
      if (dropped === this.drops.length) {
        pool.freeBatch(this.drops, dropped);
        dropped = 0;
      }
    }
    pool.transferBatch(this.ids, posted, this.peer);
    this.txq.addBatch(this.addrs, this.lens, null, posted, false);
    if (dropped > 0) pool.freeBatch(this.drops, dropped);
    this.txCounters.packets += posted;
    return posted;
  }

  /** Sleeps until frames arrive on the receiveq or `timeoutMs` passes; true if frames wait. */
  waitForRx(timeoutMs: number): boolean {
    return this.rxq.waitForUsed(timeoutMs);
  }

  /**
   * Asks the device to ring when frames arrive (before a sleep on a shared interrupt, see
   * `waitForRxOnAny`); returns true if frames already wait (then do not sleep).
   */
  armRx(): boolean {
    return this.rxq.enableUsedNotifications();
  }

  /** Stops the device from ringing for received frames (while polling). */
  disarmRx(): void {
    this.rxq.disableUsedNotifications();
  }

  /** Also rings `bell` whenever transmitting rings the device (the host's interrupt line). */
  setTxInterrupt(bell: Doorbell | null): void {
    this.txq.interrupt = bell;
  }

  /** Stops refilling the receiveq (for shutdown: the device end then returns its posted buffers). */
  close(): void {
    this.closed = true;
  }
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
    const pool = this.pool;
    const meta = pool.meta;
    const me = pool.ownerId;
    const stride = pool.stride;
    const k = this.txq.tryPop(this.heads, this.addrs, this.lens, max < outIds.length ? max : outIds.length);
    if (k < 0) {
      this.flag(`transmitq: ${this.txq.violation}`);
      return 0;
    }
    const taken = this.taken;
    let n = 0;
    let bad = -1;
    for (let i = 0; i < k; i++) {
      const addr = this.addrs[i];
      const len = this.lens[i];
      const id = pool.bufferIdAt(addr);
      this.usedLens[i] = 0;
      const start = id < 0 ? 0 : addr - pool.bufferOffset(id);
      if (id < 0 || len < VIRTIO_NET_HDR_SIZE || len > stride - start || taken[id] !== 0 || pool.ownerOf(id) !== me) {
        this.txCounters.dropsBadDescriptor++;
        if (bad < 0) bad = i;
        continue;
      }
      taken[id] = 1;
      meta.dataOff[id] = start + VIRTIO_NET_HDR_SIZE;
      meta.length[id] = len - VIRTIO_NET_HDR_SIZE;
      this.txCounters.bytes += len - VIRTIO_NET_HDR_SIZE;
      outIds[n++] = id;
    }
    for (let i = 0; i < n; i++) taken[outIds[i]] = 0;
    if (k > 0) this.txq.pushBatch(this.heads, this.usedLens, k);
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
   * Also rings `bell` whenever the receiveq rings its driver: the interrupt line an
   * instance sleeps on for all its devices (`waitForRxOnAny`). Null removes it.
   */
  setInterrupt(bell: Doorbell | null): void {
    this.rxq.interrupt = bell;
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

  /** Receive buffers the driver has posted: how many frames `deliverRx` can take now. */
  rxRoom(): number {
    return this.rxq.availCount();
  }

  /** Sleeps until frames are transmitted or `timeoutMs` passes; true if frames wait. */
  waitForTx(timeoutMs: number): boolean {
    return this.txq.waitForAvail(timeoutMs);
  }
}

/**
 * Sleeps until a frame arrives on any of `ends`' receiveqs, or `timeoutMs` passes: reads
 * the shared interrupt `bell` (which the device ends ring, see `setInterrupt`), arms every
 * receiveq, re-checks, waits, disarms. Returns whether frames wait afterwards. One sleep
 * for all devices, so traffic on one side never waits for a timeout on the other.
 *
 * @example
 * ```ts
 * if (idle) waitForRxOnAny([eth0, eth1], irq, 1);
 * ```
 */
export function waitForRxOnAny(ends: readonly VirtioNetDriverEnd[], bell: Doorbell, timeoutMs: number): boolean {
  const seen = bell.sequence();
  let pending = false;
  for (const end of ends) if (end.armRx()) pending = true;
  if (!pending) bell.wait(seen, timeoutMs);
  let waiting = false;
  for (const end of ends) {
    end.disarmRx();
    if (end.rxq.hasUsed()) waiting = true;
  }
  return waiting;
}
