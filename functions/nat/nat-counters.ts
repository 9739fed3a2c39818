import { counterList } from '../../src/counters/counter-list.ts';
import { InvalidArgumentError } from '../../src/errors/catalog.ts';

/**
 * The counters of the `nat` element, in slot order: one declaration gives the index object
 * (`NatCounter`), the counter specs (`NAT_COUNTERS`) and the number of drop counters. The
 * engine adds to the non-drop ones itself (`counters[base + NatCounter.X]`) and reports a
 * drop as `NatResult.DROP_BASE + k` where `k` is the drop counter's slot, so the drop
 * counters come first (checked when this module loads).
 *
 * @example
 * ```ts
 * counters[base + NatCounter.MAPPINGS_CREATED] += 1;
 * const name = NAT_COUNTERS[NatCounter.NO_MAPPING].name; // 'no_mapping'
 * ```
 */
export const NAT_COUNTER_LIST = counterList([
  { name: 'no_mapping', drop: true, help: 'inbound packet (or packet quoted by an ICMP error) matching no live mapping or port forward' },
  { name: 'ports_exhausted', drop: true, help: 'new mapping refused: every external port of the protocol is held by a live mapping' },
  { name: 'mapping_table_full', drop: true, help: 'new mapping refused: the mapping table holds `capacity` live mappings' },
  { name: 'tcp_not_syn', drop: true, help: 'outbound TCP segment without a mapping that is not a SYN' },
  { name: 'unsupported_protocol', drop: true, help: 'IP protocol other than TCP/UDP/ICMP that would need translation' },
  { name: 'unsupported_icmp', drop: true, help: 'ICMP type that is neither echo nor a translatable error (3, 11, 12)' },
  { name: 'icmp_error_malformed', drop: true, help: 'ICMP error whose quoted IPv4 header or first 8 payload bytes are missing or invalid' },
  { name: 'nat64_fragment', drop: true, help: 'IPv6 fragment for the NAT64 prefix (NAT64 does not reassemble)' },
  { name: 'nat64_unsupported_header', drop: true, help: 'IPv6 packet for the NAT64 prefix with an extension header that cannot be skipped (routing header with segments left, AH, ESP, unknown)' },
  { name: 'nat64_bad_address', drop: true, help: 'IPv6 destination in the NAT64 prefix whose u octet or suffix is not zero, or embedding no unicast IPv4 address' },
  { name: 'mappings_created', help: 'dynamic mappings created' },
  { name: 'mappings_expired', help: 'dynamic mappings removed after their idle timeout' },
  { name: 'translated_outbound', help: 'inside-to-outside packets translated (source rewritten)' },
  { name: 'translated_inbound', help: 'outside-to-inside packets translated (destination rewritten)' },
  { name: 'port_forwarded', help: 'inbound packets translated by a port forward (subset of translated_inbound)' },
  { name: 'hairpinned', help: 'inside packets to an external address sent back inside (hairpinning)' },
  { name: 'icmp_errors_translated', help: 'ICMP errors whose quoted packet was translated' },
  { name: 'untranslated', help: 'packets forwarded unchanged (ARP, unmatched sources, addresses the NAT does not own)' },
  { name: 'nat64_outbound', help: 'IPv6 packets translated to IPv4 by NAT64 (subset of translated_outbound)' },
  { name: 'nat64_inbound', help: 'IPv4 packets translated to IPv6 by NAT64 (subset of translated_inbound)' },
  { name: 'ipv6_passed', help: 'IPv6 frames forwarded unchanged (NAT64 off, or not for the NAT64 prefix or a NAT64 mapping)' },
] as const);

/** Slot of each `nat` counter, relative to the element's first counter. */
export const NatCounter = NAT_COUNTER_LIST.index;

/** Counter specs of the `nat` element, indexed by {@link NatCounter}. */
export const NAT_COUNTERS = NAT_COUNTER_LIST.entries;

/** Number of drop counters (they come first). */
export const NAT_DROP_COUNTERS = NAT_COUNTER_LIST.dropNames.length;

if (NAT_COUNTERS.slice(0, NAT_DROP_COUNTERS).some((c) => !c.drop)) {
  throw new InvalidArgumentError('nat counters: the drop counters must come first (the engine reports drop k as DROP_BASE + k)');
}
