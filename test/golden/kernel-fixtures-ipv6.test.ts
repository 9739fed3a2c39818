import { describe, expect, it } from 'vitest';
import {
  computeIcmpv6Checksum, computeTcpChecksumIpv6, computeUdpChecksumIpv6, verifyIcmpv6Checksum, verifyTcpChecksumIpv6, verifyUdpChecksumIpv6,
} from '../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../src/packet/drop-reason.ts';
import { ethDstHi16, ethDstLo32, ethSrcHi16, ethSrcLo32, ethType, macHi16, macLo32, macToString } from '../../src/packet/ethernet.ts';
import { extractFlowKey6, extractIcmpv6InnerFlowKey, FlowKey6 } from '../../src/packet/flow-key-ipv6.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import {
  findNdpOption, icmpv6Checksum, icmpv6Code, icmpv6EchoId, icmpv6EchoSeq, icmpv6Type, isIcmpv6QuotingError, NDP_NS_NA_LENGTH,
  NdpAdvertisementFlag, ndpAdvertisementFlags, ndpTargetOffset,
} from '../../src/packet/icmpv6.ts';
import {
  IPV6_DST_OFFSET, IPV6_SRC_OFFSET, ipv6FlowLabel, ipv6HopLimit, ipv6NextHeader, ipv6PayloadLength, ipv6ToFullString, ipv6TrafficClass, ipv6Version,
} from '../../src/packet/ipv6.ts';
import { findIcmpv6Quote, Icmpv6Quote } from '../../src/packet/icmpv6-quote.ts';
import { ParseFlag, parseFrame } from '../../src/packet/parse-frame.ts';
import { tcpAck, tcpChecksum, tcpDstPort, tcpFlags, tcpHeaderLength, tcpSeq, tcpSrcPort, tcpUrgent, tcpWindow } from '../../src/packet/tcp.ts';
import { udpChecksum, udpDstPort, udpLength, udpSrcPort } from '../../src/packet/udp.ts';
import { KERNEL_FIXTURES_IPV6, loadKernelFixture, type OracleFrame } from './kernel-fixtures.ts';

type Reading = Record<string, Array<string | number>>;

const num = (s: string) => (s.startsWith('0x') ? parseInt(s, 16) : Number(s));
const TEXT_FIELDS = new Set(['eth.dst', 'eth.src', 'ipv6.src', 'ipv6.dst', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.target_address', 'icmpv6.opt.linkaddr']);
/** RFC 5952 text of an address (what tshark prints), via WHATWG URL parsing of the full form. */
const compressed = (full: string) => new URL(`http://[${full}]/`).hostname.slice(1, -1);
const addressAt = (view: DataView, at: number) => compressed(ipv6ToFullString(view, at));

interface Header {
  l3: number;
  /** Upper-layer header, -1 for a later fragment. */
  l4: number;
  l4Length: number;
  proto: number;
  /** The bytes of the upper layer are all here (not a cut quote, not a fragment). */
  complete: boolean;
  fragment: boolean;
}

/** What the project's views read from one IPv6 frame, keyed by the oracle's field names. */
function readFrame(view: DataView, off: number, caplen: number, origLen: number, layout: FrameLayout): Reading {
  const r: Reading = {};
  const put = (k: string, v: string | number) => (r[k] ??= []).push(v);
  put('frame.len', origLen);
  put('frame.cap_len', caplen);
  put('eth.dst', macToString(ethDstHi16(view, off), ethDstLo32(view, off)));
  put('eth.src', macToString(ethSrcHi16(view, off), ethSrcLo32(view, off)));
  put('eth.type', ethType(view, off));
  const headers: Header[] = [{
    l3: layout.l3Offset, l4: layout.l4Offset, l4Length: layout.l4Length, proto: layout.ipProto, complete: !layout.isFragment, fragment: layout.isFragment,
  }];
  if (layout.ipProto === 58 && isIcmpv6QuotingError(icmpv6Type(view, layout.l4Offset))) {
    const q = new Icmpv6Quote();
    expect(findIcmpv6Quote(view, layout, q)).toBe(true);
    headers.push({ l3: q.l3, l4: q.l4, l4Length: q.end - q.l4, proto: q.proto, complete: q.complete, fragment: q.isFragment });
  }
  for (const h of headers) {
    put('ipv6.version', ipv6Version(view, h.l3));
    put('ipv6.tclass', ipv6TrafficClass(view, h.l3));
    put('ipv6.flow', ipv6FlowLabel(view, h.l3));
    put('ipv6.plen', ipv6PayloadLength(view, h.l3));
    put('ipv6.nxt', ipv6NextHeader(view, h.l3));
    put('ipv6.hlim', ipv6HopLimit(view, h.l3));
    put('ipv6.src', addressAt(view, h.l3 + IPV6_SRC_OFFSET));
    put('ipv6.dst', addressAt(view, h.l3 + IPV6_DST_OFFSET));
    // The extension headers one by one, as tshark lists them.
    let next = ipv6NextHeader(view, h.l3);
    let p = h.l3 + 40;
    while (next === 0 || next === 60 || next === 44) {
      if (next === 44) {
        put('ipv6.fraghdr.nxt', view.getUint8(p));
        put('ipv6.fraghdr.offset', view.getUint16(p + 2) >>> 3);
        put('ipv6.fraghdr.more', view.getUint16(p + 2) & 1);
        put('ipv6.fraghdr.ident', view.getUint32(p + 4));
        if (view.getUint16(p + 2) >>> 3 !== 0) break;
        next = view.getUint8(p);
        p += 8;
        continue;
      }
      const name = next === 0 ? 'hopopts' : 'dstopts';
      put(`ipv6.${name}.nxt`, view.getUint8(p));
      put(`ipv6.${name}.len`, view.getUint8(p + 1));
      next = view.getUint8(p);
      p += (view.getUint8(p + 1) + 1) * 8;
    }
    if (h.l4 >= 0) expect(h.l4).toBe(p);
  }
  for (const h of headers) {
    if (h.l4 < 0) continue;
    const { l3, l4, l4Length } = h;
    if (h.proto === 6) {
      put('tcp.srcport', tcpSrcPort(view, l4));
      put('tcp.dstport', tcpDstPort(view, l4));
      put('tcp.seq_raw', tcpSeq(view, l4));
      put('tcp.ack_raw', tcpAck(view, l4));
      put('tcp.hdr_len', tcpHeaderLength(view, l4));
      put('tcp.flags', ((view.getUint8(l4 + 12) & 0x0f) << 8) | tcpFlags(view, l4));
      put('tcp.window_size_value', tcpWindow(view, l4));
      put('tcp.checksum', tcpChecksum(view, l4));
      put('tcp.checksum.status', verifyTcpChecksumIpv6(view, l3, l4, l4Length) && computeTcpChecksumIpv6(view, l3, l4, l4Length) === tcpChecksum(view, l4) ? 1 : 0);
      put('tcp.urgent_pointer', tcpUrgent(view, l4));
      put('tcp.len', l4Length - tcpHeaderLength(view, l4));
    } else if (h.proto === 17) {
      const ulen = udpLength(view, l4);
      put('udp.srcport', udpSrcPort(view, l4));
      put('udp.dstport', udpDstPort(view, l4));
      put('udp.length', ulen);
      put('udp.checksum', udpChecksum(view, l4));
      put('udp.checksum.status', !h.complete ? 2 : verifyUdpChecksumIpv6(view, l3, l4, ulen) && computeUdpChecksumIpv6(view, l3, l4, ulen) === udpChecksum(view, l4) ? 1 : 0);
    } else if (h.proto === 58) {
      const type = icmpv6Type(view, l4);
      put('icmpv6.type', type);
      put('icmpv6.code', icmpv6Code(view, l4));
      put('icmpv6.checksum', icmpv6Checksum(view, l4));
      put('icmpv6.checksum.status', verifyIcmpv6Checksum(view, l3, l4, l4Length) && computeIcmpv6Checksum(view, l3, l4, l4Length) === icmpv6Checksum(view, l4) ? 1 : 0);
      if (type === 128 || type === 129) {
        put('icmpv6.echo.identifier', icmpv6EchoId(view, l4));
        put('icmpv6.echo.sequence_number', icmpv6EchoSeq(view, l4));
      }
      if (type === 135 || type === 136) {
        put(type === 135 ? 'icmpv6.nd.ns.target_address' : 'icmpv6.nd.na.target_address', addressAt(view, ndpTargetOffset(l4)));
        if (type === 136) {
          const f = ndpAdvertisementFlags(view, l4);
          put('icmpv6.nd.na.flag.r', f & NdpAdvertisementFlag.ROUTER ? 1 : 0);
          put('icmpv6.nd.na.flag.s', f & NdpAdvertisementFlag.SOLICITED ? 1 : 0);
          put('icmpv6.nd.na.flag.o', f & NdpAdvertisementFlag.OVERRIDE ? 1 : 0);
        }
        const end = l4 + l4Length;
        for (const kind of [1, 2]) {
          const o = findNdpOption(view, l4 + NDP_NS_NA_LENGTH, end, kind);
          expect(o).not.toBe(-2);
          if (o < 0) continue;
          put('icmpv6.opt.type', kind);
          put('icmpv6.opt.length', view.getUint8(o + 1));
          put('icmpv6.opt.linkaddr', macToString(macHi16(view, o + 2), macLo32(view, o + 2)));
        }
      }
    }
  }
  return r;
}

function expected(field: string, values: string[]): Array<string | number> {
  if (TEXT_FIELDS.has(field)) return values;
  return values.map(num);
}

describe('golden: kernel-captured IPv6 fixtures vs the tshark oracle', () => {
  for (const name of KERNEL_FIXTURES_IPV6) {
    it(`${name}.pcap: every oracle field equals what the views read, every frame parses and verifies`, () => {
      const fx = loadKernelFixture(name);
      expect(fx.records.length).toBe(fx.oracle.length);
      expect(fx.records.length).toBeGreaterThan(0);
      expect(fx.reader.info.linkType).toBe(1);
      const layout = new FrameLayout();
      const key = new FlowKey6();
      let compared = 0;
      fx.records.forEach((rec, i) => {
        const want: OracleFrame = fx.oracle[i];
        expect(num(want['frame.number'][0])).toBe(i + 1);
        const view = fx.reader.view;
        expect(parseFrame(view, rec.offset, rec.caplen, layout, ParseFlag.VERIFY_L4_CHECKSUM), `frame ${i + 1}`).toBe(DropReason.OK);
        expect(parseFrame(view, rec.offset, rec.caplen, layout), `frame ${i + 1}`).toBe(DropReason.OK);
        expect(layout.ethertype).toBe(0x86dd);
        expect(extractFlowKey6(view, layout, key)).toBe(true);
        const got = readFrame(view, rec.offset, rec.caplen, rec.origLen, layout);
        for (const [field, values] of Object.entries(want)) {
          if (field === 'frame.number') continue;
          expect(got[field], `${name} frame ${i + 1} ${field}`).toEqual(expected(field, values));
          compared += values.length;
        }
        for (const field of Object.keys(got)) expect(want[field], `${name} frame ${i + 1}: ${field} read but not in the oracle`).toBeDefined();
        for (const status of ['tcp.checksum.status', 'udp.checksum.status', 'icmpv6.checksum.status']) {
          for (const s of want[status] ?? []) expect(['1', '2'], `${name} frame ${i + 1} ${status}`).toContain(s);
        }
        // Ports in the flow key exactly where tshark decoded an upper-layer header.
        const ports = want['tcp.srcport'] ?? want['udp.srcport'];
        if (layout.ipProto !== 58) expect(key.srcPort, `${name} frame ${i + 1} key`).toBe(ports === undefined ? 0 : num(ports[ports.length - 1]));
      });
      const total = fx.oracle.reduce((n, f) => n + Object.values(f).reduce((m, v) => m + v.length, 0) - 1, 0);
      expect(compared).toBe(total);
    });
  }

  it('the fixtures cover IPv6 TCP, UDP, ICMPv6 echo, an error, NDP, extension headers and both kinds of fragment', () => {
    const seen = new Set<string>();
    for (const name of KERNEL_FIXTURES_IPV6) for (const f of loadKernelFixture(name).oracle) for (const k of Object.keys(f)) seen.add(k);
    for (const field of ['tcp.seq_raw', 'tcp.checksum', 'udp.checksum', 'icmpv6.echo.identifier', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.flag.s',
      'icmpv6.opt.linkaddr', 'ipv6.hopopts.nxt', 'ipv6.dstopts.nxt', 'ipv6.fraghdr.offset']) {
      expect(seen).toContain(field);
    }
    const udp = loadKernelFixture('udp-ipv6');
    const offsets = udp.oracle.flatMap((f) => f['ipv6.fraghdr.offset'] ?? []);
    expect(offsets).toContain('0');
    expect(offsets.some((o) => o !== '0')).toBe(true);
  });

  it('the ICMPv6 error gives back the flow of the datagram it quotes', () => {
    const fx = loadKernelFixture('icmpv6-error');
    const layout = new FrameLayout();
    const sent = new FlowKey6();
    const quoted = new FlowKey6();
    expect(parseFrame(fx.reader.view, fx.records[0].offset, fx.records[0].caplen, layout)).toBe(DropReason.OK);
    expect(extractFlowKey6(fx.reader.view, layout, sent)).toBe(true);
    expect(parseFrame(fx.reader.view, fx.records[1].offset, fx.records[1].caplen, layout)).toBe(DropReason.OK);
    expect(extractIcmpv6InnerFlowKey(fx.reader.view, layout, quoted)).toBe(true);
    expect(quoted.equals(sent)).toBe(true);
    expect(quoted.dstPort).toBe(33434);
  });
});
