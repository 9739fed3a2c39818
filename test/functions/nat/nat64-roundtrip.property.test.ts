import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nat64EmbedWords, nat64Prefix } from '../../../functions/nat/nat64-address.ts';
import { parseIpv6Prefix, type Ipv6Prefix } from '../../../src/packet/ipv6-address.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame, frame6 } from '../../unit/packet/frame-fixtures.ts';
import { NatHarness } from './nat-harness.ts';
import { groupsOf, parsed } from './nat64-frames.ts';

// NAT64 round trip (TCP, UDP, ICMPv6 echo): an IPv6 packet out becomes IPv4 from the pool to the embedded address;
// the IPv4 answer to it becomes IPv6 again with exactly the original endpoints swapped,
// every checksum right by a full recompute and the payload unchanged, whatever the prefix
// (each RFC 6052 length), addresses, ports, VLAN tags, traffic class, hop limit and payload.
const word = fc.integer({ min: 0, max: 0xffffffff });
/** A first word in 2000::/3 (global unicast): addresses parse-frame accepts as a source or destination. */
const globalWord = fc.integer({ min: 0x20000000, max: 0x3fffffff });
const unicast4 = fc.integer({ min: 0x01000000, max: 0xdfffffff }).filter((a) => a >>> 24 !== 127);
const caseArb = fc.record({
  prefix: fc.constantFrom('2001:db8::/32', '2001:db8:100::/40', '2001:db8:122::/48', '2001:db8:122:300::/56', '2001:db8:122:344::/64', '2001:db8:122:344::/96', '64:ff9b::/96'),
  client: fc.tuple(globalWord, word, word, word),
  server: unicast4,
  proto: fc.constantFrom(6, 17, 58),
  sport: fc.integer({ min: 1, max: 65535 }),
  dport: fc.integer({ min: 1, max: 65535 }),
  vlans: fc.constantFrom([], [7], [7, 300]),
  tc: fc.integer({ min: 0, max: 255 }),
  hops: fc.integer({ min: 1, max: 255 }),
  payload: fc.uint8Array({ maxLength: 200 }),
  answerPayload: fc.uint8Array({ maxLength: 200 }),
  tos: fc.integer({ min: 0, max: 255 }),
  ttl: fc.integer({ min: 1, max: 255 }),
  noUdpChecksum: fc.boolean(),
});

describe('nat64: translation round-trips (property)', () => {
  it('IPv6 → IPv4 → IPv6 reply gives back the original endpoints; checksums verify by full recompute', async () => {
    const harnesses = new Map<string, NatHarness>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const parsedPrefix = parseIpv6Prefix(c.prefix) as Ipv6Prefix;
        const p = nat64Prefix(parsedPrefix.addr, parsedPrefix.prefix);
        let nat = harnesses.get(c.prefix);
        if (nat === undefined) {
          nat = await NatHarness.create({ snat: { addresses: '198.18.100.0/30' }, nat64: { prefix: c.prefix }, capacity: 4096 });
          harnesses.set(c.prefix, nat);
        }
        const client = [...c.client];
        const server6 = nat64EmbedWords(p, c.server);
        const tcp = c.proto === 6;
        const echo = c.proto === 58;
        const out = nat.one(
          Side.INSIDE,
          frame6({
            vlanIds: c.vlans,
            src: groupsOf(client),
            dst: groupsOf(server6),
            proto: c.proto,
            srcPort: c.sport,
            dstPort: c.dport,
            tcpFlags: 0x02,
            icmpType: 128,
            icmpRest: ((c.sport << 16) | c.dport) >>> 0, // echo identifier and sequence number
            trafficClass: c.tc,
            hopLimit: c.hops,
            payload: c.payload,
          }),
          1000,
        );
        expect(out.verdict).toBe(Verdict.OUTSIDE);
        const o = parsed(out.bytes);
        expect(o.checksumsOk).toBe(true);
        expect(o.L.ethertype).toBe(0x0800);
        // For echo the "ports" are the type/code word and the checksum: read the identifier and sequence.
        const l4 = o.L.l4Offset;
        const extPort = echo ? o.view.getUint16(l4 + 4) : o.sport;
        if (echo) expect([o.view.getUint8(l4), o.view.getUint16(l4 + 6)]).toEqual([8, c.dport]);
        else expect(o.dport).toBe(c.dport);
        expect([o.dst4, o.L.ipProto, o.L.vlanCount]).toEqual([c.server >>> 0, echo ? 1 : c.proto, c.vlans.length]);
        expect(o.src4 >>> 8).toBe(0xc61264); // the pool 198.18.100.0/30
        expect(o.view.getUint8(o.L.l3Offset + 1)).toBe(c.tc);
        expect(o.view.getUint8(o.L.l3Offset + 8)).toBe(c.hops);
        expect(Buffer.from(out.bytes.subarray(o.L.payloadOffset, o.L.payloadOffset + o.L.payloadLength)).equals(Buffer.from(c.payload))).toBe(true);

        const answer = frame({
          vlanIds: c.vlans,
          srcIp: o.dst4,
          dstIp: o.src4,
          proto: echo ? 1 : c.proto,
          srcPort: c.dport,
          dstPort: extPort,
          tcpFlags: 0x12,
          icmpType: 0,
          icmpId: extPort,
          icmpSeq: c.dport,
          tos: c.tos,
          ttl: c.ttl,
          payload: c.answerPayload,
          udpNoChecksum: !tcp && c.noUdpChecksum,
        });
        const back = nat.one(Side.OUTSIDE, answer, 1001);
        expect(back.verdict).toBe(Verdict.INSIDE);
        const b = parsed(back.bytes);
        expect(b.checksumsOk).toBe(true);
        expect(b.L.ethertype).toBe(0x86dd);
        expect(b.src6).toEqual(server6);
        expect(b.dst6).toEqual(client.map((w) => w >>> 0));
        const bl4 = b.L.l4Offset;
        if (echo) expect([b.view.getUint8(bl4), b.view.getUint16(bl4 + 4), b.view.getUint16(bl4 + 6)]).toEqual([129, c.sport, c.dport]);
        else expect([b.sport, b.dport]).toEqual([c.dport, c.sport]);
        expect([b.L.ipProto, b.L.vlanCount]).toEqual([c.proto, c.vlans.length]);
        expect((b.view.getUint32(b.L.l3Offset) >>> 20) & 0xff).toBe(c.tos);
        expect(b.view.getUint8(b.L.l3Offset + 7)).toBe(c.ttl);
        expect(Buffer.from(back.bytes.subarray(b.L.payloadOffset, b.L.payloadOffset + b.L.payloadLength)).equals(Buffer.from(c.answerPayload))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
