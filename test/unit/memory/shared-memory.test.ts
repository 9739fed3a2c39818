import { describe, expect, it } from 'vitest';
import { crossesProcesses, HEAP_MEMORY, MemfdMemory } from '../../../src/memory/shared-memory.ts';
import { decodeSharedRefs, encodeSharedRefs } from '../../../src/memory/shared-refs.ts';

describe.skipIf(!MemfdMemory.available())('MemfdMemory', () => {
  it('hands out zeroed, cache-line aligned ranges, merges freed neighbours and says when it is full', () => {
    const memory = MemfdMemory.create(64 * 1024, 'nfvkit-test');
    try {
      const a = memory.allocate(100);
      const b = memory.allocate(64);
      const c = memory.allocate(4096);
      expect([a, b, c].map((x) => memory.locate(x)?.offset)).toEqual([0, 128, 192]);
      expect(crossesProcesses(a)).toBe(true);
      new Uint8Array(b).fill(7);
      memory.release(b);
      const b2 = memory.allocate(64);
      expect(memory.locate(b2)?.offset).toBe(128);
      expect(new Uint8Array(b2).every((x) => x === 0)).toBe(true);
      memory.release(a);
      memory.release(b2);
      memory.release(c);
      expect(memory.freeBytes()).toBe(memory.bytes);
      expect(memory.locate(memory.allocate(memory.bytes))?.offset).toBe(0); // one range again
      expect(() => memory.allocate(64)).toThrow(expect.objectContaining({ code: 'NFVKIT_ERR_SHARED_MEMORY' }));
      expect(() => memory.allocate(0)).toThrow(expect.objectContaining({ code: 'NFVKIT_ERR_INVALID_ARGUMENT' }));
    } finally {
      memory.close();
    }
  });

  it('touches no page of memory nobody used (a data-plane pool of 256 MiB costs no zeroing), and zeroes what it hands out again', () => {
    const memory = MemfdMemory.create(256 << 20, 'nfvkit-test');
    try {
      const rss = process.memoryUsage().rss;
      const started = performance.now();
      const big = memory.allocate(192 << 20);
      const ms = performance.now() - started;
      expect(process.memoryUsage().rss - rss).toBeLessThan(16 << 20);
      expect(ms).toBeLessThan(50);
      const bytes = new Uint8Array(big);
      expect([bytes[0], bytes[100 << 20], bytes[bytes.length - 1]]).toEqual([0, 0, 0]);
      bytes.fill(9, 0, 1 << 20);
      bytes.fill(9, bytes.length - 4096);
      memory.release(big);
      const again = new Uint8Array(memory.allocate(200 << 20));
      expect([again[0], again[(1 << 20) - 1], again[(192 << 20) - 1], again[(200 << 20) - 1]]).toEqual([0, 0, 0, 0]);
    } finally {
      memory.close();
    }
  });

  it('gives a large released range back to the system (no fill when handed out again) and zeroes only what may hold old bytes', () => {
    const memory = MemfdMemory.create(4 << 20, 'nfvkit-test');
    try {
      const small = memory.allocate(100); // [0, 128): the state block below starts mid-page
      const state = memory.allocate((1 << 20) + 40);
      const stateAt = memory.locate(state)!.offset;
      new Uint8Array(state).fill(5);
      new Uint8Array(small).fill(6);
      memory.release(state);
      // Its whole pages went back to the system; the partial page at each end is dirty.
      const firstPage = Math.ceil(stateAt / 4096) * 4096;
      const endPage = Math.floor((stateAt + (1 << 20) + 64) / 4096) * 4096;
      expect(memory.discardedBytes).toBe(endPage - firstPage);
      memory.release(small); // too small to discard: zeroed when handed out again
      expect(memory.discardedBytes).toBe(endPage - firstPage);
      expect(memory.zeroedBytes).toBe(0);
      const again = memory.allocate((2 << 20) + 4096);
      expect(memory.locate(again)?.offset).toBe(0);
      // Zeroed: the small block, the state's partial pages; not the discarded megabyte.
      expect(memory.zeroedBytes).toBe(128 + (firstPage - stateAt) + (stateAt + (1 << 20) + 64 - endPage));
      const bytes = new Uint8Array(again);
      expect(bytes.every((x) => x === 0)).toBe(true);
      // Released again and handed out in pieces: every piece reads as zeros, each dirty byte zeroed once.
      bytes.fill(3);
      memory.release(again);
      const zeroed = memory.zeroedBytes;
      const pieces = [memory.allocate(64), memory.allocate(1 << 20), memory.allocate(8192)];
      for (const p of pieces) expect(new Uint8Array(p).every((x) => x === 0)).toBe(true);
      expect(memory.zeroedBytes - zeroed).toBeLessThan(2 * 4096);
      const starts = pieces.map((p) => memory.locate(p)!.offset);
      expect(new Set(starts).size).toBe(3);
      expect(starts).toEqual([...starts].sort((a, b) => a - b));
      for (const p of pieces) memory.release(p);
      expect(memory.freeBytes()).toBe(memory.bytes);
    } finally {
      memory.close();
    }
  });

  it('never hands one range to two owners while blocks of every size come and go', () => {
    /** True when every 61st byte of `sab` (and its last) is `v`. */
    const holds = (sab: SharedArrayBuffer, v: number): boolean => {
      const b = new Uint8Array(sab);
      for (let i = 0; i < b.length; i += 61) if (b[i] !== v) return false;
      return b[b.length - 1] === v;
    };
    const memory = MemfdMemory.create(8 << 20, 'nfvkit-test');
    try {
      let seed = 7;
      const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
      const live: Array<{ sab: SharedArrayBuffer; tag: number }> = [];
      for (let step = 0; step < 400; step++) {
        if (live.length > 0 && random(3) === 0) {
          const [gone] = live.splice(random(live.length), 1);
          expect(holds(gone.sab, gone.tag)).toBe(true); // nobody else wrote it
          memory.release(gone.sab);
          continue;
        }
        const bytes = random(4) === 0 ? 64 * 1024 + random(512 * 1024) : 1 + random(6000);
        let sab: SharedArrayBuffer;
        try {
          sab = memory.allocate(bytes);
        } catch {
          continue; // full
        }
        expect(holds(sab, 0)).toBe(true);
        const tag = 1 + (step % 250);
        new Uint8Array(sab).fill(tag);
        live.push({ sab, tag });
      }
      expect(memory.discardedBytes).toBeGreaterThan(0);
      for (const { sab, tag } of live) {
        expect(holds(sab, tag)).toBe(true);
        memory.release(sab);
      }
      expect(memory.freeBytes()).toBe(memory.bytes);
    } finally {
      memory.close();
    }
  });

  it('encodes buffers as ranges and bytes as base64, and refuses buffers from elsewhere', () => {
    const memory = MemfdMemory.create(8192, 'nfvkit-test');
    try {
      const sab = memory.allocate(256);
      const wire = JSON.parse(JSON.stringify(encodeSharedRefs({ sab, list: [1, 'x'], frames: [new Uint8Array([1, 2, 3])] }, [memory])));
      expect(wire.sab).toEqual({ $sharedRange: { memory: 0, offset: 0, length: 256 } });
      const views: unknown[] = [];
      const decoded = decodeSharedRefs(wire, [{ view: (r: { offset: number; length: number }) => (views.push(r), new SharedArrayBuffer(r.length)) } as never]) as { frames: Uint8Array[]; list: unknown[] };
      expect(views).toEqual([{ offset: 0, length: 256 }]);
      expect(Array.from(decoded.frames[0])).toEqual([1, 2, 3]);
      expect(decoded.list).toEqual([1, 'x']);
      expect(() => encodeSharedRefs({ other: new SharedArrayBuffer(8) }, [memory])).toThrow(/not allocated from its shared memory/);
      expect(() => encodeSharedRefs({ f: new Float64Array(2) }, [memory])).toThrow(/byte arrays and plain data/);
    } finally {
      memory.close();
    }
  });
});

describe('HeapMemory', () => {
  it('allocates plain SharedArrayBuffers that stay in this process', () => {
    const sab = HEAP_MEMORY.allocate(64);
    expect(sab).toBeInstanceOf(SharedArrayBuffer);
    expect(crossesProcesses(sab)).toBe(false);
    expect(HEAP_MEMORY.locate(sab)).toBeUndefined();
  });
});
