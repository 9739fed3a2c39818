/**
 * RFC 6052 IPv4-embedded IPv6 addresses: an IPv4 address written into an IPv6 prefix of
 * 32, 40, 48, 56, 64 or 96 bits, skipping bits 64–71 (the "u" octet, always zero), the
 * suffix after it zero (RFC 6052 §2.2):
 *
 * ```
 * /32  | prefix 32 | v4(32)           | u | suffix           |
 * /40  | prefix 40 | v4(24)       | u | v4(8) | suffix       |
 * /48  | prefix 48 | v4(16)   | u | v4(16) | suffix          |
 * /56  | prefix 56 | v4(8) | u | v4(24) | suffix             |
 * /64  | prefix 64        | u | v4(32) | suffix              |
 * /96  | prefix 96                              | v4(32)     |
 * ```
 *
 * A {@link Nat64Prefix} is built once from the configuration; `embed` and `extract` then
 * read and write the pool's DataView with no allocation (the NAT64 data path).
 *
 * @example
 * ```ts
 * const p = nat64Prefix([0x0064ff9b, 0, 0, 0], 96);   // 64:ff9b::/96 (in an image: new Nat64Prefix(plan.layout))
 * nat64EmbedWords(p, 0xc0000221);   // [0x0064ff9b, 0, 0, 0xc0000221]  (64:ff9b::192.0.2.33)
 * p.embed(view, l3 + 8, 0xc0000221);                  // the same, written as a source address
 * p.match(view, l3 + 24) === NAT64_CANONICAL && p.extract(view, l3 + 24);
 * ```
 */

/** Prefix lengths RFC 6052 §2.2 defines. */
export const NAT64_PREFIX_LENGTHS: readonly number[] = [32, 40, 48, 56, 64, 96];

/** The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1), as four words. */
export const NAT64_WELL_KNOWN_PREFIX: readonly [number, number, number, number] = [0x0064ff9b, 0, 0, 0];

/** {@link Nat64Prefix.match}: the address is not in the prefix. */
export const NAT64_OUTSIDE = 0;
/** {@link Nat64Prefix.match}: in the prefix, u octet and suffix zero: an IPv4 address can be extracted. */
export const NAT64_CANONICAL = 1;
/** {@link Nat64Prefix.match}: in the prefix, but the u octet or the suffix is not zero. */
export const NAT64_NOT_CANONICAL = 2;

/** Byte positions (0…15) of the four IPv4 bytes for a prefix of `length` bits. */
export function nat64BytePositions(length: number): [number, number, number, number] {
  const p = length >>> 3;
  const at = (k: number): number => (p <= 8 && p + k >= 8 ? p + k + 1 : p + k);
  return [at(0), at(1), at(2), at(3)];
}

/**
 * What a {@link Nat64Prefix} needs, computed from the prefix on the control path (the plan
 * bakes it into the image, so the image does not carry the computation).
 */
export interface Nat64PrefixLayout {
  /** The prefix's four words with every bit after its length zero. */
  template: number[];
  /** Per word, the mask of the prefix bits. */
  prefixMask: number[];
  /** Byte positions (0…15) of the four IPv4 bytes, most significant first. */
  positions: number[];
}

/**
 * The {@link Nat64PrefixLayout} of `prefix` (four words; bits after `length` ignored) of
 * `length` bits, one of {@link NAT64_PREFIX_LENGTHS} (else a RangeError).
 */
export function nat64PrefixLayout(prefix: readonly number[], length: number): Nat64PrefixLayout {
  if (!NAT64_PREFIX_LENGTHS.includes(length)) throw new RangeError(`NAT64 prefix length ${length}: RFC 6052 allows ${NAT64_PREFIX_LENGTHS.join(', ')}`);
  const prefixMask: number[] = [];
  const template: number[] = [];
  for (let w = 0; w < 4; w++) {
    const bits = Math.max(0, Math.min(32, length - 32 * w));
    prefixMask.push(bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
    template.push((prefix[w] & prefixMask[w]) >>> 0);
  }
  return { template, prefixMask, positions: nat64BytePositions(length) };
}

/** The {@link Nat64Prefix} of `prefix` (four words) of `length` bits (control path and tests). */
export function nat64Prefix(prefix: readonly number[], length: number): Nat64Prefix {
  return new Nat64Prefix(nat64PrefixLayout(prefix, length));
}

/**
 * A NAT64 prefix (RFC 6052), built from its {@link Nat64PrefixLayout}: the data path's reads
 * and writes. Each address word holds a contiguous run of the IPv4 address's bytes (or
 * none), so a word is the template OR the IPv4 address rotated into place and masked: an
 * embedding or an extraction is four word moves, never a byte at a time.
 */
export class Nat64Prefix {
  /**
   * Per address word `i`, at `4i…4i+3`: the template (prefix bits, the rest zero), the mask
   * of the prefix bits, the mask of the IPv4 bits the word holds and the left rotation that
   * brings the IPv4 address onto them.
   */
  private readonly w = new Int32Array(16);

  constructor(layout: Nat64PrefixLayout) {
    const w = this.w;
    for (let i = 0; i < 4; i++) {
      w[4 * i] = layout.template[i];
      w[4 * i + 1] = layout.prefixMask[i];
    }
    layout.positions.forEach((p, k) => {
      w[(p & ~3) + 2] |= 0xff << (24 - 8 * (p & 3));
      w[(p & ~3) + 3] = (8 * (k - (p & 3))) & 31;
    });
  }

  /**
   * Where the IPv6 address of words `x0…x3` stands: {@link NAT64_OUTSIDE},
   * {@link NAT64_CANONICAL} or {@link NAT64_NOT_CANONICAL}.
   */
  matchWords(x0: number, x1: number, x2: number, x3: number): number {
    const w = this.w;
    if ((x0 & w[1]) !== w[0] || (x1 & w[5]) !== w[4] || (x2 & w[9]) !== w[8] || (x3 & w[13]) !== w[12]) return NAT64_OUTSIDE;
    return (x0 & ~w[2]) === w[0] && (x1 & ~w[6]) === w[4] && (x2 & ~w[10]) === w[8] && (x3 & ~w[14]) === w[12] ? NAT64_CANONICAL : NAT64_NOT_CANONICAL;
  }

  /** {@link matchWords} of the IPv6 address at `at` in `view`. */
  match(view: DataView, at: number): number {
    return this.matchWords(view.getInt32(at), view.getInt32(at + 4), view.getInt32(at + 8), view.getInt32(at + 12));
  }

  /**
   * The IPv4 address embedded in the IPv6 address of words `x0…x3` (the caller checked
   * {@link matchWords}), as an int32 (`>>> 0` gives the unsigned value).
   */
  extractWords(x0: number, x1: number, x2: number, x3: number): number {
    const w = this.w;
    return rotr(x0 & w[2], w[3]) | rotr(x1 & w[6], w[7]) | rotr(x2 & w[10], w[11]) | rotr(x3 & w[14], w[15]);
  }

  /** The IPv4 address embedded in the IPv6 address at `at` in `view` (the caller checked {@link match}). */
  extract(view: DataView, at: number): number {
    return this.extractWords(view.getInt32(at), view.getInt32(at + 4), view.getInt32(at + 8), view.getInt32(at + 12)) >>> 0;
  }

  /**
   * Writes the IPv6 address embedding `v4` (u octet and suffix zero) at `at`; returns the
   * sum of its eight 16-bit words (for a checksum: < 2^19, not folded).
   */
  embed(view: DataView, at: number, v4: number): number {
    const w = this.w;
    let sum = 0;
    for (let i = 0; i < 16; i += 4) {
      const x = w[i] | (rotr(v4, 32 - w[i + 3]) & w[i + 2]);
      view.setInt32(at + i, x);
      sum += (x >>> 16) + (x & 0xffff);
    }
    return sum;
  }
}

/** `v` rotated right by `n` bits (0…32; JavaScript shifts count mod 32, so 0 and 32 give `v`). */
function rotr(v: number, n: number): number {
  return (v >>> n) | (v << (32 - n));
}

/**
 * The IPv6 address embedding `v4` in `prefix`, as four words (control path and tests: a
 * free function, so images that do not call it do not carry it).
 */
export function nat64EmbedWords(prefix: Nat64Prefix, v4: number): [number, number, number, number] {
  const v = new DataView(new ArrayBuffer(16));
  prefix.embed(v, 0, v4 >>> 0);
  return [v.getUint32(0), v.getUint32(4), v.getUint32(8), v.getUint32(12)];
}

/** The IPv4 address embedded in `addr` (four words), or -1 if `addr` is not a canonical address of `prefix` (control path and tests). */
export function nat64ExtractWords(prefix: Nat64Prefix, addr: readonly number[]): number {
  const v = new DataView(new ArrayBuffer(16));
  for (let w = 0; w < 4; w++) v.setUint32(w * 4, addr[w] >>> 0);
  return prefix.match(v, 0) === NAT64_CANONICAL ? prefix.extract(v, 0) : -1;
}
