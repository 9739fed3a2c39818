import type { GatewayEdge } from '../../gateway/gateway-edge.ts';
import type { BatchedUdpSocket } from '../../io/batched-udp-socket.ts';
import { SLOT_SHARD, STEERING_BUCKETS, steeringBucket, steeringSlot, VXLAN_INNER_OFFSET, type SteeringKey } from '../../io/reuseport-steering.ts';
import {
  AREA_MAX_SHARDS,
  AREA_PROGRAM_WORDS,
  areaHandoffSlots,
  AreaWord,
  areaWords,
  HANDOFF_DATA_BYTES,
  HANDOFF_HEADER_WORDS,
  HANDOFF_SLOT_HEADER_WORDS,
  HANDOFF_SLOT_WORDS,
  handoffRingAt,
  RING_ENTRY_WORDS,
  RING_HEADER_WORDS,
  SteerBy,
  vxlanReplicaAreaLayout,
  type VxlanReplicaAreaLayout,
} from './vxlan-replica-area.ts';
import { StartedFlows } from './vxlan-started-flows.ts';

/** What a replica's share of its end counts (the port publishes them in its counter block). */
export interface VxlanShareCounters {
  /** Datagrams the group's program sent to another replica's socket (they landed here all the same: a group that changed since, or the host's model of it is off); handed to that replica. */
  misdirected: number;
  /** Datagrams handed to the replica holding their flow (a handoff ring). */
  handedOut: number;
  /** Datagrams other replicas handed to this one, injected into its receive path. */
  handedIn: number;
  /** Datagrams that could not be handed: the ring to their replica was full (or its reader's counter is off). Dropped. */
  handoffLost: number;
  /** Handoff slots refused: a length past the slot or the buffer, or ring counters that cannot be (a peer's words are not trusted). */
  handoffRejected: number;
  /** TCP starts the started-flow table had no room for (`StartedFlows.full`). */
  flowsFull: number;
  /** Neighbours adopted from the other replicas. */
  adopted: number;
  /** Ring entries refused (a width, peer or address this end does not have). */
  rejected: number;
  /** Ring entries lost because a writer lapped this reader. */
  overruns: number;
  /** Steering sequences applied. */
  steeringSeq: number;
}

/** `route`: keep the datagram here. */
export const KEEP = -1;

/** Handoffs a datagram may take (socket → outsider → owner → previous → the one before). */
export const MAX_HOPS = 3;

/**
 * A replica's side of its VXLAN end's shared area (`vxlan-replica-area.ts`): in its port's
 * `fill` it applies the steering the host published (its socket index, the group's size
 * and key, each bucket's owner and previous holder; the one member named attaches the
 * program to the group), adopts the neighbours the other replicas learned, and passes on
 * what its own gateway learns.
 *
 * Per datagram, `route` is the one steering computation: the owner of its bucket (or NAT
 * shard) per the published tables, and the bucket's previous holders that still live. A
 * datagram that starts a TCP flow (SYN without ACK) goes to the owner; one of a flow this
 * replica saw start (`StartedFlows`, shared by the replica's ends) stays; any other TCP
 * segment of a moved bucket moves one step along owner → previous → the one before (one
 * that landed outside that chain, because the program of a change is not attached yet or
 * the kernel re-ordered the group, goes to the owner first). Other protocols have no start
 * to tell them by, so their datagrams of a moved bucket go to the previous holder while
 * it lives; IPv6 neighbour discovery (the gateway's own, answered by any replica) stays.
 * `handOff` copies the datagram (and its outer source, so the receiver's gateway
 * answers the right VTEP) into the single-producer ring from this replica to that one;
 * the receiver's port takes it with `receiveHanded` at its next `fill` (each loop turn
 * under traffic; an idle replica sleeps in the addon's waiter at most
 * `IDLE_SLEEP_MAX_MS`, 16 ms, so that bounds a handoff's wait) and injects it into its
 * receive path as if its socket had received it. A handed datagram only moves on along the
 * chain, `MAX_HOPS` handoffs at most: no loop.
 * Every word a peer wrote (ring counters, lengths) is checked and what does not fit is
 * counted (`handoffRejected`), never thrown.
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
  readonly counters: VxlanShareCounters = { misdirected: 0, handedOut: 0, handedIn: 0, handoffLost: 0, handoffRejected: 0, flowsFull: 0, adopted: 0, rejected: 0, overruns: 0, steeringSeq: 0 };
  /** The outer source address and port of the datagram `receiveHanded` last returned, and the handoffs it took. */
  handedAddress = 0;
  handedPort = 0;
  handedHops = 0;
  /** The flows this replica saw start (shared by its ends). */
  readonly flows: StartedFlows;
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
  /** Per bucket: owner and previous holder (member numbers, -1 none); per socket index: its member; per member: its socket index (-1: not in the group). */
  private readonly owners = new Int32Array(STEERING_BUCKETS).fill(-1);
  private readonly previous = new Int32Array(STEERING_BUCKETS).fill(-1);
  private readonly previous2 = new Int32Array(STEERING_BUCKETS).fill(-1);
  private readonly memberAt = new Int32Array(256).fill(-1);
  private readonly indexOf: Int32Array;
  private shardSockets = new Int32Array(0);
  /** This replica is the group's only member and no bucket names another: every datagram stays (only starts are noted). */
  private alone = false;
  /** The client is the inner source (the clients' end) or the inner destination. */
  private clientIsSource = true;
  private now = 0;
  /** `parseTcp`'s result: the client's address (IPv6 folded), port (| 0x10000 for IPv6), and the TCP flags. */
  private flowAddress = 0;
  private flowPort = 0;
  private tcpFlags = 0;
  /** Handoff rings: this replica's write count into each member's, and its read count of each member's. */
  private readonly tails: Int32Array;
  private readonly heads: Int32Array;
  private nextWriter = 0;

  constructor(area: SharedArrayBuffer, members: number, member: number, ringCapacity?: number, flows?: StartedFlows) {
    this.layout = vxlanReplicaAreaLayout(members, ringCapacity, areaHandoffSlots(area));
    this.words = areaWords(area, this.layout);
    if (!Number.isInteger(member) || member < 0 || member >= members) throw new RangeError(`member ${member} outside 0..${members - 1}`);
    this.member = member;
    this.cursor = new Float64Array(members);
    this.epoch = new Int32Array(members);
    // What this replica's ring held before it took the member number is not its own.
    this.written = Atomics.load(this.words, this.ringAt(member));
    this.flows = flows ?? StartedFlows.ofReplica(member);
    this.indexOf = new Int32Array(members).fill(-1);
    // Handoff rings: continue the counters found (a member number reused); what was waiting for the previous holder of the number is dropped.
    this.tails = new Int32Array(members);
    this.heads = new Int32Array(members);
    for (let m = 0; m < members; m++) {
      if (m === member) continue;
      this.tails[m] = Atomics.load(this.words, handoffRingAt(this.layout, member, m));
      const into = handoffRingAt(this.layout, m, member);
      this.heads[m] = Atomics.load(this.words, into);
      Atomics.store(this.words, into + 1, this.heads[m]);
    }
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
    this.now = now;
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
    // Member numbers outside the layout are read as none.
    const owners = new Int32Array(STEERING_BUCKETS);
    const previous = new Int32Array(STEERING_BUCKETS);
    const previous2 = new Int32Array(STEERING_BUCKETS);
    for (let b = 0; b < STEERING_BUCKETS; b++) {
      const o = w[L.ownerAt + b];
      const p = w[L.previousAt + b];
      const q = w[L.previous2At + b];
      owners[b] = o >= 0 && o < L.members ? o : -1;
      previous[b] = p >= 0 && p < L.members ? p : -1;
      previous2[b] = q >= 0 && q < L.members ? q : -1;
    }
    const indexOf = new Int32Array(L.members);
    const memberAt = new Int32Array(256).fill(-1);
    for (let m = 0; m < L.members; m++) {
      const i = w[L.indexAt + m];
      indexOf[m] = i >= 0 && i < size ? i : -1;
      if (indexOf[m] >= 0) memberAt[i] = m;
    }
    const attach = attacher === this.member && programWords > 0;
    if (attach) for (let i = 0; i < programWords; i++) this.program[i] = w[L.programAt + i];
    // Written meanwhile: take it at the next call.
    if (Atomics.load(w, AreaWord.SEQ) !== seq) return;
    this.lastSeq = seq;
    this.size = size;
    this.index = index;
    this.key = by === SteerBy.INNER_SOURCE ? { by: 'inner-source' } : by === SteerBy.INNER_DESTINATION ? { by: 'inner-destination' } : { by: 'port-shard', base, shardSize, sockets: sockets! };
    this.clientIsSource = by === SteerBy.INNER_SOURCE;
    this.owners.set(owners);
    this.previous.set(previous);
    this.previous2.set(previous2);
    this.indexOf.set(indexOf);
    this.memberAt.set(memberAt);
    this.shardSockets = Int32Array.from(sockets ?? []);
    let alone = size === 1 && index === 0;
    for (let b = 0; alone && b < STEERING_BUCKETS; b++) alone = owners[b] === this.member && previous[b] < 0 && previous2[b] < 0;
    this.alone = alone;
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

  /**
   * Where the datagram payload at `off` (`len` bytes, VXLAN header first) of `view` goes:
   * `KEEP`, or the member to hand it to. `hops`: the handoffs it took to get here (0: from
   * the socket). A bucket's live holders form a chain: owner, previous, the one before.
   * A TCP start goes to the owner; another TCP segment stays where its flow was seen to
   * start, and otherwise moves one step along the chain (from outside it: to the owner),
   * so it reaches the holder of its flow in at most `MAX_HOPS` handoffs and never loops;
   * other protocols go to the previous holder while it lives, else the owner. A NAT shard's
   * chain is its holder alone. Notes the TCP starts (and closes) that stay.
   */
  route(view: DataView, off: number, len: number, hops: number): number {
    const key = this.key;
    if (key === undefined || this.index < 0) return KEEP;
    const tcp = this.parseTcp(view, off, len);
    const start = tcp && (this.tcpFlags & 0x12) === 0x02;
    if (hops >= MAX_HOPS || hops < 0 || this.alone) return this.kept(tcp, start);
    // Neighbour discovery is the gateway's own traffic, which any replica answers (and the rings share what it learns): never handed.
    if (!tcp && this.neighbourDiscovery(view, off, len)) return KEEP;
    // A whole TCP segment under a hash key: its client side is the hash's key word (one parse, the model's result).
    const slot = tcp && key.by !== 'port-shard' ? steeringBucket(this.flowAddress ^ (this.flowPort & 0xffff)) : steeringSlot(key, view, off, len);
    if (slot < 0) return this.kept(tcp, start);
    const me = this.member;
    const live = this.indexOf;
    let owner: number;
    let previous = -1;
    let previous2 = -1;
    if (slot >= SLOT_SHARD) {
      const shard = slot - SLOT_SHARD;
      owner = shard < this.shardSockets.length ? this.memberAt[this.shardSockets[shard] & 0xff] : -1;
    } else {
      owner = this.owners[slot];
      previous = this.previous[slot];
      previous2 = this.previous2[slot];
    }
    if (owner < 0 || live[owner] < 0) return this.kept(tcp, start);
    if (hops === 0 && owner !== me) this.counters.misdirected++;
    // The steady state: this replica owns a bucket that never moved.
    if (owner === me && previous < 0 && previous2 < 0) return this.kept(tcp, start);
    if (previous >= 0 && live[previous] < 0) previous = -1;
    if (previous2 >= 0 && live[previous2] < 0) previous2 = -1;
    if (previous < 0) {
      previous = previous2;
      previous2 = -1;
    }
    let to: number;
    if (start) to = owner;
    else if (!tcp) to = previous >= 0 ? previous : owner;
    else if (this.flows.has(this.flowAddress, this.flowPort)) to = me;
    else if (hops === 0) to = me === owner ? previous : owner;
    else if (me === owner) to = previous;
    else if (me === previous) to = previous2;
    else if (me === previous2) to = -1;
    else to = owner;
    return to < 0 || to === me ? this.kept(tcp, start) : to;
  }

  /** The datagram stays: a TCP start is recorded, a FIN or RST marks its flow closing. */
  private kept(tcp: boolean, start: boolean): number {
    if (!tcp) return KEEP;
    if (start) {
      this.flows.record(this.flowAddress, this.flowPort, this.now);
      this.counters.flowsFull = this.flows.full;
    } else if ((this.tcpFlags & 0x05) !== 0) {
      this.flows.close(this.flowAddress, this.flowPort, this.now);
    }
    return KEEP;
  }

  /** Whether the inner frame is ICMPv6 neighbour discovery (router or neighbour solicitation or advertisement, redirect: types 133-137). */
  private neighbourDiscovery(view: DataView, off: number, len: number): boolean {
    const ip = VXLAN_INNER_OFFSET + 14;
    if (ip + 41 > len || view.getUint16(off + VXLAN_INNER_OFFSET + 12) !== 0x86dd || view.getUint8(off + ip + 6) !== 58) return false;
    const type = view.getUint8(off + ip + 40);
    return type >= 133 && type <= 137;
  }

  /** Whether the inner frame is a whole TCP segment (not a fragment, its header within `len`); if so sets the flow's client side and flags. */
  private parseTcp(view: DataView, off: number, len: number): boolean {
    const eth = VXLAN_INNER_OFFSET + 12;
    const ip = VXLAN_INNER_OFFSET + 14;
    if (eth + 2 > len) return false;
    const ethertype = view.getUint16(off + eth);
    if (ethertype === 0x0800) {
      if (ip + 20 > len) return false;
      // Fragment word, TTL and protocol in one load: a whole (unfragmented) TCP segment only.
      if ((view.getInt32(off + ip + 6) & 0x3fff00ff) !== 6) return false;
      const l4 = ip + ((view.getUint8(off + ip) & 0x0f) << 2);
      if (l4 + 14 > len) return false;
      const source = this.clientIsSource;
      this.flowAddress = view.getInt32(off + ip + (source ? 12 : 16));
      this.flowPort = view.getUint16(off + l4 + (source ? 0 : 2));
      this.tcpFlags = view.getUint8(off + l4 + 13);
      return true;
    }
    if (ethertype === 0x86dd) {
      const l4 = ip + 40;
      if (l4 + 14 > len || view.getUint8(off + ip + 6) !== 6) return false;
      const source = this.clientIsSource;
      const at = off + ip + (source ? 8 : 24);
      this.flowAddress = view.getInt32(at) ^ view.getInt32(at + 4) ^ view.getInt32(at + 8) ^ view.getInt32(at + 12);
      this.flowPort = view.getUint16(off + l4 + (source ? 0 : 2)) | 0x10000;
      this.tcpFlags = view.getUint8(off + l4 + 13);
      return true;
    }
    return false;
  }

  /**
   * Copies the datagram payload at `off` (`len` bytes) of `view`, received from `address`
   * and `port`, into the handoff ring to member `to`, as its `hops`th handoff; false (counted `handoffLost`) when the
   * ring is full, its reader's counter cannot be, or the datagram does not fit a slot.
   */
  handOff(to: number, view: DataView, off: number, len: number, address: number, port: number, hops = 1): boolean {
    const L = this.layout;
    const w = this.words;
    if (to === this.member || to < 0 || to >= L.members || len > HANDOFF_DATA_BYTES) {
      this.counters.handoffLost++;
      return false;
    }
    const at = handoffRingAt(L, this.member, to);
    const tail = this.tails[to];
    const used = (tail - Atomics.load(w, at + 1)) | 0;
    if (used < 0 || used >= L.handoffSlots) {
      this.counters.handoffLost++;
      return false;
    }
    const slot = at + HANDOFF_HEADER_WORDS + ((tail >>> 0) % L.handoffSlots) * HANDOFF_SLOT_WORDS;
    w[slot] = len;
    w[slot + 1] = address;
    w[slot + 2] = port;
    w[slot + 3] = hops;
    const data = slot + HANDOFF_SLOT_HEADER_WORDS;
    const whole = len & ~3;
    for (let i = 0; i < whole; i += 4) w[data + (i >> 2)] = view.getInt32(off + i, true);
    if (whole < len) {
      let last = 0;
      for (let i = whole; i < len; i++) last |= view.getUint8(off + i) << ((i - whole) << 3);
      w[data + (whole >> 2)] = last;
    }
    const next = (tail + 1) | 0;
    this.tails[to] = next;
    Atomics.store(w, at, next);
    this.counters.handedOut++;
    return true;
  }

  /** Datagrams waiting in the handoff rings into this replica (each ring's count clamped to its slots). */
  waiting(): number {
    const L = this.layout;
    const w = this.words;
    let n = 0;
    for (let m = 0; m < L.members; m++) {
      if (m === this.member) continue;
      const waiting = (Atomics.load(w, handoffRingAt(L, m, this.member)) - this.heads[m]) | 0;
      if (waiting !== 0) n += waiting > 0 && waiting <= L.handoffSlots ? waiting : 1;
    }
    return n;
  }

  /**
   * Takes the next datagram handed to this replica into `view` at `dst` (room for
   * `capacity` bytes): returns its length (its outer source in `handedAddress` and
   * `handedPort`), or -1 when no ring holds one. Slots that do not fit are skipped and
   * counted (`handoffRejected`); a ring whose counter cannot be (behind this reader, or
   * more than its slots ahead) is counted once and read from its writer's count on.
   */
  receiveHanded(view: DataView, dst: number, capacity: number): number {
    const L = this.layout;
    const w = this.words;
    const members = L.members;
    for (let k = 0; k < members; k++) {
      const m = (this.nextWriter + k) % members;
      if (m === this.member) continue;
      const at = handoffRingAt(L, m, this.member);
      for (;;) {
        const tail = Atomics.load(w, at);
        const head = this.heads[m];
        const waiting = (tail - head) | 0;
        if (waiting === 0) break;
        if (waiting < 0 || waiting > L.handoffSlots) {
          this.counters.handoffRejected++;
          this.heads[m] = tail;
          Atomics.store(w, at + 1, tail);
          break;
        }
        const slot = at + HANDOFF_HEADER_WORDS + ((head >>> 0) % L.handoffSlots) * HANDOFF_SLOT_WORDS;
        const len = w[slot];
        const next = (head + 1) | 0;
        this.heads[m] = next;
        if (len < 1 || len > HANDOFF_DATA_BYTES || len > capacity) {
          Atomics.store(w, at + 1, next);
          this.counters.handoffRejected++;
          continue;
        }
        const data = slot + HANDOFF_SLOT_HEADER_WORDS;
        const whole = len & ~3;
        for (let i = 0; i < whole; i += 4) view.setInt32(dst + i, w[data + (i >> 2)], true);
        if (whole < len) {
          const last = w[data + (whole >> 2)];
          for (let i = whole; i < len; i++) view.setUint8(dst + i, (last >>> ((i - whole) << 3)) & 0xff);
        }
        this.handedAddress = w[slot + 1] >>> 0;
        this.handedPort = w[slot + 2] & 0xffff;
        // A peer's word: anything outside 1..MAX_HOPS is taken as the last hop (the datagram stays).
        const hops = w[slot + 3];
        this.handedHops = hops >= 1 && hops <= MAX_HOPS ? hops : MAX_HOPS;
        Atomics.store(w, at + 1, next);
        this.counters.handedIn++;
        this.nextWriter = (m + 1) % members;
        return len;
      }
    }
    return -1;
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
