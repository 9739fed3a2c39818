/**
 * In-place header rewrites that keep every checksum right, for NAT, load balancing and
 * routing: RFC 1624 incremental updates of the IPv4 header checksum and of the TCP/UDP
 * checksum (whose pseudo-header covers the addresses). O(1), no allocation.
 *
 * Contract: the frame has been parsed OK (`parseFrame`), so `l4` points at a complete
 * TCP/UDP/ICMP header when `proto` says so; fragments are not rewritten (parseFrame drops
 * them). For protocols other than TCP/UDP only the IPv4 header checksum is updated (ICMP has
 * no pseudo-header). UDP's "no checksum" (0) is preserved, and a result of 0 is sent as 0xFFFF.
 *
 * Addresses may be passed unsigned or as their int32 alias (`x | 0`, e.g. from an
 * Int32Array of backends): internally everything stays int32, so no call boxes a double.
 *
 * @example
 * ```ts
 * // DNAT to a backend: destination address and port, both checksums fixed in one go.
 * natRewriteDst(view, layout.l3Offset, layout.l4Offset, layout.ipProto, backendIp, backendPort);
 * // or field by field:
 * rewriteIpv4Dst(view, layout.l3Offset, layout.l4Offset, layout.ipProto, backendIp);
 * rewriteDstPort(view, layout.l4Offset, layout.ipProto, backendPort);
 * ```
 */
import { checksumUpdate16, checksumUpdate32, computeIcmpChecksum } from './checksum.ts';

/** Offset of the checksum field inside the L4 header for TCP (16) / UDP (6); -1 otherwise. */
function l4ChecksumField(proto: number): number {
  return proto === 6 ? 16 : proto === 17 ? 6 : -1;
}

/** Updates the TCP/UDP checksum at `l4` for a 32-bit change of pseudo-header data. */
function fixL4For32(view: DataView, l4: number, proto: number, oldValue: number, newValue: number): void {
  const field = l4ChecksumField(proto);
  if (field < 0) return;
  const c = view.getUint16(l4 + field);
  if (proto === 17) {
    if (c === 0) return;
    const n = checksumUpdate32(c, oldValue, newValue);
    view.setUint16(l4 + field, n === 0 ? 0xffff : n);
  } else {
    view.setUint16(l4 + field, checksumUpdate32(c, oldValue, newValue));
  }
}

/** Updates the TCP/UDP checksum at `l4` for a 16-bit change of covered data. */
function fixL4For16(view: DataView, l4: number, proto: number, oldValue: number, newValue: number): void {
  const field = l4ChecksumField(proto);
  if (field < 0) return;
  const c = view.getUint16(l4 + field);
  if (proto === 17) {
    if (c === 0) return;
    const n = checksumUpdate16(c, oldValue, newValue);
    view.setUint16(l4 + field, n === 0 ? 0xffff : n);
  } else {
    view.setUint16(l4 + field, checksumUpdate16(c, oldValue, newValue));
  }
}

/**
 * Sets the IPv4 source address of the packet at `l3` and fixes the IPv4 header checksum
 * and, for TCP (6) / UDP (17), the L4 checksum at `l4`.
 */
export function rewriteIpv4Src(view: DataView, l3: number, l4: number, proto: number, addr: number): void {
  const old = view.getInt32(l3 + 12);
  const nu = addr | 0;
  view.setInt32(l3 + 12, nu);
  view.setUint16(l3 + 10, checksumUpdate32(view.getUint16(l3 + 10), old, nu));
  fixL4For32(view, l4, proto, old, nu);
}

/** Like {@link rewriteIpv4Src} for the destination address. */
export function rewriteIpv4Dst(view: DataView, l3: number, l4: number, proto: number, addr: number): void {
  const old = view.getInt32(l3 + 16);
  const nu = addr | 0;
  view.setInt32(l3 + 16, nu);
  view.setUint16(l3 + 10, checksumUpdate32(view.getUint16(l3 + 10), old, nu));
  fixL4For32(view, l4, proto, old, nu);
}

/** Sets the TCP/UDP source port at `l4` and fixes its checksum. No-op for other protocols. */
export function rewriteSrcPort(view: DataView, l4: number, proto: number, port: number): void {
  if (proto !== 6 && proto !== 17) return;
  const old = view.getUint16(l4);
  view.setUint16(l4, port);
  fixL4For16(view, l4, proto, old, port & 0xffff);
}

/** Sets the TCP/UDP destination port at `l4` and fixes its checksum. No-op for other protocols. */
export function rewriteDstPort(view: DataView, l4: number, proto: number, port: number): void {
  if (proto !== 6 && proto !== 17) return;
  const old = view.getUint16(l4 + 2);
  view.setUint16(l4 + 2, port);
  fixL4For16(view, l4, proto, old, port & 0xffff);
}

/**
 * Decrements the TTL of the IPv4 packet at `l3`, fixing the header checksum, and returns
 * the new TTL. A packet whose TTL is already 0 is left untouched and 0 is returned, so a
 * router drops (or answers time-exceeded) whenever the result is 0.
 */
export function decrementTtl(view: DataView, l3: number): number {
  const ttl = view.getUint8(l3 + 8);
  if (ttl === 0) return 0;
  const proto = view.getUint8(l3 + 9);
  view.setUint8(l3 + 8, ttl - 1);
  view.setUint16(l3 + 10, checksumUpdate16(view.getUint16(l3 + 10), (ttl << 8) | proto, ((ttl - 1) << 8) | proto));
  return ttl - 1;
}

/**
 * Sets the identifier of the ICMP echo message at `l4` (of `l4Length` bytes) and fixes the
 * ICMP checksum (ICMP NAT uses the identifier as its "port"). In the rare case the update
 * yields 0, the checksum is recomputed in full so that an all-zero message gets 0xFFFF
 * exactly as RFC 1071 computes it.
 */
export function rewriteIcmpEchoId(view: DataView, l4: number, l4Length: number, id: number): void {
  const old = view.getUint16(l4 + 4);
  view.setUint16(l4 + 4, id);
  const c = checksumUpdate16(view.getUint16(l4 + 2), old, id & 0xffff);
  view.setUint16(l4 + 2, c !== 0 ? c : computeIcmpChecksum(view, l4, l4Length));
}

/**
 * Shared body of the NAT rewrites: sets the 32-bit address at `l3 + addrAt` and, for
 * TCP/UDP, the 16-bit port at `l4 + portAt`, then applies ONE incremental update to each
 * checksum (RFC 1624 eqn. 3 with several changed fields: HC' = ~(~HC + Σ~m + Σm')).
 * Kept small and free of helper calls so V8 inlines it (and its wrappers) into batch loops.
 */
function natRewrite(view: DataView, l3: number, l4: number, proto: number, addrAt: number, portAt: number, addr: number, port: number): void {
  const m = 0xffff;
  const at = l3 + addrAt;
  const old = view.getInt32(at);
  const nu = addr | 0;
  view.setInt32(at, nu);
  const delta = (~old >>> 16) + (~old & m) + (nu >>> 16) + (nu & m);
  let s = (~view.getUint16(l3 + 10) & m) + delta;
  s = (s & m) + (s >>> 16);
  view.setUint16(l3 + 10, ~((s & m) + (s >>> 16)));
  if (proto !== 6 && proto !== 17) return;
  const pAt = l4 + portAt;
  const cAt = proto === 6 ? l4 + 16 : l4 + 6;
  const c = view.getUint16(cAt);
  s = (~view.getUint16(pAt) & m) + (port & m) + delta;
  view.setUint16(pAt, port);
  if (c === 0 && proto === 17) return;
  // Up to 0x20004 here: two folds, as one can leave a carry (0x1FFFF folds to 0x10000).
  s = (~c & m) + (s & m) + (s >>> 16);
  s = (s & m) + (s >>> 16);
  s = ~((s & m) + (s >>> 16)) & m;
  view.setUint16(cAt, s === 0 && proto === 17 ? m : s);
}

/**
 * DNAT in one call: sets the IPv4 destination address and, for TCP/UDP, the destination
 * port, with a single incremental update of the IPv4 and L4 checksums. For other
 * protocols (ICMP, …) only the address changes and `port` is ignored.
 */
export function natRewriteDst(view: DataView, l3: number, l4: number, proto: number, addr: number, port: number): void {
  natRewrite(view, l3, l4, proto, 16, 2, addr, port);
}

/** SNAT in one call: like {@link natRewriteDst} for the source address and port. */
export function natRewriteSrc(view: DataView, l3: number, l4: number, proto: number, addr: number, port: number): void {
  natRewrite(view, l3, l4, proto, 12, 0, addr, port);
}
