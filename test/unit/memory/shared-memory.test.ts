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
