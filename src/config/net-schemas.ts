import { z } from 'zod';
import { IPV6_UNSUPPORTED } from '../errors/catalog.ts';
import { parseIpv4 } from '../packet/ipv4.ts';
import { ipv6Mask, ipv6Network, ipv6Problem, parseIpv6, parseIpv6Prefix, type Ipv6Address } from '../packet/ipv6-address.ts';

/**
 * Zod schemas for the network values that configurations and chain specs are made of.
 * Each accepts the human form (`"198.18.0.0/15"`, `"8000-8080"`, `"tcp"`) and yields the
 * numeric form the data plane uses, with a message that names what is wrong.
 *
 * Addresses and prefixes come in two kinds. `ipAddress` and `ipPrefix` take either family
 * and yield a value tagged with it (`{ family: 4 | 6, … }`, IPv6 as four big-endian words,
 * `src/packet/ipv6-address.ts`). `ipv4Address` and `ipv4Cidr` (and `ipv4AddressField` /
 * `ipv4CidrField` with a reason) serve the fields whose consumer carries IPv4 only for
 * now: they yield the untagged IPv4 numbers as before, and refuse a valid IPv6 value with a
 * positioned issue coded `NFVKIT_ERR_IPV6_UNSUPPORTED` instead of calling it malformed.
 *
 * @example
 * ```ts
 * const rule = z.object({ src: ipv4Cidr, dport: portRange, proto: protocol });
 * rule.parse({ src: '198.18.0.0/15', dport: '80-89', proto: 'tcp' });
 * // → { src: { addr: 0xc6120000, prefix: 15, mask: 0xfffe0000 }, dport: { from: 80, to: 89 }, proto: 6 }
 * ```
 */

/** An address of either family, tagged with it. */
export type IpAddress = { readonly family: 4; readonly addr: number } | { readonly family: 6; readonly addr: Ipv6Address };

/** A parsed CIDR block; `addr` has the host bits cleared. */
export interface Cidr {
  addr: number;
  prefix: number;
  mask: number;
}

/** A prefix of either family, tagged with it; `addr` has the host bits cleared. */
export type IpPrefix =
  | { readonly family: 4; readonly addr: number; readonly prefix: number; readonly mask: number }
  | { readonly family: 6; readonly addr: Ipv6Address; readonly prefix: number; readonly mask: Ipv6Address };

/** Network mask of a prefix length, as an unsigned 32-bit number. */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function parseCidr(text: string): Cidr | undefined {
  const [a, p, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const addr = parseIpv4(a);
  if (addr === undefined) return undefined;
  const prefix = p === undefined ? 32 : /^\d{1,2}$/.test(p) ? Number(p) : -1;
  if (prefix < 0 || prefix > 32) return undefined;
  const mask = prefixMask(prefix);
  return { addr: (addr & mask) >>> 0, prefix, mask };
}

/**
 * Parses an address of either family (`198.18.0.1`, `2001:db8::1`), or says what is wrong
 * (a string: the message of the schemas below).
 *
 * @example
 * ```ts
 * parseIpAddress('2001:db8::1'); // { family: 6, addr: [0x20010db8, 0, 0, 1] }
 * ```
 */
export function parseIpAddress(text: string): IpAddress | string {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, addr: v4 };
  if (!text.includes(':')) return 'not an IP address (IPv4 a.b.c.d or IPv6 such as 2001:db8::1)';
  const v6 = parseIpv6(text);
  return v6 !== undefined ? { family: 6, addr: v6 } : `not an IPv6 address: ${ipv6Problem(text) ?? 'malformed'}`;
}

/**
 * Parses a prefix of either family (`198.18.0.0/15`, `2001:db8::/32`; a bare address is
 * /32 or /128), clearing host bits as `ipv4Cidr` does, or says what is wrong.
 *
 * @example
 * ```ts
 * parseIpPrefix('2001:db8::1/32'); // { family: 6, addr: [0x20010db8, 0, 0, 0], prefix: 32, mask: [0xffffffff, 0, 0, 0] }
 * ```
 */
export function parseIpPrefix(text: string): IpPrefix | string {
  const v4 = parseCidr(text);
  if (v4 !== undefined) return { family: 4, ...v4 };
  if (!text.includes(':')) return 'not an IPv4 or IPv6 prefix (a.b.c.d/len or 2001:db8::/32)';
  const v6 = parseIpv6Prefix(text);
  if (typeof v6 === 'string') return `not an IPv6 prefix: ${v6}`;
  return { family: 6, addr: ipv6Network(v6.addr, v6.prefix), prefix: v6.prefix, mask: ipv6Mask(v6.prefix) };
}

/** The reason given when a field says nothing more specific. */
const IPV4_ONLY = 'this field takes IPv4 only for now';

/**
 * The issue for a valid IPv6 value in a field that takes IPv4 only for now: positioned like
 * any other issue, carrying `IPV6_UNSUPPORTED` (in `params.code`, which `validateConfig` and
 * the chain spec turn into `ConfigIssue.code`, and at the end of the message). It aborts
 * (`continue: false`): the cross-field checks of the objects around it, which expect IPv4
 * numbers, do not run on the text, so no second, made-up problem is reported.
 *
 * @example
 * ```ts
 * ctx.addIssue(ipv6UnsupportedIssue('2001:db8::1', 'the gateway answers ARP (IPv4) only'));
 * ```
 */
export function ipv6UnsupportedIssue(value: string, why: string = IPV4_ONLY, path?: PropertyKey[]): z.core.$ZodRawIssue {
  return {
    code: 'custom',
    message: `${value}: IPv6 is not supported here yet (${why}) [${IPV6_UNSUPPORTED}]`,
    params: { code: IPV6_UNSUPPORTED },
    input: value,
    continue: false,
    ...(path === undefined ? {} : { path }),
  } as z.core.$ZodRawIssue;
}

/**
 * An IPv4 address in dotted-quad form → unsigned 32-bit number, for a field whose consumer
 * handles IPv4 only for now: a valid IPv6 address is refused with `ipv6UnsupportedIssue`
 * (and `why`), anything else with "not an IPv4 address".
 *
 * @example
 * ```ts
 * const vip = ipv4AddressField('the load balancer balances IPv4 only for now');
 * vip.safeParse('2001:db8::1').error?.issues[0].message; // '2001:db8::1: IPv6 is not supported here yet (…) [NFVKIT_ERR_IPV6_UNSUPPORTED]'
 * ```
 */
export function ipv4AddressField(why: string = IPV4_ONLY) {
  return z
    .string()
    .superRefine((s, ctx) => {
      if (parseIpv4(s) !== undefined) return;
      const any = s.includes(':') ? parseIpAddress(s) : undefined;
      if (any === undefined) ctx.addIssue({ code: 'custom', message: 'not an IPv4 address' });
      else if (typeof any === 'string') ctx.addIssue({ code: 'custom', message: `not an IPv4 address, nor an IPv6 one (${any.replace(/^not an IPv6 address: /, '')})` });
      else ctx.addIssue(ipv6UnsupportedIssue(s, why));
    })
    .transform((s) => parseIpv4(s) as number);
}

/**
 * `"a.b.c.d/len"` (or a bare address, meaning /32) → `Cidr`, `"any"` = `0.0.0.0/0`, for a
 * field whose consumer handles IPv4 only for now: a valid IPv6 prefix is refused with
 * `ipv6UnsupportedIssue` (and `why`).
 */
export function ipv4CidrField(why: string = IPV4_ONLY) {
  return z
    .string()
    .superRefine((s, ctx) => {
      if (s === 'any' || parseCidr(s) !== undefined) return;
      const any = s.includes(':') ? parseIpPrefix(s) : undefined;
      if (any === undefined) ctx.addIssue({ code: 'custom', message: 'not an IPv4 CIDR block (a.b.c.d/len)' });
      else if (typeof any === 'string') ctx.addIssue({ code: 'custom', message: `not an IPv4 CIDR block, nor an IPv6 prefix (${any.replace(/^not an IPv6 prefix: /, '')})` });
      else ctx.addIssue(ipv6UnsupportedIssue(s, why));
    })
    .transform((s) => (s === 'any' ? { addr: 0, prefix: 0, mask: 0 } : (parseCidr(s) as Cidr)));
}

/** An IPv4 address in dotted-quad form → unsigned 32-bit number (IPv6 refused as not supported yet: `ipv4AddressField`). */
export const ipv4Address = ipv4AddressField();

/** `"a.b.c.d/len"` (or a bare address, meaning /32) → `Cidr`. `"any"` is `0.0.0.0/0` (IPv6 refused as not supported yet: `ipv4CidrField`). */
export const ipv4Cidr = ipv4CidrField();

/** An address of either family → `IpAddress` (`"2001:db8::1"` → `{ family: 6, addr: [0x20010db8, 0, 0, 1] }`). */
export const ipAddress = z
  .string()
  .superRefine((s, ctx) => {
    const r = parseIpAddress(s);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  })
  .transform((s) => parseIpAddress(s) as IpAddress);

/** A prefix of either family → `IpPrefix`, host bits cleared; a bare address is /32 or /128. No `"any"`: it would not say which family. */
export const ipPrefix = z
  .string()
  .superRefine((s, ctx) => {
    const r = parseIpPrefix(s);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  })
  .transform((s) => parseIpPrefix(s) as IpPrefix);

/** A TCP/UDP port number, 0–65535. */
export const port = z.number().int().min(0, 'port out of range 0-65535').max(65535, 'port out of range 0-65535');

/** An inclusive port range. */
export interface PortRange {
  from: number;
  to: number;
}

/** A port (`80`), a range string (`"8000-8080"`, `"443"`) or `"any"` → `{ from, to }`. */
export const portRange = z
  .union([port, z.string()])
  .refine(
    (v) => {
      if (typeof v === 'number') return true;
      if (v === 'any') return true;
      const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
      if (m === null) return false;
      const from = Number(m[1]);
      const to = m[2] === undefined ? from : Number(m[2]);
      return from <= 65535 && to <= 65535 && from <= to;
    },
    { message: 'not a port or port range (0-65535, "from-to" with from <= to)' },
  )
  .transform((v): PortRange => {
    if (typeof v === 'number') return { from: v, to: v };
    if (v === 'any') return { from: 0, to: 65535 };
    const [a, b] = v.split('-');
    return { from: Number(a), to: Number(b ?? a) };
  });

/** IP protocol numbers by name. */
export const PROTOCOL_NUMBERS = { icmp: 1, tcp: 6, udp: 17 } as const;

/** `"tcp" | "udp" | "icmp" | "any"` or a protocol number → number (0 = any). */
export const protocol = z
  .union([z.enum(['tcp', 'udp', 'icmp', 'any']), z.number().int().min(0).max(255)])
  .transform((v) => (typeof v === 'number' ? v : v === 'any' ? 0 : PROTOCOL_NUMBERS[v]));
