/**
 * Link-layer header types (LINKTYPE_* values from the tcpdump.org registry) that nfvkit
 * names. A capture's link type tells how to read the first byte of every record; the
 * packet library only understands Ethernet.
 *
 * @example
 * ```ts
 * if (record.linkType !== LinkType.ETHERNET) dropNonEthernet++;
 * ```
 */
export const LinkType = {
  /** BSD loopback: a 4-byte host-order address family, then the packet. */
  NULL: 0,
  /** IEEE 802.3 Ethernet (LINKTYPE_ETHERNET / DLT_EN10MB). */
  ETHERNET: 1,
  /** Raw IPv4 or IPv6, no link header (LINKTYPE_RAW). */
  RAW: 101,
  /** Linux "cooked" capture v1 (LINKTYPE_LINUX_SLL). */
  LINUX_SLL: 113,
  /** Raw IPv4 only (LINKTYPE_IPV4). */
  IPV4: 228,
  /** Linux "cooked" capture v2 (LINKTYPE_LINUX_SLL2). */
  LINUX_SLL2: 276,
} as const;

/** One of the named link types (other numbers are passed through unchanged). */
export type LinkTypeValue = (typeof LinkType)[keyof typeof LinkType];
