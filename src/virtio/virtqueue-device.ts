import type { Doorbell } from './doorbell.ts';
import { VirtqueueProtocolError } from '../errors/catalog.ts';
import { vringNeedEvent } from './event-idx.ts';
import type { SplitRing } from './split-ring.ts';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_USED_F_NO_NOTIFY,
} from './split-ring-layout.ts';

const TWO_32 = 4294967296;

/**
 * The device end of a split virtqueue: pops available chains, reads their descriptors,
 * and marks them used.
 *
 * - `pop` reads avail->idx once with `Atomics.load` (which orders the driver's plain
 *   descriptor and ring writes before it), then up to `max` ring slots and each head
 *   descriptor's addr/len. Chains are walked with `readChain`.
 * - `stageUsed` writes used ring elements with plain stores; `publishUsed` stores
 *   used->idx once with `Atomics.store` and rings the driver's doorbell only if it asked
 *   (EVENT_IDX: `vring_need_event(used_event, new, old)`; otherwise avail->flags lacks
 *   VIRTQ_AVAIL_F_NO_INTERRUPT). `pushBatch` = stage n + publish; with IN_ORDER and no
 *   lengths it writes a single used element for the whole batch.
 * - A driver that breaks the protocol (more entries than the queue holds, a head or
 *   `next` out of range, a head made available again before it was used, head flags the
 *   device does not accept (`acceptHeadFlags`; INDIRECT without the feature by default), a
 *   chain loop) gets a `VirtqueueProtocolError` from `pop`, or -1 and the reason in
 *   `violation` from `tryPop`, for a device whose driver it does not trust (the host's end
 *   of an instance's queue must not throw into the host's loop).
 *
 * One device per ring, in one thread.
 *
 * @example
 * ```ts
 * const dev = new VirtqueueDevice(ring);
 * const n = dev.pop(heads, addrs, lens, 32);
 * for (let i = 0; i < n; i++) handle(addrs[i], lens[i]);
 * dev.pushBatch(heads, zeroLens, n);           // one used->idx publish
 * ```
 */
export class VirtqueueDevice {
  readonly ring: SplitRing;
  readonly queueSize: number;
  /** Used-buffer notifications sent (doorbell rings). */
  notificationsSent = 0;
  /**
   * A doorbell shared by several queues of one driver (an interrupt line, like one MSI-X
   * vector for all of a guest's receive queues): rung with the queue's own used doorbell,
   * so a driver can sleep on all its queues at once. Null: only the queue's own doorbell.
   */
  interrupt: Doorbell | null = null;
  /** Times `waitForAvail` actually slept. */
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
  private lastAvail: number;
  private usedIdx: number;
  private published: number;
  /** Chains popped and not yet staged as used. */
  private held = 0;
  /** 1 for each head descriptor popped and not yet used (a head made available twice is a violation). */
  private readonly heldHeads: Uint8Array;
  private headFlagsMask = VIRTQ_DESC_F_INDIRECT;
  private headFlagsValue = 0;
  /** Why the last `tryPop` returned -1 (the driver broke the protocol); empty before. */
  violation = '';

  constructor(ring: SplitRing) {
    this.ring = ring;
    this.queueSize = ring.queueSize;
    this.mask = ring.queueSize - 1;
    this.u16 = ring.u16;
    this.u32 = ring.u32;
    this.descW = ring.descW;
    this.availIdxH = ring.availIdxH;
    this.availRingH = ring.availRingH;
    this.usedIdxH = ring.usedIdxH;
    this.usedRingW = ring.usedRingW;
    this.eventIdx = ring.eventIdx;
    this.heldHeads = new Uint8Array(ring.queueSize);
    this.usedIdx = Atomics.load(this.u16, this.usedIdxH);
    this.published = this.usedIdx;
    this.lastAvail = this.usedIdx;
    // Start quiet: `waitForAvail` arms notifications before it ever sleeps.
    if (this.eventIdx) Atomics.store(this.u16, ring.availEventH, (this.lastAvail - 1) & 0xffff);
    this.disableAvailNotifications();
  }

  /** Chains popped and not yet marked used. */
  get chainsHeld(): number {
    return this.held;
  }

  /** How many chains the driver has made available that `pop` has not taken yet. */
  availCount(): number {
    return (Atomics.load(this.u16, this.availIdxH) - this.lastAvail) & 0xffff;
  }

  /** Whether the driver has made chains available that `pop` has not taken yet. */
  hasAvail(): boolean {
    return Atomics.load(this.u16, this.availIdxH) !== this.lastAvail;
  }

  /**
   * Accepts only head descriptors whose `flags & mask` equal `value` (default: mask
   * INDIRECT, value 0). A device that handles one-descriptor chains of one direction says
   * so here, e.g. a transmitq `(NEXT | WRITE | INDIRECT, 0)`, a receiveq
   * `(NEXT | WRITE | INDIRECT, WRITE)`.
   */
  acceptHeadFlags(mask: number, value: number): void {
    this.headFlagsMask = mask | VIRTQ_DESC_F_INDIRECT;
    this.headFlagsValue = value & ~VIRTQ_DESC_F_INDIRECT;
  }

  /**
   * Pops up to `max` available chains: head descriptor ids into `outHeads`, the head
   * descriptor's addr and len into `outAddrs`/`outLens`. Returns the count. Throws
   * `VirtqueueProtocolError` if the driver broke the protocol (see `tryPop`).
   */
  pop(outHeads: Uint16Array | Uint32Array, outAddrs: Float64Array, outLens: Uint32Array, max: number): number {
    const n = this.tryPop(outHeads, outAddrs, outLens, max);
    if (n < 0) throw new VirtqueueProtocolError(this.violation);
    return n;
  }

  /**
   * `pop` for a driver the device does not trust: returns -1 instead of throwing when the
   * driver broke the protocol (an available index more than the free entries ahead, a head
   * out of range or already held, head flags not accepted), with the reason in
   * `violation`. The chains before the bad one count as popped; the queue is not usable
   * afterwards (fail its driver).
   */
  tryPop(outHeads: Uint16Array | Uint32Array, outAddrs: Float64Array, outLens: Uint32Array, max: number): number {
    const u16 = this.u16;
    const pending = (Atomics.load(u16, this.availIdxH) - this.lastAvail) & 0xffff;
    if (pending === 0) return 0;
    const size = this.queueSize;
    if (pending + this.held > size) {
      this.violation = `driver made ${pending} chains available with ${this.held} held on a queue of ${size}`;
      return -1;
    }
    let n = pending < max ? pending : max;
    if (n > outHeads.length) n = outHeads.length;
    if (n > outAddrs.length) n = outAddrs.length;
    if (n > outLens.length) n = outLens.length;
    const u32 = this.u32;
    const mask = this.mask;
    const ringH = this.availRingH;
    const descW = this.descW;
    const heldHeads = this.heldHeads;
    const flagsMask = this.headFlagsMask;
    const flagsValue = this.headFlagsValue;
    let idx = this.lastAvail;
    for (let i = 0; i < n; i++) {
      const head = u16[ringH + (idx & mask)];
      const w = descW + 4 * head;
      const flags = head < size ? u32[w + 3] & flagsMask : 0;
      if (head >= size || heldHeads[head] !== 0 || flags !== flagsValue) {
        this.lastAvail = idx;
        this.held += i;
        this.violation =
          head >= size
            ? `available ring names descriptor ${head} on a queue of ${size}`
            : heldHeads[head] !== 0
              ? `descriptor ${head} made available again before it was used`
              : (flags & VIRTQ_DESC_F_INDIRECT) !== 0
                ? `descriptor ${head} is INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated`
                : `descriptor ${head} has flags 0x${(u32[w + 3] & 0xffff).toString(16)}, this queue takes 0x${flagsValue.toString(16)} under mask 0x${flagsMask.toString(16)}`;
        return -1;
      }
      heldHeads[head] = 1;
      outHeads[i] = head;
      outAddrs[i] = u32[w] + u32[w + 1] * TWO_32;
      outLens[i] = u32[w + 2];
      idx = (idx + 1) & 0xffff;
    }
    this.lastAvail = idx;
    this.held += n;
    return n;
  }

  /**
   * The head descriptor `addr` of each chain the driver made available that `pop` has not
   * taken yet, in order, at most `out.length` (heads out of range are skipped: `tryPop`
   * reports those). Reads only; for a device that audits what a driver posted.
   */
  peekAvailAddrs(out: Float64Array): number {
    const u16 = this.u16;
    let pending = (Atomics.load(u16, this.availIdxH) - this.lastAvail) & 0xffff;
    if (pending > this.queueSize) pending = this.queueSize;
    let n = 0;
    let idx = this.lastAvail;
    for (let i = 0; i < pending && n < out.length; i++) {
      const head = u16[this.availRingH + (idx & this.mask)];
      idx = (idx + 1) & 0xffff;
      if (head < this.queueSize) out[n++] = this.descAddr(head);
    }
    return n;
  }

  /** `addr` of descriptor `d`. */
  descAddr(d: number): number {
    const w = this.descW + 4 * d;
    return this.u32[w] + this.u32[w + 1] * TWO_32;
  }

  /** `len` of descriptor `d`. */
  descLen(d: number): number {
    return this.u32[this.descW + 4 * d + 2];
  }

  /** `flags` of descriptor `d`. */
  descFlags(d: number): number {
    return this.u16[2 * (this.descW + 4 * d) + 6];
  }

  /** `next` of descriptor `d`. */
  descNext(d: number): number {
    return this.u16[2 * (this.descW + 4 * d) + 7];
  }

  /**
   * Rewrites `addr` and `len` of a descriptor this device holds (popped, not yet used).
   * NOT part of virtio: it is nfvkit's zero-copy receive (see `virtio-net-device.ts`),
   * where the device hands the driver a filled buffer in place of the empty one it was
   * given, like a netmap slot swap. Ordered before the driver's read by `publishUsed`.
   */
  swapDescBuffer(d: number, addr: number, len: number): void {
    const w = this.descW + 4 * d;
    this.u32[w] = addr >>> 0;
    this.u32[w + 1] = addr > 0xffffffff ? Math.floor(addr / TWO_32) : 0;
    this.u32[w + 2] = len;
  }

  /**
   * Walks the chain starting at `head` into `outAddrs`/`outLens`/`outFlags` (at most
   * `max` entries) and returns its length. Throws `VirtqueueProtocolError` on a `next`
   * out of range, a chain longer than the queue (a loop) or one longer than `max`.
   */
  readChain(head: number, outAddrs: Float64Array, outLens: Uint32Array, outFlags: Uint16Array, max: number): number {
    const size = this.queueSize;
    let d = head;
    for (let i = 0; i < size; i++) {
      if (d >= size) throw new VirtqueueProtocolError(`chain from ${head} reaches descriptor ${d} on a queue of ${size}`);
      if (i >= max) throw new VirtqueueProtocolError(`chain from ${head} is longer than ${max} descriptors`);
      const w = this.descW + 4 * d;
      const fn = this.u32[w + 3];
      const flags = fn & 0xffff;
      if ((flags & VIRTQ_DESC_F_INDIRECT) !== 0) throw new VirtqueueProtocolError(`descriptor ${d} is INDIRECT but VIRTIO_F_INDIRECT_DESC was not negotiated`);
      outAddrs[i] = this.u32[w] + this.u32[w + 1] * TWO_32;
      outLens[i] = this.u32[w + 2];
      outFlags[i] = flags;
      if ((flags & VIRTQ_DESC_F_NEXT) === 0) return i + 1;
      d = fn >>> 16;
    }
    throw new VirtqueueProtocolError(`chain from ${head} loops (longer than the queue size ${size})`);
  }

  /** Stages one used element `{ id: head, len }` (bytes the device wrote). Visible after `publishUsed`. */
  stageUsed(head: number, len: number): void {
    if (this.held === 0) throw new VirtqueueProtocolError('marking a buffer used that was never popped');
    this.heldHeads[head & this.mask] = 0;
    const w = this.usedRingW + 2 * (this.usedIdx & this.mask);
    this.u32[w] = head;
    this.u32[w + 1] = len;
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.held--;
  }

  /**
   * Publishes staged used elements with one `Atomics.store` of used->idx and rings the
   * driver's doorbell if it asked. Returns whether it rang.
   */
  publishUsed(): boolean {
    const newIdx = this.usedIdx;
    const old = this.published;
    if (newIdx === old) return false;
    const u16 = this.u16;
    Atomics.store(u16, this.usedIdxH, newIdx);
    this.published = newIdx;
    const need = this.eventIdx
      ? vringNeedEvent(Atomics.load(u16, this.ring.usedEventH), newIdx, old)
      : (Atomics.load(u16, this.ring.availFlagsH) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    if (need) {
      this.notificationsSent++;
      this.ring.usedBell.ring();
      this.interrupt?.ring();
    }
    return need;
  }

  /**
   * Marks `heads[0..n)` used with lengths `lens[0..n)` (null: nothing written, length 0)
   * and publishes once. Returns whether it rang. With IN_ORDER and `lens` null, `heads`
   * must be the oldest chains popped, in pop order, and only one used element is written
   * (for the last), the index advancing by `n`, as the spec allows for in-order batches.
   */
  pushBatch(heads: ArrayLike<number>, lens: ArrayLike<number> | null, n: number): boolean {
    if (n > this.held) throw new VirtqueueProtocolError(`marking ${n} buffers used with only ${this.held} popped`);
    if (n <= 0) return false;
    const u32 = this.u32;
    const ringW = this.usedRingW;
    const mask = this.mask;
    const heldHeads = this.heldHeads;
    for (let i = 0; i < n; i++) heldHeads[heads[i] & mask] = 0;
    let idx = this.usedIdx;
    if (lens === null && this.ring.inOrder) {
      const w = ringW + 2 * ((idx + n - 1) & mask);
      u32[w] = heads[n - 1];
      u32[w + 1] = 0;
      idx = (idx + n) & 0xffff;
    } else {
      for (let i = 0; i < n; i++) {
        const w = ringW + 2 * (idx & mask);
        u32[w] = heads[i];
        u32[w + 1] = lens === null ? 0 : lens[i];
        idx = (idx + 1) & 0xffff;
      }
    }
    this.usedIdx = idx;
    this.held -= n;
    return this.publishUsed();
  }

  /**
   * Arms available-buffer notifications (EVENT_IDX: avail_event = next avail index to
   * read; otherwise clears VIRTQ_USED_F_NO_NOTIFY) and re-checks. Returns true if chains
   * are already available, in which case the caller must not sleep.
   */
  enableAvailNotifications(): boolean {
    if (this.eventIdx) Atomics.store(this.u16, this.ring.availEventH, this.lastAvail);
    else Atomics.store(this.u16, this.ring.usedFlagsH, 0);
    return this.hasAvail();
  }

  /** Disarms available-buffer notifications while polling (see the driver's counterpart). */
  disableAvailNotifications(): void {
    if (!this.eventIdx) Atomics.store(this.u16, this.ring.usedFlagsH, VIRTQ_USED_F_NO_NOTIFY);
  }

  /**
   * Sleeps on the available-buffer doorbell for at most `timeoutMs` unless chains are
   * available. Returns whether chains are available afterwards.
   */
  waitForAvail(timeoutMs: number): boolean {
    const bell = this.ring.availBell;
    const seen = bell.sequence();
    if (this.enableAvailNotifications()) {
      this.disableAvailNotifications();
      return true;
    }
    this.sleeps++;
    bell.wait(seen, timeoutMs);
    this.disableAvailNotifications();
    return this.hasAvail();
  }
}
