import { describe, expect, it } from 'vitest';
import {
  arpHlen, arpHtype, arpOp, arpPlen, arpPtype, arpShaHi16, arpShaLo32, arpSpa, arpThaHi16, arpThaLo32, arpTpa,
} from '../../src/packet/arp.ts';
import {
  computeIcmpChecksum, computeIpv4HeaderChecksum, computeTcpChecksum, computeUdpChecksum,
  verifyIcmpChecksum, verifyIpv4HeaderChecksum, verifyTcpChecksum, verifyUdpChecksum,
} from '../../src/packet/checksum.ts';
import { DropReason } from '../../src/packet/drop-reason.ts';
import {
  ethDstHi16, ethDstLo32, ethSrcHi16, ethSrcLo32, ethType, macToString, vlanDei, vlanId, vlanInnerType, vlanPcp,
} from '../../src/packet/ethernet.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { icmpChecksum, icmpCode, icmpEchoId, icmpEchoSeq, icmpType, isIcmpError } from '../../src/packet/icmp.ts';
import {
  ipv4Checksum, ipv4DontFragment, ipv4Dst, ipv4Flags, ipv4FragmentOffset, ipv4HeaderLength, ipv4Id,
  ipv4MoreFragments, ipv4Protocol, ipv4Src, ipv4ToString, ipv4Tos, ipv4TotalLength, ipv4Ttl, ipv4Version,
} from '../../src/packet/ipv4.ts';
import { ParseFlag, parseFrame } from '../../src/packet/parse-frame.ts';
import {
  tcpAck, tcpChecksum, tcpDstPort, tcpFlags, tcpHeaderLength, tcpSeq, tcpSrcPort, tcpUrgent, tcpWindow,
} from '../../src/packet/tcp.ts';
import { udpChecksum, udpDstPort, udpLength, udpSrcPort } from '../../src/packet/udp.ts';
import { KERNEL_FIXTURES, loadKernelFixture, type OracleFrame } from './kernel-fixtures.ts';

type Reading = Record<string, Array<string | number>>;

const num = (s: string) => (s.startsWith('0x') ? parseInt(s, 16) : Number(s));
const MAC_FIELDS = new Set(['eth.dst', 'eth.src', 'arp.src.hw_mac', 'arp.dst.hw_mac']);
const ADDR_FIELDS = new Set(['ip.src', 'ip.dst', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4']);

/** What the project's views read from one frame, keyed by the oracle's field names. */
function readFrame(view: DataView, off: number, caplen: number, origLen: number, layout: FrameLayout): Reading {
  const r: Reading = {};
  const put = (k: string, v: string | number) => (r[k] ??= []).push(v);
  put('frame.len', origLen);
  put('frame.cap_len', caplen);
  put('eth.dst', macToString(ethDstHi16(view, off), ethDstLo32(view, off)));
  put('eth.src', macToString(ethSrcHi16(view, off), ethSrcLo32(view, off)));
  put('eth.type', ethType(view, off));
  if (layout.vlanCount > 0) {
    const tag = off + 12;
    put('vlan.id', vlanId(view, tag));
    put('vlan.priority', vlanPcp(view, tag));
    put('vlan.dei', vlanDei(view, tag));
    put('vlan.etype', vlanInnerType(view, tag));
  }
  const l3 = layout.l3Offset;
  if (layout.ethertype === 0x0806) {
    put('arp.hw.type', arpHtype(view, l3));
    put('arp.proto.type', arpPtype(view, l3));
    put('arp.hw.size', arpHlen(view, l3));
    put('arp.proto.size', arpPlen(view, l3));
    put('arp.opcode', arpOp(view, l3));
    put('arp.src.hw_mac', macToString(arpShaHi16(view, l3), arpShaLo32(view, l3)));
    put('arp.src.proto_ipv4', ipv4ToString(arpSpa(view, l3)));
    put('arp.dst.hw_mac', macToString(arpThaHi16(view, l3), arpThaLo32(view, l3)));
    put('arp.dst.proto_ipv4', ipv4ToString(arpTpa(view, l3)));
    return r;
  }
  // Outer IPv4, then the header an ICMP error quotes (tshark lists both, outer first).
  const headers: Array<{ l3: number; l4: number; l4Length: number; proto: number; isPayloadComplete: boolean }> = [];
  headers.push({ l3, l4: layout.l4Offset, l4Length: layout.l4Length, proto: layout.ipProto, isPayloadComplete: true });
  if (layout.ipProto === 1 && isIcmpError(icmpType(view, layout.l4Offset))) {
    const inner = layout.l4Offset + 8;
    const hl = ipv4HeaderLength(view, inner);
    headers.push({ l3: inner, l4: inner + hl, l4Length: ipv4TotalLength(view, inner) - hl, proto: ipv4Protocol(view, inner), isPayloadComplete: inner + ipv4TotalLength(view, inner) <= layout.l4Offset + layout.l4Length });
  }
  for (const h of headers) {
    put('ip.version', ipv4Version(view, h.l3));
    put('ip.hdr_len', ipv4HeaderLength(view, h.l3));
    put('ip.dsfield', ipv4Tos(view, h.l3));
    put('ip.len', ipv4TotalLength(view, h.l3));
    put('ip.id', ipv4Id(view, h.l3));
    put('ip.flags', ipv4Flags(view, h.l3));
    put('ip.flags.df', ipv4DontFragment(view, h.l3) ? 1 : 0);
    put('ip.flags.mf', ipv4MoreFragments(view, h.l3) ? 1 : 0);
    put('ip.frag_offset', ipv4FragmentOffset(view, h.l3));
    put('ip.ttl', ipv4Ttl(view, h.l3));
    put('ip.proto', ipv4Protocol(view, h.l3));
    put('ip.checksum', ipv4Checksum(view, h.l3));
    const ipGood = verifyIpv4HeaderChecksum(view, h.l3) && computeIpv4HeaderChecksum(view, h.l3) === ipv4Checksum(view, h.l3);
    put('ip.checksum.status', ipGood ? 1 : 0);
    put('ip.src', ipv4ToString(ipv4Src(view, h.l3)));
    put('ip.dst', ipv4ToString(ipv4Dst(view, h.l3)));
  }
  for (const h of headers) {
    if (h.proto === 6) {
      put('tcp.srcport', tcpSrcPort(view, h.l4));
      put('tcp.dstport', tcpDstPort(view, h.l4));
      put('tcp.seq_raw', tcpSeq(view, h.l4));
      put('tcp.ack_raw', tcpAck(view, h.l4));
      put('tcp.hdr_len', tcpHeaderLength(view, h.l4));
      put('tcp.flags', ((view.getUint8(h.l4 + 12) & 0x0f) << 8) | tcpFlags(view, h.l4));
      put('tcp.window_size_value', tcpWindow(view, h.l4));
      put('tcp.checksum', tcpChecksum(view, h.l4));
      const good = verifyTcpChecksum(view, h.l3, h.l4, h.l4Length) && computeTcpChecksum(view, h.l3, h.l4, h.l4Length) === tcpChecksum(view, h.l4);
      put('tcp.checksum.status', good ? 1 : 0);
      put('tcp.urgent_pointer', tcpUrgent(view, h.l4));
      put('tcp.len', h.l4Length - tcpHeaderLength(view, h.l4));
    } else if (h.proto === 17) {
      const ulen = udpLength(view, h.l4);
      put('udp.srcport', udpSrcPort(view, h.l4));
      put('udp.dstport', udpDstPort(view, h.l4));
      put('udp.length', ulen);
      put('udp.checksum', udpChecksum(view, h.l4));
      let status: number;
      if (udpChecksum(view, h.l4) === 0) status = verifyUdpChecksum(view, h.l3, h.l4, ulen) ? 3 : 0;
      else if (!h.isPayloadComplete) status = 2;
      else status = verifyUdpChecksum(view, h.l3, h.l4, ulen) && computeUdpChecksum(view, h.l3, h.l4, ulen) === udpChecksum(view, h.l4) ? 1 : 0;
      put('udp.checksum.status', status);
    } else if (h.proto === 1) {
      const type = icmpType(view, h.l4);
      put('icmp.type', type);
      put('icmp.code', icmpCode(view, h.l4));
      put('icmp.checksum', icmpChecksum(view, h.l4));
      const good = verifyIcmpChecksum(view, h.l4, h.l4Length) && computeIcmpChecksum(view, h.l4, h.l4Length) === icmpChecksum(view, h.l4);
      put('icmp.checksum.status', good ? 1 : 0);
      if (type === 0 || type === 8) {
        put('icmp.ident', icmpEchoId(view, h.l4));
        put('icmp.seq', icmpEchoSeq(view, h.l4));
      }
    }
  }
  return r;
}

function expected(field: string, values: string[]): Array<string | number> {
  if (MAC_FIELDS.has(field) || ADDR_FIELDS.has(field)) return values;
  return values.map(num);
}

describe('golden: kernel-captured fixtures vs the tshark oracle', () => {
  for (const name of KERNEL_FIXTURES) {
    it(`${name}.pcap: every oracle field equals what the views read, every frame parses and verifies`, () => {
      const fx = loadKernelFixture(name);
      expect(fx.records.length).toBe(fx.oracle.length);
      expect(fx.records.length).toBeGreaterThan(0);
      expect(fx.reader.info.linkType).toBe(1);
      const layout = new FrameLayout();
      let compared = 0;
      fx.records.forEach((rec, i) => {
        const want: OracleFrame = fx.oracle[i];
        expect(num(want['frame.number'][0])).toBe(i + 1);
        const view = fx.reader.view;
        expect(parseFrame(view, rec.offset, rec.caplen, layout, ParseFlag.VERIFY_L4_CHECKSUM), `frame ${i + 1}`).toBe(DropReason.OK);
        expect(parseFrame(view, rec.offset, rec.caplen, layout), `frame ${i + 1}`).toBe(DropReason.OK);
        const got = readFrame(view, rec.offset, rec.caplen, rec.origLen, layout);
        for (const [field, values] of Object.entries(want)) {
          if (field === 'frame.number') continue;
          expect(got[field], `${name} frame ${i + 1} ${field}`).toEqual(expected(field, values));
          compared += values.length;
        }
        for (const status of ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'icmp.checksum.status']) {
          for (const s of want[status] ?? []) expect(['1', '3'], `${name} frame ${i + 1} ${status}`).toContain(s);
        }
      });
      const total = fx.oracle.reduce((n, f) => n + Object.values(f).reduce((m, v) => m + v.length, 0) - 1, 0);
      expect(compared).toBe(total);
    });
  }

  it('the fixtures cover every protocol the oracle checks', () => {
    const seen = new Set<string>();
    for (const name of KERNEL_FIXTURES) for (const f of loadKernelFixture(name).oracle) for (const k of Object.keys(f)) seen.add(k);
    for (const field of ['vlan.id', 'vlan.priority', 'arp.opcode', 'ip.checksum', 'tcp.seq_raw', 'tcp.checksum', 'udp.checksum', 'icmp.checksum', 'icmp.ident']) {
      expect(seen).toContain(field);
    }
  });
});
