import { FLOW_NOT_FOUND } from '../flow/flow-table.ts';
import { flowHash } from '../packet/flow-key.ts';
import type { DataPlaneCounters, DataPlaneDrops } from './chain-data-plane.ts';
import { LinkFlowTable, PinFlag, UNSET_SIDE, type PinTimeoutTicks } from './link-flow-table.ts';
import { AWAITING_HEIR, STATE_LOST, type Stage, type StageInstance } from './stage.ts';

/**
 * The steering of a chain: which instance each frame crossing a link goes to. It keeps one
 * `LinkFlowTable` per link (`links[k]` before stage k, `links[stages.length]` before the
 * outside port) and the pin counts of the instances (`pins`, `flows`) that drains wait on.
 *
 * A flow's first frame on a link is pinned to the instance Maglev picks among the next
 * stage's active instances; later frames, either way, follow the pin. The side a frame
 * comes from is learned from the instance that sent it (a function that rewrites
 * addresses makes a new tuple on the next link). A pin whose instance is gone follows the
 * successor that took the instance's state over, waits for it, or is picked again.
 * Forwarding (`ChainDataPlane`) classifies each frame on its link, then asks `steer`.
 *
 * @example
 * ```ts
 * if (link.classify(view, off, len)) target = steering.steer(k, 0, from, stages[k], tick);
 * ```
 */
export class LinkSteering {
  readonly links: LinkFlowTable[];

  constructor(
    private readonly stages: readonly Stage[],
    flowCapacity: number,
    private readonly seed: number,
    private readonly timeouts: PinTimeoutTicks,
    private readonly counters: DataPlaneCounters,
    private readonly drops: DataPlaneDrops,
  ) {
    this.links = Array.from({ length: stages.length + 1 }, (_, k) => new LinkFlowTable(flowCapacity, 0x6b43a9b5 + k * 0x9e3779b1));
  }

  /**
   * The instance slot in `stage` (null: a chain end, `UNSET_SIDE` returned) for the frame
   * just classified on link `k`, crossing in direction `dir` (0 rightward, 1 leftward) from
   * slot `from` of the stage behind it (`UNSET_SIDE`: a port), at tick `tick`. Negative:
   * no instance (`AWAITING_HEIR`, `STATE_LOST`, or none active).
   */
  steer(k: number, dir: 0 | 1, from: number, stage: Stage | null, tick: number): number {
    const link = this.links[k];
    let slot = link.find();
    if (slot === FLOW_NOT_FOUND) {
      const target = stage === null ? UNSET_SIDE : this.pickNew(stage, link);
      const there = target < 0 ? UNSET_SIDE : target;
      slot = dir === 0 ? link.insert(from, there, tick) : link.insert(there, from, tick);
      if (slot === FLOW_NOT_FOUND) this.drops.unpinned++;
      else if (dir === 0) this.pinned(k, from, target);
      else this.pinned(k, target, from);
      return target;
    }
    link.touch(slot, tick, dir === 0 ? PinFlag.FIN_RIGHT : PinFlag.FIN_LEFT);
    const near = link.sideOf(slot, dir);
    const target = link.sideOf(slot, dir === 0 ? 1 : 0);
    if (near !== from) this.learn(k, dir, link, slot, near, from);
    if (stage !== null && (target === UNSET_SIDE || stage.bySlot[target].state === 'gone')) return this.repin(stage, link, slot, target, dir);
    return target;
  }

  /** The instance slot in `stage` for a frame no link can key (ARP, …): the first active one. */
  steerUnkeyed(stage: Stage | null): number {
    this.counters.unkeyed++;
    return stage === null ? UNSET_SIDE : stage.pick(0);
  }

  /**
   * The instance of stage `stageIndex` a flow is pinned to, given by its 5-tuple as it
   * enters that stage from the inside (either direction); undefined when not pinned.
   */
  pinnedInstance(stageIndex: number, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): StageInstance | undefined {
    const link = this.links[stageIndex];
    link.setTuple(srcIp, dstIp, srcPort, dstPort, proto);
    const slot = link.find();
    if (slot === FLOW_NOT_FOUND) return undefined;
    const right = link.rightOf(slot);
    return right === UNSET_SIDE ? undefined : this.stages[stageIndex].bySlot[right];
  }

  /** Removes the pins idle past their timeout at tick `now` from every link (counted `expired`). */
  expire(now: number): void {
    const t = this.timeouts;
    const stages = this.stages;
    for (let k = 0; k < this.links.length; k++) {
      const link = this.links[k];
      const left = k > 0 ? stages[k - 1] : null;
      const right = k < stages.length ? stages[k] : null;
      this.counters.expired += link.table.removeWhere((slot) => {
        if (!link.isExpired(slot, now, t)) return false;
        const l = link.leftOf(slot);
        const r = link.rightOf(slot);
        if (left !== null && l !== UNSET_SIDE) left.bySlot[l].pins--;
        if (right !== null && r !== UNSET_SIDE) {
          right.bySlot[r].pins--;
          right.bySlot[r].flows--;
        }
        return true;
      });
    }
  }

  /** Maglev pick for a new flow in `stage` (classified on `link`). */
  private pickNew(stage: Stage, link: LinkFlowTable): number {
    this.counters.newFlows++;
    return stage.pick(flowHash(link.s, link.d, link.sp, link.dp, link.proto, this.seed));
  }

  /** Counts a new entry of link k that pins `left` (stage k−1) and `right` (stage k). */
  private pinned(k: number, left: number, right: number): void {
    if (left !== UNSET_SIDE && left >= 0 && k > 0) this.stages[k - 1].bySlot[left].pins++;
    if (right !== UNSET_SIDE && right >= 0 && k < this.stages.length) {
      const inst = this.stages[k].bySlot[right];
      inst.pins++;
      inst.flows++;
    }
  }

  /**
   * A frame of a pinned flow crossed link `k` in direction `dir` from `from` while the
   * entry names `near` on that side: learn `from` if `near` is unset or gone, else count a
   * conflict (the entry keeps `near`).
   */
  private learn(k: number, dir: 0 | 1, link: LinkFlowTable, slot: number, near: number, from: number): void {
    const stage = this.stages[k - 1 + dir];
    if (near !== UNSET_SIDE && stage.bySlot[near].state !== 'gone') {
      this.counters.learnConflicts++;
      return;
    }
    link.setSide(slot, dir, from);
    const inst = stage.bySlot[from];
    inst.pins++;
    // Flows are counted by the stage right of the link (the one the flow enters going out).
    if (dir === 1) inst.flows++;
  }

  /**
   * A pinned flow's instance in `stage` is gone (or was never set): the flow follows the
   * successor that took the instance's state over, waits for one (`AWAITING_HEIR`: the pin
   * stays, the frame is dropped) or gets a new instance by Maglev. Updates the pin; returns
   * the slot (negative: none). `dir`: the frame's direction (0 rightward: the entry is on
   * the link before the stage, whose side 1 is the stage's).
   */
  private repin(stage: Stage, link: LinkFlowTable, slot: number, target: number, dir: 0 | 1): number {
    const heir = target === UNSET_SIDE ? -1 : stage.heirOf(target);
    if (heir === AWAITING_HEIR || (heir === STATE_LOST && link.proto === 6)) return heir;
    let next = heir;
    if (heir >= 0) this.counters.inherited++;
    else {
      next = this.pickNew(stage, link);
      if (target !== UNSET_SIDE) this.counters.repinned++;
    }
    link.setSide(slot, dir === 0 ? 1 : 0, next < 0 ? UNSET_SIDE : next);
    if (next >= 0) {
      const inst = stage.bySlot[next];
      inst.pins++;
      if (dir === 0) inst.flows++;
    }
    return next;
  }
}
