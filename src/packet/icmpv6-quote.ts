/**
 * The packet an ICMPv6 error quotes (RFC 4443 §2.4 (c): as much of the invoking packet as
 * fits in the minimum MTU): where its IPv6 header and its upper-layer header are, found
 * without allocation into a caller-owned {@link Icmpv6Quote}, for NAT and firewalls that
 * match an error to its connection or rewrite the quote.
 *
 * The quote is walked like a packet on the wire (same extension-header bound, same fragment
 * rules), but within the bytes the error carries: it may stop anywhere, so the upper-layer
 * header counts as present when its first 8 bytes (ports, ICMPv6 type/code/checksum/id) are
 * in the quote, and `complete` says whether the whole quoted packet is.
 *
 * @example
 * ```ts
 * const quote = new Icmpv6Quote();   // once
 * if (findIcmpv6Quote(view, layout, quote) && quote.l4 >= 0 && quote.proto === 17) {
 *   const quotedDstPort = view.getUint16(quote.l4 + 2);
 * }
 * ```
 */
import type { FrameLayout } from './frame-layout.ts';
import { Ipv6HeaderChain, walkIpv6ExtensionHeaders } from './ipv6-extension-headers.ts';

/** Where the quoted packet's headers are (absolute offsets; -1 absent). Fixed shape. */
export class Icmpv6Quote {
  /** The quoted IPv6 header. */
  l3 = -1;
  /** The quoted upper-layer header; -1 for a later fragment, or when its first 8 bytes are cut. */
  l4 = -1;
  /** The quoted upper-layer protocol (after its extension headers). */
  proto = 0;
  /** End of the quoted bytes (the error's end, or the quoted packet's end if it is shorter). */
  end = -1;
  /** True when the quoted packet is whole (its payload length fits in the quote). */
  complete = false;
  /** True when the quoted packet is a fragment (first or later). */
  isFragment = false;
  /** True when it is a later fragment: no upper-layer header, so no ports. */
  laterFragment = false;
}

/** The walk over the quoted packet's extension headers (one per module: no allocation per packet). */
const chain = new Ipv6HeaderChain();

/**
 * For an ICMPv6 error that quotes a packet (destination unreachable, packet too big, time
 * exceeded, parameter problem: types 1–4) and that `parseFrame` accepted, fills `quote`;
 * false when the frame is not such an error, the quote is shorter than an IPv6 header, its
 * version is not 6, or its extension headers are malformed or too many within the quote.
 */
export function findIcmpv6Quote(view: DataView, layout: FrameLayout, quote: Icmpv6Quote): boolean {
  const l4 = layout.l4Offset;
  if (layout.ethertype !== 0x86dd || layout.ipProto !== 58 || l4 < 0 || layout.l4Length < 48) return false;
  const type = view.getUint8(l4);
  if (type < 1 || type > 4) return false;
  const inner = l4 + 8;
  if (view.getUint8(inner) >>> 4 !== 6) return false;
  const errorEnd = l4 + layout.l4Length;
  const claimed = inner + 40 + view.getUint16(inner + 4);
  const end = claimed < errorEnd ? claimed : errorEnd;
  if (walkIpv6ExtensionHeaders(view, inner, end, chain, claimed) !== 0) return false;
  const il4 = chain.laterFragment ? -1 : chain.upperOffset;
  quote.l3 = inner;
  quote.l4 = il4 >= 0 && il4 + 8 <= end ? il4 : -1;
  quote.proto = chain.upperProtocol;
  quote.end = end;
  quote.complete = claimed <= errorEnd;
  quote.isFragment = chain.isFragment;
  quote.laterFragment = chain.laterFragment;
  return true;
}
