/**
 * Why a frame was dropped. `parseFrame` returns one of these codes (0 = ok) and elements
 * count drops per code; `DROP_REASON_NAMES[code]` is the snake_case name used in counters
 * and metrics (`nfvkit_drops_total{reason="ipv4_bad_checksum"}`).
 *
 * Codes are stable small integers so a counter array can be indexed by them
 * (`new Float64Array(DROP_REASON_COUNT)`). This is a plain `as const` object, not a TS
 * enum, so it costs nothing at run time and bundles cleanly.
 *
 * @example
 * ```ts
 * const drops = new Float64Array(DROP_REASON_COUNT);
 * const reason = parseFrame(view, off, len, layout);
 * if (reason !== DropReason.OK) drops[reason]++;
 * console.log(DROP_REASON_NAMES[DropReason.IPV4_BAD_CHECKSUM]); // 'ipv4_bad_checksum'
 * ```
 */
export const DropReason = {
  /** Not a drop: the frame parsed and is well formed. */
  OK: 0,
  /** Fewer than 14 bytes: no full Ethernet header. */
  ETH_TRUNCATED: 1,
  /** An 802.1Q / 802.1ad TPID whose 4-byte tag is cut off by the end of the frame. */
  VLAN_TRUNCATED_TAG: 2,
  /** More than two VLAN tags (we handle single tags and QinQ). */
  VLAN_TOO_MANY_TAGS: 3,
  /** EtherType neither IPv4 nor ARP (IPv6, LLC length fields, …). */
  UNSUPPORTED_ETHERTYPE: 4,
  /** ARP packet shorter than the 28 bytes of Ethernet/IPv4 ARP. */
  ARP_TRUNCATED: 5,
  /** ARP that is not Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4) or op not 1/2. */
  ARP_UNSUPPORTED: 6,
  /** Fewer than 20 bytes after the link header. */
  IPV4_TRUNCATED_HEADER: 7,
  /** IP version field is not 4. */
  IPV4_BAD_VERSION: 8,
  /** IHL below 5 words. */
  IPV4_BAD_IHL: 9,
  /** IHL (with options) runs past the end of the frame. */
  IPV4_IHL_BEYOND_FRAME: 10,
  /** Total length smaller than the header length (includes total length 0 from TSO captures). */
  IPV4_TOTAL_LENGTH_BELOW_IHL: 11,
  /** Total length larger than the bytes the frame holds. */
  IPV4_TOTAL_LENGTH_BEYOND_FRAME: 12,
  /** IPv4 header checksum does not verify. */
  IPV4_BAD_CHECKSUM: 13,
  /** An IPv4 option whose length byte is missing, below 2, or runs past the header. */
  IPV4_BAD_OPTIONS: 14,
  /** TTL is zero. */
  IPV4_TTL_ZERO: 15,
  /** First fragment (MF set, offset 0): we do not reassemble. */
  IPV4_FIRST_FRAGMENT: 16,
  /** Non-first fragment (offset > 0): we do not reassemble. */
  IPV4_LATER_FRAGMENT: 17,
  /** Fewer than 20 bytes of TCP segment. */
  TCP_TRUNCATED_HEADER: 18,
  /** TCP data offset below 5 words or beyond the segment. */
  TCP_BAD_DATA_OFFSET: 19,
  /** Fewer than 8 bytes of UDP datagram. */
  UDP_TRUNCATED_HEADER: 20,
  /** UDP length field below 8 or above the IP payload. */
  UDP_BAD_LENGTH: 21,
  /** Fewer than 8 bytes of ICMP message. */
  ICMP_TRUNCATED: 22,
  /** TCP checksum does not verify (only with `ParseFlag.VERIFY_L4_CHECKSUM`). */
  TCP_BAD_CHECKSUM: 23,
  /** UDP checksum non-zero and does not verify (only with `ParseFlag.VERIFY_L4_CHECKSUM`). */
  UDP_BAD_CHECKSUM: 24,
  /** ICMP checksum does not verify (only with `ParseFlag.VERIFY_L4_CHECKSUM`). */
  ICMP_BAD_CHECKSUM: 25,
  /** IP protocol other than TCP/UDP/ICMP (only with `ParseFlag.DROP_UNSUPPORTED_PROTOCOLS`). */
  UNSUPPORTED_IP_PROTOCOL: 26,
} as const;

/** A drop-reason code: one of the values of {@link DropReason}. */
export type DropReasonCode = (typeof DropReason)[keyof typeof DropReason];

/** Number of codes (including OK); size of a per-reason counter array. */
export const DROP_REASON_COUNT = 27;

/**
 * snake_case name of each code, indexed by code (`DROP_REASON_NAMES[0] === 'ok'`).
 * Names are part of the metrics contract: do not rename, only append.
 */
export const DROP_REASON_NAMES: readonly string[] = Object.freeze(
  (Object.keys(DropReason) as Array<keyof typeof DropReason>)
    .sort((a, b) => DropReason[a] - DropReason[b])
    .map((k) => k.toLowerCase()),
);

/**
 * Name of a code, or `unknown_<code>` for a number that is not a code.
 *
 * @example
 * ```ts
 * dropReasonName(DropReason.UDP_BAD_LENGTH); // 'udp_bad_length'
 * ```
 */
export function dropReasonName(code: number): string {
  return Number.isInteger(code) && code >= 0 && code < DROP_REASON_NAMES.length
    ? DROP_REASON_NAMES[code]
    : `unknown_${code}`;
}
