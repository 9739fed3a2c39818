import { FrameLayout } from '../../packet/frame-layout.ts';
import { parseFrame } from '../../packet/parse-frame.ts';
import { tcpResetPermitted, writeTcpReset } from '../../packet/reply/tcp-reset.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import { Doorbell } from '../../virtio/doorbell.ts';
import { QueuePairEnd } from '../../virtio/queue-pair.ts';
import { UNSET_SIDE, type PinTimeoutTicks } from '../link-flow-table.ts';
import { LinkSteering, type SteeringCounters, type SteeringDrops } from '../link-steering.ts';
import { AWAITING_HEIR, STATE_LOST } from '../steering-codes.ts';
import { DIRECT_LINK_COUNTER_LIST, DirectLinkCounter } from './direct-link-counters.ts';
import { LaneView, SelfLane } from './lane-view.ts';
import { LinkAreaLayout, laneSlot, PinQueryWord, type LinkAreaGeometry } from './link-area-layout.ts';
import type { Link } from './link.ts';

/** Largest batch a direct link moves per call. */
const BATCH = 256;

/** What the host tells an instance about its direct links (privately, at boot: `InstanceWorkerData.links`). */
export interface DirectLinksData {
  /** The chain's link area (`LinkArea.sab`). */
  readonly areaSab: SharedArrayBuffer;
  readonly geometry: LinkAreaGeometry;
  /** The instance's stage and lane, and the epoch it joined at. */
  readonly stage: number;
  readonly lane: number;
  readonly epoch: number;
  /** Which of its sides are direct (`[eth0, eth1]`): a side at a chain end stays host-forwarded. */
  readonly direct: readonly [boolean, boolean];
  /** Seed of the flow hash Maglev picks with (the data plane's `hashSeed`). */
  readonly hashSeed: number;
  /** Pinned flows per link table. */
  readonly flowCapacity: number;
  /** Idle timeouts of pins, in ticks of `tickMs`. */
  readonly pinTimeouts: PinTimeoutTicks;
  readonly tickMs: number;
}

/** Counters of `LinkSteering` kept as plain fields, copied into the lane's stats after each call. */
function steeringCounters(): SteeringCounters & SteeringDrops {
  return { newFlows: 0, repinned: 0, inherited: 0, learnConflicts: 0, unkeyed: 0, expired: 0, unpinned: 0 };
}

/**
 * An instance's direct links (see `Link`): for each direct side, one queue pair per lane of
 * the adjacent stage in the chain's link area, and the steering of both its links. The
 * sender steers: a frame whose flow is pinned on that link goes to its peer; a new flow to
 * the lane the published Maglev table picks among the active ones (then pinned); a flow
 * whose peer is gone follows the heir the host published, waits for it (`awaiting_heir`)
 * or is picked anew — the body is `LinkSteering`'s, the host's own. The receiver learns
 * from each frame which peer the flow came from, so what it sends back that way takes the
 * same queue pair.
 *
 * The lanes (`LaneView`) are refreshed once per pass of the loop (`txRoom`); a peer that
 * left is still read until its queue pair is empty, and only then does the instance
 * acknowledge the generation (its stats' `left_generation` / `right_generation`), which is
 * what lets the host lay that pair out again for a new instance.
 *
 * @example
 * ```ts
 * const links = new DirectLinks(data, pool, irq);
 * const loop = new InstanceLoop(pool, [links.side(0) ?? eth0, links.side(1) ?? eth1], pipeline, irq);
 * ```
 */
export class DirectLinks {
  readonly steering: LinkSteering;
  readonly self: SelfLane;
  /** The lane's stats in the link area (`DIRECT_LINK_COUNTER_LIST`, then pins per lane). */
  readonly stats: Float64Array;
  readonly counters = steeringCounters();
  private readonly sides: [DirectLink | null, DirectLink | null] = [null, null];
  /** Int32 view of the whole link area. */
  readonly words: Int32Array;
  /** The instance's interrupt line (its lane's): peers ring it, `waitForRx` sleeps on it. */
  readonly irq: Doorbell;
  private lastSweep = 0;
  private readonly tickMs: number;
  /** The tick of the last `maintain` (each pass of the loop starts with `txRoom`, which calls it): what `receive`/`transmit` stamp pins with, one clock read per pass instead of one per call. */
  lastTick: number;
  private readonly stage: number;
  /** The last pin query of the host it answered. */
  private lastQuery = 0;

  /** `irq` must be the lane's interrupt line (`LinkArea.irqOffset`), the one the loop sleeps on. */
  constructor(data: DirectLinksData, pool: PoolHandle, irq: Doorbell) {
    this.tickMs = data.tickMs;
    this.lastTick = this.tick();
    this.stage = data.stage;
    this.irq = irq;
    const layout = new LinkAreaLayout(data.geometry);
    const words = (this.words = new Int32Array(data.areaSab));
    const bytes = new Uint8Array(data.areaSab);
    const lanes = data.geometry.lanes;
    this.stats = new Float64Array(data.areaSab, layout.stats(data.stage, data.lane), layout.statsSlots);
    const base = DIRECT_LINK_COUNTER_LIST.count;
    const slot = laneSlot(data.lane, data.epoch);
    this.self = new SelfLane(slot, this.stats, DirectLinkCounter.SELF_PINS, DirectLinkCounter.SELF_FLOWS);
    const left = data.stage > 0 ? new LaneView(words, bytes, layout, data.stage - 1, this.stats.subarray(base, base + lanes)) : null;
    const right = data.stage < data.geometry.stages - 1 ? new LaneView(words, bytes, layout, data.stage + 1, this.stats.subarray(base + lanes, base + 2 * lanes)) : null;
    // links[0]: the link on its left (it is that link's right side); links[1]: the one on its right.
    this.steering = new LinkSteering(
      [
        [left, this.self],
        [this.self, right],
      ],
      data.flowCapacity,
      data.hashSeed,
      data.pinTimeouts,
      this.counters,
      this.counters,
      data.stage,
    );
    const taken = new Uint8Array(pool.bufferCount);
    if (data.direct[0] && left !== null) this.sides[0] = new DirectLink(this, 0, left, layout, pool, taken);
    if (data.direct[1] && right !== null) this.sides[1] = new DirectLink(this, 1, right, layout, pool, taken);
  }

  /** The direct link of side `side` (0 eth0, 1 eth1), or null when that side is not direct. */
  side(side: 0 | 1): DirectLink | null {
    return this.sides[side];
  }

  /** The link-table clock now. */
  tick(): number {
    return (performance.now() / this.tickMs) | 0;
  }

  /** Expires idle pins about once a second (4 ticks), answers a new pin query of the host, then copies the counters into the stats. */
  maintain(tick: number): void {
    this.lastTick = tick;
    if (tick - this.lastSweep >= 4) {
      this.lastSweep = tick;
      this.steering.expire(tick);
    }
    const q = Atomics.load(this.words, PinQueryWord.SEQUENCE);
    if (q !== this.lastQuery) this.answerPinQuery(q);
    this.publishCounters();
  }

  /**
   * Answers the host's pin query `q` (`LinkArea.askPin`): whether the flow it names is
   * pinned to this instance on the link on its left (never for a query about another stage).
   * A query rewritten while it was read is left for the next pass. One float64 write, so the
   * host never reads half an answer.
   */
  private answerPinQuery(q: number): void {
    const w = this.words;
    const stage = w[PinQueryWord.STAGE];
    const src = w[PinQueryWord.SRC_IP];
    const dst = w[PinQueryWord.DST_IP];
    const sport = w[PinQueryWord.SRC_PORT] & 0xffff;
    const dport = w[PinQueryWord.DST_PORT] & 0xffff;
    const proto = w[PinQueryWord.PROTO] & 0xff;
    if (Atomics.load(w, PinQueryWord.SEQUENCE) !== q) return;
    this.lastQuery = q;
    const mine = stage === this.stage && this.stage > 0 && this.steering.pinnedSlot(0, src, dst, sport, dport, proto) === this.self.slot;
    this.stats[DirectLinkCounter.PIN_ANSWER] = 2 * (q & 0x3fffffff) + (mine ? 1 : 0);
  }

  /** Copies the steering counters into the lane's stats (once per batch). */
  publishCounters(): void {
    const c = this.counters;
    const s = this.stats;
    s[DirectLinkCounter.NEW_FLOWS] = c.newFlows;
    s[DirectLinkCounter.REPINNED] = c.repinned;
    s[DirectLinkCounter.INHERITED] = c.inherited;
    s[DirectLinkCounter.LEARN_CONFLICTS] = c.learnConflicts;
    s[DirectLinkCounter.UNKEYED] = c.unkeyed;
    s[DirectLinkCounter.EXPIRED] = c.expired;
    s[DirectLinkCounter.UNPINNED] = c.unpinned;
  }

  /** Records the first peer that broke a queue pair (the host fails it). */
  reportViolation(side: 0 | 1, lane: number): void {
    if (this.stats[DirectLinkCounter.VIOLATION] === 0) this.stats[DirectLinkCounter.VIOLATION] = 1 + side * 256 + lane;
  }
}

/**
 * The two `Link`s of an instance given direct links (`data`): the direct side where there
 * is one, the host-forwarded device (`eth0`, `eth1`) at a chain end. What an instance's
 * entry calls once it has loaded this runtime; `irq` is its lane's interrupt line.
 */
export function linkSides(data: DirectLinksData, pool: PoolHandle, irq: Doorbell, eth0: Link, eth1: Link): [Link, Link] {
  const links = new DirectLinks(data, pool, irq);
  return [links.side(0) ?? eth0, links.side(1) ?? eth1];
}

/**
 * One direct side of an instance (a `Link`): queue pairs to the lanes of the adjacent stage.
 * See `DirectLinks`.
 */
export class DirectLink implements Link {
  readonly direct = true;
  /** 0: toward the stage on the left (eth0); 1: toward the right (eth1). */
  readonly side: 0 | 1;
  readonly peers: LaneView;
  /** Queue pair per peer lane (null: none attached), and the epoch it was attached for. */
  private readonly pairs: (QueuePairEnd | null)[];
  private readonly pairEpoch: Int32Array;
  /** 1 for a pair whose peer left: read until empty, then dropped. */
  private readonly leaving: Uint8Array;
  private readonly batches: Uint32Array[];
  private readonly counts: Uint32Array;
  private readonly scratch = new Uint32Array(BATCH);
  private readonly drops = new Uint32Array(BATCH);
  /** Resets written in place of frames of a flow whose peer is gone with its state, received next (`reflect`). */
  private readonly reflected = new Uint32Array(BATCH);
  private reflectedCount = 0;
  private readonly resetLayout = new FrameLayout();
  private readonly owner: DirectLinks;
  private readonly pool: PoolHandle;
  private readonly layout: LinkAreaLayout;
  private readonly taken: Uint8Array;
  /** Steering link index (0 left, 1 right) and the direction frames take when sent this way. */
  private readonly li: 0 | 1;
  private readonly outDir: 0 | 1;
  /** Next lane `receive` starts at (round robin). */
  private next = 0;
  private readonly lanes: number;
  private readonly genSlot: number;

  constructor(owner: DirectLinks, side: 0 | 1, peers: LaneView, layout: LinkAreaLayout, pool: PoolHandle, taken: Uint8Array) {
    this.owner = owner;
    this.side = side;
    this.peers = peers;
    this.layout = layout;
    this.pool = pool;
    this.taken = taken;
    const lanes = (this.lanes = layout.geometry.lanes);
    this.pairs = new Array<QueuePairEnd | null>(lanes).fill(null);
    this.pairEpoch = new Int32Array(lanes);
    this.leaving = new Uint8Array(lanes);
    this.batches = Array.from({ length: lanes }, () => new Uint32Array(BATCH));
    this.counts = new Uint32Array(lanes);
    this.li = side;
    this.outDir = side === 1 ? 0 : 1;
    this.genSlot = side === 0 ? DirectLinkCounter.LEFT_GENERATION : DirectLinkCounter.RIGHT_GENERATION;
    this.refresh();
  }

  /**
   * Applies a new snapshot of the peers' lanes: a departed peer's pair (gone, or its lane
   * holding another instance) is marked leaving (read until empty, then retired); a live
   * peer without a pair gets one. The host lays a lane's pairs out again only after this
   * instance acknowledged its departure, which it does only once no pair is leaving.
   */
  refresh(): void {
    const peers = this.peers;
    if (peers.refresh()) {
      for (let l = 0; l < this.lanes; l++) {
        const live = peers.isLive(l);
        if (this.pairs[l] !== null) {
          if (this.leaving[l] === 0 && (!live || this.pairEpoch[l] !== peers.epoch[l])) this.leaving[l] = 1;
        } else if (live && this.pairEpoch[l] !== peers.epoch[l]) this.attach(l); // (not a pair this side dropped as broken)
      }
    }
    this.acknowledge();
  }

  /** Attaches the queue pair with peer `lane` (its current epoch). */
  private attach(lane: number): void {
    const own = this.owner.self.slot & 0xff;
    const stage = this.peers.stage;
    const at = this.side === 0 ? this.layout.pair(stage + 1, lane, own) : this.layout.pair(stage, own, lane);
    const owner = this.peers.owner[lane];
    const end = owner > 0 ? QueuePairEnd.attach(this.owner.words.buffer as SharedArrayBuffer, at, this.layout.geometry.queueSize, this.side === 0 ? 1 : 0, this.pool, owner, this.taken) : null;
    this.pairs[lane] = end;
    this.leaving[lane] = 0;
    this.pairEpoch[lane] = this.peers.epoch[lane];
    if (end === null) {
      this.owner.reportViolation(this.side, lane);
      return;
    }
    const peerIrq = new Doorbell(this.owner.words, this.layout.irq(stage, lane) >> 2);
    end.setPeerInterrupt(peerIrq);
    end.setInterrupt(peerIrq);
  }

  /** Tells the host which generation of the peers' stage is applied, once no departed peer's pair holds frames. */
  private acknowledge(): void {
    for (let l = 0; l < this.lanes; l++) if (this.leaving[l] === 1) return;
    const g = this.peers.generation;
    if (g >= 0) this.owner.stats[this.genSlot] = g;
  }

  txRoom(): number {
    const tick = this.owner.tick();
    this.owner.maintain(tick);
    this.refresh();
    let room = BATCH;
    let any = false;
    for (let l = 0; l < this.lanes; l++) {
      const pair = this.pairs[l];
      if (pair === null || this.leaving[l] === 1) continue;
      const r = pair.room();
      if (pair.broken) {
        this.drop(l);
        continue;
      }
      any = true;
      if (r < room) room = r;
    }
    return any ? room : BATCH;
  }

  receive(outIds: Uint32Array, max: number): number {
    if (max > outIds.length) max = outIds.length;
    this.refresh();
    let n = 0;
    // Resets first: they go back through this instance, as if the gone peer had sent them.
    if (this.reflectedCount > 0) {
      n = this.reflectedCount < max ? this.reflectedCount : max;
      outIds.set(this.reflected.subarray(0, n));
      this.reflected.copyWithin(0, n, this.reflectedCount);
      this.reflectedCount -= n;
    }
    const steering = this.owner.steering;
    const link = steering.links[this.li];
    const pool = this.pool;
    const meta = pool.meta;
    const view = pool.view;
    const inDir: 0 | 1 = this.side === 0 ? 0 : 1;
    const tick = this.owner.lastTick;
    const lanes = this.lanes;
    for (let i = 0; i < lanes && n < max; i++) {
      const l = (this.next + i) % lanes;
      const pair = this.pairs[l];
      if (pair === null) continue;
      const k = pair.receive(this.scratch, max - n);
      if (pair.broken) this.drop(l);
      if (k === 0) {
        if (this.leaving[l] === 1) this.retire(l);
        continue;
      }
      const from = this.pairEpoch[l] === this.peers.epoch[l] && this.leaving[l] === 0 ? this.peers.slotOf(l) : UNSET_SIDE;
      for (let j = 0; j < k; j++) {
        const id = this.scratch[j];
        // Learn which peer the flow came from (its replies take the same pair).
        if (from !== UNSET_SIDE && link.classify(view, pool.dataOffset(id), meta.length[id])) steering.steer(this.li, inDir, from, tick);
        outIds[n++] = id;
      }
    }
    this.next = (this.next + 1) % lanes;
    this.owner.stats[DirectLinkCounter.RECEIVED] += n;
    if (n > 0) this.owner.publishCounters();
    return n;
  }

  transmit(ids: Uint32Array, n: number): number {
    const owner = this.owner;
    const steering = owner.steering;
    const link = steering.links[this.li];
    const pool = this.pool;
    const meta = pool.meta;
    const view = pool.view;
    const stats = owner.stats;
    const tick = owner.lastTick;
    const from = owner.self.slot;
    const counts = this.counts;
    const drops = this.drops;
    let dropped = 0;
    if (n > BATCH) n = BATCH;
    this.refresh();
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const target = link.classify(view, pool.dataOffset(id), meta.length[id]) ? steering.steer(this.li, this.outDir, from, tick) : steering.steerUnkeyed(this.li, this.outDir);
      const lane = target & 0xff;
      if (target === STATE_LOST) {
        stats[DirectLinkCounter.STATE_LOST]++;
        if (!this.reflect(id)) drops[dropped++] = id;
        continue;
      }
      if (target < 0 || lane >= this.lanes || this.pairs[lane] === null || this.leaving[lane] === 1) {
        stats[target === AWAITING_HEIR ? DirectLinkCounter.AWAITING_HEIR : DirectLinkCounter.NO_PEER]++;
        drops[dropped++] = id;
        continue;
      }
      this.batches[lane][counts[lane]++] = id;
    }
    let sent = 0;
    for (let l = 0; l < this.lanes; l++) {
      const c = counts[l];
      if (c === 0) continue;
      counts[l] = 0;
      const batch = this.batches[l];
      const pair = this.pairs[l]!;
      const k = pair.send(batch, c);
      if (pair.broken) this.drop(l);
      sent += k;
      for (let j = k; j < c; j++) drops[dropped++] = batch[j];
      if (k < c) stats[DirectLinkCounter.PEER_FULL] += c - k;
    }
    if (dropped > 0) pool.freeBatch(drops, dropped);
    stats[DirectLinkCounter.SENT] += sent;
    owner.publishCounters();
    return sent;
  }

  armRx(): boolean {
    let pending = this.reflectedCount > 0;
    for (let l = 0; l < this.lanes; l++) {
      const pair = this.pairs[l];
      if (pair !== null && pair.armRx()) pending = true;
    }
    return pending;
  }

  disarmRx(): void {
    for (let l = 0; l < this.lanes; l++) this.pairs[l]?.disarmRx();
  }

  armTx(): boolean {
    let pending = false;
    for (let l = 0; l < this.lanes; l++) {
      const pair = this.pairs[l];
      if (pair !== null && this.leaving[l] === 0 && pair.armTx()) pending = true;
    }
    return pending;
  }

  disarmTx(): void {
    for (let l = 0; l < this.lanes; l++) this.pairs[l]?.disarmTx();
  }

  hasRx(): boolean {
    if (this.reflectedCount > 0) return true;
    for (let l = 0; l < this.lanes; l++) if (this.pairs[l]?.hasRx() === true) return true;
    return false;
  }

  waitForRx(timeoutMs: number): boolean {
    const bell = this.owner.irq;
    const seen = bell.sequence();
    if (!this.armRx()) bell.wait(seen, timeoutMs);
    this.disarmRx();
    return this.hasRx();
  }

  /**
   * A TCP segment of a flow whose peer is gone with its state becomes a reset from that
   * peer (sequence number = the segment's ACK, so its sender accepts it), received on this
   * link next: it goes back through this instance, which still knows the flow, toward the
   * sender — what the host does for the same case. Returns false (the caller frees it) for
   * anything that may not be answered (not IPv4 TCP, a reset, a broadcast) or no room.
   * Rare path.
   */
  private reflect(id: number): boolean {
    const pool = this.pool;
    const view = pool.view;
    const off = pool.dataOffset(id);
    const layout = this.resetLayout;
    if (this.reflectedCount === BATCH) return false;
    if (parseFrame(view, off, pool.meta.length[id], layout) !== 0 || layout.ethertype !== 0x0800 || layout.ipProto !== 6) return false;
    if (!tcpResetPermitted(view, off, layout.l3Offset, layout.l4Offset)) return false;
    pool.meta.length[id] = writeTcpReset(view, off, layout.l3Offset, layout.l4Offset);
    this.reflected[this.reflectedCount++] = id;
    return true;
  }

  /** A peer broke its queue pair: reported, and the pair is not used any more. */
  private drop(lane: number): void {
    this.owner.reportViolation(this.side, lane);
    this.pairs[lane] = null;
    this.leaving[lane] = 0;
  }

  /** A departed peer's pair is empty: forget it (and attach its lane's new instance, if any). */
  private retire(lane: number): void {
    this.pairs[lane] = null;
    this.leaving[lane] = 0;
    this.pairEpoch[lane] = 0;
    if (this.peers.isLive(lane)) this.attach(lane);
    this.acknowledge();
  }
}
