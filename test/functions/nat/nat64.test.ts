import { describe, expect, it } from 'vitest';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame, frame6 } from '../../unit/packet/frame-fixtures.ts';
import { ip, NatHarness } from './nat-harness.ts';
import { groups, parsed } from './nat64-frames.ts';
import { parseIpv6 } from '../../../src/packet/ipv6-address.ts';

const CONFIG = { snat: { addresses: '198.18.100.1', match: ['10.1.0.0/16'] }, nat64: {} };
const CLIENT = '2001:db8:1::10';
const SERVER6 = '64:ff9b::198.18.0.9';
const w = (text: string) => [...(parseIpv6(text) ?? [])];

describe('nat64: TCP and UDP from IPv6 clients to IPv4 servers (RFC 6146, RFC 7915)', () => {
  it('a TCP connection: SYN out becomes IPv4 from the pool, the answer comes back as IPv6 to the client', async () => {
    const nat = await NatHarness.create(CONFIG);
    const syn = frame6({ src: groups(CLIENT), dst: groups(SERVER6), proto: 6, srcPort: 40000, dstPort: 80, tcpFlags: 0x02, trafficClass: 0x28, hopLimit: 61, payloadLength: 13 });
    const out = nat.one(Side.INSIDE, syn, 1000);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    expect(out.bytes.length).toBe(syn.length - 20);
    const o = parsed(out.bytes);
    expect(o.L.ethertype).toBe(0x0800);
    expect(o.checksumsOk).toBe(true);
    expect([o.src4, o.dst4, o.dport, o.L.ipProto]).toEqual([ip('198.18.100.1'), ip('198.18.0.9'), 80, 6]);
    expect(o.view.getUint8(o.L.l3Offset + 1)).toBe(0x28); // traffic class → TOS
    expect(o.view.getUint8(o.L.l3Offset + 8)).toBe(61); // hop limit → TTL
    expect(o.L.payloadLength).toBe(13);
    expect(Buffer.from(out.bytes.subarray(0, 12)).equals(Buffer.from(syn.subarray(0, 12)))).toBe(true); // MACs kept
    const extPort = o.sport;
    expect(extPort).toBeGreaterThanOrEqual(1024);

    const synAck = frame({ srcIp: ip('198.18.0.9'), dstIp: ip('198.18.100.1'), proto: 6, srcPort: 80, dstPort: extPort, tcpFlags: 0x12, tos: 0x10, ttl: 50, payloadLength: 7 });
    const back = nat.one(Side.OUTSIDE, synAck, 1001);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(back.bytes.length).toBe(synAck.length + 20);
    const b = parsed(back.bytes);
    expect(b.L.ethertype).toBe(0x86dd);
    expect(b.checksumsOk).toBe(true);
    expect(b.src6).toEqual(w(SERVER6));
    expect(b.dst6).toEqual(w(CLIENT));
    expect([b.sport, b.dport, b.L.ipProto, b.L.payloadLength]).toEqual([80, 40000, 6, 7]);
    expect(b.view.getUint32(b.L.l3Offset) >>> 20).toBe(0x610); // version 6, traffic class 0x10
    expect(b.view.getUint8(b.L.l3Offset + 7)).toBe(50);
    expect(nat.counter('nat64_outbound')).toBe(1);
    expect(nat.counter('nat64_inbound')).toBe(1);
    expect(nat.counter('mappings_created')).toBe(1);
    expect(nat.counter('ipv6_passed')).toBe(0);
  });

  it('UDP: endpoint-independent (one external port for every destination); a zero UDP checksum from IPv4 is computed for IPv6', async () => {
    const nat = await NatHarness.create(CONFIG);
    const q = (dst: string, dport: number) => frame6({ src: groups(CLIENT), dst: groups(dst), proto: 17, srcPort: 5353, dstPort: dport, payloadLength: 30 });
    const outs = nat.run(
      [
        { side: Side.INSIDE, bytes: q('64:ff9b::198.18.0.9', 53) },
        { side: Side.INSIDE, bytes: q('64:ff9b::198.18.7.7', 123) },
      ],
      1000,
    );
    const [a, b] = outs.map((r) => parsed(r.bytes));
    expect(a.checksumsOk && b.checksumsOk).toBe(true);
    expect(a.sport).toBe(b.sport);
    expect([a.dst4, b.dst4]).toEqual([ip('198.18.0.9'), ip('198.18.7.7')]);
    expect(nat.counter('mappings_created')).toBe(1);
    // Any remote may answer a live mapping (endpoint-independent filtering), even with no checksum.
    const reply = frame({ srcIp: ip('198.18.3.3'), dstIp: ip('198.18.100.1'), proto: 17, srcPort: 9999, dstPort: a.sport, payloadLength: 11, udpNoChecksum: true });
    const back = nat.one(Side.OUTSIDE, reply, 1002);
    const r = parsed(back.bytes);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(r.checksumsOk).toBe(true);
    expect(r.view.getUint16(r.L.l4Offset + 6)).not.toBe(0);
    expect(r.src6).toEqual(w('64:ff9b::198.18.3.3'));
    expect([r.sport, r.dport]).toEqual([9999, 5353]);
  });

  it('keeps VLAN tags and a network-specific /48 prefix', async () => {
    const nat = await NatHarness.create({ ...CONFIG, nat64: { prefix: '2001:db8:122::/48' } });
    const dst = '2001:db8:122:c612:0:900::'; // 198.18.0.9 in a /48: c6.12 | u | 00.09
    const syn = frame6({ vlanIds: [100, 200], src: groups(CLIENT), dst: groups(dst), proto: 6, srcPort: 40000, dstPort: 80, tcpFlags: 0x02 });
    const out = nat.one(Side.INSIDE, syn, 1000);
    const o = parsed(out.bytes);
    expect(o.L.vlanCount).toBe(2);
    expect([...o.L.vlanIds]).toEqual([100, 200]);
    expect(o.dst4).toBe(ip('198.18.0.9'));
    expect(o.checksumsOk).toBe(true);
    const back = nat.one(Side.OUTSIDE, frame({ vlanIds: [100, 200], srcIp: ip('198.18.0.9'), dstIp: ip('198.18.100.1'), proto: 6, srcPort: 80, dstPort: o.sport, tcpFlags: 0x12 }), 1001);
    const b = parsed(back.bytes);
    expect([...b.L.vlanIds]).toEqual([100, 200]);
    expect(b.src6).toEqual(w(dst));
    expect(b.checksumsOk).toBe(true);
  });

  it('passes IPv6 that is not for the prefix or not from a translated source; IPv4 NAT44 goes on beside it', async () => {
    const nat = await NatHarness.create({ ...CONFIG, nat64: { match: ['2001:db8:1::/48'] } });
    const out = nat.run(
      [
        { side: Side.INSIDE, bytes: frame6({ src: groups(CLIENT), dst: groups('2001:db8:9::1'), proto: 17 }) },
        { side: Side.INSIDE, bytes: frame6({ src: groups('2001:db8:2::1'), dst: groups(SERVER6), proto: 17 }) },
        { side: Side.OUTSIDE, bytes: frame6({ src: groups(SERVER6), dst: groups(CLIENT), proto: 17 }) },
        { side: Side.INSIDE, bytes: frame({ srcIp: ip('10.1.0.5'), dstIp: ip('198.18.0.9'), proto: 17, srcPort: 1, dstPort: 2 }) },
      ],
      1000,
    );
    expect(out.map((r) => r.verdict)).toEqual([Verdict.OUTSIDE, Verdict.OUTSIDE, Verdict.INSIDE, Verdict.OUTSIDE]);
    expect(nat.counter('ipv6_passed')).toBe(3);
    expect(nat.counter('nat64_outbound')).toBe(0);
    expect(nat.counter('translated_outbound')).toBe(1);
  });

  it('an IPv4 packet to a NAT64 mapping that expired is no_mapping; a TCP segment without a mapping that is not a SYN is tcp_not_syn', async () => {
    const nat = await NatHarness.create({ ...CONFIG, timeouts: { udp: 1 } });
    const out = parsed(nat.one(Side.INSIDE, frame6({ src: groups(CLIENT), dst: groups(SERVER6), proto: 17, srcPort: 7, dstPort: 53 }), 1000).bytes);
    const reply = frame({ srcIp: ip('198.18.0.9'), dstIp: ip('198.18.100.1'), proto: 17, srcPort: 53, dstPort: out.sport });
    expect(nat.one(Side.OUTSIDE, reply, 1500).verdict).toBe(Verdict.INSIDE);
    expect(nat.one(Side.OUTSIDE, reply, 3000).reason).toBe('no_mapping');
    expect(nat.one(Side.INSIDE, frame6({ src: groups(CLIENT), dst: groups(SERVER6), proto: 6, tcpFlags: 0x10 }), 3000).reason).toBe('tcp_not_syn');
  });

  it('ICMPv6 echo ↔ ICMP echo: the identifier is the mapped "port"; requests from the outside are no_mapping', async () => {
    const nat = await NatHarness.create(CONFIG);
    const ping = frame6({ src: groups(CLIENT), dst: groups(SERVER6), proto: 58, icmpType: 128, icmpRest: (0x4242 << 16) | 7, payloadLength: 56 });
    const out = nat.one(Side.INSIDE, ping, 1000);
    const o = parsed(out.bytes);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    expect(o.checksumsOk).toBe(true);
    const l4 = o.L.l4Offset;
    expect([o.L.ipProto, o.view.getUint8(l4), o.view.getUint8(l4 + 1), o.view.getUint16(l4 + 6), o.L.l4Length]).toEqual([1, 8, 0, 7, 64]);
    const id = o.view.getUint16(l4 + 4);
    const pong = frame({ srcIp: ip('198.18.0.9'), dstIp: ip('198.18.100.1'), proto: 1, icmpType: 0, icmpId: id, icmpSeq: 7, payloadLength: 56 });
    const back = nat.one(Side.OUTSIDE, pong, 1001);
    const b = parsed(back.bytes);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(b.checksumsOk).toBe(true);
    expect([b.L.ipProto, b.view.getUint8(b.L.l4Offset), b.view.getUint16(b.L.l4Offset + 4), b.view.getUint16(b.L.l4Offset + 6)]).toEqual([58, 129, 0x4242, 7]);
    expect(b.dst6).toEqual(w(CLIENT));
    expect(b.src6).toEqual(w(SERVER6));
    const request = frame({ srcIp: ip('198.18.0.9'), dstIp: ip('198.18.100.1'), proto: 1, icmpType: 8, icmpId: id, icmpSeq: 8 });
    expect(nat.one(Side.OUTSIDE, request, 1002).reason).toBe('no_mapping');
    // The ICMP query timeout (60 s) applies.
    expect(nat.one(Side.OUTSIDE, pong, 61_002).reason).toBe('no_mapping');
  });

  it('drops IPv4 options in translation: the frame grows by 40 minus the IPv4 header length', async () => {
    const nat = await NatHarness.create(CONFIG);
    const o = parsed(nat.one(Side.INSIDE, frame6({ src: groups(CLIENT), dst: groups(SERVER6), proto: 17, srcPort: 5000, dstPort: 53 }), 1000).bytes);
    for (const options of [[1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]) {
      const answer = frame({ srcIp: ip('198.18.0.9'), dstIp: o.src4, proto: 17, srcPort: 53, dstPort: o.sport, ipOptions: options, payloadLength: 9 });
      const back = nat.one(Side.OUTSIDE, answer, 1001);
      expect(back.verdict).toBe(Verdict.INSIDE);
      expect(back.bytes.length).toBe(answer.length + 40 - (20 + options.length));
      const b = parsed(back.bytes);
      expect(b.checksumsOk).toBe(true);
      expect([b.L.ipHeaderLength, b.dport, b.L.payloadLength]).toEqual([40, 5000, 9]);
    }
  });
});
