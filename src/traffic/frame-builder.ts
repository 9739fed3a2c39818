import { writeIcmpChecksum, writeIpv4HeaderChecksum, writeTcpChecksum, writeUdpChecksum } from '../packet/checksum.ts';
import { EtherType, ETH_HEADER_LENGTH, setEthDst, setEthSrc, setEthType } from '../packet/ethernet.ts';
import { IpProto, setIpv4Dst, setIpv4Flags, setIpv4FragmentOffset, setIpv4Id, setIpv4Protocol, setIpv4Src, setIpv4TotalLength, setIpv4Ttl, setIpv4VersionIhl } from '../packet/ipv4.ts';
import { setIcmpCode, setIcmpEchoId, setIcmpEchoSeq, setIcmpType, ICMP_HEADER_LENGTH } from '../packet/icmp.ts';
import { setTcpAck, setTcpDataOffset, setTcpDstPort, setTcpFlags, setTcpSeq, setTcpSrcPort, setTcpUrgent, setTcpWindow, TCP_MIN_HEADER_LENGTH } from '../packet/tcp.ts';
import { setUdpDstPort, setUdpLength, setUdpSrcPort, UDP_HEADER_LENGTH } from '../packet/udp.ts';

/** Everything needed to write one IPv4 frame; fields left out take the defaults below. */
export interface FrameSpec {
  proto: number;
  srcIp: number;
  dstIp: number;
  /** TCP/UDP ports; for ICMP echo, `srcPort` is the identifier and `dstPort` the sequence. */
  srcPort?: number;
  dstPort?: number;
  /** TCP flags (`TcpFlag.*`); default SYN. */
  tcpFlags?: number;
  seq?: number;
  ack?: number;
  /** ICMP type (default 8, echo request) and code. */
  icmpType?: number;
  icmpCode?: number;
  ttl?: number;
  ipId?: number;
  /** Bytes of L4 payload (zero-filled unless `payload` is given). */
  payloadLength?: number;
  payload?: Uint8Array;
  /** Pad the frame with zeros up to this size (Ethernet minimum 60 without FCS). */
  minFrameLength?: number;
  /** MACs as (hi16, lo32) pairs. */
  srcMac?: readonly [number, number];
  dstMac?: readonly [number, number];
  /** Write UDP checksum 0 ("none"). */
  udpNoChecksum?: boolean;
}

const DEFAULT_SRC_MAC = [0x0200, 0x00000001] as const;
const DEFAULT_DST_MAC = [0x0200, 0x00000002] as const;

/**
 * Writes a well-formed Ethernet + IPv4 + TCP/UDP/ICMP frame at `offset` in `view`, with every
 * checksum computed, and returns its length. Control-path helper for the traffic generator,
 * tests and benchmarks (it is not used per packet on a forwarding path).
 *
 * @example
 * ```ts
 * const len = writeFrame(view, off, { proto: IpProto.UDP, srcIp: 0xc6120102, dstIp: 0xc6120201, srcPort: 4000, dstPort: 53 });
 * ```
 */
export function writeFrame(view: DataView, offset: number, spec: FrameSpec): number {
  const srcMac = spec.srcMac ?? DEFAULT_SRC_MAC;
  const dstMac = spec.dstMac ?? DEFAULT_DST_MAC;
  setEthDst(view, offset, dstMac[0], dstMac[1]);
  setEthSrc(view, offset, srcMac[0], srcMac[1]);
  setEthType(view, offset, EtherType.IPV4);
  const l3 = offset + ETH_HEADER_LENGTH;
  const l4 = l3 + 20;
  const l4HeaderLength =
    spec.proto === IpProto.TCP ? TCP_MIN_HEADER_LENGTH : spec.proto === IpProto.UDP ? UDP_HEADER_LENGTH : ICMP_HEADER_LENGTH;
  const payloadLength = spec.payload?.length ?? spec.payloadLength ?? 0;
  const l4Length = l4HeaderLength + payloadLength;
  for (let i = 0; i < l4HeaderLength; i++) view.setUint8(l4 + i, 0);
  const payloadAt = l4 + l4HeaderLength;
  for (let i = 0; i < payloadLength; i++) view.setUint8(payloadAt + i, spec.payload ? spec.payload[i] : 0);

  setIpv4VersionIhl(view, l3, 4, 5);
  view.setUint8(l3 + 1, 0);
  setIpv4TotalLength(view, l3, 20 + l4Length);
  setIpv4Id(view, l3, spec.ipId ?? 1);
  setIpv4Flags(view, l3, 0);
  setIpv4FragmentOffset(view, l3, 0);
  setIpv4Ttl(view, l3, spec.ttl ?? 64);
  setIpv4Protocol(view, l3, spec.proto);
  setIpv4Src(view, l3, spec.srcIp);
  setIpv4Dst(view, l3, spec.dstIp);
  writeIpv4HeaderChecksum(view, l3);

  if (spec.proto === IpProto.TCP) {
    setTcpSrcPort(view, l4, spec.srcPort ?? 40000);
    setTcpDstPort(view, l4, spec.dstPort ?? 80);
    setTcpSeq(view, l4, spec.seq ?? 1000);
    setTcpAck(view, l4, spec.ack ?? 0);
    setTcpDataOffset(view, l4, 5);
    setTcpFlags(view, l4, spec.tcpFlags ?? 0x02);
    setTcpWindow(view, l4, 65535);
    setTcpUrgent(view, l4, 0);
    writeTcpChecksum(view, l3, l4, l4Length);
  } else if (spec.proto === IpProto.UDP) {
    setUdpSrcPort(view, l4, spec.srcPort ?? 40000);
    setUdpDstPort(view, l4, spec.dstPort ?? 53);
    setUdpLength(view, l4, l4Length);
    if (spec.udpNoChecksum !== true) writeUdpChecksum(view, l3, l4, l4Length);
  } else if (spec.proto === IpProto.ICMP) {
    setIcmpType(view, l4, spec.icmpType ?? 8);
    setIcmpCode(view, l4, spec.icmpCode ?? 0);
    setIcmpEchoId(view, l4, spec.srcPort ?? 1);
    setIcmpEchoSeq(view, l4, spec.dstPort ?? 1);
    writeIcmpChecksum(view, l4, l4Length);
  }
  let length = ETH_HEADER_LENGTH + 20 + l4Length;
  const min = spec.minFrameLength ?? 0;
  while (length < min) view.setUint8(offset + length++, 0);
  return length;
}

/**
 * Convenience for tests and tools: a new Uint8Array holding one frame built by `writeFrame`.
 *
 * @example
 * ```ts
 * const frame = buildFrame({ proto: IpProto.TCP, srcIp: a, dstIp: b, srcPort: 1234, dstPort: 80 });
 * ```
 */
export function buildFrame(spec: FrameSpec): Uint8Array {
  const bytes = new Uint8Array(2048);
  const length = writeFrame(new DataView(bytes.buffer), 0, spec);
  return bytes.slice(0, length);
}
