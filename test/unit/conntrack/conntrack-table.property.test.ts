import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CT_CLASH, CT_INVALID, CT_MISS, CT_REFUSED_FULL, ConntrackTable } from '../../../src/conntrack/conntrack-table.ts';
import { CtCounter } from '../../../src/conntrack/conntrack-counters.ts';
import { CtState, CtStatus, IpProto } from '../../../src/conntrack/conntrack-state.ts';
import { timeoutsByState } from '../../../src/conntrack/conntrack-timeouts.ts';
import { tcpTransition } from '../../../src/conntrack/tcp-state-machine.ts';

interface Tuple {
  src: number;
  dst: number;
  sp: number;
  dp: number;
}

interface Model {
  e: number;
  proto: number;
  t: [Tuple, Tuple];
  state: number;
  status: number;
  expires: number;
}

type Op =
  | { kind: 'create'; proto: number; o: Tuple; nat: Tuple | null; answer: boolean; dt: number }
  | { kind: 'lookup'; pick: number; dir: number; random: Tuple | null; proto: number; dt: number }
  | { kind: 'update'; pick: number; dir: number; flags: number; dt: number }
  | { kind: 'delete'; pick: number; dt: number }
  | { kind: 'expire'; maxScan: number; dt: number };

const ADDRS = [0xc6120001, 0xc6120002, 0xfffffff0];
const tupleArb: fc.Arbitrary<Tuple> = fc.record({
  src: fc.constantFrom(...ADDRS),
  dst: fc.constantFrom(...ADDRS),
  sp: fc.integer({ min: 1, max: 3 }),
  dp: fc.integer({ min: 1, max: 3 }),
});
const protoArb = fc.constantFrom(IpProto.TCP, IpProto.UDP, IpProto.ICMP, 47);
const dtArb = fc.constantFrom(0, 0, 0, 1_000, 9_000, 29_000, 31_000, 200_000, 8_000_000);
const flagsArb = fc.constantFrom(0x02, 0x12, 0x10, 0x11, 0x01, 0x04, 0x14, 0x18, 0x00);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({
      kind: fc.constant('create' as const),
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
});

const sameTuple = (a: Tuple, b: Tuple): boolean => a.src === b.src && a.dst === b.dst && a.sp === b.sp && a.dp === b.dp;
const reverse = (t: Tuple): Tuple => ({ src: t.dst, dst: t.src, sp: t.dp, dp: t.sp });
const evictable = (m: Model): boolean =>
  (m.status & CtStatus.ASSURED) === 0 || m.state === CtState.TCP_TIME_WAIT || m.state === CtState.TCP_CLOSE;
const initial = (proto: number): number =>
  proto === IpProto.TCP ? CtState.TCP_NEW : proto === IpProto.UDP ? CtState.UDP_UNREPLIED : proto === IpProto.ICMP ? CtState.ICMP_UNREPLIED : CtState.OTHER_UNREPLIED;

interface Config {
  capacity: number;
  whenFull: 'evict' | 'refuse';
  scanAll: boolean;
  seed: number;
}

const keyOf = (proto: number, t: Tuple): string => `${proto}/${t.src}/${t.dst}/${t.sp}/${t.dp}`;

function runScenario(config: Config, ops: Op[]): void {
  const timeouts = timeoutsByState();
  const table = new ConntrackTable({
    capacity: config.capacity,
    whenFull: config.whenFull,
    fullScan: config.scanAll ? config.capacity : 1,
    seed: config.seed,
  });
  let models: Model[] = [];
  const byKey = new Map<string, { m: Model; dir: number }>();
  let now = 0;
  const expect_ = { created: 0, clash: 0, refused: 0, deleted: 0, hit: 0, miss: 0, invalid: 0, gone: 0 };

  const holder = (proto: number, t: Tuple): { m: Model; dir: number } | null => byKey.get(keyOf(proto, t)) ?? null;
  const add = (m: Model): void => {
    models.push(m);
    byKey.set(keyOf(m.proto, m.t[0]), { m, dir: 0 });
    byKey.set(keyOf(m.proto, m.t[1]), { m, dir: 1 });
  };
  const remove = (m: Model): void => {
    models = models.filter((x) => x !== m);
    byKey.delete(keyOf(m.proto, m.t[0]));
    byKey.delete(keyOf(m.proto, m.t[1]));
  };
  const vanished = (): Model[] =>
    models.filter((m) => {
      const o = table.peek(m.proto, m.t[0].src, m.t[0].dst, m.t[0].sp, m.t[0].dp);
      const r = table.peek(m.proto, m.t[1].src, m.t[1].dst, m.t[1].sp, m.t[1].dp);
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
        const got = table.create(op.proto, op.o.src, op.o.dst, op.o.sp, op.o.dp, r.src, r.dst, r.sp, r.dp, now);
        let clash = sameTuple(op.o, r);
        for (const t of clash ? [] : [op.o, r]) {
          const h = holder(op.proto, t);
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
        const model: Model = { e: got, proto: op.proto, t: [op.o, r], state, status: 0, expires: now + timeouts[state] };
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
        let t: Tuple;
        if (op.random !== null || models.length === 0) t = op.random ?? reverse({ src: ADDRS[0], dst: ADDRS[1], sp: 1, dp: 2 });
        else {
          const m = models[op.pick % models.length];
          proto = m.proto;
          t = m.t[op.dir];
        }
        const got = table.lookup(proto, t.src, t.dst, t.sp, t.dp, now);
        const h = holder(proto, t);
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
  it('agrees on create / lookup (both directions) / update / delete / expire sequences', () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb, { maxLength: 120 }), (config, ops) => runScenario(config, ops)),
      { numRuns: 400 },
    );
  });
});
