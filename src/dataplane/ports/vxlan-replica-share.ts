import type { GatewayEdge } from '../../gateway/gateway-edge.ts';
import type { BatchedUdpSocket } from '../../io/batched-udp-socket.ts';
import { KERNEL_HASH, STEERING_BUCKETS, steeredSocket, type SteeringKey } from '../../io/reuseport-steering.ts';
import { AREA_MAX_SHARDS, AREA_PROGRAM_WORDS, areaHandoffSlots, AreaWord, areaWords, RING_ENTRY_WORDS, RING_HEADER_WORDS, SteerBy, vxlanReplicaAreaLayout, type VxlanReplicaAreaLayout } from './vxlan-replica-area.ts';

/** What a replica's share of its end counts (the port publishes them in its counter block). */
export interface VxlanShareCounters {
  /** Datagrams the group's program sent to another replica's socket (they landed here all the same: a group that changed since, or the host's model of it is off). */
  misdirected: number;
  /** Neighbours adopted from the other replicas. */
  adopted: number;
  /** Ring entries refused (a width, peer or address this end does not have). */
  rejected: number;
  /** Ring entries lost because a writer lapped this reader. */
  overruns: number;
  /** Steering sequences applied. */
  steeringSeq: number;
}

/**
 * A replica's side of its VXLAN end's shared area (`vxlan-replica-area.ts`): in its port's
 * `fill` it applies the steering the host published (its socket index, the group's size
 * and key; the one member named attaches the program to the group), adopts the neighbours
 * the other replicas learned, and passes on what its own gateway learns; per datagram it
 * tells whether the program meant it for another socket (`misdirected`).
 *
 * Frames the program leaves to the kernel's hash (ARP, IPv6, unkeyed protocols) may land on
 * any replica: each answers ARP and neighbour solicitations for the gateway itself, and a
 * neighbour learned on one is adopted by all through the rings, so the replica that asked
 * gets the answer whichever socket it reached.
 *
 * @example
 * ```ts
 * const share = new VxlanReplicaShare(area, 8, member);
 * const port = VxlanPort.over(settings, socket, pool, { polled: true, share });
 * ```
 */
export class VxlanReplicaShare {
  readonly counters: VxlanShareCounters = { misdirected: 0, adopted: 0, rejected: 0, overruns: 0, steeringSeq: 0 };
  /** This replica's socket index in the group (-1 unknown), and the group's size. */
  index = -1;
  size = 0;
  /** The area's words and layout (the membership lock takes them). */
  readonly words: Int32Array;
  readonly layout: VxlanReplicaAreaLayout;
  readonly member: number;
  private readonly program = new Uint32Array(AREA_PROGRAM_WORDS);
  private key: SteeringKey | undefined;
  private lastSeq = 0;
  private readonly cursor: Float64Array;
  private readonly epoch: Int32Array;
  private written = 0;
  private gateway: GatewayEdge | undefined;
  private socket: BatchedUdpSocket | undefined;

  constructor(area: SharedArrayBuffer, members: number, member: number, ringCapacity?: number) {
    this.layout = vxlanReplicaAreaLayout(members, ringCapacity, areaHandoffSlots(area));
    this.words = areaWords(area, this.layout);
    if (!Number.isInteger(member) || member < 0 || member >= members) throw new RangeError(`member ${member} outside 0..${members - 1}`);
    this.member = member;
    this.cursor = new Float64Array(members);
    this.epoch = new Int32Array(members);
    // What this replica's ring held before it took the member number is not its own.
    this.written = Atomics.load(this.words, this.ringAt(member));
  }

  /** The port's gateway (adopts) and socket (attaches). */
  bind(gateway: GatewayEdge, socket: BatchedUdpSocket): void {
    this.gateway = gateway;
    this.socket = socket;
  }

  private ringAt(member: number): number {
    return this.layout.ringsAt + member * this.layout.ringWords;
  }

  /** Applies new steering, adopts the other replicas' neighbours. Once per `fill`. */
  sync(now: number): void {
    const w = this.words;
    const seq = Atomics.load(w, AreaWord.SEQ);
    if (seq !== this.lastSeq && (seq & 1) === 0) this.applySteering(seq);
    const gw = this.gateway;
    if (gw === undefined) return;
    const cap = this.layout.ringCapacity;
    for (let m = 0; m < this.layout.members; m++) {
      if (m === this.member) continue;
      const at = this.ringAt(m);
      const top = Atomics.load(w, at);
      const epoch = Atomics.load(w, at + 1);
      if (epoch !== this.epoch[m]) {
        this.epoch[m] = epoch;
        this.cursor[m] = 0;
      }
      let from = this.cursor[m];
      if (top === from) continue;
      if (top < from) from = 0; // the ring was reset under a new replica
      if (top - from > cap) {
        this.counters.overruns += top - from - cap;
        from = top - cap;
      }
      for (let i = from; i < top; i++) {
        const e = at + RING_HEADER_WORDS + (i % cap) * RING_ENTRY_WORDS;
        const width = w[e], k0 = w[e + 1], k1 = w[e + 2], k2 = w[e + 3], k3 = w[e + 4], hi = w[e + 5], lo = w[e + 6], peer = w[e + 7];
        // Overwritten while read: the writer lapped this entry.
        if (Atomics.load(w, at) - i > cap) {
          this.counters.overruns++;
          continue;
        }
        if (gw.adopt(width, k0, k1, k2, k3, hi, lo, peer, now)) this.counters.adopted++;
        else this.counters.rejected++;
      }
      this.cursor[m] = top;
    }
  }

  private applySteering(seq: number): void {
    const w = this.words;
    const L = this.layout;
    const size = w[AreaWord.SIZE];
    const index = w[L.indexAt + this.member];
    const by = w[AreaWord.KEY];
    const attacher = w[AreaWord.ATTACHER];
    const programWords = w[AreaWord.PROGRAM_WORDS];
    const base = w[AreaWord.BASE];
    const shardSize = w[AreaWord.SHARD_SIZE];
    const shardCount = w[AreaWord.SHARD_COUNT];
    const valid =
      size >= 0 && size <= 256 && index >= -1 && index < size && programWords >= 0 && programWords <= AREA_PROGRAM_WORDS && (programWords & 1) === 0 &&
      (by !== SteerBy.PORT_SHARD || (shardCount >= 1 && shardCount <= AREA_MAX_SHARDS && shardSize >= 1 && base >= 0 && base <= 0xffff));
    if (!valid) return;
    let sockets: number[] | undefined;
    if (by === SteerBy.PORT_SHARD) {
      sockets = [];
      for (let s = 0; s < shardCount; s++) sockets.push(w[L.shardAt + s]);
    }
    const buckets: number[] = [];
    for (let b = 0; b < STEERING_BUCKETS; b++) {
      const owner = w[L.ownerAt + b];
      const at = owner >= 0 && owner < L.members ? w[L.indexAt + owner] : -1;
      buckets.push(at >= 0 && at < size ? at : 0);
    }
    const attach = attacher === this.member && programWords > 0;
    if (attach) for (let i = 0; i < programWords; i++) this.program[i] = w[L.programAt + i];
    // Written meanwhile: take it at the next call.
    if (Atomics.load(w, AreaWord.SEQ) !== seq) return;
    this.lastSeq = seq;
    this.size = size;
    this.index = index;
    this.key = by === SteerBy.INNER_SOURCE ? { by: 'inner-source', buckets } : by === SteerBy.INNER_DESTINATION ? { by: 'inner-destination', buckets } : { by: 'port-shard', base, shardSize, sockets: sockets!, buckets };
    this.counters.steeringSeq = seq;
    if (attach && this.socket !== undefined) {
      try {
        this.socket.steer(this.program.subarray(0, programWords));
        Atomics.store(w, AreaWord.ATTACHED_SEQ, seq);
      } catch {
        Atomics.add(w, AreaWord.ATTACH_ERRORS, 1);
      }
    }
  }

  /** Counts the datagram payload at `off` (`len` bytes, VXLAN header first) if the program meant it for another socket; true then. */
  check(view: DataView, off: number, len: number): boolean {
    const key = this.key;
    if (key === undefined || this.index < 0 || this.size < 2) return false;
    const to = steeredSocket(key, this.size, view, off, len);
    if (to === KERNEL_HASH || to === this.index) return false;
    this.counters.misdirected++;
    return true;
  }

  /** This replica's gateway learned a neighbour: append it to its ring for the others. */
  learned(width: number, k0: number, k1: number, k2: number, k3: number, hi: number, lo: number, peer: number): void {
    const w = this.words;
    const at = this.ringAt(this.member);
    const n = this.written;
    const e = at + RING_HEADER_WORDS + (n % this.layout.ringCapacity) * RING_ENTRY_WORDS;
    w[e] = width;
    w[e + 1] = k0;
    w[e + 2] = k1;
    w[e + 3] = k2;
    w[e + 4] = k3;
    w[e + 5] = hi;
    w[e + 6] = lo;
    w[e + 7] = peer;
    this.written = n + 1;
    Atomics.store(w, at, n + 1);
  }
}
