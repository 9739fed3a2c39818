import { describe, expect, it } from 'vitest';
import { computeIcmpv6Checksum, computeTcpChecksumIpv6 } from '../../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame6 } from '../../unit/packet/frame-fixtures.ts';
import { Firewall, type Sent } from './harness.ts';

const CLIENT = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 5];
const SERVER = [0x2001, 0xdb8, 2, 0, 0, 0, 0, 1];
const CLIENT_MAC = [0x0200, 0xc1] as const;
const SERVER_MAC = [0x0200, 0x5e] as const;
const words = (g: number[]) => [0, 2, 4, 6].map((i) => ((g[i] << 16) | g[i + 1]) >>> 0);
const inside = (spec: Ipv6FrameSpec) => ({ side: Side.INSIDE, bytes: frame6({ src: CLIENT, dst: SERVER, srcMac: CLIENT_MAC, dstMac: SERVER_MAC, ...spec }) });

/** The answer's headers, its checksum recomputed in full over the pseudo-header. */
function answer(s: Sent) {
  const L = new FrameLayout();
  expect(parseFrame(s.view, s.off, s.len, L)).toBe(DropReason.OK);
  const v = s.view;
  const l3 = L.l3Offset;
  const l4 = L.l4Offset;
  const field = L.ipProto === 6 ? 16 : 2;
  const full = L.ipProto === 6 ? computeTcpChecksumIpv6(v, l3, l4, L.l4Length) : computeIcmpv6Checksum(v, l3, l4, L.l4Length);
  expect(v.getUint16(l4 + field)).toBe(full);
  return {
    ethertype: L.ethertype,
    proto: L.ipProto,
    dstMac: [v.getUint16(s.off), v.getUint32(s.off + 2)],
    src: [0, 1, 2, 3].map((i) => v.getUint32(l3 + 8 + 4 * i)),
    dst: [0, 1, 2, 3].map((i) => v.getUint32(l3 + 24 + 4 * i)),
    l4: [v.getUint16(l4), v.getUint16(l4 + 2)],
    word: v.getUint32(l4 + 4),
    l4Length: L.l4Length,
    quoteEnd: l4 + L.l4Length,
  };
}

describe('firewall rejects over IPv6', () => {
  it('answers TCP with a reset and everything else with the ICMPv6 unreachable its rejectWith names', async () => {
    const fw = await Firewall.create({
      stateful: true,
      defaultPolicy: 'reject',
      rules: [
        { name: 'smtp', action: 'reject', proto: 'tcp', dport: 25, rejectWith: 'admin-prohibited' },
        { name: 'telnet', action: 'reject', proto: 'tcp', dport: 23, rejectWith: 'tcp-reset' },
        { name: 'udp9', action: 'reject', proto: 'udp', dport: 9, rejectWith: 'host-prohibited' },
        { name: 'gre', action: 'reject', proto: 47, rejectWith: 'proto-unreachable' },
        { name: 'net', action: 'reject', dst: '2001:db8:2::/48', proto: 'udp', dport: 10, rejectWith: 'net-unreachable' },
      ],
    });
    const sent = fw.send([
      inside({ proto: 6, srcPort: 40000, dstPort: 23, tcpFlags: 0x02, tcpSeq: 1000 }), // tcp-reset
      inside({ proto: 6, srcPort: 40001, dstPort: 443, tcpFlags: 0x02, tcpSeq: 5 }), // default reject: TCP → reset
      inside({ proto: 6, srcPort: 40002, dstPort: 25, tcpFlags: 0x02 }), // admin-prohibited: ICMPv6 1/1
      inside({ proto: 17, srcPort: 5000, dstPort: 9, payloadLength: 20 }), // host-prohibited: 1/1
      inside({ proto: 17, srcPort: 5000, dstPort: 53, payloadLength: 20 }), // default: port unreachable 1/4
      inside({ proto: 47, payloadLength: 12, extensionHeaders: [{ type: 60 }] }), // parameter problem 4/1 at the last next header
      inside({ proto: 17, srcPort: 5000, dstPort: 10, payloadLength: 4 }), // no route 1/0
    ]);
    expect(sent.map((s) => s.verdict)).toEqual(Array(7).fill(Side.INSIDE));
    const a = sent.map(answer);
    for (const x of a) {
      expect(x.ethertype).toBe(0x86dd);
      expect(x.dstMac).toEqual([...CLIENT_MAC]);
      expect(x.src).toEqual(words(SERVER));
      expect(x.dst).toEqual(words(CLIENT));
    }
    expect(a.slice(0, 2).map((x) => [x.proto, ...x.l4])).toEqual([[6, 23, 40000], [6, 443, 40001]]);
    const icmp = a.slice(2).map((x) => [x.proto, x.l4[0], x.word]);
    expect(icmp).toEqual([
      [58, 0x0101, 0],
      [58, 0x0101, 0],
      [58, 0x0104, 0],
      [58, 0x0401, 40],
      [58, 0x0100, 0],
    ]);
    // The ICMPv6 answers quote the rejected packet from its IPv6 header on, whole.
    expect(a[4].l4Length).toBe(8 + 40 + 8 + 20);
    expect([fw.counter('rejected_tcp_reset'), fw.counter('rejected_icmp'), fw.counter('reject_suppressed')]).toEqual([2, 5, 0]);
    expect(fw.counter('conntrack_created')).toBe(0);
  });

  it('quotes at most 1232 bytes, so the answer fits the IPv6 minimum MTU', async () => {
    const fw = await Firewall.create({ defaultPolicy: 'reject', rules: [] });
    const [s] = fw.send([inside({ proto: 17, dstPort: 7, payloadLength: 1400 })]);
    expect(s.verdict).toBe(Side.INSIDE);
    const a = answer(s);
    expect(a.l4Length).toBe(8 + 1232);
    expect(s.len).toBe(14 + 1280);
  });

  it('does not answer a reset, an ICMPv6 error, a multicast destination, an unspecified source or a link-layer multicast', async () => {
    const fw = await Firewall.create({ stateful: false, defaultPolicy: 'reject', rules: [] });
    const sent = fw.send([
      inside({ proto: 6, tcpFlags: 0x04 }),
      inside({ proto: 58, icmpType: 1, icmpCode: 4, payloadLength: 48 }),
      inside({ proto: 58, icmpType: 3, payloadLength: 48 }),
      inside({ proto: 17, dst: [0xff02, 0, 0, 0, 0, 0, 0, 0xfb], dstMac: [0x3333, 0xfb] }),
      inside({ proto: 17, dst: [0xff0e, 0, 0, 0, 0, 0, 0, 0xfb] }),
      inside({ proto: 17, src: [0, 0, 0, 0, 0, 0, 0, 0] }),
      inside({ proto: 17, dstMac: [0x3333, 0x1] }),
      inside({ proto: 6, extensionHeaders: [{ type: 44, fragmentOffset: 8 }], payloadLength: 24 }), // a later fragment: no TCP header to reset
    ]);
    expect(sent.map((s) => [s.verdict, s.reason])).toEqual(Array(8).fill([Verdict.DROP, 'reject_suppressed']));
    expect([fw.counter('rejected_tcp_reset'), fw.counter('rejected_icmp')]).toEqual([0, 0]);
  });

  it('answers an echo request (informational) with an unreachable', async () => {
    const fw = await Firewall.create({ defaultPolicy: 'reject', rules: [] });
    const [s] = fw.send([inside({ proto: 58, icmpType: 128, icmpRest: (3 << 16) | 1 })]);
    expect(s.verdict).toBe(Side.INSIDE);
    expect(answer(s).l4[0]).toBe(0x0104);
  });
});
