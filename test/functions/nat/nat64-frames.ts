import { verifyIcmpChecksum, verifyIpv4HeaderChecksum, verifyTcpChecksum, verifyUdpChecksum } from '../../../src/packet/checksum.ts';
import { verifyIcmpv6Checksum, verifyTcpChecksumIpv6, verifyUdpChecksumIpv6 } from '../../../src/packet/checksum-ipv6.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseIpv6 } from '../../../src/packet/ipv6-address.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';

/** Eight 16-bit groups of an IPv6 address text (what the IPv6 frame builder takes). */
export function groups(text: string): number[] {
  const a = parseIpv6(text);
  if (a === undefined) throw new Error(`bad IPv6 ${text}`);
  return groupsOf(a);
}

/** Eight 16-bit groups of four words. */
export function groupsOf(a: readonly number[]): number[] {
  return a.flatMap((w) => [(w >>> 16) & 0xffff, w & 0xffff]);
}

export interface Parsed {
  L: FrameLayout;
  view: DataView;
  /** Every checksum verified by a full recompute (IPv4 header, TCP/UDP/ICMP or ICMPv6 with its pseudo-header). */
  checksumsOk: boolean;
  src6: number[];
  dst6: number[];
  src4: number;
  dst4: number;
  sport: number;
  dport: number;
}

/** Parses a frame of either family (it must parse) and verifies its checksums by full recompute. */
export function parsed(frame: Uint8Array): Parsed {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const L = new FrameLayout();
  const code = parseFrame(view, 0, frame.length, L);
  if (code !== 0) throw new Error(`frame does not parse: ${code}`);
  const l3 = L.l3Offset;
  const l4 = L.l4Offset;
  const v6 = L.ethertype === 0x86dd;
  let ok: boolean;
  if (v6) {
    ok = L.ipProto === 6 ? verifyTcpChecksumIpv6(view, l3, l4, L.l4Length) : L.ipProto === 17 ? verifyUdpChecksumIpv6(view, l3, l4, L.l4Length) : L.ipProto === 58 ? verifyIcmpv6Checksum(view, l3, l4, L.l4Length) : true;
  } else {
    ok = verifyIpv4HeaderChecksum(view, l3);
    if (L.ipProto === 6) ok &&= verifyTcpChecksum(view, l3, l4, L.l4Length);
    else if (L.ipProto === 17) ok &&= verifyUdpChecksum(view, l3, l4, L.l4Length);
    else if (L.ipProto === 1) ok &&= verifyIcmpChecksum(view, l4, L.l4Length);
  }
  const words = (at: number) => [0, 4, 8, 12].map((k) => view.getUint32(at + k));
  return {
    L,
    view,
    checksumsOk: ok,
    src6: v6 ? words(l3 + 8) : [],
    dst6: v6 ? words(l3 + 24) : [],
    src4: v6 ? 0 : view.getUint32(l3 + 12),
    dst4: v6 ? 0 : view.getUint32(l3 + 16),
    sport: l4 >= 0 ? view.getUint16(l4) : -1,
    dport: l4 >= 0 ? view.getUint16(l4 + 2) : -1,
  };
}
