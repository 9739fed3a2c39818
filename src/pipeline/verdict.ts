/**
 * Sides of a middlebox and the verdict a pipeline gives each packet.
 *
 * A function has two sides: `INSIDE` (device `eth0`, toward the clients / previous hop)
 * and `OUTSIDE` (device `eth1`, toward the servers / next hop). A verdict is the side a
 * packet leaves on, or `DROP` (its buffer goes back to the pool and a reason is counted).
 *
 * @example
 * ```ts
 * // default forwarding: out on the side opposite to the arrival side
 * const verdict = side === Side.INSIDE ? Verdict.OUTSIDE : Verdict.INSIDE;
 * ```
 */
export const Side = {
  INSIDE: 0,
  OUTSIDE: 1,
} as const;

/** A side number (`Side.INSIDE` or `Side.OUTSIDE`). */
export type SideNumber = (typeof Side)[keyof typeof Side];

/** Verdicts: a side number to send the packet out on, or `DROP`. */
export const Verdict = {
  INSIDE: 0,
  OUTSIDE: 1,
  DROP: 255,
} as const;

/** Device names by side, as the image manifest lists them. */
export const SIDE_DEVICE_NAMES: readonly string[] = ['eth0', 'eth1'];
