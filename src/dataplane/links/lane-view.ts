import type { SteeringSide } from '../link-steering.ts';
import { AWAITING_HEIR, STATE_LOST } from '../steering-codes.ts';
import { LANE_TABLE_SIZE, LaneState, LaneWord, laneSlot, NO_LANE, type LinkAreaLayout } from './link-area-layout.ts';

/**
 * An instance's view of one stage of its chain, read from the link area the host publishes
 * (see `link-area-layout.ts`): each lane's state, pool owner, epoch and heir, and the
 * stage's Maglev table of lanes. It is the `SteeringSide` of the adjacent stage inside an
 * instance with direct links: slots are `laneSlot(lane, epoch)`.
 *
 * **Snapshot under a generation word.** The host writes a stage's block between two
 * increments of its generation (odd while writing). `refresh` copies the block into private
 * arrays only when the generation moved and was even and unchanged across the copy;
 * otherwise it keeps the last snapshot and tries again on the next call (once per pass of
 * the instance loop). Steering only ever reads the private copy.
 *
 * **Nothing read is trusted.** Every lane a table entry or a heir names is checked against
 * the geometry (`lanes`) and the snapshot's states before it is used; a value out of range
 * is "no lane". The worst an instance that scribbles over the area can do is steer its
 * neighbours' new flows wrongly or keep them from refreshing — never make one read or write
 * outside its private arrays.
 *
 * @example
 * ```ts
 * const next = new LaneView(i32, layout, stage + 1, pinsToRight);
 * next.refresh();                       // once per pass
 * const slot = next.pick(hash);         // a lane of an active instance, or -1
 * ```
 */
export class LaneView implements SteeringSide {
  /** The stage this view reads. */
  readonly stage: number;
  readonly lanes: number;
  /** Snapshot: per lane state, owner, epoch (1 … 255), heir. */
  readonly state: Int32Array;
  readonly owner: Int32Array;
  readonly epoch: Int32Array;
  readonly heir: Int32Array;
  /** Snapshot of the Maglev table of lanes. */
  readonly table: Uint8Array;
  /** The generation the snapshot was taken at (-1: none yet). */
  generation = -1;
  /** Refreshes that found the host writing or the block changing under the copy (tried again later). */
  torn = 0;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly genW: number;
  private readonly laneW: number;
  private readonly tableB: number;
  private readonly pins: Float64Array | null;

  /**
   * @param words Int32 view of the whole link area; @param bytes Uint8 view of it
   * @param pins where `pin` counts entries pinning each lane (float64 per lane), or null
   */
  constructor(words: Int32Array, bytes: Uint8Array, layout: LinkAreaLayout, stage: number, pins: Float64Array | null) {
    const lanes = layout.geometry.lanes;
    this.stage = stage;
    this.lanes = lanes;
    this.words = words;
    this.bytes = bytes;
    this.genW = layout.generation(stage) >> 2;
    this.laneW = layout.lane(stage, 0) >> 2;
    this.tableB = layout.table(stage);
    this.pins = pins;
    this.state = new Int32Array(lanes);
    this.owner = new Int32Array(lanes);
    this.epoch = new Int32Array(lanes);
    this.heir = new Int32Array(lanes);
    this.table = new Uint8Array(LANE_TABLE_SIZE).fill(NO_LANE);
  }

  /** Takes a new snapshot if the host published one; returns true when it did. */
  refresh(): boolean {
    const words = this.words;
    const g = Atomics.load(words, this.genW);
    if (g === this.generation) return false;
    if ((g & 1) !== 0) {
      this.torn++;
      return false;
    }
    const lanes = this.lanes;
    for (let l = 0; l < lanes; l++) {
      const w = this.laneW + l * 16;
      this.state[l] = Atomics.load(words, w + LaneWord.STATE);
      this.owner[l] = Atomics.load(words, w + LaneWord.OWNER);
      this.epoch[l] = Atomics.load(words, w + LaneWord.EPOCH) & 0xff;
      this.heir[l] = Atomics.load(words, w + LaneWord.HEIR);
    }
    this.table.set(this.bytes.subarray(this.tableB, this.tableB + LANE_TABLE_SIZE));
    if (Atomics.load(words, this.genW) !== g) {
      this.torn++;
      this.generation = -1;
      return false;
    }
    this.generation = g;
    return true;
  }

  /** True when `slot` names no live instance of the snapshot (a lane out of range, another epoch, a lane not active or draining). */
  isGone(slot: number): boolean {
    const lane = slot & 0xff;
    if (lane >= this.lanes) return true;
    const s = this.state[lane];
    return (s !== LaneState.ACTIVE && s !== LaneState.DRAINING) || this.epoch[lane] !== slot >>> 8;
  }

  /** Whether the lane holds a live instance (active or draining). */
  isLive(lane: number): boolean {
    const s = this.state[lane];
    return s === LaneState.ACTIVE || s === LaneState.DRAINING;
  }

  /** The live slot of `lane` (its current epoch). */
  slotOf(lane: number): number {
    return laneSlot(lane, this.epoch[lane]);
  }

  /**
   * Where flows pinned to the gone instance `slot` go: the heir the host published for it
   * (checked: a live slot of this stage), `AWAITING_HEIR`, `STATE_LOST`, or -1 (pick anew;
   * also when the lane has a new occupant since).
   */
  heirOf(slot: number): number {
    const lane = slot & 0xff;
    if (lane >= this.lanes || this.epoch[lane] !== slot >>> 8 || this.state[lane] !== LaneState.GONE) return -1;
    const h = this.heir[lane];
    if (h === AWAITING_HEIR || h === STATE_LOST) return h;
    return h >= 0 && h <= 0xffff && !this.isGone(h) ? h : -1;
  }

  /** The slot Maglev picks for a new flow with hash `hash` among the active lanes, or -1. */
  pick(hash: number): number {
    const lane = this.table[(hash >>> 0) % LANE_TABLE_SIZE];
    if (lane >= this.lanes || this.state[lane] !== LaneState.ACTIVE) return -1;
    return laneSlot(lane, this.epoch[lane]);
  }

  /** Counts an entry pinning `slot` (in this instance's stats, per lane). */
  pin(slot: number, delta: number): void {
    const lane = slot & 0xff;
    if (this.pins !== null && lane < this.lanes) this.pins[lane] += delta;
  }
}

/**
 * The instance itself as a side of its own links (`SteeringSide`): every frame it receives
 * is for it, its own slot is never gone, and the pins on it are counted in its stats.
 */
export class SelfLane implements SteeringSide {
  constructor(
    /** Its slot (`laneSlot(lane, epoch)`). */
    readonly slot: number,
    private readonly stats: Float64Array,
    private readonly pinsSlot: number,
    private readonly flowsSlot: number,
  ) {}

  isGone(slot: number): boolean {
    return slot !== this.slot;
  }

  heirOf(): number {
    return -1;
  }

  pick(): number {
    return this.slot;
  }

  pin(_slot: number, delta: number, flow: boolean): void {
    this.stats[this.pinsSlot] += delta;
    if (flow) this.stats[this.flowsSlot] += delta;
  }
}
