import { describe, expect, it } from 'vitest';
import { Doorbell, SpinThenWait } from '../../../src/virtio/doorbell.ts';

describe('doorbell', () => {
  it('a ring between reading the sequence and waiting is not lost', () => {
    const bell = new Doorbell(new Int32Array(new SharedArrayBuffer(8)), 1);
    const seen = bell.sequence();
    bell.ring();
    expect(bell.wait(seen, 1000)).toBe('not-equal');
    expect(bell.sequence()).toBe(seen + 1);
  });

  it('times out when nobody rings', () => {
    const bell = new Doorbell(new Int32Array(new SharedArrayBuffer(8)), 0);
    expect(bell.wait(bell.sequence(), 5)).toBe('timed-out');
  });
});

describe('spin then wait', () => {
  it('asks to sleep after the configured number of empty polls, and busy resets it', () => {
    const s = new SpinThenWait(3);
    expect([s.idle(), s.idle(), s.idle()]).toEqual([false, false, true]);
    expect(s.idle()).toBe(false);
    s.busy();
    expect([s.idle(), s.idle(), s.idle()]).toEqual([false, false, true]);
  });
});
