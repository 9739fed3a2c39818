import { InvalidArgumentError } from '../errors/catalog.ts';
// The counters' slots as constants esbuild inlines: images carry no counter list or help.
import * as CtCounter from '../generated/conntrack-counter-codes.ts';
import { CT_STATE_COUNT, CtState, CtStatus, IpProto } from './conntrack-state.ts';
import type { StateTakeover } from '../pipeline/compiled-pipeline.ts';
import { timeoutsByState, type ConntrackTimeouts } from './conntrack-timeouts.ts';
import { tcpTransition } from './tcp-state-machine.ts';
import { tupleHash, tupleHash6 } from './tuple-hash.ts';
import { FlowKey6 } from '../packet/flow-key-ipv6.ts';

/** `lookup`/`peek` result when no live entry matches. */
export const CT_MISS = -1;
/** `create` result when the table is full and nothing could be reclaimed. */
export const CT_REFUSED_FULL = -1;
/** `create` result when the original or reply tuple is already tracked (or they are equal). */
export const CT_CLASH = -2;
/** `create6`/`createFlow6` result on a table built without `ipv6: true` (nothing counted). */
export const CT_NO_IPV6 = -3;
/** `update` result when the packet does not fit the connection's state. */
export const CT_INVALID = -1;
/** Largest accepted capacity (entries). */
export const CT_MAX_CAPACITY = 1 << 22;

/**
 * Entry record: 16 int32 words (64 bytes, one cache line). Words 0–2 hold the original
 * tuple (src, dst, sport << 16 | dport), 3–5 the reply tuple, then the fields below; the
 * expiry time is the float64 in the last 8 bytes. An IPv6 entry keeps its ports words
 * here, 0 in the address words, and its addresses in the address records (see A_WORDS).
 */
const E_WORDS = 16;
/** Protocol (low byte), plus {@link FAMILY6} for an IPv6 entry. */
const E_PROTO = 6;
const E_STATE = 7;
const E_STATUS = 8;
/** Two user values (u32). */
const E_USER = 9;
/** Index hashes of the original (11) and reply (12) tuples: where their slots are. */
const E_HASH = 11;
/** Float64 element of the expiry time within the record (bytes 56–63). */
const E_EXPIRES_F64 = 7;
/**
 * Bit of the protocol word marking an IPv6 entry. The IPv4 lookup compares the protocol
 * word with a protocol byte, so it never matches an IPv6 entry, at no cost to its compare.
 */
const FAMILY6 = 0x100;
/**
 * Address record of an entry (tables with `ipv6`): 16 int32 words after all entry records,
 * per direction (original at 0, reply at 8) the source then the destination address, four
 * words each, most significant first. Read only for IPv6 entries, so an IPv4 entry's
 * lookup touches its own cache line only.
 */
const A_WORDS = 16;

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
  /** Maximum number of connections: a power of two in [2, 2^22]. Memory ≈ 100 B per entry (≈ 164 B with `ipv6`). */
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
  /** Counter storage (e.g. a view on shared memory), length ≥ `CtCounter.SLOT_COUNT`; default a new array. */
  counters?: Float64Array;
  /**
   * Live entries counted by user value 0 (e.g. connections per backend): `setUser(e, 0, v)`
   * with `v < userTally.length` adds one at `userTally[v]` (moving the entry's count if it
   * had one), and the entry's count goes when it does (delete, expiry, eviction, flush).
   * Per connection, never per packet. Default none.
   */
  userTally?: Float64Array;
  /**
   * Also track IPv6 connections (the `…6` methods), default false: adds a 64-byte address
   * record per entry (`recordBytes(capacity, true)`). IPv4 and IPv6 entries share the
   * capacity, index, counters, timeouts and expiry.
   */
  ipv6?: boolean;
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
 * **IPv6** (with `ipv6: true`): `lookup6`, `peek6`, `create6`, `createFlow6` take
 * {@link FlowKey6} tuples (from `extractFlowKey6`; for an ICMPv6 error, the quoted flow from
 * `extractIcmpv6InnerFlowKey`, which finds the connection the error is about in the
 * direction the quoted packet went; ICMPv6 echo has its identifier as both ports). An IPv6
 * entry lives in the same records, index and free list as an IPv4 one, with the same state
 * machine, timeouts, counters, expiry, eviction, user values and takeover; it holds its
 * addresses in an address record beside the entry records, and the index holds a hash of the
 * full 128-bit tuple, which a lookup confirms by comparing all of it. `update`, `delete`,
 * `state`, `srcPort`… serve both families; `isIpv6(e)` tells them apart and `tuple6`
 * reads an IPv6 entry's tuple (`srcIp`/`dstIp` are 0 for one).
 *
 * Per-packet methods (`lookup`, `lookup6`, `update`, accessors) neither allocate nor throw.
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
 *
 * @example IPv6 (same table, built with `ipv6: true`)
 * ```ts
 * const ct = new ConntrackTable({ capacity: 1 << 16, ipv6: true });
 * const key = new FlowKey6(); // once, reused per packet
 * if (L.ethertype === 0x86dd && extractFlowKey6(view, L, key)) {
 *   let ref = ct.lookup6(key, now);
 *   if (ref === CT_MISS && extractIcmpv6InnerFlowKey(view, L, key)) ref = ct.lookup6(key, now); // an error: its connection
 *   else if (ref === CT_MISS && tcpOpensConnection(flags)) ref = ct.createFlow6(key, now) * 2;
 * }
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
  /** True when built with `ipv6`: the address records exist. */
  readonly ipv6: boolean;

  /** Entry records, `E_WORDS` int32 words each (see the `E_*` word offsets); moved by `attach`. */
  private ent: Int32Array;
  /** The same records as unsigned words (tuples and user values are u32). */
  private entU: Uint32Array;
  /** The same records as float64s: the expiry time is element `entry × 8 + E_EXPIRES_F64`. */
  private entF: Float64Array;
  private readonly freeStack: Int32Array;
  /** Address records (`A_WORDS` per entry; empty without `ipv6`); moved by `attach`. */
  private a6: Int32Array;
  /** Scratch tuple (reverse for `createFlow6`, re-creation in `attach`); never escapes. */
  private readonly key6a = new FlowKey6();
  private readonly key6b = new FlowKey6();
  private readonly key6r = new FlowKey6();
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
    if (options.counters !== undefined && options.counters.length < CtCounter.SLOT_COUNT) {
      throw new InvalidArgumentError(`conntrack counters need ${CtCounter.SLOT_COUNT} elements, got ${options.counters.length}`);
    }
    this.capacity = cap;
    this.counters = options.counters ?? new Float64Array(CtCounter.SLOT_COUNT);
    this.timeoutMs = timeoutsByState(options.timeouts);
    this.seed = (options.seed ?? Math.random() * 0x1_0000_0000) >>> 0;
    this.evictWhenFull = whenFull === 'evict';
    this.fullScan = fullScan;
    this.tally = options.userTally ?? null;
    this.ipv6 = options.ipv6 === true;

    const records = new ArrayBuffer(ConntrackTable.recordBytes(cap, this.ipv6));
    this.ent = new Int32Array(records, 0, cap * E_WORDS);
    this.entU = new Uint32Array(records, 0, cap * E_WORDS);
    this.entF = new Float64Array(records, 0, cap * (E_WORDS >>> 1));
    this.a6 = new Int32Array(records, cap * E_WORDS * 4, this.ipv6 ? cap * A_WORDS : 0);
    this.freeStack = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.freeStack[i] = cap - 1 - i;
    this.freeTop = cap;

    const slots = cap * 4;
    this.slotMask = slots - 1;
    this.slots = new Int32Array(slots * 2).fill(-1);
  }

  /** Bytes of the records of a table of `capacity` entries, with `ipv6` or not (what `attach` needs). */
  static recordBytes(capacity: number, ipv6 = false): number {
    return capacity * (ipv6 ? E_WORDS + A_WORDS : E_WORDS) * 4;
  }

  /**
   * Moves the records into `records` (at least `recordBytes(capacity, ipv6)`, 8-aligned,
   * zeroed: an empty table writes nothing there, so a fresh block's pages stay untouched
   * until connections use them): memory the host owns, which outlives the instance. The index and free list stay
   * private: they are rebuilt from records. With `previous` (the records of a failed table
   * of the same capacity and family setting), then takes over its connections: each entry
   * is checked (a state of its protocol, known status bits, an expiry within its state's
   * timeout once moved by `shiftMs` onto this clock, user value 0 below `userLimit`, no
   * clash with one already taken; an IPv6 entry only into a table with `ipv6`, from records
   * that hold its addresses) and re-created with its state, status, user values and expiry;
   * a corrupt entry is refused and costs only its own connection. The table's counters do
   * not count adopted entries as created. Control path: O(capacity).
   */
  attach(records: Uint8Array, previous: Uint8Array | undefined, shiftMs: number, now: number, userLimit = 0x1_0000_0000): StateTakeover {
    const words = this.capacity * E_WORDS;
    const bytes = ConntrackTable.recordBytes(this.capacity, this.ipv6);
    const fits = (b: Uint8Array, n: number) => b.byteLength >= n && b.byteOffset % 8 === 0;
    if (!fits(records, bytes)) throw new InvalidArgumentError(`conntrack records need ${bytes} bytes at an 8-aligned offset`);
    const ent = new Int32Array(records.buffer, records.byteOffset, words);
    const a6 = new Int32Array(records.buffer, records.byteOffset + words * 4, this.a6.length);
    // Empty, every entry FREE: zeroed records say the same, so nothing is copied and no page touched.
    if (this.live > 0) {
      ent.set(this.ent);
      a6.set(this.a6);
    }
    this.ent = ent;
    this.entU = new Uint32Array(records.buffer, records.byteOffset, words);
    this.entF = new Float64Array(records.buffer, records.byteOffset, words >>> 1);
    this.a6 = a6;
    const took: StateTakeover = { adopted: 0, rejected: 0 };
    if (previous === undefined || !fits(previous, words * 4)) return took;
    const pI = new Int32Array(previous.buffer, previous.byteOffset, words);
    const pF = new Float64Array(previous.buffer, previous.byteOffset, words >>> 1);
    const pA = this.ipv6 && fits(previous, bytes) ? new Int32Array(previous.buffer, previous.byteOffset + words * 4, this.a6.length) : null;
    for (let e = 0; e < this.capacity; e++) {
      const w = e << 4;
      const state = pI[w + E_STATE];
      if (state === CtState.FREE) continue;
      const protoWord = pI[w + E_PROTO];
      const proto = protoWord & 0xff;
      const v6 = (protoWord & FAMILY6) !== 0;
      const status = pI[w + E_STATUS] & ~CtStatus.TALLIED;
      const expires = pF[(e << 3) + E_EXPIRES_F64] + shiftMs;
      const user0 = pI[w + E_USER] >>> 0;
      const fitsState = state >= 1 && state < CT_STATE_COUNT && initialState(proto) === firstStateOf(state) && (protoWord & ~(0xff | FAMILY6)) === 0;
      const left = expires - now;
      if (!fitsState || (v6 && pA === null) || (status & ~KNOWN_STATUS) !== 0 || !(left > 0 && left <= this.timeoutMs[state] + 1) || user0 >= userLimit) {
        took.rejected++;
        continue;
      }
      const o = pI[w + 2];
      const r = pI[w + 5];
      let n: number;
      if (v6 && pA !== null) {
        const a = e * A_WORDS;
        this.key6a.set(pA.subarray(a, a + 4), pA.subarray(a + 4, a + 8), o >>> 16, o & 0xffff, proto);
        this.key6b.set(pA.subarray(a + 8, a + 12), pA.subarray(a + 12, a + 16), r >>> 16, r & 0xffff, proto);
        n = this.insert6(this.key6a, this.key6b, now);
      } else {
        n = this.insert(proto, pI[w], pI[w + 1], o >>> 16, o & 0xffff, pI[w + 3], pI[w + 4], r >>> 16, r & 0xffff, now);
      }
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
    return this.found(this.find(h, proto, srcIp | 0, dstIp | 0, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff)), now);
  }

  /**
   * {@link lookup} for an IPv6 packet's tuple (`extractFlowKey6`; for an ICMPv6 error, the
   * quoted flow from `extractIcmpv6InnerFlowKey`). Always a miss on a table without `ipv6`.
   */
  lookup6(key: FlowKey6, now: number): number {
    const proto = key.proto & 0xff;
    return this.found(this.find6(tupleHash6(this.seed, proto, key) | 0, proto | FAMILY6, key), now);
  }

  /** A lookup's outcome: an expired holder is removed and reported as a miss; counted. */
  private found(ref: number, now: number): number {
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

  /** {@link peek} for an IPv6 tuple. */
  peek6(key: FlowKey6): number {
    const proto = key.proto & 0xff;
    return this.find6(tupleHash6(this.seed, proto, key) | 0, proto | FAMILY6, key);
  }

  /**
   * Tracks a new connection whose reply packets are the plain reverse of the original
   * (no translation). Same results as {@link create}.
   */
  createFlow(proto: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, now: number): number {
    return this.create(proto, srcIp, dstIp, srcPort, dstPort, dstIp, srcIp, dstPort, srcPort, now);
  }

  /** {@link createFlow} for an IPv6 tuple; {@link CT_NO_IPV6} on a table without `ipv6`. */
  createFlow6(key: FlowKey6, now: number): number {
    const r = this.key6r;
    r.s0 = key.d0; r.s1 = key.d1; r.s2 = key.d2; r.s3 = key.d3;
    r.d0 = key.s0; r.d1 = key.s1; r.d2 = key.s2; r.d3 = key.s3;
    r.srcPort = key.dstPort;
    r.dstPort = key.srcPort;
    return this.create6(key, r, now);
  }

  /**
   * {@link create} for IPv6 tuples: `orig` gives the protocol (`reply.proto` is not read).
   * Same results, and {@link CT_NO_IPV6} (not counted) on a table without `ipv6`.
   */
  create6(orig: FlowKey6, reply: FlowKey6, now: number): number {
    if (!this.ipv6) return CT_NO_IPV6;
    return this.counted(this.insert6(orig, reply, now));
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
    return this.counted(this.insert(proto, origSrcIp, origDstIp, origSrcPort, origDstPort, replySrcIp, replyDstIp, replySrcPort, replyDstPort, now));
  }

  /** Counts a creation's outcome. */
  private counted(e: number): number {
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
    if (this.held(this.find(hO, proto, oSrc, oDst, oPorts), now) || this.held(this.find(hR, proto, rSrc, rDst, rPorts), now)) return CT_CLASH;
    const e = this.allocate(proto & 0xff, oPorts, rPorts, hO, hR, now);
    if (e < 0) return e;
    const w = e << 4;
    this.ent[w] = oSrc;
    this.ent[w + 1] = oDst;
    this.ent[w + 3] = rSrc;
    this.ent[w + 4] = rDst;
    return e;
  }

  /** `create6` without counting the outcome (also what `attach` re-creates taken-over IPv6 entries with). */
  private insert6(o: FlowKey6, r: FlowKey6, now: number): number {
    const proto = o.proto & 0xff;
    const oPorts = ((o.srcPort & 0xffff) << 16) | (o.dstPort & 0xffff);
    const rPorts = ((r.srcPort & 0xffff) << 16) | (r.dstPort & 0xffff);
    if (oPorts === rPorts && sameAddresses6(o, r)) return CT_CLASH;
    const hO = tupleHash6(this.seed, proto, o) | 0;
    const hR = tupleHash6(this.seed, proto, r) | 0;
    if (this.held(this.find6(hO, proto | FAMILY6, o), now) || this.held(this.find6(hR, proto | FAMILY6, r), now)) return CT_CLASH;
    const e = this.allocate(proto | FAMILY6, oPorts, rPorts, hO, hR, now);
    if (e < 0) return e;
    const w = e << 4;
    this.ent[w] = 0;
    this.ent[w + 1] = 0;
    this.ent[w + 3] = 0;
    this.ent[w + 4] = 0;
    const a6 = this.a6;
    const a = e * A_WORDS;
    a6[a] = o.s0; a6[a + 1] = o.s1; a6[a + 2] = o.s2; a6[a + 3] = o.s3;
    a6[a + 4] = o.d0; a6[a + 5] = o.d1; a6[a + 6] = o.d2; a6[a + 7] = o.d3;
    a6[a + 8] = r.s0; a6[a + 9] = r.s1; a6[a + 10] = r.s2; a6[a + 11] = r.s3;
    a6[a + 12] = r.d0; a6[a + 13] = r.d1; a6[a + 14] = r.d2; a6[a + 15] = r.d3;
    return e;
  }

  /**
   * Takes a free entry (reclaiming one when full) for a tuple pair whose hashes are `hO`,
   * `hR`: protocol word, ports words, initial state, zero status and user values, expiry,
   * index slots. The caller writes the addresses. {@link CT_REFUSED_FULL} when none.
   */
  private allocate(protoWord: number, oPorts: number, rPorts: number, hO: number, hR: number, now: number): number {
    if (this.freeTop === 0 && !this.reclaim(now)) return CT_REFUSED_FULL;
    const e = this.freeStack[--this.freeTop];
    const ent = this.ent;
    const w = e << 4;
    const state = initialState(protoWord & 0xff);
    ent[w + 2] = oPorts;
    ent[w + 5] = rPorts;
    ent[w + E_PROTO] = protoWord;
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
    if ((ent[w + E_PROTO] & 0xff) === IpProto.TCP) {
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

  /** The entry's IP protocol number (the upper layer for IPv6: 6, 17, 58…). */
  protocol(entry: number): number {
    return this.ent[(entry << 4) + E_PROTO] & 0xff;
  }

  /** True if the entry tracks an IPv6 connection (its addresses: {@link tuple6}). */
  isIpv6(entry: number): boolean {
    return (this.ent[(entry << 4) + E_PROTO] & FAMILY6) !== 0;
  }

  /**
   * Fills `out` with an IPv6 entry's tuple in direction `dir` (addresses, ports, protocol),
   * e.g. the reply tuple a DNAT writes back. For an IPv4 entry the addresses are not set.
   */
  tuple6(entry: number, dir: number, out: FlowKey6): void {
    const a6 = this.a6;
    const a = entry * A_WORDS + (dir & 1) * 8;
    out.s0 = a6[a]; out.s1 = a6[a + 1]; out.s2 = a6[a + 2]; out.s3 = a6[a + 3];
    out.d0 = a6[a + 4]; out.d1 = a6[a + 5]; out.d2 = a6[a + 6]; out.d3 = a6[a + 7];
    out.srcPort = this.srcPort(entry, dir);
    out.dstPort = this.dstPort(entry, dir);
    out.proto = this.protocol(entry);
  }

  /** When the entry expires unless refreshed (same clock as `now`). */
  expiresAt(entry: number): number {
    return this.entF[(entry << 3) + E_EXPIRES_F64];
  }

  /** Source address of the entry's tuple in direction `dir` (u32; 0 for an IPv6 entry). */
  srcIp(entry: number, dir: number): number {
    return this.entU[(entry << 4) + dir * 3];
  }

  /** Destination address of the entry's tuple in direction `dir` (u32; 0 for an IPv6 entry). */
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

  /**
   * {@link find} for an IPv6 tuple: `ref` of the stored tuple, or CT_MISS. The index hash,
   * ports word and protocol word (with FAMILY6) are compared first, in the entry's line;
   * the eight address words, in its address record, only when they all match.
   */
  private find6(h: number, protoWord: number, key: FlowKey6): number {
    const ports = ((key.srcPort & 0xffff) << 16) | (key.dstPort & 0xffff);
    const mask = this.slotMask;
    const slots = this.slots;
    const ent = this.ent;
    const a6 = this.a6;
    let i = h & mask;
    for (;;) {
      const ref = slots[i << 1];
      if (ref < 0) return CT_MISS;
      if (slots[(i << 1) + 1] === h) {
        const e = ref >>> 1;
        const a = e * A_WORDS + (ref & 1) * 8;
        if (ent[(e << 4) + (ref & 1) * 3 + 2] === ports && ent[(e << 4) + E_PROTO] === protoWord
          && a6[a] === (key.s0 | 0) && a6[a + 1] === (key.s1 | 0) && a6[a + 2] === (key.s2 | 0) && a6[a + 3] === (key.s3 | 0)
          && a6[a + 4] === (key.d0 | 0) && a6[a + 5] === (key.d1 | 0) && a6[a + 6] === (key.d2 | 0) && a6[a + 7] === (key.d3 | 0)) return ref;
      }
      i = (i + 1) & mask;
    }
  }

  /** True if `ref` (a find result) is a live entry; an expired holder is removed first. */
  private held(ref: number, now: number): boolean {
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

/** True when both tuples have the same addresses (int32 words) in the same places. */
function sameAddresses6(a: FlowKey6, b: FlowKey6): boolean {
  return (a.s0 | 0) === (b.s0 | 0) && (a.s1 | 0) === (b.s1 | 0) && (a.s2 | 0) === (b.s2 | 0) && (a.s3 | 0) === (b.s3 | 0)
    && (a.d0 | 0) === (b.d0 | 0) && (a.d1 | 0) === (b.d1 | 0) && (a.d2 | 0) === (b.d2 | 0) && (a.d3 | 0) === (b.d3 | 0);
}

function initialState(proto: number): number {
  if (proto === IpProto.TCP) return CtState.TCP_NEW;
  if (proto === IpProto.UDP) return CtState.UDP_UNREPLIED;
  if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) return CtState.ICMP_UNREPLIED;
  return CtState.OTHER_UNREPLIED;
}
