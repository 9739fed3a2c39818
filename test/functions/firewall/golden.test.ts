import { describe, expect, it } from 'vitest';
import { verifyIcmpChecksum, verifyIpv4HeaderChecksum, verifyTcpChecksum } from '../../../src/packet/checksum.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import type { FrameSpec } from '../../../src/packet/frame-builder.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { generateRuleSet } from '../../../functions/firewall/rule-set-generator.ts';
import { Firewall, frameBytes, type Sent } from './harness.ts';

const IN = Side.INSIDE;
const OUT = Side.OUTSIDE;
const CLIENT = 0x0a000005; // 10.0.0.5
const SERVER = 0xc6120007; // 198.18.0.7
const MAC_C = [0x0200, 0x000000c1] as const;
const MAC_S = [0x0200, 0x000000f2] as const;

const tcp = (over: FrameSpec = {}): FrameSpec => ({ proto: 6, srcIp: CLIENT, dstIp: SERVER, srcPort: 40000, dstPort: 80, tcpFlags: 0x02, tcpSeq: 1000, srcMac: MAC_C, dstMac: MAC_S, ipId: 77, ...over });
const udp = (over: FrameSpec = {}): FrameSpec => ({ proto: 17, srcIp: CLIENT, dstIp: SERVER, srcPort: 5353, dstPort: 53, payloadLength: 40, srcMac: MAC_C, dstMac: MAC_S, ipId: 78, ...over });

function checksumsValid(s: Sent): boolean {
  const l = new FrameLayout();
  if (parseFrame(s.view, s.off, s.len, l) !== DropReason.OK) return false;
  if (!verifyIpv4HeaderChecksum(s.view, l.l3Offset)) return false;
  if (l.ipProto === 6) return verifyTcpChecksum(s.view, l.l3Offset, l.l4Offset, l.l4Length);
  if (l.ipProto === 1) return verifyIcmpChecksum(s.view, l.l4Offset, l.l4Length);
  return true;
}

const RULES = [
  { name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dport: '80-81' },
  { name: 'telnet', action: 'reject', proto: 'tcp', dport: 23 },
  { name: 'smtp', action: 'reject', proto: 'tcp', dport: 25, rejectWith: 'admin-prohibited' },
  { name: 'dns', action: 'reject', proto: 'udp', dport: 53 },
  { name: 'ping', action: 'allow', proto: 'icmp', icmpType: 'echo-request' },
  { name: 'gre', action: 'allow', proto: 47, dst: '198.18.0.0/15' },
  { name: 'blocked-net', action: 'drop', src: '10.9.0.0/16' },
] as const;

describe('firewall golden frames (stateless)', () => {
  it('forwards allowed packets untouched and drops denied ones with their reason', async () => {
    const fw = await Firewall.create({ stateful: false, defaultPolicy: 'drop', rules: [...RULES] });
    const frames = [
      { side: IN, spec: tcp() },
      { side: IN, spec: tcp({ dstPort: 81 }) },
      { side: OUT, spec: tcp({ srcIp: SERVER, dstIp: CLIENT }) },
      { side: IN, spec: tcp({ dstPort: 82 }) },
      { side: IN, spec: { proto: 1, srcIp: CLIENT, dstIp: SERVER, icmpType: 8 } },
      { side: IN, spec: { proto: 1, srcIp: CLIENT, dstIp: SERVER, icmpType: 13 } },
      { side: OUT, spec: { proto: 47, srcIp: CLIENT, dstIp: 0xc6130001, payloadLength: 24 } },
      { side: IN, spec: udp({ srcIp: 0x0a090001, dstPort: 54 }) },
    ];
    const sent = fw.send(frames);
    expect(sent.map((s) => s.verdict)).toEqual([OUT, OUT, Verdict.DROP, Verdict.DROP, OUT, Verdict.DROP, IN, Verdict.DROP]);
    expect(sent.map((s) => s.reason)).toEqual(['', '', 'default_policy', 'default_policy', '', 'default_policy', '', 'acl_denied']);
    for (const i of [0, 1, 4, 6]) expect(sent[i].bytes).toEqual(frameBytes(frames[i].spec));
    expect(fw.counter('allowed_rule')).toBe(4);
    expect(fw.counter('rule_0')).toBe(2);
    expect(fw.counter('rule_4')).toBe(1);
    expect(fw.counter('rule_6')).toBe(1);
    expect(fw.counter('default_policy')).toBe(3);
    expect(fw.counter('dropped_packets')).toBe(4);
  });

  it('answers a rejected SYN with exactly the RST+ACK Linux sends, on the arrival side', async () => {
    const fw = await Firewall.create({ stateful: false, rules: [...RULES] });
    const s = fw.one(IN, tcp({ dstPort: 23, tcpSeq: 0xdeadbeef }));
    expect(s.verdict).toBe(IN);
    expect(checksumsValid(s)).toBe(true);
    const expected = frameBytes({
      proto: 6, srcIp: SERVER, dstIp: CLIENT, srcPort: 23, dstPort: 40000, tcpFlags: 0x14, tcpSeq: 0, tcpAck: 0xdeadbef0,
      tcpWindow: 0, ttl: 64, ipId: 0, ipFlags: 2, srcMac: MAC_S, dstMac: MAC_C,
    });
    expect(s.bytes).toEqual(expected);
    expect(fw.counter('rejected_tcp_reset')).toBe(1);
  });

  it('answers a rejected segment with ACK by a RST carrying its acknowledgment number', async () => {
    const fw = await Firewall.create({ stateful: false, rules: [...RULES] });
    const s = fw.one(OUT, tcp({ srcIp: 0xc6120009, dstPort: 23, tcpFlags: 0x18, tcpSeq: 5, tcpAck: 123456, payloadLength: 30 }));
    expect(s.verdict).toBe(OUT);
    expect(s.bytes).toEqual(frameBytes({
      proto: 6, srcIp: SERVER, dstIp: 0xc6120009, srcPort: 23, dstPort: 40000, tcpFlags: 0x04, tcpSeq: 123456, tcpAck: 0,
      tcpWindow: 0, ttl: 64, ipId: 0, ipFlags: 2, srcMac: MAC_S, dstMac: MAC_C,
    }));
  });

  it('answers a rejected datagram with an ICMP port unreachable quoting its header and 8 bytes', async () => {
    const fw = await Firewall.create({ stateful: false, rules: [...RULES] });
    const original = frameBytes(udp());
    const s = fw.one(IN, udp());
    expect(s.verdict).toBe(IN);
    expect(checksumsValid(s)).toBe(true);
    const quote = original.subarray(14, 14 + 28);
    expect(s.bytes).toEqual(frameBytes({
      proto: 1, srcIp: SERVER, dstIp: CLIENT, icmpType: 3, icmpCode: 3, icmpId: 0, icmpSeq: 0, payload: quote,
      tos: 0xc0, ttl: 64, ipId: 0, ipFlags: 0, srcMac: MAC_S, dstMac: MAC_C,
    }));
    expect(fw.counter('rejected_icmp')).toBe(1);
  });

  it('uses the configured ICMP code, also for TCP, and keeps VLAN tags', async () => {
    const fw = await Firewall.create({ stateful: false, rules: [...RULES] });
    const s = fw.one(IN, tcp({ dstPort: 25, vlanIds: [100] }));
    expect(s.verdict).toBe(IN);
    expect(checksumsValid(s)).toBe(true);
    const l = new FrameLayout();
    parseFrame(s.view, s.off, s.len, l);
    expect([l.vlanCount, l.vlanIds[0], l.ipProto]).toEqual([1, 100, 1]);
    expect([s.view.getUint8(l.l4Offset), s.view.getUint8(l.l4Offset + 1)]).toEqual([3, 13]);
  });

  it('never answers resets, ICMP errors, broadcasts or bogus sources: those are dropped', async () => {
    const fw = await Firewall.create({ stateful: false, defaultPolicy: 'reject', rules: [] });
    const sent = fw.send([
      { side: IN, spec: tcp({ tcpFlags: 0x04 }) },
      { side: IN, spec: { proto: 1, srcIp: CLIENT, dstIp: SERVER, icmpType: 3, icmpCode: 1, payloadLength: 28 } },
      { side: IN, spec: udp({ dstIp: 0xffffffff }) },
      { side: IN, spec: udp({ dstMac: [0xffff, 0xffffffff] }) },
      { side: IN, spec: udp({ srcIp: 0 }) },
      { side: IN, spec: { proto: 1, srcIp: CLIENT, dstIp: SERVER, icmpType: 8 } },
    ]);
    expect(sent.map((s) => s.reason)).toEqual(['reject_suppressed', 'reject_suppressed', 'reject_suppressed', 'reject_suppressed', 'reject_suppressed', '']);
    expect(sent[5].verdict).toBe(IN);
    expect(fw.counter('reject_suppressed')).toBe(5);
  });

  it('passes ARP and drops malformed frames with the parser reason', async () => {
    const fw = await Firewall.create({ stateful: false, defaultPolicy: 'drop' });
    const arp: FrameSpec = { kind: 'arp', arpSpa: CLIENT, arpTpa: SERVER };
    const bad = frameBytes(udp());
    bad[14 + 10] ^= 0xff;
    const sent = fw.send([{ side: IN, spec: arp }, { side: OUT, bytes: bad }]);
    expect(sent[0].verdict).toBe(OUT);
    expect(sent[0].bytes).toEqual(frameBytes(arp));
    expect(sent[1].reason).toBe('ipv4_bad_checksum');
    expect(fw.counter('non_ip_passed')).toBe(1);
  });

  it('compiles deterministically and picks the algorithm by rule count', async () => {
    const small = await Firewall.create({ rules: [...RULES] });
    const again = await Firewall.create({ rules: [...RULES] });
    expect(again.compiled.sourceHash).toBe(small.compiled.sourceHash);
    expect(small.compiled.source).toContain('e2rule = 0;');
    expect(small.compiled.source).not.toContain('tree 0');
    const big = await Firewall.create({ rules: generateRuleSet({ count: 2000, seed: 3 }) });
    expect(big.compiled.source).toMatch(/tree 0: \d+ rules/);
    expect(big.compiled.counters.some((c) => c.name === 'rule_1999')).toBe(false);
    const counted = await Firewall.create({ rules: generateRuleSet({ count: 2000, seed: 3 }), ruleCounters: true });
    expect(counted.compiled.counters.some((c) => c.name === 'rule_1999')).toBe(true);
  });
});
