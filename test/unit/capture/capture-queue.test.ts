import { describe, expect, it } from 'vitest';
import { CaptureQueue } from '../../../src/capture/capture-queue.ts';

const frame = (len: number, fill: number) => new Uint8Array(len).fill(fill);

describe('CaptureQueue', () => {
  it('hands frames back in order with their length, direction and time', () => {
    const q = new CaptureQueue(1024, 8);
    expect(q.push(frame(100, 1), 0, 60, 100, 1, 5)).toBe(true);
    expect(q.push(frame(80, 2), 10, 70, 80, 0, 6)).toBe(true);
    expect(q.count).toBe(2);
    expect([...q.frame()]).toEqual(new Array(60).fill(1));
    expect([q.originalLength(), q.toward(), q.timeMs()]).toEqual([100, 1, 5]);
    q.pop();
    expect(q.frame().length).toBe(70);
    expect([q.originalLength(), q.toward(), q.timeMs()]).toEqual([80, 0, 6]);
    q.pop();
    expect(q.count).toBe(0);
  });

  it('counts what does not fit instead of waiting, and wraps around as the reader catches up', () => {
    const q = new CaptureQueue(256, 100);
    let stored = 0;
    for (let i = 0; i < 10; i++) if (q.push(frame(60, i), 0, 60, 60, 1, i)) stored++;
    expect(stored).toBe(4);
    expect(q.dropped).toBe(6);
    // The reader takes two; the next frames wrap to the start of the ring.
    q.pop();
    q.pop();
    expect(q.push(frame(60, 42), 0, 60, 60, 1, 42)).toBe(true);
    expect(q.push(frame(60, 43), 0, 60, 60, 1, 43)).toBe(true);
    expect(q.push(frame(60, 44), 0, 60, 60, 1, 44)).toBe(false);
    const seen: number[] = [];
    while (q.count > 0) {
      seen.push(q.frame()[0]);
      q.pop();
    }
    expect(seen).toEqual([2, 3, 42, 43]);
    expect(q.dropped).toBe(7);
  });

  it('is bounded in frames as well as bytes', () => {
    const q = new CaptureQueue(1 << 16, 3);
    for (let i = 0; i < 5; i++) q.push(frame(10, i), 0, 10, 10, 1, i);
    expect([q.count, q.queued, q.dropped]).toEqual([3, 3, 2]);
  });

  it('never returns a frame overwritten by a later one (random pushes and pops against a model)', () => {
    const q = new CaptureQueue(1000, 16);
    const model: number[] = [];
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let step = 0; step < 5000; step++) {
      if (rnd() < 0.55) {
        const len = 1 + Math.floor(rnd() * 300);
        const tag = step & 255;
        if (q.push(frame(len, tag), 0, len, len, 1, step)) model.push(step);
      } else if (q.count > 0) {
        const want = model.shift()!;
        const got = q.frame();
        expect(q.timeMs()).toBe(want);
        expect(got.every((b) => b === (want & 255))).toBe(true);
        q.pop();
      }
      expect(q.count).toBe(model.length);
    }
  });
});
