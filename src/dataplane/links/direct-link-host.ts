import type { PacketPool } from '../../pool/packet-pool.ts';
import { Doorbell } from '../../virtio/doorbell.ts';
import { directLinkRuntimePath } from '../../runtime/runtime-bundle.ts';
import type { InstanceLinksData } from '../../runtime/instance-main.ts';
import type { PinTimeoutTicks } from '../link-flow-table.ts';
import { AWAITING_HEIR } from '../steering-codes.ts';
import type { Stage, StageInstance } from '../stage.ts';
import { DIRECT_LINK_COUNTER_LIST, DirectLinkCounter } from './direct-link-counters.ts';
import { LinkArea } from './link-area.ts';

/** What instances with direct links steer with (the data plane's own settings). */
export interface DirectSteeringSetup {
  readonly hashSeed: number;
  readonly flowCapacity: number;
  readonly pinTimeouts: PinTimeoutTicks;
  readonly tickMs: number;
}

/** A lane taken for an instance about to boot, and what its boot needs (`InstanceHostOptions.irq`, `.links`). */
export interface LaneReservation {
  readonly stage: number;
  readonly lane: number;
  readonly irq: { readonly sab: SharedArrayBuffer; readonly index: number };
  readonly links: InstanceLinksData;
}

/**
 * The host's part of a chain's direct links, lifecycle only (no frame): it reserves a lane
 * for each instance before it boots (its queue pairs laid out), publishes it active once
 * ready, publishes every later change of its role or heir, gives its lane back once the
 * lane settled (counting what was left in its inbound rings), reads what pins each instance
 * for drains and scale-in, fails a peer an instance reported for breaking their queue
 * pair, and reads each instance's drops and traffic from its lane's stats. `ChainDataPlane`
 * owns one when `links: 'direct'`.
 *
 * @example
 * ```ts
 * const links = new DirectLinkHost(area, pool, setup);
 * const lane = await links.reserve(stage.index, stages.length);   // before the boot
 * links.activate(stage, instance, lane, owner);                    // once ready
 * links.publish(stage);                                            // after any state change
 * ```
 */
export class DirectLinkHost {
  readonly area: LinkArea;
  /** Instances gone from a lane that has not settled yet. */
  private departed: Array<{ readonly stage: Stage; readonly inst: StageInstance }> = [];
  /** The stage index of each instance given a lane. */
  private readonly stages = new WeakMap<StageInstance, number>();

  constructor(
    area: LinkArea,
    private readonly pool: PacketPool,
    private readonly setup: DirectSteeringSetup,
  ) {
    this.area = area;
  }

  /** Takes a lane of stage `stage` (of `stages`) for an instance about to boot; throws `FailedPreconditionError` when none is free. */
  async reserve(stage: number, stages: number): Promise<LaneReservation> {
    const area = this.area;
    const lane = area.takeLane(stage);
    const slot = area.prepare(stage, lane);
    let bundle: string;
    try {
      bundle = await directLinkRuntimePath();
    } catch (err) {
      area.returnLane(stage, lane);
      throw err;
    }
    const s = this.setup;
    return {
      stage,
      lane,
      irq: { sab: area.sab, index: area.irqOffset(stage, lane) >> 2 },
      links: {
        bundle,
        data: {
          areaSab: area.sab,
          geometry: area.geometry,
          stage,
          lane,
          epoch: slot >>> 8,
          direct: [stage > 0, stage < stages - 1],
          hashSeed: s.hashSeed,
          flowCapacity: s.flowCapacity,
          pinTimeouts: s.pinTimeouts,
          tickMs: s.tickMs,
        },
      },
    };
  }

  /**
   * The instance of `stage` (not the first) that a flow is pinned to on the direct link on
   * its left, given by its 5-tuple as it enters the stage from the inside: the pins live in
   * the instances' own tables, so the host asks them (`LinkArea.askPin`), rings each live
   * one (an idle loop answers at once) and waits for their answers, `timeoutMs` at most.
   * Blocks the calling thread meanwhile: for tests, drills and diagnostics, not for a
   * per-frame path. An instance that did not answer in time counts as not holding it; its
   * answer is its own word (an instance can lie about its pins, as about its counters).
   */
  pinnedInstance(stage: Stage, srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number, timeoutMs = 250): StageInstance | undefined {
    const area = this.area;
    const asked = stage.live.filter((i) => i.lane >= 0 && i.linkStats !== undefined);
    if (asked.length === 0) return undefined;
    const seq = area.askPin(stage.index, srcIp, dstIp, srcPort, dstPort, proto);
    const words = new Int32Array(area.sab);
    for (const i of asked) new Doorbell(words, area.irqOffset(stage.index, i.lane) >> 2).ring();
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      let open = 0;
      for (const i of asked) {
        const answer = area.pinAnswer(stage.index, i.lane, seq);
        if (answer === true) return i;
        if (answer === undefined) open++;
      }
      if (open === 0 || performance.now() > deadline) return undefined;
      Atomics.wait(nap, 0, 0, 0.2);
    }
  }

  /** Gives back a reservation whose instance did not boot. */
  cancel(r: LaneReservation): void {
    this.area.returnLane(r.stage, r.lane);
  }

  /** Publishes the ready instance `inst` of `stage` active in its reserved lane (pool owner `owner`). */
  activate(inst: StageInstance, r: LaneReservation, owner: number): void {
    inst.lane = r.lane;
    inst.laneSlot = this.area.activate(r.stage, r.lane, owner);
    inst.laneRole = 'active';
    inst.linkStats = this.area.stats(r.stage, r.lane);
    this.stages.set(inst, r.stage);
  }

  /**
   * Publishes every change of an instance's role or heir in `stage` to its lane (draining:
   * no new flows; gone: its flows follow its heir, wait for it, or are picked anew).
   */
  publish(stage: Stage): void {
    const area = this.area;
    for (const inst of stage.bySlot) {
      if (inst.lane < 0 || inst.laneRole === '' || inst.laneRole === 'released') continue;
      const role = inst.state;
      const heir = role !== 'gone' ? -1 : inst.heir >= 0 ? stage.bySlot[inst.heir].laneSlot : inst.heir;
      if (role === inst.laneRole && heir === inst.laneHeir) continue;
      if (role !== 'gone') area.setRole(stage.index, inst.lane, role);
      else if (inst.laneRole === 'gone') area.setHeir(stage.index, inst.lane, heir);
      else {
        area.leave(stage.index, inst.lane, heir);
        this.departed.push({ stage, inst });
      }
      inst.laneRole = role;
      inst.laneHeir = heir;
    }
  }

  /**
   * Gives back the lanes of departed instances that are stopped or contained, await no
   * successor for their state, and whose every neighbour applied their departure (then no
   * peer sends them anything more). Returns, per stage, the frames left in their inbound
   * rings (lost with them); their buffers, still their owner's, are freed.
   */
  settle(lost: (stage: Stage, frames: number) => void): void {
    if (this.departed.length === 0) return;
    const area = this.area;
    this.departed = this.departed.filter(({ stage, inst }) => {
      const h = inst.host;
      const over = h.state === 'stopped' || (h.state === 'failed' && h.events[h.events.length - 1]?.type === 'failed');
      if (!over || inst.heir === AWAITING_HEIR || !area.settled(stage.index, inst.lane)) return true;
      lost(stage, area.pendingToward(stage.index, inst.lane));
      this.pool.reclaimOwner(h.owner);
      area.release(stage.index, inst.lane);
      inst.laneRole = 'released';
      return false;
    });
  }

  /** Frames the neighbours of `inst` made available to it that it has not taken yet. */
  pendingToward(inst: StageInstance): number {
    const stage = this.stageOf(inst);
    return stage < 0 ? 0 : this.area.pendingToward(stage, inst.lane);
  }

  /** The stage index of an instance given a lane, or -1. */
  private stageOf(inst: StageInstance): number {
    return this.stages.get(inst) ?? -1;
  }

  /** Adds what pins each live instance in the link area (its own tables and its neighbours') to its `pins` and `flows`. */
  syncPins(stages: readonly Stage[]): void {
    const area = this.area;
    for (const stage of stages) {
      for (const inst of stage.live) {
        if (inst.linkStats === undefined) continue;
        const pins = area.pinsOf(stage.index, inst.lane);
        const flows = Math.max(0, inst.linkStats[DirectLinkCounter.SELF_FLOWS]);
        inst.pins += pins - inst.directPins;
        inst.directPins = pins;
        inst.flows += flows - inst.directFlows;
        inst.directFlows = flows;
      }
    }
  }

  /** Calls `fail` for each peer an instance reported for breaking their queue pair (once per report). */
  violations(stages: readonly Stage[], fail: (peer: StageInstance, detail: string) => void): void {
    const area = this.area;
    for (const stage of stages) {
      for (const inst of stage.live) {
        if (inst.linkStats === undefined) continue;
        const v = area.violationOf(stage.index, inst.lane);
        if (v === undefined) continue;
        area.clearViolation(stage.index, inst.lane);
        const peer = stages[stage.index + (v.side === 0 ? -1 : 1)]?.live.find((p) => p.lane === v.lane);
        if (peer !== undefined) fail(peer, `broke its direct queue pair with ${inst.id}`);
      }
    }
  }
}

/**
 * Frames an instance's direct links dropped (`no_peer`, `awaiting_heir`, `peer_full`;
 * `state_lost` is left out, as the host leaves its own out: those frames are answered).
 */
export function directDrops(inst: StageInstance): number {
  const s = inst.linkStats;
  if (s === undefined) return 0;
  return s[DirectLinkCounter.NO_PEER] + s[DirectLinkCounter.AWAITING_HEIR] + s[DirectLinkCounter.PEER_FULL];
}

/** Frames an instance took from and handed to its direct links (0 without). */
export function directTraffic(inst: StageInstance): { received: number; sent: number } {
  const s = inst.linkStats;
  return s === undefined ? { received: 0, sent: 0 } : { received: s[DirectLinkCounter.RECEIVED], sent: s[DirectLinkCounter.SENT] };
}

/** Slots of the drop counters of `DIRECT_LINK_COUNTER_LIST`, in the order of its `dropNames`. */
const DROP_SLOTS: readonly number[] = DIRECT_LINK_COUNTER_LIST.entries.flatMap((c, slot) => (c.drop ? [slot] : []));

/**
 * An instance's direct-link drops, one count per reason of `DIRECT_LINK_COUNTER_LIST.dropNames`
 * in that order (`nfvkit_link_drops_total`); null for an instance without direct links.
 */
export function directLinkDropCounts(inst: StageInstance): number[] | null {
  const s = inst.linkStats;
  return s === undefined ? null : DROP_SLOTS.map((slot) => s[slot]);
}

/** Adds an instance's non-zero direct-link drop counters to `out` as `<instance>:link_<reason>`. */
export function directDropsByReason(inst: StageInstance, out: Record<string, number>): void {
  const s = inst.linkStats;
  if (s === undefined) return;
  DIRECT_LINK_COUNTER_LIST.entries.forEach((c, slot) => {
    if (c.drop && s[slot] > 0) out[`${inst.id}:link_${c.name}`] = s[slot];
  });
}
