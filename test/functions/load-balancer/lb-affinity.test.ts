import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MaglevTable } from '../../../src/flow/maglev.ts';
import { flowHash } from '../../../src/packet/flow-key.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { TcpFlag } from '../../../src/packet/tcp.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import type { FrameSpec } from '../../../src/traffic/frame-builder.ts';
import { checksumsOk, decode, ip, startLb, type Sent } from './lb-harness.ts';
import { Rng } from '../../support/rng.ts';

const VIP = ip('198.18.0.100');
const BACKENDS = ['198.19.0.1', '198.19.0.2', '198.19.0.3', '198.19.0.4'];
const WEIGHTS = [1, 2, 3, 4];

function cfg(proto: 'tcp' | 'udp', hashSeed = 0) {
  return {
    services: [{ vip: '198.18.0.100', port: 443, proto, backends: BACKENDS.map((address, i) => ({ address, port: 8443, weight: WEIGHTS[i] })) }],
    hashSeed,
    conntrack: { capacity: 1 << 16 },
  };
}

function client(i: number): { ip: number; port: number } {
  return { ip: (ip('198.18.64.0') + (i % 4096)) >>> 0, port: 10000 + Math.floor(i / 4096) * 7 + (i % 13) };
}

describe('load-balancer affinity and distribution', () => {
  it('keeps every packet of a TCP connection on one backend, both directions, across batches', async () => {
    const lb = await startLb(cfg('tcp'));
    const flows = 1500;
    const backendOf: number[] = [];
    const syns: Sent[] = [];
    for (let f = 0; f < flows; f++) {
      const c = client(f);
      syns.push({ side: Side.INSIDE, frame: { proto: IpProto.TCP, srcIp: c.ip, dstIp: VIP, srcPort: c.port, dstPort: 443, tcpFlags: TcpFlag.SYN } });
    }
    lb.send(syns, 0).forEach((r, f) => {
      expect(r.verdict).toBe(Verdict.OUTSIDE);
      const d = decode(r.bytes);
      expect(d.dport).toBe(8443);
      backendOf[f] = d.dst;
    });
    const phase = (f: number, flags: number, fromClient: boolean): Sent => {
      const c = client(f);
      const frame: FrameSpec = fromClient
        ? { proto: IpProto.TCP, srcIp: c.ip, dstIp: VIP, srcPort: c.port, dstPort: 443, tcpFlags: flags, payloadLength: f % 50 }
        : { proto: IpProto.TCP, srcIp: backendOf[f], dstIp: c.ip, srcPort: 8443, dstPort: c.port, tcpFlags: flags, payloadLength: f % 70 };
      return { side: fromClient ? Side.INSIDE : Side.OUTSIDE, frame };
    };
    lb.send(Array.from({ length: flows }, (_, f) => phase(f, TcpFlag.SYN | TcpFlag.ACK, false)), 1);
    lb.send(Array.from({ length: flows }, (_, f) => phase(f, TcpFlag.ACK, true)), 1);
    const rng = new Rng(7);
    for (let round = 0; round < 6; round++) {
      const order = Array.from({ length: flows * 2 }, (_, k) => k).sort(() => (rng.next() & 1) - 0.5);
      const packets = order.map((k) => phase(k >> 1, TcpFlag.ACK | TcpFlag.PSH, (k & 1) === 0));
      const out = lb.send(packets, 2 + round);
      out.forEach((r, j) => {
        const f = order[j] >> 1;
        const d = decode(r.bytes);
        const c = client(f);
        expect(checksumsOk(r.bytes)).toBe(true);
        if ((order[j] & 1) === 0) {
          expect(r.verdict).toBe(Verdict.OUTSIDE);
          expect([d.src, d.dst, d.sport, d.dport]).toEqual([c.ip, backendOf[f], c.port, 8443]);
        } else {
          expect(r.verdict).toBe(Verdict.INSIDE);
          expect([d.src, d.dst, d.sport, d.dport]).toEqual([VIP, c.ip, 443, c.port]);
        }
      });
    }
    expect(lb.counter('new_flows')).toBe(flows);
    expect(lb.counter('dropped_packets')).toBe(0);
    expect(lb.counter('conntrack_created')).toBe(flows);
  });

  it('spreads new flows over the backends in proportion to their weights', async () => {
    const lb = await startLb(cfg('udp'));
    const flows = 30_000;
    const packets: Sent[] = [];
    for (let f = 0; f < flows; f++) {
      const c = client(f);
      packets.push({ side: Side.INSIDE, frame: { proto: IpProto.UDP, srcIp: c.ip, dstIp: VIP, srcPort: c.port, dstPort: 443 } });
    }
    const seen = new Map<number, number>();
    for (const r of lb.send(packets, 0)) seen.set(decode(r.bytes).dst, (seen.get(decode(r.bytes).dst) ?? 0) + 1);
    const total = WEIGHTS.reduce((a, b) => a + b, 0);
    BACKENDS.forEach((b, i) => {
      const share = (seen.get(ip(b)) ?? 0) / flows;
      expect(Math.abs(share - WEIGHTS[i] / total)).toBeLessThan(0.015);
      expect(lb.counter(`new_flows_backend_${i}`)).toBe(seen.get(ip(b)));
    });
  });

  it('picks exactly the backend the Maglev table names for the flow hash (property, seeded hash)', async () => {
    const seed = 0xdecafbad;
    const lb = await startLb(cfg('udp', seed));
    const table = MaglevTable.build(BACKENDS.map((a, i) => ({ name: `${a}:8443`, weight: WEIGHTS[i] })));
    let now = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffff }), (src, sport) => {
        fc.pre(src !== VIP);
        now += 200_000;
        const [r] = lb.send([{ side: Side.INSIDE, frame: { proto: IpProto.UDP, srcIp: src, dstIp: VIP, srcPort: sport, dstPort: 443 } }], now);
        const want = ip(BACKENDS[table.lookup(flowHash(src, VIP, sport, 443, IpProto.UDP, seed))]);
        expect(decode(r.bytes).dst).toBe(want);
      }),
      { numRuns: 500, seed: 99 },
    );
  });
});
