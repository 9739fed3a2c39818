import { checksumUpdate16 } from '../packet/checksum.ts';
import { setMac } from '../packet/ethernet.ts';

/**
 * Turns the ICMP echo request at `l4` (IPv4 header at `l3`, frame at `frameOffset`) into
 * its echo reply IN PLACE, as the gateway answering a ping to its own address: type 0,
 * addresses swapped, TTL 64, Ethernet destination = the sender's MAC, source = the
 * gateway's (macHi16, macLo32). Both checksums are updated incrementally (RFC 1624); the
 * frame keeps its length. No allocation.
 *
 * @example
 * ```ts
 * if (ipv4Dst(view, l3) === gatewayIp && icmpType(view, l4) === IcmpType.ECHO_REQUEST) {
 *   writeIcmpEchoReply(view, off, l3, l4, macHi, macLo);
 * }
 * ```
 */
export function writeIcmpEchoReply(view: DataView, frameOffset: number, l3: number, l4: number, macHi16: number, macLo32: number): void {
  setMac(view, frameOffset, view.getUint16(frameOffset + 6), view.getUint32(frameOffset + 8));
  setMac(view, frameOffset + 6, macHi16, macLo32);
  // Swapping the addresses leaves the header sum unchanged; the TTL word changes.
  const src = view.getUint32(l3 + 12);
  view.setUint32(l3 + 12, view.getUint32(l3 + 16));
  view.setUint32(l3 + 16, src);
  const oldTtlWord = view.getUint16(l3 + 8);
  const newTtlWord = (64 << 8) | (oldTtlWord & 0xff);
  view.setUint16(l3 + 8, newTtlWord);
  view.setUint16(l3 + 10, checksumUpdate16(view.getUint16(l3 + 10), oldTtlWord, newTtlWord));
  const oldTypeWord = view.getUint16(l4);
  const newTypeWord = oldTypeWord & 0x00ff; // type 0, same code
  view.setUint16(l4, newTypeWord);
  view.setUint16(l4 + 2, checksumUpdate16(view.getUint16(l4 + 2), oldTypeWord, newTypeWord));
}
