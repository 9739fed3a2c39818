import type { CounterSpec } from '../../src/pipeline/element.ts';

/**
 * The counters of the `nat` element, in slot order. The engine adds to the non-drop ones
 * itself (`counters[base + NatCounter.X]`) and reports a drop as `NatResult.DROP_BASE + k`
 * where `k` is the drop counter's offset, so the ORDER here is part of the engine contract:
 * drop counters first, at offsets 0…`NAT_DROP_COUNTERS - 1`.
 *
 * @example
 * ```ts
 * counters[base + NatCounter.MAPPINGS_CREATED] += 1;
 * const name = NAT_COUNTERS[NatCounter.NO_MAPPING].name; // 'no_mapping'
 * ```
 */
export const NatCounter = {
  NO_MAPPING: 0,
  PORTS_EXHAUSTED: 1,
  MAPPING_TABLE_FULL: 2,
  TCP_NOT_SYN: 3,
  UNSUPPORTED_PROTOCOL: 4,
  UNSUPPORTED_ICMP: 5,
  ICMP_ERROR_MALFORMED: 6,
  MAPPINGS_CREATED: 7,
  MAPPINGS_EXPIRED: 8,
  TRANSLATED_OUTBOUND: 9,
  TRANSLATED_INBOUND: 10,
  PORT_FORWARDED: 11,
  HAIRPINNED: 12,
  ICMP_ERRORS_TRANSLATED: 13,
  UNTRANSLATED: 14,
} as const;

/** Number of drop counters (they come first). */
export const NAT_DROP_COUNTERS = 7;

/** Counter specs of the `nat` element, indexed by {@link NatCounter}. */
export const NAT_COUNTERS: readonly CounterSpec[] = [
  { name: 'no_mapping', drop: true, help: 'inbound packet (or packet quoted by an ICMP error) matching no live mapping or port forward' },
  { name: 'ports_exhausted', drop: true, help: 'new mapping refused: every external port of the protocol is held by a live mapping' },
  { name: 'mapping_table_full', drop: true, help: 'new mapping refused: the mapping table holds `capacity` live mappings' },
  { name: 'tcp_not_syn', drop: true, help: 'outbound TCP segment without a mapping that is not a SYN' },
  { name: 'unsupported_protocol', drop: true, help: 'IP protocol other than TCP/UDP/ICMP that would need translation' },
  { name: 'unsupported_icmp', drop: true, help: 'ICMP type that is neither echo nor a translatable error (3, 11, 12)' },
  { name: 'icmp_error_malformed', drop: true, help: 'ICMP error whose quoted IPv4 header or first 8 payload bytes are missing or invalid' },
  { name: 'mappings_created', drop: false, help: 'dynamic mappings created' },
  { name: 'mappings_expired', drop: false, help: 'dynamic mappings removed after their idle timeout' },
  { name: 'translated_outbound', drop: false, help: 'inside-to-outside packets translated (source rewritten)' },
  { name: 'translated_inbound', drop: false, help: 'outside-to-inside packets translated (destination rewritten)' },
  { name: 'port_forwarded', drop: false, help: 'inbound packets translated by a port forward (subset of translated_inbound)' },
  { name: 'hairpinned', drop: false, help: 'inside packets to an external address sent back inside (hairpinning)' },
  { name: 'icmp_errors_translated', drop: false, help: 'ICMP errors whose quoted packet was translated' },
  { name: 'untranslated', drop: false, help: 'packets forwarded unchanged (ARP, unmatched sources, addresses the NAT does not own)' },
];
