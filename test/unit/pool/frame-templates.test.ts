import { describe, expect, it } from 'vitest';
import { FrameTemplates } from '../../../src/pool/frame-templates.ts';
import { PacketPool } from '../../../src/pool/packet-pool.ts';

const frame = (len: number, seed: number): Uint8Array => Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
const bytesOf = (pool: PacketPool, id: number): number[] => Array.from(pool.bytes.subarray(pool.dataOffset(id), pool.dataOffset(id) + pool.meta.length[id]));

describe('FrameTemplates', () => {
  it('copies frames of any length into buffers in turn from the one asked, wrapping, and counts one copy in per frame', () => {
    const frames = [frame(60, 1), frame(61, 2), frame(63, 3), frame(1, 4), frame(1500, 5)];
    const templates = new FrameTemplates(frames.map((f) => f.slice()));
    const pool = PacketPool.create({ bufferCount: 16 });
    const ids = new Uint32Array(7);
    expect(pool.allocBatch(ids, 7)).toBe(7);
    for (const id of ids) pool.bytes.fill(0xee, pool.bufferOffset(id), pool.bufferOffset(id) + pool.stride);
    expect(templates.copyIn(pool, ids, 7, 3)).toBe(7);
    const order = [3, 4, 0, 1, 2, 3, 4];
    ids.forEach((id, i) => {
      expect(pool.meta.length[id]).toBe(frames[order[i]].length);
      expect(bytesOf(pool, id)).toEqual(Array.from(frames[order[i]]));
      // Nothing before the frame is touched.
      expect(pool.bytes[pool.dataOffset(id) - 1]).toBe(0xee);
    });
    const stats = pool.stats();
    expect(stats.copiesIn).toBe(7);
    expect(stats.bytesIn).toBe(order.reduce((s, t) => s + frames[t].length, 0));
    expect(templates.length(1)).toBe(61);
  });

  it('skips a buffer re-owned under its holder and compacts the ids to those filled', () => {
    const pool = PacketPool.create({ bufferCount: 8 });
    const templates = new FrameTemplates([frame(60, 1), frame(64, 2)]);
    const ids = new Uint32Array(4);
    pool.allocBatch(ids, 4);
    const [a, b, c, d] = ids;
    Atomics.store(pool.meta.state, b, 77);
    expect(templates.copyIn(pool, ids, 4, 0)).toBe(3);
    expect(Array.from(ids.subarray(0, 3))).toEqual([a, c, d]);
    expect(bytesOf(pool, c)).toEqual(Array.from(frame(64, 2)));
    expect(pool.stats().copiesIn).toBe(3);
  });

  it('copies through copyIn a frame whose buffer does not start on a word or cannot hold it (a reject counted there)', () => {
    const pool = PacketPool.create({ bufferCount: 8, stride: 256, headroom: 128 });
    const templates = new FrameTemplates([frame(61, 9), frame(200, 1)]);
    const ids = new Uint32Array(2);
    pool.allocBatch(ids, 2);
    expect(pool.prepend(ids[0], 2)).toBe(true);
    expect(templates.copyIn(pool, ids, 2, 0)).toBe(2);
    expect(bytesOf(pool, ids[0])).toEqual(Array.from(frame(61, 9)));
    const stats = pool.stats();
    expect(stats.copiesIn).toBe(1);
    expect(stats.copyRejects).toBe(1);
  });

  it('copyOne copies the frame asked into one buffer, and countCopies counts them once for the batch', () => {
    const frames = [frame(60, 1), frame(62, 2), frame(1500, 3)];
    const templates = new FrameTemplates(frames);
    const pool = PacketPool.create({ bufferCount: 8 });
    const ids = new Uint32Array(4);
    pool.allocBatch(ids, 4);
    const pick = [2, 0, 0, 1];
    ids.forEach((id, i) => expect(templates.copyOne(pool, id, pick[i])).toBe(true));
    expect(pool.stats().copiesIn).toBe(0);
    templates.countCopies(pool);
    ids.forEach((id, i) => expect(bytesOf(pool, id)).toEqual(Array.from(frames[pick[i]])));
    expect(pool.stats().copiesIn).toBe(4);
    expect(pool.stats().bytesIn).toBe(1500 + 60 + 60 + 62);
    templates.countCopies(pool);
    expect(pool.stats().copiesIn).toBe(4);
  });

  it('copyOne refuses a buffer it does not own and copies nothing into it', () => {
    const pool = PacketPool.create({ bufferCount: 8 });
    const templates = new FrameTemplates([frame(60, 1)]);
    const ids = new Uint32Array(1);
    pool.allocBatch(ids, 1);
    pool.meta.length[ids[0]] = 0;
    Atomics.store(pool.meta.state, ids[0], 77);
    expect(templates.copyOne(pool, ids[0], 0)).toBe(false);
    templates.countCopies(pool);
    expect(pool.meta.length[ids[0]]).toBe(0);
    expect(pool.stats().copiesIn).toBe(0);
  });

  it('counts copies not yet counted in their own pool when copyOne moves to another pool', () => {
    const a = PacketPool.create({ bufferCount: 4 });
    const b = PacketPool.create({ bufferCount: 4 });
    const templates = new FrameTemplates([frame(60, 1)]);
    const ids = new Uint32Array(1);
    a.allocBatch(ids, 1);
    expect(templates.copyOne(a, ids[0], 0)).toBe(true);
    b.allocBatch(ids, 1);
    expect(templates.copyOne(b, ids[0], 0)).toBe(true);
    expect(bytesOf(b, ids[0])).toEqual(Array.from(frame(60, 1)));
    expect(a.stats().copiesIn).toBe(1);
    templates.countCopies(b);
    expect(b.stats().copiesIn).toBe(1);
  });

  it('rewrite replaces one template in place, including for copies the word loop cannot do; blank starts from zeros', () => {
    const templates = FrameTemplates.blank(3, 61);
    const pool = PacketPool.create({ bufferCount: 8, stride: 256, headroom: 128 });
    const ids = new Uint32Array(3);
    pool.allocBatch(ids, 3);
    expect(pool.prepend(ids[2], 2)).toBe(true);
    templates.rewrite(1, frame(61, 5));
    expect(templates.copyOne(pool, ids[0], 0)).toBe(true);
    expect(templates.copyOne(pool, ids[1], 1)).toBe(true);
    expect(templates.copyOne(pool, ids[2], 1)).toBe(true);
    templates.countCopies(pool);
    expect(bytesOf(pool, ids[0])).toEqual(new Array(61).fill(0));
    expect(bytesOf(pool, ids[1])).toEqual(Array.from(frame(61, 5)));
    expect(bytesOf(pool, ids[2])).toEqual(Array.from(frame(61, 5)));
    expect(pool.stats().copiesIn).toBe(3);
    expect(() => templates.rewrite(0, frame(60, 1))).toThrow(RangeError);
  });

  it('keeps its own copy of the frames it was made from', () => {
    const source = frame(61, 1);
    const templates = new FrameTemplates([source]);
    source.fill(0);
    const pool = PacketPool.create({ bufferCount: 4, stride: 256, headroom: 128 });
    const ids = new Uint32Array(2);
    pool.allocBatch(ids, 2);
    expect(pool.prepend(ids[1], 2)).toBe(true);
    expect(templates.copyIn(pool, ids, 2, 0)).toBe(2);
    expect(bytesOf(pool, ids[0])).toEqual(Array.from(frame(61, 1)));
    expect(bytesOf(pool, ids[1])).toEqual(Array.from(frame(61, 1)));
  });
});
