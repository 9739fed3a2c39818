import { FailedPreconditionError, InvalidArgumentError } from '../../errors/catalog.ts';
import { MaglevTable } from '../../flow/maglev.ts';
import { createQueuePair, queuePairBytes } from '../../virtio/queue-pair.ts';
import { computeSplitRingLayout } from '../../virtio/split-ring-layout.ts';
import { DIRECT_LINK_COUNTER_LIST, DirectLinkCounter } from './direct-link-counters.ts';
import {
  LANE_TABLE_SIZE,
  LaneState,
  LaneWord,
  laneSlot,
  LINK_AREA_MAGIC,
  LINK_AREA_VERSION,
  LinkAreaLayout,
  MAX_LANES,
  NO_LANE,
  PinQueryWord,
  type LinkAreaGeometry,
} from './link-area-layout.ts';

/** A lane's state as the host sets it. */
export type LaneRole = 'active' | 'draining' | 'gone';

/**
 * The host's side of a chain's link area (layout in `link-area-layout.ts`): it hands lanes
 * to instances, lays out the queue pairs between the lanes of adjacent stages, publishes
 * each stage's lanes (state, pool owner, epoch, heir) and Maglev table of active lanes under
 * the stage's generation word, and reads what each instance counts in its lane's stats
 * (steering, drops, traffic, pins). Only lifecycle runs here: no frame.
 *
 * A lane is handed out only after every live instance of the adjacent stages has applied
 * the generation that took its previous instance out (`LinkArea.seen`): nobody sends into a
 * queue pair while it is laid out again.
 *
 * @example
 * ```ts
 * const area = LinkArea.create({ stages: 3, lanes: 16, queueSize: 256 }, (n) => memory.allocate(n));
 * const lane = area.takeLane(1);                 // for the instance being booted in stage 1
 * const slot = area.join(1, lane, owner);       // its queue pairs laid out, published active
 * area.setRole(1, lane, 'draining');            // no new flows
 * area.leave(1, lane, -1);                      // gone
 * ```
 */
export class LinkArea {
  readonly sab: SharedArrayBuffer;
  readonly layout: LinkAreaLayout;
  readonly geometry: LinkAreaGeometry;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  /** Per stage, per lane: the generation at which its last instance left (a lane is free again once every neighbour applied it), -1 while held. */
  private readonly freedAt: number[][];
  /** Per stage, per lane: the epoch of its current or last instance. */
  private readonly epochs: number[][];
  /** Per stage, per lane: false from `leave` until the host `release`s it (it may still await an heir). */
  private readonly released: boolean[][];

  private constructor(sab: SharedArrayBuffer, geometry: LinkAreaGeometry) {
    this.sab = sab;
    this.geometry = geometry;
    this.layout = new LinkAreaLayout(geometry);
    this.words = new Int32Array(sab);
    this.bytes = new Uint8Array(sab);
    this.freedAt = Array.from({ length: geometry.stages }, () => new Array<number>(geometry.lanes).fill(0));
    this.epochs = Array.from({ length: geometry.stages }, () => new Array<number>(geometry.lanes).fill(0));
    this.released = Array.from({ length: geometry.stages }, () => new Array<boolean>(geometry.lanes).fill(true));
  }

  /**
   * Asks the instances of stage `s` which of them holds the flow `tuple` (as it enters `s`
   * from the inside, either direction) on the link on their left: writes the query (the
   * tuple, then a new sequence) and returns that sequence; each instance answers in its
   * stats (`pinAnswer`) on its next pass. One query at a time.
   */
  askPin(s: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    const w = this.words;
    const seq = (Atomics.load(w, PinQueryWord.SEQUENCE) + 1) & 0x3fffffff;
    w[PinQueryWord.STAGE] = s;
    w[PinQueryWord.SRC_IP] = srcIp | 0;
    w[PinQueryWord.DST_IP] = dstIp | 0;
    w[PinQueryWord.SRC_PORT] = srcPort;
    w[PinQueryWord.DST_PORT] = dstPort;
    w[PinQueryWord.PROTO] = proto;
    Atomics.store(w, PinQueryWord.SEQUENCE, seq);
    return seq;
  }

  /** The answer of lane `lane` of stage `s` to pin query `seq`: true (holds it), false (does not), undefined (not answered yet). */
  pinAnswer(s: number, lane: number, seq: number): boolean | undefined {
    const a = this.stats(s, lane)[DirectLinkCounter.PIN_ANSWER];
    return Math.floor(a / 2) !== seq ? undefined : a % 2 === 1;
  }

  /** Bytes a link area of `geometry` takes. */
  static bytesNeeded(geometry: LinkAreaGeometry): number {
    return new LinkAreaLayout(geometry).totalBytes;
  }

  /** Lays out an empty link area in zeroed memory from `allocate`. */
  static create(geometry: LinkAreaGeometry, allocate: (bytes: number) => SharedArrayBuffer = (n) => new SharedArrayBuffer(n)): LinkArea {
    const { stages, lanes } = geometry;
    if (!Number.isInteger(stages) || stages < 1) throw new InvalidArgumentError(`a link area needs at least one stage, got ${stages}`);
    if (!Number.isInteger(lanes) || lanes < 1 || lanes > MAX_LANES) throw new InvalidArgumentError(`lanes per stage must be 1..${MAX_LANES}, got ${lanes}`);
    const sab = allocate(LinkArea.bytesNeeded(geometry));
    const area = new LinkArea(sab, geometry);
    const h = new Int32Array(sab, 0, 16);
    h[1] = LINK_AREA_VERSION;
    h[2] = stages;
    h[3] = lanes;
    h[4] = geometry.queueSize;
    h[5] = LANE_TABLE_SIZE;
    Atomics.store(h, 0, LINK_AREA_MAGIC);
    for (let s = 0; s < stages; s++) area.publish(s, () => {});
    return area;
  }

  /**
   * A free lane of stage `s` for an instance about to boot (its interrupt line and stats
   * are the lane's); `FailedPreconditionError` when every lane is held or still in use by a
   * neighbour that has not applied its last instance's departure.
   */
  takeLane(s: number): number {
    const freed = this.freedAt[s];
    for (let l = 0; l < freed.length; l++) {
      if (freed[l] >= 0 && this.released[s][l] && this.neighboursSaw(s, freed[l])) {
        freed[l] = -1;
        const statsAt = this.layout.stats(s, l) / 8;
        new Float64Array(this.sab, statsAt * 8, this.layout.statsSlots).fill(0);
        return l;
      }
    }
    throw new FailedPreconditionError(`stage ${s} has no free link lane (${this.geometry.lanes} lanes; instances draining or just gone hold theirs)`);
  }

  /** Gives back a lane `takeLane` returned whose instance never joined (its boot failed). */
  returnLane(s: number, lane: number): void {
    this.freedAt[s][lane] = 0;
  }

  /** `prepare` then `activate`: for an instance that is ready at once. */
  join(s: number, lane: number, owner: number): number {
    this.prepare(s, lane);
    return this.activate(s, lane, owner);
  }

  /**
   * Lays out the queue pairs between `lane` of stage `s` and every lane of the adjacent
   * stages and gives the lane a new epoch, before its instance boots (it attaches to its
   * live neighbours' pairs at start); nobody sends to it before `activate`. Returns its slot.
   */
  prepare(s: number, lane: number): number {
    const { stages, lanes, queueSize } = this.geometry;
    for (let other = 0; other < lanes; other++) {
      if (s > 0) createQueuePair(this.sab, this.layout.pair(s, other, lane), queueSize);
      if (s < stages - 1) createQueuePair(this.sab, this.layout.pair(s + 1, lane, other), queueSize);
    }
    const epoch = (this.epochs[s][lane] % 255) + 1;
    this.epochs[s][lane] = epoch;
    return laneSlot(lane, epoch);
  }

  /** Publishes the prepared lane active for its ready instance, pool owner `owner` (sent buffers go to it). Returns its slot. */
  activate(s: number, lane: number, owner: number): number {
    const epoch = this.epochs[s][lane];
    this.publish(s, () => {
      const w = this.layout.lane(s, lane) >> 2;
      Atomics.store(this.words, w + LaneWord.OWNER, owner);
      Atomics.store(this.words, w + LaneWord.EPOCH, epoch);
      Atomics.store(this.words, w + LaneWord.HEIR, -1);
      Atomics.store(this.words, w + LaneWord.STATE, LaneState.ACTIVE);
    });
    return laneSlot(lane, epoch);
  }

  /** Sets a live lane's role: `draining` takes no new flows (it leaves the Maglev table). */
  setRole(s: number, lane: number, role: Exclude<LaneRole, 'gone'>): void {
    this.publish(s, () => Atomics.store(this.words, (this.layout.lane(s, lane) >> 2) + LaneWord.STATE, role === 'active' ? LaneState.ACTIVE : LaneState.DRAINING));
  }

  /**
   * Publishes the lane's instance gone; its flows go to `heir` (a slot of the same stage,
   * `AWAITING_HEIR`, `STATE_LOST`, or -1: picked anew), which may be changed later with
   * `setHeir`. The lane is free again once every neighbour applied this generation.
   */
  leave(s: number, lane: number, heir: number): void {
    const g = this.publish(s, () => {
      const w = this.layout.lane(s, lane) >> 2;
      Atomics.store(this.words, w + LaneWord.HEIR, heir);
      Atomics.store(this.words, w + LaneWord.STATE, LaneState.GONE);
    });
    this.freedAt[s][lane] = g;
    this.released[s][lane] = false;
  }

  /** Lets `takeLane` hand the lane of a departed instance out again (once `settled`; its flows expect no heir any more). */
  release(s: number, lane: number): void {
    this.released[s][lane] = true;
  }

  /**
   * True once the lane's last instance left and every live neighbour applied that
   * generation: nobody sends it anything any more (buffers sent to it before can be reclaimed).
   */
  settled(s: number, lane: number): boolean {
    const g = this.freedAt[s][lane];
    return g >= 0 && this.neighboursSaw(s, g);
  }

  /**
   * Frames the neighbours made available toward lane `lane` of stage `s` that its instance
   * never took (available index minus used index of each inbound ring; a ring whose indices
   * are more than a queue apart, scribbled, counts nothing). Read after its instance left and
   * the lane `settled`: what it lost in its queues, like the host's FIFO contents.
   */
  pendingToward(s: number, lane: number): number {
    const { stages, lanes, queueSize } = this.geometry;
    const ring = computeSplitRingLayout(queueSize);
    const half = queuePairBytes(queueSize) / 2;
    const view = new DataView(this.sab);
    let n = 0;
    for (let other = 0; other < lanes; other++) {
      // From the left neighbour: ring 0 of pair (other, lane) on link s; from the right: ring 1 of pair (lane, other) on link s+1.
      const bases = [s > 0 ? this.layout.pair(s, other, lane) : -1, s < stages - 1 ? this.layout.pair(s + 1, lane, other) + half : -1];
      for (const base of bases) {
        if (base < 0) continue;
        const pending = (view.getUint16(base + ring.availIdxOffset, true) - view.getUint16(base + ring.usedIdxOffset, true)) & 0xffff;
        if (pending <= queueSize) n += pending;
      }
    }
    return n;
  }

  /** Forgets the violation lane `lane` of stage `s` reported (the host acted on it). */
  clearViolation(s: number, lane: number): void {
    this.stats(s, lane)[DirectLinkCounter.VIOLATION] = 0;
  }

  /** Changes where a gone lane's flows go (its state's successor booted, or its state expired). */
  setHeir(s: number, lane: number, heir: number): void {
    this.publish(s, () => Atomics.store(this.words, (this.layout.lane(s, lane) >> 2) + LaneWord.HEIR, heir));
  }

  /** The stats block of lane `lane` of stage `s` (`DIRECT_LINK_COUNTER_LIST`, then pins per lane left and right). */
  stats(s: number, lane: number): Float64Array {
    return new Float64Array(this.sab, this.layout.stats(s, lane), this.layout.statsSlots);
  }

  /** Byte offset of the interrupt line of lane `lane` of stage `s` (an Int32 the lane's instance sleeps on). */
  irqOffset(s: number, lane: number): number {
    return this.layout.irq(s, lane);
  }

  /**
   * Link-table entries that pin lane `lane` of stage `s`: its own (`self_pins`) and those of
   * the live instances of the adjacent stages toward it. What a drain waits on.
   */
  pinsOf(s: number, lane: number): number {
    const lanes = this.geometry.lanes;
    const base = DIRECT_LINK_COUNTER_LIST.count;
    let n = this.stats(s, lane)[DirectLinkCounter.SELF_PINS];
    for (const [t, at] of [
      [s - 1, base + lanes + lane],
      [s + 1, base + lane],
    ] as const) {
      if (t < 0 || t >= this.geometry.stages) continue;
      for (let l = 0; l < lanes; l++) if (this.isLive(t, l)) n += this.stats(t, l)[at];
    }
    return Math.max(0, n);
  }

  /** Whether lane `lane` of stage `s` holds a live instance (active or draining). */
  isLive(s: number, lane: number): boolean {
    const st = Atomics.load(this.words, (this.layout.lane(s, lane) >> 2) + LaneWord.STATE);
    return st === LaneState.ACTIVE || st === LaneState.DRAINING;
  }

  /** The first peer lane's instance at `s`/`lane` reported as breaking a queue pair: `{ side, lane }` (side 0 left, 1 right), or undefined. */
  violationOf(s: number, lane: number): { side: 0 | 1; lane: number } | undefined {
    const v = this.stats(s, lane)[DirectLinkCounter.VIOLATION];
    if (!(v >= 1 && v <= 512)) return undefined;
    const code = v - 1;
    return { side: (code >> 8) === 0 ? 0 : 1, lane: code & 0xff };
  }

  /** Writes stage `s`'s block with its generation odd, then even and one more: returns the new generation. */
  private publish(s: number, write: () => void): number {
    const gw = this.layout.generation(s) >> 2;
    // An instance may have scribbled the word: whatever it holds, write odd, then the next even.
    const odd = Atomics.load(this.words, gw) | 1;
    Atomics.store(this.words, gw, odd);
    write();
    this.writeTable(s);
    const next = (odd + 1) & 0x3fffffff;
    Atomics.store(this.words, gw, next);
    return next;
  }

  /** The Maglev table of stage `s`'s active lanes (as `Stage` builds its own, by name). */
  private writeTable(s: number): void {
    const active: number[] = [];
    for (let l = 0; l < this.geometry.lanes; l++) {
      if (Atomics.load(this.words, (this.layout.lane(s, l) >> 2) + LaneWord.STATE) === LaneState.ACTIVE) active.push(l);
    }
    const at = this.layout.table(s);
    if (active.length === 0) {
      this.bytes.fill(NO_LANE, at, at + LANE_TABLE_SIZE);
      return;
    }
    const table = MaglevTable.build(active.map((l) => ({ name: `lane-${l}`, weight: 1 })), { tableSize: LANE_TABLE_SIZE });
    for (let i = 0; i < LANE_TABLE_SIZE; i++) this.bytes[at + i] = active[table.entries[i]];
  }

  /** True when every live instance of the stages next to `s` applied generation `g` of stage `s` or a later one. */
  private neighboursSaw(s: number, g: number): boolean {
    if (g === 0) return true;
    for (const t of [s - 1, s + 1]) {
      if (t < 0 || t >= this.geometry.stages) continue;
      for (let l = 0; l < this.geometry.lanes; l++) {
        if (!this.isLive(t, l)) continue;
        // Stage t's instances applied generations of s as their right (t < s) or left neighbour.
        const seen = this.stats(t, l)[t < s ? DirectLinkCounter.RIGHT_GENERATION : DirectLinkCounter.LEFT_GENERATION];
        if (!(seen >= g)) return false;
      }
    }
    return true;
  }
}
