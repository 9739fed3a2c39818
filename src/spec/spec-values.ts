import { z } from 'zod';
import { ipv4Address, ipv4Cidr, portRange } from '../config/net-schemas.ts';
import { parseIpv4 } from '../packet/ipv4.ts';
import { MIN_ID_PREFIX } from '../image/image-store.ts';

/**
 * The scalar values a chain spec is made of. Unlike `src/config/net-schemas.ts`, which
 * turns `"198.18.0.0/15"` into numbers, these keep the text as written (validated by the
 * net schemas, with their messages): a spec stays JSON data that hashes and prints the way
 * the user wrote it, and each consumer (port, dispatcher) parses what it needs.
 *
 * @example
 * ```ts
 * const peer = z.object({ remote: ipv4AddressText, subnets: z.array(ipv4CidrText) });
 * peer.parse({ remote: '198.18.100.2', subnets: ['198.18.1.0/24'] }); // unchanged
 * ```
 */

/** Copies the issues `schema` finds in `value` into `ctx` (messages of the net schemas). */
function checkWith(schema: z.ZodType, value: unknown, ctx: z.RefinementCtx): void {
  const result = schema.safeParse(value);
  if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
}

/** A DNS label: `a-z`, `0-9` and `-`, not starting or ending with `-`, at most 63 characters. */
export const dnsLabel = z
  .string()
  .max(63, 'at most 63 characters')
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and "-" (a DNS label, e.g. "web-edge")')
  .meta({ description: 'DNS label: [a-z0-9-], at most 63 characters, no leading or trailing "-".' });

/** An IPv4 address in dotted-quad form, kept as text. */
export const ipv4AddressText = z
  .string()
  .superRefine((s, ctx) => checkWith(ipv4Address, s, ctx))
  .meta({ format: 'ipv4', description: 'IPv4 address (dotted quad).' });

/** An IPv4 CIDR block (`a.b.c.d/len`; a bare address means /32), kept as text. */
export const ipv4CidrText = z
  .string()
  .superRefine((s, ctx) => checkWith(ipv4Cidr, s, ctx))
  .meta({ pattern: '^(any|\\d{1,3}(\\.\\d{1,3}){3}(/\\d{1,2})?)$', description: 'IPv4 CIDR block, a.b.c.d/len (a bare address is /32; "any" is 0.0.0.0/0).' });

/** A port (`80`) or an inclusive range (`"8000-8080"`), kept as written. */
export const portOrRangeText = z
  .union([z.number(), z.string()])
  .superRefine((v, ctx) => checkWith(portRange, v, ctx))
  .meta({ pattern: '^(any|\\d{1,5}(-\\d{1,5})?)$', description: 'A port (0-65535) or an inclusive range "from-to".' });

/** A service endpoint `"a.b.c.d:port"` (port 1–65535). */
export const endpointText = z
  .string()
  .refine(
    (s) => {
      const at = s.lastIndexOf(':');
      if (at < 0 || parseIpv4(s.slice(0, at)) === undefined) return false;
      const p = s.slice(at + 1);
      return /^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535;
    },
    { message: 'not an address:port (e.g. "198.18.2.100:80", port 1-65535)' },
  )
  .meta({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}:\\d{1,5}$', description: 'IPv4 address and port, "a.b.c.d:port".' });

/** A unicast Ethernet address `"02:00:00:00:00:01"`. */
export const macText = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'not a MAC address (six hex pairs separated by ":")')
  .refine((s) => (parseInt(s.slice(0, 2), 16) & 1) === 0, 'a multicast MAC address (first octet odd) cannot be a gateway address')
  .meta({ description: 'Unicast Ethernet address, six hex pairs separated by ":".' });

/** An image id or a unique prefix of one (`MIN_ID_PREFIX`–64 hex digits). */
export const imageRefText = z
  .string()
  .regex(new RegExp(`^[0-9a-fA-F]{${MIN_ID_PREFIX},64}$`), `not an image id or id prefix (${MIN_ID_PREFIX}-64 hex digits; quote it if it is all digits)`)
  .meta({ description: `Image id (64 hex digits) or a unique prefix of at least ${MIN_ID_PREFIX}.` });

/**
 * Memory bounds of an instance in MiB: the same as `MIN_IMAGE_MEMORY_MIB` and
 * `MAX_IMAGE_MEMORY_MIB` of `src/image/image-builder.ts` (a test keeps them equal), kept
 * here so that parsing a spec does not load the bundler.
 */
export const SPEC_MIN_MEMORY_MIB = 8;
export const SPEC_MAX_MEMORY_MIB = 65536;

const MEMORY_TEXT = /^(\d{1,7})(Mi|Gi)$/;
const MEMORY_MESSAGE = `memory must be ${SPEC_MIN_MEMORY_MIB}Mi to ${SPEC_MAX_MEMORY_MIB / 1024}Gi`;

/** MiB of a memory quantity as written (`64`, `"64Mi"`, `"2Gi"`), or NaN when it is not one. */
export function memoryMiB(value: number | string): number {
  if (typeof value === 'number') return Number.isInteger(value) ? value : Number.NaN;
  const m = MEMORY_TEXT.exec(value);
  if (m === null) return Number.NaN;
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

/** A memory quantity: `"NNMi"`, `"NNGi"` or a whole number of MiB → MiB. */
export const memoryQuantity = z
  .union([z.number(), z.string()])
  .superRefine((v, ctx) => {
    const mib = memoryMiB(v);
    if (Number.isNaN(mib)) ctx.addIssue({ code: 'custom', message: 'not a memory size ("64Mi", "2Gi" or a whole number of MiB)' });
    else if (mib < SPEC_MIN_MEMORY_MIB || mib > SPEC_MAX_MEMORY_MIB) ctx.addIssue({ code: 'custom', message: MEMORY_MESSAGE });
  })
  .transform((v) => memoryMiB(v))
  .meta({ pattern: '^\\d{1,7}(Mi|Gi)$', description: 'Memory limit: "64Mi", "2Gi" or a whole number of MiB.' });
