import { FLOW_NOT_FOUND } from '../flow/flow-table.ts';
import { flowHash } from '../packet/flow-key.ts';
import { LinkFlowTable, PinFlag, UNSET_SIDE, type PinTimeoutTicks } from './link-flow-table.ts';
import { AWAITING_HEIR, STATE_LOST } from './steering-codes.ts';

/**
 * What steering needs of the instances on one side of a link, by slot: a `Stage` on the
 * host; inside an instance with direct links, its view of the adjacent stage (the lanes
 * and Maglev table the host publishes) and itself.
 */
export interface SteeringSide {
  /** True when the instance at `slot` takes no frames any more (stopped, failed, unknown). */
  isGone(slot: number): boolean;
  /**
   * Where frames pinned to the gone instance at `slot` go: its heir's slot, `AWAITING_HEIR`,
   * `STATE_LOST`, or -1 (pick a new instance).
   */
  heirOf(slot: number): number;
  /** The slot for a new flow with symmetric hash `hash`, or -1 when no instance is active. */
  pick(hash: number): number;
  /** A link entry started (`delta` 1) or stopped (-1) pinning `slot`; `flow`: the link is the one into this side's stage (a flow is counted too). */
  pin(slot: number, delta: number, flow: boolean): void;
}

/** The two sides of one link: left (toward the inside), right; null is a chain end (a port). */
export type LinkSides = readonly [SteeringSide | null, SteeringSide | null];

/** The sides of the links of a chain of `stages`: link k between stage k−1 and stage k (null past either end). */
export function stageSides(stages: readonly SteeringSide[]): LinkSides[] {
  return Array.from({ length: stages.length + 1 }, (_, k) => [k > 0 ? stages[k - 1] : null, k < stages.length ? stages[k] : null] as const);
}

/** What steering counts (the host's `DataPlaneCounters`, an instance's direct links). */
export interface SteeringCounters {
  /** Flows seen for the first time on a link into a stage (pinned by Maglev). */
  newFlows: number;
  /** Frames whose pin named an instance that is gone: re-pinned. */
  repinned: number;
  /** Frames whose pin named a failed instance: moved to the successor that took its state over. */
  inherited: number;
  /** Frames an instance emitted for a flow pinned to another live instance on that side (kept as pinned). */
  learnConflicts: number;
  /** Frames that are neither IPv4 nor IPv6 (ARP, …): sent to the stage's first active instance. */
  unkeyed: number;
  /** Pins expired by the sweep. */
  expired: number;
}

/** The drops steering counts (`DataPlaneDrops` on the host). */
export interface SteeringDrops {
  unpinned: number;
}

/**
 * The steering of a chain's links: which instance each frame crossing a link goes to. It
 * keeps one `LinkFlowTable` per link and the pin counts of the instances (`SteeringSide.pin`)
 * that drains wait on. On the host (`ChainDataPlane`, the host-forwarded placement) it
 * steers every link of the chain (`stageSides(stages)`: `links[k]` before stage k,
 * `links[stages.length]` before the outside port); inside an instance with direct links
 * (`DirectSteering`) the same body steers its two links, each side an instance's view.
 *
 * A flow's first frame on a link is pinned to the instance Maglev picks among the next
 * stage's active instances; later frames, either way, follow the pin. The side a frame
 * comes from is learned from the instance that sent it (a function that rewrites
 * addresses makes a new tuple on the next link). A pin whose instance is gone follows the
 * successor that took the instance's state over, waits for it, or is picked again.
 * Forwarding classifies each frame on its link, then asks `steer`.
 *
 * @example
 * ```ts
 * const steering = new LinkSteering(stageSides(stages), 65536, 0, timeouts, counters, drops);
 * if (steering.links[k].classify(view, off, len)) target = steering.steer(k, 0, from, tick);
 * ```
 */
export class LinkSteering {
  readonly links: LinkFlowTable[];

  /**
   * @param sides the sides of each link (`stageSides(stages)` on the host)
   * @param firstLink the chain's index of `sides[0]`'s link (seeds its table as the host would)
   */
  constructor(
    private readonly sides: readonly LinkSides[],
    flowCapacity: number,
    private readonly seed: number,
    private readonly timeouts: PinTimeoutTicks,
    private readonly counters: SteeringCounters,
    private readonly drops: SteeringDrops,
    firstLink = 0,
  ) {
    this.links = sides.map((_, k) => new LinkFlowTable(flowCapacity, 0x6b43a9b5 + (firstLink + k) * 0x9e3779b1));
  }

  /**
   * The instance slot on the far side of link `k` (a chain end: `UNSET_SIDE`) for the frame
   * just classified on it, crossing in direction `dir` (0 rightward, 1 leftward) from slot
   * `from` on its near side (`UNSET_SIDE`: a port), at tick `tick`. Negative: no instance
   * (`AWAITING_HEIR`, `STATE_LOST`, or none active).
   */
  steer(k: number, dir: 0 | 1, from: number, tick: number): number {
    const link = this.links[k];
    const stage = this.sides[k][dir === 0 ? 1 : 0];
    let slot = link.find();
    if (slot === FLOW_NOT_FOUND) {
      const target = stage === null ? UNSET_SIDE : this.pickNew(stage, link);
      const there = target < 0 ? UNSET_SIDE : target;
      slot = dir === 0 ? link.insert(from, there, tick) : link.insert(there, from, tick);
      if (slot === FLOW_NOT_FOUND) this.drops.unpinned++;
      else if (dir === 0) this.pinned(k, from, target, 1);
      else this.pinned(k, target, from, 1);
      return target;
    }
    link.touch(slot, tick, dir === 0 ? PinFlag.FIN_RIGHT : PinFlag.FIN_LEFT);
    const near = link.sideOf(slot, dir);
    const target = link.sideOf(slot, dir === 0 ? 1 : 0);
    if (near !== from) this.learn(k, dir, link, slot, near, from);
    if (stage !== null && (target === UNSET_SIDE || stage.isGone(target))) return this.repin(stage, link, slot, target, dir);
    return target;
  }

  /** The instance slot on the far side of link `k` for a frame crossing in direction `dir` that no link can key (ARP, …): the first active one. */
  steerUnkeyed(k: number, dir: 0 | 1): number {
    this.counters.unkeyed++;
    const stage = this.sides[k][dir === 0 ? 1 : 0];
    return stage === null ? UNSET_SIDE : stage.pick(0);
  }

  /**
   * The slot on the right of link `k` a flow is pinned to, given by its 5-tuple as it
   * crosses that link (either direction); `UNSET_SIDE` when not pinned.
   */
  pinnedSlot(k: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): number {
    const link = this.links[k];
    link.setTuple(srcIp, dstIp, srcPort, dstPort, proto);
    const slot = link.find();
    return slot === FLOW_NOT_FOUND ? UNSET_SIDE : link.rightOf(slot);
  }

  /** Removes the pins idle past their timeout at tick `now` from every link (counted `expired`). */
  expire(now: number): void {
    const t = this.timeouts;
    for (let k = 0; k < this.links.length; k++) {
      const link = this.links[k];
      this.counters.expired += link.table.removeWhere((slot) => {
        if (!link.isExpired(slot, now, t)) return false;
        this.pinned(k, link.leftOf(slot), link.rightOf(slot), -1);
        return true;
      });
    }
  }

  /** Maglev pick for a new flow in `stage` (classified on `link`). */
  private pickNew(stage: SteeringSide, link: LinkFlowTable): number {
    this.counters.newFlows++;
    return stage.pick(flowHash(link.s, link.d, link.sp, link.dp, link.proto, this.seed));
  }

  /** Counts an entry of link k that pins `left` and `right` coming (`delta` 1) or going (-1). */
  private pinned(k: number, left: number, right: number, delta: number): void {
    const [l, r] = this.sides[k];
    if (l !== null && left !== UNSET_SIDE && left >= 0) l.pin(left, delta, false);
    if (r !== null && right !== UNSET_SIDE && right >= 0) r.pin(right, delta, true);
  }

  /**
   * A frame of a pinned flow crossed link `k` in direction `dir` from `from` while the
   * entry names `near` on that side: learn `from` if `near` is unset or gone, else count a
   * conflict (the entry keeps `near`).
   */
  private learn(k: number, dir: 0 | 1, link: LinkFlowTable, slot: number, near: number, from: number): void {
    const stage = this.sides[k][dir];
    if (stage === null) return;
    if (near !== UNSET_SIDE && !stage.isGone(near)) {
      this.counters.learnConflicts++;
      return;
    }
    link.setSide(slot, dir, from);
    // Flows are counted by the stage right of the link (the one the flow enters going out).
    stage.pin(from, 1, dir === 1);
  }

  /**
   * A pinned flow's instance in `stage` is gone (or was never set): the flow follows the
   * successor that took the instance's state over, waits for one (`AWAITING_HEIR`: the pin
   * stays, the frame is dropped) or gets a new instance by Maglev. Updates the pin; returns
   * the slot (negative: none). `dir`: the frame's direction (0 rightward: the entry is on
   * the link before the stage, whose side 1 is the stage's).
   */
  private repin(stage: SteeringSide, link: LinkFlowTable, slot: number, target: number, dir: 0 | 1): number {
    const heir = target === UNSET_SIDE ? -1 : stage.heirOf(target);
    if (heir === AWAITING_HEIR || (heir === STATE_LOST && link.proto === 6)) return heir;
    let next = heir;
    if (heir >= 0) this.counters.inherited++;
    else {
      next = this.pickNew(stage, link);
      if (target !== UNSET_SIDE) this.counters.repinned++;
    }
    link.setSide(slot, dir === 0 ? 1 : 0, next < 0 ? UNSET_SIDE : next);
    if (next >= 0) stage.pin(next, 1, dir === 0);
    return next;
  }
}
