/**
 * In-place IPv6 rewrites that keep the upper-layer checksum right (RFC 1624 incremental
 * updates, O(1), no allocation). IPv6 has no header checksum: an address change only moves
 * the TCP, UDP or ICMPv6 checksum, whose pseudo-header covers both addresses.
 *
 * Contract: the frame was parsed OK (`parseFrame`), `l4` is `layout.l4Offset` and `next` is
 * `layout.ipProto` (the upper-layer protocol after any extension headers). A later fragment
 * (`l4Offset` -1) has no checksum to fix and must not be rewritten; neither should a
 * packet whose routing header names another final destination when the destination is
 * rewritten (its pseudo-header uses that one). Ports: `rewriteSrcPort` / `rewriteDstPort`
 * of `rewrite.ts` fix the TCP/UDP checksum for IPv6 as for IPv4 (a port is not in the
 * pseudo-header). A UDP checksum of 0, invalid over IPv6, is left as it is.
 *
 * Addresses are four 32-bit words, most significant first (unsigned or int32 aliases).
 *
 * @example
 * ```ts
 * // DNAT to backend 2001:db8::2, port 8080
 * rewriteIpv6Dst(view, L.l3Offset, L.l4Offset, L.ipProto, 0x20010db8, 0, 0, 2);
 * rewriteDstPort(view, L.l4Offset, L.ipProto, 8080);
 * ```
 */
import { checksumUpdate16 } from './checksum.ts';
import { checksumUpdate128 } from './checksum-ipv6.ts';

/** Offset of the checksum inside the upper-layer header: TCP 16, UDP 6, ICMPv6 2; -1 otherwise. */
function upperChecksumField(next: number): number {
  return next === 6 ? 16 : next === 17 ? 6 : next === 58 ? 2 : -1;
}

/** Writes the address at `at` and moves the checksum at `l4` accordingly. */
function rewriteAddress(view: DataView, at: number, l4: number, next: number, w0: number, w1: number, w2: number, w3: number): void {
  const field = upperChecksumField(next);
  if (field >= 0 && l4 >= 0) {
    const c = view.getUint16(l4 + field);
    if (next !== 17 || c !== 0) {
      const n = checksumUpdate128(c, view.getInt32(at), view.getInt32(at + 4), view.getInt32(at + 8), view.getInt32(at + 12), w0, w1, w2, w3);
      view.setUint16(l4 + field, next === 17 && n === 0 ? 0xffff : n);
    }
  }
  view.setInt32(at, w0 | 0);
  view.setInt32(at + 4, w1 | 0);
  view.setInt32(at + 8, w2 | 0);
  view.setInt32(at + 12, w3 | 0);
}

/**
 * Sets the IPv6 source address of the packet at `l3` to words `w0..w3` and fixes the
 * TCP / UDP / ICMPv6 checksum at `l4` (other protocols: the address only).
 */
export function rewriteIpv6Src(view: DataView, l3: number, l4: number, next: number, w0: number, w1: number, w2: number, w3: number): void {
  rewriteAddress(view, l3 + 8, l4, next, w0, w1, w2, w3);
}

/** Sets the IPv6 destination address (see {@link rewriteIpv6Src}). */
export function rewriteIpv6Dst(view: DataView, l3: number, l4: number, next: number, w0: number, w1: number, w2: number, w3: number): void {
  rewriteAddress(view, l3 + 24, l4, next, w0, w1, w2, w3);
}

/**
 * Sets the identifier of the ICMPv6 echo request/reply at `l4` and fixes its checksum
 * (an ICMPv6 identifier is covered like any other byte of the message).
 */
export function rewriteIcmpv6EchoId(view: DataView, l4: number, id: number): void {
  const old = view.getUint16(l4 + 4);
  view.setUint16(l4 + 2, checksumUpdate16(view.getUint16(l4 + 2), old, id));
  view.setUint16(l4 + 4, id);
}

/**
 * Decrements the hop limit of the packet at `l3` (no checksum covers it) and returns the new
 * value; 0 means the packet must not be forwarded (answer ICMPv6 time exceeded).
 */
export function decrementHopLimit(view: DataView, l3: number): number {
  const h = view.getUint8(l3 + 7);
  if (h === 0) return 0;
  view.setUint8(l3 + 7, h - 1);
  return h - 1;
}
