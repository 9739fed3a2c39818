/**
 * Writes complete, well-formed Ethernet/IPv6 frames (TCP, UDP, ICMPv6, any other upper
 * layer, with extension headers) into a DataView, with correct upper-layer checksums: for
 * fixtures, templates and tests, like `frame-builder.ts` for IPv4. Takes a spec object, so
 * it is meant for building templates, not for the forwarding path.
 *
 * @example
 * ```ts
 * const buf = new DataView(new ArrayBuffer(2048));
 * const len = buildIpv6Frame(buf, 0, {
 *   proto: 17, src: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], dst: [0x2001, 0xdb8, 0, 0, 0, 0, 0, 2],
 *   srcPort: 1234, dstPort: 53, payloadLength: 18,
 *   extensionHeaders: [{ type: 0 }],           // an empty hop-by-hop options header
 * }); // 14 + 40 + 8 + 8 + 18 bytes
 * ```
 */
import { writeIcmpv6Checksum, writeTcpChecksumIpv6, writeUdpChecksumIpv6 } from './checksum-ipv6.ts';
import { EtherType } from './ethernet.ts';
import { writeL2Header, type L2Spec } from './frame-builder.ts';

/** One extension header for {@link buildIpv6Frame}; its next-header byte is filled in. */
export interface Ipv6ExtensionHeaderSpec {
  /** 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options. */
  type: number;
  /** Total bytes (a multiple of 8; AH: of 4); default 8 (24 for a routing header). Ignored for a fragment header (8). */
  length?: number;
  /** Routing: routing type (default 4, segment routing) and segments left (default 0). */
  routingType?: number;
  segmentsLeft?: number;
  /** Fragment: offset in 8-byte units, M flag, identification. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  fragmentId?: number;
}

/** What {@link buildIpv6Frame} writes. Every field has a default. */
export interface Ipv6FrameSpec extends L2Spec {
  /** Addresses as eight 16-bit groups (default 2001:db8::1 → 2001:db8::2). */
  src?: readonly number[];
  dst?: readonly number[];
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  extensionHeaders?: readonly Ipv6ExtensionHeaderSpec[];
  /** Upper-layer protocol (default UDP); other numbers get `payloadLength` bytes of raw payload. */
  proto?: number;
  srcPort?: number;
  dstPort?: number;
  tcpFlags?: number;
  tcpSeq?: number;
  tcpAck?: number;
  /** ICMPv6 type/code (default echo request 128/0) and the 4 bytes after the checksum (default id 1, seq 1). */
  icmpType?: number;
  icmpCode?: number;
  icmpRest?: number;
  /** Payload bytes (takes precedence over `payloadLength`). */
  payload?: Uint8Array;
  /** Payload length filled with a counting pattern (default 0). */
  payloadLength?: number;
  /** Leave the UDP checksum 0 (invalid over IPv6: for negative tests). */
  udpNoChecksum?: boolean;
  /** Zero bytes appended after the IPv6 packet (Ethernet padding). */
  padding?: number;
}

/** Default source address groups (2001:db8::1). */
export const IPV6_DOC_SRC: readonly number[] = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1];
/** Default destination address groups (2001:db8::2). */
export const IPV6_DOC_DST: readonly number[] = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 2];

/**
 * Writes the frame described by `spec` at `offset` and returns its length in bytes. The
 * view must have room for it (a RangeError is thrown otherwise).
 */
export function buildIpv6Frame(view: DataView, offset: number, spec: Ipv6FrameSpec): number {
  const p = writeL2Header(view, offset, spec);
  view.setUint16(p, EtherType.IPV6);
  const l3 = p + 2;
  const proto = spec.proto ?? 17;
  view.setUint32(l3, ((6 << 28) | (((spec.trafficClass ?? 0) & 0xff) << 20) | ((spec.flowLabel ?? 0) & 0xfffff)) >>> 0);
  view.setUint8(l3 + 7, spec.hopLimit ?? 64);
  const src = spec.src ?? IPV6_DOC_SRC;
  const dst = spec.dst ?? IPV6_DOC_DST;
  for (let i = 0; i < 8; i++) {
    view.setUint16(l3 + 8 + 2 * i, src[i] ?? 0);
    view.setUint16(l3 + 24 + 2 * i, dst[i] ?? 0);
  }
  // Extension headers: each one's next-header byte names the one after it.
  let nextAt = l3 + 6;
  let q = l3 + 40;
  for (const h of spec.extensionHeaders ?? []) {
    view.setUint8(nextAt, h.type);
    nextAt = q;
    const len = h.type === 44 ? 8 : (h.length ?? (h.type === 43 ? 24 : 8));
    for (let i = 0; i < len; i++) view.setUint8(q + i, 0);
    if (h.type === 44) {
      view.setUint16(q + 2, ((h.fragmentOffset ?? 0) << 3) | (h.moreFragments === true ? 1 : 0));
      view.setUint32(q + 4, (h.fragmentId ?? 0x1234) >>> 0);
    } else if (h.type === 51) {
      view.setUint8(q + 1, (len >>> 2) - 2);
    } else {
      view.setUint8(q + 1, (len >>> 3) - 1);
      if (h.type === 43) {
        view.setUint8(q + 2, h.routingType ?? 4);
        view.setUint8(q + 3, h.segmentsLeft ?? 0);
      }
    }
    q += len;
  }
  view.setUint8(nextAt, proto);
  const l4 = q;
  let l4Length: number;
  if (proto === 6) {
    view.setUint16(l4, spec.srcPort ?? 40000);
    view.setUint16(l4 + 2, spec.dstPort ?? 80);
    view.setUint32(l4 + 4, (spec.tcpSeq ?? 1) >>> 0);
    view.setUint32(l4 + 8, (spec.tcpAck ?? 0) >>> 0);
    view.setUint8(l4 + 12, 5 << 4);
    view.setUint8(l4 + 13, spec.tcpFlags ?? 0x02);
    view.setUint16(l4 + 14, 65535);
    view.setUint32(l4 + 16, 0);
    l4Length = 20 + writePayload(view, l4 + 20, spec);
  } else if (proto === 17) {
    view.setUint16(l4, spec.srcPort ?? 40000);
    view.setUint16(l4 + 2, spec.dstPort ?? 53);
    view.setUint16(l4 + 6, 0);
    l4Length = 8 + writePayload(view, l4 + 8, spec);
    view.setUint16(l4 + 4, l4Length);
  } else if (proto === 58) {
    view.setUint8(l4, spec.icmpType ?? 128);
    view.setUint8(l4 + 1, spec.icmpCode ?? 0);
    view.setUint16(l4 + 2, 0);
    view.setUint32(l4 + 4, (spec.icmpRest ?? 0x00010001) >>> 0);
    l4Length = 8 + writePayload(view, l4 + 8, spec);
  } else {
    l4Length = writePayload(view, l4, spec);
  }
  const payloadLength = l4 + l4Length - (l3 + 40);
  view.setUint16(l3 + 4, payloadLength);
  if (proto === 6) writeTcpChecksumIpv6(view, l3, l4, l4Length);
  else if (proto === 17 && spec.udpNoChecksum !== true) writeUdpChecksumIpv6(view, l3, l4, l4Length);
  else if (proto === 58) writeIcmpv6Checksum(view, l3, l4, l4Length);
  const padding = spec.padding ?? 0;
  const end = l3 + 40 + payloadLength;
  for (let i = 0; i < padding; i++) view.setUint8(end + i, 0);
  return end + padding - offset;
}

function writePayload(view: DataView, at: number, spec: Ipv6FrameSpec): number {
  if (spec.payload !== undefined) {
    for (let i = 0; i < spec.payload.length; i++) view.setUint8(at + i, spec.payload[i]);
    return spec.payload.length;
  }
  const n = spec.payloadLength ?? 0;
  for (let i = 0; i < n; i++) view.setUint8(at + i, i & 0xff);
  return n;
}
