import { counterList } from '../counters/counter-list.ts';

/**
 * Why a frame was dropped: one declaration gives the codes (`DropReason`), their names and
 * their help. `parseFrame` returns one of these codes (0 = ok) and elements count drops per
 * code; `DROP_REASON_NAMES[code]` is the snake_case name used in counters and metrics
 * (`nfvkit_function_drops_total{reason="ipv4_bad_checksum"}`).
 *
 * Codes are stable small integers so a counter array can be indexed by them
 * (`new Float64Array(DROP_REASON_COUNT)`); names are part of the metrics contract: do not
 * rename, only append. `DropReason` is a plain frozen object, not a TS enum. Code that runs
 * in images (`parseFrame`, the IPv6 extension-header walk) reads the same codes from
 * `src/generated/drop-reason-codes.ts`, generated from this list (`npm run gen:counters`
 * after changing it; a test fails while it is stale), which esbuild inlines: images carry
 * neither this list nor its help.
 *
 * @example
 * ```ts
 * const drops = new Float64Array(DROP_REASON_COUNT);
 * const reason = parseFrame(view, off, len, layout);
 * if (reason !== DropReason.OK) drops[reason]++;
 * console.log(DROP_REASON_NAMES[DropReason.IPV4_BAD_CHECKSUM]); // 'ipv4_bad_checksum'
 * ```
 */
export const DROP_REASON_LIST = counterList([
  { name: 'ok', help: 'not a drop: the frame parsed and is well formed' },
  { name: 'eth_truncated', drop: true, help: 'fewer than 14 bytes: no full Ethernet header' },
  { name: 'vlan_truncated_tag', drop: true, help: 'an 802.1Q / 802.1ad TPID whose 4-byte tag is cut off by the end of the frame' },
  { name: 'vlan_too_many_tags', drop: true, help: 'more than two VLAN tags (we handle single tags and QinQ)' },
  { name: 'unsupported_ethertype', drop: true, help: 'EtherType neither IPv4, IPv6 nor ARP (LLC length fields, LLDP, …)' },
  { name: 'arp_truncated', drop: true, help: 'ARP packet shorter than the 28 bytes of Ethernet/IPv4 ARP' },
  { name: 'arp_unsupported', drop: true, help: 'ARP that is not Ethernet/IPv4 (htype 1, ptype 0x0800, hlen 6, plen 4) or op not 1/2' },
  { name: 'ipv4_truncated_header', drop: true, help: 'fewer than 20 bytes after the link header' },
  { name: 'ipv4_bad_version', drop: true, help: 'IP version field is not 4' },
  { name: 'ipv4_bad_ihl', drop: true, help: 'IHL below 5 words' },
  { name: 'ipv4_ihl_beyond_frame', drop: true, help: 'IHL (with options) runs past the end of the frame' },
  { name: 'ipv4_total_length_below_ihl', drop: true, help: 'total length smaller than the header length (includes total length 0 from TSO captures)' },
  { name: 'ipv4_total_length_beyond_frame', drop: true, help: 'total length larger than the bytes the frame holds' },
  { name: 'ipv4_bad_checksum', drop: true, help: 'IPv4 header checksum does not verify' },
  { name: 'ipv4_bad_options', drop: true, help: 'an IPv4 option whose length byte is missing, below 2, or runs past the header' },
  { name: 'ipv4_ttl_zero', drop: true, help: 'TTL is zero' },
  { name: 'ipv4_first_fragment', drop: true, help: 'first fragment (MF set, offset 0): we do not reassemble' },
  { name: 'ipv4_later_fragment', drop: true, help: 'non-first fragment (offset > 0): we do not reassemble' },
  { name: 'tcp_truncated_header', drop: true, help: 'fewer than 20 bytes of TCP segment' },
  { name: 'tcp_bad_data_offset', drop: true, help: 'TCP data offset below 5 words or beyond the segment' },
  { name: 'udp_truncated_header', drop: true, help: 'fewer than 8 bytes of UDP datagram' },
  { name: 'udp_bad_length', drop: true, help: 'UDP length field below 8 or above the IP payload' },
  { name: 'icmp_truncated', drop: true, help: 'fewer than 8 bytes of ICMP message' },
  { name: 'tcp_bad_checksum', drop: true, help: 'TCP checksum does not verify (only with `ParseFlag.VERIFY_L4_CHECKSUM`)' },
  { name: 'udp_bad_checksum', drop: true, help: 'UDP checksum non-zero and does not verify, or 0 over IPv6 (only with `ParseFlag.VERIFY_L4_CHECKSUM`)' },
  { name: 'icmp_bad_checksum', drop: true, help: 'ICMP checksum does not verify (only with `ParseFlag.VERIFY_L4_CHECKSUM`)' },
  { name: 'unsupported_ip_protocol', drop: true, help: 'IP protocol other than TCP/UDP/ICMP(v6) (only with `ParseFlag.DROP_UNSUPPORTED_PROTOCOLS`)' },
  { name: 'ipv6_truncated_header', drop: true, help: 'fewer than 40 bytes of IPv6 header' },
  { name: 'ipv6_bad_version', drop: true, help: 'EtherType IPv6, version not 6' },
  { name: 'ipv6_payload_length_beyond_frame', drop: true, help: 'IPv6 payload length beyond the frame' },
  { name: 'ipv6_hop_limit_zero', drop: true, help: 'IPv6 hop limit is zero' },
  { name: 'ipv6_multicast_source', drop: true, help: 'IPv6 multicast source address (RFC 4291 §2.7)' },
  { name: 'ipv6_ext_header_truncated', drop: true, help: 'IPv6 extension header runs past the payload' },
  { name: 'ipv6_ext_header_chain_too_long', drop: true, help: 'more than IPV6_MAX_EXTENSION_HEADERS (8) extension headers' },
  { name: 'ipv6_hop_by_hop_not_first', drop: true, help: 'hop-by-hop header not first (RFC 8200 §4.1)' },
  { name: 'ipv6_routing_type_0', drop: true, help: 'routing header type 0 with segments left (RFC 5095)' },
  { name: 'ipv6_bad_fragment', drop: true, help: 'bad fragment header: a second one, data not a multiple of 8 with M set, or past 65535' },
  { name: 'ipv6_first_fragment_incomplete', drop: true, help: 'first fragment without the whole TCP/UDP/ICMPv6 header (RFC 7112)' },
  { name: 'icmpv6_truncated', drop: true, help: 'fewer than 8 bytes of ICMPv6 message' },
  { name: 'icmpv6_bad_checksum', drop: true, help: 'ICMPv6 checksum does not verify (only with `ParseFlag.VERIFY_L4_CHECKSUM`)' },
] as const);

/** The codes by UPPER_SNAKE name (`DropReason.IPV4_BAD_CHECKSUM === 13`). */
export const DropReason = DROP_REASON_LIST.index;

/** A drop-reason code: one of the values of {@link DropReason}. */
export type DropReasonCode = (typeof DropReason)[keyof typeof DropReason];

/** Number of codes (including OK); size of a per-reason counter array. */
export const DROP_REASON_COUNT = DROP_REASON_LIST.count;

/** snake_case name of each code, indexed by code (`DROP_REASON_NAMES[0] === 'ok'`). */
export const DROP_REASON_NAMES: readonly string[] = DROP_REASON_LIST.names;

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
