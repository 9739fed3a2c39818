import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { natConfigSchema } from '../../../functions/nat/config.ts';
import { NatCounter, NAT_COUNTERS } from '../../../functions/nat/nat-counters.ts';
import { NatEngine, NatResult } from '../../../functions/nat/nat-engine.ts';
import { planNat } from '../../../functions/nat/nat-plan.ts';
import { icmpIdOf, ip, NatHarness, srcAddrOf, srcPortOf } from './nat-harness.ts';

const EXT = ip('198.18.100.1');
const HOST = ip('10.1.0.5');
const S1 = ip('198.19.0.1');
const S2 = ip('198.19.0.2');
const S3 = ip('198.19.7.7');
const SEC = 1000;

const udp = (src: number, sport: number, dst: number, dport: number) => ({ proto: IpProto.UDP, srcIp: src, dstIp: dst, srcPort: sport, dstPort: dport });
const tcp = (src: number, sport: number, dst: number, dport: number, flags: number) => ({ proto: IpProto.TCP, srcIp: src, dstIp: dst, srcPort: sport, dstPort: dport, tcpFlags: flags });

describe('nat: mappings', () => {
  it('is endpoint-independent: one internal endpoint keeps one external endpoint for every destination', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1' } });
    const outs = [udp(HOST, 6000, S1, 53), udp(HOST, 6000, S2, 53), udp(HOST, 6000, S1, 123), udp(HOST, 6000, S3, 9)].map((s, k) => nat.one(Side.INSIDE, s, k));
    const ext = outs.map((o) => `${srcAddrOf(o.bytes)}:${srcPortOf(o.bytes)}`);
    expect(new Set(ext).size).toBe(1);
    expect(nat.counter('mappings_created')).toBe(1);
    const extPort = srcPortOf(outs[0].bytes);
    for (const from of [S1, S2, ip('198.19.99.99')]) {
      const back = nat.one(Side.OUTSIDE, udp(from, 4321, EXT, extPort), 10);
      expect(back.verdict).toBe(Verdict.INSIDE);
      expect(new DataView(back.bytes.buffer).getUint32(30)).toBe(HOST);
    }
    const other = nat.one(Side.INSIDE, udp(HOST, 6001, S1, 53), 11);
    const otherHost = nat.one(Side.INSIDE, udp(ip('10.1.0.6'), 6000, S1, 53), 12);
    expect(srcPortOf(other.bytes)).not.toBe(extPort);
    expect(srcPortOf(otherHost.bytes)).not.toBe(extPort);
  });

  it('keeps TCP, UDP and ICMP identifiers in separate spaces', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1', ports: '20000-20000' } });
    const r = nat.run(
      [
        { side: Side.INSIDE, bytes: buildFrame(tcp(HOST, 1, S1, 80, 0x02)) },
        { side: Side.INSIDE, bytes: buildFrame(udp(HOST, 1, S1, 80)) },
        { side: Side.INSIDE, bytes: buildFrame({ proto: IpProto.ICMP, srcIp: HOST, dstIp: S1, icmpType: 8, srcPort: 1 }) },
        { side: Side.INSIDE, bytes: buildFrame(udp(HOST, 2, S1, 80)) },
      ],
      0,
    );
    expect([srcPortOf(r[0].bytes), srcPortOf(r[1].bytes), icmpIdOf(r[2].bytes)]).toEqual([20000, 20000, 20000]);
    expect(r[3].reason).toBe('ports_exhausted');
  });

  it('keeps one external address per internal host (paired pooling) and spreads hosts over the pool', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.4/30' } });
    const sameHost = Array.from({ length: 20 }, (_, k) => srcAddrOf(nat.one(Side.INSIDE, udp(HOST, 7000 + k, S1, 53), 0).bytes));
    expect(new Set(sameHost).size).toBe(1);
    const hosts = Array.from({ length: 16 }, (_, k) => srcAddrOf(nat.one(Side.INSIDE, udp(ip('10.1.1.0') + k, 7000, S1, 53), 0).bytes));
    expect(new Set(hosts).size).toBeGreaterThan(1);
    for (const a of hosts) expect(a >>> 2).toBe(ip('198.18.100.4') >>> 2);
  });

  it('counts port exhaustion as a drop and recovers once mappings expire', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1', ports: '20000-20003' }, timeouts: { udp: 30 } });
    const first = [0, 1, 2, 3].map((k) => nat.one(Side.INSIDE, udp(HOST, 100 + k, S1, 53), 0));
    expect(first.every((o) => o.verdict === Verdict.OUTSIDE)).toBe(true);
    expect(new Set(first.map((o) => srcPortOf(o.bytes))).size).toBe(4);
    expect(nat.one(Side.INSIDE, udp(HOST, 200, S1, 53), 1 * SEC).reason).toBe('ports_exhausted');
    expect(nat.one(Side.INSIDE, udp(HOST, 200, S1, 53), 29 * SEC).reason).toBe('ports_exhausted');
    expect(nat.counter('ports_exhausted')).toBe(2);
    nat.one(Side.INSIDE, udp(HOST, 100, S1, 53), 29 * SEC);
    const later = nat.one(Side.INSIDE, udp(HOST, 200, S1, 53), 31 * SEC);
    expect(later.verdict).toBe(Verdict.OUTSIDE);
    expect(nat.counter('mappings_expired')).toBe(3);
    expect(nat.one(Side.OUTSIDE, udp(S1, 53, EXT, srcPortOf(first[0].bytes)), 31 * SEC).verdict).toBe(Verdict.INSIDE);
    expect(nat.one(Side.OUTSIDE, udp(S1, 53, EXT, srcPortOf(later.bytes)), 31 * SEC).verdict).toBe(Verdict.INSIDE);
  });

  it('refuses new mappings beyond capacity until one expires', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1' }, capacity: 2, timeouts: { icmp: 5 } });
    const ping = (id: number) => ({ proto: IpProto.ICMP, srcIp: HOST, dstIp: S1, icmpType: 8, srcPort: id });
    expect(nat.one(Side.INSIDE, ping(1), 0).verdict).toBe(Verdict.OUTSIDE);
    expect(nat.one(Side.INSIDE, ping(2), 0).verdict).toBe(Verdict.OUTSIDE);
    expect(nat.one(Side.INSIDE, ping(3), 1 * SEC).reason).toBe('mapping_table_full');
    expect(nat.one(Side.INSIDE, ping(3), 5 * SEC - 1).reason).toBe('mapping_table_full');
    expect(nat.one(Side.INSIDE, ping(3), 5 * SEC).verdict).toBe(Verdict.OUTSIDE);
  });

  it('times TCP mappings out as transitory until answered, established after, transitory after FIN', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1' }, timeouts: { tcpTransitory: 10, tcpEstablished: 100 } });
    const syn = nat.one(Side.INSIDE, tcp(HOST, 1000, S1, 80, 0x02), 0);
    const p1 = srcPortOf(syn.bytes);
    expect(nat.one(Side.OUTSIDE, tcp(S1, 80, EXT, p1, 0x12), 10 * SEC).reason).toBe('no_mapping');

    const syn2 = nat.one(Side.INSIDE, tcp(HOST, 1000, S1, 80, 0x02), 20 * SEC);
    const p2 = srcPortOf(syn2.bytes);
    expect(nat.one(Side.OUTSIDE, tcp(S1, 80, EXT, p2, 0x12), 21 * SEC).verdict).toBe(Verdict.INSIDE);
    nat.one(Side.INSIDE, tcp(HOST, 1000, S1, 80, 0x10), 22 * SEC);
    expect(nat.one(Side.OUTSIDE, tcp(S1, 80, EXT, p2, 0x10), 121 * SEC).verdict).toBe(Verdict.INSIDE);
    expect(nat.one(Side.OUTSIDE, tcp(S1, 80, EXT, p2, 0x18), 220 * SEC).verdict).toBe(Verdict.INSIDE);
    nat.one(Side.INSIDE, tcp(HOST, 1000, S1, 80, 0x11), 230 * SEC);
    expect(nat.one(Side.OUTSIDE, tcp(S1, 80, EXT, p2, 0x10), 239 * SEC).verdict).toBe(Verdict.INSIDE);
    expect(nat.one(Side.OUTSIDE, tcp(S1, 80, EXT, p2, 0x10), 249 * SEC).reason).toBe('no_mapping');
  });

  it('refreshes only on outbound packets when inboundRefresh is off', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1' }, timeouts: { udp: 10 }, inboundRefresh: false });
    const p = srcPortOf(nat.one(Side.INSIDE, udp(HOST, 9, S1, 53), 0).bytes);
    expect(nat.one(Side.OUTSIDE, udp(S1, 53, EXT, p), 9 * SEC).verdict).toBe(Verdict.INSIDE);
    expect(nat.one(Side.OUTSIDE, udp(S1, 53, EXT, p), 10 * SEC - 1).verdict).toBe(Verdict.INSIDE);
    expect(nat.one(Side.OUTSIDE, udp(S1, 53, EXT, p), 10 * SEC).reason).toBe('no_mapping');
    const on = await NatHarness.create({ snat: { addresses: '198.18.100.1' }, timeouts: { udp: 10 } });
    const q = srcPortOf(on.one(Side.INSIDE, udp(HOST, 9, S1, 53), 0).bytes);
    expect(on.one(Side.OUTSIDE, udp(S1, 53, EXT, q), 9 * SEC).verdict).toBe(Verdict.INSIDE);
    expect(on.one(Side.OUTSIDE, udp(S1, 53, EXT, q), 18 * SEC).verdict).toBe(Verdict.INSIDE);
  });

  it('treats a mapping met after its expiry, before any sweep, as gone', () => {
    const counters = new Float64Array(NAT_COUNTERS.length);
    const engine = new NatEngine(planNat(natConfigSchema.parse({ snat: { addresses: '198.18.100.1' }, timeouts: { tcpTransitory: 10, udp: 10 } })), counters, 0, 99);
    const L = new FrameLayout();
    const send = (spec: Parameters<typeof buildFrame>[0], side: number, now: number) => {
      const bytes = buildFrame(spec);
      const view = new DataView(bytes.buffer);
      expect(parseFrame(view, 0, bytes.length, L)).toBe(0);
      return { r: side === Side.INSIDE ? engine.outbound(view, L, now) : engine.inbound(view, L, now), view };
    };
    const out = send(udp(HOST, 9, S1, 53), Side.INSIDE, 0);
    const udpPort = out.view.getUint16(34);
    const syn = send(tcp(HOST, 9, S1, 80, 0x02), Side.INSIDE, 0);
    expect(syn.r).toBe(NatResult.OUTSIDE);
    expect(send(udp(S1, 53, EXT, udpPort), Side.OUTSIDE, 10 * SEC).r).toBe(NatResult.DROP_BASE + NatCounter.NO_MAPPING);
    expect(send(tcp(HOST, 9, S1, 80, 0x10), Side.INSIDE, 10 * SEC).r).toBe(NatResult.DROP_BASE + NatCounter.TCP_NOT_SYN);
    expect(counters[NatCounter.MAPPINGS_EXPIRED]).toBe(2);
    expect(engine.table.size).toBe(0);
    expect(engine.ports.freePorts(0)).toBe(64512);
  });
});
