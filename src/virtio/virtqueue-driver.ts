import type { Doorbell } from './doorbell.ts';
import { InvalidArgumentError, VirtqueueProtocolError } from '../errors/catalog.ts';
import { vringNeedEvent } from './event-idx.ts';
import type { SplitRing } from './split-ring.ts';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
} from './split-ring-layout.ts';

const TWO_32 = 4294967296;

/**
 * The driver end of a split virtqueue: it owns the descriptor table, makes buffers
 * available and reclaims them from the used ring (virtio 1.2 §2.7, "Supplying Buffers
 * to The Device" and "Receiving Used Buffers From The Device").
 *
 * - Descriptor free list, chain lengths, `next` links and per-head tokens are kept
 *   privately (never re-read from shared memory), so a misbehaving device cannot corrupt
 *   them; a used id that is out of range or not in flight throws `VirtqueueProtocolError`.
 * - Batches: `stage*` write descriptors and avail ring slots with plain stores; `publish`
 *   stores avail->idx once with `Atomics.store`, which orders every plain write before it
 *   for a device that reads the index with `Atomics.load`. `addBatch` = stage n + publish.
 *   `reclaim` reads used->idx once with `Atomics.load`, then the entries.
 * - Notifications: `publish` rings the available-buffer doorbell only if the device asked
 *   (EVENT_IDX: `vring_need_event(avail_event, new, old)`; otherwise used->flags lacks
 *   VIRTQ_USED_F_NO_NOTIFY). The driver's own used-buffer notifications stay off while it
 *   polls and are armed only by `waitForUsed` right before it sleeps.
 * - A token (u32, e.g. a pool buffer id) travels with each chain and comes back from
 *   `reclaim`. Descriptor `addr` is a byte offset into the packet pool.
 * - With VIRTIO_F_IN_ORDER (`SplitRingOptions.inOrder`) descriptors are used in table
 *   order, chains come back in the order they were added, and the device may mark a
 *   batch used with a single element; `reclaim` then reads one used element per call.
 *
 * One driver per ring, in one thread.
 *
 * @example
 * ```ts
 * const drv = new VirtqueueDriver(ring);
 * const n = drv.addBatch(addrs, lens, bufferIds, 32, false);   // one avail->idx publish
 * const m = drv.reclaim(doneIds, doneLens, 256);               // buffers back from the device
 * if (m === 0 && idle.idle()) drv.waitForUsed(5);
 * ```
 */
export class VirtqueueDriver {
  readonly ring: SplitRing;
  readonly queueSize: number;
  /** Available-buffer notifications sent (doorbell rings). */
  notificationsSent = 0;
  /**
   * A doorbell shared by the queues of several drivers toward one device host (the host's
   * interrupt line): rung with this queue's own available doorbell, so the host can sleep
   * on all of its queues at once. Null: only the queue's own doorbell.
   */
  interrupt: Doorbell | null = null;
  /** Times `waitForUsed` actually slept. */
  sleeps = 0;
  private readonly mask: number;
  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  private readonly descW: number;
  private readonly availIdxH: number;
  private readonly availRingH: number;
  private readonly usedIdxH: number;
  private readonly usedRingW: number;
  private readonly eventIdx: boolean;
  /** Free descriptor ids as a FIFO ring: taken at freeHead, returned at freeHead + freeCount. */
  private readonly freeIds: Uint16Array;
  private freeHead = 0;
  private freeCount: number;
  private readonly tokens: Uint32Array;
  private readonly chainLen: Uint16Array;
  private readonly nextOf: Uint16Array;
  private availIdx: number;
  private published: number;
  private lastUsed: number;
  private inFlight = 0;
  private readonly inOrder: boolean;
  /** IN_ORDER only: head descriptor of the oldest chain in flight. */
  private oldestHead = 0;

  constructor(ring: SplitRing) {
    const n = ring.queueSize;
    this.ring = ring;
    this.queueSize = n;
    this.mask = n - 1;
    this.u16 = ring.u16;
    this.u32 = ring.u32;
    this.descW = ring.descW;
    this.availIdxH = ring.availIdxH;
    this.availRingH = ring.availRingH;
    this.usedIdxH = ring.usedIdxH;
    this.usedRingW = ring.usedRingW;
    this.eventIdx = ring.eventIdx;
    this.inOrder = ring.inOrder;
    // FIFO (not LIFO) reuse: while the device completes in order, descriptors are taken
    // in table order, which VIRTIO_F_IN_ORDER requires and which keeps a table cache line
    // from holding both buffers in flight and buffers being added.
    this.freeIds = new Uint16Array(n);
    for (let i = 0; i < n; i++) this.freeIds[i] = i;
    this.freeCount = n;
    this.tokens = new Uint32Array(n);
    this.chainLen = new Uint16Array(n);
    this.nextOf = new Uint16Array(n);
    this.availIdx = Atomics.load(this.u16, this.availIdxH);
    this.published = this.availIdx;
    this.lastUsed = Atomics.load(this.u16, this.usedIdxH);
    // Start quiet: `waitForUsed` arms notifications before it ever sleeps.
    if (this.eventIdx) Atomics.store(this.u16, ring.usedEventH, (this.lastUsed - 1) & 0xffff);
    this.disableUsedNotifications();
  }

  /** Descriptors not in flight. */
  get freeDescriptors(): number {
    return this.freeCount;
  }

  /** Chains made available (or staged) and not yet reclaimed. */
  get chainsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Stages one single-descriptor buffer (`addr` = pool byte offset, `len` bytes,
   * device-writable if `writable`) carrying `token`. Returns false if no descriptor is
   * free. Not visible to the device until `publish`.
   */
  stage(addr: number, len: number, writable: boolean, token: number): boolean {
    if (this.freeCount === 0) return false;
    const d = this.freeIds[this.freeHead];
    this.freeHead = (this.freeHead + 1) & this.mask;
    this.freeCount--;
    this.tokens[d] = token;
    this.chainLen[d] = 1;
    this.writeDesc(d, addr, len, writable ? VIRTQ_DESC_F_WRITE : 0);
    this.u16[this.availRingH + (this.availIdx & this.mask)] = d;
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.inFlight++;
    return true;
  }

  /**
   * Stages a chain of `count` descriptors `addrs[i]`/`lens[i]`; those from index
   * `writableFrom` on are device-writable (the spec puts device-readable parts first).
   * Returns false, staging nothing, if fewer than `count` descriptors are free.
   */
  stageChain(addrs: ArrayLike<number>, lens: ArrayLike<number>, count: number, writableFrom: number, token: number): boolean {
    if (count < 1 || count > this.queueSize) throw new InvalidArgumentError(`chain of ${count} descriptors on a queue of ${this.queueSize}`);
    if (this.freeCount < count) return false;
    const fs = this.freeIds;
    const mask = this.mask;
    const head = fs[this.freeHead];
    let d = head;
    for (let i = 0; i < count; i++) {
      const next = i + 1 < count ? fs[(this.freeHead + i + 1) & mask] : 0;
      const flags = (i >= writableFrom ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0);
      this.writeDesc(d, addrs[i], lens[i], flags | (next << 16));
      this.nextOf[d] = next;
      d = next;
    }
    this.freeHead = (this.freeHead + count) & mask;
    this.freeCount -= count;
    this.tokens[head] = token;
    this.chainLen[head] = count;
    this.u16[this.availRingH + (this.availIdx & this.mask)] = head;
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.inFlight++;
    return true;
  }

  /** Writes descriptor `d`; `flagsNext` is le16 flags | le16 next << 16 (next 0 ends a chain). */
  private writeDesc(d: number, addr: number, len: number, flagsNext: number): void {
    const u32 = this.u32;
    const w = this.descW + 4 * d;
    u32[w] = addr >>> 0;
    u32[w + 1] = addr > 0xffffffff ? Math.floor(addr / TWO_32) : 0;
    u32[w + 2] = len;
    u32[w + 3] = flagsNext;
  }

  /**
   * Publishes everything staged since the last publish with one `Atomics.store` of
   * avail->idx, then rings the device's doorbell if it asked to be notified. Returns
   * whether it rang.
   */
  publish(): boolean {
    const newIdx = this.availIdx;
    const old = this.published;
    if (newIdx === old) return false;
    const u16 = this.u16;
    Atomics.store(u16, this.availIdxH, newIdx);
    this.published = newIdx;
    // Atomics are sequentially consistent: this load cannot move before the store above,
    // which is the full barrier the spec asks for between publishing and checking.
    const need = this.eventIdx
      ? vringNeedEvent(Atomics.load(u16, this.ring.availEventH), newIdx, old)
      : (Atomics.load(u16, this.ring.usedFlagsH) & VIRTQ_USED_F_NO_NOTIFY) === 0;
    if (need) {
      this.notificationsSent++;
      this.ring.availBell.ring();
      this.interrupt?.ring();
    }
    return need;
  }

  /**
   * Makes up to `n` single-descriptor buffers available (`addrs[from + i]`,
   * `lens[from + i]`, `tokens[from + i]`), all device-writable or all device-readable,
   * with one publish. Returns how many were added (fewer when descriptors run out).
   * `tokens` may be null when the caller does not need them back (their reclaimed
   * tokens are then meaningless): a transmit path, or an IN_ORDER queue whose caller
   * keeps its own FIFO.
   */
  addBatch(addrs: ArrayLike<number>, lens: ArrayLike<number>, tokens: ArrayLike<number> | null, n: number, writable: boolean, from = 0): number {
    const free = this.freeCount;
    if (n > free) n = free;
    if (n <= 0) return 0;
    const u32 = this.u32;
    const u16 = this.u16;
    const fs = this.freeIds;
    const tk = this.tokens;
    const cl = this.chainLen;
    const descW = this.descW;
    const ringH = this.availRingH;
    const mask = this.mask;
    const flags = writable ? VIRTQ_DESC_F_WRITE : 0;
    let idx = this.availIdx;
    let head = this.freeHead;
    const end = from + n;
    for (let i = from; i < end; i++) {
      const d = fs[head];
      head = (head + 1) & mask;
      if (tokens !== null) tk[d] = tokens[i];
      cl[d] = 1;
      const w = descW + 4 * d;
      const addr = addrs[i];
      u32[w] = addr >>> 0;
      u32[w + 1] = addr > 0xffffffff ? Math.floor(addr / TWO_32) : 0;
      u32[w + 2] = lens[i];
      u32[w + 3] = flags;
      u16[ringH + (idx & mask)] = d;
      idx = (idx + 1) & 0xffff;
    }
    this.freeHead = head;
    this.freeCount = free - n;
    this.availIdx = idx;
    this.inFlight += n;
    this.publish();
    return n;
  }

  /** Whether the device has marked buffers used that `reclaim` has not taken yet. */
  hasUsed(): boolean {
    return Atomics.load(this.u16, this.usedIdxH) !== this.lastUsed;
  }

  /**
   * Takes up to `max` used chains: their tokens into `outTokens`, the device's written
   * length into `outLens`, and the head descriptor's current `addr` into `outAddrs`
   * (each unless null). Frees their descriptors. Reads used->idx once. Throws
   * `VirtqueueProtocolError` if the device returns a descriptor that is not in flight.
   *
   * With IN_ORDER, chains come back in the order they were added and the used ring is
   * only read to check the batch's last element (and for lengths if asked: a chain the
   * device did not write an element for, because it marked a batch used at once,
   * reports length 0).
   */
  reclaim(outTokens: Uint32Array | null, outLens: Uint32Array | null, max: number, outAddrs: Float64Array | null = null): number {
    const u16 = this.u16;
    const usedIdx = Atomics.load(u16, this.usedIdxH);
    const pending = (usedIdx - this.lastUsed) & 0xffff;
    if (pending === 0) return 0;
    if (pending > this.inFlight) {
      throw new VirtqueueProtocolError(`device marked ${pending} buffers used with only ${this.inFlight} in flight`);
    }
    let n = pending < max ? pending : max;
    if (outTokens !== null && n > outTokens.length) n = outTokens.length;
    if (outLens !== null && n > outLens.length) n = outLens.length;
    if (outAddrs !== null && n > outAddrs.length) n = outAddrs.length;
    if (this.inOrder) return this.reclaimInOrder(outTokens, outLens, n, outAddrs, n === pending ? usedIdx : -1);
    const u32 = this.u32;
    const size = this.queueSize;
    const mask = this.mask;
    const ringW = this.usedRingW;
    const descW = this.descW;
    const cl = this.chainLen;
    const fs = this.freeIds;
    const nx = this.nextOf;
    const tk = this.tokens;
    let used = this.lastUsed;
    let tail = (this.freeHead + this.freeCount) & mask;
    let returned = 0;
    for (let i = 0; i < n; i++) {
      const w = ringW + 2 * (used & mask);
      const id = u32[w];
      const c = id < size ? cl[id] : 0;
      if (c === 0) {
        this.freeCount += returned;
        this.lastUsed = used;
        this.inFlight -= i;
        throw new VirtqueueProtocolError(`device returned descriptor ${id}, which is not the head of a chain in flight`);
      }
      if (outTokens !== null) outTokens[i] = tk[id];
      if (outLens !== null) outLens[i] = u32[w + 1];
      if (outAddrs !== null) outAddrs[i] = u32[descW + 4 * id] + u32[descW + 4 * id + 1] * TWO_32;
      cl[id] = 0;
      fs[tail] = id;
      tail = (tail + 1) & mask;
      for (let k = 1, d = nx[id]; k < c; k++, d = nx[d]) {
        fs[tail] = d;
        tail = (tail + 1) & mask;
      }
      returned += c;
      used = (used + 1) & 0xffff;
    }
    this.freeCount += returned;
    this.lastUsed = used;
    this.inFlight -= n;
    return n;
  }

  /** IN_ORDER reclaim: chains in add order; `usedIdx` ≥ 0 when reclaiming up to it (checks its last element). */
  private reclaimInOrder(outTokens: Uint32Array | null, outLens: Uint32Array | null, n: number, outAddrs: Float64Array | null, usedIdx: number): number {
    const u32 = this.u32;
    const mask = this.mask;
    const ringW = this.usedRingW;
    const descW = this.descW;
    const cl = this.chainLen;
    const tk = this.tokens;
    let used = this.lastUsed;
    let head = this.oldestHead;
    let last = head;
    let returned = 0;
    for (let i = 0; i < n; i++) {
      const c = cl[head];
      if (outTokens !== null) outTokens[i] = tk[head];
      if (outLens !== null) {
        const w = ringW + 2 * (used & mask);
        outLens[i] = u32[w] === head ? u32[w + 1] : 0;
      }
      if (outAddrs !== null) outAddrs[i] = u32[descW + 4 * head] + u32[descW + 4 * head + 1] * TWO_32;
      // In order, descriptors are used in table order, so the FIFO free ring stays the
      // identity (position k holds descriptor k): freeing is just counting.
      returned += c;
      last = head;
      head = (head + c) & mask;
      used = (used + 1) & 0xffff;
    }
    this.freeCount += returned;
    this.lastUsed = used;
    this.inFlight -= n;
    this.oldestHead = head;
    if (usedIdx >= 0) {
      const id = u32[ringW + 2 * ((usedIdx - 1) & mask)];
      if (id !== last) throw new VirtqueueProtocolError(`IN_ORDER device's last used element names ${id}, expected ${last}`);
    }
    return n;
  }

  /**
   * Arms used-buffer notifications (EVENT_IDX: used_event = next used index to read;
   * otherwise clears VIRTQ_AVAIL_F_NO_INTERRUPT) and re-checks the used ring. Returns true
   * if used entries are already pending, in which case the caller must not sleep.
   */
  enableUsedNotifications(): boolean {
    if (this.eventIdx) Atomics.store(this.u16, this.ring.usedEventH, this.lastUsed);
    else Atomics.store(this.u16, this.ring.availFlagsH, 0);
    return this.hasUsed();
  }

  /**
   * Disarms used-buffer notifications while polling. Without EVENT_IDX this sets
   * VIRTQ_AVAIL_F_NO_INTERRUPT. With EVENT_IDX the spec wants avail->flags left at 0, so
   * used_event simply stays behind the used index: the device stays quiet until its index
   * wraps round to it (at most one spurious ring per 65536 entries).
   */
  disableUsedNotifications(): void {
    if (!this.eventIdx) Atomics.store(this.u16, this.ring.availFlagsH, VIRTQ_AVAIL_F_NO_INTERRUPT);
  }

  /**
   * Sleeps on the used-buffer doorbell for at most `timeoutMs` unless used entries are
   * pending: reads the doorbell, arms notifications, re-checks, waits, disarms. Returns
   * whether used entries are pending afterwards.
   */
  waitForUsed(timeoutMs: number): boolean {
    const bell = this.ring.usedBell;
    const seen = bell.sequence();
    if (this.enableUsedNotifications()) {
      this.disableUsedNotifications();
      return true;
    }
    this.sleeps++;
    bell.wait(seen, timeoutMs);
    this.disableUsedNotifications();
    return this.hasUsed();
  }
}
