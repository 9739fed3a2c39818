/**
 * Writes complete, well-formed Ethernet frames (IPv4 TCP/UDP/ICMP, ARP) into a DataView,
 * with correct IPv4 and L4 checksums: for traffic generators, templates, fixtures and tests.
 * Takes a spec object, so it is meant for building templates, not for the forwarding path.
 *
 * @example
 * ```ts
 * const buf = new DataView(new ArrayBuffer(2048));
 * const len = buildFrame(buf, 0, {
 *   proto: IpProto.UDP, srcIp: 0xc6120001, dstIp: 0xc6120002, srcPort: 1234, dstPort: 53,
 *   payloadLength: 18,
 * }); // 60-byte frame: 14 + 20 + 8 + 18
 * ```
 */
import { ArpOp, writeArpHeader } from './arp.ts';
import { writeIcmpChecksum, writeIpv4HeaderChecksum, writeTcpChecksum, writeUdpChecksum } from './checksum.ts';
import { EtherType } from './ethernet.ts';
import { IpProto } from './ipv4.ts';

/** The link-layer part of a frame to build (`buildFrame`, `buildIpv6Frame`). */
export interface L2Spec {
  dstMac?: readonly [hi16: number, lo32: number];
  srcMac?: readonly [hi16: number, lo32: number];
  /** VLAN IDs, outer first; the outer tag of two uses 0x88a8 unless `vlanTpids` says otherwise. */
  vlanIds?: readonly number[];
  vlanTpids?: readonly number[];
}

/** What {@link buildFrame} writes. Every field has a default. */
export interface FrameSpec extends L2Spec {
  /** `'arp'` builds an Ethernet/IPv4 ARP packet; default IPv4. */
  kind?: 'ipv4' | 'arp';
  /** IP protocol (default UDP). Other numbers get `payloadLength` bytes of raw payload. */
  proto?: number;
  srcIp?: number;
  dstIp?: number;
  ttl?: number;
  ipId?: number;
  tos?: number;
  /** 3-bit flags (default DF). */
  ipFlags?: number;
  /** Fragment offset in 8-byte units. */
  fragmentOffset?: number;
  /** IPv4 option bytes (padded with EOL to a multiple of 4). */
  ipOptions?: readonly number[];
  srcPort?: number;
  dstPort?: number;
  tcpFlags?: number;
  tcpSeq?: number;
  tcpAck?: number;
  tcpWindow?: number;
  /** TCP option bytes (padded with EOL to a multiple of 4). */
  tcpOptions?: readonly number[];
  /** ICMP type/code (default echo request 8/0) and echo id/seq. */
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  icmpSeq?: number;
  /** Payload bytes (takes precedence over `payloadLength`). */
  payload?: Uint8Array;
  /** Payload length filled with a counting pattern (default 0). */
  payloadLength?: number;
  /** Leave the UDP checksum 0 ("none"). */
  udpNoChecksum?: boolean;
  /** Zero bytes appended after the IP packet (Ethernet padding). */
  padding?: number;
  /** ARP: op (default request), sender/target addresses. */
  arpOp?: number;
  arpSha?: readonly [hi16: number, lo32: number];
  arpSpa?: number;
  arpTha?: readonly [hi16: number, lo32: number];
  arpTpa?: number;
}

/** Default source MAC of built frames (02:00:00:00:00:01); the destination's ends in 02. */
const DEFAULT_SRC_MAC = [0x0200, 0x00000001] as const;

/**
 * Writes the MAC addresses and VLAN tags of `spec` at `offset` and returns the offset of
 * the EtherType field that follows them (the caller writes it and the L3 packet).
 */
export function writeL2Header(view: DataView, offset: number, spec: L2Spec): number {
  const dst = spec.dstMac ?? [0x0200, 0x00000002];
  const src = spec.srcMac ?? DEFAULT_SRC_MAC;
  view.setUint16(offset, dst[0]);
  view.setUint32(offset + 2, dst[1] >>> 0);
  view.setUint16(offset + 6, src[0]);
  view.setUint32(offset + 8, src[1] >>> 0);
  let p = offset + 12;
  const vids = spec.vlanIds ?? [];
  for (let t = 0; t < vids.length; t++) {
    const tpid = spec.vlanTpids?.[t] ?? (vids.length > 1 && t === 0 ? EtherType.QINQ : EtherType.VLAN);
    view.setUint16(p, tpid);
    view.setUint16(p + 2, vids[t] & 0x0fff);
    p += 4;
  }
  return p;
}

/**
 * Writes the frame described by `spec` at `offset` and returns its length in bytes.
 * The view must have room for it (a RangeError is thrown otherwise).
 */
export function buildFrame(view: DataView, offset: number, spec: FrameSpec): number {
  const src = spec.srcMac ?? DEFAULT_SRC_MAC;
  const p = writeL2Header(view, offset, spec);
  const l3 = p + 2;
  let l3Length: number;
  if (spec.kind === 'arp') {
    view.setUint16(p, EtherType.ARP);
    writeArpHeader(view, l3, spec.arpOp ?? ArpOp.REQUEST);
    const sha = spec.arpSha ?? src;
    const tha = spec.arpTha ?? [0, 0];
    view.setUint16(l3 + 8, sha[0]);
    view.setUint32(l3 + 10, sha[1] >>> 0);
    view.setUint32(l3 + 14, (spec.arpSpa ?? spec.srcIp ?? 0xc6120001) >>> 0);
    view.setUint16(l3 + 18, tha[0]);
    view.setUint32(l3 + 20, tha[1] >>> 0);
    view.setUint32(l3 + 24, (spec.arpTpa ?? spec.dstIp ?? 0xc6120002) >>> 0);
    l3Length = 28;
  } else {
    view.setUint16(p, EtherType.IPV4);
    l3Length = writeIpv4Packet(view, l3, spec);
  }
  const padding = spec.padding ?? 0;
  for (let i = 0; i < padding; i++) view.setUint8(l3 + l3Length + i, 0);
  return l3 + l3Length + padding - offset;
}

function writePayload(view: DataView, at: number, spec: FrameSpec): number {
  if (spec.payload !== undefined) {
    for (let i = 0; i < spec.payload.length; i++) view.setUint8(at + i, spec.payload[i]);
    return spec.payload.length;
  }
  const n = spec.payloadLength ?? 0;
  for (let i = 0; i < n; i++) view.setUint8(at + i, i & 0xff);
  return n;
}

function writePadded(view: DataView, at: number, bytes: readonly number[], pad: number): number {
  const len = (bytes.length + 3) & ~3;
  for (let i = 0; i < len; i++) view.setUint8(at + i, i < bytes.length ? bytes[i] : pad);
  return len;
}

function writeIpv4Packet(view: DataView, l3: number, spec: FrameSpec): number {
  const proto = spec.proto ?? IpProto.UDP;
  const optLen = writePadded(view, l3 + 20, spec.ipOptions ?? [], 0);
  const hlen = 20 + optLen;
  const l4 = l3 + hlen;
  let l4Length: number;
  if (proto === IpProto.TCP) {
    const tcpOpt = writePadded(view, l4 + 20, spec.tcpOptions ?? [], 0);
    const thl = 20 + tcpOpt;
    view.setUint16(l4, spec.srcPort ?? 40000);
    view.setUint16(l4 + 2, spec.dstPort ?? 80);
    view.setUint32(l4 + 4, (spec.tcpSeq ?? 1) >>> 0);
    view.setUint32(l4 + 8, (spec.tcpAck ?? 0) >>> 0);
    view.setUint8(l4 + 12, (thl >>> 2) << 4);
    view.setUint8(l4 + 13, spec.tcpFlags ?? 0x02);
    view.setUint16(l4 + 14, spec.tcpWindow ?? 65535);
    view.setUint16(l4 + 16, 0);
    view.setUint16(l4 + 18, 0);
    l4Length = thl + writePayload(view, l4 + thl, spec);
  } else if (proto === IpProto.UDP) {
    view.setUint16(l4, spec.srcPort ?? 40000);
    view.setUint16(l4 + 2, spec.dstPort ?? 53);
    view.setUint16(l4 + 6, 0);
    l4Length = 8 + writePayload(view, l4 + 8, spec);
    view.setUint16(l4 + 4, l4Length);
  } else if (proto === IpProto.ICMP) {
    view.setUint8(l4, spec.icmpType ?? 8);
    view.setUint8(l4 + 1, spec.icmpCode ?? 0);
    view.setUint16(l4 + 2, 0);
    view.setUint16(l4 + 4, spec.icmpId ?? 1);
    view.setUint16(l4 + 6, spec.icmpSeq ?? 1);
    l4Length = 8 + writePayload(view, l4 + 8, spec);
  } else {
    l4Length = writePayload(view, l4, spec);
  }
  const total = hlen + l4Length;
  view.setUint8(l3, 0x40 | (hlen >>> 2));
  view.setUint8(l3 + 1, spec.tos ?? 0);
  view.setUint16(l3 + 2, total);
  view.setUint16(l3 + 4, spec.ipId ?? 0);
  view.setUint16(l3 + 6, ((spec.ipFlags ?? 2) << 13) | ((spec.fragmentOffset ?? 0) & 0x1fff));
  view.setUint8(l3 + 8, spec.ttl ?? 64);
  view.setUint8(l3 + 9, proto);
  view.setUint16(l3 + 10, 0);
  view.setUint32(l3 + 12, (spec.srcIp ?? 0xc6120001) >>> 0);
  view.setUint32(l3 + 16, (spec.dstIp ?? 0xc6120002) >>> 0);
  writeIpv4HeaderChecksum(view, l3);
  if (proto === IpProto.TCP) writeTcpChecksum(view, l3, l4, l4Length);
  else if (proto === IpProto.UDP && spec.udpNoChecksum !== true) writeUdpChecksum(view, l3, l4, l4Length);
  else if (proto === IpProto.ICMP) writeIcmpChecksum(view, l4, l4Length);
  return total;
}
