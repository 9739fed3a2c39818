import { writeIcmpv6Checksum } from '../packet/checksum-ipv6.ts';
import { EtherType, setEthDst, setEthSrc, setEthType } from '../packet/ethernet.ts';

/** Length of an untagged neighbour solicitation frame with its source link-layer address option (14 + 40 + 24 + 8). */
export const NS_FRAME_LENGTH = 86;

/**
 * Writes at `off` a neighbour solicitation (RFC 4861 §4.3, §7.2.2) "who has `target`?"
 * from the MAC (macHi16, macLo32) and the IPv6 address `source` (four words), sent to the
 * target's solicited-node multicast address (ff02::1:ffXX:XXXX, the target's low 24 bits;
 * Ethernet 33:33:ff:XX:XX:XX), hop limit 255, with a source link-layer address option, and
 * returns its length (86 bytes). `target` is four words at `target[at..at+3]`. No allocation.
 *
 * @example
 * ```ts
 * const len = writeNeighbourSolicitation(view, 0, 0x0200, 0x20000db9, gwWords, targetWords);
 * ```
 */
export function writeNeighbourSolicitation(
  view: DataView, off: number, macHi16: number, macLo32: number, source: Uint32Array, target: Uint32Array, at = 0,
): number {
  const low = target[at + 3] & 0xffffff;
  setEthDst(view, off, 0x3333, (0xff000000 | low) >>> 0);
  setEthSrc(view, off, macHi16, macLo32);
  setEthType(view, off, EtherType.IPV6);
  const l3 = off + 14;
  view.setUint32(l3, 0x60000000);
  view.setUint32(l3 + 4, (32 << 16) | (58 << 8) | 255); // payload 32, ICMPv6, hop limit 255
  for (let i = 0; i < 4; i++) view.setUint32(l3 + 8 + 4 * i, source[i]);
  view.setUint32(l3 + 24, 0xff020000);
  view.setUint32(l3 + 28, 0);
  view.setUint32(l3 + 32, 1);
  view.setUint32(l3 + 36, (0xff000000 | low) >>> 0);
  const l4 = l3 + 40;
  view.setUint32(l4, 135 << 24); // type 135, code 0, checksum 0
  view.setUint32(l4 + 4, 0);
  for (let i = 0; i < 4; i++) view.setUint32(l4 + 8 + 4 * i, target[at + i]);
  view.setUint16(l4 + 24, 0x0101); // source link-layer address option, 8 bytes
  view.setUint16(l4 + 26, macHi16);
  view.setUint32(l4 + 28, macLo32);
  writeIcmpv6Checksum(view, l3, l4, 32);
  return NS_FRAME_LENGTH;
}
