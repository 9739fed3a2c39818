import { describe, expect, it } from 'vitest';
import {
  CT_CLASH,
  CT_MISS,
  CT_REFUSED_FULL,
  ConntrackTable,
  ctDir,
  ctEntry,
} from '../../../src/conntrack/conntrack-table.ts';
import { CtCounter, conntrackCounterSnapshot } from '../../../src/conntrack/conntrack-counters.ts';
import { CtDir, CtState, CtStatus, IpProto, TcpFlag } from '../../../src/conntrack/conntrack-state.ts';
import { DEFAULT_CONNTRACK_TIMEOUTS, timeoutsByState } from '../../../src/conntrack/conntrack-timeouts.ts';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';

const { SYN, ACK, FIN } = TcpFlag;
const O = CtDir.ORIGINAL;
const R = CtDir.REPLY;
const C = 0xc6120001;
const S = 0xc6120102;
const NAT = 0xc613fffe;
const SEC = 1000;

function established(table: ConntrackTable, sport: number, now: number): number {
  const e = table.createFlow(IpProto.TCP, C, S, sport, 80, now);
  table.update(e, O, SYN, now);
  table.update(e, R, SYN | ACK, now);
  table.update(e, O, ACK, now);
  expect(table.state(e)).toBe(CtState.TCP_ESTABLISHED);
  return e;
}

describe('ConntrackTable lookups', () => {
  it('finds a translated (NAT) connection from either direction', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 7 });
    const e = t.create(IpProto.TCP, C, S, 40000, 80, S, NAT, 80, 61000, 0);
    const o = t.lookup(IpProto.TCP, C, S, 40000, 80, 1);
    const r = t.lookup(IpProto.TCP, S, NAT, 80, 61000, 1);
    expect([ctEntry(o), ctDir(o)]).toEqual([e, O]);
    expect([ctEntry(r), ctDir(r)]).toEqual([e, R]);
    expect(t.lookup(IpProto.TCP, S, C, 80, 40000, 1)).toBe(CT_MISS);
    expect(t.lookup(IpProto.UDP, C, S, 40000, 80, 1)).toBe(CT_MISS);
    expect([t.srcIp(e, R), t.dstIp(e, R), t.srcPort(e, R), t.dstPort(e, R)]).toEqual([S, NAT, 80, 61000]);
    expect([t.srcIp(e, O), t.dstIp(e, O), t.srcPort(e, O), t.dstPort(e, O)]).toEqual([C, S, 40000, 80]);
    expect(t.counters[CtCounter.LOOKUP_HIT]).toBe(2);
    expect(t.counters[CtCounter.LOOKUP_MISS]).toBe(2);
  });

  it('accepts signed 32-bit addresses as read by DataView.getInt32', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 1 });
    const e = t.createFlow(IpProto.UDP, 0xc0000201 | 0, 0xfffffffe, 53, 53000, 0);
    expect(ctEntry(t.lookup(IpProto.UDP, 0xc0000201, 0xfffffffe | 0, 53, 53000, 0))).toBe(e);
    expect(t.srcIp(e, O)).toBe(0xc0000201);
  });

  it('tracks ICMP echo with the identifier as both ports', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 1 });
    const e = t.createFlow(IpProto.ICMP, C, S, 0x1234, 0x1234, 0);
    const reply = t.lookup(IpProto.ICMP, S, C, 0x1234, 0x1234, 10);
    expect([ctEntry(reply), ctDir(reply)]).toEqual([e, R]);
    expect(t.update(e, R, 0, 10)).toBe(CtState.ICMP_REPLIED);
    expect(t.lookup(IpProto.ICMP, S, C, 0x1235, 0x1235, 10)).toBe(CT_MISS);
  });

  it('refuses a second connection with the same original or reply tuple', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 7 });
    expect(t.create(IpProto.UDP, C, S, 1000, 53, S, NAT, 53, 2000, 0)).toBe(0);
    expect(t.createFlow(IpProto.UDP, C, S, 1000, 53, 0)).toBe(CT_CLASH);
    expect(t.create(IpProto.UDP, C + 1, S, 1000, 53, S, NAT, 53, 2000, 0)).toBe(CT_CLASH);
    expect(t.createFlow(IpProto.UDP, S, NAT, 53, 2000, 0)).toBe(CT_CLASH);
    expect(t.createFlow(IpProto.UDP, C, C, 7, 7, 0)).toBe(CT_CLASH);
    expect(t.counters[CtCounter.CLASH]).toBe(4);
    expect(t.size).toBe(1);
  });

  it('stores two user values per entry, zeroed on creation', () => {
    const t = new ConntrackTable({ capacity: 2, seed: 7 });
    const e = t.createFlow(IpProto.UDP, C, S, 1, 2, 0);
    t.setUser(e, 0, 0xffffffff);
    t.setUser(e, 1, 42);
    expect([t.user(e, 0), t.user(e, 1)]).toEqual([0xffffffff, 42]);
    t.delete(e);
    const f = t.createFlow(IpProto.UDP, C, S, 3, 4, 0);
    expect(f).toBe(e);
    expect([t.user(f, 0), t.user(f, 1)]).toEqual([0, 0]);
  });

  it('keeps the fields of every entry apart in a full table', () => {
    const t = new ConntrackTable({ capacity: 64, seed: 5 });
    const es: number[] = [];
    for (let i = 0; i < 64; i++) {
      const proto = i % 2 === 0 ? IpProto.TCP : IpProto.UDP;
      const e = t.create(proto, 0xc6120000 + i, 0xfffffff0 - i, 1000 + i, 80, 0xc6130000 + i, 0x80000000 + i, 8080, 2000 + i, i);
      t.setUser(e, 0, 0xfffffff0 + (i & 15));
      t.setUser(e, 1, i);
      t.update(e, O, i % 2 === 0 ? SYN : 0, i * 10);
      es.push(e);
    }
    for (let i = 0; i < 64; i++) {
      const e = es[i];
      expect([t.srcIp(e, O), t.dstIp(e, O), t.srcPort(e, O), t.dstPort(e, O)]).toEqual([0xc6120000 + i, 0xfffffff0 - i, 1000 + i, 80]);
      expect([t.srcIp(e, R), t.dstIp(e, R), t.srcPort(e, R), t.dstPort(e, R)]).toEqual([0xc6130000 + i, 0x80000000 + i, 8080, 2000 + i]);
      expect([t.user(e, 0), t.user(e, 1), t.protocol(e)]).toEqual([0xfffffff0 + (i & 15), i, i % 2 === 0 ? IpProto.TCP : IpProto.UDP]);
      expect(t.state(e)).toBe(i % 2 === 0 ? CtState.TCP_SYN_SENT : CtState.UDP_UNREPLIED);
      expect(t.expiresAt(e)).toBe(i * 10 + timeoutsByState()[t.state(e)]);
      expect(ctEntry(t.lookup(i % 2 === 0 ? IpProto.TCP : IpProto.UDP, 0xc6130000 + i, 0x80000000 + i, 8080, 2000 + i, i * 10))).toBe(e);
    }
  });

  it('keeps every other entry reachable while entries are deleted (backward-shift deletion)', () => {
    const t = new ConntrackTable({ capacity: 256, seed: 99 });
    const entries: number[] = [];
    for (let i = 0; i < 256; i++) entries.push(t.createFlow(IpProto.UDP, C, S, i, 53, 0));
    expect(t.size).toBe(256);
    for (let i = 0; i < 256; i += 3) expect(t.delete(entries[i])).toBe(true);
    for (let i = 0; i < 256; i++) {
      const expected = i % 3 === 0 ? CT_MISS : entries[i] * 2;
      expect(t.lookup(IpProto.UDP, C, S, i, 53, 1)).toBe(expected);
      expect(t.lookup(IpProto.UDP, S, C, 53, i, 1)).toBe(i % 3 === 0 ? CT_MISS : entries[i] * 2 + 1);
    }
    expect(t.delete(entries[0])).toBe(false);
    expect(t.delete(1.5)).toBe(false);
    expect(t.delete(-1)).toBe(false);
    expect(t.delete(256)).toBe(false);
    expect(t.counters[CtCounter.DELETED]).toBe(86);
  });

  it('validates its options', () => {
    expect(() => new ConntrackTable({ capacity: 100 })).toThrow(InvalidArgumentError);
    expect(() => new ConntrackTable({ capacity: 1 })).toThrow(InvalidArgumentError);
    expect(() => new ConntrackTable({ capacity: 1 << 23 })).toThrow(InvalidArgumentError);
    expect(() => new ConntrackTable({ capacity: 8, fullScan: 9 })).toThrow(InvalidArgumentError);
    expect(() => new ConntrackTable({ capacity: 8, counters: new Float64Array(2) })).toThrow(InvalidArgumentError);
    expect(() => new ConntrackTable({ capacity: 8, timeouts: { udpAssured: -1 } })).toThrow(InvalidArgumentError);
    expect(() => new ConntrackTable({ capacity: 8, timeouts: { bogus: 1 } as never })).toThrow(/unknown conntrack timeout/);
  });

  it('counts into caller-provided storage', () => {
    const shared = new Float64Array(new SharedArrayBuffer(8 * 16), 8, 9);
    const t = new ConntrackTable({ capacity: 4, counters: shared });
    t.createFlow(IpProto.UDP, C, S, 1, 2, 0);
    expect(shared[CtCounter.CREATED]).toBe(1);
    expect(conntrackCounterSnapshot(t.counters).created).toBe(1);
  });
});

describe('ConntrackTable timeouts (injected clock)', () => {
  it('uses the documented defaults', () => {
    const ms = timeoutsByState();
    expect(ms[CtState.TCP_ESTABLISHED]).toBe(7200 * SEC);
    expect(ms[CtState.TCP_SYN_SENT]).toBe(60 * SEC);
    expect(ms[CtState.TCP_TIME_WAIT]).toBe(120 * SEC);
    expect(ms[CtState.TCP_CLOSE]).toBe(10 * SEC);
    expect(ms[CtState.UDP_UNREPLIED]).toBe(30 * SEC);
    expect(ms[CtState.UDP_ASSURED]).toBe(180 * SEC);
    expect(ms[CtState.ICMP_UNREPLIED]).toBe(30 * SEC);
    expect(DEFAULT_CONNTRACK_TIMEOUTS.tcpFinWait).toBe(120);
  });

  it('expires an unreplied UDP flow after 30 s and an assured one after 180 s of silence', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 5 });
    const a = t.createFlow(IpProto.UDP, C, S, 1111, 53, 0);
    const b = t.createFlow(IpProto.UDP, C, S, 2222, 53, 0);
    expect(t.update(b, R, 0, 1 * SEC)).toBe(CtState.UDP_ASSURED);
    expect(t.status(b) & CtStatus.ASSURED).toBe(CtStatus.ASSURED);
    expect(t.lookup(IpProto.UDP, C, S, 1111, 53, 30 * SEC - 1)).toBe(a * 2);
    expect(t.lookup(IpProto.UDP, S, C, 53, 1111, 30 * SEC)).toBe(CT_MISS);
    expect(t.counters[CtCounter.EXPIRED]).toBe(1);
    expect(t.lookup(IpProto.UDP, S, C, 53, 2222, 181 * SEC - 1)).toBe(b * 2 + 1);
    expect(t.lookup(IpProto.UDP, C, S, 2222, 53, 181 * SEC)).toBe(CT_MISS);
    expect(t.size).toBe(0);
  });

  it('refreshes the timer on every valid packet with the new state’s timeout', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 5 });
    const e = established(t, 5000, 0);
    expect(t.expiresAt(e)).toBe(7200 * SEC);
    t.update(e, O, ACK, 7000 * SEC);
    expect(t.lookup(IpProto.TCP, C, S, 5000, 80, 14000 * SEC)).toBe(e * 2);
    t.update(e, O, FIN | ACK, 14000 * SEC);
    expect(t.expiresAt(e)).toBe(14120 * SEC);
    expect(t.lookup(IpProto.TCP, C, S, 5000, 80, 14120 * SEC)).toBe(CT_MISS);
  });

  it('honours configured timeouts', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 5, timeouts: { tcpTimeWait: 2, tcpEstablished: 50 } });
    const e = established(t, 5000, 0);
    expect(t.expiresAt(e)).toBe(50 * SEC);
    t.update(e, O, FIN | ACK, 10 * SEC);
    t.update(e, R, FIN | ACK, 10 * SEC);
    expect(t.update(e, O, ACK, 10 * SEC)).toBe(CtState.TCP_TIME_WAIT);
    expect(t.lookup(IpProto.TCP, S, C, 80, 5000, 12 * SEC - 1)).toBe(e * 2 + 1);
    expect(t.lookup(IpProto.TCP, S, C, 80, 5000, 12 * SEC)).toBe(CT_MISS);
  });

  it('expire() sweeps at most maxScan entries per call and finds every expired one eventually', () => {
    const t = new ConntrackTable({ capacity: 64, seed: 5 });
    for (let i = 0; i < 64; i++) {
      const e = t.createFlow(IpProto.UDP, C, S, i, 53, 0);
      if (i % 2 === 0) t.update(e, R, 0, 0);
    }
    expect(t.expire(29 * SEC, 64)).toBe(0);
    let removed = 0;
    for (let call = 0; call < 8; call++) {
      const n = t.expire(30 * SEC, 8);
      expect(n).toBeLessThanOrEqual(8);
      removed += n;
    }
    expect(removed).toBe(32);
    expect(t.size).toBe(32);
    expect(t.expire(180 * SEC, 1000)).toBe(32);
    expect(t.counters[CtCounter.EXPIRED]).toBe(64);
    expect(t.size).toBe(0);
  });

  it('replaces an expired entry whose tuple is created again', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 5 });
    t.createFlow(IpProto.UDP, C, S, 1, 2, 0);
    expect(t.createFlow(IpProto.UDP, C, S, 1, 2, 29 * SEC)).toBe(CT_CLASH);
    expect(t.createFlow(IpProto.UDP, C, S, 1, 2, 30 * SEC)).toBeGreaterThanOrEqual(0);
    expect(t.counters[CtCounter.EXPIRED]).toBe(1);
    expect(t.size).toBe(1);
  });
});

describe('ConntrackTable when full', () => {
  it("'refuse' refuses new entries and counts table_full, but still reclaims expired ones", () => {
    const t = new ConntrackTable({ capacity: 4, seed: 2, whenFull: 'refuse' });
    for (let i = 0; i < 4; i++) expect(t.createFlow(IpProto.UDP, C, S, i, 53, 0)).toBeGreaterThanOrEqual(0);
    expect(t.createFlow(IpProto.UDP, C, S, 9, 53, 1)).toBe(CT_REFUSED_FULL);
    expect(t.counters[CtCounter.REFUSED_FULL]).toBe(1);
    expect(t.counters[CtCounter.EVICTED]).toBe(0);
    expect(t.createFlow(IpProto.UDP, C, S, 9, 53, 30 * SEC)).toBeGreaterThanOrEqual(0);
    expect(t.counters[CtCounter.EXPIRED]).toBe(1);
    expect(t.size).toBe(4);
  });

  it("'evict' evicts the unassured entry closest to expiry, never an assured one", () => {
    const t = new ConntrackTable({ capacity: 4, seed: 2 });
    const assured: number[] = [];
    for (let i = 0; i < 3; i++) {
      const e = t.createFlow(IpProto.UDP, C, S, i, 53, 0);
      t.update(e, R, 0, 0);
      assured.push(e);
    }
    const unassured = t.createFlow(IpProto.UDP, C, S, 100, 53, 0);
    const late = t.createFlow(IpProto.UDP, C, S, 200, 53, 5 * SEC);
    expect(late).toBe(unassured);
    expect(t.counters[CtCounter.EVICTED]).toBe(1);
    expect(t.lookup(IpProto.UDP, C, S, 100, 53, 5 * SEC)).toBe(CT_MISS);
    for (const [i, e] of assured.entries()) expect(t.lookup(IpProto.UDP, C, S, i, 53, 5 * SEC)).toBe(e * 2);
    t.update(late, R, 0, 5 * SEC);
    expect(t.createFlow(IpProto.UDP, C, S, 300, 53, 6 * SEC)).toBe(CT_REFUSED_FULL);
    expect(t.counters[CtCounter.REFUSED_FULL]).toBe(1);
  });

  it('evicts closed TCP connections even though they were assured', () => {
    const t = new ConntrackTable({ capacity: 2, seed: 2 });
    const a = established(t, 1, 0);
    const b = established(t, 2, 0);
    t.update(b, R, TcpFlag.RST, 1 * SEC);
    expect(t.createFlow(IpProto.TCP, C, S, 3, 80, 2 * SEC)).toBe(b);
    expect(t.lookup(IpProto.TCP, C, S, 1, 80, 2 * SEC)).toBe(a * 2);
    expect(t.counters[CtCounter.EVICTED]).toBe(1);
  });

  it('prefers reclaiming an expired entry over evicting a live one', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 2, timeouts: { other: 10 } });
    for (let i = 0; i < 3; i++) t.createFlow(IpProto.UDP, C, S, i, 53, 0);
    const gre = t.createFlow(47, C, S, 0, 0, 0);
    expect(t.createFlow(IpProto.UDP, C, S, 9, 53, 10 * SEC)).toBe(gre);
    expect(t.counters[CtCounter.EXPIRED]).toBe(1);
    expect(t.counters[CtCounter.EVICTED]).toBe(0);
  });

  it('flush() empties the table', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 2 });
    for (let i = 0; i < 4; i++) t.createFlow(IpProto.UDP, C, S, i, 53, 0);
    t.flush();
    expect(t.size).toBe(0);
    expect(t.lookup(IpProto.UDP, C, S, 0, 53, 0)).toBe(CT_MISS);
    for (let i = 0; i < 4; i++) expect(t.createFlow(IpProto.UDP, C, S, i + 10, 53, 0)).toBeGreaterThanOrEqual(0);
  });
});
