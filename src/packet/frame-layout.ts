/**
 * Where the headers of one Ethernet frame are, as found by `parseFrame`.
 *
 * A caller owns one `FrameLayout` per batch loop (or per packet slot) and reuses it for
 * every frame: `parseFrame` overwrites every field, so no allocation happens per packet.
 * Every field is initialised with a number (or boolean) at construction, so all instances
 * share one hidden class whose fields V8 keeps as small integers (cheap loads and stores).
 *
 * Offsets are ABSOLUTE byte offsets into the `DataView` that was parsed. An offset of `-1`
 * means "absent" (e.g. `l4Offset` of an ARP frame, or anything past the point where a
 * dropped frame failed). Present offsets and their lengths always lie inside
 * `[frameOffset, frameOffset + frameLength]`.
 *
 * @example
 * ```ts
 * const layout = new FrameLayout();
 * if (parseFrame(view, off, len, layout) === DropReason.OK && layout.ipProto === IpProto.UDP) {
 *   const dport = udpDstPort(view, layout.l4Offset);
 * }
 * ```
 */
export class FrameLayout {
  /** Offset of the first byte of the Ethernet header. */
  frameOffset = -1;
  /** Bytes of frame given to the parser (may include Ethernet padding after the IP packet). */
  frameLength = 0;
  /** EtherType after any VLAN tags (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP, …); 0 if not reached. */
  ethertype = 0;
  /** Number of VLAN tags (0, 1 or 2). */
  vlanCount = 0;
  /**
   * VLAN IDs (12 bits), outer tag first; entries past `vlanCount` are 0. Read-only for
   * everyone but the parser: it relies on that invariant to skip rewriting the ids when
   * neither this frame nor the previous one was tagged.
   */
  readonly vlanIds = new Uint16Array(2);
  /** Offset of the L3 header (IPv4, IPv6 or ARP), `-1` if not reached. */
  l3Offset = -1;
  /** Bytes of the L3 packet: IPv4 total length, IPv6 40 + payload length, or 28 for ARP; 0 if not known. */
  l3Length = 0;
  /**
   * IP header length in bytes: IPv4 IHL × 4 (options included); IPv6 40 plus every extension
   * header walked (so `l4Offset = l3Offset + ipHeaderLength`); 0 if not IP.
   */
  ipHeaderLength = 0;
  /** IPv4 total length field, or IPv6 40 + payload length; 0 if not IP. */
  ipTotalLength = 0;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP; IPv6: the upper layer after the extension headers, 58 ICMPv6); 0 if not IP. */
  ipProto = 0;
  /**
   * True when the packet is a fragment (MF / M set or fragment offset > 0). `parseFrame` drops
   * IPv4 fragments and accepts IPv6 ones: a first fragment has its L4 header, a later one
   * none (`l4Offset` -1, its data as payload).
   */
  isFragment = false;
  /** Offset of the L4 header (TCP/UDP/ICMP/ICMPv6, or the IP payload of another protocol), or `-1`. */
  l4Offset = -1;
  /**
   * Bytes of L4 segment: IP total length minus IP header length, except UDP where it is
   * the UDP length field (bytes after it inside the IP payload are ignored, as Linux does).
   */
  l4Length = 0;
  /** Offset of the L4 payload (after TCP options / UDP header / ICMP 8-byte header), or `-1`. */
  payloadOffset = -1;
  /** Bytes of L4 payload. */
  payloadLength = 0;

  /** Resets every field to its "nothing parsed" value (what the constructor sets). */
  reset(): void {
    this.frameOffset = -1;
    this.frameLength = 0;
    this.ethertype = 0;
    this.vlanCount = 0;
    this.vlanIds[0] = 0;
    this.vlanIds[1] = 0;
    this.l3Offset = -1;
    this.l3Length = 0;
    this.ipHeaderLength = 0;
    this.ipTotalLength = 0;
    this.ipProto = 0;
    this.isFragment = false;
    this.l4Offset = -1;
    this.l4Length = 0;
    this.payloadOffset = -1;
    this.payloadLength = 0;
  }
}
