import { queuePairBytes } from '../../virtio/queue-pair.ts';
import { DIRECT_LINK_COUNTER_LIST } from './direct-link-counters.ts';

/**
 * The byte layout of a chain's link area: the one shared buffer through which the
 * instances of adjacent stages are linked directly (`LinkArea` on the host, `LinkAreaView`
 * in an instance). Instances of a stage occupy **lanes** (0 … `lanes`−1) while they live;
 * a lane's occupant is named by a 16-bit slot `epoch << 8 | lane` (`laneSlot`), so a pin to
 * a lane's former occupant never reaches its next one.
 *
 * ```
 * 0                         header (64 B): magic, version, stages, lanes, queue size, table size;
 *                           words 8–14: the host's pin query (`PinQueryWord`)
 * per stage s:
 *   stage block             generation (Int32, own line; odd while the host writes)
 *                           lanes × 64 B lane records: state, pool owner, epoch, heir
 *                           Maglev table: tableSize bytes, a lane each (0xff: none)
 *   lanes × 64 B            interrupt lines (Int32 each, own line): the lane's instance sleeps on it
 *   lanes × stats           DIRECT_LINK_COUNTER_LIST, then pins toward each lane on the left, then on the right (float64)
 * per link k = 1 … stages−1 (between stage k−1 and stage k):
 *   lanes × lanes           queue pairs, (left lane i, right lane j) at pairOffset(k, i, j)
 * ```
 *
 * Every value here is computed from the geometry the host gives each instance privately
 * (`DirectLinksData`), never read back from the shared header: an instance can write the
 * whole area, so nobody takes a size or an offset from it.
 */

/** "LINK" read as a little-endian u32. */
export const LINK_AREA_MAGIC = 0x4b4e494c;
export const LINK_AREA_VERSION = 1;
/** Most lanes a stage can have (instances alive at once, draining ones included). */
export const MAX_LANES = 64;
/** Size of the Maglev tables of lanes (a prime, as `Stage` uses). */
export const LANE_TABLE_SIZE = 4099;
/** A table entry naming no lane. */
export const NO_LANE = 0xff;

/** Words of a lane record (Int32). */
export const LaneWord = {
  /** `LaneState`. */
  STATE: 0,
  /** Pool owner id of the lane's instance (sent buffers are transferred to it). */
  OWNER: 1,
  /** Bumped each time the lane gets a new instance (1 … 255). */
  EPOCH: 2,
  /** A gone instance's heir: a slot, or −1 (none), `AWAITING_HEIR`, `STATE_LOST`. */
  HEIR: 3,
} as const;

/** What a lane holds. */
export const LaneState = {
  EMPTY: 0,
  /** Takes new flows and keeps its pinned ones. */
  ACTIVE: 1,
  /** Takes no new flows, keeps its pinned ones. */
  DRAINING: 2,
  /** Stopped or failed: sent nothing more (its heir, if any, gets its flows). */
  GONE: 3,
} as const;

/** The slot naming the instance in `lane` at `epoch`. */
export function laneSlot(lane: number, epoch: number): number {
  return ((epoch & 0xff) << 8) | lane;
}

/**
 * Words of the host's pin query in the link area's header (Int32): which instance of a
 * stage holds a flow on the link on its left (`LinkArea.askPin`). The host writes the tuple,
 * then the sequence; each instance of that stage answers in its stats (`pin_answer`).
 */
export const PinQueryWord = {
  /** Bumped for each query (written last). */
  SEQUENCE: 8,
  STAGE: 9,
  SRC_IP: 10,
  DST_IP: 11,
  SRC_PORT: 12,
  DST_PORT: 13,
  PROTO: 14,
} as const;

/** The geometry of a link area (given by the host to every instance privately). */
export interface LinkAreaGeometry {
  /** Stages of the chain. */
  readonly stages: number;
  /** Lanes per stage (≤ `MAX_LANES`). */
  readonly lanes: number;
  /** Entries per ring of a queue pair (a power of two). */
  readonly queueSize: number;
}

const HEADER_BYTES = 64;
const LINE = 64;

/** Byte offsets of everything in a link area of `g`. */
export class LinkAreaLayout {
  readonly geometry: LinkAreaGeometry;
  /** Float64 slots of one lane's stats: the counters, then `lanes` pins toward the left, `lanes` toward the right. */
  readonly statsSlots: number;
  readonly pairBytes: number;
  readonly totalBytes: number;
  private readonly stageBytes: number;
  private readonly tableBytes: number;
  private readonly statsBytes: number;
  private readonly pairsStart: number;

  constructor(g: LinkAreaGeometry) {
    this.geometry = g;
    this.tableBytes = Math.ceil(LANE_TABLE_SIZE / LINE) * LINE;
    this.statsSlots = DIRECT_LINK_COUNTER_LIST.count + 2 * g.lanes;
    this.statsBytes = Math.ceil((this.statsSlots * 8) / LINE) * LINE;
    this.stageBytes = LINE + g.lanes * LINE + this.tableBytes + g.lanes * LINE + g.lanes * this.statsBytes;
    this.pairBytes = queuePairBytes(g.queueSize);
    this.pairsStart = HEADER_BYTES + g.stages * this.stageBytes;
    this.totalBytes = this.pairsStart + Math.max(0, g.stages - 1) * g.lanes * g.lanes * this.pairBytes;
  }

  /** Offset of stage `s`'s generation word. */
  generation(s: number): number {
    return HEADER_BYTES + s * this.stageBytes;
  }

  /** Offset of the record of lane `l` of stage `s`. */
  lane(s: number, l: number): number {
    return this.generation(s) + LINE + l * LINE;
  }

  /** Offset of stage `s`'s Maglev table of lanes. */
  table(s: number): number {
    return this.generation(s) + LINE + this.geometry.lanes * LINE;
  }

  /** Offset of the interrupt line of lane `l` of stage `s`. */
  irq(s: number, l: number): number {
    return this.table(s) + this.tableBytes + l * LINE;
  }

  /** Offset of the stats block of lane `l` of stage `s`. */
  stats(s: number, l: number): number {
    return this.table(s) + this.tableBytes + this.geometry.lanes * LINE + l * this.statsBytes;
  }

  /** Offset of the queue pair between lane `left` of stage k−1 and lane `right` of stage k (1 ≤ k < stages). */
  pair(k: number, left: number, right: number): number {
    return this.pairsStart + ((k - 1) * this.geometry.lanes * this.geometry.lanes + left * this.geometry.lanes + right) * this.pairBytes;
  }
}

export { HEADER_BYTES as LINK_AREA_HEADER_BYTES };
