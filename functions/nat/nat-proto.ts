/**
 * Protocol index of a mapping: TCP, UDP and ICMP echo identifiers are separate spaces.
 *
 * @example
 * ```ts
 * const pi = ipProto === 6 ? NatProto.TCP : ipProto === 17 ? NatProto.UDP : NatProto.ICMP;
 * ```
 */
export const NatProto = {
  TCP: 0,
  UDP: 1,
  ICMP: 2,
} as const;

/** Number of protocol spaces. */
export const NAT_PROTO_COUNT = 3;

