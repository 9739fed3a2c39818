import { describe, expect, it } from 'vitest';
import { foldIpv6, MAPPING_MISS, MappingList, NatMappingTable } from '../../../functions/nat/mapping-table.ts';
import { NatProto } from '../../../functions/nat/nat-proto.ts';
import { PortAllocator } from '../../../functions/nat/port-allocator.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame, frame6 } from '../../unit/packet/frame-fixtures.ts';
import { ip, NatHarness } from './nat-harness.ts';
import { groups, parsed } from './nat64-frames.ts';

const EXT = [0xc6126401];
const A6 = [0x20010db8, 0x00010000, 0, 0x10] as const;

function table(capacity = 16, from = 1024, to = 65535): { ports: PortAllocator; t: NatMappingTable } {
  const ports = new PortAllocator(1, [0], from, to);
  return { ports, t: new NatMappingTable(ports, { capacity, staticCapacity: 0, timeoutsMs: [10, 100, 30, 20], externalAddresses: EXT, seed: 7 }) };
}

describe('nat64: mappings in the NAT44 table (RFC 6146 BIB)', () => {
  it('an IPv6 endpoint has its own mapping: found only by lookup6 on all 128 bits, never by an IPv4 lookup of its fold', () => {
    const { t } = table();
    const e = t.create6(NatProto.UDP, A6[0], A6[1], A6[2], A6[3], 5353, 0);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(t.isV6(e)).toBe(true);
    const got = new Uint32Array(4);
    t.copyIntAddr6(e, got);
    expect([...got]).toEqual([...A6]);
    expect([t.protoOf(e), t.intPortOf(e), t.listOf(e)]).toEqual([NatProto.UDP, 5353, MappingList.UDP]);
    expect(t.lookup6(NatProto.UDP, A6[0], A6[1], A6[2], A6[3], 5353)).toBe(e);
    expect(t.lookup6(NatProto.UDP, A6[0], A6[1], A6[2], A6[3] + 1, 5353)).toBe(MAPPING_MISS);
    expect(t.lookup6(NatProto.TCP, A6[0], A6[1], A6[2], A6[3], 5353)).toBe(MAPPING_MISS);
    expect(t.lookup(NatProto.UDP, foldIpv6(A6[0], A6[1], A6[2], A6[3]), 5353)).toBe(MAPPING_MISS);
    // An IPv4 mapping whose address equals the fold is another mapping with another port.
    const v4 = t.create(NatProto.UDP, foldIpv6(A6[0], A6[1], A6[2], A6[3]), 5353, 0);
    expect(v4).not.toBe(e);
    expect(t.isV6(v4)).toBe(false);
    expect(t.extPortOf(v4)).not.toBe(t.extPortOf(e));
    expect(t.lookup6(NatProto.UDP, A6[0], A6[1], A6[2], A6[3], 5353)).toBe(e);
  });

  it('shares the port space with NAT44: both families exhaust and reclaim the same ports', () => {
    const { t } = table(16, 2000, 2001);
    expect(t.create6(NatProto.TCP, A6[0], A6[1], A6[2], A6[3], 1, 0)).toBeGreaterThanOrEqual(0);
    expect(t.create(NatProto.TCP, ip('10.0.0.1'), 1, 0)).toBeGreaterThanOrEqual(0);
    expect(t.create6(NatProto.TCP, A6[0], A6[1], A6[2], A6[3], 2, 5)).toBeLessThan(0);
    // The first (transitory, 10 ms) has expired at 10: its port goes to the next mapping.
    const e = t.create6(NatProto.TCP, A6[0], A6[1], A6[2], A6[3], 2, 10);
    expect(e).toBeGreaterThanOrEqual(0);
    expect(t.lookup6(NatProto.TCP, A6[0], A6[1], A6[2], A6[3], 1)).toBe(MAPPING_MISS);
  });

  it('a successor takes NAT64 mappings over from the records (attach), with the same external endpoints', () => {
    const a = table();
    const records = new Uint8Array(NatMappingTable.recordBytes(16, 0));
    a.t.attach(records, undefined, 0, 0);
    const e6 = a.t.create6(NatProto.UDP, A6[0], A6[1], A6[2], A6[3], 5353, 0);
    const e4 = a.t.create(NatProto.UDP, ip('10.0.0.1'), 53, 0);
    const b = table();
    const took = b.t.attach(new Uint8Array(records.length), records, 0, 1);
    expect(took).toEqual({ adopted: 2, rejected: 0 });
    const f6 = b.t.lookup6(NatProto.UDP, A6[0], A6[1], A6[2], A6[3], 5353);
    expect(f6).toBeGreaterThanOrEqual(0);
    expect(b.t.isV6(f6)).toBe(true);
    expect(b.t.extPortOf(f6)).toBe(a.t.extPortOf(e6));
    expect(b.t.expiresOf(f6)).toBe(a.t.expiresOf(e6));
    expect(b.t.extPortOf(b.t.lookup(NatProto.UDP, ip('10.0.0.1'), 53))).toBe(a.t.extPortOf(e4));
  });

  it('expires like NAT44: a UDP mapping lives `udp` seconds after the last packet out, refreshed by answers', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1' }, nat64: {}, timeouts: { udp: 10 } });
    const q = frame6({ src: groups('2001:db8:1::10'), dst: groups('64:ff9b::198.18.0.9'), proto: 17, srcPort: 7000, dstPort: 53 });
    const port = parsed(nat.one(Side.INSIDE, q, 0).bytes).sport;
    const answer = frame({ srcIp: ip('198.18.0.9'), dstIp: ip('198.18.100.1'), proto: 17, srcPort: 53, dstPort: port });
    expect(nat.one(Side.OUTSIDE, answer, 9_000).verdict).toBe(Verdict.INSIDE); // refreshes to 19 s
    expect(parsed(nat.one(Side.INSIDE, q, 18_000).bytes).sport).toBe(port); // same mapping, refreshed to 28 s
    expect(nat.counter('mappings_created')).toBe(1);
    nat.run([], 28_000);
    expect(nat.counter('mappings_expired')).toBe(1);
    expect(nat.one(Side.OUTSIDE, answer, 28_001).reason).toBe('no_mapping');
  });

  it('TCP: transitory until an answer came back, established after, transitory again after a FIN', async () => {
    const nat = await NatHarness.create({ snat: { addresses: '198.18.100.1' }, nat64: {}, timeouts: { tcpTransitory: 4, tcpEstablished: 100 } });
    const seg = (flags: number) => frame6({ src: groups('2001:db8:1::10'), dst: groups('64:ff9b::198.18.0.9'), proto: 6, srcPort: 7000, dstPort: 80, tcpFlags: flags });
    const port = parsed(nat.one(Side.INSIDE, seg(0x02), 0).bytes).sport;
    const back = (flags: number) => frame({ srcIp: ip('198.18.0.9'), dstIp: ip('198.18.100.1'), proto: 6, srcPort: 80, dstPort: port, tcpFlags: flags });
    expect(nat.one(Side.OUTSIDE, back(0x12), 3_000).verdict).toBe(Verdict.INSIDE);
    expect(nat.one(Side.OUTSIDE, back(0x10), 50_000).verdict).toBe(Verdict.INSIDE); // established: alive after 4 s
    expect(nat.one(Side.INSIDE, seg(0x11), 60_000).verdict).toBe(Verdict.OUTSIDE); // FIN: transitory
    expect(nat.one(Side.OUTSIDE, back(0x10), 64_001).reason).toBe('no_mapping');
  });
});
