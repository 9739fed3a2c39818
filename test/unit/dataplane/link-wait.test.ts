import { describe, expect, it } from 'vitest';
import type { Link } from '../../../src/dataplane/links/link.ts';
import { waitOnLinks } from '../../../src/dataplane/links/link-wait.ts';
import { Doorbell } from '../../../src/virtio/doorbell.ts';

/** A link whose rx/tx readiness the test sets, recording what was armed. */
function link(state: { rx: boolean; tx: boolean }) {
  const armed = { rx: 0, tx: 0, disarmed: 0 };
  const l: Link = {
    txRoom: () => (state.tx ? 1 : 0),
    receive: () => 0,
    transmit: () => 0,
    armRx: () => (armed.rx++, state.rx),
    disarmRx: () => void armed.disarmed++,
    armTx: () => (armed.tx++, state.tx),
    disarmTx: () => void armed.disarmed++,
    hasRx: () => state.rx,
    waitForRx: () => state.rx,
  };
  return { l, armed };
}

describe('waitOnLinks', () => {
  const bell = () => new Doorbell(new Int32Array(new SharedArrayBuffer(4)), 0);

  it('arms only what the masks name, and returns at once when one of them is ready', () => {
    const a = link({ rx: true, tx: false });
    const b = link({ rx: false, tx: true });
    // Link 0's frames are held back (not in rxMask): they must not end the sleep; link 1's room does.
    const t0 = performance.now();
    expect(waitOnLinks([a.l, b.l], bell(), 0b10, 0b10, 5000)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(a.armed).toEqual({ rx: 0, tx: 0, disarmed: 0 });
    expect(b.armed).toEqual({ rx: 1, tx: 1, disarmed: 2 });
  });

  it('sleeps until the timeout when nothing it armed is ready, even with frames held back', () => {
    const a = link({ rx: true, tx: false });
    const b = link({ rx: false, tx: false });
    const t0 = performance.now();
    expect(waitOnLinks([a.l, b.l], bell(), 0b10, 0b10, 30)).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('returns true when the line was rung between arming and sleeping (no lost wake-up)', () => {
    const quiet = link({ rx: false, tx: false });
    const irq = bell();
    // The peer takes frames right after the arm looked: its ring must end the sleep at once.
    const l: Link = { ...quiet.l, armTx: () => (irq.ring(), false) };
    const t0 = performance.now();
    expect(waitOnLinks([quiet.l, l], irq, 0, 0b10, 5000)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
