import { z } from 'zod';
import { parseIpv4 } from '../packet/ipv4.ts';

/**
 * Zod schemas for the network values that configurations and chain specs are made of.
 * Each accepts the human form (`"198.18.0.0/15"`, `"8000-8080"`, `"tcp"`) and yields the
 * numeric form the data plane uses, with a message that names what is wrong.
 *
 * @example
 * ```ts
 * const rule = z.object({ src: ipv4Cidr, dport: portRange, proto: protocol });
 * rule.parse({ src: '198.18.0.0/15', dport: '80-89', proto: 'tcp' });
 * // → { src: { addr: 0xc6120000, prefix: 15, mask: 0xfffe0000 }, dport: { from: 80, to: 89 }, proto: 6 }
 * ```
 */

/** An IPv4 address in dotted-quad form → unsigned 32-bit number. */
export const ipv4Address = z
  .string()
  .refine((s) => parseIpv4(s) !== undefined, { message: 'not an IPv4 address' })
  .transform((s) => parseIpv4(s) as number);

/** A parsed CIDR block; `addr` has the host bits cleared. */
export interface Cidr {
  addr: number;
  prefix: number;
  mask: number;
}

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

/** `"a.b.c.d/len"` (or a bare address, meaning /32) → `Cidr`. `"any"` is `0.0.0.0/0`. */
export const ipv4Cidr = z
  .string()
  .refine((s) => s === 'any' || parseCidr(s) !== undefined, { message: 'not an IPv4 CIDR block (a.b.c.d/len)' })
  .transform((s) => (s === 'any' ? { addr: 0, prefix: 0, mask: 0 } : (parseCidr(s) as Cidr)));

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
