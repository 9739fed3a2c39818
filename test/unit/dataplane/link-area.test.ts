import { describe, expect, it } from 'vitest';
import { DIRECT_LINK_COUNTER_LIST, DirectLinkCounter } from '../../../src/dataplane/links/direct-link-counters.ts';
import { LinkArea } from '../../../src/dataplane/links/link-area.ts';
import { LANE_TABLE_SIZE, LaneState, LaneWord, laneSlot, NO_LANE } from '../../../src/dataplane/links/link-area-layout.ts';
import { AWAITING_HEIR } from '../../../src/dataplane/steering-codes.ts';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { queuePairBytes } from '../../../src/virtio/queue-pair.ts';
import { computeSplitRingLayout } from '../../../src/virtio/split-ring-layout.ts';

const G = { stages: 3, lanes: 4, queueSize: 16 };

function table(area: LinkArea, s: number): Uint8Array {
  return new Uint8Array(area.sab, area.layout.table(s), LANE_TABLE_SIZE);
}

function lane(area: LinkArea, s: number, l: number): Int32Array {
  return new Int32Array(area.sab, area.layout.lane(s, l), 4);
}

describe('LinkArea', () => {
  it('refuses a geometry without stages or with too many lanes', () => {
    expect(() => LinkArea.create({ ...G, stages: 0 })).toThrow(InvalidArgumentError);
    expect(() => LinkArea.create({ ...G, lanes: 0 })).toThrow(InvalidArgumentError);
    expect(() => LinkArea.create({ ...G, lanes: 65 })).toThrow(InvalidArgumentError);
  });

  it('lays out regions that do not overlap and fit the area', () => {
    const area = LinkArea.create(G);
    const l = area.layout;
    const regions: Array<[number, number]> = [];
    for (let s = 0; s < G.stages; s++) {
      regions.push([l.generation(s), 4], [l.table(s), LANE_TABLE_SIZE]);
      for (let x = 0; x < G.lanes; x++) regions.push([l.lane(s, x), 16], [l.irq(s, x), 4], [l.stats(s, x), l.statsSlots * 8]);
    }
    for (let k = 1; k < G.stages; k++) for (let a = 0; a < G.lanes; a++) for (let b = 0; b < G.lanes; b++) regions.push([l.pair(k, a, b), queuePairBytes(G.queueSize)]);
    regions.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < regions.length; i++) expect(regions[i][0]).toBeGreaterThanOrEqual(regions[i - 1][0] + regions[i - 1][1]);
    const last = regions[regions.length - 1];
    expect(last[0] + last[1]).toBeLessThanOrEqual(area.sab.byteLength);
    expect(l.statsSlots).toBe(DIRECT_LINK_COUNTER_LIST.count + 2 * G.lanes);
  });

  it('publishes lanes under an even generation, and a Maglev table of the active lanes only', () => {
    const area = LinkArea.create(G);
    const gen = () => new Int32Array(area.sab, area.layout.generation(1), 1)[0];
    expect(table(area, 1).every((x) => x === NO_LANE)).toBe(true);
    const g0 = gen();
    expect(g0 % 2).toBe(0);
    const lanes = [area.takeLane(1), area.takeLane(1), area.takeLane(1)];
    expect(lanes).toEqual([0, 1, 2]);
    const slots = lanes.map((x, i) => area.join(1, x, 10 + 2 * i));
    expect(gen()).toBe(g0 + 6);
    expect(slots).toEqual([laneSlot(0, 1), laneSlot(1, 1), laneSlot(2, 1)]);
    expect(Array.from(lane(area, 1, 1))).toEqual([LaneState.ACTIVE, 12, 1, -1]);
    const share = (x: number) => table(area, 1).filter((e) => e === x).length / LANE_TABLE_SIZE;
    for (const x of lanes) expect(share(x)).toBeGreaterThan(0.3);
    area.setRole(1, 2, 'draining');
    expect(share(2)).toBe(0);
    expect(share(0) + share(1)).toBe(1);
    area.leave(1, 1, AWAITING_HEIR);
    expect(lane(area, 1, 1)[LaneWord.STATE]).toBe(LaneState.GONE);
    expect(lane(area, 1, 1)[LaneWord.HEIR]).toBe(AWAITING_HEIR);
    expect(share(0)).toBe(1);
    area.setHeir(1, 1, slots[0]);
    expect(lane(area, 1, 1)[LaneWord.HEIR]).toBe(slots[0]);
    expect(gen() % 2).toBe(0);
    // A lane that comes back gets a new epoch.
    area.release(1, 1);
    expect(area.takeLane(1)).toBe(1);
    expect(area.join(1, 1, 20)).toBe(laneSlot(1, 2));
  });

  it('publishes over a generation word an instance scribbled (odd or negative) and ends even', () => {
    const area = LinkArea.create(G);
    const word = new Int32Array(area.sab, area.layout.generation(0), 1);
    word[0] = -7;
    area.join(0, area.takeLane(0), 2);
    expect(word[0] % 2).toBe(0);
    expect(word[0]).toBeGreaterThanOrEqual(0);
  });

  it('counts what the neighbours left in a lane\'s inbound rings, nothing for a scribbled ring', () => {
    const area = LinkArea.create(G);
    const mid = area.takeLane(1);
    area.join(1, mid, 2);
    const ring = computeSplitRingLayout(G.queueSize);
    const view = new DataView(area.sab);
    const setIdx = (base: number, avail: number, used: number) => {
      view.setUint16(base + ring.availIdxOffset, avail, true);
      view.setUint16(base + ring.usedIdxOffset, used, true);
    };
    // From lane 0 of stage 0 (ring 0 of pair (0, mid) on link 1): 5 made available, 2 used.
    setIdx(area.layout.pair(1, 0, mid), 5, 2);
    // From lane 3 of stage 2 (ring 1 of pair (mid, 3) on link 2), across the index wrap: 4.
    setIdx(area.layout.pair(2, mid, 3) + queuePairBytes(G.queueSize) / 2, 1, 65533);
    // Rings it sent on do not count.
    setIdx(area.layout.pair(2, mid, 0), 9, 0);
    expect(area.pendingToward(1, mid)).toBe(7);
    // Indices further apart than a queue: scribbled, count nothing.
    setIdx(area.layout.pair(1, 1, mid), 40_000, 0);
    expect(area.pendingToward(1, mid)).toBe(7);
  });

  it('sums the pins on a lane over its own tables and its live neighbours\', and decodes a reported violation', () => {
    const area = LinkArea.create(G);
    const [a, b, c] = [0, 1, 2].map((s) => {
      const x = area.takeLane(s);
      area.join(s, x, 2 + 2 * s);
      return x;
    });
    const base = DIRECT_LINK_COUNTER_LIST.count;
    area.stats(1, b)[DirectLinkCounter.SELF_PINS] = 5;
    area.stats(0, a)[base + G.lanes + b] = 3; // stage 0's pins toward stage 1's lane b (its right side)
    area.stats(2, c)[base + b] = 2; // stage 2's pins toward lane b (its left side)
    area.stats(2, c)[base + G.lanes + b] = 100; // its right side: not toward stage 1
    expect(area.pinsOf(1, b)).toBe(10);
    area.leave(2, c, -1);
    expect(area.pinsOf(1, b)).toBe(8);
    expect(area.violationOf(1, b)).toBeUndefined();
    area.stats(1, b)[DirectLinkCounter.VIOLATION] = 1 + 256 + 3;
    expect(area.violationOf(1, b)).toEqual({ side: 1, lane: 3 });
    area.clearViolation(1, b);
    expect(area.violationOf(1, b)).toBeUndefined();
    area.stats(1, b)[DirectLinkCounter.VIOLATION] = 1e9;
    expect(area.violationOf(1, b)).toBeUndefined();
  });

  it('hands out no lane while all are held, and zeroes a lane\'s stats when it is handed out again', () => {
    const area = LinkArea.create(G);
    for (let i = 0; i < G.lanes; i++) area.join(0, area.takeLane(0), 2 + 2 * i);
    expect(() => area.takeLane(0)).toThrow(/no free link lane/);
    area.stats(0, 2)[DirectLinkCounter.SENT] = 99;
    area.leave(0, 2, -1);
    area.release(0, 2);
    expect(area.settled(0, 2)).toBe(true); // no live neighbour to wait for
    expect(area.takeLane(0)).toBe(2);
    expect(area.stats(0, 2)[DirectLinkCounter.SENT]).toBe(0);
  });
});
