/**
 * The per-backend permutation of Maglev hashing (Eisenbud et al., NSDI 2016, §3.4):
 * two independent hashes of the backend's name give `offset = h1 mod M` and
 * `skip = h2 mod (M − 1) + 1`; since M is prime, `(offset + j·skip) mod M` for
 * j = 0 … M−1 visits every slot exactly once. Control plane only (allocates).
 *
 * @example
 * ```ts
 * const { offset, skip } = maglevPermutation('10.0.0.7:80', 65537);
 * const slotJ = (offset + j * skip) % 65537;
 * ```
 */
export interface MaglevPermutation {
  /** First preferred slot, in [0, M). */
  offset: number;
  /** Step between preferred slots, in [1, M). */
  skip: number;
}

const SEED_OFFSET = 0x2c1b3c6d;
const SEED_SKIP = 0x9747b28c;
const encoder = new TextEncoder();

/**
 * The Maglev permutation of backend `name` in a table of prime size `m`.
 *
 * @example
 * ```ts
 * maglevPermutation('backend-a', 65537); // { offset: …, skip: … }
 * ```
 */
export function maglevPermutation(name: string, m: number): MaglevPermutation {
  const bytes = encoder.encode(name);
  return {
    offset: murmur3(bytes, SEED_OFFSET) % m,
    skip: (murmur3(bytes, SEED_SKIP) % (m - 1)) + 1,
  };
}

/**
 * True if `n` is a prime integer (trial division; fine for table sizes up to 2^32).
 *
 * @example
 * ```ts
 * isPrime(65537); // true
 * ```
 */
export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  if (n % 3 === 0) return n === 3;
  for (let d = 5; d * d <= n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false;
  }
  return true;
}

/** MurmurHash3 x86 32-bit of `bytes` with `seed`, as an unsigned integer. */
function murmur3(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    const k = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    h ^= scramble(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = n & 3;
  if (rest !== 0) {
    let tail = bytes[blocks];
    if (rest >= 2) tail |= bytes[blocks + 1] << 8;
    if (rest === 3) tail |= bytes[blocks + 2] << 16;
    h ^= scramble(tail);
  }
  h ^= n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function scramble(k: number): number {
  let x = Math.imul(k, 0xcc9e2d51);
  x = (x << 15) | (x >>> 17);
  return Math.imul(x, 0x1b873593);
}
