import { describe, expect, it } from 'vitest';
import { PacketPool } from '../../../src/pool/packet-pool.ts';
import { Doorbell } from '../../../src/virtio/doorbell.ts';
import { createQueuePair, queuePairBytes, QueuePairEnd } from '../../../src/virtio/queue-pair.ts';
import { SplitRing } from '../../../src/virtio/split-ring.ts';
import { VIRTQ_DESC_F_NEXT } from '../../../src/virtio/split-ring-layout.ts';

const LEFT = 2;
const RIGHT = 4;
const Q = 8;
const BASE = 128;

function setup() {
  const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
  const sab = new SharedArrayBuffer(BASE + queuePairBytes(Q) + 64);
  createQueuePair(sab, BASE, Q);
  const lp = pool.withOwner(LEFT);
  const rp = pool.withOwner(RIGHT);
  const left = QueuePairEnd.attach(sab, BASE, Q, 0, lp, RIGHT, new Uint8Array(pool.bufferCount))!;
  const right = QueuePairEnd.attach(sab, BASE, Q, 1, rp, LEFT, new Uint8Array(pool.bufferCount))!;
  return { pool, sab, lp, rp, left, right, rings: [SplitRing.attach(sab, BASE), SplitRing.attach(sab, BASE + queuePairBytes(Q) / 2)] };
}

function frames(pool: PacketPool, n: number, len = 60): Uint32Array {
  const ids = new Uint32Array(n);
  expect(pool.allocBatch(ids, n)).toBe(n);
  for (let i = 0; i < n; i++) expect(pool.copyIn(ids[i], new Uint8Array(len).fill(i + 1), 0, len)).toBe(true);
  return ids;
}

function settle(s: ReturnType<typeof setup>): void {
  s.pool.reclaimOwner(LEFT);
  s.pool.reclaimOwner(RIGHT);
  s.pool.reclaimAllBut([1]);
  expect(s.pool.leakCheck()).toEqual([]);
}

/** Byte offset of the descriptor the driver of `ring` made available last. */
function lastDesc(ring: SplitRing): number {
  const dv = new DataView(ring.sab);
  const l = ring.layout;
  const idx = dv.getUint16(l.availIdxOffset, true);
  const head = dv.getUint16(l.availRingOffset + 2 * ((idx - 1) & (ring.queueSize - 1)), true);
  return l.descOffset + 16 * head;
}

const out = new Uint32Array(16);

describe('QueuePairEnd', () => {
  it('carries frames both ways, zero copy, moving ownership with each descriptor', () => {
    const s = setup();
    const ids = frames(s.lp, 3, 70);
    const offsets = Array.from(ids, (id) => s.pool.dataOffset(id));
    expect(s.left.send(ids, 3)).toBe(3);
    for (const id of ids) expect(s.pool.ownerOf(id)).toBe(RIGHT);
    expect(s.right.hasRx()).toBe(true);
    expect(s.right.receive(out, 16)).toBe(3);
    expect(Array.from(out.subarray(0, 3))).toEqual(Array.from(ids));
    for (let i = 0; i < 3; i++) {
      expect(s.pool.dataOffset(out[i])).toBe(offsets[i]);
      expect(s.pool.meta.length[out[i]]).toBe(70);
      expect(s.pool.view.getUint8(offsets[i])).toBe(i + 1);
    }
    // The answer goes back on the same pair.
    expect(s.right.send(out, 2)).toBe(2);
    expect(s.left.receive(out, 16)).toBe(2);
    expect(s.pool.ownerOf(out[0])).toBe(LEFT);
    expect(s.left.sent + s.right.sent).toBe(5);
    expect(s.left.received + s.right.received).toBe(5);
    settle(s);
  });

  it('sends no more than the ring holds, and makes room again once the peer took them', () => {
    const s = setup();
    const ids = frames(s.lp, 12);
    expect(s.left.room()).toBe(Q);
    expect(s.left.send(ids, 12)).toBe(Q);
    expect(s.left.room()).toBe(0);
    expect(s.right.receive(out, 16)).toBe(Q);
    expect(s.left.room()).toBe(Q);
    expect(s.left.send(ids.subarray(Q), 4)).toBe(4);
    expect(s.right.receive(out, 16)).toBe(4);
    settle(s);
  });

  it('wraps its indices over many rounds', () => {
    const s = setup();
    let total = 0;
    for (let round = 0; round < 20000; round++) {
      const ids = frames(s.lp, 5);
      expect(s.left.send(ids, 5)).toBe(5);
      const n = s.right.receive(out, 16);
      total += n;
      s.rp.freeBatch(out, n);
    }
    expect(total).toBe(100000);
    expect(s.left.broken || s.right.broken).toBe(false);
    settle(s);
  });

  it('rings the peer\'s interrupt line only once it armed, then not while it polls', () => {
    const s = setup();
    const irq = new Doorbell(new Int32Array(new SharedArrayBuffer(4)), 0);
    s.left.setPeerInterrupt(irq);
    const before = irq.sequence();
    s.left.send(frames(s.lp, 1), 1);
    expect(irq.sequence()).toBe(before);
    expect(s.right.armRx()).toBe(true);
    s.right.receive(out, 16);
    expect(s.right.armRx()).toBe(false);
    s.left.send(frames(s.lp, 1), 1);
    expect(irq.sequence()).toBe(before + 1);
    s.right.disarmRx();
    s.right.receive(out, 16);
    settle(s);
  });

  it('rings the sender\'s interrupt line when the peer takes frames, only once the sender armed for room', () => {
    const s = setup();
    const irq = new Doorbell(new Int32Array(new SharedArrayBuffer(4)), 0);
    s.right.setInterrupt(irq);
    const before = irq.sequence();
    expect(s.left.send(frames(s.lp, Q), Q)).toBe(Q);
    expect(s.left.room()).toBe(0);
    // Not armed: the peer taking frames rings nobody.
    expect(s.right.receive(out, 2)).toBe(2);
    expect(irq.sequence()).toBe(before);
    // Armed with frames already taken: says so (do not sleep).
    expect(s.left.armTx()).toBe(true);
    expect(s.left.room()).toBe(2);
    expect(s.left.armTx()).toBe(false);
    expect(s.right.receive(out.subarray(2), 3)).toBe(3);
    expect(irq.sequence()).toBe(before + 1);
    s.left.disarmTx();
    expect(s.left.room()).toBe(5);
    expect(s.right.receive(out.subarray(5), 16)).toBe(Q - 5);
    expect(irq.sequence()).toBe(before + 1);
    settle(s);
  });

  it('refuses a region whose control blocks disagree with the expected geometry', () => {
    const s = setup();
    const pool = s.pool.withOwner(LEFT);
    expect(QueuePairEnd.attach(s.sab, BASE, 16, 0, pool, RIGHT, new Uint8Array(64))).toBeNull();
    expect(QueuePairEnd.attach(s.sab, BASE + 64, Q, 0, pool, RIGHT, new Uint8Array(64))).toBeNull();
    expect(QueuePairEnd.attach(s.sab, s.sab.byteLength - 64, Q, 0, pool, RIGHT, new Uint8Array(64))).toBeNull();
    new Uint32Array(s.sab, BASE, 16)[2] = 4096; // a peer rewrote the queue size
    expect(QueuePairEnd.attach(s.sab, BASE, Q, 0, pool, RIGHT, new Uint8Array(64))).toBeNull();
  });
});

describe('QueuePairEnd with a hostile peer', () => {
  const inbound: Array<[string, (s: ReturnType<typeof setup>, dv: DataView) => void, RegExp]> = [
    ['an available index far ahead', (s, dv) => dv.setUint16(s.rings[0].layout.availIdxOffset, 1000, true), /chains available/],
    ['a head out of range', (s, dv) => dv.setUint16(s.rings[0].layout.availRingOffset, 200, true), /names descriptor 200/],
    ['a descriptor address past the pool', (s, dv) => dv.setUint32(lastDesc(s.rings[0]), s.pool.sab.byteLength + 100, true), /not a buffer handed/],
    ['a descriptor address above 4 GiB', (s, dv) => dv.setUint32(lastDesc(s.rings[0]) + 4, 1, true), /not a buffer handed/],
    ['a descriptor address before the data area', (s, dv) => dv.setUint32(lastDesc(s.rings[0]), 8, true), /not a buffer handed/],
    ['a huge length', (s, dv) => dv.setUint32(lastDesc(s.rings[0]) + 8, 0xffffffff, true), /not a buffer handed/],
    ['a length of only the header', (s, dv) => dv.setUint32(lastDesc(s.rings[0]) + 8, 12, true), /not a buffer handed/],
    ['a buffer it did not hand over', (s, dv) => dv.setUint32(lastDesc(s.rings[0]), s.pool.bufferOffset(40) + 100, true), /not a buffer handed/],
    ['a chained descriptor', (s, dv) => dv.setUint16(lastDesc(s.rings[0]) + 12, VIRTQ_DESC_F_NEXT, true), /flags/],
  ];
  for (const [what, corrupt, reason] of inbound) {
    it(`the receiver takes ${what} as a violation: no throw, no frame outside what was handed over, nothing more moves`, () => {
      const s = setup();
      const ids = frames(s.lp, 3);
      s.left.send(ids, 3);
      corrupt(s, new DataView(s.sab));
      let got = 0;
      expect(() => (got = s.right.receive(out, 16))).not.toThrow();
      expect(s.right.broken).toBe(true);
      expect(s.right.violation).toMatch(reason);
      for (let i = 0; i < got; i++) expect(ids).toContain(out[i]);
      expect(s.right.receive(out, 16)).toBe(0);
      expect(s.right.hasRx()).toBe(false);
      expect(s.right.send(frames(s.rp, 1), 1)).toBe(0);
      settle(s);
    });
  }

  const outbound: Array<[string, (s: ReturnType<typeof setup>, dv: DataView) => void, RegExp]> = [
    ['a used index ahead of what is in flight', (s, dv) => dv.setUint16(s.rings[0].layout.usedIdxOffset, 500, true), /marked \d+ buffers used/],
    ['a used element naming another descriptor', (s, dv) => dv.setUint32(s.rings[0].layout.usedRingOffset + 8 * 2, 7, true), /IN_ORDER/],
  ];
  for (const [what, corrupt, reason] of outbound) {
    it(`the sender takes ${what} as a violation and sends nothing more`, () => {
      const s = setup();
      s.left.send(frames(s.lp, 3), 3);
      expect(s.right.receive(out, 16)).toBe(3);
      corrupt(s, new DataView(s.sab));
      const more = frames(s.lp, 2);
      expect(() => s.left.send(more, 2)).not.toThrow();
      expect(s.left.broken).toBe(true);
      expect(s.left.violation).toMatch(reason);
      expect(s.left.room()).toBe(0);
      for (const id of more) expect(s.pool.ownerOf(id)).toBe(LEFT);
      settle(s);
    });
  }

  it('a peer that scribbles random words over the whole pair never makes either side throw or take a buffer not handed over', () => {
    let seed = 7;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 200; trial++) {
      const s = setup();
      const ids = frames(s.lp, 4);
      s.left.send(ids, 4);
      const words = new Uint32Array(s.sab, BASE, queuePairBytes(Q) / 4);
      for (let k = 0; k < 8; k++) words[48 + Math.floor(rnd() * (words.length - 48))] = Math.floor(rnd() * 2 ** 32);
      let got = 0;
      expect(() => (got = s.right.receive(out, 16))).not.toThrow();
      for (let i = 0; i < got; i++) expect(s.pool.ownerOf(out[i])).toBe(RIGHT);
      for (let i = 0; i < got; i++) expect(ids).toContain(out[i]);
      expect(() => s.left.send(frames(s.lp, 1), 1)).not.toThrow();
      settle(s);
    }
  });
});
