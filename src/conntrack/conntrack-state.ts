/**
 * Connection-tracking states, directions and per-entry status bits: plain numbers so a
 * compiled batch loop can store them in typed arrays and compare them without lookups.
 *
 * One numbering covers every protocol (a state says which protocol it belongs to), so a
 * single `Float64Array` indexed by state holds every timeout (see `conntrack-timeouts.ts`).
 *
 * @example
 * ```ts
 * if (table.state(entry) === CtState.TCP_ESTABLISHED) forward(); else inspect();
 * ```
 */
export const CtState = {
  /** Entry slot unused (never a live connection's state). */
  FREE: 0,
  /** TCP entry created, no valid segment accepted yet (expects an original-direction SYN). */
  TCP_NEW: 1,
  /** SYN seen in the original direction. */
  TCP_SYN_SENT: 2,
  /** SYN+ACK (or a crossing SYN: simultaneous open) seen in the reply direction. */
  TCP_SYN_RECV: 3,
  /** Handshake completed: ACK seen from the original side after the reply's SYN. */
  TCP_ESTABLISHED: 4,
  /** A FIN seen from one side, not yet acknowledged by the other. */
  TCP_FIN_WAIT: 5,
  /** A FIN seen from one side and acknowledged; the other side has not sent its FIN. */
  TCP_CLOSE_WAIT: 6,
  /** FINs seen from both sides, not both acknowledged. */
  TCP_LAST_ACK: 7,
  /** FINs from both sides seen and acknowledged. */
  TCP_TIME_WAIT: 8,
  /** RST seen. */
  TCP_CLOSE: 9,
  /** UDP, packets seen in the original direction only. */
  UDP_UNREPLIED: 10,
  /** UDP, a reply-direction packet has been seen. */
  UDP_ASSURED: 11,
  /** ICMP/ICMPv6 query (echo), no reply yet. */
  ICMP_UNREPLIED: 12,
  /** ICMP/ICMPv6 query answered. */
  ICMP_REPLIED: 13,
  /** Any other protocol, original direction only. */
  OTHER_UNREPLIED: 14,
  /** Any other protocol, reply seen. */
  OTHER_REPLIED: 15,
} as const;

/** A value of {@link CtState}. */
export type CtStateValue = (typeof CtState)[keyof typeof CtState];

/** Number of states; arrays indexed by state have this length. */
export const CT_STATE_COUNT = 16;

/** State names, indexed by state number (for dumps and metrics labels, not the hot path). */
export const CT_STATE_NAMES: readonly string[] = [
  'free',
  'tcp_new',
  'tcp_syn_sent',
  'tcp_syn_recv',
  'tcp_established',
  'tcp_fin_wait',
  'tcp_close_wait',
  'tcp_last_ack',
  'tcp_time_wait',
  'tcp_close',
  'udp_unreplied',
  'udp_assured',
  'icmp_unreplied',
  'icmp_replied',
  'other_unreplied',
  'other_replied',
];

/** Direction of a packet relative to the connection: the initiator's direction is ORIGINAL. */
export const CtDir = {
  ORIGINAL: 0,
  REPLY: 1,
} as const;

/** A value of {@link CtDir}. */
export type CtDirValue = (typeof CtDir)[keyof typeof CtDir];

/**
 * Per-entry status bits (one byte). The TCP FIN bits are what lets the closing states be
 * exact about which side closed: {@link CtState} is derived from them.
 */
export const CtStatus = {
  /** A reply-direction packet was accepted. */
  SEEN_REPLY: 0x01,
  /** Traffic confirmed both ways (TCP established, UDP/ICMP replied): never early-evicted. */
  ASSURED: 0x02,
  /** Original side sent a FIN. */
  FIN_ORIGINAL: 0x04,
  /** Reply side sent a FIN. */
  FIN_REPLY: 0x08,
  /** The original side's FIN was acknowledged by the reply side. */
  FIN_ORIGINAL_ACKED: 0x10,
  /** The reply side's FIN was acknowledged by the original side. */
  FIN_REPLY_ACKED: 0x20,
  /** The reply side answered a SYN with a bare SYN (simultaneous open). */
  SIMULTANEOUS_OPEN: 0x40,
  /**
   * User value 0 is counted in the table's `userTally` (`ConntrackTableOptions.userTally`).
   * Owned by the table: outside the byte the TCP state machine reads and writes.
   */
  TALLIED: 0x100,
} as const;

/** IP protocol numbers the tracker distinguishes. */
export const IpProto = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPV6: 58,
} as const;

/** TCP header flag bits, re-exported for conntrack users (the packet library owns them). */
export { TcpFlag } from '../packet/tcp.ts';
