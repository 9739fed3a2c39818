import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NULL_PORT, type ChainPort } from '../../../src/dataplane/chain-port.ts';
import { PumpLoop, type Pumpable } from '../../../src/dataplane/pump-loop.ts';

/**
 * The loop reads `performance.now()`; the tests drive it with a clock that advances only
 * when the fake target pumps (10 µs a pass), so slice lengths and idle spans are exact
 * whatever the machine's load.
 */
let fakeNow = 1000;
const PASS_MS = 0.01;

beforeEach(() => {
  fakeNow = 1000;
  vi.spyOn(performance, 'now').mockImplementation(() => fakeNow);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A pending `waitForWork`: resolves only when the test says so. */
interface Sleep {
  readonly timeoutMs: number;
  readonly resolve: () => void;
  settled: boolean;
}

class FakeTarget implements Pumpable {
  linkMode: 'host' | 'direct' = 'host';
  pumps = 0;
  wakeAlls = 0;
  inFlight = false;
  /** Frames the next pumps move (one each). */
  work = 0;
  readonly sleeps: Sleep[] = [];
  readonly args: Array<[ChainPort, ChainPort]> = [];
  onPump: (() => void) | undefined;

  pump(inside: ChainPort, outside: ChainPort): number {
    this.pumps++;
    if (this.args.length < 4) this.args.push([inside, outside]);
    fakeNow += PASS_MS;
    this.onPump?.();
    if (this.work > 0) {
      this.work--;
      return 1;
    }
    return 0;
  }

  waitForWork(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const sleep: Sleep = {
        timeoutMs,
        settled: false,
        resolve: () => {
          sleep.settled = true;
          resolve();
        },
      };
      this.sleeps.push(sleep);
    });
  }

  wakeAll(): void {
    this.wakeAlls++;
  }

  hasFramesInFlight(): boolean {
    return this.inFlight;
  }

  /** Sleeps not yet resolved: one per running chain of slices. */
  pending(): number {
    return this.sleeps.filter((s) => !s.settled).length;
  }
}

/** Lets the event loop run (timers, immediates, promise jobs). */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Runs the event loop until `cond` holds; fails after `timeoutMs` of real time (generous). */
async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const inside: ChainPort = { ...NULL_PORT };
const outside: ChainPort = { ...NULL_PORT };

describe('PumpLoop', () => {
  it('does nothing until started, then pumps the ports in slices that yield to the event loop', async () => {
    const target = new FakeTarget();
    target.work = 1e9; // never idle: it keeps slicing
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 1, spinMs: 0.5 });
    await turn();
    expect(target.pumps).toBe(0);
    loop.start();
    expect(target.pumps).toBe(0); // the first slice is scheduled, not run inline
    await until(() => target.pumps > 0, 'a pump');
    expect(target.args[0][0]).toBe(inside);
    expect(target.args[0][1]).toBe(outside);
    // A timer fires between slices, and pumping goes on after it.
    let fired = false;
    setTimeout(() => (fired = true), 0);
    await until(() => fired, 'a timer between slices');
    const at = target.pumps;
    await until(() => target.pumps > at + 500, 'more slices');
    expect(target.sleeps).toHaveLength(0);
    await loop.stop();
  });

  it('ends a slice after sliceMs of pumping', async () => {
    const target = new FakeTarget();
    target.inFlight = true;
    const perSlice: number[] = [];
    let slice = 0;
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 2, spinMs: 1000 });
    target.onPump = () => (perSlice[slice] = (perSlice[slice] ?? 0) + 1);
    loop.start();
    for (slice = 0; slice < 4; slice++) {
      const before = target.pumps;
      await until(() => target.pumps > before, `slice ${slice}`);
    }
    await loop.stop();
    // 2 ms of 10 µs passes, checked every 16 passes: 208 passes (the first check at ≥ 2 ms).
    for (const n of perSlice.slice(0, 3)) expect(n).toBe(208);
  });

  it('sleeps on the target (waitForWork with idlePollMs) after spinMs without movement, and pumps nothing while asleep', async () => {
    const target = new FakeTarget();
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 5, spinMs: 0.5, idlePollMs: 7 });
    loop.start();
    await until(() => target.sleeps.length === 1, 'a sleep');
    expect(target.sleeps[0].timeoutMs).toBe(7);
    // Idle for 0.5 ms of 10 µs passes, checked every 16 passes: 64 passes.
    expect(target.pumps).toBe(64);
    const asleep = target.pumps;
    for (let i = 0; i < 20; i++) await turn();
    expect(target.pumps).toBe(asleep);
    expect(target.sleeps).toHaveLength(1);

    // The interrupt rings (the promise settles): it pumps again, then sleeps again.
    target.work = 100;
    target.sleeps[0].resolve();
    await until(() => target.sleeps.length === 2, 'the next sleep');
    expect(target.work).toBe(0);
    expect(target.pumps).toBeGreaterThan(asleep + 100);
    expect(target.pending()).toBe(1);
    await loop.stop();
  });

  it('keeps pumping while frames are moving', async () => {
    const target = new FakeTarget();
    target.work = 5000; // 50 ms of moving frames, 10 slices
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 5, spinMs: 0.5 });
    loop.start();
    await until(() => target.sleeps.length === 1, 'a sleep after the work');
    expect(target.work).toBe(0);
    // It slept only once the work was done and spinMs passed without movement.
    expect(target.pumps).toBeGreaterThanOrEqual(5000 + 50);
    expect(target.pumps).toBeLessThanOrEqual(5000 + 50 + 16);
    await loop.stop();
  });

  it('polls within a slice while frames are in flight, and sleeps on the interrupt at the end of a slice in which nothing moved, in flight or not', async () => {
    const target = new FakeTarget();
    target.inFlight = true;
    const perSlice: number[] = [];
    let slice = 0;
    target.onPump = () => (perSlice[slice] = (perSlice[slice] ?? 0) + 1);
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 2, spinMs: 0.5, idlePollMs: 3 });
    loop.start();
    await until(() => target.sleeps.length === 1, 'a sleep with frames in flight');
    // Whole slices were pumped (2 ms of 10 µs passes each), none cut short at spinMs.
    expect(perSlice[0] % 208).toBe(0);
    expect(target.sleeps[0].timeoutMs).toBe(3);
    // Nothing in flight: the slice ends as soon as spinMs passed without movement.
    target.inFlight = false;
    slice = 1;
    target.sleeps[0].resolve();
    await until(() => target.sleeps.length === 2, 'the next sleep');
    expect(perSlice[1]).toBeGreaterThan(0);
    expect(perSlice[1]).toBeLessThanOrEqual(64);
    await loop.stop();
  });

  it('over direct links, frames in flight do not keep it polling: it sleeps after spinMs without movement', async () => {
    const target = new FakeTarget();
    target.linkMode = 'direct';
    target.inFlight = true;
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 5, spinMs: 0.5, idlePollMs: 3 });
    loop.start();
    await until(() => target.sleeps.length === 1, 'a sleep with frames in flight');
    // As with nothing in flight: 0.5 ms of 10 µs passes, checked every 16 passes.
    expect(target.pumps).toBe(64);
    expect(target.sleeps[0].timeoutMs).toBe(3);
    // Frames moving keep it pumping as before.
    target.work = 100;
    target.sleeps[0].resolve();
    await until(() => target.sleeps.length === 2, 'the next sleep');
    expect(target.work).toBe(0);
    expect(target.pumps).toBeGreaterThanOrEqual(64 + 100 + 50);
    await loop.stop();
  });

  it('wake() resumes a sleeping loop at once (no wait for the interrupt) and ignores the late resolution', async () => {
    const target = new FakeTarget();
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 5, spinMs: 0.5, idlePollMs: 1 });
    loop.start();
    await until(() => target.sleeps.length === 1, 'a sleep');
    const asleep = target.pumps;
    target.work = 10;
    loop.wake();
    expect(target.wakeAlls).toBe(1); // the target's own sleep is cut short too
    // The sleep promise never settles by itself here: pumping resumes on wake alone.
    await until(() => target.pumps > asleep, 'a pump after wake');
    expect(target.sleeps[0].settled).toBe(false);
    await until(() => target.sleeps.length === 2, 'the next sleep');
    expect(target.work).toBe(0);
    // The first sleep settling late must not start a second chain of slices.
    const pumps = target.pumps;
    target.sleeps[0].resolve();
    for (let i = 0; i < 20; i++) await turn();
    expect(target.pumps).toBe(pumps);
    expect(target.sleeps).toHaveLength(2);
    expect(target.pending()).toBe(1);
    await loop.stop();
  });

  it('wake() is a no-op while pumping or when not running', async () => {
    const target = new FakeTarget();
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 5, spinMs: 0.5 });
    loop.wake();
    expect(target.wakeAlls).toBe(0);
    await turn();
    expect(target.pumps).toBe(0);
    loop.start();
    loop.wake(); // a slice is already scheduled
    expect(target.wakeAlls).toBe(0);
    await until(() => target.sleeps.length === 1, 'a sleep');
    for (let i = 0; i < 10; i++) await turn();
    expect(target.pending()).toBe(1); // one chain
    await loop.stop();
  });

  it('start() twice runs one chain of slices', async () => {
    const target = new FakeTarget();
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 5, spinMs: 0.5 });
    loop.start();
    loop.start();
    await until(() => target.sleeps.length >= 1, 'a sleep');
    for (let i = 0; i < 10; i++) await turn();
    expect(target.sleeps).toHaveLength(1);
    expect(target.pumps).toBe(64);
    await loop.stop();
  });

  it('stop() resolves, wakes the target, and no pump runs after it (busy loop)', async () => {
    const target = new FakeTarget();
    target.work = 1e9;
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 1, spinMs: 0.5 });
    loop.start();
    await until(() => target.pumps > 1000, 'pumping');
    await loop.stop();
    expect(target.wakeAlls).toBe(1);
    const pumps = target.pumps;
    for (let i = 0; i < 20; i++) await turn();
    expect(target.pumps).toBe(pumps);
    expect(target.sleeps).toHaveLength(0);
    // Stopping again, or a loop never started, resolves at once.
    await loop.stop();
    await new PumpLoop(target, inside, outside).stop();
    expect(target.wakeAlls).toBe(1);
  });

  it('stop() while asleep: the sleep settling afterwards pumps nothing', async () => {
    const target = new FakeTarget();
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 5, spinMs: 0.5 });
    loop.start();
    await until(() => target.sleeps.length === 1, 'a sleep');
    await loop.stop();
    const pumps = target.pumps;
    target.work = 10;
    target.sleeps[0].resolve();
    for (let i = 0; i < 20; i++) await turn();
    expect(target.pumps).toBe(pumps);
    loop.wake();
    await turn();
    expect(target.pumps).toBe(pumps);
  });

  it('stop() called from inside a pump: nothing pumps after it resolves', async () => {
    const target = new FakeTarget();
    target.inFlight = true;
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 1, spinMs: 0.5 });
    let stopping: Promise<void> | undefined;
    target.onPump = () => {
      if (target.pumps === 50) stopping = loop.stop();
    };
    loop.start();
    await until(() => stopping !== undefined, 'the stop');
    await stopping;
    const pumps = target.pumps;
    for (let i = 0; i < 20; i++) await turn();
    expect(target.pumps).toBe(pumps);
  });

  it('started again after a stop() from inside a pump, runs one chain of slices', async () => {
    const target = new FakeTarget();
    target.inFlight = true;
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 1, spinMs: 0.5 });
    let stopping: Promise<void> | undefined;
    target.onPump = () => {
      if (target.pumps === 50) stopping = loop.stop();
    };
    loop.start();
    await until(() => stopping !== undefined, 'the stop');
    await stopping;
    target.onPump = undefined;
    target.inFlight = false;
    loop.start();
    await until(() => target.sleeps.length >= 1, 'a sleep after the restart');
    for (let i = 0; i < 20; i++) await turn();
    expect(target.sleeps).toHaveLength(1);
    await loop.stop();
  });

  it('can be started again after stop() and runs one chain of slices', async () => {
    const target = new FakeTarget();
    const loop = new PumpLoop(target, inside, outside, { sliceMs: 5, spinMs: 0.5 });
    loop.start();
    await until(() => target.sleeps.length === 1, 'a sleep');
    await loop.stop();
    loop.start();
    await until(() => target.sleeps.length === 2, 'a sleep after the restart');
    // The sleep from before the stop settles late: it must not add a second chain.
    target.sleeps[0].resolve();
    for (let i = 0; i < 20; i++) await turn();
    expect(target.pending()).toBe(1);
    expect(target.sleeps).toHaveLength(2);
    // wake() resumes the one chain; the sleep it cut short settling late adds nothing.
    loop.wake();
    await until(() => target.sleeps.length === 3, 'a sleep after the wake');
    target.sleeps[1].resolve();
    for (let i = 0; i < 20; i++) await turn();
    expect(target.sleeps).toHaveLength(3);
    expect(target.pending()).toBe(1);
    await loop.stop();
  });
});
