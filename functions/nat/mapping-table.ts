import { InvalidArgumentError } from '../../src/errors/catalog.ts';
import type { StateTakeover } from '../../src/pipeline/compiled-pipeline.ts';
import {
  F_EXPIRES,
  FLAG_CLOSING,
  FLAG_SEEN_INBOUND,
  FLAG_STATIC,
  FREE_KEY,
  LIST_ICMP,
  LIST_NONE,
  LIST_TCP_ESTABLISHED,
  LIST_TCP_TRANSITORY,
  LIST_UDP,
  MAPPING_MISS,
  MAPPING_PORTS_EXHAUSTED,
  MAPPING_TABLE_FULL,
  STRIDE, V6_KEY, W_EXT_ADDR, W_EXT_KEY, W_EXT_PORT, W_FLAGS, W_HASH, W_INT6, W_INT_ADDR, W_INT_KEY, W_LIST, W_NEXT, W_PREV } from './mapping-record.ts';
import type { PortAllocator } from './port-allocator.ts';
import { PORT_EXHAUSTED } from './port-space.ts';

export { MAPPING_MISS, MAPPING_PORTS_EXHAUSTED, MAPPING_TABLE_FULL } from './mapping-record.ts';

/**
 * Expiry lists. A mapping sits in the list of its timeout class; within a list every
 * mapping has the same timeout, so appending on refresh keeps the list sorted by expiry
 * and the head is always the next to expire. (The data path reads the `LIST_*` constants
 * of `mapping-record.ts`, which images inline.)
 */
export const MappingList = {
  TCP_TRANSITORY: LIST_TCP_TRANSITORY,
  TCP_ESTABLISHED: LIST_TCP_ESTABLISHED,
  UDP: LIST_UDP,
  ICMP: LIST_ICMP,
  /** Static mappings (port forwards): in no list, never expire. */
  NONE: LIST_NONE,
} as const;

/** Bits of {@link NatMappingTable.flagsOf} (the `FLAG_*` constants of `mapping-record.ts`). */
export const MappingFlag = {
  /** A port forward: never expires, never removed. */
  STATIC: FLAG_STATIC,
  /** TCP: a packet came back from the outside since the mapping's last opening SYN. */
  SEEN_INBOUND: FLAG_SEEN_INBOUND,
  /** TCP: FIN or RST seen; the mapping uses the transitory timeout until a new SYN. */
  CLOSING: FLAG_CLOSING,
} as const;

/** Every {@link MappingFlag} bit. */
const ALL_FLAGS = FLAG_STATIC | FLAG_SEEN_INBOUND | FLAG_CLOSING;

/** List of each protocol index's mappings (TCP starts transitory). */
const FIRST_LIST = [LIST_TCP_TRANSITORY, LIST_UDP, LIST_ICMP];

/** Options of a {@link NatMappingTable}. */
export interface NatMappingTableOptions {
  /** Most live dynamic mappings. */
  capacity: number;
  /** Room for static mappings, on top of `capacity`. */
  staticCapacity: number;
  /** Idle timeout of each {@link MappingList}, in ms (indexes 0…3). */
  timeoutsMs: readonly number[];
  /** External address of each external address index. */
  externalAddresses: readonly number[];
  /** Hash seed (secret per instance: port choice and table layout are not predictable). */
  seed: number;
}

/**
 * Fold of an IPv6 address's four words into the 32-bit value a NAT64 mapping keeps as its
 * internal address (the index hash and the pool address choice read it; a hit is confirmed
 * on all four words).
 */
export function foldIpv6(a0: number, a1: number, a2: number, a3: number): number {
  return (a0 ^ ((a1 << 8) | (a1 >>> 24)) ^ ((a2 << 16) | (a2 >>> 16)) ^ ((a3 << 24) | (a3 >>> 8))) >>> 0;
}

/**
 * Endpoint-independent NAT mappings (RFC 4787): one mapping per internal endpoint
 * (protocol, internal address, internal port / ICMP identifier), holding ONE external
 * endpoint used for every destination while the mapping lives. NAT64 mappings (RFC 6146
 * BIB entries: an IPv6 internal endpoint) live in the same table, port allocator, expiry
 * lists and takeover ({@link NatMappingTable.lookup6}, {@link NatMappingTable.create6}):
 * their key carries a family bit, so an IPv4 lookup never returns one.
 *
 * Each entry is one 64-byte record (a cache line) in a single ArrayBuffer, read through a
 * Uint32Array / Int32Array / Float64Array view, so a translation touches one line of the
 * entry plus one of the index: an open-addressing index (linear probing, ≥ 2 slots per
 * entry, [entry, hash] pairs, backward-shift deletion) finds an entry by its internal
 * endpoint, and the {@link PortAllocator}'s owner array finds it by its external endpoint.
 *
 * Dynamic mappings expire `timeout(list)` ms after their last refresh. Expiry is exact and
 * O(1) per mapping because each timeout class is a doubly linked list kept in expiry order
 * (see {@link MappingList}). A port is given back to the allocator only when its mapping
 * is removed, so two live mappings never share an external endpoint.
 *
 * Time (`now`, ms) is passed in and must not go backwards. Data-path methods neither
 * allocate nor throw.
 *
 * @example
 * ```ts
 * const table = new NatMappingTable(ports, { capacity: 65536, staticCapacity: 0, timeoutsMs: [240e3, 7440e3, 300e3, 60e3], externalAddresses: [ext], seed });
 * let e = table.lookup(NatProto.UDP, src, sport);
 * if (e === MAPPING_MISS) e = table.create(NatProto.UDP, src, sport, now);
 * if (e >= 0) rewrite(table.extAddrOf(e), table.extPortOf(e));
 * ```
 */
export class NatMappingTable {
  /** Most live dynamic mappings. */
  readonly capacity: number;

  /** Entry records (moved by `attach`). */
  private u: Uint32Array;
  private i: Int32Array;
  private f: Float64Array;
  private readonly ports: PortAllocator;
  private readonly externalAddresses: Uint32Array;
  private readonly timeoutMs: Float64Array;
  private readonly seed: number;
  private readonly heads = new Int32Array(4).fill(-1);
  private readonly tails = new Int32Array(4).fill(-1);
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private staticCount = 0;
  private dynamicLive = 0;
  private expiredCount = 0;
  private readonly slotMask: number;
  /** Index slots as [entry, hash] pairs; entry -1 when empty. */
  private readonly slots: Int32Array;

  constructor(ports: PortAllocator, options: NatMappingTableOptions) {
    const { capacity, staticCapacity } = options;
    if (!Number.isInteger(capacity) || capacity < 1 || !Number.isInteger(staticCapacity) || staticCapacity < 0) {
      throw new InvalidArgumentError(`bad NAT mapping capacity ${capacity} / ${staticCapacity}`);
    }
    if (options.timeoutsMs.length !== 4) throw new InvalidArgumentError('NAT mapping table needs 4 timeouts');
    const n = capacity + staticCapacity;
    this.capacity = capacity;
    this.ports = ports;
    this.externalAddresses = Uint32Array.from(options.externalAddresses);
    this.timeoutMs = Float64Array.from(options.timeoutsMs);
    this.seed = options.seed | 0;
    const buffer = new ArrayBuffer(n * STRIDE * 4);
    this.u = new Uint32Array(buffer);
    this.i = new Int32Array(buffer);
    this.f = new Float64Array(buffer);
    for (let e = 0; e < n; e++) {
      this.u[e * STRIDE + W_INT_KEY] = FREE_KEY;
      this.i[e * STRIDE + W_LIST] = LIST_NONE;
    }
    this.freeStack = new Int32Array(n);
    for (let e = 0; e < n; e++) this.freeStack[e] = n - 1 - e;
    this.freeTop = n;
    let slots = 16;
    while (slots < n * 2) slots *= 2;
    this.slotMask = slots - 1;
    this.slots = new Int32Array(slots * 2).fill(-1);
  }

  /** Bytes of the entry records of a table with room for `capacity + staticCapacity` mappings (what `attach` needs). */
  static recordBytes(capacity: number, staticCapacity: number): number {
    return (capacity + staticCapacity) * STRIDE * 4;
  }

  /**
   * Moves the entry records into `records` (at least `recordBytes`, 8-aligned, zeroed: an
   * empty table writes nothing there, so a fresh block's pages stay untouched until
   * mappings use them; a never-used entry reads as expiring at 0): memory the
   * host owns, which outlives the instance (the index, free list and expiry list heads stay
   * private: they are rebuilt from records). With `previous` (the records of a failed
   * table of the same room), then takes over its dynamic mappings (static ones come from
   * the configuration): each is checked — a protocol index and list that agree, flags
   * without STATIC, an external port this allocator may hand out (its shard) and that is
   * still free, an internal endpoint not mapped yet, an expiry within its list's timeout
   * once moved by `shiftMs` onto this clock — and re-created in expiry order; a corrupt
   * one is refused and costs only its own flows. Call after the shard is set. Control path.
   */
  attach(records: Uint8Array, previous: Uint8Array | undefined, shiftMs: number, now: number): StateTakeover {
    const words = this.freeStack.length * STRIDE;
    const fits = (b: Uint8Array) => b.byteLength >= words * 4 && b.byteOffset % 8 === 0;
    if (!fits(records)) throw new InvalidArgumentError(`NAT mapping records need ${words * 4} bytes at an 8-aligned offset`);
    const u = new Uint32Array(records.buffer, records.byteOffset, words);
    // Empty: the zeroed records the host hands read as free too (`found` below), so nothing is copied and no page touched.
    if (this.freeTop < this.freeStack.length) u.set(this.u);
    this.u = u;
    this.i = new Int32Array(records.buffer, records.byteOffset, words);
    this.f = new Float64Array(records.buffer, records.byteOffset, words >>> 1);
    const took: StateTakeover = { adopted: 0, rejected: 0 };
    if (previous === undefined || !fits(previous)) return took;
    const pU = new Uint32Array(previous.buffer, previous.byteOffset, words);
    const pF = new Float64Array(previous.buffer, previous.byteOffset, words >>> 1);
    // Read each candidate once (the memory was written by an instance: nothing is trusted).
    const found: Array<{ a: number; a6: number[] | undefined; k: number; key: number; flags: number; list: number; expires: number }> = [];
    for (let e = 0; e < this.freeStack.length; e++) {
      const o = e * STRIDE;
      const k = pU[o + W_INT_KEY];
      const at = pF[e * (STRIDE >> 1) + F_EXPIRES];
      if (k === FREE_KEY || at === 0) continue; // free, or never used (a mapping always expires after 0)
      const flags = pU[o + W_FLAGS];
      if ((flags & FLAG_STATIC) !== 0 && flags <= ALL_FLAGS) continue; // re-made from the configuration
      const proto = (k >>> 16) & ~(V6_KEY >>> 16);
      const list = pU[o + W_LIST];
      const key = pU[o + W_EXT_KEY];
      const expires = at + shiftMs;
      const left = expires - now;
      const listFits = proto === 0 ? list === LIST_TCP_TRANSITORY || list === LIST_TCP_ESTABLISHED : list === proto + 1;
      if (proto > 2 || flags > ALL_FLAGS || !listFits || this.ports.protoOf(key) !== proto || !(left > 0 && left <= this.timeoutMs[list] + 1)) {
        took.rejected++;
        continue;
      }
      const v6 = (k & V6_KEY) !== 0;
      const a6 = v6 ? [pU[o + W_INT6], pU[o + W_INT6 + 1], pU[o + W_INT6 + 2], pU[o + W_INT6 + 3]] : undefined;
      found.push({ a: a6 === undefined ? pU[o + W_INT_ADDR] : foldIpv6(a6[0], a6[1], a6[2], a6[3]), a6, k, key, flags, list, expires });
    }
    found.sort((x, y) => x.expires - y.expires);
    for (const m of found) {
      const proto = (m.k >>> 16) & ~(V6_KEY >>> 16);
      const port = m.k & 0xffff;
      const a6 = m.a6;
      const mapped = a6 === undefined ? this.lookup(proto, m.a, port) : this.lookup6(proto, a6[0], a6[1], a6[2], a6[3], port);
      if (this.dynamicLive >= this.capacity || this.freeTop === 0 || mapped !== MAPPING_MISS) {
        took.rejected++;
        continue;
      }
      const e = this.freeStack[this.freeTop - 1];
      if (!this.ports.claim(m.key, e)) {
        took.rejected++;
        continue;
      }
      this.freeTop--;
      this.fill(e, m.a, m.k, m.key, this.hash(m.a, m.k), m.flags);
      if (a6 !== undefined) this.u.set(a6, e * STRIDE + W_INT6);
      this.append(e, m.list);
      this.f[e * (STRIDE >> 1) + F_EXPIRES] = m.expires;
      this.dynamicLive++;
      took.adopted++;
    }
    return took;
  }

  /** Live dynamic mappings (expired ones not yet removed included). */
  get size(): number {
    return this.dynamicLive;
  }

  /** Static mappings. */
  get statics(): number {
    return this.staticCount;
  }

  /** Entry of the mapping of internal endpoint (`proto`, `addr`, `port`), or {@link MAPPING_MISS}. Expired entries are returned too. */
  lookup(proto: number, addr: number, port: number): number {
    return this.find(addr | 0, (proto << 16) | port, 0, 0, 0, 0);
  }

  /**
   * Entry of the NAT64 mapping of internal endpoint (`proto`, IPv6 address `a0…a3`,
   * `port`), or {@link MAPPING_MISS}. Expired entries are returned too.
   */
  lookup6(proto: number, a0: number, a1: number, a2: number, a3: number, port: number): number {
    return this.find(foldIpv6(a0, a1, a2, a3) | 0, V6_KEY | (proto << 16) | port, a0 | 0, a1 | 0, a2 | 0, a3 | 0);
  }

  /**
   * The one probe behind {@link lookup} and {@link lookup6}: the entry whose internal
   * address word is `a` and key `k` and, when `k` carries {@link V6_KEY} (`a` is then the
   * fold), whose IPv6 address is `a0…a3`; or {@link MAPPING_MISS}. Every word is an int32
   * (compared through the Int32Array view): a uint32 of 2^31 or more would be boxed when
   * passed to a call that was not inlined.
   */
  private find(a: number, k: number, a0: number, a1: number, a2: number, a3: number): number {
    const h = this.hash(a, k);
    const mask = this.slotMask;
    const slots = this.slots;
    const u = this.i;
    let s = h & mask;
    for (;;) {
      const e = slots[s << 1];
      if (e < 0) return MAPPING_MISS;
      if (slots[(s << 1) + 1] === h) {
        const o = e * STRIDE;
        if (u[o + W_INT_ADDR] === a && u[o + W_INT_KEY] === k && ((k & V6_KEY) === 0 || (u[o + W_INT6] === a0 && u[o + W_INT6 + 1] === a1 && u[o + W_INT6 + 2] === a2 && u[o + W_INT6 + 3] === a3))) return e;
      }
      s = (s + 1) & mask;
    }
  }

  /** Protocol index of entry `e`. */
  protoOf(e: number): number {
    return (this.u[e * STRIDE + W_INT_KEY] >>> 16) & 0xff;
  }

  /** Internal address of entry `e` (of a NAT64 mapping: the fold of its IPv6 address). */
  intAddrOf(e: number): number {
    return this.u[e * STRIDE + W_INT_ADDR];
  }

  /** True when entry `e` is a NAT64 mapping (its internal endpoint is IPv6). */
  isV6(e: number): boolean {
    return (this.u[e * STRIDE + W_INT_KEY] & V6_KEY) !== 0;
  }

  /** Copies the internal IPv6 address of NAT64 entry `e` into `out[0…3]`. */
  copyIntAddr6(e: number, out: Uint32Array): void {
    const o = e * STRIDE + W_INT6;
    const u = this.u;
    out[0] = u[o];
    out[1] = u[o + 1];
    out[2] = u[o + 2];
    out[3] = u[o + 3];
  }

  /** Internal port / ICMP identifier of entry `e`. */
  intPortOf(e: number): number {
    return this.u[e * STRIDE + W_INT_KEY] & 0xffff;
  }

  /** External address of entry `e`. */
  extAddrOf(e: number): number {
    return this.u[e * STRIDE + W_EXT_ADDR];
  }

  /** External port / ICMP identifier of entry `e`. */
  extPortOf(e: number): number {
    return this.u[e * STRIDE + W_EXT_PORT];
  }

  /** {@link MappingFlag} bits of entry `e`. */
  flagsOf(e: number): number {
    return this.i[e * STRIDE + W_FLAGS];
  }

  /** Sets the {@link MappingFlag} bits of dynamic entry `e` (STATIC cannot be changed). */
  setFlags(e: number, flags: number): void {
    const o = e * STRIDE + W_FLAGS;
    this.i[o] = (this.i[o] & FLAG_STATIC) | (flags & ~FLAG_STATIC);
  }

  /** {@link MappingList} of entry `e`. */
  listOf(e: number): number {
    return this.i[e * STRIDE + W_LIST];
  }

  /** Expiry time (ms) of entry `e`; `Infinity` for static mappings. */
  expiresOf(e: number): number {
    return this.f[e * (STRIDE >> 1) + F_EXPIRES];
  }

  /** True when entry `e` has expired at `now` (never for a static mapping). */
  isExpired(e: number, now: number): boolean {
    return this.f[e * (STRIDE >> 1) + F_EXPIRES] <= now;
  }

  /**
   * Creates the mapping of an internal endpoint that has none, taking an external port
   * (expired mappings are reclaimed first when the table or the protocol's ports are
   * full). Returns the entry, {@link MAPPING_TABLE_FULL} or {@link MAPPING_PORTS_EXHAUSTED}.
   */
  create(proto: number, addr: number, port: number, now: number): number {
    return this.createKeyed(proto, addr >>> 0, ((proto << 16) | port) >>> 0, now);
  }

  /**
   * {@link create} for a NAT64 mapping: internal endpoint (`proto`, IPv6 address `a0…a3`,
   * `port`); its external endpoint comes from the same pool and port spaces as NAT44's.
   */
  create6(proto: number, a0: number, a1: number, a2: number, a3: number, port: number, now: number): number {
    const e = this.createKeyed(proto, foldIpv6(a0, a1, a2, a3), (V6_KEY | (proto << 16) | port) >>> 0, now);
    if (e >= 0) {
      const o = e * STRIDE + W_INT6;
      const u = this.u;
      u[o] = a0;
      u[o + 1] = a1;
      u[o + 2] = a2;
      u[o + 3] = a3;
    }
    return e;
  }

  private createKeyed(proto: number, a: number, k: number, now: number): number {
    if (this.dynamicLive >= this.capacity && !this.reclaim(-1, now)) return MAPPING_TABLE_FULL;
    const h = this.hash(a, k);
    const addrHint = Math.imul(a ^ this.seed, 0x9e3779b1) >>> 16;
    const portHint = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    let key = this.ports.allocate(proto, addrHint, portHint);
    while (key === PORT_EXHAUSTED) {
      if (!this.reclaim(proto, now)) return MAPPING_PORTS_EXHAUSTED;
      key = this.ports.allocate(proto, addrHint, portHint);
    }
    const e = this.freeStack[--this.freeTop];
    this.fill(e, a, k, key, h, 0);
    this.ports.setOwner(key, e);
    const list = FIRST_LIST[proto];
    this.append(e, list);
    this.f[e * (STRIDE >> 1) + F_EXPIRES] = now + this.timeoutMs[list];
    this.dynamicLive++;
    return e;
  }

  /**
   * Adds a static mapping (port forward) for external endpoint `key` (control path).
   * Returns the entry; throws if the key is taken or the static room is used up.
   */
  addStatic(proto: number, addr: number, port: number, key: number): number {
    if (this.staticCount >= this.freeStack.length - this.capacity) throw new InvalidArgumentError('no room for another static NAT mapping');
    const a = addr >>> 0;
    if (this.lookup(proto, a, port) !== MAPPING_MISS) throw new InvalidArgumentError('internal endpoint already mapped');
    const e = this.freeStack[this.freeTop - 1];
    if (!this.ports.reserve(key, e)) throw new InvalidArgumentError('external endpoint already taken');
    this.freeTop--;
    const k = ((proto << 16) | port) >>> 0;
    this.fill(e, a, k, key, this.hash(a, k), FLAG_STATIC);
    this.f[e * (STRIDE >> 1) + F_EXPIRES] = Infinity;
    this.staticCount++;
    return e;
  }

  /**
   * Refreshes dynamic entry `e`: it now expires `timeout(list)` after `now` and moves to
   * the tail of `list`. O(1).
   */
  touch(e: number, list: number, now: number): void {
    const o = e * STRIDE;
    this.f[e * (STRIDE >> 1) + F_EXPIRES] = now + this.timeoutMs[list];
    if (this.i[o + W_LIST] === list && this.i[o + W_NEXT] < 0) return;
    this.unlink(e);
    this.append(e, list);
  }

  /** Removes dynamic entry `e` and gives its external port back. */
  remove(e: number): void {
    const o = e * STRIDE;
    if ((this.i[o + W_FLAGS] & FLAG_STATIC) !== 0 || this.u[o + W_INT_KEY] === FREE_KEY) return;
    this.unlink(e);
    this.removeSlot(e);
    this.ports.release(this.i[o + W_EXT_KEY]);
    this.u[o + W_INT_KEY] = FREE_KEY;
    this.i[o + W_FLAGS] = 0;
    this.freeStack[this.freeTop++] = e;
    this.dynamicLive--;
  }

  /** Removes up to `max` mappings expired at `now`, earliest first per list; returns how many. */
  expire(now: number, max: number): number {
    let removed = 0;
    const f = this.f;
    for (let l = 0; l < 4; l++) {
      let e = this.heads[l];
      while (e >= 0 && removed < max && f[e * (STRIDE >> 1) + F_EXPIRES] <= now) {
        this.remove(e);
        removed++;
        e = this.heads[l];
      }
    }
    this.expiredCount += removed;
    return removed;
  }

  /** Mappings removed by expiry (sweeps and reclaims) since the last call (reset by reading). */
  takeExpiredCount(): number {
    const n = this.expiredCount;
    this.expiredCount = 0;
    return n;
  }

  /** Earliest expiry among live dynamic mappings (Infinity when none). For tests and tools. */
  nextExpiry(): number {
    let t = Infinity;
    for (let l = 0; l < 4; l++) {
      const h = this.heads[l];
      if (h >= 0 && this.expiresOf(h) < t) t = this.expiresOf(h);
    }
    return t;
  }

  /**
   * Removes the earliest-expiring mapping if it has expired at `now`: among the lists of
   * protocol `proto`, or of every list when `proto` is -1. True if one was removed.
   */
  private reclaim(proto: number, now: number): boolean {
    let best = -1;
    for (let l = 0; l < 4; l++) {
      if (proto >= 0 && (proto === 0 ? l > 1 : l !== proto + 1)) continue;
      const h = this.heads[l];
      if (h >= 0 && this.expiresOf(h) <= now && (best < 0 || this.expiresOf(h) < this.expiresOf(best))) best = h;
    }
    if (best < 0) return false;
    this.remove(best);
    this.expiredCount++;
    return true;
  }

  private fill(e: number, a: number, k: number, key: number, h: number, flags: number): void {
    const o = e * STRIDE;
    const u = this.u;
    u[o + W_INT_ADDR] = a;
    u[o + W_INT_KEY] = k;
    u[o + W_EXT_ADDR] = this.externalAddresses[this.ports.addressIndexOf(key)];
    u[o + W_EXT_PORT] = this.ports.portOf(key);
    this.i[o + W_EXT_KEY] = key;
    this.i[o + W_FLAGS] = flags;
    this.i[o + W_LIST] = LIST_NONE;
    this.i[o + W_PREV] = -1;
    this.i[o + W_NEXT] = -1;
    u[o + W_HASH] = h;
    const mask = this.slotMask;
    let s = h & mask;
    while (this.slots[s << 1] >= 0) s = (s + 1) & mask;
    this.slots[s << 1] = e;
    this.slots[(s << 1) + 1] = h;
  }

  /** Index hash of an internal endpoint (address, `proto << 16 | port`); an int32. */
  private hash(a: number, k: number): number {
    let h = Math.imul(a ^ this.seed, 0xcc9e2d51);
    h ^= h >>> 15;
    h = Math.imul(h ^ k, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 16);
  }

  private append(e: number, l: number): void {
    const i = this.i;
    const o = e * STRIDE;
    const t = this.tails[l];
    i[o + W_PREV] = t;
    i[o + W_NEXT] = -1;
    if (t >= 0) i[t * STRIDE + W_NEXT] = e;
    else this.heads[l] = e;
    this.tails[l] = e;
    i[o + W_LIST] = l;
  }

  private unlink(e: number): void {
    const i = this.i;
    const o = e * STRIDE;
    const l = i[o + W_LIST];
    if (l === LIST_NONE) return;
    const p = i[o + W_PREV];
    const n = i[o + W_NEXT];
    if (p >= 0) i[p * STRIDE + W_NEXT] = n;
    else this.heads[l] = n;
    if (n >= 0) i[n * STRIDE + W_PREV] = p;
    else this.tails[l] = p;
    i[o + W_PREV] = -1;
    i[o + W_NEXT] = -1;
    i[o + W_LIST] = LIST_NONE;
  }

  /** Backward-shift deletion: keeps every probe chain unbroken without tombstones. */
  private removeSlot(e: number): void {
    const mask = this.slotMask;
    const slots = this.slots;
    let s = this.i[e * STRIDE + W_HASH] & mask;
    while (slots[s << 1] !== e) s = (s + 1) & mask;
    let j = s;
    for (;;) {
      j = (j + 1) & mask;
      const r = slots[j << 1];
      if (r < 0) break;
      const home = slots[(j << 1) + 1] & mask;
      const stays = s <= j ? home > s && home <= j : home > s || home <= j;
      if (stays) continue;
      slots[s << 1] = r;
      slots[(s << 1) + 1] = slots[(j << 1) + 1];
      s = j;
    }
    slots[s << 1] = -1;
  }
}
