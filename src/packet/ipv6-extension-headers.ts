/**
 * The IPv6 extension-header walk (RFC 8200 §4): from the fixed header to the upper-layer
 * header, bounded, without allocation, into a caller-owned {@link Ipv6HeaderChain}.
 *
 * Extension headers are the ones the Linux kernel treats as such (`ipv6_ext_hdr`):
 * hop-by-hop options (0), routing (43), fragment (44), destination options (60) and the
 * authentication header (51). Every other next-header value ends the walk and is the
 * upper-layer protocol: TCP, UDP, ICMPv6, but also ESP (50: encrypted, nothing after it can
 * be read), "no next header" (59) and anything unknown, which the parser reports like an
 * unknown IPv4 protocol.
 *
 * Bound: at most {@link IPV6_MAX_EXTENSION_HEADERS} extension headers. RFC 8200 §4.1's
 * recommended order has at most seven (hop-by-hop, destination options, routing, fragment,
 * AH, ESP, destination options, the last two past ESP, where nobody reads them), so eight
 * leaves room for every legitimate chain while a packet made of hundreds of empty headers
 * (a way to hide the ports from firewalls, RFC 7112 §1) costs a fixed amount and is
 * dropped as `ipv6_ext_header_chain_too_long`.
 *
 * Fragments, decided as the kernel and nftables decide without reassembly (nftables'
 * `ipv6_find_hdr` and `th` payload expression; `nf_defrag_ipv6` is what reassembles for
 * conntrack):
 * - fragment offset 0 and M clear (an "atomic fragment", RFC 6946): not a fragment; the walk
 *   goes on past the fragment header;
 * - first fragment (offset 0, M set): the walk goes on; it carries the upper-layer header,
 *   which must be whole inside it (RFC 7112; the parser checks and drops otherwise);
 * - a later fragment (offset > 0): the walk stops at the fragment header; the upper-layer
 *   protocol is the fragment header's next header, but there is no upper-layer header in
 *   this packet, so it has no ports (`upperOffset` is where its data starts).
 *
 * @example
 * ```ts
 * const chain = new Ipv6HeaderChain();   // once
 * const end = l3 + 40 + ipv6PayloadLength(view, l3);
 * if (walkIpv6ExtensionHeaders(view, l3, end, chain) === DropReason.OK && !chain.laterFragment) {
 *   // chain.upperProtocol at chain.upperOffset
 * }
 * ```
 */
import * as DropReason from '../generated/drop-reason-codes.ts';

/** Most extension headers {@link walkIpv6ExtensionHeaders} accepts before the upper-layer header. */
export const IPV6_MAX_EXTENSION_HEADERS = 8;

/**
 * What the walk found, overwritten by every walk (fixed shape: every field starts as a
 * number or boolean). Offsets are absolute; `-1` means absent.
 */
export class Ipv6HeaderChain {
  /** Next header that ended the walk (6 TCP, 17 UDP, 58 ICMPv6, 50 ESP, 59 none, …). */
  upperProtocol = 0;
  /** Where the upper-layer header starts (a later fragment: where its data starts). */
  upperOffset = -1;
  /** Extension headers walked. */
  count = 0;
  /** Offset of the fragment header (an atomic fragment's too), or -1. */
  fragmentHeader = -1;
  /** Fragment offset in 8-byte units (0 without a fragment header). */
  fragmentOffset = 0;
  /** M flag of the fragment header. */
  moreFragments = false;
  /** True for a first or later fragment (not for an atomic fragment). */
  isFragment = false;
  /** True for a fragment with offset > 0: no upper-layer header in this packet. */
  laterFragment = false;
  /**
   * Offset of the address the upper-layer checksum's pseudo-header uses as destination
   * (RFC 8200 §8.1): the IPv6 destination, or, when a routing header still has segments
   * left, the final one it names (type 2: its address; type 4, segment routing: segment 0).
   */
  finalDestination = -1;
}

/**
 * Walks the extension headers of the IPv6 packet at `l3` whose payload ends at `end`
 * (`l3 + 40 + payload length`, already checked against the frame) into `chain`; returns
 * `DropReason.OK` or the reason the chain is malformed: `IPV6_EXT_HEADER_TRUNCATED`,
 * `IPV6_EXT_HEADER_CHAIN_TOO_LONG`, `IPV6_HOP_BY_HOP_NOT_FIRST`, `IPV6_ROUTING_TYPE_0`,
 * `IPV6_BAD_FRAGMENT`. Never reads at or past `end`. `packetEnd` is where the packet ends
 * for the fragment-length checks when only `[l3, end)` of it is at hand (a packet quoted,
 * cut, in an ICMPv6 error); it defaults to `end`.
 */
export function walkIpv6ExtensionHeaders(view: DataView, l3: number, end: number, chain: Ipv6HeaderChain, packetEnd = end): number {
  let next = view.getUint8(l3 + 6);
  let p = l3 + 40;
  let count = 0;
  chain.fragmentHeader = -1;
  chain.fragmentOffset = 0;
  chain.moreFragments = false;
  chain.isFragment = false;
  chain.laterFragment = false;
  chain.finalDestination = l3 + 24;
  for (;;) {
    if (next === 0 || next === 43 || next === 60) {
      if (next === 0 && count !== 0) return fail(chain, count, DropReason.IPV6_HOP_BY_HOP_NOT_FIRST);
      if (p + 8 > end) return fail(chain, count, DropReason.IPV6_EXT_HEADER_TRUNCATED);
      const len = (view.getUint8(p + 1) + 1) << 3;
      if (p + len > end) return fail(chain, count, DropReason.IPV6_EXT_HEADER_TRUNCATED);
      if (next === 43) {
        const type = view.getUint8(p + 2);
        const left = view.getUint8(p + 3);
        if (left !== 0) {
          if (type === 0) return fail(chain, count, DropReason.IPV6_ROUTING_TYPE_0);
          // Type 2 (one home address) and type 4 (SRH, segment 0 = the final segment) name the final destination.
          if ((type === 2 || type === 4) && len >= 24) chain.finalDestination = p + 8;
        }
      }
      next = view.getUint8(p);
      p += len;
    } else if (next === 44) {
      if (p + 8 > end) return fail(chain, count, DropReason.IPV6_EXT_HEADER_TRUNCATED);
      if (chain.fragmentHeader >= 0) return fail(chain, count, DropReason.IPV6_BAD_FRAGMENT);
      const w = view.getUint16(p + 2);
      const units = w >>> 3;
      const more = (w & 1) !== 0;
      const data = packetEnd - p - 8;
      if ((more && (data & 7) !== 0) || units * 8 + data > 0xffff) return fail(chain, count, DropReason.IPV6_BAD_FRAGMENT);
      chain.fragmentHeader = p;
      chain.fragmentOffset = units;
      chain.moreFragments = more;
      next = view.getUint8(p);
      p += 8;
      if (units !== 0 || more) chain.isFragment = true;
      if (units !== 0) {
        if (++count > IPV6_MAX_EXTENSION_HEADERS) return fail(chain, count, DropReason.IPV6_EXT_HEADER_CHAIN_TOO_LONG);
        chain.laterFragment = true;
        break;
      }
    } else if (next === 51) {
      if (p + 8 > end) return fail(chain, count, DropReason.IPV6_EXT_HEADER_TRUNCATED);
      const len = (view.getUint8(p + 1) + 2) << 2;
      if (p + len > end) return fail(chain, count, DropReason.IPV6_EXT_HEADER_TRUNCATED);
      next = view.getUint8(p);
      p += len;
    } else {
      break;
    }
    if (++count > IPV6_MAX_EXTENSION_HEADERS) return fail(chain, count, DropReason.IPV6_EXT_HEADER_CHAIN_TOO_LONG);
  }
  chain.upperProtocol = next;
  chain.upperOffset = p;
  chain.count = count;
  return DropReason.OK;
}

/** Records a failed walk: no upper layer. */
function fail(chain: Ipv6HeaderChain, count: number, reason: number): number {
  chain.upperProtocol = 0;
  chain.upperOffset = -1;
  chain.count = count;
  return reason;
}
