import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CT_CLASH, CT_INVALID, CT_MISS, CT_NO_IPV6, CT_REFUSED_FULL, ConntrackTable } from '../../../src/conntrack/conntrack-table.ts';
import { CtCounter } from '../../../src/conntrack/conntrack-counters.ts';
import { CtState, CtStatus, IpProto } from '../../../src/conntrack/conntrack-state.ts';
import { timeoutsByState } from '../../../src/conntrack/conntrack-timeouts.ts';
import { tcpTransition } from '../../../src/conntrack/tcp-state-machine.ts';
import { FlowKey6 } from '../../../src/packet/flow-key-ipv6.ts';

/** Addresses are indices into ADDRS (IPv4) or ADDRS6 (IPv6) by the connection's family. */
interface Tuple {
  src: number;
  dst: number;
  sp: number;
  dp: number;
}

interface Model {
  e: number;
  v6: boolean;
  proto: number;
  t: [Tuple, Tuple];
  state: number;
  status: number;
  expires: number;
}

type Op =
  | { kind: 'create'; v6: boolean; proto: number; o: Tuple; nat: Tuple | null; answer: boolean; dt: number }
  | { kind: 'lookup'; pick: number; dir: number; random: Tuple | null; v6: boolean; proto: number; dt: number }
  | { kind: 'update'; pick: number; dir: number; flags: number; dt: number }
  | { kind: 'delete'; pick: number; dt: number }
  | { kind: 'expire'; maxScan: number; dt: number };

// 0.0.0.0 and :: both, an IPv6 address ending in an IPv4 one, two differing in one low bit
// of one word: the families and all 128 bits must keep connections apart.
const ADDRS = [0xc6120001, 0xc6120002, 0xfffffff0, 0];
const ADDRS6 = [[0x20010db8, 0, 0, 1], [0x20010db8, 0, 0x80000000, 1], [0, 0, 0, 0xc6120001], [0, 0, 0, 0]];
const tupleArb: fc.Arbitrary<Tuple> = fc.record({
  src: fc.integer({ min: 0, max: 3 }),
  dst: fc.integer({ min: 0, max: 3 }),
  sp: fc.integer({ min: 1, max: 3 }),
  dp: fc.integer({ min: 1, max: 3 }),
});
const protoArb = fc.constantFrom(IpProto.TCP, IpProto.UDP, IpProto.ICMP, IpProto.ICMPV6, 47);
const dtArb = fc.constantFrom(0, 0, 0, 1_000, 9_000, 29_000, 31_000, 200_000, 8_000_000);
const flagsArb = fc.constantFrom(0x02, 0x12, 0x10, 0x11, 0x01, 0x04, 0x14, 0x18, 0x00);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({
      kind: fc.constant('create' as const),
      v6: fc.boolean(),
      proto: protoArb,
      o: tupleArb,
      nat: fc.option(tupleArb, { freq: 3 }),
      answer: fc.boolean(),
      dt: dtArb,
    }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('lookup' as const),
      pick: fc.nat(),
      dir: fc.integer({ min: 0, max: 1 }),
      random: fc.option(tupleArb, { freq: 3 }),
      v6: fc.boolean(),
      proto: protoArb,
      dt: dtArb,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('update' as const), pick: fc.nat(), dir: fc.integer({ min: 0, max: 1 }), flags: flagsArb, dt: dtArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(), dt: dtArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), maxScan: fc.integer({ min: 1, max: 20 }), dt: dtArb }) },
);

const configArb = fc.record({
  capacity: fc.constantFrom(2, 4, 8, 16),
  whenFull: fc.constantFrom('evict' as const, 'refuse' as const),
  scanAll: fc.boolean(),
  seed: fc.integer({ min: 0, max: 0xffffffff }),
  ipv6: fc.boolean(),
});

const sameTuple = (a: Tuple, b: Tuple): boolean => a.src === b.src && a.dst === b.dst && a.sp === b.sp && a.dp === b.dp;
const reverse = (t: Tuple): Tuple => ({ src: t.dst, dst: t.src, sp: t.dp, dp: t.sp });
const evictable = (m: Model): boolean =>
  (m.status & CtStatus.ASSURED) === 0 || m.state === CtState.TCP_TIME_WAIT || m.state === CtState.TCP_CLOSE;
const initial = (proto: number): number =>
  proto === IpProto.TCP ? CtState.TCP_NEW : proto === IpProto.UDP ? CtState.UDP_UNREPLIED
    : proto === IpProto.ICMP || proto === IpProto.ICMPV6 ? CtState.ICMP_UNREPLIED : CtState.OTHER_UNREPLIED;

interface Config {
  capacity: number;
  whenFull: 'evict' | 'refuse';
  scanAll: boolean;
  seed: number;
  ipv6: boolean;
}

const keyOf = (v6: boolean, proto: number, t: Tuple): string => `${v6 ? 6 : 4}/${proto}/${t.src}/${t.dst}/${t.sp}/${t.dp}`;

/** The table's calls for either family: IPv4 tuples as numbers, IPv6 ones as FlowKey6. */
function familyCalls(table: ConntrackTable) {
  const key = (t: Tuple, proto: number, k = new FlowKey6()): FlowKey6 => {
    k.set(ADDRS6[t.src], ADDRS6[t.dst], t.sp, t.dp, proto);
    return k;
  };
  return {
    create: (v6: boolean, proto: number, o: Tuple, r: Tuple, now: number): number =>
      v6 ? table.create6(key(o, proto), key(r, 0), now) : table.create(proto, ADDRS[o.src], ADDRS[o.dst], o.sp, o.dp, ADDRS[r.src], ADDRS[r.dst], r.sp, r.dp, now),
    lookup: (v6: boolean, proto: number, t: Tuple, now: number): number =>
      v6 ? table.lookup6(key(t, proto), now) : table.lookup(proto, ADDRS[t.src], ADDRS[t.dst], t.sp, t.dp, now),
    peek: (v6: boolean, proto: number, t: Tuple): number =>
      v6 ? table.peek6(key(t, proto)) : table.peek(proto, ADDRS[t.src], ADDRS[t.dst], t.sp, t.dp),
    /** The tuple the table stores for the entry in `dir`, in the model's terms. */
    stored: (v6: boolean, e: number, dir: number): Tuple => {
      if (!v6) return { src: ADDRS.indexOf(table.srcIp(e, dir)), dst: ADDRS.indexOf(table.dstIp(e, dir)), sp: table.srcPort(e, dir), dp: table.dstPort(e, dir) };
      const k = new FlowKey6();
      table.tuple6(e, dir, k);
      const at = (w: number[]) => ADDRS6.findIndex((a) => a.every((x, i) => (x | 0) === w[i]));
      return { src: at([k.s0, k.s1, k.s2, k.s3]), dst: at([k.d0, k.d1, k.d2, k.d3]), sp: k.srcPort, dp: k.dstPort };
    },
  };
}

function runScenario(config: Config, ops: Op[]): void {
  const timeouts = timeoutsByState();
  const table = new ConntrackTable({
    capacity: config.capacity,
    whenFull: config.whenFull,
    fullScan: config.scanAll ? config.capacity : 1,
    seed: config.seed,
    ipv6: config.ipv6,
  });
  const calls = familyCalls(table);
  let models: Model[] = [];
  const byKey = new Map<string, { m: Model; dir: number }>();
  let now = 0;
  const expect_ = { created: 0, clash: 0, refused: 0, deleted: 0, hit: 0, miss: 0, invalid: 0, gone: 0 };

  const holder = (v6: boolean, proto: number, t: Tuple): { m: Model; dir: number } | null => byKey.get(keyOf(v6, proto, t)) ?? null;
  const add = (m: Model): void => {
    models.push(m);
    byKey.set(keyOf(m.v6, m.proto, m.t[0]), { m, dir: 0 });
    byKey.set(keyOf(m.v6, m.proto, m.t[1]), { m, dir: 1 });
  };
  const remove = (m: Model): void => {
    models = models.filter((x) => x !== m);
    byKey.delete(keyOf(m.v6, m.proto, m.t[0]));
    byKey.delete(keyOf(m.v6, m.proto, m.t[1]));
  };
  const vanished = (): Model[] =>
    models.filter((m) => {
      const o = calls.peek(m.v6, m.proto, m.t[0]);
      const r = calls.peek(m.v6, m.proto, m.t[1]);
      if (o === m.e * 2) {
        expect(r).toBe(m.e * 2 + 1);
        return false;
      }
      expect(o).toBe(CT_MISS);
      expect(r).toBe(CT_MISS);
      return true;
    });

  const applyUpdate = (m: Model, dir: number, flags: number): void => {
    const got = table.update(m.e, dir, flags, now);
    if (m.proto === IpProto.TCP) {
      const r = tcpTransition(m.state, m.status, dir, flags);
      if (r < 0) {
        expect(got).toBe(CT_INVALID);
        expect_.invalid++;
        return;
      }
      m.state = r & 0xff;
      m.status = r >>> 8;
    } else if (dir === 1) {
      if (m.state === initial(m.proto)) m.state++;
      m.status |= CtStatus.SEEN_REPLY | CtStatus.ASSURED;
    }
    m.expires = now + timeouts[m.state];
    expect(got).toBe(m.state);
  };

  for (const op of ops) {
    now += op.dt;
    switch (op.kind) {
      case 'create': {
        const r = op.nat ?? reverse(op.o);
        const got = calls.create(op.v6, op.proto, op.o, r, now);
        if (op.v6 && !config.ipv6) {
          expect(got).toBe(CT_NO_IPV6);
          break;
        }
        let clash = sameTuple(op.o, r);
        for (const t of clash ? [] : [op.o, r]) {
          const h = holder(op.v6, op.proto, t);
          if (h === null) continue;
          if (h.m.expires > now) {
            clash = true;
            break;
          }
          remove(h.m);
          expect_.gone++;
        }
        if (clash) {
          expect(got).toBe(CT_CLASH);
          expect_.clash++;
          break;
        }
        const gone = vanished();
        if (models.length < config.capacity) {
          expect(gone).toEqual([]);
          expect(got).toBeGreaterThanOrEqual(0);
        } else {
          const anyExpired = models.some((m) => m.expires <= now);
          const anyEvictable = config.whenFull === 'evict' && models.some(evictable);
          if (got === CT_REFUSED_FULL) {
            expect(gone).toEqual([]);
            if (config.scanAll) expect(anyExpired || anyEvictable).toBe(false);
            expect_.refused++;
            break;
          }
          expect(gone).toHaveLength(1);
          const victim = gone[0];
          expect(victim.expires <= now || (config.whenFull === 'evict' && evictable(victim))).toBe(true);
          if (config.scanAll && anyExpired) expect(victim.expires).toBeLessThanOrEqual(now);
          if (config.scanAll && !anyExpired) expect(victim.expires).toBe(Math.min(...models.filter(evictable).map((m) => m.expires)));
          remove(victim);
          expect_.gone++;
        }
        expect(models.some((m) => m.e === got)).toBe(false);
        const state = initial(op.proto);
        const model: Model = { e: got, v6: op.v6, proto: op.proto, t: [op.o, r], state, status: 0, expires: now + timeouts[state] };
        expect([table.isIpv6(got), table.protocol(got), calls.stored(op.v6, got, 0), calls.stored(op.v6, got, 1)]).toEqual([op.v6, op.proto, op.o, r]);
        add(model);
        expect_.created++;
        if (op.answer) {
          applyUpdate(model, 0, 0x02);
          applyUpdate(model, 1, 0x12);
          applyUpdate(model, 0, 0x10);
        }
        break;
      }
      case 'lookup': {
        let proto = op.proto;
        let v6 = op.v6;
        let t: Tuple;
        if (op.random !== null || models.length === 0) t = op.random ?? reverse({ src: 0, dst: 1, sp: 1, dp: 2 });
        else {
          const m = models[op.pick % models.length];
          proto = m.proto;
          v6 = m.v6;
          t = m.t[op.dir];
        }
        const got = calls.lookup(v6, proto, t, now);
        const h = holder(v6, proto, t);
        if (h !== null && h.m.expires <= now) {
          remove(h.m);
          expect_.gone++;
          expect(got).toBe(CT_MISS);
          expect_.miss++;
        } else if (h === null) {
          expect(got).toBe(CT_MISS);
          expect_.miss++;
        } else {
          expect(got).toBe(h.m.e * 2 + h.dir);
          expect_.hit++;
        }
        break;
      }
      case 'update': {
        if (models.length === 0) break;
        applyUpdate(models[op.pick % models.length], op.dir, op.flags);
        break;
      }
      case 'delete': {
        if (models.length === 0 || op.pick % 5 === 0) {
          const free = Array.from({ length: config.capacity }, (_, i) => i).find((i) => !models.some((m) => m.e === i));
          expect(table.delete(free ?? -1)).toBe(false);
          break;
        }
        const m = models[op.pick % models.length];
        expect(table.delete(m.e)).toBe(true);
        remove(m);
        expect_.deleted++;
        break;
      }
      case 'expire': {
        const n = table.expire(now, op.maxScan);
        const gone = vanished();
        expect(gone).toHaveLength(n);
        for (const m of gone) {
          expect(m.expires).toBeLessThanOrEqual(now);
          remove(m);
        }
        expect_.gone += n;
        if (op.maxScan >= config.capacity) expect(models.filter((m) => m.expires <= now)).toEqual([]);
        break;
      }
    }
    expect(vanished()).toEqual([]);
    expect(table.size).toBe(models.length);
    for (const m of models) {
      expect(table.state(m.e)).toBe(m.state);
      expect(table.status(m.e)).toBe(m.status);
      expect(table.expiresAt(m.e)).toBe(m.expires);
    }
  }

  const c = table.counters;
  expect(c[CtCounter.CREATED]).toBe(expect_.created);
  expect(c[CtCounter.CLASH]).toBe(expect_.clash);
  expect(c[CtCounter.REFUSED_FULL]).toBe(expect_.refused);
  expect(c[CtCounter.DELETED]).toBe(expect_.deleted);
  expect(c[CtCounter.LOOKUP_HIT]).toBe(expect_.hit);
  expect(c[CtCounter.LOOKUP_MISS]).toBe(expect_.miss);
  expect(c[CtCounter.INVALID]).toBe(expect_.invalid);
  expect(c[CtCounter.EXPIRED] + c[CtCounter.EVICTED]).toBe(expect_.gone);
}

describe('ConntrackTable against a Map-based oracle', () => {
  it('agrees on create / lookup (both directions) / update / delete / expire sequences of both families', () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb, { maxLength: 120 }), (config, ops) => runScenario(config, ops)),
      { numRuns: 400 },
    );
  });
});
