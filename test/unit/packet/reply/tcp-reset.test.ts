import { describe, expect, it } from 'vitest';
import { buildFrame, type FrameSpec } from '../../../../src/packet/frame-builder.ts';
import { verifyIpv4HeaderChecksum, verifyTcpChecksum } from '../../../../src/packet/checksum.ts';
import { DropReason } from '../../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../../src/packet/parse-frame.ts';
import { tcpResetPermitted, writeTcpReset } from '../../../../src/packet/reply/tcp-reset.ts';

const A = 0xc6120001;
const B = 0xc6130002;
const MAC_A = [0x0200, 0x0000000a] as const;
const MAC_B = [0x0200, 0x0000000b] as const;

function segment(spec: FrameSpec, at = 100): { view: DataView; layout: FrameLayout; off: number; len: number } {
  const view = new DataView(new ArrayBuffer(4096));
  const len = buildFrame(view, at, { proto: 6, srcIp: A, dstIp: B, srcPort: 40000, dstPort: 80, srcMac: MAC_A, dstMac: MAC_B, ...spec });
  const layout = new FrameLayout();
  expect(parseFrame(view, at, len, layout)).toBe(DropReason.OK);
  return { view, layout, off: at, len };
}

function reset(spec: FrameSpec) {
  const s = segment(spec);
  const len = writeTcpReset(s.view, s.off, s.layout.l3Offset, s.layout.l4Offset);
  const out = new FrameLayout();
  expect(parseFrame(s.view, s.off, len, out)).toBe(DropReason.OK);
  const v = s.view;
  const l3 = out.l3Offset;
  const l4 = out.l4Offset;
  expect(verifyIpv4HeaderChecksum(v, l3)).toBe(true);
  expect(verifyTcpChecksum(v, l3, l4, out.l4Length)).toBe(true);
  return {
    len,
    vlanCount: out.vlanCount,
    dstMac: [v.getUint16(s.off), v.getUint32(s.off + 2)],
    srcMac: [v.getUint16(s.off + 6), v.getUint32(s.off + 8)],
    ip: { ihl: v.getUint8(l3) & 15, total: v.getUint16(l3 + 2), ttl: v.getUint8(l3 + 8), proto: v.getUint8(l3 + 9), df: (v.getUint16(l3 + 6) & 0x4000) !== 0, src: v.getUint32(l3 + 12), dst: v.getUint32(l3 + 16) },
    tcp: { sport: v.getUint16(l4), dport: v.getUint16(l4 + 2), seq: v.getUint32(l4 + 4), ack: v.getUint32(l4 + 8), doff: v.getUint8(l4 + 12) >>> 4, flags: v.getUint8(l4 + 13), window: v.getUint16(l4 + 14) },
  };
}

describe('writeTcpReset', () => {
  it('answers a SYN with RST+ACK acknowledging the SYN, addresses and ports swapped', () => {
    const r = reset({ tcpFlags: 0x02, tcpSeq: 0x12345678 });
    expect(r.len).toBe(54);
    expect(r.dstMac).toEqual([...MAC_A]);
    expect(r.srcMac).toEqual([...MAC_B]);
    expect(r.ip).toEqual({ ihl: 5, total: 40, ttl: 64, proto: 6, df: true, src: B, dst: A });
    expect(r.tcp).toEqual({ sport: 80, dport: 40000, seq: 0, ack: 0x12345679, doff: 5, flags: 0x14, window: 0 });
  });

  it('answers a segment carrying ACK with a bare RST whose sequence is that ack', () => {
    const r = reset({ tcpFlags: 0x18, tcpSeq: 5000, tcpAck: 0xfffffff0, payloadLength: 100 });
    expect(r.tcp.flags).toBe(0x04);
    expect(r.tcp.seq).toBe(0xfffffff0);
    expect(r.tcp.ack).toBe(0);
  });

  it('acknowledges payload, SYN and FIN of a segment without ACK, wrapping the sequence space', () => {
    const r = reset({ tcpFlags: 0x03, tcpSeq: 0xffffffff, payloadLength: 10 });
    expect(r.tcp.flags).toBe(0x14);
    expect(r.tcp.ack).toBe(11);
  });

  it('drops IP and TCP options and keeps VLAN tags', () => {
    const r = reset({ tcpFlags: 0x02, tcpSeq: 7, vlanIds: [10, 20], ipOptions: [1, 1, 1, 1, 1, 1, 1, 0], tcpOptions: [2, 4, 5, 180], payloadLength: 3 });
    expect(r.vlanCount).toBe(2);
    expect(r.len).toBe(14 + 8 + 40);
    expect(r.ip.ihl).toBe(5);
    expect(r.tcp).toMatchObject({ doff: 5, sport: 80, dport: 40000, ack: 11 });
  });
});

describe('tcpResetPermitted', () => {
  const ok = (spec: FrameSpec) => {
    const s = segment(spec);
    return tcpResetPermitted(s.view, s.off, s.layout.l3Offset, s.layout.l4Offset);
  };

  it('allows a reset for an ordinary unicast segment', () => {
    expect(ok({ tcpFlags: 0x02 })).toBe(true);
  });

  it('never answers a reset, a multicast or broadcast, or a source that is not one host', () => {
    expect(ok({ tcpFlags: 0x04 })).toBe(false);
    expect(ok({ tcpFlags: 0x14 })).toBe(false);
    expect(ok({ dstMac: [0xffff, 0xffffffff] })).toBe(false);
    expect(ok({ dstMac: [0x0100, 0x5e000001] })).toBe(false);
    expect(ok({ dstIp: 0xffffffff })).toBe(false);
    expect(ok({ dstIp: 0xe0000001 })).toBe(false);
    expect(ok({ srcIp: 0 })).toBe(false);
    expect(ok({ srcIp: 0x7f000001 })).toBe(false);
  });
});
