import { z } from 'zod';
import type { FrameLayout } from '../../packet/frame-layout.ts';
import { decrementTtl } from '../../packet/rewrite.ts';
import { decrementHopLimit } from '../../packet/rewrite-ipv6.ts';
import { Action, defineSimpleElement, type SimpleAction } from '../simple-element.ts';

/** Configuration of `decrement-ttl` (none). */
export type DecrementTtlConfig = Record<string, never>;

/**
 * The action of `decrement-ttl`: IPv4 packets whose TTL would reach 0, and IPv6 packets
 * whose hop limit would, are dropped (`ttl_exceeded`); the others leave with it one lower
 * (IPv4: the header checksum fixed, RFC 1624; IPv6 has none). Other frames (ARP) pass
 * untouched.
 */
export function createDecrementTtl(_config: DecrementTtlConfig): SimpleAction {
  return (view: DataView, L: FrameLayout): number => {
    if (L.ethertype === 0x0800) return decrementTtl(view, L.l3Offset) === 0 ? Action.drop(0) : Action.CONTINUE;
    if (L.ethertype === 0x86dd) return decrementHopLimit(view, L.l3Offset) === 0 ? Action.drop(0) : Action.CONTINUE;
    return Action.CONTINUE;
  };
}

/**
 * `decrement-ttl`: what a router does to every packet it forwards. Place it after
 * `parse-frame`. Built with `defineSimpleElement`.
 *
 * @example
 * ```ts
 * elements: () => [use(parseFrameElement, {}), use(decrementTtlElement, {})]
 * ```
 */
export const decrementTtlElement = defineSimpleElement<DecrementTtlConfig>({
  kind: 'decrement-ttl',
  description: 'Decrements the IPv4 TTL or IPv6 hop limit; packets where it would reach 0 are dropped.',
  config: z.object({}).strict() as z.ZodType<DecrementTtlConfig>,
  drops: [{ name: 'ttl_exceeded', help: 'IPv4 TTL or IPv6 hop limit would reach 0 (no ICMP time exceeded is sent)' }],
  module: '#nfvkit/pipeline/elements/decrement-ttl.ts',
  factory: 'createDecrementTtl',
});
