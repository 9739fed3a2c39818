/**
 * NAT header rewrites with RFC 1624 incremental checksum updates, fused so that an address
 * and a port change cost ONE update of the IPv4 header checksum and ONE of the TCP/UDP
 * checksum (whose pseudo-header covers the addresses). UDP's "no checksum" (0) is kept and
 * a computed 0 is sent as 0xFFFF (RFC 768). O(1), no allocation.
 *
 * Contract: the frame was accepted by `parseFrame` (so `l4` points at a complete
 * TCP/UDP/ICMP header), and for ICMP the message is an echo (the identifier is the "port").
 *
 * @example
 * ```ts
 * natRewriteSource(view, L.l3Offset, L.l4Offset, L.ipProto, extAddr, extPort);      // SNAT
 * natRewriteDestination(view, L.l3Offset, L.l4Offset, L.ipProto, intAddr, intPort); // reverse
 * ```
 */
import { checksumUpdate16, checksumUpdate32 } from '../../src/packet/checksum.ts';
import { rewriteIcmpEchoId } from '../../src/packet/rewrite.ts';

/** Folds a one's complement accumulator (< 2^22) to 16 bits. */
function fold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Sum of the complement of the old and the new 32-bit value, as RFC 1624 eqn. 3 adds them. */
function delta32(oldValue: number, newValue: number): number {
  return ((~oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) + (newValue >>> 16) + (newValue & 0xffff);
}

function rewriteEndpoint(
  view: DataView,
  l3: number,
  l4: number,
  l4Length: number,
  proto: number,
  addrField: number,
  portField: number,
  addr: number,
  port: number,
): void {
  const oldA = view.getUint32(l3 + addrField);
  const a = addr >>> 0;
  view.setUint32(l3 + addrField, a);
  const dA = delta32(oldA, a);
  view.setUint16(l3 + 10, ~fold((~view.getUint16(l3 + 10) & 0xffff) + dA) & 0xffff);
  if (proto === 6 || proto === 17) {
    const oldP = view.getUint16(l4 + portField);
    view.setUint16(l4 + portField, port);
    const cf = l4 + (proto === 6 ? 16 : 6);
    const c = view.getUint16(cf);
    if (proto === 17 && c === 0) return;
    const n = ~fold((~c & 0xffff) + dA + (~oldP & 0xffff) + port) & 0xffff;
    view.setUint16(cf, proto === 17 && n === 0 ? 0xffff : n);
  } else if (proto === 1) {
    rewriteIcmpEchoId(view, l4, l4Length, port);
  }
}

/**
 * SNAT: sets the source address and the source port (TCP/UDP) or echo identifier (ICMP)
 * of the packet at `l3`/`l4` (`l4Length` bytes of L4, used only for ICMP's rare full recompute).
 */
export function natRewriteSource(view: DataView, l3: number, l4: number, l4Length: number, proto: number, addr: number, port: number): void {
  rewriteEndpoint(view, l3, l4, l4Length, proto, 12, 0, addr, port);
}

/** DNAT / reverse SNAT: sets the destination address and port (or echo identifier). */
export function natRewriteDestination(view: DataView, l3: number, l4: number, l4Length: number, proto: number, addr: number, port: number): void {
  rewriteEndpoint(view, l3, l4, l4Length, proto, 16, 2, addr, port);
}

/**
 * Translates an ICMP error (RFC 5508 §7) and the packet it quotes.
 *
 * `inbound` (error from the outside about a packet the NAT translated on its way out):
 * the outer DESTINATION address and the quoted packet's SOURCE address and port / echo
 * identifier become `addr`/`port`. Outbound (error from the inside about a packet the NAT
 * translated on its way in): the outer SOURCE address and the quoted DESTINATION.
 *
 * Fixed incrementally: the outer IPv4 checksum, the quoted IPv4 header checksum, the quoted
 * TCP/UDP checksum when it was quoted (TCP needs 18 bytes; a UDP 0 stays 0) or the quoted
 * ICMP echo checksum, and the outer ICMP checksum over every changed word.
 *
 * @param l4End end of the ICMP message (`l4 + l4Length`)
 * @param inner offset of the quoted IPv4 header; `innerL4` of its payload (≥ 8 bytes before `l4End`)
 */
export function natRewriteIcmpError(
  view: DataView,
  l3: number,
  l4: number,
  l4End: number,
  inner: number,
  innerL4: number,
  innerProto: number,
  inbound: boolean,
  addr: number,
  port: number,
): void {
  const a = addr >>> 0;
  const outerField = inbound ? 16 : 12;
  const oldOuter = view.getUint32(l3 + outerField);
  view.setUint32(l3 + outerField, a);
  view.setUint16(l3 + 10, ~fold((~view.getUint16(l3 + 10) & 0xffff) + delta32(oldOuter, a)) & 0xffff);

  let acc = ~view.getUint16(l4 + 2) & 0xffff;
  const innerField = inbound ? 12 : 16;
  const oldA = view.getUint32(inner + innerField);
  view.setUint32(inner + innerField, a);
  const dA = delta32(oldA, a);
  acc += dA;
  const oldIc = view.getUint16(inner + 10);
  const newIc = checksumUpdate32(oldIc, oldA, a);
  view.setUint16(inner + 10, newIc);
  acc = fold(acc + (~oldIc & 0xffff) + newIc);

  if (innerProto === 6 || innerProto === 17) {
    const pf = innerL4 + (inbound ? 0 : 2);
    const oldP = view.getUint16(pf);
    view.setUint16(pf, port);
    acc += (~oldP & 0xffff) + port;
    const cf = innerL4 + (innerProto === 6 ? 16 : 6);
    if (cf + 2 <= l4End) {
      const c = view.getUint16(cf);
      if (innerProto === 6 || c !== 0) {
        let n = ~fold((~c & 0xffff) + dA + (~oldP & 0xffff) + port) & 0xffff;
        if (innerProto === 17 && n === 0) n = 0xffff;
        view.setUint16(cf, n);
        acc += (~c & 0xffff) + n;
      }
    }
  } else if (innerProto === 1) {
    const oldId = view.getUint16(innerL4 + 4);
    view.setUint16(innerL4 + 4, port);
    acc += (~oldId & 0xffff) + port;
    const c = view.getUint16(innerL4 + 2);
    const n = checksumUpdate16(c, oldId, port);
    view.setUint16(innerL4 + 2, n);
    acc += (~c & 0xffff) + n;
  }
  view.setUint16(l4 + 2, ~fold(fold(acc)) & 0xffff);
}
