import { describe, expect, it } from 'vitest';
import { computeTcpChecksumIpv6 } from '../../../../src/packet/checksum-ipv6.ts';
import { DropReason } from '../../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../../src/packet/frame-layout.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../../../src/packet/ipv6-frame-builder.ts';
import { parseFrame } from '../../../../src/packet/parse-frame.ts';
import { tcpResetPermitted6, writeTcpReset6 } from '../../../../src/packet/reply/tcp-reset-ipv6.ts';
import { writeTcpReset } from '../../../../src/packet/reply/tcp-reset.ts';
import { buildFrame } from '../../../../src/packet/frame-builder.ts';

const A = [0x2001, 0xdb8, 1, 0, 0, 0, 0, 5];
const B = [0x2001, 0xdb8, 2, 0, 0, 0, 0, 1];
const MAC_A = [0x0200, 0x0000000a] as const;
const MAC_B = [0x0200, 0x0000000b] as const;
const words = (g: number[]) => [0, 2, 4, 6].map((i) => ((g[i] << 16) | g[i + 1]) >>> 0);

function segment(spec: Ipv6FrameSpec, at = 100) {
  const view = new DataView(new ArrayBuffer(4096));
  const len = buildIpv6Frame(view, at, { proto: 6, src: A, dst: B, srcPort: 40000, dstPort: 80, srcMac: MAC_A, dstMac: MAC_B, ...spec });
  const layout = new FrameLayout();
  expect(parseFrame(view, at, len, layout)).toBe(DropReason.OK);
  return { view, layout, off: at };
}

function reset(spec: Ipv6FrameSpec) {
  const s = segment(spec);
  expect(tcpResetPermitted6(s.view, s.off, s.layout.l3Offset, s.layout.l4Offset)).toBe(true);
  const len = writeTcpReset6(s.view, s.off, s.layout.l3Offset, s.layout.l4Offset);
  const out = new FrameLayout();
  expect(parseFrame(s.view, s.off, len, out)).toBe(DropReason.OK);
  const v = s.view;
  const l3 = out.l3Offset;
  const l4 = out.l4Offset;
  // The checksum recomputed over the whole segment and pseudo-header equals the one written.
  expect(v.getUint16(l4 + 16)).toBe(computeTcpChecksumIpv6(v, l3, l4, out.l4Length));
  return {
    len,
    vlanCount: out.vlanCount,
    dstMac: [v.getUint16(s.off), v.getUint32(s.off + 2)],
    srcMac: [v.getUint16(s.off + 6), v.getUint32(s.off + 8)],
    ip: { first: v.getUint32(l3), payload: v.getUint16(l3 + 4), next: v.getUint8(l3 + 6), hops: v.getUint8(l3 + 7), src: [0, 1, 2, 3].map((i) => v.getUint32(l3 + 8 + 4 * i)), dst: [0, 1, 2, 3].map((i) => v.getUint32(l3 + 24 + 4 * i)) },
    tcp: { sport: v.getUint16(l4), dport: v.getUint16(l4 + 2), seq: v.getUint32(l4 + 4), ack: v.getUint32(l4 + 8), doff: v.getUint8(l4 + 12) >>> 4, flags: v.getUint8(l4 + 13), window: v.getUint16(l4 + 14) },
  };
}

describe('writeTcpReset6', () => {
  it('answers a SYN with RST+ACK acknowledging it, addresses, ports and MACs swapped', () => {
    const r = reset({ tcpFlags: 0x02, tcpSeq: 0x12345678 });
    expect(r.len).toBe(74);
    expect(r.dstMac).toEqual([...MAC_A]);
    expect(r.srcMac).toEqual([...MAC_B]);
    expect(r.ip).toEqual({ first: 0x60000000, payload: 20, next: 6, hops: 64, src: words(B), dst: words(A) });
    expect(r.tcp).toEqual({ sport: 80, dport: 40000, seq: 0, ack: 0x12345679, doff: 5, flags: 0x14, window: 0 });
  });

  it('answers a segment with ACK by a RST at its acknowledgment number', () => {
    const r = reset({ tcpFlags: 0x18, tcpSeq: 1000, tcpAck: 0xfffffff0, payloadLength: 100 });
    expect(r.tcp).toEqual({ sport: 80, dport: 40000, seq: 0xfffffff0, ack: 0, doff: 5, flags: 0x04, window: 0 });
  });

  it('acknowledges data and FIN of a segment without ACK, drops extension headers and keeps VLAN tags', () => {
    const r = reset({ tcpFlags: 0x01, tcpSeq: 0xffffffff, payloadLength: 10, extensionHeaders: [{ type: 0 }, { type: 60, length: 16 }], vlanIds: [7] });
    expect(r.vlanCount).toBe(1);
    expect(r.ip.payload).toBe(20);
    expect(r.tcp.ack).toBe(10); // seq + 10 + FIN, wrapped
    expect(r.tcp.flags).toBe(0x14);
  });

  it('builds the same TCP header as the IPv4 writer (one segment body)', () => {
    const spec = { tcpFlags: 0x02, tcpSeq: 77, srcPort: 1234, dstPort: 23 };
    const r6 = reset(spec);
    const v4 = new DataView(new ArrayBuffer(256));
    const n = buildFrame(v4, 0, { proto: 6, srcIp: 0xc6120001, dstIp: 0xc6120002, ...spec });
    writeTcpReset(v4, 0, 14, 34);
    expect(n).toBeGreaterThan(0);
    expect(r6.tcp).toEqual({ sport: v4.getUint16(34), dport: v4.getUint16(36), seq: v4.getUint32(38), ack: v4.getUint32(42), doff: 5, flags: v4.getUint8(47), window: 0 });
  });

  it('refuses a reset, a multicast destination, an unspecified or multicast source, a link-layer multicast and a later fragment', () => {
    const permitted = (spec: Ipv6FrameSpec) => {
      const s = segment(spec);
      return tcpResetPermitted6(s.view, s.off, s.layout.l3Offset, s.layout.l4Offset);
    };
    expect(permitted({ tcpFlags: 0x04 })).toBe(false);
    expect(permitted({ tcpFlags: 0x14 })).toBe(false);
    expect(permitted({ dst: [0xff02, 0, 0, 0, 0, 0, 0, 1] })).toBe(false);
    expect(permitted({ src: [0, 0, 0, 0, 0, 0, 0, 0] })).toBe(false);
    // parseFrame drops a multicast source itself: the guard is asked without it.
    const m = new DataView(new ArrayBuffer(256));
    buildIpv6Frame(m, 0, { proto: 6, src: [0xff05, 0, 0, 0, 0, 0, 0, 2], dst: B });
    expect(tcpResetPermitted6(m, 0, 14, 54)).toBe(false);
    expect(permitted({ dstMac: [0x3333, 0x00000001] })).toBe(false);
    expect(permitted({ extensionHeaders: [{ type: 44, fragmentOffset: 3 }], payloadLength: 16 })).toBe(false);
    expect(permitted({ src: [0xfe80, 0, 0, 0, 0, 0, 0, 1] })).toBe(true);
  });
});
