import { ArpOp, ARP_LENGTH, setArpSha, setArpSpa, setArpTha, setArpTpa, writeArpHeader } from '../packet/arp.ts';
import { ETH_HEADER_LENGTH, EtherType, setEthDst, setEthSrc, setEthType } from '../packet/ethernet.ts';

/** Length of an untagged Ethernet ARP frame without padding (14 + 28). */
export const ARP_FRAME_LENGTH = ETH_HEADER_LENGTH + ARP_LENGTH;

/**
 * Writes a broadcast ARP request "who has `targetIp`? tell `senderIp`" from the MAC
 * (macHi16, macLo32) at `off` and returns its length (42 bytes; VXLAN needs no padding).
 * No allocation.
 *
 * @example
 * ```ts
 * const len = writeArpRequest(view, 0, 0x0200, 0xc6120201, 0xc6120201, 0xc6120202);
 * ```
 */
export function writeArpRequest(view: DataView, off: number, macHi16: number, macLo32: number, senderIp: number, targetIp: number): number {
  setEthDst(view, off, 0xffff, 0xffffffff);
  setEthSrc(view, off, macHi16, macLo32);
  setEthType(view, off, EtherType.ARP);
  const a = off + ETH_HEADER_LENGTH;
  writeArpHeader(view, a, ArpOp.REQUEST);
  setArpSha(view, a, macHi16, macLo32);
  setArpSpa(view, a, senderIp);
  setArpTha(view, a, 0, 0);
  setArpTpa(view, a, targetIp);
  return ARP_FRAME_LENGTH;
}
