import { describe, expect, it } from 'vitest';
import type { DataPlaneCounters, DataPlaneDrops } from '../../../src/dataplane/chain-data-plane.ts';
import { UNSET_SIDE } from '../../../src/dataplane/link-flow-table.ts';
import { LinkSteering, stageSides } from '../../../src/dataplane/link-steering.ts';
import { AWAITING_HEIR, STATE_LOST, Stage, StageInstance } from '../../../src/dataplane/stage.ts';
import type { ImageManifest } from '../../../src/image/image-manifest.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import type { InstanceHost } from '../../../src/runtime/instance-host.ts';

const A = 0xc6120102; // 198.18.1.2, a client
const V = 0xc6120a0a; // 198.18.10.10, a VIP
const B = 0xc613030b; // 198.18.3.11, a backend

/** Two stages (fw with `fw` instances, lb with one) and their steering; instances are bare (no host behind them). */
function chain(fw = 2, timeouts = { tcp: 100, tcpClosed: 4, udp: 20, other: 10 }) {
  const stages = [new Stage('fw', 0), new Stage('lb', 1)];
  const add = (stage: Stage) => {
    const host = { pool: {}, bootMs: 0 } as unknown as InstanceHost;
    const inst = new StageInstance(stage.nextSlot, stage.nextId(), host, { name: stage.name } as unknown as ImageManifest, '', 8);
    stage.add(inst);
    return inst;
  };
  for (let i = 0; i < fw; i++) add(stages[0]);
  add(stages[1]);
  const counters: DataPlaneCounters = { newFlows: 0, repinned: 0, inherited: 0, learnConflicts: 0, unkeyed: 0, expired: 0 };
  const drops: DataPlaneDrops = { noInstance: 0, instanceGone: 0, ownership: 0, unpinned: 0, awaitingHeir: 0, stateLost: 0 };
  const steering = new LinkSteering(stageSides(stages), 64, 0, timeouts, counters, drops);
  /** Steers a frame of the flow (src, dst, ports) across link k in direction dir from `from` at `tick`. */
  const frame = (k: number, dir: 0 | 1, from: number, [src, dst, sp, dp]: number[], tick = 0, proto: number = IpProto.TCP, flags = 0) => {
    steering.links[k].setTuple(src, dst, sp, dp, proto);
    steering.links[k].tcpFlags = flags;
    return steering.steer(k, dir, from, tick);
  };
  return { stages, steering, counters, drops, frame, add };
}

describe('LinkSteering', () => {
  it('pins a new flow by Maglev, sends its replies back the way it came, and counts pins and flows', () => {
    const { stages, counters, frame } = chain();
    const flow = [A, V, 40000, 80];
    const fw = frame(0, 0, UNSET_SIDE, flow); // inside port → fw
    expect(fw).toBeGreaterThanOrEqual(0);
    expect(counters.newFlows).toBe(1);
    const lb = frame(1, 0, fw, flow); // fw → lb
    expect(lb).toBe(0);
    expect(frame(2, 0, lb, [A, B, 40000, 8080])).toBe(UNSET_SIDE); // lb → outside port (the LB rewrote the destination)
    // Replies: outside port → lb → fw → inside port, each to the instance the flow came through.
    expect(frame(2, 1, UNSET_SIDE, [B, A, 8080, 40000])).toBe(lb);
    expect(frame(1, 1, lb, [V, A, 80, 40000])).toBe(fw);
    expect(frame(0, 1, fw, [V, A, 80, 40000])).toBe(UNSET_SIDE);
    expect(counters.newFlows).toBe(2); // one per link into a stage
    expect([stages[0].bySlot[fw].pins, stages[0].bySlot[fw].flows]).toEqual([2, 1]); // pinned on links 0 and 1; entered on link 0
    expect([stages[1].bySlot[lb].pins, stages[1].bySlot[lb].flows]).toEqual([2, 1]);
    expect(counters.learnConflicts).toBe(0);
  });

  it('spreads new flows over the active instances', () => {
    const { frame } = chain(3);
    const picked = new Set(Array.from({ length: 64 }, (_, i) => frame(0, 0, UNSET_SIDE, [A + i, V, 40000 + i, 80])));
    expect(picked).toEqual(new Set([0, 1, 2]));
  });

  it('learns the sender of a flow first seen from the other side, and counts a conflict when another live instance claims it', () => {
    const { stages, counters, frame } = chain();
    const reply = [B, A, 8080, 40000];
    // The flow's first frame on link 1 comes leftward from the lb: fw side picked, lb side learned.
    const fw = frame(1, 1, 0, reply);
    expect(stages[1].bySlot[0].pins).toBe(1);
    // The other fw instance sends on it: kept as pinned, counted.
    const other = fw === 0 ? 1 : 0;
    expect(frame(1, 0, other, [A, B, 40000, 8080])).toBe(0);
    expect(counters.learnConflicts).toBe(1);
    // Its own instance: no conflict.
    frame(1, 0, fw, [A, B, 40000, 8080]);
    expect(counters.learnConflicts).toBe(1);
  });

  it('moves a flow whose instance is gone: to its heir, waiting for one, reset when lost (TCP), or picked again', () => {
    const { stages, counters, frame, add } = chain(2);
    const fw = stages[0];
    const flows = Array.from({ length: 32 }, (_, i) => [A + i, V, 40000 + i, 80]);
    const on = flows.map((f) => frame(0, 0, UNSET_SIDE, f));
    const victim = 0;
    const mine = flows.filter((_, i) => on[i] === victim);
    expect(mine.length).toBeGreaterThan(2);
    // Gone, its successor not there yet: frames wait (dropped by the caller), pins stay.
    fw.bySlot[victim].heir = AWAITING_HEIR;
    fw.setState(fw.bySlot[victim], 'gone', 'failed');
    expect(frame(0, 0, UNSET_SIDE, mine[0], 1)).toBe(AWAITING_HEIR);
    // The heir arrived: the flow follows it.
    const heir = add(fw);
    fw.bySlot[victim].heir = heir.slot;
    expect(frame(0, 0, UNSET_SIDE, mine[0], 2)).toBe(heir.slot);
    expect(counters.inherited).toBe(1);
    expect(frame(0, 0, UNSET_SIDE, mine[0], 3)).toBe(heir.slot); // pinned there now
    expect(counters.inherited).toBe(1);
    // Lost state: TCP gets STATE_LOST (the caller resets it); UDP is picked again.
    fw.bySlot[victim].heir = STATE_LOST;
    expect(frame(0, 0, UNSET_SIDE, mine[1], 4)).toBe(STATE_LOST);
    const udp = [A + 99, V, 5353, 53];
    const udpOn = frame(0, 0, UNSET_SIDE, udp, 4, IpProto.UDP);
    fw.setState(fw.bySlot[udpOn], 'gone', 'stopped');
    fw.bySlot[udpOn].heir = STATE_LOST;
    const again = frame(0, 0, UNSET_SIDE, udp, 5, IpProto.UDP);
    expect(again).toBeGreaterThanOrEqual(0);
    expect(fw.bySlot[again].state).toBe('active');
    expect(counters.repinned).toBe(1);
  });

  it('steers frames it cannot key to the first active instance, counted unkeyed', () => {
    const { stages, steering, counters } = chain(2);
    expect(steering.steerUnkeyed(0, 0)).toBe(stages[0].pick(0));
    expect(steering.steerUnkeyed(2, 0)).toBe(UNSET_SIDE);
    expect(counters.unkeyed).toBe(2);
  });

  it('expires idle pins per protocol, giving back pins and flows; finds pinned flows by tuple', () => {
    const { stages, steering, counters, frame } = chain(1);
    const tcp = [A, V, 40000, 80];
    const udp = [A, V, 5353, 53];
    frame(0, 0, UNSET_SIDE, tcp, 0);
    frame(0, 0, UNSET_SIDE, udp, 0, IpProto.UDP);
    expect(stages[0].bySlot[steering.pinnedSlot(0, V, A, 80, 40000, IpProto.TCP)]).toBe(stages[0].bySlot[0]);
    expect([stages[0].bySlot[0].pins, stages[0].bySlot[0].flows]).toEqual([2, 2]);
    steering.expire(20);
    expect(counters.expired).toBe(0);
    steering.expire(21); // UDP idle more than 20 ticks
    expect(counters.expired).toBe(1);
    expect([stages[0].bySlot[0].pins, stages[0].bySlot[0].flows]).toEqual([1, 1]);
    steering.expire(101);
    expect(steering.pinnedSlot(0, A, V, 40000, 80, IpProto.TCP)).toBe(UNSET_SIDE);
    expect([stages[0].bySlot[0].pins, stages[0].bySlot[0].flows]).toEqual([0, 0]);
  });

  it('counts a flow it cannot pin because the link is full', () => {
    const { drops, frame } = chain(1);
    for (let i = 0; i < 70; i++) frame(0, 0, UNSET_SIDE, [A + i, V, 40000, 80]);
    expect(drops.unpinned).toBe(6);
  });
});
