import { describe, expect, it } from 'vitest';
import { FlowDispatcher, NO_INSTANCE } from '../../src/dataplane/flow-dispatcher.ts';

const TCP = 6;
interface Tuple {
  s: number;
  d: number;
  sp: number;
  dp: number;
}

function tuples(n: number, seed = 1): Tuple[] {
  let x = seed >>> 0;
  const rnd = (): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
  return Array.from({ length: n }, () => ({ s: 0xc6120000 + (rnd() & 0xffff), d: 0xc6130000 + (rnd() & 0xff), sp: 1024 + (rnd() % 60000), dp: [80, 443, 53][rnd() % 3] }));
}

describe('FlowDispatcher', () => {
  it('sends both directions of every flow to the same instance', () => {
    const d = new FlowDispatcher(['a', 'b', 'c', 'd']);
    const fresh = new FlowDispatcher(['a', 'b', 'c', 'd']);
    for (const t of tuples(5000)) {
      const out = d.dispatch(t.s, t.d, t.sp, t.dp, TCP);
      expect(out).toBeGreaterThanOrEqual(0);
      expect(d.dispatch(t.d, t.s, t.dp, t.sp, TCP)).toBe(out);
      expect(fresh.dispatch(t.d, t.s, t.dp, t.sp, TCP)).toBe(out);
    }
    expect(d.pinnedHits).toBe(5000);
  });

  it('balances new flows over the instances within a few percent', () => {
    const d = new FlowDispatcher(['i0', 'i1', 'i2', 'i3', 'i4'], { flowCapacity: 1 << 17 });
    const n = 100_000;
    const counts = [0, 0, 0, 0, 0];
    for (const t of tuples(n, 7)) counts[d.dispatch(t.s, t.d, t.sp, t.dp, TCP)]++;
    for (const c of counts) expect(Math.abs(c / (n / 5) - 1)).toBeLessThan(0.04);
  });

  it('keeps pinned flows where they are when an instance is added or drained; a drained instance gets no new flows', () => {
    const d = new FlowDispatcher(['a', 'b', 'c']);
    const old = tuples(3000, 3);
    const where = old.map((t) => d.dispatch(t.s, t.d, t.sp, t.dp, TCP));
    const e = d.addInstance('e');
    old.forEach((t, i) => expect(d.dispatch(t.d, t.s, t.dp, t.sp, TCP)).toBe(where[i]));
    const newer = tuples(3000, 4).map((t) => d.dispatch(t.s, t.d, t.sp, t.dp, TCP));
    expect(newer.filter((i) => i === e).length).toBeGreaterThan(500);

    d.drainInstance('a');
    expect(d.isActive('a')).toBe(false);
    old.forEach((t, i) => expect(d.dispatch(t.s, t.d, t.sp, t.dp, TCP)).toBe(where[i]));
    const afterDrain = tuples(3000, 5).map((t) => d.dispatch(t.s, t.d, t.sp, t.dp, TCP));
    expect(afterDrain).not.toContain(0);
    expect(d.pinnedFlows[0]).toBe(where.filter((i) => i === 0).length + newer.filter((i) => i === 0).length);

    for (const t of old) d.release(t.s, t.d, t.sp, t.dp, TCP);
    old.forEach((t) => expect(d.dispatch(t.d, t.s, t.dp, t.sp, TCP)).not.toBe(0));
  });

  it('refuses new flows when every instance is drained and dispatches unpinned when the table is full', () => {
    const d = new FlowDispatcher(['a'], { flowCapacity: 4 });
    const ts = tuples(10, 9);
    for (const t of ts) expect(d.dispatch(t.s, t.d, t.sp, t.dp, TCP)).toBe(0);
    expect(d.unpinned).toBe(6);
    d.drainInstance('a');
    const fresh = tuples(1, 11)[0];
    expect(d.dispatch(fresh.s, fresh.d, fresh.sp, fresh.dp, TCP)).toBe(NO_INSTANCE);
    expect(d.noInstance).toBe(1);
    expect(d.dispatch(ts[0].d, ts[0].s, ts[0].dp, ts[0].sp, TCP)).toBe(0);
  });
});
