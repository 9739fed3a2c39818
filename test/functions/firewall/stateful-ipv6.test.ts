import { describe, expect, it } from 'vitest';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame6 } from '../../unit/packet/frame-fixtures.ts';
import { Firewall } from './harness.ts';

// Addresses as the frame builder's eight 16-bit groups (2001:db8::/32).
const CLIENT = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 5];
const OTHER = [0x2001, 0xdb8, 9, 0, 0, 0, 0, 5];
const SERVER = [0x2001, 0xdb8, 2, 0, 0, 0, 0, 1];
const ROUTER = [0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 1];

const tcp = (src: number[], dst: number[], srcPort: number, dstPort: number, tcpFlags: number): Ipv6FrameSpec => ({ src, dst, proto: 6, srcPort, dstPort, tcpFlags });
const out = (spec: Ipv6FrameSpec) => ({ side: Side.INSIDE, bytes: frame6(spec) });
const back = (spec: Ipv6FrameSpec) => ({ side: Side.OUTSIDE, bytes: frame6(spec) });

async function firewall() {
  return Firewall.create({
    stateful: true,
    defaultPolicy: 'drop',
    rules: [
      { name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dport: 80 },
      { name: 'dns6', action: 'allow', side: 'inside', proto: 'udp', src: '2001:db8:1::/64', dport: 53 },
      { name: 'no-telnet6', action: 'reject', proto: 'tcp', dst: '2001:db8:2::/64', dport: 23 },
    ],
  });
}

describe('firewall over IPv6 (stateful)', () => {
  it('tracks an allowed TCP connection both ways, drops what has no connection, and judges by family', async () => {
    const fw = await firewall();
    const sent = fw.send([
      out(tcp(CLIENT, SERVER, 40000, 80, 0x02)), // SYN: rule web (no address: both families)
      back(tcp(SERVER, CLIENT, 80, 40000, 0x12)), // SYN-ACK: the connection
      out(tcp(CLIENT, SERVER, 40000, 80, 0x10)), // ACK
      back(tcp(SERVER, CLIENT, 80, 40001, 0x10)), // an ACK of no connection
      out(tcp(CLIENT, SERVER, 40002, 443, 0x02)), // no rule: default drop
      out({ src: CLIENT, dst: SERVER, proto: 17, srcPort: 5353, dstPort: 53, payloadLength: 8 }), // rule dns6
      back({ src: SERVER, dst: CLIENT, proto: 17, srcPort: 53, dstPort: 5353, payloadLength: 8 }), // its answer
      out({ src: OTHER, dst: SERVER, proto: 17, srcPort: 5353, dstPort: 53, payloadLength: 8 }), // outside dns6's prefix
      out(tcp(CLIENT, SERVER, 40003, 23, 0x02)), // reject: answered with a reset back inside
    ]);
    expect(sent.map((s) => [s.verdict, s.reason])).toEqual([
      [Side.OUTSIDE, ''],
      [Side.INSIDE, ''],
      [Side.OUTSIDE, ''],
      [Verdict.DROP, 'ct_no_connection'],
      [Verdict.DROP, 'default_policy'],
      [Side.OUTSIDE, ''],
      [Side.INSIDE, ''],
      [Verdict.DROP, 'default_policy'],
      [Side.INSIDE, ''],
    ]);
    expect([fw.counter('rejected_tcp_reset'), fw.counter('reject_suppressed')]).toEqual([1, 0]);
    expect([fw.counter('allowed_rule'), fw.counter('ct_established'), fw.counter('conntrack_created')]).toEqual([2, 3, 2]);
    expect([fw.counter('rule_0'), fw.counter('rule_1'), fw.counter('rule_2')]).toEqual([1, 1, 1]);
  });

  it('passes an ICMPv6 error about a tracked connection (related) and echo replies of its requests only', async () => {
    const fw = await Firewall.create({
      stateful: true,
      defaultPolicy: 'drop',
      rules: [
        { name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dport: 80 },
        { name: 'ping6', action: 'allow', side: 'inside', proto: 'icmpv6' },
      ],
    });
    const syn = frame6(tcp(CLIENT, SERVER, 40000, 80, 0x02));
    const quoteOf = (bytes: Uint8Array) => bytes.subarray(14, 14 + 40 + 20);
    const sent = fw.send([
      { side: Side.INSIDE, bytes: syn },
      // A router on the way says the server is unreachable, quoting the SYN (to the client).
      back({ src: ROUTER, dst: CLIENT, proto: 58, icmpType: 1, icmpCode: 3, icmpRest: 0, payload: quoteOf(syn) }),
      // The same error about a flow nobody opened: judged as new, no rule lets it in.
      back({ src: ROUTER, dst: CLIENT, proto: 58, icmpType: 1, icmpCode: 3, icmpRest: 0, payload: quoteOf(frame6(tcp(CLIENT, SERVER, 49999, 80, 0x02))) }),
      out({ src: CLIENT, dst: SERVER, proto: 58, icmpType: 128, icmpRest: (7 << 16) | 1 }),
      back({ src: SERVER, dst: CLIENT, proto: 58, icmpType: 129, icmpRest: (7 << 16) | 1 }),
      back({ src: SERVER, dst: CLIENT, proto: 58, icmpType: 129, icmpRest: (8 << 16) | 1 }),
      // Neighbour discovery passes by default, either way.
      back({ src: SERVER, dst: CLIENT, proto: 58, icmpType: 135, payloadLength: 20 }),
      out({ src: CLIENT, dst: SERVER, proto: 58, icmpType: 136, payloadLength: 20 }),
    ]);
    expect(sent.map((s) => [s.verdict, s.reason])).toEqual([
      [Side.OUTSIDE, ''],
      [Side.INSIDE, ''],
      [Verdict.DROP, 'default_policy'],
      [Side.OUTSIDE, ''],
      [Side.INSIDE, ''],
      [Verdict.DROP, 'ct_no_connection'],
      [Side.INSIDE, ''],
      [Side.OUTSIDE, ''],
    ]);
    expect([fw.counter('ct_related'), fw.counter('ndp_passed')]).toEqual([1, 2]);
  });
});
