import { InvalidArgumentError } from '../../src/errors/catalog.ts';

import { PORT_EXHAUSTED, WORDS_PER_ADDRESS } from './port-space.ts';

export { PORT_EXHAUSTED } from './port-space.ts';

/**
 * External endpoints of a NAT: who owns each (protocol, external address, port), and which
 * ports of the SNAT pool are free. TCP, UDP and ICMP identifiers are separate spaces.
 *
 * An external endpoint is one integer, its KEY: `((proto × addressCount + addrIndex) << 16) | port`.
 * - `owners` (Int32Array, one slot per key, 768 KiB per external address) maps a key to the
 *   mapping entry holding it plus one (0 = free): inbound translation is one array read,
 *   no hashing.
 * - For the pool addresses, a bitmap per (protocol, address) marks ports that cannot be
 *   handed out (taken, reserved by a port forward, or outside the range), and a free count
 *   per (protocol, address) lets `allocate` skip full addresses at once. A search scans 32
 *   ports per word from a start point the caller derives from a keyed hash (RFC 6056-style
 *   port randomisation), so a port is found in O(range / 32) words at worst.
 *
 * The allocator never hands out a key it has not been given back: `allocate` only returns
 * a port whose bit is clear, sets it, and only `release` clears it.
 *
 * @example
 * ```ts
 * const ports = new PortAllocator(1, [0], 1024, 65535);
 * const key = ports.allocate(NatProto.UDP, 0, hash);
 * if (key !== PORT_EXHAUSTED) ports.setOwner(key, entry);
 * ports.portOf(key); // the external port
 * ports.release(key);
 * ```
 */
export class PortAllocator {
  /** Number of external addresses (keys span `protoCount × addressCount × 65536`). */
  readonly addressCount: number;
  /** Pool addresses (indexes into the external address list), in preference order. */
  private readonly pool: Int32Array;
  /** External address index → position in `pool`, or -1. */
  private readonly poolPos: Int32Array;
  private from: number;
  private to: number;
  private readonly protoCount: number;
  private readonly owners: Int32Array;
  private readonly bits: Uint32Array;
  private readonly freeCount: Int32Array;

  /**
   * @param addressCount external addresses (1…64)
   * @param pool indexes of the addresses SNAT may hand ports out on
   * @param from first port of the pool range (≥ 1)
   * @param to last port of the pool range
   * @param protoCount number of protocol spaces (default 3: TCP, UDP, ICMP)
   */
  constructor(addressCount: number, pool: readonly number[], from: number, to: number, protoCount = 3) {
    if (!Number.isInteger(addressCount) || addressCount < 1 || addressCount > 64) {
      throw new InvalidArgumentError(`external address count must be 1…64, got ${addressCount}`);
    }
    if (!(from >= 1 && from <= to && to <= 65535)) throw new InvalidArgumentError(`bad port range ${from}-${to}`);
    this.addressCount = addressCount;
    this.pool = Int32Array.from(pool);
    this.poolPos = new Int32Array(addressCount).fill(-1);
    pool.forEach((a, i) => {
      if (a < 0 || a >= addressCount || this.poolPos[a] >= 0) throw new InvalidArgumentError(`bad pool address index ${a}`);
      this.poolPos[a] = i;
    });
    this.from = from;
    this.to = to;
    this.protoCount = protoCount;
    this.owners = new Int32Array(protoCount * addressCount * 65536);
    const spaces = protoCount * pool.length;
    this.bits = new Uint32Array(spaces * WORDS_PER_ADDRESS);
    this.freeCount = new Int32Array(spaces).fill(to - from + 1);
    for (let s = 0; s < spaces; s++) {
      const base = s * WORDS_PER_ADDRESS;
      for (let p = 0; p < from; p++) this.bits[base + (p >>> 5)] |= 1 << (p & 31);
      for (let p = to + 1; p < 65536; p++) this.bits[base + (p >>> 5)] |= 1 << (p & 31);
    }
  }

  /**
   * Narrows the pool's port range to `[from, to]` (inside the current one): the ports
   * outside it stop being handed out. For an instance that learns its shard after it was
   * built (`NatEngine.setShard`), before it allocates anything; ports already taken stay
   * taken. Control plane: ~1 ms per external address.
   */
  restrict(from: number, to: number): void {
    if (!(from >= this.from && from <= to && to <= this.to)) throw new InvalidArgumentError(`port range ${from}-${to} is not inside ${this.from}-${this.to}`);
    const spaces = this.protoCount * this.pool.length;
    for (let s = 0; s < spaces; s++) {
      const base = s * WORDS_PER_ADDRESS;
      let newlyTaken = 0;
      if (from > this.from) newlyTaken += this.setBits(base, this.from, from - 1);
      if (to < this.to) newlyTaken += this.setBits(base, to + 1, this.to);
      this.freeCount[s] -= newlyTaken;
    }
    this.from = from;
    this.to = to;
  }

  /** Sets bits `a..b` (inclusive) of the bitmap at word `base`, a word at a time; returns how many were clear. */
  private setBits(base: number, a: number, b: number): number {
    let cleared = 0;
    for (let w = a >>> 5; w <= b >>> 5; w++) {
      const lo = w === a >>> 5 ? a & 31 : 0;
      const hi = w === b >>> 5 ? b & 31 : 31;
      const mask = hi - lo === 31 ? 0xffffffff : (((1 << (hi - lo + 1)) - 1) << lo) >>> 0;
      const i = base + w;
      cleared += popcount32(~this.bits[i] & mask);
      this.bits[i] |= mask;
    }
    return cleared;
  }

  /** Key of an external endpoint. */
  key(proto: number, addrIndex: number, port: number): number {
    return ((proto * this.addressCount + addrIndex) << 16) | port;
  }

  /** External address index of a key. */
  addressIndexOf(key: number): number {
    return (key >>> 16) % this.addressCount;
  }

  /** Port (or ICMP identifier) of a key. */
  portOf(key: number): number {
    return key & 0xffff;
  }

  /** Entry owning the external endpoint `key`, or -1 when it is free. */
  owner(key: number): number {
    return this.owners[key] - 1;
  }

  /**
   * The owner array itself (key → entry + 1, 0 = free), for a data path that reads it
   * directly; never write to it.
   */
  ownerArray(): Int32Array {
    return this.owners;
  }

  /** Records `entry` as the owner of `key` (after `allocate`, or for a reserved key). */
  setOwner(key: number, entry: number): void {
    this.owners[key] = entry + 1;
  }

  /** Ports of `proto` still free on the pool, all addresses together. */
  freePorts(proto: number): number {
    let n = 0;
    const per = this.pool.length;
    for (let i = 0; i < per; i++) n += this.freeCount[proto * per + i];
    return n;
  }

  /**
   * Takes a free pool port for `proto`, preferring pool address `addrHint % poolSize` (so
   * one internal host keeps one external address, RFC 4787 "paired" pooling, while that
   * address has ports left) and a start point `portHint` within the range. Returns the key,
   * or {@link PORT_EXHAUSTED}. The caller must `setOwner` the key.
   */
  allocate(proto: number, addrHint: number, portHint: number): number {
    const per = this.pool.length;
    if (per === 0) return PORT_EXHAUSTED;
    const first = (addrHint >>> 0) % per;
    for (let k = 0; k < per; k++) {
      let pos = first + k;
      if (pos >= per) pos -= per;
      const space = proto * per + pos;
      if (this.freeCount[space] <= 0) continue;
      const port = this.scan(space * WORDS_PER_ADDRESS, portHint);
      this.bits[space * WORDS_PER_ADDRESS + (port >>> 5)] |= 1 << (port & 31);
      this.freeCount[space]--;
      return ((proto * this.addressCount + this.pool[pos]) << 16) | port;
    }
    return PORT_EXHAUSTED;
  }

  /**
   * Marks a key as not available for allocation (a port forward's external endpoint) and
   * records its owner. Returns false if the key is already owned.
   */
  reserve(key: number, entry: number): boolean {
    if (this.owners[key] !== 0) return false;
    this.owners[key] = entry + 1;
    this.markTaken(key);
    return true;
  }

  /**
   * Takes a specific key of the pool for `entry` (a mapping taken over from a failed
   * instance): only a pool port of this allocator's range (its shard) that is free.
   * Returns false, changing nothing, for any other key. Control path.
   */
  claim(key: number, entry: number): boolean {
    if (!Number.isInteger(key) || key < 0 || key >= this.owners.length || this.owners[key] !== 0) return false;
    const proto = Math.floor((key >>> 16) / this.addressCount);
    const pos = this.poolPos[(key >>> 16) % this.addressCount];
    const port = key & 0xffff;
    if (pos < 0 || port < this.from || port > this.to || proto >= this.protoCount) return false;
    const space = proto * this.pool.length + pos;
    const w = space * WORDS_PER_ADDRESS + (port >>> 5);
    const bit = 1 << (port & 31);
    if ((this.bits[w] & bit) !== 0) return false;
    this.bits[w] |= bit;
    this.freeCount[space]--;
    this.owners[key] = entry + 1;
    return true;
  }

  /** Protocol index of a key. */
  protoOf(key: number): number {
    return Math.floor((key >>> 16) / this.addressCount);
  }

  /** Gives a key back: clears its owner and, for a pool port, makes it available again. */
  release(key: number): void {
    this.owners[key] = 0;
    const proto = Math.floor((key >>> 16) / this.addressCount);
    const pos = this.poolPos[(key >>> 16) % this.addressCount];
    const port = key & 0xffff;
    if (pos < 0 || port < this.from || port > this.to) return;
    const space = proto * this.pool.length + pos;
    const w = space * WORDS_PER_ADDRESS + (port >>> 5);
    const bit = 1 << (port & 31);
    if ((this.bits[w] & bit) !== 0) {
      this.bits[w] &= ~bit;
      this.freeCount[space]++;
    }
  }

  private markTaken(key: number): void {
    const proto = Math.floor((key >>> 16) / this.addressCount);
    const pos = this.poolPos[(key >>> 16) % this.addressCount];
    const port = key & 0xffff;
    if (pos < 0 || port < this.from || port > this.to || proto >= this.protoCount) return;
    const space = proto * this.pool.length + pos;
    const w = space * WORDS_PER_ADDRESS + (port >>> 5);
    const bit = 1 << (port & 31);
    if ((this.bits[w] & bit) === 0) {
      this.bits[w] |= bit;
      this.freeCount[space]--;
    }
  }

  /** First clear bit at or after `from + hint % size`, circularly over the range; one must exist. */
  private scan(base: number, hint: number): number {
    const size = this.to - this.from + 1;
    const start = this.from + ((hint >>> 0) % size);
    const wFirst = this.from >>> 5;
    const wLast = this.to >>> 5;
    const bits = this.bits;
    let w = start >>> 5;
    let free = ~bits[base + w] & (-1 << (start & 31));
    for (let n = wLast - wFirst + 1; free === 0 && n > 0; n--) {
      w = w === wLast ? wFirst : w + 1;
      free = ~bits[base + w];
    }
    return (w << 5) | (31 - Math.clz32(free & -free));
  }
}

/** Number of set bits of a 32-bit value. */
function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}
