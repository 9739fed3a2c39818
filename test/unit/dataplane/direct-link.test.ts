import { describe, expect, it } from 'vitest';
import { DirectLinks, type DirectLinksData } from '../../../src/dataplane/links/direct-link.ts';
import { DIRECT_LINK_COUNTER_LIST, DirectLinkCounter } from '../../../src/dataplane/links/direct-link-counters.ts';
import { LinkArea } from '../../../src/dataplane/links/link-area.ts';
import { LANE_TABLE_SIZE, LaneWord, laneSlot } from '../../../src/dataplane/links/link-area-layout.ts';
import { AWAITING_HEIR } from '../../../src/dataplane/steering-codes.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { writeFrame } from '../../../src/traffic/frame-builder.ts';
import { Doorbell } from '../../../src/virtio/doorbell.ts';

const CLIENT = 0xc6120100; // 198.18.1.0 + i
const SERVER = 0xc6130a0a; // 198.19.10.10
const GEOMETRY = { stages: 2, lanes: 4, queueSize: 128 };
const TIMEOUTS = { tcp: 100, tcpClosed: 4, udp: 20, other: 10 };

interface Member {
  readonly stage: number;
  readonly lane: number;
  readonly slot: number;
  readonly owner: number;
  readonly pool: ReturnType<PacketPool['withOwner']>;
  readonly links: DirectLinks;
}

/** A two-stage chain (fw → lb) linked directly; instances are DirectLinks in this thread. */
function chain() {
  const pool = PacketPool.create({ bufferCount: 1024, owner: 1 });
  const area = LinkArea.create(GEOMETRY);
  let nextOwner = 2;
  const join = (stage: number): Member => {
    const owner = nextOwner;
    nextOwner += 2;
    const lane = area.takeLane(stage);
    const slot = area.join(stage, lane, owner);
    const data: DirectLinksData = {
      areaSab: area.sab,
      geometry: GEOMETRY,
      stage,
      lane,
      epoch: slot >>> 8,
      direct: [stage > 0, stage < GEOMETRY.stages - 1],
      hashSeed: 0,
      flowCapacity: 256,
      pinTimeouts: TIMEOUTS,
      tickMs: 250,
    };
    const p = pool.withOwner(owner);
    const irq = new Doorbell(new Int32Array(area.sab), area.irqOffset(stage, lane) >> 2);
    return { stage, lane, slot, owner, pool: p, links: new DirectLinks(data, p, irq) };
  };
  /** Frames of flows `flows` (client i → server), owned by `m`. */
  const frames = (m: Member, flows: readonly number[], reply = false): Uint32Array => {
    const ids = new Uint32Array(flows.length);
    expect(m.pool.allocBatch(ids, flows.length)).toBe(flows.length);
    flows.forEach((f, i) => {
      const spec = reply
        ? { proto: IpProto.TCP, srcIp: SERVER, dstIp: CLIENT + f, srcPort: 80, dstPort: 40000 + f }
        : { proto: IpProto.TCP, srcIp: CLIENT + f, dstIp: SERVER, srcPort: 40000 + f, dstPort: 80 };
      pool.meta.length[ids[i]] = writeFrame(pool.view, m.pool.dataOffset(ids[i]), spec);
    });
    return ids;
  };
  const out = new Uint32Array(256);
  /** Sends flows from `m` on side `side`; returns which member received each flow. */
  const send = (m: Member, side: 0 | 1, peers: readonly Member[], flows: readonly number[], reply = false): Map<number, Member> => {
    const link = m.links.side(side)!;
    expect(link.txRoom()).toBeGreaterThanOrEqual(flows.length);
    const ids = frames(m, flows, reply);
    const byId = new Map(Array.from(ids, (id, i) => [id, flows[i]]));
    link.transmit(ids, ids.length);
    const got = new Map<number, Member>();
    for (const p of peers) {
      const n = p.links.side(side === 0 ? 1 : 0)!.receive(out, 256);
      for (let i = 0; i < n; i++) {
        got.set(byId.get(out[i])!, p);
        expect(pool.ownerOf(out[i])).toBe(p.owner);
      }
      if (n > 0) p.pool.freeBatch(out, n);
    }
    return got;
  };
  const stat = (m: Member, c: keyof typeof DirectLinkCounter) => m.links.stats[DirectLinkCounter[c]];
  const settle = () => {
    for (let o = 2; o < nextOwner; o++) pool.reclaimOwner(o);
    expect(pool.leakCheck()).toEqual([]);
  };
  return { pool, area, join, send, frames, stat, settle, out };
}

const FLOWS = Array.from({ length: 64 }, (_, i) => i);

describe('direct links: steering in the instance', () => {
  it('spreads new flows by the published Maglev table, keeps each pinned, and the reply takes the pair the flow came in on', () => {
    const c = chain();
    const fw = [c.join(0), c.join(0)];
    const lb = [c.join(1), c.join(1)];
    const first = c.send(fw[0], 1, lb, FLOWS);
    expect(first.size).toBe(64);
    const counts = lb.map((m) => [...first.values()].filter((x) => x === m).length);
    expect(Math.min(...counts)).toBeGreaterThan(10);
    // Again: every flow to the same instance.
    const again = c.send(fw[0], 1, lb, FLOWS);
    for (const f of FLOWS) expect(again.get(f)).toBe(first.get(f));
    // Replies from each lb instance go back to fw[0] (learned when the flow came in), never fw[1].
    for (const m of lb) {
      const mine = FLOWS.filter((f) => first.get(f) === m);
      const back = c.send(m, 0, fw, mine, true);
      for (const f of mine) expect(back.get(f)).toBe(fw[0]);
    }
    expect(c.stat(lb[0], 'LEARN_CONFLICTS') + c.stat(lb[1], 'LEARN_CONFLICTS')).toBe(0);
    // Pins for drains: what pins each lb instance, as the host reads it.
    for (const m of lb) expect(c.area.pinsOf(1, m.lane)).toBeGreaterThan(0);
    c.settle();
  });

  it("answers the host's pin query: the instance that holds the flow on its left link says so, the others and other stages do not", () => {
    const c = chain();
    const fw = c.join(0);
    const lb = [c.join(1), c.join(1)];
    const first = c.send(fw, 1, lb, FLOWS);
    const answers = (stage: number, f: number, who: Member[]) => {
      const seq = c.area.askPin(stage, CLIENT + f, SERVER, 40000 + f, 80, IpProto.TCP);
      for (const m of who) expect(c.area.pinAnswer(stage, m.lane, seq)).toBeUndefined();
      for (const m of who) m.links.maintain(m.links.tick());
      return who.map((m) => c.area.pinAnswer(stage, m.lane, seq));
    };
    for (const f of FLOWS.slice(0, 16)) {
      // Either direction's tuple finds it.
      expect(answers(1, f, lb)).toEqual(lb.map((m) => m === first.get(f)));
      const seq = c.area.askPin(1, SERVER, CLIENT + f, 80, 40000 + f, IpProto.TCP);
      for (const m of lb) m.links.maintain(m.links.tick());
      expect(lb.map((m) => c.area.pinAnswer(1, m.lane, seq))).toEqual(lb.map((m) => m === first.get(f)));
    }
    expect(answers(1, 999, lb)).toEqual([false, false]);
    // A query about stage 1 is not the first stage's to answer yes to; stage 0 has no link on its left.
    expect(answers(0, FLOWS[0], [fw])).toEqual([false]);
    c.settle();
  });

  it('a new instance takes a share of new flows and none of the pinned ones', () => {
    const c = chain();
    const fw = c.join(0);
    const lb = [c.join(1)];
    c.send(fw, 1, lb, FLOWS);
    lb.push(c.join(1));
    const old = c.send(fw, 1, lb, FLOWS);
    for (const f of FLOWS) expect(old.get(f)).toBe(lb[0]);
    const fresh = c.send(fw, 1, lb, FLOWS.map((f) => f + 100));
    expect([...fresh.values()].filter((m) => m === lb[1]).length).toBeGreaterThan(10);
    c.settle();
  });

  it('a draining peer gets no new flows but keeps its pinned ones', () => {
    const c = chain();
    const fw = c.join(0);
    const lb = [c.join(1), c.join(1)];
    const first = c.send(fw, 1, lb, FLOWS);
    c.area.setRole(1, lb[1].lane, 'draining');
    const again = c.send(fw, 1, lb, FLOWS);
    for (const f of FLOWS) expect(again.get(f)).toBe(first.get(f));
    const fresh = c.send(fw, 1, lb, FLOWS.map((f) => f + 100));
    for (const m of fresh.values()) expect(m).toBe(lb[0]);
    c.settle();
  });

  it('a gone peer\'s flows are re-steered, follow its heir, or wait for one (dropped, counted)', () => {
    const c = chain();
    const fw = c.join(0);
    const lb = [c.join(1), c.join(1), c.join(1)];
    const first = c.send(fw, 1, lb, FLOWS);
    const onTwo = FLOWS.filter((f) => first.get(f) === lb[2]);
    const onOne = FLOWS.filter((f) => first.get(f) === lb[1]);
    expect(onTwo.length).toBeGreaterThan(0);
    expect(onOne.length).toBeGreaterThan(0);
    // lb-2 is gone, its state taken over by lb-0: its flows follow it.
    c.area.leave(1, lb[2].lane, lb[0].slot);
    for (const m of c.send(fw, 1, lb, onTwo).values()) expect(m).toBe(lb[0]);
    expect(c.stat(fw, 'INHERITED')).toBe(onTwo.length);
    // lb-1 failed, its successor still booting: its flows' frames are dropped, counted.
    c.area.leave(1, lb[1].lane, AWAITING_HEIR);
    expect(c.send(fw, 1, lb, onOne).size).toBe(0);
    expect(c.stat(fw, 'AWAITING_HEIR')).toBe(onOne.length);
    // Nobody takes it over: picked anew among the active ones.
    c.area.setHeir(1, lb[1].lane, -1);
    for (const m of c.send(fw, 1, lb, onOne).values()) expect(m).toBe(lb[0]);
    expect(c.stat(fw, 'REPINNED')).toBe(onOne.length);
    c.settle();
  });

  it('frees a departed peer\'s lane only once every neighbour drained its pair and acknowledged', () => {
    const c = chain();
    const fw = c.join(0);
    const lb = [c.join(1), c.join(1), c.join(1), c.join(1)];
    expect(() => c.area.takeLane(1)).toThrow(/no free link lane/);
    // lb-3 answers, then leaves with the frames still in its pair toward fw.
    const flows = FLOWS.slice(0, 4);
    fw.links.side(1)!.transmit(c.frames(fw, flows), 4);
    const n = lb.reduce((sum, m) => sum + m.links.side(0)!.receive(c.out, 256), 0);
    expect(n).toBe(4);
    lb[3].links.side(0)!.transmit(c.frames(lb[3], [7], true), 1);
    c.area.leave(1, lb[3].lane, -1);
    expect(() => c.area.takeLane(1)).toThrow(/no free link lane/);
    expect(c.area.settled(1, lb[3].lane)).toBe(false);
    const link = fw.links.side(1)!;
    link.txRoom(); // fw applies the new generation; the pair still holds a frame
    expect(() => c.area.takeLane(1)).toThrow(/no free link lane/);
    expect(link.receive(c.out, 256)).toBe(1);
    expect(link.receive(c.out, 256)).toBe(0); // empty: retired, acknowledged
    expect(c.area.settled(1, lb[3].lane)).toBe(true);
    expect(() => c.area.takeLane(1)).toThrow(/no free link lane/); // until the host releases it
    c.area.release(1, lb[3].lane);
    expect(c.area.takeLane(1)).toBe(lb[3].lane);
    c.settle();
  });

  it('takes no snapshot while the host writes or the block changes under the copy', () => {
    const c = chain();
    const fw = c.join(0);
    const lb = c.join(1);
    const link = fw.links.side(1)!;
    link.txRoom();
    const words = new Int32Array(c.area.sab);
    const gw = c.area.layout.generation(1) >> 2;
    const g = Atomics.load(words, gw);
    expect(link.peers.generation).toBe(g);
    Atomics.store(words, gw, g + 1); // odd: the host is writing
    const before = link.peers.torn;
    link.txRoom();
    expect(link.peers.torn).toBe(before + 1);
    expect(link.peers.generation).toBe(g);
    Atomics.store(words, gw, g + 2);
    link.txRoom();
    expect(link.peers.generation).toBe(g + 2);
    void lb;
    c.settle();
  });
});

describe('direct links: a hostile neighbour scribbling the link area', () => {
  it('out-of-range lanes, heirs, epochs and owners make no reader throw or reach outside its arrays', () => {
    const c = chain();
    const fw = c.join(0);
    const lb = [c.join(1), c.join(1)];
    const first = c.send(fw, 1, lb, FLOWS);
    expect(first.size).toBe(64);
    const bytes = new Uint8Array(c.area.sab);
    const words = new Int32Array(c.area.sab);
    const gw = c.area.layout.generation(1) >> 2;
    const scribble = (fn: () => void) => {
      fn();
      Atomics.add(words, gw, 2);
    };
    // A Maglev table naming lanes that do not exist: new flows find no peer (dropped, counted).
    scribble(() => bytes.fill(200, c.area.layout.table(1), c.area.layout.table(1) + LANE_TABLE_SIZE));
    let got = new Map();
    expect(() => (got = c.send(fw, 1, lb, FLOWS.map((f) => f + 500)))).not.toThrow();
    expect(got.size).toBe(0);
    expect(c.stat(fw, 'NO_PEER')).toBe(64);
    // Pinned flows still reach their peers.
    expect(c.send(fw, 1, lb, FLOWS).size).toBe(64);
    // A heir outside the stage, a garbage epoch and owner: the flows of that lane are picked anew, never sent to lane 200.
    const l1 = c.area.layout.lane(1, lb[1].lane) >> 2;
    scribble(() => {
      words[l1 + LaneWord.STATE] = 3;
      words[l1 + LaneWord.HEIR] = laneSlot(200, 1);
    });
    expect(() => c.send(fw, 1, lb, FLOWS)).not.toThrow();
    scribble(() => {
      words[l1 + LaneWord.STATE] = 1;
      words[l1 + LaneWord.EPOCH] = 0x7fffffff;
      words[l1 + LaneWord.OWNER] = -5;
    });
    expect(() => c.send(fw, 1, lb, FLOWS)).not.toThrow();
    // Random words over the whole stage block, many times: never a throw.
    let seed = 11;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const start = c.area.layout.generation(1) + 64;
    const end = c.area.layout.table(1) + LANE_TABLE_SIZE;
    for (let round = 0; round < 50; round++) {
      scribble(() => {
        for (let k = 0; k < 16; k++) bytes[start + Math.floor(rnd() * (end - start))] = Math.floor(rnd() * 256);
      });
      expect(() => c.send(fw, 1, lb, FLOWS.slice(0, 8).map((f) => f + round * 8))).not.toThrow();
    }
    expect(DIRECT_LINK_COUNTER_LIST.count).toBeGreaterThan(0);
    c.settle();
  });
});
