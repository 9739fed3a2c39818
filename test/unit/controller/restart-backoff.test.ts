import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { RestartBackoff } from '../../../src/controller/restart-backoff.ts';

/** Fails each replacement as soon as it may boot, `rounds` times; returns the waits imposed. */
function crashLoop(backoff: RestartBackoff, rounds: number, start = 0): { waits: number[]; end: number } {
  const waits: number[] = [];
  let now = start;
  for (let i = 0; i < rounds; i++) {
    const s = backoff.fail(now);
    waits.push(s.delayMs);
    now = s.restartAt + 5;
  }
  return { waits, end: now };
}

describe('restart back-off', () => {
  it('doubles the wait from the base for each failed restart in a row, up to the cap', () => {
    const backoff = new RestartBackoff({ baseMs: 100, maxMs: 30_000 });
    expect(crashLoop(backoff, 12).waits).toEqual([100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000]);
    expect(backoff.state(0)).toMatchObject({ failures: 12, delayMs: 30_000 });
  });

  it('keeps replacements waiting until the wait is over', () => {
    const backoff = new RestartBackoff({ baseMs: 100 });
    expect(backoff.waitMs(0)).toBe(0);
    expect(backoff.fail(1000)).toEqual({ failures: 1, delayMs: 100, restartAt: 1100 });
    expect(backoff.waitMs(1000)).toBe(100);
    expect(backoff.waitMs(1060)).toBe(40);
    expect(backoff.waitMs(1100)).toBe(0);
    expect(backoff.fail(1100)).toEqual({ failures: 2, delayMs: 200, restartAt: 1300 });
    expect(backoff.waitMs(1299)).toBe(1);
  });

  it('counts failures during a wait without lengthening it (instances of one round)', () => {
    const backoff = new RestartBackoff({ baseMs: 100 });
    backoff.fail(0);
    expect(backoff.fail(10)).toEqual({ failures: 2, delayMs: 100, restartAt: 100 });
    expect(backoff.fail(99)).toEqual({ failures: 3, delayMs: 100, restartAt: 100 });
    expect(backoff.fail(100)).toEqual({ failures: 4, delayMs: 200, restartAt: 300 });
  });

  it('forgets the failures once the replacement stayed healthy for the reset time, and not before', () => {
    const backoff = new RestartBackoff({ baseMs: 100, resetAfterMs: 10_000 });
    const { end } = crashLoop(backoff, 3);
    const last = backoff.state(end);
    expect(last).toMatchObject({ failures: 3, delayMs: 400 });
    // Healthy since the wait ended (the replacement booted then).
    expect(backoff.failing(last.restartAt + 9_999)).toBe(true);
    expect(backoff.state(last.restartAt + 9_999).failures).toBe(3);
    expect(backoff.failing(last.restartAt + 10_000)).toBe(false);
    expect(backoff.state(last.restartAt + 10_000)).toEqual({ failures: 0, delayMs: 0, restartAt: 0 });
    expect(backoff.fail(last.restartAt + 20_000)).toMatchObject({ failures: 1, delayMs: 100 });
  });

  it('asks twice a long wait as proof of health when that exceeds the reset time', () => {
    const backoff = new RestartBackoff({ baseMs: 100, maxMs: 30_000, resetAfterMs: 10_000 });
    crashLoop(backoff, 10);
    const { restartAt, delayMs } = backoff.state(0);
    expect(delayMs).toBe(30_000);
    expect(backoff.failing(restartAt + 59_999)).toBe(true);
    expect(backoff.fail(restartAt + 59_999).delayMs).toBe(30_000);
    const again = backoff.state(restartAt + 59_999);
    expect(backoff.failing(again.restartAt + 60_000)).toBe(false);
  });

  it('counts the reset time from the end of the wait, whatever failed during it', () => {
    const backoff = new RestartBackoff({ baseMs: 100, resetAfterMs: 1000 });
    backoff.fail(0);
    backoff.fail(90);
    expect(backoff.failing(100 + 999)).toBe(true);
    expect(backoff.failing(100 + 1000)).toBe(false);
  });

  it('reset() forgets at once', () => {
    const backoff = new RestartBackoff();
    crashLoop(backoff, 4);
    backoff.reset();
    expect(backoff.failing(0)).toBe(false);
    expect(backoff.waitMs(0)).toBe(0);
    expect(backoff.fail(0).delayMs).toBe(100);
  });

  it('refuses settings that cannot back off', () => {
    expect(() => new RestartBackoff({ baseMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => new RestartBackoff({ baseMs: 200, maxMs: 100 })).toThrow(InvalidArgumentError);
    expect(() => new RestartBackoff({ resetAfterMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => new RestartBackoff({ baseMs: Number.NaN })).toThrow(InvalidArgumentError);
  });

  it('never lets a replacement boot sooner than the base after a failure, nor later than the cap', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 60 }), (gaps) => {
        const backoff = new RestartBackoff({ baseMs: 50, maxMs: 2000, resetAfterMs: 3000 });
        let now = 0;
        for (const gap of gaps) {
          now += gap;
          const before = backoff.state(now);
          const s = backoff.fail(now);
          expect(s.delayMs).toBeGreaterThanOrEqual(50);
          expect(s.delayMs).toBeLessThanOrEqual(2000);
          expect(s.restartAt - now).toBeLessThanOrEqual(2000);
          // A new round waits at least the base from now; a failure inside a wait keeps it.
          if (before.failures > 0 && now < before.restartAt) expect(s.restartAt).toBe(before.restartAt);
          else expect(s.restartAt - now).toBeGreaterThanOrEqual(50);
          expect(backoff.failing(now)).toBe(true);
        }
      }),
    );
  });
});
