/**
 * IPv6 NAT rewrites in one call: an address and, for TCP/UDP, the port beside it, with ONE
 * incremental update of the upper-layer checksum (RFC 1624 eqn. 3 over the eight 16-bit
 * halves of the address, which the pseudo-header covers, and the port: HC' = ~(~HC + Σ~m +
 * Σm')). The IPv6 counterparts of `natRewriteDst` / `natRewriteSrc` (`rewrite.ts`), and
 * like them free of helper calls so V8 inlines them into batch loops: what a load
 * balancer's DNAT and its reverse need per packet, where `rewrite-ipv6.ts` gives the
 * address alone. The result equals a full recomputation (eqn. 3 never turns a checksum
 * into the other zero). O(1), no allocation.
 *
 * Contract: as `rewrite-ipv6.ts` — the frame was parsed OK, `l4` is `layout.l4Offset` (not
 * a later fragment) and `proto` is `layout.ipProto`. TCP (6) and UDP (17) get address,
 * port and checksum; ICMPv6 (58) the address and its checksum (`port` ignored); other
 * protocols the address only. A UDP checksum of 0 (invalid over IPv6) is left as it is; a
 * UDP result of 0 is sent as 0xFFFF.
 *
 * @example
 * ```ts
 * // DNAT to backend b, whose address is at [4b, 4b + 4) of an Int32Array of backends
 * natRewriteIpv6Dst(view, L.l3Offset, L.l4Offset, L.ipProto, backends6, b << 2, ports[b]);
 * ```
 */
/** Shared body: the address at `l3 + addrAt`, the port at `l4 + portAt`, one checksum update. */
function natRewrite6(view: DataView, l3: number, l4: number, proto: number, addrAt: number, portAt: number, words: Int32Array, at: number, port: number): void {
  const m = 0xffff;
  const field = proto === 6 ? 16 : proto === 17 ? 6 : proto === 58 ? 2 : -1;
  // Σ~old + Σnew over the eight 16-bit halves of the address.
  let s = 0;
  for (let k = 0; k < 4; k++) {
    const a = l3 + addrAt + 4 * k;
    const o = view.getInt32(a);
    const n = words[at + k];
    s += (~o >>> 16) + (~o & m) + (n >>> 16) + (n & m);
    view.setInt32(a, n);
  }
  if (field < 0 || l4 < 0) return;
  if (proto !== 58) {
    const pAt = l4 + portAt;
    s += (~view.getUint16(pAt) & m) + (port & m);
    view.setUint16(pAt, port);
  }
  const c = view.getUint16(l4 + field);
  if (proto === 17 && c === 0) return;
  s += ~c & m;
  s = (s & m) + (s >>> 16);
  s = ~((s & m) + (s >>> 16)) & m;
  view.setUint16(l4 + field, s === 0 && proto === 17 ? m : s);
}

/**
 * DNAT in one call: sets the IPv6 destination address to `words[at..at + 4)` (int32,
 * most significant first: e.g. a backend's slot in a table of addresses) and, for TCP/UDP,
 * the destination port, fixing the checksum.
 */
export function natRewriteIpv6Dst(view: DataView, l3: number, l4: number, proto: number, words: Int32Array, at: number, port: number): void {
  natRewrite6(view, l3, l4, proto, 24, 2, words, at, port);
}

/** SNAT in one call: like {@link natRewriteIpv6Dst} for the source address and port. */
export function natRewriteIpv6Src(view: DataView, l3: number, l4: number, proto: number, words: Int32Array, at: number, port: number): void {
  natRewrite6(view, l3, l4, proto, 8, 0, words, at, port);
}
