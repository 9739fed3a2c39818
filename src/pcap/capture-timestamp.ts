/**
 * Converts a 64-bit capture timestamp, given as two unsigned 32-bit halves counted in
 * `unitsPerSecond`, into whole seconds and nanoseconds. Exact for every value: small
 * values use plain numbers, larger ones a 16-bit long division, and only exotic
 * resolutions (below 2^12 or above 2^37 units per second) fall back to BigInt.
 *
 * @example
 * ```ts
 * const out = { tsSec: 0, tsNsec: 0 };
 * splitTimestamp(0x17a2b, 0x3c4d5e6f, 1e9, out); // pcapng EPB with if_tsresol = 9
 * ```
 */
export function splitTimestamp(
  high: number,
  low: number,
  unitsPerSecond: number,
  out: { tsSec: number; tsNsec: number },
): void {
  let sec: number;
  let rem: number;
  if (high < 0x200000) {
    // high * 2^32 + low < 2^53: exact as a number.
    const v = high * 4294967296 + low;
    sec = Math.floor(v / unitsPerSecond);
    if (sec * unitsPerSecond > v) sec--;
    rem = v - sec * unitsPerSecond;
  } else if (unitsPerSecond >= 4096 && unitsPerSecond <= 137438953472) {
    sec = 0;
    rem = 0;
    const chunks0 = high >>> 16;
    const chunks1 = high & 0xffff;
    const chunks2 = low >>> 16;
    const chunks3 = low & 0xffff;
    for (let i = 0; i < 4; i++) {
      const c = i === 0 ? chunks0 : i === 1 ? chunks1 : i === 2 ? chunks2 : chunks3;
      rem = rem * 65536 + c;
      let digit = Math.floor(rem / unitsPerSecond);
      if (digit * unitsPerSecond > rem) digit--;
      rem -= digit * unitsPerSecond;
      sec = sec * 65536 + digit;
    }
  } else {
    splitWithBigInt(high, low, unitsPerSecond, out);
    return;
  }
  out.tsSec = sec;
  out.tsNsec = fractionToNanos(rem, unitsPerSecond);
}

/** Nanoseconds in `rem / unitsPerSecond` of a second, rounded down. */
function fractionToNanos(rem: number, unitsPerSecond: number): number {
  if (unitsPerSecond === 1e9) return rem;
  if (unitsPerSecond <= 1e9 && 1e9 % unitsPerSecond === 0) return rem * (1e9 / unitsPerSecond);
  const scaled = rem * 1e9;
  // Division by a power of two is exact in binary floating point.
  const powerOfTwo = unitsPerSecond <= 0x40000000 && (unitsPerSecond & (unitsPerSecond - 1)) === 0;
  if (scaled <= Number.MAX_SAFE_INTEGER && powerOfTwo) return Math.floor(scaled / unitsPerSecond);
  return Number((BigInt(rem) * 1_000_000_000n) / BigInt(unitsPerSecond));
}

function splitWithBigInt(high: number, low: number, unitsPerSecond: number, out: { tsSec: number; tsNsec: number }): void {
  const v = (BigInt(high) << 32n) | BigInt(low);
  const ups = BigInt(unitsPerSecond);
  out.tsSec = Number(v / ups);
  out.tsNsec = Number(((v % ups) * 1_000_000_000n) / ups);
}
