import { z } from 'zod';
import type { FrameLayout } from '../../packet/frame-layout.ts';
import { decrementTtl } from '../../packet/rewrite.ts';
import { Action, defineSimpleElement, type SimpleAction } from '../simple-element.ts';

/** Configuration of `decrement-ttl` (none). */
export type DecrementTtlConfig = Record<string, never>;

/**
 * The action of `decrement-ttl`: IPv4 packets whose TTL would reach 0 are dropped
 * (`ttl_exceeded`), the others leave with the TTL one lower and the header checksum fixed
 * (RFC 1624). Non-IPv4 frames (ARP) pass untouched.
 */
export function createDecrementTtl(_config: DecrementTtlConfig): SimpleAction {
  return (view: DataView, L: FrameLayout): number => {
    if (L.ethertype !== 0x0800) return Action.CONTINUE;
    return decrementTtl(view, L.l3Offset) === 0 ? Action.drop(0) : Action.CONTINUE;
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
  description: 'Decrements the IPv4 TTL; packets whose TTL would reach 0 are dropped.',
  config: z.object({}).strict() as z.ZodType<DecrementTtlConfig>,
  drops: [{ name: 'ttl_exceeded', help: 'IPv4 TTL would reach 0 (no ICMP time exceeded is sent)' }],
  module: '#nfvkit/pipeline/elements/decrement-ttl.ts',
  factory: 'createDecrementTtl',
});
