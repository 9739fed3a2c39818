import { describe, expect, it } from 'vitest';
import type { FrameSpec } from '../../../src/packet/frame-builder.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { Firewall, frameBytes } from './harness.ts';

const IN = Side.INSIDE;
const OUT = Side.OUTSIDE;
const C = 0x0a000005;
const S = 0xc6120007;
const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

const out = (flags: number, over: FrameSpec = {}): FrameSpec => ({ proto: 6, srcIp: C, dstIp: S, srcPort: 40000, dstPort: 443, tcpFlags: flags, ...over });
const back = (flags: number, over: FrameSpec = {}): FrameSpec => ({ proto: 6, srcIp: S, dstIp: C, srcPort: 443, dstPort: 40000, tcpFlags: flags, ...over });
const udpOut: FrameSpec = { proto: 17, srcIp: C, dstIp: S, srcPort: 5000, dstPort: 53, payloadLength: 20 };
const udpBack: FrameSpec = { proto: 17, srcIp: S, dstIp: C, srcPort: 53, dstPort: 5000, payloadLength: 20 };

const config = {
  defaultPolicy: 'drop' as const,
  rules: [
    { action: 'allow' as const, side: 'inside' as const, proto: 'tcp' as const, dport: 443 },
    { action: 'allow' as const, side: 'inside' as const, proto: 'udp' as const, dport: 53 },
    { action: 'allow' as const, side: 'inside' as const, proto: 'icmp' as const, icmpType: 'echo-request' },
  ],
};

describe('stateful firewall', () => {
  it('lets a connection opened from inside complete its handshake and exchange data both ways', async () => {
    const fw = await Firewall.create(config);
    const v = (side: number, spec: FrameSpec) => fw.one(side, spec, 1000).verdict;
    expect(v(IN, out(SYN))).toBe(OUT);
    expect(v(OUT, back(SYN | ACK))).toBe(IN);
    expect(v(IN, out(ACK))).toBe(OUT);
    expect(v(OUT, back(ACK, { payloadLength: 100 }))).toBe(IN);
    expect(v(IN, out(ACK, { payloadLength: 10 }))).toBe(OUT);
    expect(fw.counter('ct_established')).toBe(4);
    expect(fw.counter('allowed_rule')).toBe(1);
    expect(fw.counter('conntrack_created')).toBe(1);
  });

  it('drops unsolicited inbound traffic: new connections by rule, other segments as no connection', async () => {
    const fw = await Firewall.create(config);
    const sent = fw.send([
      { side: OUT, spec: back(SYN, { srcPort: 40001 }) },
      { side: OUT, spec: back(SYN | ACK) },
      { side: OUT, spec: back(ACK) },
      { side: OUT, spec: udpBack },
      { side: OUT, spec: { proto: 1, srcIp: S, dstIp: C, icmpType: 0, icmpId: 9 } },
      { side: IN, spec: out(ACK) },
    ]);
    expect(sent.map((s) => s.reason)).toEqual(['default_policy', 'ct_no_connection', 'ct_no_connection', 'default_policy', 'ct_no_connection', 'ct_no_connection']);
  });

  it('passes UDP replies and ICMP echo replies of tracked flows, and only in the reply direction', async () => {
    const fw = await Firewall.create(config);
    const ping: FrameSpec = { proto: 1, srcIp: C, dstIp: S, icmpType: 8, icmpId: 77, icmpSeq: 1 };
    const pong: FrameSpec = { proto: 1, srcIp: S, dstIp: C, icmpType: 0, icmpId: 77, icmpSeq: 1 };
    const reversedPing: FrameSpec = { proto: 1, srcIp: S, dstIp: C, icmpType: 8, icmpId: 77, icmpSeq: 2 };
    const sent = fw.send([
      { side: IN, spec: udpOut },
      { side: OUT, spec: udpBack },
      { side: IN, spec: ping },
      { side: OUT, spec: pong },
      { side: OUT, spec: reversedPing },
    ]);
    expect(sent.map((s) => s.verdict)).toEqual([OUT, IN, OUT, IN, Verdict.DROP]);
    expect(sent[4].reason).toBe('ct_invalid');
    expect(sent[1].bytes).toEqual(frameBytes(udpBack));
  });

  it('passes ICMP errors about a tracked connection (RELATED) and judges other errors by the rules', async () => {
    const fw = await Firewall.create(config);
    expect(fw.one(IN, udpOut).verdict).toBe(OUT);
    const quoted = frameBytes(udpOut).subarray(14, 14 + 28);
    const unreachable: FrameSpec = { proto: 1, srcIp: 0xc6120001, dstIp: C, icmpType: 3, icmpCode: 3, icmpId: 0, icmpSeq: 0, payload: quoted };
    const other = frameBytes(udpOut);
    other[14 + 16 + 3] ^= 1; // quote a packet to another destination
    const stray: FrameSpec = { ...unreachable, payload: other.subarray(14, 42) };
    const sent = fw.send([{ side: OUT, spec: unreachable }, { side: OUT, spec: stray }]);
    expect(sent.map((s) => s.verdict)).toEqual([IN, Verdict.DROP]);
    expect(sent[1].reason).toBe('default_policy');
    expect(fw.counter('ct_related')).toBe(1);
  });

  it('closes on FIN and RST: segments after a reset are invalid, a new SYN after close is judged afresh', async () => {
    const fw = await Firewall.create(config);
    const v = (side: number, spec: FrameSpec, now = 0) => fw.one(side, spec, now);
    for (const [side, spec] of [[IN, out(SYN)], [OUT, back(SYN | ACK)], [IN, out(ACK)]] as const) expect(v(side, spec).verdict).toBe(side ^ 1);
    expect(v(IN, out(FIN | ACK)).verdict).toBe(OUT);
    expect(v(OUT, back(FIN | ACK)).verdict).toBe(IN);
    expect(v(IN, out(ACK)).verdict).toBe(OUT);
    expect(v(IN, out(SYN)).verdict).toBe(OUT);
    expect(fw.counter('allowed_rule')).toBe(2);
    expect(v(OUT, back(RST)).verdict).toBe(IN);
    const after = v(IN, out(ACK));
    expect(after.verdict).toBe(Verdict.DROP);
    expect(after.reason).toBe('ct_invalid');
    expect(v(OUT, back(SYN)).reason).toBe('default_policy');
  });

  it('forgets connections after their timeouts (injected clock)', async () => {
    const fw = await Firewall.create({ ...config, conntrack: { timeouts: { udpUnreplied: 5, udpAssured: 20, tcpSynSent: 3 } } });
    expect(fw.one(IN, udpOut, 0).verdict).toBe(OUT);
    expect(fw.one(OUT, udpBack, 4_999).verdict).toBe(IN);
    expect(fw.one(OUT, udpBack, 24_998).verdict).toBe(IN);
    const late = fw.one(OUT, udpBack, 44_999);
    expect(late.reason).toBe('default_policy');
    expect(fw.one(IN, out(SYN), 50_000).verdict).toBe(OUT);
    expect(fw.one(OUT, back(SYN | ACK), 53_000).reason).toBe('ct_no_connection');
    expect(fw.counter('conntrack_expired')).toBe(2);
  });

  it('applies the table-full policy: refuse new connections, or evict one not yet assured', async () => {
    const flow = (port: number): FrameSpec => ({ ...udpOut, srcPort: port });
    const refuse = await Firewall.create({ ...config, conntrack: { capacity: 2, whenFull: 'refuse' } });
    expect(refuse.send([1, 2, 3].map((p) => ({ side: IN, spec: flow(p) }))).map((s) => s.reason)).toEqual(['', '', 'ct_table_full']);
    expect(refuse.counter('ct_table_full')).toBe(1);

    const evict = await Firewall.create({ ...config, conntrack: { capacity: 2, whenFull: 'evict' } });
    expect(evict.one(IN, flow(1)).verdict).toBe(OUT);
    expect(evict.one(OUT, { ...udpBack, dstPort: 1 }).verdict).toBe(IN);
    expect(evict.one(IN, flow(2)).verdict).toBe(OUT);
    expect(evict.one(IN, flow(3)).verdict).toBe(OUT);
    expect(evict.counter('conntrack_evicted')).toBe(1);
    expect(evict.one(OUT, { ...udpBack, dstPort: 1 }).verdict).toBe(IN);
    expect(evict.one(OUT, { ...udpBack, dstPort: 2 }).reason).toBe('default_policy');
  });

  it('stateless mode judges every packet, replies included, and tracks nothing', async () => {
    const fw = await Firewall.create({ ...config, stateful: false });
    expect(fw.one(IN, out(SYN)).verdict).toBe(OUT);
    expect(fw.one(OUT, back(SYN | ACK)).reason).toBe('default_policy');
    expect(fw.one(IN, out(ACK)).verdict).toBe(OUT);
    expect(fw.counter('conntrack_created')).toBe(0);
  });

  it('does not track rejected connections', async () => {
    const fw = await Firewall.create({ defaultPolicy: 'reject', rules: [] });
    expect(fw.one(IN, out(SYN)).verdict).toBe(IN);
    expect(fw.one(IN, out(SYN)).verdict).toBe(IN);
    expect(fw.counter('conntrack_created')).toBe(0);
    expect(fw.counter('rejected_tcp_reset')).toBe(2);
  });
});
