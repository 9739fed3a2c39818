import type { Doorbell } from './doorbell.ts';
import { InvalidArgumentError, SharedLayoutError, VirtqueueProtocolError } from '../errors/catalog.ts';
import type { PoolHandle } from '../pool/pool-handle.ts';
import { SplitRing, type SplitRingOptions } from './split-ring.ts';
import { VirtqueueDriver } from './virtqueue-driver.ts';
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
 * driver → device) in one SharedArrayBuffer, carrying buffers of a packet pool (`PacketPool`). Each
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
 * const backend = deviceEnd(eth0, pool);              // owner 1 (virtio-net-device-end.ts)
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
  driverEnd(pool: PoolHandle): VirtioNetDriverEnd {
    if (pool.ownerId !== this.driverOwner) throw new InvalidArgumentError(`driver end needs a pool handle of owner ${this.driverOwner}, got ${pool.ownerId}`);
    return new VirtioNetDriverEnd(this, pool);
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

/** Zeroed counters of one end. */
export function newCounters(): VirtioNetCounters {
  return { packets: 0, bytes: 0, dropsRingFull: 0, dropsNoHeadroom: 0, dropsBadDescriptor: 0 };
}

/**
 * The driver (instance) end of a `VirtioNetDevice`: transmits frames, keeps the
 * receiveq stocked and receives frames. Scratch arrays are allocated once.
 */
export class VirtioNetDriverEnd {
  readonly pool: PoolHandle;
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

  constructor(dev: VirtioNetDevice, pool: PoolHandle) {
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
   * Posts as many empty pool buffers on the receiveq as it has free descriptors, at most
   * `max` (one alloc, one publish). Returns how many. Does nothing after `close`.
   */
  refillRx(max = 1 << 30): number {
    if (this.closed) return 0;
    const want = Math.min(this.rxq.freeDescriptors, max);
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

  /**
   * Frames `transmit` takes now without dropping any: the transmitq's free descriptors
   * after recycling the used ones (the `Link` contract, `src/dataplane/links/link.ts`).
   */
  txRoom(): number {
    this.reclaimTx();
    return this.txq.freeDescriptors;
  }

  /** Whether the device delivered frames that `receive` has not taken. */
  hasRx(): boolean {
    return this.rxq.hasUsed();
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

  /**
   * Asks the device to ring when it has taken transmitted frames (before a sleep for room);
   * true if it already has (then do not sleep).
   */
  armTx(): boolean {
    return this.txq.enableUsedNotifications();
  }

  /** Stops the device from ringing for taken frames (while polling). */
  disarmTx(): void {
    this.txq.disableUsedNotifications();
  }

  /**
   * Also rings `bell` (the host's interrupt line) whenever transmitting, or posting receive
   * buffers, rings the device: each only while the device asked for it (`armTx`,
   * `armRxRoom` of its end, right before the host sleeps).
   */
  setTxInterrupt(bell: Doorbell | null): void {
    this.txq.interrupt = bell;
    this.rxq.interrupt = bell;
  }

  /** Stops refilling the receiveq (for shutdown: the device end then returns its posted buffers). */
  close(): void {
    this.closed = true;
  }
}

/** A receive side that can ask its peer to ring a shared interrupt line (a `VirtioNetDriverEnd`, any `Link`). */
export interface ArmableRx {
  /** Asks the peer to ring when frames arrive; true if frames already wait. */
  armRx(): boolean;
  /** Stops the peer from ringing. */
  disarmRx(): void;
  /** Whether frames wait. */
  hasRx(): boolean;
}

/**
 * Sleeps until a frame arrives on any of `ends`' receive sides, or `timeoutMs` passes: reads
 * the shared interrupt `bell` (which the device ends ring, see `setInterrupt`), arms every
 * receiveq, re-checks, waits, disarms. Returns whether frames wait afterwards. One sleep
 * for all devices, so traffic on one side never waits for a timeout on the other.
 *
 * @example
 * ```ts
 * if (idle) waitForRxOnAny([eth0, eth1], irq, 1);
 * ```
 */
export function waitForRxOnAny(ends: readonly ArmableRx[], bell: Doorbell, timeoutMs: number): boolean {
  const seen = bell.sequence();
  let pending = false;
  for (const end of ends) if (end.armRx()) pending = true;
  if (!pending) bell.wait(seen, timeoutMs);
  let waiting = false;
  for (const end of ends) {
    end.disarmRx();
    if (end.hasRx()) waiting = true;
  }
  return waiting;
}
