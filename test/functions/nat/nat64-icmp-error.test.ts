import { describe, expect, it } from 'vitest';
import { icmp4ErrorTo6, icmp6ErrorTo4 } from '../../../functions/nat/nat64-icmp-error.ts';
import { verifyIpv4HeaderChecksum, verifyTcpChecksum, verifyUdpChecksum, writeIcmpChecksum, writeIpv4HeaderChecksum } from '../../../src/packet/checksum.ts';
import { verifyUdpChecksumIpv6 } from '../../../src/packet/checksum-ipv6.ts';
import { parseIpv6 } from '../../../src/packet/ipv6-address.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame, frame6 } from '../../unit/packet/frame-fixtures.ts';
import { ip, NatHarness } from './nat-harness.ts';
import { groups, parsed } from './nat64-frames.ts';

const CONFIG = { snat: { addresses: '198.18.100.1' }, nat64: {} };
const CLIENT = '2001:db8:1::10';
const SERVER6 = '64:ff9b::198.18.0.9';
const ROUTER4 = ip('198.18.0.1');
const w = (text: string) => [...(parseIpv6(text) ?? [])];

/** An Ethernet/IPv4/ICMP error frame from `src` to `dst` quoting `quote` (an IP packet, cut by the caller). */
function icmp4Error(src: number, dst: number, type: number, code: number, rest: number, quote: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(14 + 28 + quote.length);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0x02000000);
  v.setUint16(4, 0x0002);
  v.setUint32(6, 0x02000000);
  v.setUint16(10, 0x0001);
  v.setUint16(12, 0x0800);
  v.setUint32(14, 0x45000000 | (28 + quote.length));
  v.setUint32(18, 0);
  v.setUint32(22, 0x40010000);
  v.setUint32(26, src);
  v.setUint32(30, dst);
  writeIpv4HeaderChecksum(v, 14);
  v.setUint32(34, ((type << 24) | (code << 16)) >>> 0);
  v.setUint32(38, rest >>> 0);
  bytes.set(quote, 42);
  writeIcmpChecksum(v, 34, 8 + quote.length);
  return bytes;
}

/** An ICMPv6 error from the client to `dst` quoting `quote` (an IPv6 packet). */
function icmp6Error(dst: string, type: number, code: number, rest: number, quote: Uint8Array): Uint8Array {
  return frame6({ src: groups(CLIENT), dst: groups(dst), proto: 58, icmpType: type, icmpCode: code, icmpRest: rest, payload: quote });
}

async function connected(proto: 6 | 17 | 58, payloadLength = 20) {
  const nat = await NatHarness.create(CONFIG);
  const sent = frame6({ src: groups(CLIENT), dst: groups(SERVER6), proto, srcPort: 40000, dstPort: 80, tcpFlags: 0x02, icmpType: 128, icmpRest: (0x4242 << 16) | 9, payloadLength, hopLimit: 60 });
  const out = nat.one(Side.INSIDE, sent, 1000).bytes;
  return { nat, sent, out, o: parsed(out) };
}

describe('nat64: ICMP errors with their quoted packet (RFC 7915 §4.2, §5.2)', () => {
  it('maps types and codes as RFC 7915 tables say', () => {
    const to6 = (t: number, c: number) => {
      const r = icmp4ErrorTo6(t, c);
      return r < 0 ? -1 : r & 0xffff;
    };
    expect([to6(3, 0), to6(3, 1), to6(3, 3), to6(3, 4), to6(3, 9), to6(3, 13), to6(3, 2), to6(11, 0), to6(11, 1), to6(12, 0)]).toEqual([
      0x0100, 0x0100, 0x0104, 0x0200, 0x0101, 0x0101, 0x0401, 0x0300, 0x0301, 0x0400,
    ]);
    expect([to6(3, 14), to6(12, 1), to6(4, 0), to6(5, 0)]).toEqual([-1, -1, -1, -1]);
    const to4 = (t: number, c: number) => {
      const r = icmp6ErrorTo4(t, c);
      return r < 0 ? -1 : r & 0xffff;
    };
    expect([to4(1, 0), to4(1, 1), to4(1, 3), to4(1, 4), to4(2, 0), to4(3, 0), to4(3, 1), to4(4, 0), to4(4, 1)]).toEqual([
      0x0301, 0x030a, 0x0301, 0x0303, 0x0304, 0x0b00, 0x0b01, 0x0c00, 0x0302,
    ]);
    expect([to4(1, 5), to4(4, 2), to4(3, 2)]).toEqual([-1, -1, -1]);
  });

  it('an ICMPv4 port unreachable about a translated TCP SYN reaches the client as ICMPv6, quoting the client packet as sent', async () => {
    const { nat, sent, out, o } = await connected(6);
    const quote = out.subarray(14, 14 + 28); // IPv4 header + 8 bytes, as Linux quotes at least
    const err = icmp4Error(ip('198.18.0.9'), o.src4, 3, 3, 0, quote);
    const back = nat.one(Side.OUTSIDE, err, 1001);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(back.bytes.length).toBe(14 + 40 + 8 + 40 + 8);
    const b = parsed(back.bytes);
    expect(b.checksumsOk).toBe(true);
    expect([b.L.ipProto, b.view.getUint8(b.L.l4Offset), b.view.getUint8(b.L.l4Offset + 1)]).toEqual([58, 1, 4]);
    expect(b.src6).toEqual(w(SERVER6));
    expect(b.dst6).toEqual(w(CLIENT));
    // The quote is the client's own IPv6 header (payload length, next header, hop limit) and its first 8 TCP bytes.
    expect(Buffer.from(back.bytes.subarray(b.L.l4Offset + 8)).equals(Buffer.from(sent.subarray(14, 14 + 48)))).toBe(true);
    expect(nat.counter('icmp_errors_translated')).toBe(1);
  });

  it('frag-needed becomes packet-too-big with the MTU +20 (1280 without one); time exceeded, parameter problem (pointer mapped), protocol unreachable too', async () => {
    const { nat, out, o } = await connected(17, 100);
    const quote = out.subarray(14);
    const results = nat.run(
      [
        { side: Side.OUTSIDE, bytes: icmp4Error(ROUTER4, o.src4, 3, 4, 1400, quote) },
        { side: Side.OUTSIDE, bytes: icmp4Error(ROUTER4, o.src4, 11, 0, 0, quote) },
        { side: Side.OUTSIDE, bytes: icmp4Error(ROUTER4, o.src4, 12, 0, 8 << 24, quote) },
        { side: Side.OUTSIDE, bytes: icmp4Error(ROUTER4, o.src4, 12, 0, 5 << 24, quote) },
        { side: Side.OUTSIDE, bytes: icmp4Error(ROUTER4, o.src4, 3, 14, 0, quote) },
        { side: Side.OUTSIDE, bytes: icmp4Error(ROUTER4, o.src4, 3, 2, 0, quote) },
        { side: Side.OUTSIDE, bytes: icmp4Error(ROUTER4, o.src4, 3, 4, 0, quote) },
      ],
      1001,
    );
    expect(results.map((r) => r.reason)).toEqual([null, null, null, 'unsupported_icmp', 'unsupported_icmp', null, null]);
    for (const [i, type, code, rest] of [
      [0, 2, 0, 1420],
      [1, 3, 0, 0],
      [2, 4, 0, 7],
      [5, 4, 1, 6], // protocol unreachable: unrecognized next header, pointing at it
      [6, 2, 0, 1280], // frag needed without an MTU: the IPv6 minimum
    ] as const) {
      const b = parsed(results[i].bytes);
      expect(b.checksumsOk).toBe(true);
      const l4 = b.L.l4Offset;
      expect([b.view.getUint8(l4), b.view.getUint8(l4 + 1), b.view.getUint32(l4 + 4)]).toEqual([type, code, rest]);
      expect(b.src6).toEqual(w('64:ff9b::198.18.0.1'));
      // A whole quoted UDP datagram: its checksum verifies over the translated quoted IPv6 header.
      const inner = l4 + 8;
      expect(b.view.getUint16(inner + 40)).toBe(40000);
      expect(verifyUdpChecksumIpv6(b.view, inner, inner + 40, b.view.getUint16(inner + 44))).toBe(true);
    }
  });

  it('quotes an echo request as ICMPv6 with the client identifier, and cuts the error to 1280 bytes', async () => {
    const echo = await connected(58, 20);
    const err = icmp4Error(ROUTER4, echo.o.src4, 11, 0, 0, echo.out.subarray(14, 14 + 28));
    const b = parsed(echo.nat.one(Side.OUTSIDE, err, 1001).bytes);
    expect(b.checksumsOk).toBe(true);
    const inner = b.L.l4Offset + 8;
    expect([b.view.getUint8(inner + 6), b.view.getUint8(inner + 40), b.view.getUint16(inner + 44)]).toEqual([58, 128, 0x4242]);

    const big = await connected(17, 1300);
    const cut = big.nat.one(Side.OUTSIDE, icmp4Error(ROUTER4, big.o.src4, 3, 1, 0, big.out.subarray(14)), 1001);
    expect(cut.verdict).toBe(Verdict.INSIDE);
    expect(cut.bytes.length).toBe(14 + 1280);
    expect(parsed(cut.bytes).checksumsOk).toBe(true);
  });

  it('an ICMPv6 port unreachable from the client about a translated answer reaches the server as ICMPv4, quoting its packet', async () => {
    const { nat, o } = await connected(17, 30);
    const answer = frame({ srcIp: ip('198.18.0.9'), dstIp: o.src4, proto: 17, srcPort: 80, dstPort: o.sport, payloadLength: 40, ttl: 50 });
    const delivered = nat.one(Side.OUTSIDE, answer, 1001).bytes;
    const err = icmp6Error(SERVER6, 1, 4, 0, delivered.subarray(14));
    const out = nat.one(Side.INSIDE, err, 1002);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    const e = parsed(out.bytes);
    expect(e.checksumsOk).toBe(true);
    expect([e.src4, e.dst4, e.L.ipProto]).toEqual([o.src4, ip('198.18.0.9'), 1]);
    const l4 = e.L.l4Offset;
    expect([e.view.getUint8(l4), e.view.getUint8(l4 + 1)]).toEqual([3, 3]);
    const inner = l4 + 8;
    expect(verifyIpv4HeaderChecksum(e.view, inner)).toBe(true);
    expect([e.view.getUint32(inner + 12), e.view.getUint32(inner + 16), e.view.getUint8(inner + 8), e.view.getUint8(inner + 9)]).toEqual([ip('198.18.0.9'), o.src4, 50, 17]);
    // The server's UDP datagram comes back byte for byte, its checksum right over the quoted IPv4 header.
    expect(Buffer.from(out.bytes.subarray(inner + 20)).equals(Buffer.from(answer.subarray(34)))).toBe(true);
    expect(verifyUdpChecksum(e.view, inner, inner + 20, e.view.getUint16(inner + 24))).toBe(true);
    expect(out.bytes.length).toBe(14 + 20 + 8 + answer.length - 14);
  });

  it('packet too big, parameter problems and a TCP quote from the client; malformed and unknown quotes are counted', async () => {
    const { nat, o } = await connected(6, 0);
    const answer = frame({ srcIp: ip('198.18.0.9'), dstIp: o.src4, proto: 6, srcPort: 80, dstPort: o.sport, tcpFlags: 0x12, payloadLength: 10 });
    const delivered = nat.one(Side.OUTSIDE, answer, 1001).bytes.subarray(14);
    const stranger = frame6({ src: groups(SERVER6), dst: groups('2001:db8:1::99'), proto: 6, srcPort: 80, dstPort: 1 }).subarray(14);
    const results = nat.run(
      [
        { side: Side.INSIDE, bytes: icmp6Error(SERVER6, 2, 0, 1300, delivered) },
        { side: Side.INSIDE, bytes: icmp6Error(SERVER6, 4, 0, 7, delivered) },
        { side: Side.INSIDE, bytes: icmp6Error(SERVER6, 4, 1, 40, delivered) },
        { side: Side.INSIDE, bytes: icmp6Error(SERVER6, 4, 0, 3, delivered) },
        { side: Side.INSIDE, bytes: icmp6Error(SERVER6, 1, 4, 0, delivered.subarray(0, 44)) },
        { side: Side.INSIDE, bytes: icmp6Error(SERVER6, 1, 4, 0, stranger) },
        { side: Side.INSIDE, bytes: icmp6Error('2001:db8:9::1', 1, 4, 0, stranger) },
      ],
      1002,
    );
    expect(results.map((r) => r.reason)).toEqual([null, null, null, 'unsupported_icmp', 'icmp_error_malformed', 'no_mapping', null]);
    expect(results[6].verdict).toBe(Verdict.OUTSIDE); // not for the prefix: plain IPv6, untranslated
    for (const [i, word1, rest] of [
      [0, 0x0304, 1280],
      [1, 0x0c00, 8 << 24],
      [2, 0x0302, 0],
    ] as const) {
      const e = parsed(results[i].bytes);
      expect(e.checksumsOk).toBe(true);
      const l4 = e.L.l4Offset;
      expect([e.view.getUint16(l4), e.view.getUint32(l4 + 4)]).toEqual([word1, rest >>> 0]);
      const inner = l4 + 8;
      expect(e.view.getUint16(inner + 22)).toBe(o.sport);
      expect(verifyTcpChecksum(e.view, inner, inner + 20, 20 + 10)).toBe(true);
    }
  });
});
