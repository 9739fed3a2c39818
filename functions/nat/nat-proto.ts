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

// The same indexes as top-level constants, which esbuild inlines where the data path reads
// them (`import * as NatProto from './nat-proto.ts'`).
/** TCP ports. */
export const TCP = 0;
/** UDP ports. */
export const UDP = 1;
/** ICMP echo identifiers. */
export const ICMP = 2;

/** Number of protocol spaces. */
export const NAT_PROTO_COUNT = 3;

