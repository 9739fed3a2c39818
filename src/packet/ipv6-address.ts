/**
 * IPv6 addresses as text and as numbers (RFC 4291 §2.2 text forms in, RFC 5952 canonical
 * text out). Control plane only: parsing and formatting allocate; the wire header view is
 * `ipv6.ts`.
 *
 * An address is four unsigned 32-bit words, most significant first (`Ipv6Address`): word
 * `i` is the big-endian value of bytes `4i … 4i+3`, exactly what `DataView.getUint32` reads
 * from the header, so the packet path compares and hashes addresses as four integers (no
 * byte arrays, no strings) and a config baked into an image holds plain numbers. `2001:db8::1`
 * is `[0x20010db8, 0, 0, 1]`.
 *
 * @example
 * ```ts
 * const a = parseIpv6('2001:DB8:0:0:0:0:0:1'); // [0x20010db8, 0, 0, 1]
 * formatIpv6(a!);                               // '2001:db8::1'
 * parseIpv6Prefix('2001:db8::/32');              // { addr: [0x20010db8, 0, 0, 0], prefix: 32 }
 * ipv6Problem('fe80::1%eth0');                   // 'zone id "%eth0" not accepted: …'
 * ```
 */

/** An IPv6 address: four unsigned 32-bit words, most significant first (network order). */
export type Ipv6Address = readonly [number, number, number, number];

/** An IPv6 address with a prefix length (0–128), host bits as written. */
export interface Ipv6Prefix {
  readonly addr: Ipv6Address;
  readonly prefix: number;
}

/** The unspecified address `::`. */
export const IPV6_UNSPECIFIED: Ipv6Address = Object.freeze([0, 0, 0, 0]) as Ipv6Address;

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DEC_OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const DOTTED_QUAD = new RegExp(`^${DEC_OCTET}\\.${DEC_OCTET}\\.${DEC_OCTET}\\.${DEC_OCTET}$`);

/**
 * Parses IPv6 text, or says why it is not an IPv6 address. Accepted (RFC 4291 §2.2): eight
 * groups of 1–4 hex digits in either case, one `::` standing for one or more zero groups,
 * and a dotted quad in place of the last two groups (`::ffff:198.18.0.1`,
 * `64:ff9b::198.18.0.1`; octets without leading zeros). Refused with a reason: zone ids
 * (`fe80::1%eth0`: they name an interface of one host), brackets, a prefix length, and
 * every malformed form.
 */
function parse(text: string): Ipv6Address | string {
  if (text.length === 0) return 'empty';
  if (text.length > 45) return `too long (${text.length} characters; at most 45)`;
  const zone = text.indexOf('%');
  if (zone >= 0) return `zone id "${text.slice(zone)}" not accepted: it names an interface of one host; write the address without it`;
  if (text.startsWith('[')) return 'brackets belong only around an address followed by a port ("[2001:db8::1]:80")';
  if (text.includes('/')) return 'a prefix length is not part of an address';
  if (text.includes(':::')) return '":::" is not a form: "::" stands for the zero groups';
  const halves = text.split('::');
  if (halves.length > 2) return '"::" may appear only once';
  const groups: number[] = [];
  let v4: number | undefined;
  const side = (part: string, isLast: boolean): string | undefined => {
    if (part === '') return undefined;
    const fields = part.split(':');
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i];
      if (f === '') return 'a single ":" at the start or end, or an empty group (":" twice is "::")';
      if (isLast && i === fields.length - 1 && f.includes('.')) {
        const m = DOTTED_QUAD.exec(f);
        if (m === null) return `"${f}" is not a dotted-quad IPv4 address (octets 0-255, no leading zeros)`;
        v4 = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
        return undefined;
      }
      if (f.includes('.')) return `an embedded IPv4 address ("${f}") must come last`;
      if (!HEX_GROUP.test(f)) return f.length > 4 && /^[0-9a-fA-F]+$/.test(f) ? `group "${f}" has more than 4 hex digits` : `"${f}" is not a group of 1-4 hex digits`;
      groups.push(Number.parseInt(f, 16));
    }
    return undefined;
  };
  const compressed = halves.length === 2;
  const headProblem = side(halves[0], !compressed);
  if (headProblem !== undefined) return headProblem;
  const headCount = groups.length;
  if (compressed) {
    const tailProblem = side(halves[1], true);
    if (tailProblem !== undefined) return tailProblem;
  }
  const count = groups.length + (v4 === undefined ? 0 : 2);
  if (compressed && count > 7) return `"::" stands for at least one zero group, but ${count} groups are written besides it`;
  if (!compressed && count !== 8) return `${count} groups; an address has 8 (or fewer with "::")`;
  const all = new Array<number>(8).fill(0);
  for (let i = 0; i < headCount; i++) all[i] = groups[i];
  const tail = groups.length - headCount;
  const tailEnd = v4 === undefined ? 8 : 6;
  for (let i = 0; i < tail; i++) all[tailEnd - tail + i] = groups[headCount + i];
  if (v4 !== undefined) {
    all[6] = v4 >>> 16;
    all[7] = v4 & 0xffff;
  }
  return [((all[0] << 16) | all[1]) >>> 0, ((all[2] << 16) | all[3]) >>> 0, ((all[4] << 16) | all[5]) >>> 0, ((all[6] << 16) | all[7]) >>> 0];
}

/**
 * Parses IPv6 text (RFC 4291 §2.2 forms) into four words; `undefined` when it is not one
 * (`ipv6Problem` says why).
 *
 * @example
 * ```ts
 * parseIpv6('::ffff:198.18.0.1'); // [0, 0, 0xffff, 0xc6120001]
 * ```
 */
export function parseIpv6(text: string): Ipv6Address | undefined {
  const r = parse(text);
  return typeof r === 'string' ? undefined : r;
}

/**
 * Why `text` is not an IPv6 address (a short phrase for a config message), or `undefined`
 * when it is one.
 *
 * @example
 * ```ts
 * ipv6Problem('2001:db8:::1'); // '"::" may appear only once'
 * ```
 */
export function ipv6Problem(text: string): string | undefined {
  const r = parse(text);
  return typeof r === 'string' ? r : undefined;
}

/**
 * Parses `addr/len` (len 0–128; a bare address is /128) keeping the host bits as written;
 * `ipv6HasHostBits` tells whether any are set, `ipv6Network` clears them. Returns a reason
 * (string) when the text is not a prefix.
 *
 * @example
 * ```ts
 * parseIpv6Prefix('2001:db8::/32'); // { addr: [0x20010db8, 0, 0, 0], prefix: 32 }
 * parseIpv6Prefix('2001:db8::/129'); // 'prefix length 129 out of range 0-128'
 * ```
 */
export function parseIpv6Prefix(text: string): Ipv6Prefix | string {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parse(addrText);
  if (typeof addr === 'string') return addr;
  if (slash < 0) return { addr, prefix: 128 };
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return `"${lenText}" is not a prefix length (0-128)`;
  const prefix = Number(lenText);
  if (prefix > 128) return `prefix length ${prefix} out of range 0-128`;
  return { addr, prefix };
}

/**
 * The network mask of a prefix length as four words.
 *
 * @example
 * ```ts
 * ipv6Mask(36); // [0xffffffff, 0xf0000000, 0, 0]
 * ```
 */
export function ipv6Mask(prefix: number): Ipv6Address {
  const word = (i: number): number => {
    const bits = Math.max(0, Math.min(32, prefix - 32 * i));
    return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  };
  return [word(0), word(1), word(2), word(3)];
}

/** `addr` with the bits past `prefix` cleared. */
export function ipv6Network(addr: Ipv6Address, prefix: number): Ipv6Address {
  const m = ipv6Mask(prefix);
  return [(addr[0] & m[0]) >>> 0, (addr[1] & m[1]) >>> 0, (addr[2] & m[2]) >>> 0, (addr[3] & m[3]) >>> 0];
}

/** Whether `addr` has any bit set past `prefix` (`2001:db8::1/64` has). */
export function ipv6HasHostBits(addr: Ipv6Address, prefix: number): boolean {
  return !ipv6Equal(addr, ipv6Network(addr, prefix));
}

/** Whether two addresses are the same. */
export function ipv6Equal(a: Ipv6Address, b: Ipv6Address): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/**
 * Whether the low 32 bits are, by a well-known prefix, an IPv4 address, so RFC 5952 §5
 * writes them as a dotted quad: IPv4-mapped `::ffff:0:0/96` (RFC 4291), IPv4-translated
 * `::ffff:0:0:0/96` (RFC 2765) and the NAT64 well-known prefix `64:ff9b::/96` (RFC 6052).
 * The deprecated IPv4-compatible `::/96` is not one (`::1` stays `::1`).
 */
export function ipv6EmbedsIpv4(a: Ipv6Address): boolean {
  return (a[0] === 0 && a[1] === 0 && (a[2] === 0xffff || a[2] === 0xffff0000)) || (a[0] === 0x0064ff9b && a[1] === 0 && a[2] === 0);
}

/**
 * Formats an address as RFC 5952 recommends: lower-case hex, no leading zeros in a group,
 * the longest run of two or more zero groups (the first of equal runs) written `::`, a
 * single zero group written `0`, and a dotted quad for the last 32 bits of the addresses
 * `ipv6EmbedsIpv4` names.
 *
 * @example
 * ```ts
 * formatIpv6([0x20010db8, 0, 0x00010000, 1]); // '2001:db8::1:0:0:1'
 * formatIpv6([0, 0, 0xffff, 0xc6120001]);     // '::ffff:198.18.0.1'
 * ```
 */
export function formatIpv6(a: Ipv6Address): string {
  const mixed = ipv6EmbedsIpv4(a);
  const n = mixed ? 6 : 8;
  const groups: number[] = [];
  for (let i = 0; i < n; i++) groups.push(i % 2 === 0 ? a[i >> 1] >>> 16 : a[i >> 1] & 0xffff);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < n; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (list: number[]): string => list.map((g) => g.toString(16)).join(':');
  const v4 = mixed ? `${a[3] >>> 24}.${(a[3] >>> 16) & 0xff}.${(a[3] >>> 8) & 0xff}.${a[3] & 0xff}` : '';
  if (bestAt < 0) return mixed ? `${hex(groups)}:${v4}` : hex(groups);
  const head = hex(groups.slice(0, bestAt));
  const tail = hex(groups.slice(bestAt + bestLen));
  if (!mixed) return `${head}::${tail}`;
  return tail === '' ? `${head}::${v4}` : `${head}::${tail}:${v4}`;
}

/** `addr/len` in canonical form (`formatIpv6`). */
export function formatIpv6Prefix(p: Ipv6Prefix): string {
  return `${formatIpv6(p.addr)}/${p.prefix}`;
}

/**
 * The address held in 16 bytes at `offset` (network order), e.g. a header field.
 *
 * @example
 * ```ts
 * ipv6FromBytes(new Uint8Array(16).fill(0xff)); // [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]
 * ```
 */
export function ipv6FromBytes(bytes: Uint8Array, offset = 0): Ipv6Address {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 16);
  return [view.getUint32(0), view.getUint32(4), view.getUint32(8), view.getUint32(12)];
}

/** The 16 bytes (network order) of an address. */
export function ipv6ToBytes(a: Ipv6Address): Uint8Array {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) view.setUint32(4 * i, a[i]);
  return out;
}
