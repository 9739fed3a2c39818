import { InvalidArgumentError } from '../../errors/catalog.ts';
import { STEERING_BUCKETS, steeringProgram, type SteeringKey } from '../../io/reuseport-steering.ts';
import { AREA_LOG_CAPACITY, AREA_MAX_SHARDS, AREA_PROGRAM_WORDS, AreaWord, areaWords, handoffRingAt, SteerBy, vxlanReplicaAreaLayout, type VxlanReplicaAreaLayout } from './vxlan-replica-area.ts';

/** How a group steers (`reuseport-steering.ts`): NAT port shards name their replica; otherwise a hash of the inner source (clients' side) or destination (servers' side). */
export type VxlanGroupKey =
  | { readonly by: 'inner-source' }
  | { readonly by: 'inner-destination' }
  /** The NAT's translated range starts at `base` and is split into `shards` shards of `shardSize` ports; each replica allocates from the shard it was given (`join`). */
  | { readonly by: 'port-shard'; readonly base: number; readonly shardSize: number; readonly shards: number };

/**
 * The port-shard key of a NAT whose replicas allocate from `count` shards of its port range
 * `[from, to]` as `shardPortRange` (`functions/nat/nat-engine.ts`) cuts it: equal slices of
 * `floor((to − from + 1) / count)` ports, the last also taking the rest (the group steers
 * the rest to the last shard's replica).
 */
export function natShardKey(from: number, to: number, count: number): VxlanGroupKey {
  const size = Math.floor((to - from + 1) / count);
  if (!Number.isInteger(count) || count < 1 || size < 1) throw new InvalidArgumentError(`a NAT range ${from}-${to} cannot be cut into ${count} shards`);
  return { by: 'port-shard', base: from, shardSize: size, shards: count };
}

/** What a replica's `vxlan` port spec carries to share its end (`LocalVxlanSpec.replicas`). */
export interface VxlanReplicaRef {
  readonly area: SharedArrayBuffer;
  readonly members: number;
  readonly member: number;
  readonly ringCapacity: number;
}

/**
 * The host's side of a VXLAN end whose replicas each bind a socket of one SO_REUSEPORT
 * group: it keeps the group's order as the kernel does (a socket joins at the end; one
 * that leaves is replaced by the last), and on every change publishes in the shared area
 * (`vxlan-replica-area.ts`) each member's socket index, the key and the classic BPF
 * program (`steeringProgram`) that the first member in the group attaches from its
 * instance. The order comes from the area's membership log: each replica binds (and
 * closes) its sockets under the area's lock and logs it (`underMembershipLock`), so
 * replicas booting at once still land in the order the kernel saw. Call `join` once a
 * replica is ready (it replays the log; a member the log does not name is appended, the
 * caller vouching for the order) and `leave` once it stopped or failed (a crashed
 * process's sockets close without a record: the member is removed then, and the
 * membership lock freed if it died holding it). Until the program of a change is
 * attached (`attached()`), the old one runs: indexes past the group fall back to the kernel's hash, and datagrams that
 * land on another replica than the model says are counted there (`misdirected`) and handed
 * to the replica the model names.
 *
 * **Membership changes keep established flows.** Hashed keys steer by bucket
 * (`STEERING_BUCKETS`): the group gives each member that takes new flows an equal share of
 * the buckets and, when one joins, retires or leaves, moves as few buckets as it can,
 * remembering for each moved bucket its previous holder while that holder lives. A
 * replica receiving a frame of a moved bucket that does not start a TCP flow and is of no
 * flow it saw start hands it to the previous holder (`VxlanReplicaShare`); NAT port shards
 * (port-shard keys) never move: a shard stays with its replica as long as it lives,
 * retiring included. To scale in without losing a connection: `retire(m)` (its buckets go
 * to the others, its flows keep reaching it by handoff), wait until `handedTo(m)` stops
 * rising or a drain timeout passes, stop the replica, then `leave(m)`.
 *
 * @example
 * ```ts
 * const group = new VxlanReplicaGroup((n) => memory.allocate(n), { by: 'inner-source' });
 * const inst = await dp.addInstance(0, image, { ports: { inside: { type: 'vxlan', settings, counters, replicas: group.prepare(0) }, … } });
 * group.join(0);
 * // scale in, keeping replica 1's connections until they end or 30 s pass:
 * group.retire(1);
 * let seen = -1;
 * for (const deadline = Date.now() + 30_000; Date.now() < deadline && group.handedTo(1) !== seen; await sleep(1000)) seen = group.handedTo(1);
 * await dp.drainInstance(inst1.id, 'scale in', 5000);
 * group.leave(1);
 * ```
 */
export class VxlanReplicaGroup {
  readonly area: SharedArrayBuffer;
  readonly layout: VxlanReplicaAreaLayout;
  private readonly words: Int32Array;
  /** Members by socket index: the kernel's order. */
  private readonly order: number[] = [];
  private readonly shardOf = new Map<number, number>();
  /** Members taking no new flows (`retire`), until they leave. */
  private readonly retiring = new Set<number>();
  /** Owner of each bucket, and the member that held it before the last move (-1: none, or it left). */
  private readonly owner = new Int32Array(STEERING_BUCKETS).fill(-1);
  private readonly previous = new Int32Array(STEERING_BUCKETS).fill(-1);
  private readonly previous2 = new Int32Array(STEERING_BUCKETS).fill(-1);
  /** Buckets moved between live members since the group was made (the cost of its changes). */
  moves = 0;
  private seq = 0;
  private logRead = 0;
  /** Log records lost because more than `AREA_LOG_CAPACITY` changes came between two reads (the order may be off since). */
  logOverruns = 0;

  constructor(
    allocate: (bytes: number) => SharedArrayBuffer,
    readonly key: VxlanGroupKey,
    members = 16,
    ringCapacity?: number,
    /** Slots of each handoff ring (one per ordered pair of members: the area grows with members² × slots × ~2 KB; pages are touched only once used). */
    handoffSlots?: number,
  ) {
    if (key.by === 'port-shard' && !(Number.isInteger(key.shards) && key.shards >= 1 && key.shards <= AREA_MAX_SHARDS)) {
      throw new InvalidArgumentError(`port-shard steering over 1..${AREA_MAX_SHARDS} shards, not ${key.shards}`);
    }
    this.layout = vxlanReplicaAreaLayout(members, ringCapacity, handoffSlots);
    this.area = allocate(this.layout.bytes);
    this.words = areaWords(this.area, this.layout);
    // The handoff rings start zeroed as allocated (not written here: their pages stay untouched until used).
    this.words.fill(0, 0, this.layout.handoffAt);
    this.words[AreaWord.MEMBERS] = this.layout.members;
    this.words[AreaWord.RING_CAPACITY] = this.layout.ringCapacity;
    this.words[AreaWord.HANDOFF_SLOTS] = this.layout.handoffSlots;
    this.words.fill(-1, this.layout.indexAt, this.layout.indexAt + members);
    this.words.fill(-1, this.layout.ownerAt, this.layout.previous2At + STEERING_BUCKETS);
    this.words[AreaWord.ATTACHER] = -1;
  }

  /** Members in the group, by socket index. */
  get members(): readonly number[] {
    return this.order;
  }

  /** The reference replica `member` boots with; its neighbour ring starts empty (a new epoch). */
  prepare(member: number): VxlanReplicaRef {
    this.checkMember(member);
    if (this.order.includes(member)) throw new InvalidArgumentError(`member ${member} is in the group already`);
    const at = this.layout.ringsAt + member * this.layout.ringWords;
    Atomics.store(this.words, at, 0);
    Atomics.add(this.words, at + 1, 1);
    return { area: this.area, members: this.layout.members, member, ringCapacity: this.layout.ringCapacity };
  }

  /** Replica `member`'s socket joined the group (its instance is ready); `shard`: the NAT port shard it allocates from (port-shard keys). */
  join(member: number, shard?: number): void {
    this.checkMember(member);
    if (this.order.includes(member)) return;
    if (this.key.by === 'port-shard') {
      if (shard === undefined || !Number.isInteger(shard) || shard < 0 || shard >= this.key.shards) throw new InvalidArgumentError(`member ${member} needs its NAT shard (0..${this.key.shards - 1})`);
      this.shardOf.set(member, shard);
    }
    this.replay();
    if (!this.order.includes(member)) this.order.push(member);
    this.publish();
  }

  /** Applies what the membership log recorded since the last read; publishes when the group changed. */
  sync(): void {
    if (this.replay()) this.publish();
  }

  private replay(): boolean {
    const w = this.words;
    const top = Atomics.load(w, AreaWord.LOG_COUNT);
    let from = this.logRead;
    if (top - from > AREA_LOG_CAPACITY) {
      this.logOverruns += top - from - AREA_LOG_CAPACITY;
      from = top - AREA_LOG_CAPACITY;
    }
    let changed = false;
    for (let i = from; i < top; i++) {
      const r = w[this.layout.logAt + (i % AREA_LOG_CAPACITY)];
      const member = Math.abs(r) - 1;
      if (r === 0 || member >= this.layout.members) continue;
      if (r > 0 && !this.order.includes(member)) {
        this.order.push(member);
        changed = true;
      } else if (r < 0) changed = this.remove(member) || changed;
    }
    this.logRead = top;
    return changed;
  }

  private remove(member: number): boolean {
    const i = this.order.indexOf(member);
    if (i < 0) return false;
    const last = this.order.pop()!;
    if (i < this.order.length) this.order[i] = last;
    return true;
  }

  /** Replica `member`'s socket left the group (its instance stopped): the last socket takes its index, as in the kernel. */
  leave(member: number): void {
    // A process that died holding the membership lock would keep every later replica from binding.
    Atomics.compareExchange(this.words, AreaWord.LOCK, member + 1, 0);
    const changed = this.replay();
    const removed = this.remove(member);
    this.shardOf.delete(member);
    this.retiring.delete(member);
    if (changed || removed) this.publish();
  }

  /**
   * Replica `member` takes no new flows: its buckets go to the other members (equal
   * shares, each remembering `member` as its previous holder), and the frames of the flows
   * it holds keep reaching it by handoff until `leave(member)`. Its NAT port shard
   * (port-shard keys) stays with it. A group whose every member retires keeps steering to
   * them. Throws `InvalidArgumentError` for a member not in the group.
   *
   * @example
   * ```ts
   * group.retire(1);   // then drain: until handedTo(1) stops rising, or a timeout
   * ```
   */
  retire(member: number): void {
    this.checkMember(member);
    this.sync();
    if (!this.order.includes(member)) throw new InvalidArgumentError(`member ${member} is not in the group`);
    if (this.retiring.has(member)) return;
    this.retiring.add(member);
    this.publish();
  }

  /**
   * How many datagrams the other members have handed to `member` so far (the sum of the
   * write counters of the handoff rings into it, read from the area): while a retiring
   * member still holds flows, it keeps rising. Each ring's counter is a free-running 32-bit
   * count: compare readings, do not read one as a total past 2³² handoffs per ring.
   *
   * @example
   * ```ts
   * const before = group.handedTo(1);
   * await sleep(1000);
   * const stillBusy = group.handedTo(1) !== before;
   * ```
   */
  handedTo(member: number): number {
    this.checkMember(member);
    let n = 0;
    for (let w = 0; w < this.layout.members; w++) if (w !== member) n += Atomics.load(this.words, handoffRingAt(this.layout, w, member)) >>> 0;
    return n;
  }

  /** The owner of each bucket (member numbers; -1 while the group is empty). */
  bucketOwners(): readonly number[] {
    return [...this.owner];
  }

  /** The previous holder of each bucket, while it lives (-1: none). */
  bucketPrevious(): readonly number[] {
    return [...this.previous];
  }

  /** The holder of each bucket before its previous one, while it lives (-1: none). */
  bucketPrevious2(): readonly number[] {
    return [...this.previous2];
  }

  /**
   * Gives the members taking new flows (the live ones not retiring; all live ones if every
   * one retires) equal shares of the buckets, moving as few as it can: buckets of members
   * no longer taking flows, and the excess of members above their share (the highest
   * buckets they hold), go to members below theirs, lowest bucket first. The members with
   * the most buckets keep the odd ones, so a group that did not change moves none. A
   * moved bucket remembers its last two holders that still live (a bucket moved twice,
   * when replicas join one after the other, still reaches the flows of the first).
   */
  private rebalance(): void {
    const live = this.order;
    const owner = this.owner;
    const previous = this.previous;
    const active = live.filter((m) => !this.retiring.has(m));
    const takers = active.length > 0 ? active : live;
    const previous2 = this.previous2;
    for (let b = 0; b < STEERING_BUCKETS; b++) {
      if (previous2[b] >= 0 && (!live.includes(previous2[b]) || previous2[b] === owner[b] || previous2[b] === previous[b])) previous2[b] = -1;
      if (previous[b] >= 0 && (!live.includes(previous[b]) || previous[b] === owner[b])) previous[b] = -1;
      if (previous[b] < 0) {
        previous[b] = previous2[b];
        previous2[b] = -1;
      }
    }
    if (takers.length === 0) {
      owner.fill(-1);
      previous.fill(-1);
      previous2.fill(-1);
      return;
    }
    const count = new Map(takers.map((m) => [m, 0]));
    const free: number[] = [];
    for (let b = 0; b < STEERING_BUCKETS; b++) {
      const held = count.get(owner[b]);
      if (held === undefined) free.push(b);
      else count.set(owner[b], held + 1);
    }
    const share = Math.floor(STEERING_BUCKETS / takers.length);
    const odd = STEERING_BUCKETS % takers.length;
    const ranked = [...takers].sort((x, y) => count.get(y)! - count.get(x)! || x - y);
    const quota = new Map(ranked.map((m, i) => [m, share + (i < odd ? 1 : 0)]));
    for (let b = STEERING_BUCKETS - 1; b >= 0; b--) {
      const o = owner[b];
      const held = count.get(o);
      if (held !== undefined && held > quota.get(o)!) {
        count.set(o, held - 1);
        free.push(b);
      }
    }
    free.sort((x, y) => x - y);
    let next = 0;
    for (const m of [...takers].sort((x, y) => x - y)) {
      while (count.get(m)! < quota.get(m)!) {
        const b = free[next++];
        const from = owner[b];
        const kept = from >= 0 && live.includes(from);
        const before = previous[b];
        previous2[b] = before >= 0 && before !== m && before !== from ? before : -1;
        previous[b] = kept ? from : -1;
        if (previous[b] < 0) {
          previous[b] = previous2[b];
          previous2[b] = -1;
        }
        if (kept) this.moves++;
        owner[b] = m;
        count.set(m, count.get(m)! + 1);
      }
    }
  }

  /** Whether the program of the latest change is attached. */
  attached(): boolean {
    return this.order.length === 0 || Atomics.load(this.words, AreaWord.ATTACHED_SEQ) === this.seq;
  }

  /** Attaches the kernel refused (reported by the attaching replica). */
  get attachErrors(): number {
    return Atomics.load(this.words, AreaWord.ATTACH_ERRORS);
  }

  /**
   * The steering key of the current group (port-shard: each shard's socket, shards no
   * replica holds to socket 0, and one more slice after the last for the rest of the range
   * the last shard takes, `natShardKey`).
   */
  steeringKey(): SteeringKey {
    const index = new Map(this.order.map((m, i) => [m, i]));
    const buckets = Array.from(this.owner, (m) => index.get(m) ?? 0);
    if (this.key.by !== 'port-shard') return { by: this.key.by, buckets };
    const sockets: number[] = [];
    const holder = new Map([...this.shardOf].map(([m, s]) => [s, m]));
    for (let s = 0; s < this.key.shards; s++) sockets.push(index.get(holder.get(s) ?? -1) ?? 0);
    if (this.key.shards < AREA_MAX_SHARDS) sockets.push(sockets[sockets.length - 1]);
    return { by: 'port-shard', base: this.key.base, shardSize: this.key.shardSize, sockets, buckets };
  }

  private publish(): void {
    const w = this.words;
    const L = this.layout;
    const size = this.order.length;
    this.rebalance();
    const key = this.steeringKey();
    const program = size === 0 ? new Uint32Array(0) : steeringProgram(key, size);
    if (program.length > AREA_PROGRAM_WORDS) throw new InvalidArgumentError(`steering program of ${program.length} words exceeds ${AREA_PROGRAM_WORDS}`);
    // Seqlock: odd while the words change.
    Atomics.store(w, AreaWord.SEQ, ++this.seq);
    w[AreaWord.SIZE] = size;
    w[AreaWord.ATTACHER] = size === 0 ? -1 : this.order[0];
    w[AreaWord.KEY] = key.by === 'inner-source' ? SteerBy.INNER_SOURCE : key.by === 'inner-destination' ? SteerBy.INNER_DESTINATION : SteerBy.PORT_SHARD;
    if (key.by === 'port-shard') {
      w[AreaWord.BASE] = key.base;
      w[AreaWord.SHARD_SIZE] = key.shardSize;
      w[AreaWord.SHARD_COUNT] = key.sockets.length;
      for (let s = 0; s < key.sockets.length; s++) w[L.shardAt + s] = key.sockets[s];
    }
    w.fill(-1, L.indexAt, L.indexAt + L.members);
    this.order.forEach((m, i) => (w[L.indexAt + m] = i));
    w.set(this.owner, L.ownerAt);
    w.set(this.previous, L.previousAt);
    w.set(this.previous2, L.previous2At);
    w[AreaWord.PROGRAM_WORDS] = program.length;
    w.set(program, L.programAt);
    Atomics.store(w, AreaWord.SEQ, ++this.seq);
  }

  private checkMember(member: number): void {
    if (!Number.isInteger(member) || member < 0 || member >= this.layout.members) throw new InvalidArgumentError(`member ${member} outside 0..${this.layout.members - 1}`);
  }
}
