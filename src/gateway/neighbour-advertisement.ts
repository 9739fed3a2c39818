import { writeIcmpv6Checksum } from '../packet/checksum-ipv6.ts';
import { setMac } from '../packet/ethernet.ts';

/**
 * Turns the neighbour solicitation at `l4` (IPv6 header at `l3`, frame at `frameOffset`)
 * IN PLACE into the neighbour advertisement that answers it (RFC 4861 §7.2.4) and returns
 * the new frame length (`l3 - frameOffset + 72`; VLAN tags kept):
 * - sent from the solicited target address (as Linux does), hop limit 255;
 * - to the solicitation's source with the Solicited flag, at the MAC (`toHi16`, `toLo32`)
 *   the caller took from its source link-layer address option (or Ethernet source); or, for
 *   a solicitation from the unspecified address (duplicate address detection), to all nodes
 *   (ff02::1, 33:33:00:00:00:01) without it;
 * - flags Router and Override, and a target link-layer address option with the gateway's
 *   MAC (`macHi16`, `macLo32`), also the Ethernet source.
 * A solicitation without options is 8 bytes shorter than the answer: the buffer needs
 * 72 bytes after `l3`. Check the solicitation first (the gateway edge does). No allocation.
 *
 * @example
 * ```ts
 * len = writeNeighbourAdvertisement(view, off, l3, l4, macHi, macLo, slla >= 0 ? view.getUint16(slla + 2) : ethSrcHi, …);
 * ```
 */
export function writeNeighbourAdvertisement(
  view: DataView, frameOffset: number, l3: number, l4: number, macHi16: number, macLo32: number, toHi16: number, toLo32: number,
): number {
  const fromDad = (view.getInt32(l3 + 8) | view.getInt32(l3 + 12) | view.getInt32(l3 + 16) | view.getInt32(l3 + 20)) === 0;
  // The solicitation's source becomes the destination; the target the source (read before `l4` moves to l3 + 40).
  for (let i = 0; i < 16; i += 4) {
    view.setUint32(l3 + 24 + i, fromDad ? (i === 0 ? 0xff020000 : i === 12 ? 1 : 0) : view.getUint32(l3 + 8 + i));
    view.setUint32(l3 + 8 + i, view.getUint32(l4 + 8 + i));
  }
  const a = l3 + 40;
  for (let i = 0; i < 16; i += 4) view.setUint32(a + 8 + i, view.getUint32(l3 + 8 + i));
  if (fromDad) setMac(view, frameOffset, 0x3333, 1);
  else setMac(view, frameOffset, toHi16, toLo32);
  setMac(view, frameOffset + 6, macHi16, macLo32);
  view.setUint32(l3, 0x60000000);
  view.setUint32(l3 + 4, (32 << 16) | (58 << 8) | 255); // payload 32, ICMPv6, hop limit 255
  view.setUint32(a, 136 << 24); // type 136, code 0, checksum 0
  view.setUint32(a + 4, fromDad ? 0xa0000000 : 0xe0000000); // R, (S,) O
  view.setUint16(a + 24, 0x0201); // target link-layer address option, 8 bytes
  view.setUint16(a + 26, macHi16);
  view.setUint32(a + 28, macLo32);
  writeIcmpv6Checksum(view, l3, a, 32);
  return l3 - frameOffset + 72;
}
