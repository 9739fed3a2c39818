import { setMac } from '../packet/ethernet.ts';
import { writeIcmpError } from '../packet/reply/icmp-unreachable.ts';

/**
 * Rewrites the IPv4 frame at `frameOffset` (IPv4 header at `l3`), whose TTL ran out at the
 * gateway, into an ICMP time exceeded in transit (type 11, code 0; RFC 792, RFC 1812
 * §4.3.2) IN PLACE, and returns the new frame length: `writeIcmpError` (the body of
 * `writeIcmpUnreachable` too), sent by a router that has an address: the source is `fromIp`
 * (the gateway's address), the Ethernet destination is the sender's MAC and the source is
 * the gateway's MAC (macHi16, macLo32). The quote is the datagram as received (TTL
 * included) plus 8 bytes of payload. The buffer needs 96 bytes after `l3`. Check
 * `icmpErrorPermitted` first. No allocation.
 *
 * @example
 * ```ts
 * if (ttl <= 1 && icmpErrorPermitted(view, off, l3, l4)) {
 *   len = writeIcmpTimeExceeded(view, off, l3, gatewayIp, macHi, macLo);
 * }
 * ```
 */
export function writeIcmpTimeExceeded(view: DataView, frameOffset: number, l3: number, fromIp: number, macHi16: number, macLo32: number): number {
  const length = writeIcmpError(view, frameOffset, l3, 11, 0, fromIp >>> 0);
  setMac(view, frameOffset + 6, macHi16, macLo32);
  return length;
}
