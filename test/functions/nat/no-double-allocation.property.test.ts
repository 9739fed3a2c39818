import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FrameSpec } from '../../../src/traffic/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { checksumsValid, ip, NatHarness } from './nat-harness.ts';

const POOL = [ip('198.18.100.0'), ip('198.18.100.1')];
const PORTS = [20000, 20001];
const HOSTS = [ip('10.1.0.1'), ip('10.1.0.2'), ip('10.1.0.99')];
const HOST_PORTS = [1, 2, 80];
const REMOTES = [ip('198.19.0.1'), ip('198.19.0.2')];
const CAPACITY = 6;
const T = { tcpTransitory: 10, tcpEstablished: 50, udp: 30, icmp: 20 };
const CONFIG = {
  snat: { addresses: '198.18.100.0/31', ports: '20000-20001', match: ['10.1.0.0/24'] },
  portForwards: [{ protocol: 'tcp', externalAddress: '198.18.100.0', externalPort: 20001, internalAddress: '10.1.0.99', internalPort: 80 }],
  capacity: CAPACITY,
  timeouts: T,
};
const PROTOS = ['tcp', 'udp', 'icmp'] as const;
type Proto = (typeof PROTOS)[number];

interface Mapping {
  proto: Proto;
  internal: string;
  ext: string;
  expires: number;
  seenInbound: boolean;
  closing: boolean;
  isStatic: boolean;
}

type Op =
  | { kind: 'out'; proto: Proto; host: number; port: number; remote: number; flags: number; dt: number }
  | { kind: 'in'; proto: Proto; addr: number; port: number; flags: number; dt: number }
  | { kind: 'hairpin'; proto: 'tcp' | 'udp'; host: number; port: number; addr: number; extPort: number; flags: number; dt: number };

const dtArb = fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constantFrom(1, 1_000, 5_000, 9_999, 10_000, 11_000, 19_999, 20_000, 29_999, 30_000, 60_000) });
const flagsArb = fc.constantFrom(0x02, 0x02, 0x10, 0x12, 0x11, 0x04, 0x18);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('out' as const),
      proto: fc.constantFrom(...PROTOS),
      host: fc.integer({ min: 0, max: HOSTS.length - 1 }),
      port: fc.constantFrom(...HOST_PORTS),
      remote: fc.integer({ min: 0, max: 1 }),
      flags: flagsArb,
      dt: dtArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('in' as const),
      proto: fc.constantFrom(...PROTOS),
      addr: fc.integer({ min: 0, max: 1 }),
      port: fc.constantFrom(...PORTS, 1024),
      flags: flagsArb,
      dt: dtArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('hairpin' as const),
      proto: fc.constantFrom('tcp' as const, 'udp' as const),
      host: fc.integer({ min: 0, max: HOSTS.length - 1 }),
      port: fc.constantFrom(...HOST_PORTS),
      addr: fc.integer({ min: 0, max: 1 }),
      extPort: fc.constantFrom(...PORTS),
      flags: flagsArb,
      dt: dtArb,
    }),
  },
);

const key = (proto: Proto, addr: number, port: number): string => `${proto}/${addr >>> 0}:${port}`;

function frame(proto: Proto, src: number, sport: number, dst: number, dport: number, flags: number, inbound: boolean): FrameSpec {
  if (proto === 'icmp') return { proto: IpProto.ICMP, srcIp: src, dstIp: dst, icmpType: inbound ? 0 : 8, srcPort: inbound ? dport : sport, dstPort: 3, payloadLength: 4 };
  return { proto: proto === 'tcp' ? IpProto.TCP : IpProto.UDP, srcIp: src, dstIp: dst, srcPort: sport, dstPort: dport, tcpFlags: flags, payloadLength: 2 };
}

const TIMEOUT_S: Record<string, number> = { trans: T.tcpTransitory, est: T.tcpEstablished, udp: T.udp, icmp: T.icmp };

function refresh(m: Mapping, flags: number, inbound: boolean, now: number): void {
  if (m.isStatic) return;
  let list: string = m.proto;
  if (m.proto === 'tcp') {
    if (inbound) m.seenInbound = true;
    if ((flags & 0x05) !== 0) m.closing = true;
    else if (!inbound && (flags & 0x16) === 0x02) {
      m.seenInbound = false;
      m.closing = false;
    }
    list = m.seenInbound && !m.closing ? 'est' : 'trans';
  }
  m.expires = now + TIMEOUT_S[list] * 1000;
}

describe('nat: no double allocation (property)', () => {
  it('never hands one external endpoint to two live mappings, and keeps every mapping endpoint-independent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 120, size: 'max' }), fc.integer({ min: 1, max: 0x7fffffff }), async (ops, seed) => {
        const nat = await NatHarness.create(CONFIG, seed);
        const live = new Map<string, Mapping>();
        const staticKey = key('tcp', HOSTS[2], 80);
        live.set(staticKey, { proto: 'tcp', internal: staticKey, ext: key('tcp', POOL[0], 20001), expires: Infinity, seenInbound: false, closing: false, isStatic: true });
        let now = 0;
        for (const op of ops) {
          now += op.dt;
          for (const [k, m] of live) if (m.expires <= now) live.delete(k);
          const byExt = new Map([...live.values()].map((m) => [m.ext, m]));
          if (op.kind === 'out' || op.kind === 'hairpin') {
            const src = HOSTS[op.host];
            const internal = key(op.proto, src, op.port);
            const hairpin = op.kind === 'hairpin';
            const dst = hairpin ? POOL[op.addr] : REMOTES[op.remote];
            const r = nat.one(Side.INSIDE, frame(op.proto, src, op.port, dst, hairpin ? op.extPort : 53, op.flags, false), now);
            const v = new DataView(r.bytes.buffer);
            const got = key(op.proto, v.getUint32(26), op.proto === 'icmp' ? v.getUint16(38) : v.getUint16(34));
            const m = live.get(internal);
            const target = hairpin ? byExt.get(key(op.proto, POOL[op.addr], op.extPort)) : undefined;
            if (hairpin && target === undefined) {
              expect(r.reason).toBe('no_mapping');
              continue;
            }
            const through = hairpin ? Verdict.INSIDE : Verdict.OUTSIDE;
            if (m !== undefined) {
              expect(r.verdict).toBe(through);
              expect(got).toBe(m.ext);
              refresh(m, op.flags, false, now);
            } else if (op.proto === 'tcp' && (op.flags & 0x16) !== 0x02) {
              expect(r.reason).toBe('tcp_not_syn');
            } else if ([...live.values()].filter((x) => !x.isStatic).length >= CAPACITY) {
              expect(r.reason).toBe('mapping_table_full');
            } else if ([...live.values()].filter((x) => x.proto === op.proto).length >= POOL.length * PORTS.length) {
              expect(r.reason).toBe('ports_exhausted');
            } else {
              expect(r.verdict).toBe(through);
              expect(byExt.has(got)).toBe(false);
              expect(POOL).toContain(v.getUint32(26));
              const created: Mapping = { proto: op.proto, internal, ext: got, expires: 0, seenInbound: false, closing: false, isStatic: false };
              refresh(created, op.flags, false, now);
              live.set(internal, created);
            }
            if (r.verdict !== Verdict.DROP) expect(checksumsValid(r.bytes)).toBe(true);
            if (target !== undefined && r.verdict === Verdict.INSIDE) {
              expect(key(op.proto, v.getUint32(30), v.getUint16(36))).toBe(target.internal);
              refresh(target, op.flags, true, now);
            }
          } else {
            const ext = key(op.proto, POOL[op.addr], op.port);
            const r = nat.one(Side.OUTSIDE, frame(op.proto, REMOTES[0], 53, POOL[op.addr], op.port, op.flags, true), now);
            const m = byExt.get(ext);
            if (m === undefined) {
              expect(r.reason).toBe('no_mapping');
            } else {
              expect(r.verdict).toBe(Verdict.INSIDE);
              const v = new DataView(r.bytes.buffer);
              expect(key(op.proto, v.getUint32(30), op.proto === 'icmp' ? v.getUint16(38) : v.getUint16(36))).toBe(m.internal);
              expect(checksumsValid(r.bytes)).toBe(true);
              refresh(m, op.flags, true, now);
            }
          }
          const exts = [...live.values()].map((x) => x.ext);
          expect(new Set(exts).size).toBe(exts.length);
        }
        expect(nat.counter('mappings_created') - nat.counter('mappings_expired')).toBe([...live.values()].filter((x) => !x.isStatic).length);
      }),
      { numRuns: 150 },
    );
  });
});
