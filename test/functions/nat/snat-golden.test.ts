import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { checksumsValid, hex, icmpIdOf, ip, NatHarness, srcAddrOf, srcPortOf } from './nat-harness.ts';

const EXT = ip('198.18.100.1');
const HOST = ip('10.1.0.5');
const SERVER = ip('198.19.0.80');
const CONFIG = { snat: { addresses: '198.18.100.1', ports: '20000-29999', match: ['10.1.0.0/16'] } };

describe('nat: SNAT golden frames', () => {
  it('translates a TCP SYN out and the SYN-ACK back, byte for byte, with valid checksums', async () => {
    const nat = await NatHarness.create(CONFIG);
    const syn = { proto: IpProto.TCP, srcIp: HOST, dstIp: SERVER, srcPort: 40001, dstPort: 443, tcpFlags: 0x02, seq: 7, payloadLength: 11 };
    const out = nat.one(Side.INSIDE, syn, 1000);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    const extPort = srcPortOf(out.bytes);
    expect(extPort).toBeGreaterThanOrEqual(20000);
    expect(extPort).toBeLessThanOrEqual(29999);
    expect(hex(out.bytes)).toBe(hex(buildFrame({ ...syn, srcIp: EXT, srcPort: extPort })));
    expect(checksumsValid(out.bytes)).toBe(true);

    const synAck = { proto: IpProto.TCP, srcIp: SERVER, dstIp: EXT, srcPort: 443, dstPort: extPort, tcpFlags: 0x12, seq: 99, ack: 8 };
    const back = nat.one(Side.OUTSIDE, synAck, 1001);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(hex(back.bytes)).toBe(hex(buildFrame({ ...synAck, dstIp: HOST, dstPort: 40001 })));
    expect(checksumsValid(back.bytes)).toBe(true);
    expect(nat.counter('translated_outbound')).toBe(1);
    expect(nat.counter('translated_inbound')).toBe(1);
    expect(nat.counter('mappings_created')).toBe(1);
  });

  it('translates UDP both ways and keeps a zero (absent) UDP checksum zero', async () => {
    const nat = await NatHarness.create(CONFIG);
    const q = { proto: IpProto.UDP, srcIp: HOST, dstIp: SERVER, srcPort: 5353, dstPort: 53, payloadLength: 33 };
    const out = nat.one(Side.INSIDE, q, 0);
    const extPort = srcPortOf(out.bytes);
    expect(hex(out.bytes)).toBe(hex(buildFrame({ ...q, srcIp: EXT, srcPort: extPort })));
    expect(checksumsValid(out.bytes)).toBe(true);

    const answer = { proto: IpProto.UDP, srcIp: SERVER, dstIp: EXT, srcPort: 53, dstPort: extPort, payloadLength: 70 };
    const back = nat.one(Side.OUTSIDE, answer, 1);
    expect(hex(back.bytes)).toBe(hex(buildFrame({ ...answer, dstIp: HOST, dstPort: 5353 })));

    const bare = { ...q, udpNoChecksum: true, payloadLength: 5 };
    const out0 = nat.one(Side.INSIDE, bare, 2);
    expect(srcPortOf(out0.bytes)).toBe(extPort);
    expect(hex(out0.bytes)).toBe(hex(buildFrame({ ...bare, srcIp: EXT, srcPort: extPort })));
    expect(new DataView(out0.bytes.buffer).getUint16(40)).toBe(0);
    expect(checksumsValid(out0.bytes)).toBe(true);
    const back0 = nat.one(Side.OUTSIDE, { ...answer, udpNoChecksum: true }, 3);
    expect(hex(back0.bytes)).toBe(hex(buildFrame({ ...answer, udpNoChecksum: true, dstIp: HOST, dstPort: 5353 })));
  });

  it('translates an ICMP echo identifier out and back, separately from UDP/TCP ports', async () => {
    const nat = await NatHarness.create(CONFIG);
    const ping = { proto: IpProto.ICMP, srcIp: HOST, dstIp: SERVER, icmpType: 8, srcPort: 0x1234, dstPort: 9, payloadLength: 56 };
    const out = nat.one(Side.INSIDE, ping, 0);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    const id = icmpIdOf(out.bytes);
    expect(id).toBeGreaterThanOrEqual(20000);
    expect(hex(out.bytes)).toBe(hex(buildFrame({ ...ping, srcIp: EXT, srcPort: id })));
    expect(checksumsValid(out.bytes)).toBe(true);
    const pong = { proto: IpProto.ICMP, srcIp: SERVER, dstIp: EXT, icmpType: 0, srcPort: id, dstPort: 9, payloadLength: 56 };
    const back = nat.one(Side.OUTSIDE, pong, 1);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(hex(back.bytes)).toBe(hex(buildFrame({ ...pong, dstIp: HOST, srcPort: 0x1234 })));
    expect(checksumsValid(back.bytes)).toBe(true);
    const udpSameNumber = nat.one(Side.OUTSIDE, { proto: IpProto.UDP, srcIp: SERVER, dstIp: EXT, srcPort: 7, dstPort: id }, 2);
    expect(udpSameNumber.reason).toBe('no_mapping');
  });

  it('drops unsolicited inbound traffic and inbound echo requests as no_mapping', async () => {
    const nat = await NatHarness.create(CONFIG);
    const r = nat.run(
      [
        { side: Side.OUTSIDE, bytes: buildFrame({ proto: IpProto.TCP, srcIp: SERVER, dstIp: EXT, srcPort: 1, dstPort: 22 }) },
        { side: Side.OUTSIDE, bytes: buildFrame({ proto: IpProto.UDP, srcIp: SERVER, dstIp: EXT, srcPort: 1, dstPort: 25000 }) },
        { side: Side.OUTSIDE, bytes: buildFrame({ proto: IpProto.ICMP, srcIp: SERVER, dstIp: EXT, icmpType: 8 }) },
        { side: Side.OUTSIDE, bytes: buildFrame({ proto: IpProto.TCP, srcIp: SERVER, dstIp: HOST, srcPort: 1, dstPort: 22 }) },
      ],
      0,
    );
    expect(r.map((x) => x.reason)).toEqual(['no_mapping', 'no_mapping', 'no_mapping', 'no_mapping']);
    expect(nat.counter('no_mapping')).toBe(4);
    expect(nat.counter('dropped_packets')).toBe(4);
  });

  it('passes sources outside `match` and traffic to addresses it does not own unchanged', async () => {
    const nat = await NatHarness.create(CONFIG);
    const other = buildFrame({ proto: IpProto.UDP, srcIp: ip('192.168.7.7'), dstIp: SERVER, srcPort: 5, dstPort: 6 });
    const toOther = buildFrame({ proto: IpProto.UDP, srcIp: SERVER, dstIp: ip('192.168.7.7'), srcPort: 6, dstPort: 5 });
    const arp = buildFrame({ proto: IpProto.UDP, srcIp: HOST, dstIp: SERVER });
    arp.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
    const r = nat.run([{ side: Side.INSIDE, bytes: other }, { side: Side.OUTSIDE, bytes: toOther }, { side: Side.INSIDE, bytes: arp.slice(0, 42) }], 0);
    expect(r.map((x) => x.verdict)).toEqual([Verdict.OUTSIDE, Verdict.INSIDE, Verdict.OUTSIDE]);
    expect(hex(r[0].bytes)).toBe(hex(other));
    expect(hex(r[1].bytes)).toBe(hex(toOther));
    expect(nat.counter('untranslated')).toBe(3);
    expect(nat.counter('mappings_created')).toBe(0);
  });

  it('drops what it cannot translate with a named reason', async () => {
    const nat = await NatHarness.create(CONFIG);
    const gre = buildFrame({ proto: 47, srcIp: HOST, dstIp: SERVER, payloadLength: 8 });
    const r = nat.run(
      [
        { side: Side.INSIDE, bytes: buildFrame({ proto: IpProto.TCP, srcIp: HOST, dstIp: SERVER, srcPort: 1000, dstPort: 80, tcpFlags: 0x10 }) },
        { side: Side.INSIDE, bytes: gre },
        { side: Side.INSIDE, bytes: buildFrame({ proto: IpProto.ICMP, srcIp: HOST, dstIp: SERVER, icmpType: 13, payloadLength: 12 }) },
        { side: Side.OUTSIDE, bytes: buildFrame({ proto: 47, srcIp: SERVER, dstIp: EXT, payloadLength: 8 }) },
      ],
      0,
    );
    expect(r.map((x) => x.reason)).toEqual(['tcp_not_syn', 'unsupported_protocol', 'unsupported_icmp', 'unsupported_protocol']);
    expect(srcAddrOf(r[1].bytes)).toBe(HOST);
  });
});
