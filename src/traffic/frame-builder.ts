import { buildFrame as buildPacketFrame, type FrameSpec as PacketFrameSpec } from '../packet/frame-builder.ts';
import { IpProto } from '../packet/ipv4.ts';

/**
 * A flow-oriented frame description for traffic generators, tests and benchmarks: ports
 * double as the ICMP echo identifier/sequence, so one spec shape describes every flow.
 * Fields left out take the defaults of `src/packet/frame-builder.ts`, except those noted.
 */
export interface FrameSpec {
  proto: number;
  srcIp: number;
  dstIp: number;
  /** TCP/UDP ports; for ICMP echo, `srcPort` is the identifier and `dstPort` the sequence. */
  srcPort?: number;
  dstPort?: number;
  /** TCP flags (`TcpFlag.*`); default SYN. */
  tcpFlags?: number;
  /** TCP sequence number (default 1000) and acknowledgment number (default 0). */
  seq?: number;
  ack?: number;
  icmpType?: number;
  icmpCode?: number;
  ttl?: number;
  /** IPv4 identification (default 1). */
  ipId?: number;
  /** Bytes of zero-filled L4 payload, unless `payload` is given. */
  payloadLength?: number;
  payload?: Uint8Array;
  /** Pad the frame with zeros up to this size (Ethernet minimum 60 without FCS). */
  minFrameLength?: number;
  srcMac?: readonly [number, number];
  dstMac?: readonly [number, number];
  /** Write UDP checksum 0 ("none"). */
  udpNoChecksum?: boolean;
}

function toPacketSpec(spec: FrameSpec, payloadLength: number): PacketFrameSpec {
  const icmp = spec.proto === IpProto.ICMP;
  const base: PacketFrameSpec = {
    proto: spec.proto,
    srcIp: spec.srcIp,
    dstIp: spec.dstIp,
    ttl: spec.ttl ?? 64,
    ipId: spec.ipId ?? 1,
    ipFlags: 0,
    tcpFlags: spec.tcpFlags ?? 0x02,
    tcpSeq: spec.seq ?? 1000,
    tcpAck: spec.ack ?? 0,
    icmpType: spec.icmpType ?? 8,
    icmpCode: spec.icmpCode ?? 0,
    payload: spec.payload ?? new Uint8Array(payloadLength),
    udpNoChecksum: spec.udpNoChecksum === true,
  };
  if (icmp) {
    base.icmpId = spec.srcPort ?? 1;
    base.icmpSeq = spec.dstPort ?? 1;
  } else {
    if (spec.srcPort !== undefined) base.srcPort = spec.srcPort;
    if (spec.dstPort !== undefined) base.dstPort = spec.dstPort;
  }
  if (spec.srcMac !== undefined) base.srcMac = spec.srcMac;
  if (spec.dstMac !== undefined) base.dstMac = spec.dstMac;
  return base;
}

/**
 * Writes a well-formed Ethernet + IPv4 + TCP/UDP/ICMP frame at `offset` in `view`, with
 * every checksum computed, and returns its length. Control-path helper (not per packet).
 *
 * @example
 * ```ts
 * const len = writeFrame(view, off, { proto: IpProto.UDP, srcIp: 0xc6120102, dstIp: 0xc6120201, srcPort: 4000, dstPort: 53 });
 * ```
 */
export function writeFrame(view: DataView, offset: number, spec: FrameSpec): number {
  const length = buildPacketFrame(view, offset, toPacketSpec(spec, spec.payloadLength ?? 0));
  const min = spec.minFrameLength ?? 0;
  for (let i = length; i < min; i++) view.setUint8(offset + i, 0);
  return Math.max(length, min);
}

/**
 * A new Uint8Array holding one frame built by `writeFrame`.
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
