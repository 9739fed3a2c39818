import { describe, expect, it } from 'vitest';
import { crossesProcesses, crossProcessFutex, markCrossProcess, REGISTRY_KEY, type FutexOps } from '../../../src/memory/cross-process.ts';
import { Doorbell } from '../../../src/virtio/doorbell.ts';

/** Futex calls that only count (the real ones are the addon's). */
function countingFutex(): FutexOps & { waits: number; wakes: number } {
  return {
    waits: 0,
    wakes: 0,
    futexWait() {
      this.waits++;
      return 'timed-out';
    },
    futexWake() {
      this.wakes++;
      return 0;
    },
  };
}

describe('cross-process memory registry', () => {
  it('is one per process, on globalThis, so that every bundle copy of the module (bootstrap and image) sees the same marks', () => {
    const sab = new SharedArrayBuffer(8);
    const futex = countingFutex();
    markCrossProcess(sab, futex);
    const shared = (globalThis as Record<symbol, unknown>)[Symbol.for(REGISTRY_KEY)] as WeakMap<SharedArrayBuffer, FutexOps>;
    expect(shared.get(sab)).toBe(futex);
    expect(crossesProcesses(sab)).toBe(true);
    expect(crossProcessFutex(sab)).toBe(futex);
    expect(crossesProcesses(new SharedArrayBuffer(8))).toBe(false);
  });

  it('makes a Doorbell on such memory wait and wake with the futex, and one on other memory with Atomics', () => {
    const sab = new SharedArrayBuffer(8);
    const futex = countingFutex();
    // Marked through the registry as another bundle's copy of the module would.
    ((globalThis as Record<symbol, unknown>)[Symbol.for(REGISTRY_KEY)] as WeakMap<SharedArrayBuffer, FutexOps>).set(sab, futex);
    const bell = new Doorbell(new Int32Array(sab), 1);
    bell.ring();
    expect(bell.wait(bell.sequence(), 1)).toBe('timed-out');
    expect([futex.wakes, futex.waits]).toEqual([1, 1]);
    const local = new Doorbell(new Int32Array(new SharedArrayBuffer(8)), 0);
    local.ring();
    expect(local.wait(local.sequence(), 1)).toBe('timed-out');
    expect([futex.wakes, futex.waits]).toEqual([1, 1]);
  });
});
