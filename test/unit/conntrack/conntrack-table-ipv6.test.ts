import { describe, expect, it } from 'vitest';
import { CT_CLASH, CT_MISS, CT_NO_IPV6, CT_REFUSED_FULL, ConntrackTable, ctDir, ctEntry } from '../../../src/conntrack/conntrack-table.ts';
import { CtCounter } from '../../../src/conntrack/conntrack-counters.ts';
import { CtDir, CtState, CtStatus, IpProto, TcpFlag } from '../../../src/conntrack/conntrack-state.ts';
import { tupleHash, tupleHash6 } from '../../../src/conntrack/tuple-hash.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { extractFlowKey6, extractIcmpv6InnerFlowKey, FlowKey6 } from '../../../src/packet/flow-key-ipv6.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { tcpFlags } from '../../../src/packet/tcp.ts';
import { loadKernelFixture } from '../../golden/kernel-fixtures.ts';

const { SYN, ACK, FIN } = TcpFlag;
const O = CtDir.ORIGINAL;
const R = CtDir.REPLY;
const SEC = 1000;
const C6 = [0x20010db8, 0, 0, 0x10];
const S6 = [0x20010db8, 1, 0, 0x80];
const NAT6 = [0xfd00ffff, 0xffffffff, 0x80000000, 0xfffffffe];

function key(src: number[], dst: number[], sp: number, dp: number, proto: number): FlowKey6 {
  const k = new FlowKey6();
  k.set(src, dst, sp, dp, proto);
  return k;
}

function words(k: FlowKey6): number[] {
  return [k.s0, k.s1, k.s2, k.s3, k.d0, k.d1, k.d2, k.d3, k.srcPort, k.dstPort, k.proto];
}

function established(t: ConntrackTable, sport: number, now: number): number {
  const e = t.createFlow6(key(C6, S6, sport, 443, IpProto.TCP), now);
  t.update(e, O, SYN, now);
  t.update(e, R, SYN | ACK, now);
  t.update(e, O, ACK, now);
  expect(t.state(e)).toBe(CtState.TCP_ESTABLISHED);
  return e;
}

describe('ConntrackTable IPv6 lookups', () => {
  it('finds a translated connection from either direction and reads its tuples back', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 7, ipv6: true });
    const e = t.create6(key(C6, S6, 40000, 443, IpProto.TCP), key(S6, NAT6, 443, 61000, IpProto.TCP), 0);
    const o = t.lookup6(key(C6, S6, 40000, 443, IpProto.TCP), 1);
    const r = t.lookup6(key(S6, NAT6, 443, 61000, IpProto.TCP), 1);
    expect([ctEntry(o), ctDir(o)]).toEqual([e, O]);
    expect([ctEntry(r), ctDir(r)]).toEqual([e, R]);
    expect(t.lookup6(key(S6, C6, 443, 40000, IpProto.TCP), 1)).toBe(CT_MISS);
    expect(t.lookup6(key(C6, S6, 40000, 443, IpProto.UDP), 1)).toBe(CT_MISS);
    const out = new FlowKey6();
    t.tuple6(e, R, out);
    expect(words(out)).toEqual(words(key(S6, NAT6, 443, 61000, IpProto.TCP)));
    t.tuple6(e, O, out);
    expect(words(out)).toEqual(words(key(C6, S6, 40000, 443, IpProto.TCP)));
    expect([t.isIpv6(e), t.protocol(e), t.srcIp(e, O), t.dstIp(e, O), t.srcPort(e, R), t.dstPort(e, R)]).toEqual([true, IpProto.TCP, 0, 0, 443, 61000]);
    expect(t.counters[CtCounter.LOOKUP_HIT]).toBe(2);
    expect(t.counters[CtCounter.LOOKUP_MISS]).toBe(2);
  });

  it('accepts address words given unsigned or as int32', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 1, ipv6: true });
    const e = t.createFlow6(key(NAT6, S6, 53, 53000, IpProto.UDP), 0);
    const signed = key(NAT6, S6, 53, 53000, IpProto.UDP);
    const unsigned = key(NAT6, S6, 53, 53000, IpProto.UDP);
    unsigned.s1 = 0xffffffff;
    unsigned.s2 = 0x80000000;
    expect(ctEntry(t.lookup6(signed, 0))).toBe(e);
    expect(ctEntry(t.lookup6(unsigned, 0))).toBe(e);
  });

  it('tracks ICMPv6 echo with the identifier as both ports', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 1, ipv6: true });
    const e = t.createFlow6(key(C6, S6, 0x1234, 0x1234, IpProto.ICMPV6), 0);
    expect(t.state(e)).toBe(CtState.ICMP_UNREPLIED);
    const reply = t.lookup6(key(S6, C6, 0x1234, 0x1234, IpProto.ICMPV6), 10);
    expect([ctEntry(reply), ctDir(reply)]).toEqual([e, R]);
    expect(t.update(e, R, 0, 10)).toBe(CtState.ICMP_REPLIED);
    expect(t.lookup6(key(S6, C6, 0x1235, 0x1235, IpProto.ICMPV6), 10)).toBe(CT_MISS);
  });

  it('refuses a second connection with the same original or reply tuple', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 7, ipv6: true });
    expect(t.create6(key(C6, S6, 1000, 53, IpProto.UDP), key(S6, NAT6, 53, 2000, IpProto.UDP), 0)).toBe(0);
    expect(t.createFlow6(key(C6, S6, 1000, 53, IpProto.UDP), 0)).toBe(CT_CLASH);
    expect(t.create6(key(NAT6, S6, 1000, 53, IpProto.UDP), key(S6, NAT6, 53, 2000, IpProto.UDP), 0)).toBe(CT_CLASH);
    expect(t.createFlow6(key(S6, NAT6, 53, 2000, IpProto.UDP), 0)).toBe(CT_CLASH);
    expect(t.createFlow6(key(C6, C6, 7, 7, IpProto.UDP), 0)).toBe(CT_CLASH);
    expect(t.counters[CtCounter.CLASH]).toBe(4);
    expect(t.size).toBe(1);
  });

  it('keeps IPv4 and IPv6 connections apart, 0.0.0.0 and :: included', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 3, ipv6: true });
    const v4 = t.createFlow(IpProto.UDP, 0, 0, 1, 2, 0);
    const v6 = t.createFlow6(key([0, 0, 0, 0], [0, 0, 0, 0], 1, 2, IpProto.UDP), 0);
    const mapped = t.createFlow6(key([0, 0, 0xffff, 0xc6120001], [0, 0, 0xffff, 0xc6120002], 1, 2, IpProto.UDP), 0);
    expect(new Set([v4, v6, mapped]).size).toBe(3);
    expect(t.lookup(IpProto.UDP, 0, 0, 1, 2, 0)).toBe(v4 * 2);
    expect(t.lookup6(key([0, 0, 0, 0], [0, 0, 0, 0], 1, 2, IpProto.UDP), 0)).toBe(v6 * 2);
    expect(t.lookup(IpProto.UDP, 0xc6120001, 0xc6120002, 1, 2, 0)).toBe(CT_MISS);
    expect([t.isIpv6(v4), t.isIpv6(v6)]).toEqual([false, true]);
  });

  it('tells apart IPv6 tuples whose index hashes collide (differing in two address words: the hash is a bijection of each word, so one cannot collide alone), and an IPv4 tuple of the same hash', () => {
    const seed = 0x5eed;
    const t = new ConntrackTable({ capacity: 4, seed, ipv6: true });
    const k = new FlowKey6();
    const seen = new Map<number, number>();
    let a = -1;
    let b = -1;
    for (let i = 0; i < 400_000 && a < 0; i++) {
      k.set([0x20010db8, 0, i >>> 16, i & 0xffff], S6, 1, 2, IpProto.UDP);
      const h = tupleHash6(seed, IpProto.UDP, k);
      const other = seen.get(h);
      if (other !== undefined) [a, b] = [other, i];
      else seen.set(h, i);
    }
    expect(a).toBeGreaterThanOrEqual(0);
    const ka = key([0x20010db8, 0, a >>> 16, a & 0xffff], S6, 1, 2, IpProto.UDP);
    const kb = key([0x20010db8, 0, b >>> 16, b & 0xffff], S6, 1, 2, IpProto.UDP);
    expect(tupleHash6(seed, IpProto.UDP, ka)).toBe(tupleHash6(seed, IpProto.UDP, kb));
    const ea = t.createFlow6(ka, 0);
    expect(t.lookup6(kb, 0)).toBe(CT_MISS);
    const eb = t.createFlow6(kb, 0);
    expect(eb).toBeGreaterThanOrEqual(0);
    expect([t.lookup6(ka, 0), t.lookup6(kb, 0)]).toEqual([ea * 2, eb * 2]);
    let v4 = -1;
    for (let p = 0; p < 4_000_000 && v4 < 0; p++) if (seen.has(tupleHash(seed, IpProto.UDP, p, 0, 1, 2))) v4 = p;
    expect(v4).toBeGreaterThanOrEqual(0);
    const twin = seen.get(tupleHash(seed, IpProto.UDP, v4, 0, 1, 2))!;
    const k6 = key([0x20010db8, 0, twin >>> 16, twin & 0xffff], S6, 1, 2, IpProto.UDP);
    t.delete(ea);
    t.delete(eb);
    const e6 = t.createFlow6(k6, 0);
    expect(t.lookup(IpProto.UDP, v4, 0, 1, 2, 0)).toBe(CT_MISS);
    const e4 = t.createFlow(IpProto.UDP, v4, 0, 1, 2, 0);
    expect([t.lookup(IpProto.UDP, v4, 0, 1, 2, 0), t.lookup6(k6, 0)]).toEqual([e4 * 2, e6 * 2]);
  });

  it('a table built without ipv6 refuses IPv6 connections without counting and needs no address records', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 1 });
    expect(t.ipv6).toBe(false);
    expect(t.createFlow6(key(C6, S6, 1, 2, IpProto.UDP), 0)).toBe(CT_NO_IPV6);
    expect(t.lookup6(key(C6, S6, 1, 2, IpProto.UDP), 0)).toBe(CT_MISS);
    expect([t.size, t.counters[CtCounter.CREATED], t.counters[CtCounter.REFUSED_FULL]]).toEqual([0, 0, 0]);
    expect(ConntrackTable.recordBytes(4)).toBe(4 * 64);
    expect(ConntrackTable.recordBytes(4, true)).toBe(4 * 128);
  });

  it('shares user values and the user tally with IPv4 entries', () => {
    const tally = new Float64Array(2);
    const t = new ConntrackTable({ capacity: 4, seed: 7, ipv6: true, userTally: tally });
    const e6 = t.createFlow6(key(C6, S6, 1, 2, IpProto.UDP), 0);
    const e4 = t.createFlow(IpProto.UDP, 0xc6120001, 0xc6120002, 1, 2, 0);
    t.setUser(e6, 0, 1);
    t.setUser(e6, 1, 0xfffffffe);
    t.setUser(e4, 0, 1);
    expect([t.user(e6, 0), t.user(e6, 1), ...tally]).toEqual([1, 0xfffffffe, 0, 2]);
    t.delete(e6);
    expect([...tally]).toEqual([0, 1]);
  });
});

describe('ConntrackTable IPv6 state, timeouts and room', () => {
  it('follows the TCP state machine and its timeouts', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 5, ipv6: true, timeouts: { tcpTimeWait: 2 } });
    const e = established(t, 5000, 0);
    expect(t.status(e) & CtStatus.ASSURED).toBe(CtStatus.ASSURED);
    expect(t.expiresAt(e)).toBe(7200 * SEC);
    expect(t.update(e, O, SYN, 1)).toBe(-1);
    expect(t.counters[CtCounter.INVALID]).toBe(1);
    t.update(e, O, FIN | ACK, 10 * SEC);
    t.update(e, R, FIN | ACK, 10 * SEC);
    expect(t.update(e, O, ACK, 10 * SEC)).toBe(CtState.TCP_TIME_WAIT);
    expect(t.lookup6(key(S6, C6, 443, 5000, IpProto.TCP), 12 * SEC - 1)).toBe(e * 2 + 1);
    expect(t.lookup6(key(S6, C6, 443, 5000, IpProto.TCP), 12 * SEC)).toBe(CT_MISS);
    expect(t.counters[CtCounter.EXPIRED]).toBe(1);
  });

  it('expires an unreplied UDP flow after 30 s and an assured one after 180 s, on lookup and by the sweep', () => {
    const t = new ConntrackTable({ capacity: 8, seed: 5, ipv6: true });
    const a = t.createFlow6(key(C6, S6, 1111, 53, IpProto.UDP), 0);
    const b = t.createFlow6(key(C6, S6, 2222, 53, IpProto.UDP), 0);
    t.createFlow(IpProto.UDP, 0xc6120001, 0xc6120002, 3333, 53, 0);
    expect(t.update(b, R, 0, 1 * SEC)).toBe(CtState.UDP_ASSURED);
    expect(t.lookup6(key(C6, S6, 1111, 53, IpProto.UDP), 30 * SEC - 1)).toBe(a * 2);
    expect(t.lookup6(key(S6, C6, 53, 1111, IpProto.UDP), 30 * SEC)).toBe(CT_MISS);
    expect(t.expire(30 * SEC, 8)).toBe(1);
    expect(t.expire(181 * SEC - 1, 8)).toBe(0);
    expect(t.expire(181 * SEC, 8)).toBe(1);
    expect(t.size).toBe(0);
    expect(t.counters[CtCounter.EXPIRED]).toBe(3);
  });

  it('when full, evicts an unassured entry of either family for either family, never an assured one', () => {
    const t = new ConntrackTable({ capacity: 4, seed: 2, ipv6: true });
    const assured = [t.createFlow6(key(C6, S6, 1, 53, IpProto.UDP), 0), t.createFlow(IpProto.UDP, 1, 2, 1, 53, 0)];
    for (const e of assured) t.update(e, R, 0, 0);
    const v6 = t.createFlow6(key(C6, S6, 2, 53, IpProto.UDP), 0);
    const v4 = t.createFlow(IpProto.UDP, 1, 2, 2, 53, 1);
    expect(t.createFlow(IpProto.UDP, 1, 2, 3, 53, 5 * SEC)).toBe(v6);
    expect(t.lookup6(key(C6, S6, 2, 53, IpProto.UDP), 5 * SEC)).toBe(CT_MISS);
    expect(t.createFlow6(key(C6, S6, 3, 53, IpProto.UDP), 5 * SEC)).toBe(v4);
    expect(t.counters[CtCounter.EVICTED]).toBe(2);
    for (const e of [0, 1, 2, 3]) t.update(e, R, 0, 5 * SEC);
    expect(t.createFlow6(key(C6, S6, 4, 53, IpProto.UDP), 6 * SEC)).toBe(CT_REFUSED_FULL);
    t.flush();
    expect(t.lookup6(key(C6, S6, 1, 53, IpProto.UDP), 6 * SEC)).toBe(CT_MISS);
  });

  it('keeps every other IPv6 entry reachable while entries are deleted (backward-shift deletion)', () => {
    const t = new ConntrackTable({ capacity: 256, seed: 99, ipv6: true });
    const entries: number[] = [];
    for (let i = 0; i < 256; i++) entries.push(i % 2 ? t.createFlow6(key(C6, S6, i, 53, IpProto.UDP), 0) : t.createFlow(IpProto.UDP, 1, 2, i, 53, 0));
    for (let i = 0; i < 256; i += 3) expect(t.delete(entries[i])).toBe(true);
    for (let i = 0; i < 256; i++) {
      const got = i % 2 ? t.lookup6(key(S6, C6, 53, i, IpProto.UDP), 1) : t.lookup(IpProto.UDP, 2, 1, 53, i, 1);
      expect(got).toBe(i % 3 === 0 ? CT_MISS : entries[i] * 2 + 1);
    }
  });
});

describe('ConntrackTable IPv6 over kernel-captured frames', () => {
  /** Feeds a capture's frames to the table as a firewall would; returns the ref each frame got. */
  function replay(t: ConntrackTable, name: string): number[] {
    const fx = loadKernelFixture(name);
    const layout = new FrameLayout();
    const k = new FlowKey6();
    return fx.records.map((rec, i) => {
      expect(parseFrame(fx.reader.view, rec.offset, rec.caplen, layout)).toBe(DropReason.OK);
      expect(extractFlowKey6(fx.reader.view, layout, k)).toBe(true);
      const flags = k.proto === IpProto.TCP ? tcpFlags(fx.reader.view, layout.l4Offset) : 0;
      let ref = t.lookup6(k, i);
      if (ref === CT_MISS && extractIcmpv6InnerFlowKey(fx.reader.view, layout, k)) return t.lookup6(k, i);
      if (ref === CT_MISS) ref = t.createFlow6(k, i) * 2;
      expect(t.update(ctEntry(ref), ctDir(ref), flags, i)).toBeGreaterThan(0);
      return ref;
    });
  }

  it('an HTTP connection over TCP goes through the handshake to its close in one entry', () => {
    const t = new ConntrackTable({ capacity: 16, seed: 1, ipv6: true });
    const refs = replay(t, 'tcp-http-ipv6');
    expect(new Set(refs.map(ctEntry)).size).toBe(1);
    expect(new Set(refs.map(ctDir))).toEqual(new Set([O, R]));
    expect([CtState.TCP_TIME_WAIT, CtState.TCP_CLOSE, CtState.TCP_LAST_ACK]).toContain(t.state(ctEntry(refs[0])));
    expect(t.counters[CtCounter.INVALID]).toBe(0);
  });

  it('echo requests and replies are one connection per identifier, replied', () => {
    const t = new ConntrackTable({ capacity: 16, seed: 1, ipv6: true });
    const refs = replay(t, 'icmpv6-echo');
    expect(refs.some((r) => ctDir(r) === R)).toBe(true);
    for (const r of refs) expect(t.state(ctEntry(r))).toBe(CtState.ICMP_REPLIED);
  });

  it('an ICMPv6 error is matched to the connection of the datagram it quotes, in that datagram’s direction', () => {
    const t = new ConntrackTable({ capacity: 16, seed: 1, ipv6: true });
    const [sent, error] = replay(t, 'icmpv6-error');
    expect(error).toBe(sent);
    expect(ctDir(error)).toBe(O);
    expect(t.protocol(ctEntry(error))).toBe(IpProto.UDP);
  });
});

describe('ConntrackTable IPv6 takeover (attach)', () => {
  function filled(): { t: ConntrackTable; records: Uint8Array } {
    const t = new ConntrackTable({ capacity: 16, seed: 3, ipv6: true });
    const records = new Uint8Array(ConntrackTable.recordBytes(16, true) + 8).subarray(8);
    t.attach(records, undefined, 0, 0);
    for (let i = 0; i < 4; i++) {
      const e = established(t, 1000 + i, 0);
      t.setUser(e, 0, i);
      t.setUser(e, 1, 0xfffffff0 + i);
      const u = t.createFlow(IpProto.UDP, 0xc6120001, 0xc6120002, 2000 + i, 53, 0);
      t.update(u, R, 0, 0);
    }
    t.create6(key(C6, S6, 7, 7, IpProto.ICMPV6), key(S6, NAT6, 7, 7, IpProto.ICMPV6), 0);
    return { t, records };
  }

  it('a successor on another clock takes over IPv6 and IPv4 entries with their state, user values and expiry', () => {
    const { t, records } = filled();
    const next = new ConntrackTable({ capacity: 16, seed: 99, ipv6: true });
    const took = next.attach(new Uint8Array(ConntrackTable.recordBytes(16, true)), records, 1_000_000, 1_000_010);
    expect(took).toEqual({ adopted: 9, rejected: 0 });
    expect(next.counters[CtCounter.CREATED]).toBe(0);
    for (let i = 0; i < 4; i++) {
      const ref = next.lookup6(key(S6, C6, 443, 1000 + i, IpProto.TCP), 1_000_010);
      const e = ctEntry(ref);
      expect([ctDir(ref), next.state(e), next.user(e, 0), next.user(e, 1), next.expiresAt(e)])
        .toEqual([R, CtState.TCP_ESTABLISHED, i, 0xfffffff0 + i, 1_000_000 + 7200 * SEC]);
      expect(next.state(ctEntry(next.lookup(IpProto.UDP, 0xc6120002, 0xc6120001, 53, 2000 + i, 1_000_010)))).toBe(CtState.UDP_ASSURED);
    }
    const echo = next.lookup6(key(S6, NAT6, 7, 7, IpProto.ICMPV6), 1_000_010);
    expect([ctDir(echo), next.state(ctEntry(echo)), t.size]).toEqual([R, CtState.ICMP_UNREPLIED, 9]);
  });

  it('an empty table writes nothing into the zeroed records it is given (no page of a fresh block touched); one holding entries moves them', () => {
    const bytes = ConntrackTable.recordBytes(16, true);
    // Marked, to see writes: a host hands zeroed records (an empty table's records are all FREE, as zeros read).
    const marked = new Uint8Array(bytes).fill(0xab);
    const empty = new ConntrackTable({ capacity: 16, seed: 5, ipv6: true });
    expect(empty.attach(marked, undefined, 0, 0)).toEqual({ adopted: 0, rejected: 0 });
    expect(marked.every((b) => b === 0xab)).toBe(true);
    // Entries that came and went leave the table empty: still nothing to move.
    const used = new ConntrackTable({ capacity: 16, seed: 5, ipv6: true });
    used.delete(used.createFlow(IpProto.UDP, 0xc6120001, 0xc6120002, 1, 2, 0));
    used.attach(marked, undefined, 0, 0);
    expect(marked.every((b) => b === 0xab)).toBe(true);
    // Attached while empty, then used: its connections live in the records and a successor takes them all over.
    const records = new Uint8Array(bytes);
    const t = new ConntrackTable({ capacity: 16, seed: 5, ipv6: true });
    t.attach(records, undefined, 0, 0);
    for (let i = 0; i < 3; i++) established(t, 3000 + i, 0);
    t.createFlow6(key(C6, S6, 9, 53, IpProto.UDP), 0);
    const next = new ConntrackTable({ capacity: 16, seed: 6, ipv6: true });
    expect(next.attach(new Uint8Array(bytes), records, 0, 1)).toEqual({ adopted: 4, rejected: 0 });
    // A table holding entries when attached copies them over whatever the records held.
    const early = new ConntrackTable({ capacity: 16, seed: 5, ipv6: true });
    established(early, 4000, 0);
    const dirty = new Uint8Array(bytes).fill(0xab);
    early.attach(dirty, undefined, 0, 0);
    const after = new ConntrackTable({ capacity: 16, seed: 6, ipv6: true });
    expect(after.attach(new Uint8Array(bytes), dirty, 0, 1)).toEqual({ adopted: 1, rejected: 0 });
  });

  it('refuses IPv6 entries a successor cannot hold, and a corrupt protocol word, at the cost of those entries only', () => {
    const { records } = filled();
    const v4only = new ConntrackTable({ capacity: 16, seed: 1 });
    expect(v4only.attach(new Uint8Array(ConntrackTable.recordBytes(16)), records, 0, 1)).toEqual({ adopted: 4, rejected: 5 });
    const short = new ConntrackTable({ capacity: 16, seed: 1, ipv6: true });
    expect(short.attach(new Uint8Array(ConntrackTable.recordBytes(16, true)), records.subarray(0, ConntrackTable.recordBytes(16)), 0, 1))
      .toEqual({ adopted: 4, rejected: 5 });
    const fewBackends = new ConntrackTable({ capacity: 16, seed: 1, ipv6: true });
    expect(fewBackends.attach(new Uint8Array(ConntrackTable.recordBytes(16, true)), records, 0, 1, 2)).toEqual({ adopted: 7, rejected: 2 });
    expect(fewBackends.lookup6(key(C6, S6, 1002, 443, IpProto.TCP), 1)).toBe(CT_MISS);
    expect(fewBackends.lookup6(key(C6, S6, 1001, 443, IpProto.TCP), 1)).toBeGreaterThanOrEqual(0);
    const ent = new Int32Array(records.buffer, records.byteOffset, 16 * 16);
    const victim = [...Array(16).keys()].find((e) => (ent[e * 16 + 6] & 0x100) !== 0)!;
    ent[victim * 16 + 6] |= 0x200;
    const next = new ConntrackTable({ capacity: 16, seed: 1, ipv6: true });
    expect(next.attach(new Uint8Array(ConntrackTable.recordBytes(16, true)), records, 0, 1)).toEqual({ adopted: 8, rejected: 1 });
  });

  it('random bytes as previous state never throw and never break the successor', () => {
    for (let run = 0; run < 50; run++) {
      const junk = new Uint8Array(ConntrackTable.recordBytes(16, true));
      for (let i = 0; i < junk.length; i++) junk[i] = (Math.random() * 256) | 0;
      const ent = new Int32Array(junk.buffer);
      for (let e = 0; e < 16; e++) if (run % 2) ent[e * 16 + 6] = 0x100 | [6, 17, 58][e % 3];
      const next = new ConntrackTable({ capacity: 16, seed: 1, ipv6: true });
      const took = next.attach(new Uint8Array(ConntrackTable.recordBytes(16, true)), junk, 0, 1);
      expect(took.adopted + took.rejected).toBeLessThanOrEqual(16);
      expect(next.size).toBe(took.adopted);
      expect(next.createFlow6(key(C6, S6, 9, 9, IpProto.UDP), 2)).toBeGreaterThanOrEqual(next.size < 16 ? 0 : -1);
      next.expire(1e15, 16);
      expect(next.size).toBe(0);
    }
  });
});
