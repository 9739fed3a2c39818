import { checksumUpdate16 } from '../packet/checksum.ts';
import { swapEthAddresses } from '../packet/ethernet.ts';

/**
 * Turns the ICMPv6 echo request at `l4` (IPv6 header at `l3`, frame at `frameOffset`, sent
 * to the gateway's MAC) into its echo reply IN PLACE, as the gateway answering a ping to
 * its own address: type 129, addresses swapped (the pseudo-header sum does not change),
 * hop limit 64, MACs swapped; the checksum is updated incrementally (RFC 1624). The frame
 * keeps its length (extension headers kept). No allocation.
 *
 * @example
 * ```ts
 * if (ownsInterfaceAddress6 && view.getUint8(l4) === 128) writeIcmpv6EchoReply(view, off, l3, l4);
 * ```
 */
export function writeIcmpv6EchoReply(view: DataView, frameOffset: number, l3: number, l4: number): void {
  swapEthAddresses(view, frameOffset);
  for (let i = 8; i < 24; i += 4) {
    const a = view.getUint32(l3 + i);
    view.setUint32(l3 + i, view.getUint32(l3 + 16 + i));
    view.setUint32(l3 + 16 + i, a);
  }
  view.setUint8(l3 + 7, 64);
  const oldTypeWord = view.getUint16(l4);
  const newTypeWord = (129 << 8) | (oldTypeWord & 0xff);
  view.setUint16(l4, newTypeWord);
  view.setUint16(l4 + 2, checksumUpdate16(view.getUint16(l4 + 2), oldTypeWord, newTypeWord));
}
