/**
 * `parseFrame`: validate and classify one Ethernet frame, without throwing and without
 * allocating, into a caller-owned {@link FrameLayout}; returns a {@link DropReason} code
 * (0 = OK).
 *
 * What is checked, in order: Ethernet header; up to two VLAN tags (802.1Q 0x8100 / 802.1ad
 * 0x88a8, in any order); EtherType IPv4, IPv6 or ARP (anything else is dropped); ARP is
 * Ethernet/IPv4 with op request/reply; IPv4 header length, version, IHL, total length vs
 * frame, header checksum (always verified: it is cheap), option walk (EOL / NOP /
 * length-checked), TTL ≠ 0, not a fragment (we do not reassemble; first and later fragments
 * have distinct reasons); then TCP (header, data offset), UDP (header, length field) or ICMP
 * (8-byte header). Ethernet padding after the IPv4 total length is legal and ignored.
 *
 * IPv6 (EtherType 0x86dd; see `parseIpv6` below for the layout it leaves): fixed header,
 * version, payload length vs frame, hop limit ≠ 0, no multicast source, the extension-header
 * walk (bounded: `IPV6_MAX_EXTENSION_HEADERS`), then TCP, UDP or ICMPv6 (8-byte header).
 * Unlike IPv4, fragments are accepted (flagged `isFragment`; a later fragment has no ports),
 * as nftables sees them without reassembly.
 *
 * Flags (see {@link ParseFlag}):
 * - L4 checksums are NOT verified unless `ParseFlag.VERIFY_L4_CHECKSUM` is given, so the
 *   fast path skips them (a full pass over the payload); `verifyL4Checksum` does the same
 *   check later on a parsed frame.
 * - IP protocols other than TCP/UDP/ICMP are OK by default (the layout has `ipProto`,
 *   `l4Offset` = start of the IP payload and `l4Length`), because policy (e.g. allowing GRE
 *   or ESP) belongs to the firewall, not the parser. With
 *   `ParseFlag.DROP_UNSUPPORTED_PROTOCOLS` they are dropped as `UNSUPPORTED_IP_PROTOCOL`.
 *
 * On a drop the layout holds `frameOffset`/`frameLength`, the L2 fields (`ethertype`,
 * VLANs, `l3Offset`) when the failure is at L3 or later, and `isFragment` for fragment
 * drops; every other field is reset, so no stale offset from an earlier frame survives.
 * On the OK path each field is written exactly once (no reset pass: stores are the cost),
 * and the VLAN ids are only rewritten when this frame or the layout's previous one was
 * tagged (they are already 0 otherwise: see `FrameLayout.vlanIds`).
 *
 * Speed: `parseFrame` first tries the common cases in straight-line paths that read the
 * frame once, with fewer branches and stores than the general walk: untagged IPv4 with a
 * 20-byte header, TCP or UDP (read 32 bits at a time), then untagged IPv6 with TCP or UDP
 * right after the fixed header (no extension-header walk), both without
 * VERIFY_L4_CHECKSUM; every other frame goes to {@link parseFrameGeneral}, the complete
 * parser, which decides from scratch. Both
 * give identical results for every input (unit and fuzz tests compare them). Even the
 * shortcut is above V8's per-call inlining limit (460 bytecode bytes), so a batch loop
 * calls it; that leaves the loop's inlining budget to the smaller per-packet helpers.
 *
 * Contract: `[offset, offset + length)` lies inside the view (a caller bug otherwise: the
 * DataView throws RangeError). Nothing in the packet's CONTENT can make it throw.
 *
 * @example
 * ```ts
 * const layout = new FrameLayout();            // once, outside the batch loop
 * for (let i = 0; i < n; i++) {
 *   const reason = parseFrame(view, offsets[i], lengths[i], layout);
 *   if (reason !== DropReason.OK) { drops[reason]++; continue; }
 *   // layout.l3Offset, layout.ipProto, layout.l4Offset … are valid here
 * }
 * ```
 */
import { sumWords, verifyIcmpChecksum, verifyTcpChecksum, verifyUdpChecksum } from './checksum.ts';
import { verifyIcmpv6Checksum, verifyTcpChecksumIpv6, verifyUdpChecksumIpv6 } from './checksum-ipv6.ts';
// The codes as constants that images inline (the list and its help stay on the host).
import * as DropReason from '../generated/drop-reason-codes.ts';
import type { FrameLayout } from './frame-layout.ts';
import { Ipv6HeaderChain, walkIpv6ExtensionHeaders } from './ipv6-extension-headers.ts';

/** Bit flags for {@link parseFrame}. */
export const ParseFlag = {
  /** Verify the TCP/UDP/ICMP checksum (full pass over the segment). Off by default. */
  VERIFY_L4_CHECKSUM: 1,
  /**
   * Drop IPv4 protocols other than TCP/UDP/ICMP, and IPv6 upper layers other than
   * TCP/UDP/ICMPv6, as `UNSUPPORTED_IP_PROTOCOL`. Off by default.
   */
  DROP_UNSUPPORTED_PROTOCOLS: 2,
} as const;

/** The parser's one extension-header walk result, reused for every IPv6 frame (no allocation per packet). */
const chain = new Ipv6HeaderChain();

/** Walks IPv4 options in `[p, end)`; false if an option's length byte is missing, < 2 or overruns. */
function ipv4OptionsValid(view: DataView, p: number, end: number): boolean {
  while (p < end) {
    const type = view.getUint8(p);
    if (type === 0) return true;
    if (type === 1) {
      p++;
      continue;
    }
    if (p + 1 >= end) return false;
    const len = view.getUint8(p + 1);
    if (len < 2 || p + len > end) return false;
    p += len;
  }
  return true;
}

/** Cold path of a drop before the L3 stage: resets everything but the frame range. */
function dropL2(layout: FrameLayout, reason: number): number {
  layout.ethertype = 0;
  layout.vlanCount = 0;
  layout.vlanIds[0] = 0;
  layout.vlanIds[1] = 0;
  layout.l3Offset = -1;
  return dropL3(layout, reason, false);
}

/** Cold path of a drop at or after the L3 stage: resets the L3/L4 fields. */
function dropL3(layout: FrameLayout, reason: number, isFragment: boolean): number {
  layout.l3Length = 0;
  layout.ipHeaderLength = 0;
  layout.ipTotalLength = 0;
  layout.ipProto = 0;
  layout.isFragment = isFragment;
  layout.l4Offset = -1;
  layout.l4Length = 0;
  layout.payloadOffset = -1;
  layout.payloadLength = 0;
  return reason;
}

/** Hot path: records a well-formed IPv4 or IPv6 frame (each field written once; IPv4 frames are never fragments here). */
function accept(
  layout: FrameLayout, total: number, hlen: number, proto: number, l4: number, l4Length: number, payloadOffset: number, payloadLength: number, isFragment: boolean,
): number {
  layout.l3Length = total;
  layout.ipHeaderLength = hlen;
  layout.ipTotalLength = total;
  layout.ipProto = proto;
  layout.isFragment = isFragment;
  layout.l4Offset = l4;
  layout.l4Length = l4Length;
  layout.payloadOffset = payloadOffset;
  layout.payloadLength = payloadLength;
  return 0; // DropReason.OK, as a literal: no module-binding load on the hot path
}

/**
 * IPv6 after the link header (`avail` bytes from `l3` to the end of the frame): fixed
 * header, extension headers (`walkIpv6ExtensionHeaders`), then the upper layer.
 *
 * The layout of an accepted IPv6 frame: `ethertype` 0x86dd; `l3Length` = `ipTotalLength` =
 * 40 + payload length; `ipHeaderLength` = the fixed header and every extension header walked
 * (so `l4Offset = l3Offset + ipHeaderLength` as for IPv4); `ipProto` = the upper-layer
 * protocol (58 for ICMPv6). Fragments are accepted, decided as nftables does without
 * reassembly: `isFragment` is set; a first fragment must hold the whole upper-layer header
 * (RFC 7112, else `IPV6_FIRST_FRAGMENT_INCOMPLETE`), its `l4Offset` points at it and
 * `l4Length` is what this fragment holds (a UDP length field may then exceed it); a later
 * fragment has no upper-layer header, hence no ports: `l4Offset` -1, `l4Length` 0,
 * `payloadOffset`/`payloadLength` its fragment data. L4 checksums of fragments are never
 * verified (they cover the reassembled packet). An atomic fragment (offset 0, M clear) is
 * no fragment.
 */
function parseIpv6(view: DataView, l3: number, avail: number, layout: FrameLayout, flags: number): number {
  if (avail < 40) return dropL3(layout, DropReason.IPV6_TRUNCATED_HEADER, false);
  if (view.getUint8(l3) >>> 4 !== 6) return dropL3(layout, DropReason.IPV6_BAD_VERSION, false);
  const plen = view.getUint16(l3 + 4);
  if (plen > avail - 40) return dropL3(layout, DropReason.IPV6_PAYLOAD_LENGTH_BEYOND_FRAME, false);
  if (view.getUint8(l3 + 7) === 0) return dropL3(layout, DropReason.IPV6_HOP_LIMIT_ZERO, false);
  if (view.getUint8(l3 + 8) === 0xff) return dropL3(layout, DropReason.IPV6_MULTICAST_SOURCE, false);
  const total = 40 + plen;
  const end = l3 + total;
  const walked = walkIpv6ExtensionHeaders(view, l3, end, chain);
  if (walked !== 0) return dropL3(layout, walked, chain.isFragment);
  const proto = chain.upperProtocol;
  const l4 = chain.upperOffset;
  const hlen = l4 - l3;
  const l4len = end - l4;
  const frag = chain.isFragment;
  const verify = (flags & 1) !== 0 && !frag;
  if (chain.laterFragment) {
    if ((flags & 2) !== 0 && proto !== 6 && proto !== 17 && proto !== 58) return dropL3(layout, DropReason.UNSUPPORTED_IP_PROTOCOL, true);
    return accept(layout, total, hlen, proto, -1, 0, l4, l4len, true);
  }
  if (proto === 6) {
    if (l4len < 20) return dropL3(layout, frag ? DropReason.IPV6_FIRST_FRAGMENT_INCOMPLETE : DropReason.TCP_TRUNCATED_HEADER, frag);
    const doff = (view.getUint8(l4 + 12) >>> 2) & 0x3c;
    if (doff < 20) return dropL3(layout, DropReason.TCP_BAD_DATA_OFFSET, frag);
    if (doff > l4len) return dropL3(layout, frag ? DropReason.IPV6_FIRST_FRAGMENT_INCOMPLETE : DropReason.TCP_BAD_DATA_OFFSET, frag);
    if (verify && !verifyTcpChecksumIpv6(view, l3, l4, l4len, chain.finalDestination)) return dropL3(layout, DropReason.TCP_BAD_CHECKSUM, false);
    return accept(layout, total, hlen, proto, l4, l4len, l4 + doff, l4len - doff, frag);
  }
  if (proto === 17) {
    if (l4len < 8) return dropL3(layout, frag ? DropReason.IPV6_FIRST_FRAGMENT_INCOMPLETE : DropReason.UDP_TRUNCATED_HEADER, frag);
    const ulen = view.getUint16(l4 + 4);
    if (ulen < 8 || (!frag && ulen > l4len)) return dropL3(layout, DropReason.UDP_BAD_LENGTH, frag);
    const seg = frag ? l4len : ulen;
    if (verify && !verifyUdpChecksumIpv6(view, l3, l4, ulen, chain.finalDestination)) return dropL3(layout, DropReason.UDP_BAD_CHECKSUM, false);
    return accept(layout, total, hlen, proto, l4, seg, l4 + 8, seg - 8, frag);
  }
  if (proto === 58) {
    if (l4len < 8) return dropL3(layout, frag ? DropReason.IPV6_FIRST_FRAGMENT_INCOMPLETE : DropReason.ICMPV6_TRUNCATED, frag);
    if (verify && !verifyIcmpv6Checksum(view, l3, l4, l4len, chain.finalDestination)) return dropL3(layout, DropReason.ICMPV6_BAD_CHECKSUM, false);
    return accept(layout, total, hlen, proto, l4, l4len, l4 + 8, l4len - 8, frag);
  }
  if ((flags & 2) !== 0) return dropL3(layout, DropReason.UNSUPPORTED_IP_PROTOCOL, frag);
  return accept(layout, total, hlen, proto, l4, l4len, l4, l4len, frag);
}

/**
 * Parses the frame at `[offset, offset + length)` of `view` into `layout`; returns a
 * {@link DropReason} code, 0 when the frame is well formed. `flags` is a bitwise OR of
 * {@link ParseFlag} values (default 0: fast path). The range must lie inside the view.
 */
export function parseFrame(view: DataView, offset: number, length: number, layout: FrameLayout, flags = 0): number {
  // Common case: untagged IPv4 (EtherType and version/IHL 0x45 checked in one read), no
  // VERIFY_L4_CHECKSUM, and a layout whose VLAN fields are already 0. Anything that fails
  // a check below is re-parsed from scratch by the general parser, which then names the
  // first failure exactly as it always does.
  if (length >= 42 && (flags & 1) === 0 && layout.vlanCount === 0 && view.getInt32(offset + 12) >>> 8 === 0x080045) {
    const m = 0xffff;
    const l3 = offset + 14;
    const w0 = view.getInt32(l3);
    const w1 = view.getInt32(l3 + 4);
    const w2 = view.getInt32(l3 + 8);
    const w3 = view.getInt32(l3 + 12);
    const w4 = view.getInt32(l3 + 16);
    const total = w0 & m;
    const proto = (w2 >>> 16) & 0xff;
    const l4 = l3 + 20;
    // IP payload bytes; -1 when the total length is below IP + UDP headers or beyond the frame.
    const l4len = total >= 28 && total <= length - 14 ? total - 20 : -1;
    const tcp = proto === 6;
    // TCP: segment = IP payload, header = data offset. UDP: segment = the UDP length field
    // (offset 4 is inside every frame of ≥ 42 bytes), header = 8 bytes.
    const seg = tcp ? l4len : view.getUint16(l4 + 4);
    const head = tcp ? (l4len >= 20 ? (view.getUint8(l4 + 12) >>> 2) & 0x3c : 0) : 8;
    let sum = (w0 >>> 16) + total + (w1 >>> 16) + (w1 & m) + (w2 >>> 16) + (w2 & m) + (w3 >>> 16) + (w3 & m) + (w4 >>> 16) + (w4 & m);
    sum = (sum & m) + (sum >>> 16);
    // Header checksum, not a fragment (MF clear, offset 0), TTL > 0, then the L4 header checks.
    if ((sum & m) + (sum >>> 16) === m && (w1 & 0x3fff) === 0 && w2 >>> 24 !== 0 && (tcp ? head >= 20 : proto === 17) && head <= seg && seg <= l4len) {
      layout.frameOffset = offset;
      layout.frameLength = length;
      layout.ethertype = 0x0800;
      layout.l3Offset = l3;
      return accept(layout, total, 20, proto, l4, seg, l4 + head, seg - head, false);
    }
  }
  // Common IPv6 case: untagged, TCP or UDP right after the fixed header (no extension
  // header, so no walk), no VERIFY_L4_CHECKSUM. Reads only inside the frame (≥ 62 bytes:
  // Ethernet + IPv6 + UDP; the TCP data offset only once 20 bytes of TCP are in it).
  if (length >= 62 && (flags & 1) === 0 && layout.vlanCount === 0 && view.getUint16(offset + 12) === 0x86dd) {
    const l3 = offset + 14;
    const w1 = view.getInt32(l3 + 4);
    const plen = w1 >>> 16;
    const proto = (w1 >>> 8) & 0xff;
    const l4 = l3 + 40;
    const fits = plen <= length - 54;
    const tcp = proto === 6;
    const seg = tcp ? plen : view.getUint16(l4 + 4);
    const head = tcp ? (fits && plen >= 20 ? (view.getUint8(l4 + 12) >>> 2) & 0x3c : 0) : 8;
    // Version 6, payload inside the frame, hop limit > 0, no multicast source, then the L4 header checks.
    if (view.getUint8(l3) >>> 4 === 6 && fits && (w1 & 0xff) !== 0 && view.getUint8(l3 + 8) !== 0xff && (tcp ? head >= 20 : proto === 17) && head <= seg && seg <= plen) {
      layout.frameOffset = offset;
      layout.frameLength = length;
      layout.ethertype = 0x86dd;
      layout.l3Offset = l3;
      return accept(layout, 40 + plen, 40, proto, l4, seg, l4 + head, seg - head, false);
    }
  }
  return parseFrameGeneral(view, offset, length, layout, flags);
}

/**
 * The complete parser behind {@link parseFrame}, without its common-case shortcut: same
 * arguments, same result and same layout for every input. `parseFrame` hands it every
 * frame the shortcut does not accept; call it directly only to cross-check the shortcut.
 *
 * @example
 * ```ts
 * parseFrameGeneral(view, off, len, a) === parseFrame(view, off, len, b); // and a, b hold the same fields
 * ```
 */
export function parseFrameGeneral(view: DataView, offset: number, length: number, layout: FrameLayout, flags = 0): number {
  layout.frameOffset = offset;
  layout.frameLength = length;
  if (length < 14) return dropL2(layout, DropReason.ETH_TRUNCATED);
  const end = offset + length;

  // L2: EtherType, then up to two VLAN tags.
  let p = offset + 12;
  let type = view.getUint16(p);
  let tags = 0;
  let vid0 = 0;
  let vid1 = 0;
  if (type === 0x8100 || type === 0x88a8) {
    if (p + 6 > end) return dropL2(layout, DropReason.VLAN_TRUNCATED_TAG);
    vid0 = view.getUint16(p + 2) & 0x0fff;
    tags = 1;
    p += 4;
    type = view.getUint16(p);
    if (type === 0x8100 || type === 0x88a8) {
      if (p + 6 > end) return dropL2(layout, DropReason.VLAN_TRUNCATED_TAG);
      vid1 = view.getUint16(p + 2) & 0x0fff;
      tags = 2;
      p += 4;
      type = view.getUint16(p);
      if (type === 0x8100 || type === 0x88a8) return dropL2(layout, DropReason.VLAN_TOO_MANY_TAGS);
    }
  }
  const l3 = p + 2;
  layout.ethertype = type;
  // The ids past vlanCount are 0 in every layout, so untagged after untagged writes nothing
  // (a typed-array store costs a chain of dependent loads).
  if ((tags | layout.vlanCount) !== 0) {
    layout.vlanCount = tags;
    layout.vlanIds[0] = vid0;
    layout.vlanIds[1] = vid1;
  }
  layout.l3Offset = l3;
  const avail = end - l3;

  if (type === 0x0806) {
    if (avail < 28) return dropL3(layout, DropReason.ARP_TRUNCATED, false);
    const op = view.getUint16(l3 + 6);
    if (view.getUint32(l3) !== 0x00010800 || view.getUint16(l3 + 4) !== 0x0604 || (op !== 1 && op !== 2)) {
      return dropL3(layout, DropReason.ARP_UNSUPPORTED, false);
    }
    dropL3(layout, DropReason.OK, false);
    layout.l3Length = 28;
    return DropReason.OK;
  }
  if (type !== 0x0800) {
    if (type === 0x86dd) return parseIpv6(view, l3, avail, layout, flags);
    return dropL3(layout, DropReason.UNSUPPORTED_ETHERTYPE, false);
  }

  // L3: IPv4. The five words of the base header are read once and serve both the field
  // checks and the header checksum (always verified: it costs a few adds).
  if (avail < 20) return dropL3(layout, DropReason.IPV4_TRUNCATED_HEADER, false);
  const w0 = view.getUint32(l3);
  if (w0 >>> 28 !== 4) return dropL3(layout, DropReason.IPV4_BAD_VERSION, false);
  const hlen = (w0 >>> 22) & 0x3c;
  if (hlen < 20) return dropL3(layout, DropReason.IPV4_BAD_IHL, false);
  if (hlen > avail) return dropL3(layout, DropReason.IPV4_IHL_BEYOND_FRAME, false);
  const total = w0 & 0xffff;
  if (total < hlen) return dropL3(layout, DropReason.IPV4_TOTAL_LENGTH_BELOW_IHL, false);
  if (total > avail) return dropL3(layout, DropReason.IPV4_TOTAL_LENGTH_BEYOND_FRAME, false);
  const w1 = view.getUint32(l3 + 4);
  const w2 = view.getUint32(l3 + 8);
  const w3 = view.getUint32(l3 + 12);
  const w4 = view.getUint32(l3 + 16);
  let sum = (w0 >>> 16) + (w0 & 0xffff) + (w1 >>> 16) + (w1 & 0xffff) + (w2 >>> 16) + (w2 & 0xffff)
    + (w3 >>> 16) + (w3 & 0xffff) + (w4 >>> 16) + (w4 & 0xffff);
  if (hlen > 20) sum += sumWords(view, l3 + 20, hlen - 20);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  if (sum !== 0xffff) return dropL3(layout, DropReason.IPV4_BAD_CHECKSUM, false);
  if (hlen > 20 && !ipv4OptionsValid(view, l3 + 20, l3 + hlen)) return dropL3(layout, DropReason.IPV4_BAD_OPTIONS, false);
  if (w2 >>> 24 === 0) return dropL3(layout, DropReason.IPV4_TTL_ZERO, (w1 & 0x3fff) !== 0);
  if ((w1 & 0x1fff) !== 0) return dropL3(layout, DropReason.IPV4_LATER_FRAGMENT, true);
  if ((w1 & 0x2000) !== 0) return dropL3(layout, DropReason.IPV4_FIRST_FRAGMENT, true);
  const proto = (w2 >>> 16) & 0xff;

  // L4.
  const l4 = l3 + hlen;
  const l4len = total - hlen;
  if (proto === 6) {
    if (l4len < 20) return dropL3(layout, DropReason.TCP_TRUNCATED_HEADER, false);
    const doff = (view.getUint8(l4 + 12) >>> 2) & 0x3c;
    if (doff < 20 || doff > l4len) return dropL3(layout, DropReason.TCP_BAD_DATA_OFFSET, false);
    if ((flags & 1) !== 0 && !verifyTcpChecksum(view, l3, l4, l4len)) return dropL3(layout, DropReason.TCP_BAD_CHECKSUM, false);
    return accept(layout, total, hlen, proto, l4, l4len, l4 + doff, l4len - doff, false);
  }
  if (proto === 17) {
    if (l4len < 8) return dropL3(layout, DropReason.UDP_TRUNCATED_HEADER, false);
    const ulen = view.getUint16(l4 + 4);
    if (ulen < 8 || ulen > l4len) return dropL3(layout, DropReason.UDP_BAD_LENGTH, false);
    if ((flags & 1) !== 0 && !verifyUdpChecksum(view, l3, l4, ulen)) return dropL3(layout, DropReason.UDP_BAD_CHECKSUM, false);
    return accept(layout, total, hlen, proto, l4, ulen, l4 + 8, ulen - 8, false);
  }
  if (proto === 1) {
    if (l4len < 8) return dropL3(layout, DropReason.ICMP_TRUNCATED, false);
    if ((flags & 1) !== 0 && !verifyIcmpChecksum(view, l4, l4len)) return dropL3(layout, DropReason.ICMP_BAD_CHECKSUM, false);
    return accept(layout, total, hlen, proto, l4, l4len, l4 + 8, l4len - 8, false);
  }
  if ((flags & 2) !== 0) return dropL3(layout, DropReason.UNSUPPORTED_IP_PROTOCOL, false);
  return accept(layout, total, hlen, proto, l4, l4len, l4, l4len, false);
}

/**
 * Verifies the L4 checksum of a frame that `parseFrame` accepted (without
 * `VERIFY_L4_CHECKSUM`): returns OK, or TCP/UDP/ICMP/ICMPV6_BAD_CHECKSUM. Other protocols,
 * fragments and ARP are OK (nothing to verify).
 *
 * @example
 * ```ts
 * if (parseFrame(view, off, len, layout) === DropReason.OK && verifyL4Checksum(view, layout) !== DropReason.OK) drop();
 * ```
 */
export function verifyL4Checksum(view: DataView, layout: FrameLayout): number {
  const l4 = layout.l4Offset;
  if (l4 < 0 || layout.isFragment) return DropReason.OK;
  const proto = layout.ipProto;
  if (layout.ethertype === 0x86dd) return verifyIpv6UpperChecksum(view, layout, l4, proto);
  if (proto === 6) {
    return verifyTcpChecksum(view, layout.l3Offset, l4, layout.l4Length) ? DropReason.OK : DropReason.TCP_BAD_CHECKSUM;
  }
  if (proto === 17) {
    return verifyUdpChecksum(view, layout.l3Offset, l4, layout.l4Length) ? DropReason.OK : DropReason.UDP_BAD_CHECKSUM;
  }
  if (proto === 1) {
    return verifyIcmpChecksum(view, l4, layout.l4Length) ? DropReason.OK : DropReason.ICMP_BAD_CHECKSUM;
  }
  return DropReason.OK;
}

/** {@link verifyL4Checksum} for IPv6: the pseudo-header's destination is the final one a routing header names. */
function verifyIpv6UpperChecksum(view: DataView, layout: FrameLayout, l4: number, proto: number): number {
  const l3 = layout.l3Offset;
  let dst = l3 + 24;
  if (layout.ipHeaderLength > 40 && walkIpv6ExtensionHeaders(view, l3, l3 + layout.ipTotalLength, chain) === 0) dst = chain.finalDestination;
  if (proto === 6) return verifyTcpChecksumIpv6(view, l3, l4, layout.l4Length, dst) ? DropReason.OK : DropReason.TCP_BAD_CHECKSUM;
  if (proto === 17) return verifyUdpChecksumIpv6(view, l3, l4, layout.l4Length, dst) ? DropReason.OK : DropReason.UDP_BAD_CHECKSUM;
  if (proto === 58) return verifyIcmpv6Checksum(view, l3, l4, layout.l4Length, dst) ? DropReason.OK : DropReason.ICMPV6_BAD_CHECKSUM;
  return DropReason.OK;
}
