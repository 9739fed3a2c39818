import { InvalidArgumentError } from '../errors/catalog.ts';
import { CT_COUNTER_COUNT, CtCounter } from './conntrack-counters.ts';
import { CT_STATE_COUNT, CtState, CtStatus, IpProto } from './conntrack-state.ts';
import type { StateTakeover } from '../pipeline/compiled-pipeline.ts';
import { timeoutsByState, type ConntrackTimeouts } from './conntrack-timeouts.ts';
import { tcpTransition } from './tcp-state-machine.ts';
import { tupleHash } from './tuple-hash.ts';

/** `lookup`/`peek` result when no live entry matches. */
export const CT_MISS = -1;
/** `create` result when the table is full and nothing could be reclaimed. */
export const CT_REFUSED_FULL = -1;
/** `create` result when the original or reply tuple is already tracked (or they are equal). */
export const CT_CLASH = -2;
/** `update` result when the packet does not fit the connection's state. */
export const CT_INVALID = -1;
/** Largest accepted capacity (entries). */
export const CT_MAX_CAPACITY = 1 << 22;

/**
 * Entry record: 16 int32 words (64 bytes, one cache line). Words 0–2 hold the original
 * tuple (src, dst, sport << 16 | dport), 3–5 the reply tuple, then the fields below; the
 * expiry time is the float64 in the last 8 bytes.
 */
const E_WORDS = 16;
const E_PROTO = 6;
const E_STATE = 7;
const E_STATUS = 8;
/** Two user values (u32). */
const E_USER = 9;
/** Index hashes of the original (11) and reply (12) tuples: where their slots are. */
const E_HASH = 11;
/** Float64 element of the expiry time within the record (bytes 56–63). */
const E_EXPIRES_F64 = 7;

/** Entry index of a lookup result `ref` (only meaningful when `ref >= 0`). */
export function ctEntry(ref: number): number {
  return ref >>> 1;
}

/** Direction (`CtDir`) of a lookup result `ref` (only meaningful when `ref >= 0`). */
export function ctDir(ref: number): number {
  return ref & 1;
}

/** Options of a {@link ConntrackTable}. */
export interface ConntrackTableOptions {
  /** Maximum number of connections: a power of two in [2, 2^22]. Memory ≈ 100 B per entry. */
  capacity: number;
  /** Timeouts in seconds, merged over `DEFAULT_CONNTRACK_TIMEOUTS`. */
  timeouts?: Partial<ConntrackTimeouts>;
  /**
   * What `create` does when every entry is in use (default `'evict'`): in both modes it first
   * reclaims an expired entry among the next `fullScan` entries of the sweep cursor; with
   * `'evict'` it otherwise evicts, among those scanned, the evictable entry (not ASSURED,
   * or TCP TIME_WAIT/CLOSE) closest to expiry; failing that it refuses (`CT_REFUSED_FULL`,
   * counter `refused_full`). Established, assured connections are never evicted.
   */
  whenFull?: 'evict' | 'refuse';
  /** Entries examined when full (default 16, at most `capacity`). Bounds the cost of a create. */
  fullScan?: number;
  /** Index hash seed (default random per table, so outsiders cannot aim flows at one bucket). */
  seed?: number;
  /** Counter storage (e.g. a view on shared memory), length ≥ `CT_COUNTER_COUNT`; default a new array. */
  counters?: Float64Array;
  /**
   * Live entries counted by user value 0 (e.g. connections per backend): `setUser(e, 0, v)`
   * with `v < userTally.length` adds one at `userTally[v]` (moving the entry's count if it
   * had one), and the entry's count goes when it does (delete, expiry, eviction, flush).
   * Per connection, never per packet. Default none.
   */
  userTally?: Float64Array;
}

/**
 * Connection-tracking table: a bounded, allocation-free store of connections for the
 * stateful firewall, NAT and load balancer, built on typed arrays.
 *
 * **Layout.** Each entry is one 64-byte record (one cache line) in a single buffer, viewed
 * as Int32/Uint32/Float64 arrays: both tuples, protocol, state, status, the two user
 * values, the index hashes of its tuples and its expiry time. An entry holds TWO tuples —
 * the original direction (as seen from the initiator) and the reply direction (as the
 * answering packets will look, which differs from the reversed original after NAT/LB
 * translation) — and is reachable from either: the index is one open-addressing (linear
 * probing) hash table of `4 × capacity` slots (load ≤ 0.5) in which every entry owns two
 * slots, each slot holding `ref = entry × 2 + dir` next to the tuple's hash (8 bytes, so a
 * probe reads one cache line). A lookup by any packet's 5-tuple therefore returns the
 * entry and which direction the packet travels (`ctEntry(ref)`, `ctDir(ref)`) after
 * touching two cache lines, index slot and entry, and the packet's `update` and accessors
 * then hit the same entry line. Removal uses backward-shift deletion, so there are no
 * tombstones and probe lengths do not degrade under churn.
 *
 * **Clock.** Time is never read inside: every call that needs it takes `now`, in
 * milliseconds of any monotonic clock (`performance.now()`, a capture timestamp, a test
 * counter). An entry expires `timeout(state)` ms after the last valid packet.
 *
 * **Expiry** is incremental: `lookup` removes an expired entry it hits, `create` reclaims
 * expired entries when full, and `expire(now, maxScan)` sweeps a bounded number of entries
 * per call (call it once per batch or timer tick).
 *
 * **Protocols.** TCP state follows {@link tcpTransition}; UDP, ICMP and others go from
 * UNREPLIED to ASSURED/REPLIED on the first reply-direction packet. For ICMP echo, pass
 * the echo identifier as BOTH ports (request and reply carry the same identifier, so the
 * reversed tuple matches the reply).
 *
 * Per-packet methods (`lookup`, `update`, accessors) neither allocate nor throw.
 *
 * @example
 * ```ts
 * const ct = new ConntrackTable({ capacity: 1 << 16 });
 * let ref = ct.lookup(IpProto.TCP, src, dst, sport, dport, now);
 * if (ref === CT_MISS && tcpOpensConnection(flags)) {
 *   const e = ct.createFlow(IpProto.TCP, src, dst, sport, dport, now);
 *   if (e >= 0) ref = e * 2; // original direction
 * }
 * if (ref >= 0 && ct.update(ctEntry(ref), ctDir(ref), flags, now) !== CT_INVALID) forward();
 * else drop('ct_invalid');
 * ```
 */
export class ConntrackTable {
  /** Maximum number of entries. */
  readonly capacity: number;
  /** Counters, indexed by {@link CtCounter}. */
  readonly counters: Float64Array;

  private readonly timeoutMs: Float64Array;
  private readonly seed: number;
  private readonly evictWhenFull: boolean;
  private readonly fullScan: number;
  private readonly tally: Float64Array | null;

  /** Entry records, `E_WORDS` int32 words each (see the `E_*` word offsets); moved by `attach`. */
  private ent: Int32Array;
  /** The same records as unsigned words (tuples and user values are u32). */
  private entU: Uint32Array;
  /** The same records as float64s: the expiry time is element `entry × 8 + E_EXPIRES_F64`. */
  private entF: Float64Array;
  private readonly freeStack: Int32Array;
  private freeTop: number;
  private live = 0;
  private cursor = 0;

  private readonly slotMask: number;
  /** Index slots, two words each: ref (-1 when empty) and the hash of the ref's tuple. */
  private readonly slots: Int32Array;

  constructor(options: ConntrackTableOptions) {
    const cap = options.capacity;
    if (!Number.isInteger(cap) || cap < 2 || cap > CT_MAX_CAPACITY || (cap & (cap - 1)) !== 0) {
      throw new InvalidArgumentError(`conntrack capacity must be a power of two in [2, ${CT_MAX_CAPACITY}], got ${cap}`);
    }
    const fullScan = options.fullScan ?? Math.min(16, cap);
    if (!Number.isInteger(fullScan) || fullScan < 1 || fullScan > cap) {
      throw new InvalidArgumentError(`conntrack fullScan must be an integer in [1, capacity], got ${fullScan}`);
    }
    const whenFull = options.whenFull ?? 'evict';
    if (whenFull !== 'evict' && whenFull !== 'refuse') {
      throw new InvalidArgumentError(`conntrack whenFull must be 'evict' or 'refuse', got ${String(whenFull)}`);
    }
    if (options.counters !== undefined && options.counters.length < CT_COUNTER_COUNT) {
      throw new InvalidArgumentError(`conntrack counters need ${CT_COUNTER_COUNT} elements, got ${options.counters.length}`);
    }
    this.capacity = cap;
    this.counters = options.counters ?? new Float64Array(CT_COUNTER_COUNT);
    this.timeoutMs = timeoutsByState(options.timeouts);
    this.seed = (options.seed ?? Math.random() * 0x1_0000_0000) >>> 0;
    this.evictWhenFull = whenFull === 'evict';
    this.fullScan = fullScan;
    this.tally = options.userTally ?? null;

    const records = new ArrayBuffer(cap * E_WORDS * 4);
    this.ent = new Int32Array(records);
    this.entU = new Uint32Array(records);
    this.entF = new Float64Array(records);
    this.freeStack = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.freeStack[i] = cap - 1 - i;
    this.freeTop = cap;

    const slots = cap * 4;
    this.slotMask = slots - 1;
    this.slots = new Int32Array(slots * 2).fill(-1);
  }

  /** Bytes of the entry records of a table of `capacity` entries (what `attach` needs). */
  static recordBytes(capacity: number): number {
    return capacity * E_WORDS * 4;
  }

  /**
   * Moves the entry records into `records` (at least `recordBytes(capacity)`, 8-aligned):
   * memory the host owns, which outlives the instance. The index and free list stay
   * private: they are rebuilt from records. With `previous` (the records of a failed table
   * of the same capacity), then takes over its connections: each entry is checked (a state
   * of its protocol, known status bits, an expiry within its state's timeout once moved by
   * `shiftMs` onto this clock, user value 0 below `userLimit`, no clash with one already
   * taken) and re-created with its state, status, user values and expiry; a corrupt entry
   * is refused and costs only its own connection. The table's counters do not count
   * adopted entries as created. Control path: O(capacity).
   */
  attach(records: Uint8Array, previous: Uint8Array | undefined, shiftMs: number, now: number, userLimit = 0x1_0000_0000): StateTakeover {
    const words = this.capacity * E_WORDS;
    const fits = (b: Uint8Array) => b.byteLength >= words * 4 && b.byteOffset % 8 === 0;
    if (!fits(records)) throw new InvalidArgumentError(`conntrack records need ${words * 4} bytes at an 8-aligned offset`);
    const ent = new Int32Array(records.buffer, records.byteOffset, words);
    ent.set(this.ent);
    this.ent = ent;
    this.entU = new Uint32Array(records.buffer, records.byteOffset, words);
    this.entF = new Float64Array(records.buffer, records.byteOffset, words >>> 1);
    const took: StateTakeover = { adopted: 0, rejected: 0 };
    if (previous === undefined || !fits(previous)) return took;
    const pI = new Int32Array(previous.buffer, previous.byteOffset, words);
    const pF = new Float64Array(previous.buffer, previous.byteOffset, words >>> 1);
    for (let e = 0; e < this.capacity; e++) {
      const w = e << 4;
      const state = pI[w + E_STATE];
      if (state === CtState.FREE) continue;
      const proto = pI[w + E_PROTO];
      const status = pI[w + E_STATUS] & ~CtStatus.TALLIED;
      const expires = pF[(e << 3) + E_EXPIRES_F64] + shiftMs;
      const user0 = pI[w + E_USER] >>> 0;
      const fitsState = state >= 1 && state < CT_STATE_COUNT && initialState(proto) === firstStateOf(state) && proto === (proto & 0xff);
      const left = expires - now;
      if (!fitsState || (status & ~KNOWN_STATUS) !== 0 || !(left > 0 && left <= this.timeoutMs[state] + 1) || user0 >= userLimit) {
        took.rejected++;
        continue;
      }
      const o = pI[w + 2];
      const r = pI[w + 5];
      const n = this.insert(proto, pI[w], pI[w + 1], o >>> 16, o & 0xffff, pI[w + 3], pI[w + 4], r >>> 16, r & 0xffff, now);
      if (n < 0) {
        took.rejected++;
        continue;
      }
      const nw = n << 4;
      this.ent[nw + E_STATE] = state;
      this.ent[nw + E_STATUS] = status;
      this.entF[(n << 3) + E_EXPIRES_F64] = expires;
      this.setUser(n, 0, user0);
      this.setUser(n, 1, pI[w + E_USER + 1] >>> 0);
      took.adopted++;
    }
    return took;
  }

  /** Number of entries in use (live, or expired but not yet removed). */
  get size(): number {
    return this.live;
  }

  /**
   * Finds the live entry one of whose tuples is this packet's 5-tuple. Returns
   * `ref = entry × 2 + dir` (see {@link ctEntry}, {@link ctDir}) or {@link CT_MISS}. An
   * expired entry found on the way is removed (counted `expired`) and reported as a miss.
   */
  lookup(proto: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, now: number): number {
    const h = tupleHash(this.seed, proto, srcIp, dstIp, srcPort, dstPort) | 0;
    let ref = this.find(h, proto, srcIp | 0, dstIp | 0, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff));
    if (ref >= 0 && this.entF[((ref >>> 1) << 3) + E_EXPIRES_F64] <= now) {
      this.removeEntry(ref >>> 1);
      this.counters[CtCounter.EXPIRED]++;
      ref = CT_MISS;
    }
    this.counters[ref >= 0 ? CtCounter.LOOKUP_HIT : CtCounter.LOOKUP_MISS]++;
    return ref;
  }

  /**
   * Like {@link lookup} but without side effects: no counters, no removal, and an expired
   * entry that is still stored IS returned (check {@link expiresAt}). For diagnostics/tests.
   */
  peek(proto: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number): number {
    const h = tupleHash(this.seed, proto, srcIp, dstIp, srcPort, dstPort) | 0;
    return this.find(h, proto, srcIp | 0, dstIp | 0, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff));
  }

  /**
   * Tracks a new connection whose reply packets are the plain reverse of the original
   * (no translation). Same results as {@link create}.
   */
  createFlow(proto: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, now: number): number {
    return this.create(proto, srcIp, dstIp, srcPort, dstPort, dstIp, srcIp, dstPort, srcPort, now);
  }

  /**
   * Tracks a new connection given its original-direction tuple (initiator → responder, as
   * the first packet looks on arrival) and its reply-direction tuple (as answering packets
   * will look on arrival; e.g. for SNAT to N:np, reply = server → N:np).
   *
   * Returns the entry index (≥ 0), {@link CT_CLASH} if either tuple is already tracked by a
   * live entry or both tuples are equal, or {@link CT_REFUSED_FULL} (see
   * {@link ConntrackTableOptions.whenFull}). The new entry starts in TCP_NEW,
   * UDP_UNREPLIED, ICMP_UNREPLIED or OTHER_UNREPLIED with user values 0; feed it its first
   * packet with {@link update}.
   */
  create(
    proto: number,
    origSrcIp: number,
    origDstIp: number,
    origSrcPort: number,
    origDstPort: number,
    replySrcIp: number,
    replyDstIp: number,
    replySrcPort: number,
    replyDstPort: number,
    now: number,
  ): number {
    const e = this.insert(proto, origSrcIp, origDstIp, origSrcPort, origDstPort, replySrcIp, replyDstIp, replySrcPort, replyDstPort, now);
    this.counters[e >= 0 ? CtCounter.CREATED : e === CT_CLASH ? CtCounter.CLASH : CtCounter.REFUSED_FULL]++;
    return e;
  }

  /** `create` without counting the outcome (also what `attach` re-creates taken-over entries with). */
  private insert(
    proto: number,
    origSrcIp: number,
    origDstIp: number,
    origSrcPort: number,
    origDstPort: number,
    replySrcIp: number,
    replyDstIp: number,
    replySrcPort: number,
    replyDstPort: number,
    now: number,
  ): number {
    const oSrc = origSrcIp | 0;
    const oDst = origDstIp | 0;
    const oPorts = ((origSrcPort & 0xffff) << 16) | (origDstPort & 0xffff);
    const rSrc = replySrcIp | 0;
    const rDst = replyDstIp | 0;
    const rPorts = ((replySrcPort & 0xffff) << 16) | (replyDstPort & 0xffff);
    if (oSrc === rSrc && oDst === rDst && oPorts === rPorts) return CT_CLASH;
    const hO = tupleHash(this.seed, proto, oSrc, oDst, origSrcPort, origDstPort) | 0;
    const hR = tupleHash(this.seed, proto, rSrc, rDst, replySrcPort, replyDstPort) | 0;
    if (this.clashes(hO, proto, oSrc, oDst, oPorts, now) || this.clashes(hR, proto, rSrc, rDst, rPorts, now)) return CT_CLASH;
    if (this.freeTop === 0 && !this.reclaim(now)) return CT_REFUSED_FULL;
    const e = this.freeStack[--this.freeTop];
    const ent = this.ent;
    const w = e << 4;
    const state = initialState(proto);
    ent[w] = oSrc;
    ent[w + 1] = oDst;
    ent[w + 2] = oPorts;
    ent[w + 3] = rSrc;
    ent[w + 4] = rDst;
    ent[w + 5] = rPorts;
    ent[w + E_PROTO] = proto & 0xff;
    ent[w + E_STATE] = state;
    ent[w + E_STATUS] = 0;
    ent[w + E_USER] = 0;
    ent[w + E_USER + 1] = 0;
    this.entF[(e << 3) + E_EXPIRES_F64] = now + this.timeoutMs[state];
    this.insertSlot(e * 2, hO);
    this.insertSlot(e * 2 + 1, hR);
    this.live++;
    return e;
  }

  /**
   * Feeds one packet of a live entry's connection (an entry from `lookup`/`create`),
   * travelling in direction `dir` (`CtDir`), to the protocol state machine; `tcpFlags` is
   * ignored for non-TCP entries.
   * On success refreshes the timer (`now + timeout(newState)`) and returns the new state;
   * returns {@link CT_INVALID} (state and timer unchanged, counted `invalid`) when the
   * packet does not fit the connection.
   */
  update(entry: number, dir: number, tcpFlags: number, now: number): number {
    const ent = this.ent;
    const w = entry << 4;
    let state = ent[w + E_STATE];
    if (ent[w + E_PROTO] === IpProto.TCP) {
      const r = tcpTransition(state, ent[w + E_STATUS], dir, tcpFlags);
      if (r < 0) {
        this.counters[CtCounter.INVALID]++;
        return CT_INVALID;
      }
      state = r & 0xff;
      ent[w + E_STATE] = state;
      ent[w + E_STATUS] = ((r >>> 8) & 0xff) | (ent[w + E_STATUS] & CtStatus.TALLIED);
    } else if (dir === 1) {
      // Each *_UNREPLIED state is immediately followed by its replied/assured state.
      if (state === CtState.UDP_UNREPLIED || state === CtState.ICMP_UNREPLIED || state === CtState.OTHER_UNREPLIED) {
        state++;
        ent[w + E_STATE] = state;
      }
      ent[w + E_STATUS] |= CtStatus.SEEN_REPLY | CtStatus.ASSURED;
    }
    this.entF[(entry << 3) + E_EXPIRES_F64] = now + this.timeoutMs[state];
    return state;
  }

  /** Removes a live entry (counted `deleted`); returns false if it was not in use. */
  delete(entry: number): boolean {
    if ((entry | 0) !== entry || entry < 0 || entry >= this.capacity || this.ent[(entry << 4) + E_STATE] === CtState.FREE) return false;
    this.removeEntry(entry);
    this.counters[CtCounter.DELETED]++;
    return true;
  }

  /**
   * Examines the next `maxScan` entries (at most `capacity`) of a circular sweep cursor
   * and removes those expired at `now`; returns how many were removed. Bounded work per call.
   */
  expire(now: number, maxScan: number): number {
    const n = maxScan < this.capacity ? maxScan : this.capacity;
    const last = this.capacity - 1;
    let removed = 0;
    let c = this.cursor;
    const ent = this.ent;
    const entF = this.entF;
    for (let k = 0; k < n; k++) {
      if (ent[(c << 4) + E_STATE] !== CtState.FREE && entF[(c << 3) + E_EXPIRES_F64] <= now) {
        this.removeEntry(c);
        removed++;
      }
      c = (c + 1) & last;
    }
    this.cursor = c;
    this.counters[CtCounter.EXPIRED] += removed;
    return removed;
  }

  /** Removes every entry (counters are kept). Control plane. */
  flush(): void {
    this.tally?.fill(0);
    this.slots.fill(-1);
    for (let e = 0; e < this.capacity; e++) this.ent[(e << 4) + E_STATE] = CtState.FREE;
    for (let i = 0; i < this.capacity; i++) this.freeStack[i] = this.capacity - 1 - i;
    this.freeTop = this.capacity;
    this.live = 0;
    this.cursor = 0;
  }

  /** True if the entry is in use. */
  isLive(entry: number): boolean {
    return this.ent[(entry << 4) + E_STATE] !== CtState.FREE;
  }

  /** The entry's {@link CtState}. */
  state(entry: number): number {
    return this.ent[(entry << 4) + E_STATE];
  }

  /** The entry's {@link CtStatus} bits. */
  status(entry: number): number {
    return this.ent[(entry << 4) + E_STATUS];
  }

  /** The entry's IP protocol number. */
  protocol(entry: number): number {
    return this.ent[(entry << 4) + E_PROTO];
  }

  /** When the entry expires unless refreshed (same clock as `now`). */
  expiresAt(entry: number): number {
    return this.entF[(entry << 3) + E_EXPIRES_F64];
  }

  /** Source address of the entry's tuple in direction `dir` (u32). */
  srcIp(entry: number, dir: number): number {
    return this.entU[(entry << 4) + dir * 3];
  }

  /** Destination address of the entry's tuple in direction `dir` (u32). */
  dstIp(entry: number, dir: number): number {
    return this.entU[(entry << 4) + dir * 3 + 1];
  }

  /** Source port (ICMP: echo id) of the entry's tuple in direction `dir`. */
  srcPort(entry: number, dir: number): number {
    return this.entU[(entry << 4) + dir * 3 + 2] >>> 16;
  }

  /** Destination port (ICMP: echo id) of the entry's tuple in direction `dir`. */
  dstPort(entry: number, dir: number): number {
    return this.ent[(entry << 4) + dir * 3 + 2] & 0xffff;
  }

  /** User value `slot` (0 or 1) of the entry: NAT mapping id, backend index, instance id… */
  user(entry: number, slot: number): number {
    return this.entU[(entry << 4) + E_USER + (slot & 1)];
  }

  /** Sets user value `slot` (0 or 1) of the entry to a u32. */
  setUser(entry: number, slot: number, value: number): void {
    const tally = this.tally;
    if (tally !== null && (slot & 1) === 0) {
      const w = entry << 4;
      if ((this.ent[w + E_STATUS] & CtStatus.TALLIED) !== 0) tally[this.entU[w + E_USER]]--;
      if (value >>> 0 < tally.length) {
        tally[value >>> 0]++;
        this.ent[w + E_STATUS] |= CtStatus.TALLIED;
      } else this.ent[w + E_STATUS] &= ~CtStatus.TALLIED;
    }
    this.entU[(entry << 4) + E_USER + (slot & 1)] = value;
  }

  /** Index probe on int32 key words: `ref` of the live or stored tuple, or CT_MISS. */
  private find(h: number, proto: number, src: number, dst: number, ports: number): number {
    const mask = this.slotMask;
    const slots = this.slots;
    const ent = this.ent;
    let i = h & mask;
    for (;;) {
      const ref = slots[i << 1];
      if (ref < 0) return CT_MISS;
      if (slots[(i << 1) + 1] === h) {
        const w = (ref >>> 1) << 4;
        const t = w + (ref & 1) * 3;
        if (ent[t] === src && ent[t + 1] === dst && ent[t + 2] === ports && ent[w + E_PROTO] === proto) return ref;
      }
      i = (i + 1) & mask;
    }
  }

  /** True if a live entry holds this tuple; an expired holder is removed first. */
  private clashes(h: number, proto: number, src: number, dst: number, ports: number, now: number): boolean {
    const ref = this.find(h, proto, src, dst, ports);
    if (ref < 0) return false;
    if (this.entF[((ref >>> 1) << 3) + E_EXPIRES_F64] > now) return true;
    this.removeEntry(ref >>> 1);
    this.counters[CtCounter.EXPIRED]++;
    return false;
  }

  /** Frees one entry when full (policy in {@link ConntrackTableOptions.whenFull}). */
  private reclaim(now: number): boolean {
    const last = this.capacity - 1;
    const ent = this.ent;
    const entF = this.entF;
    let victim = -1;
    let victimExpires = Infinity;
    let c = this.cursor;
    for (let k = 0; k < this.fullScan; k++) {
      const e = c;
      c = (c + 1) & last;
      const state = ent[(e << 4) + E_STATE];
      if (state === CtState.FREE) continue;
      const exp = entF[(e << 3) + E_EXPIRES_F64];
      if (exp <= now) {
        this.cursor = c;
        this.removeEntry(e);
        this.counters[CtCounter.EXPIRED]++;
        return true;
      }
      if (
        exp < victimExpires &&
        ((ent[(e << 4) + E_STATUS] & CtStatus.ASSURED) === 0 || state === CtState.TCP_TIME_WAIT || state === CtState.TCP_CLOSE)
      ) {
        victim = e;
        victimExpires = exp;
      }
    }
    this.cursor = c;
    if (!this.evictWhenFull || victim < 0) return false;
    this.removeEntry(victim);
    this.counters[CtCounter.EVICTED]++;
    return true;
  }

  private removeEntry(e: number): void {
    if (this.tally !== null && (this.ent[(e << 4) + E_STATUS] & CtStatus.TALLIED) !== 0) this.tally[this.entU[(e << 4) + E_USER]]--;
    this.removeSlot(e * 2);
    this.removeSlot(e * 2 + 1);
    this.ent[(e << 4) + E_STATE] = CtState.FREE;
    this.freeStack[this.freeTop++] = e;
    this.live--;
  }

  private insertSlot(ref: number, h: number): void {
    const mask = this.slotMask;
    const slots = this.slots;
    let i = h & mask;
    while (slots[i << 1] >= 0) i = (i + 1) & mask;
    slots[i << 1] = ref;
    slots[(i << 1) + 1] = h;
    this.ent[((ref >>> 1) << 4) + E_HASH + (ref & 1)] = h;
  }

  /** Backward-shift deletion: keeps every probe chain unbroken without tombstones. */
  private removeSlot(ref: number): void {
    const mask = this.slotMask;
    const slots = this.slots;
    let i = this.ent[((ref >>> 1) << 4) + E_HASH + (ref & 1)] & mask;
    while (slots[i << 1] !== ref) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const r = slots[j << 1];
      if (r < 0) break;
      const hj = slots[(j << 1) + 1];
      const home = hj & mask;
      // The element at j may fill the hole at i only if its home is not in (i, j] (cyclically).
      const stays = i <= j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      slots[i << 1] = r;
      slots[(i << 1) + 1] = hj;
      i = j;
    }
    slots[i << 1] = -1;
  }
}

/** Status bits an entry may hold. */
const KNOWN_STATUS = Object.values(CtStatus).reduce((a, b) => a | b, 0);

/** The first state of the protocol family `state` belongs to (what `initialState` gives that protocol). */
function firstStateOf(state: number): number {
  if (state <= CtState.TCP_CLOSE) return CtState.TCP_NEW;
  if (state <= CtState.UDP_ASSURED) return CtState.UDP_UNREPLIED;
  if (state <= CtState.ICMP_REPLIED) return CtState.ICMP_UNREPLIED;
  return CtState.OTHER_UNREPLIED;
}

function initialState(proto: number): number {
  if (proto === IpProto.TCP) return CtState.TCP_NEW;
  if (proto === IpProto.UDP) return CtState.UDP_UNREPLIED;
  if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) return CtState.ICMP_UNREPLIED;
  return CtState.OTHER_UNREPLIED;
}
