import { InvalidArgumentError } from '../errors/catalog.ts';

/** State of a neighbour slot. */
export const NeighbourState = {
  EMPTY: 0,
  /** ARP request (IPv6: neighbour solicitation) sent, no answer yet; frames for it wait in a hold queue. */
  INCOMPLETE: 1,
  /** MAC and peer known. */
  REACHABLE: 2,
} as const;

/**
 * The gateway's neighbour table: IP address → (MAC, peer), one body for both families over
 * a key width: 1 word (IPv4, the ARP table) or 4 words (IPv6, the neighbour cache that
 * neighbour discovery fills). An open-addressing table (linear probing, backward-shift
 * deletion, so no tombstones) over typed arrays; keys are passed as four words `k0..k3`
 * (most significant first), of which a 1-word table reads `k0` only. No allocation after
 * construction.
 *
 * An INCOMPLETE entry owns one of `maxPending` hold queues of `holdPerAddress` opaque
 * uint32 handles (the port stores pool buffer ids): frames waiting for the answer. They are
 * handed back by `takePending` when the answer comes or the entry times out.
 *
 * @example
 * ```ts
 * const t = new NeighbourTable(1024, 64, 8);        // IPv4; `new NeighbourTable(1024, 64, 8, 4)` for IPv6
 * let s = t.find(ip, 0, 0, 0);
 * if (s < 0) s = t.insertIncomplete(ip, 0, 0, 0, now);
 * t.hold(s, bufferId);
 * // … ARP reply (neighbour advertisement) arrives:
 * t.setReachable(s, macHi, macLo, peer, now);
 * const n = t.takePending(s, out); // out[0..n): the held buffer ids
 * ```
 */
export class NeighbourTable {
  readonly capacity: number;
  /** Entries in use (INCOMPLETE or REACHABLE). */
  count = 0;
  /** Words per key: 1 (IPv4) or 4 (IPv6). */
  readonly width: number;
  /** Key of slot s at `key[s * width …]`. */
  readonly key: Uint32Array;
  readonly state: Uint8Array;
  readonly macHi: Uint16Array;
  readonly macLo: Uint32Array;
  readonly peer: Int16Array;
  /** When the entry was created or last confirmed (REACHABLE: last heard from), ms. */
  readonly seenAt: Float64Array;
  /** When the last ARP request for it went out, ms. */
  readonly probeAt: Float64Array;
  /** Hold queue index of an INCOMPLETE entry, -1 when it has none. */
  private readonly pending: Int32Array;
  private readonly mask: number;
  private readonly shift: number;
  readonly holdPerAddress: number;
  private readonly held: Uint32Array;
  private readonly heldCount: Uint16Array;
  private readonly freeQueues: Int32Array;
  private freeTop: number;

  constructor(capacity = 1024, maxPending = 64, holdPerAddress = 8, width: 1 | 4 = 1) {
    if (!Number.isInteger(capacity) || capacity < 2 || (capacity & (capacity - 1)) !== 0 || capacity > 1 << 24) {
      throw new InvalidArgumentError(`neighbour table capacity ${capacity} must be a power of two from 2 to 2^24`);
    }
    if (!Number.isInteger(maxPending) || maxPending < 1) throw new InvalidArgumentError(`maxPending ${maxPending} must be a positive integer`);
    if (!Number.isInteger(holdPerAddress) || holdPerAddress < 1 || holdPerAddress > 65535) {
      throw new InvalidArgumentError(`holdPerAddress ${holdPerAddress} must be an integer from 1 to 65535`);
    }
    if (width !== 1 && width !== 4) throw new InvalidArgumentError(`neighbour key width ${width} must be 1 (IPv4) or 4 (IPv6)`);
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.shift = 32 - Math.log2(capacity);
    this.width = width;
    this.key = new Uint32Array(capacity * width);
    this.state = new Uint8Array(capacity);
    this.macHi = new Uint16Array(capacity);
    this.macLo = new Uint32Array(capacity);
    this.peer = new Int16Array(capacity);
    this.seenAt = new Float64Array(capacity);
    this.probeAt = new Float64Array(capacity);
    this.pending = new Int32Array(capacity).fill(-1);
    this.holdPerAddress = holdPerAddress;
    this.held = new Uint32Array(maxPending * holdPerAddress);
    this.heldCount = new Uint16Array(maxPending);
    this.freeQueues = new Int32Array(maxPending);
    for (let i = 0; i < maxPending; i++) this.freeQueues[i] = maxPending - 1 - i;
    this.freeTop = maxPending;
  }

  /** Home slot of a key (a 1-word table passes 0 for `k1..k3`, so its hash is the word's). */
  private home(k0: number, k1: number, k2: number, k3: number): number {
    return Math.imul(k0 ^ Math.imul(k1, 0x85ebca6b) ^ Math.imul(k2, 0xc2b2ae35) ^ Math.imul(k3, 0x27d4eb2f), 0x9e3779b1) >>> this.shift;
  }

  /** Home slot of the key stored in slot `s`. */
  private homeOfSlot(s: number): number {
    const k = this.key;
    if (this.width === 1) return this.home(k[s], 0, 0, 0);
    const b = s << 2;
    return this.home(k[b], k[b + 1], k[b + 2], k[b + 3]);
  }

  /** True when slot `s` holds the key `k0..k3`. */
  private holds(s: number, k0: number, k1: number, k2: number, k3: number): boolean {
    const k = this.key;
    if (this.width === 1) return k[s] === k0 >>> 0;
    const b = s << 2;
    return k[b] === k0 >>> 0 && k[b + 1] === k1 >>> 0 && k[b + 2] === k2 >>> 0 && k[b + 3] === k3 >>> 0;
  }

  /** Slot of the address `k0..k3` (IPv4: `k0`, the others 0), or -1. */
  find(k0: number, k1: number, k2: number, k3: number): number {
    if (this.width === 1) k1 = k2 = k3 = 0;
    let s = this.home(k0, k1, k2, k3);
    for (let probes = 0; probes < this.capacity; probes++) {
      if (this.state[s] === NeighbourState.EMPTY) return -1;
      if (this.holds(s, k0, k1, k2, k3)) return s;
      s = (s + 1) & this.mask;
    }
    return -1;
  }

  /** Adds the address as INCOMPLETE (no hold queue yet); returns its slot, or -1 when the table is full. Caller checked `find` first. */
  insertIncomplete(k0: number, k1: number, k2: number, k3: number, now: number): number {
    const s = this.claim(k0, k1, k2, k3);
    if (s < 0) return -1;
    this.state[s] = NeighbourState.INCOMPLETE;
    this.macHi[s] = 0;
    this.macLo[s] = 0;
    this.peer[s] = -1;
    this.seenAt[s] = now;
    this.probeAt[s] = now;
    return s;
  }

  /** Adds the address as REACHABLE; returns its slot, or -1 when the table is full. Caller checked `find` first. */
  insertReachable(k0: number, k1: number, k2: number, k3: number, macHi: number, macLo: number, peer: number, now: number): number {
    const s = this.claim(k0, k1, k2, k3);
    if (s < 0) return -1;
    this.setReachable(s, macHi, macLo, peer, now);
    this.probeAt[s] = 0;
    return s;
  }

  /** Marks slot `s` REACHABLE at (macHi, macLo) via `peer`. Its hold queue stays until `takePending`. */
  setReachable(s: number, macHi: number, macLo: number, peer: number, now: number): void {
    this.state[s] = NeighbourState.REACHABLE;
    this.macHi[s] = macHi;
    this.macLo[s] = macLo >>> 0;
    this.peer[s] = peer;
    this.seenAt[s] = now;
  }

  /** Appends `handle` to the hold queue of slot `s`; false when that queue (or every queue) is full. */
  hold(s: number, handle: number): boolean {
    let q = this.pending[s];
    if (q < 0) {
      if (this.freeTop === 0) return false;
      q = this.freeQueues[--this.freeTop];
      this.pending[s] = q;
      this.heldCount[q] = 0;
    }
    const n = this.heldCount[q];
    if (n >= this.holdPerAddress) return false;
    this.held[q * this.holdPerAddress + n] = handle;
    this.heldCount[q] = n + 1;
    return true;
  }

  /** Frames held for slot `s`. */
  heldFor(s: number): number {
    const q = this.pending[s];
    return q < 0 ? 0 : this.heldCount[q];
  }

  /** Moves slot `s`'s held handles to `out[0..)` (oldest first), frees its hold queue and returns how many. */
  takePending(s: number, out: Uint32Array): number {
    const q = this.pending[s];
    if (q < 0) return 0;
    const n = this.heldCount[q];
    const base = q * this.holdPerAddress;
    for (let i = 0; i < n; i++) out[i] = this.held[base + i];
    this.heldCount[q] = 0;
    this.pending[s] = -1;
    this.freeQueues[this.freeTop++] = q;
    return n;
  }

  /** Removes slot `s` (its hold queue must be empty: `takePending` first). Entries after it may move into `s`. */
  remove(s: number): void {
    if (this.pending[s] >= 0) throw new InvalidArgumentError(`neighbour slot ${s} still holds frames`);
    let hole = s;
    let j = s;
    // Backward-shift deletion: pull later members of the probe run into the hole.
    for (;;) {
      j = (j + 1) & this.mask;
      if (this.state[j] === NeighbourState.EMPTY) break;
      const h = this.homeOfSlot(j);
      // Entry j may move to `hole` only if its home is not cyclically in (hole, j].
      const inRange = hole <= j ? h > hole && h <= j : h > hole || h <= j;
      if (inRange) continue;
      this.move(j, hole);
      hole = j;
    }
    this.state[hole] = NeighbourState.EMPTY;
    this.pending[hole] = -1;
    this.count--;
  }

  /** Removes every entry, handing held handles to `out` first; returns how many handles it wrote. `out` must hold them all. */
  clear(out: Uint32Array): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) {
      const q = this.pending[s];
      if (q >= 0) {
        n += this.takePending(s, out.subarray(n));
      }
      this.state[s] = NeighbourState.EMPTY;
    }
    this.count = 0;
    return n;
  }

  private claim(k0: number, k1: number, k2: number, k3: number): number {
    if (this.count >= this.capacity - 1) return -1;
    const k = this.key;
    if (this.width === 1) k1 = k2 = k3 = 0;
    let s = this.home(k0, k1, k2, k3);
    while (this.state[s] !== NeighbourState.EMPTY) s = (s + 1) & this.mask;
    if (this.width === 1) k[s] = k0;
    else {
      k[s << 2] = k0;
      k[(s << 2) + 1] = k1;
      k[(s << 2) + 2] = k2;
      k[(s << 2) + 3] = k3;
    }
    this.pending[s] = -1;
    this.count++;
    return s;
  }

  private move(from: number, to: number): void {
    const w = this.width;
    this.key.copyWithin(to * w, from * w, from * w + w);
    this.state[to] = this.state[from];
    this.macHi[to] = this.macHi[from];
    this.macLo[to] = this.macLo[from];
    this.peer[to] = this.peer[from];
    this.seenAt[to] = this.seenAt[from];
    this.probeAt[to] = this.probeAt[from];
    this.pending[to] = this.pending[from];
  }
}
