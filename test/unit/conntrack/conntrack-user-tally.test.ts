import { describe, expect, it } from 'vitest';
import { ConntrackTable } from '../../../src/conntrack/conntrack-table.ts';
import { CtDir, IpProto, TcpFlag } from '../../../src/conntrack/conntrack-state.ts';

const C = 0xc6120001;
const S = 0xc6120102;
const SEC = 1000;

function open(t: ConntrackTable, sport: number, backend: number, now: number): number {
  const e = t.createFlow(IpProto.TCP, C, S, sport, 80, now);
  t.setUser(e, 0, backend);
  t.update(e, CtDir.ORIGINAL, TcpFlag.SYN, now);
  return e;
}

describe('ConntrackTable userTally (live entries by user value 0)', () => {
  it('counts entries by user value and forgets them on delete, expiry, eviction and flush', () => {
    const tally = new Float64Array(3);
    const t = new ConntrackTable({ capacity: 4, seed: 1, userTally: tally, fullScan: 4, timeouts: { tcpSynSent: 10 } });
    const a = open(t, 1000, 0, 0);
    open(t, 1001, 1, 0);
    const c = open(t, 1002, 1, 0);
    expect([...tally]).toEqual([1, 2, 0]);
    t.setUser(c, 0, 2);
    expect([...tally]).toEqual([1, 1, 1]);
    t.setUser(c, 0, 7); // beyond the tally: not counted
    expect([...tally]).toEqual([1, 1, 0]);
    t.setUser(c, 0, 2);
    t.delete(a);
    expect([...tally]).toEqual([0, 1, 1]);
    expect(t.expire(11 * SEC, 4)).toBe(2);
    expect([...tally]).toEqual([0, 0, 0]);
    // Full table, an unconfirmed entry evicted for a new one: its count goes with it.
    for (let p = 0; p < 4; p++) open(t, 2000 + p, p % 3, 20 * SEC);
    expect(tally.reduce((x, y) => x + y)).toBe(4);
    const e = open(t, 3000, 0, 21 * SEC);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(tally.reduce((x, y) => x + y)).toBe(4);
    t.flush();
    expect([...tally]).toEqual([0, 0, 0]);
  });

  it('keeps an entry counted when a SYN reuses its closed tuple (the state machine clears the status byte)', () => {
    const tally = new Float64Array(2);
    const t = new ConntrackTable({ capacity: 4, seed: 1, userTally: tally });
    const e = open(t, 1000, 1, 0);
    t.update(e, CtDir.ORIGINAL, TcpFlag.RST | TcpFlag.ACK, 1);
    t.update(e, CtDir.ORIGINAL, TcpFlag.SYN, 2);
    expect([...tally]).toEqual([0, 1]);
    t.delete(e);
    expect([...tally]).toEqual([0, 0]);
  });
});
