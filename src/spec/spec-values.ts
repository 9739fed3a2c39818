import { z } from 'zod';
import { ipAddress, ipPrefix, ipv4AddressField, ipv4CidrField, portRange } from '../config/net-schemas.ts';
import { parseTaggedGatewayAddress } from '../gateway/gateway-config.ts';
import { parseIpv4 } from '../packet/ipv4.ts';
import { parseIpv6, type Ipv6Address } from '../packet/ipv6-address.ts';
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
  if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message, params: (issue as { params?: Record<string, unknown> }).params });
}

/** A DNS label: `a-z`, `0-9` and `-`, not starting or ending with `-`, at most 63 characters. */
export const dnsLabel = z
  .string()
  .max(63, 'at most 63 characters')
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'lowercase letters, digits and "-" (a DNS label, e.g. "web-edge")')
  .meta({ description: 'DNS label: [a-z0-9-], at most 63 characters, no leading or trailing "-".' });

/**
 * An IPv4 address in dotted-quad form, kept as text, for a field whose consumer carries
 * IPv4 only for now: a valid IPv6 address is refused as not supported yet (`why` says
 * why; code `NFVKIT_ERR_IPV6_UNSUPPORTED`), see `ipv4AddressField`.
 */
export function ipv4AddressTextFor(why?: string) {
  const field = ipv4AddressField(why);
  return z
    .string()
    .superRefine((s, ctx) => checkWith(field, s, ctx))
    .meta({ format: 'ipv4', description: 'IPv4 address (dotted quad).' });
}

/**
 * An IPv4 CIDR block (`a.b.c.d/len`; a bare address means /32), kept as text, for a field
 * whose consumer carries IPv4 only for now (IPv6 refused as in `ipv4AddressTextFor`).
 */
export function ipv4CidrTextFor(why?: string) {
  const field = ipv4CidrField(why);
  return z
    .string()
    .superRefine((s, ctx) => checkWith(field, s, ctx))
    .meta({ pattern: '^(any|\\d{1,3}(\\.\\d{1,3}){3}(/\\d{1,2})?)$', description: 'IPv4 CIDR block, a.b.c.d/len (a bare address is /32; "any" is 0.0.0.0/0).' });
}

/** An IPv4 address in dotted-quad form, kept as text (IPv6: not supported yet, `ipv4AddressTextFor`). */
export const ipv4AddressText = ipv4AddressTextFor();

/** An IPv4 CIDR block (`a.b.c.d/len`; a bare address means /32), kept as text (IPv6: not supported yet, `ipv4CidrTextFor`). */
export const ipv4CidrText = ipv4CidrTextFor();

/** An address of either family (`198.18.0.1`, `2001:db8::1`), kept as written; `ipAddress` parses it. */
export const ipAddressText = z
  .string()
  .superRefine((s, ctx) => checkWith(ipAddress, s, ctx))
  .meta({ anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }], description: 'IPv4 address (dotted quad) or IPv6 address (RFC 4291 text, no zone id).' });

/** A prefix of either family (`198.18.2.0/24`, `2001:db8:2::/64`; a bare address is /32 or /128), kept as written; `ipPrefix` parses it. */
export const ipPrefixText = z
  .string()
  .superRefine((s, ctx) => checkWith(ipPrefix, s, ctx))
  .meta({ description: 'IPv4 prefix a.b.c.d/len or IPv6 prefix such as 2001:db8::/32 (a bare address is /32 or /128).' });

/**
 * A gateway's interface or proxy address with its prefix, of either family (`198.18.1.1/24`,
 * `2001:db8:1::1/64`; host bits kept; a bare address is /32 or /128), kept as text: the
 * gateway answers ARP for the IPv4 ones and neighbour solicitations for the IPv6 ones.
 */
export const gatewayAddressText = z
  .string()
  .superRefine((s, ctx) => {
    if (parseTaggedGatewayAddress(s) === undefined) ctx.addIssue({ code: 'custom', message: 'not an address with prefix (a.b.c.d/len or 2001:db8:1::1/64)' });
  })
  .meta({ description: 'Interface address with its prefix: a.b.c.d/len or an IPv6 address/len (2001:db8:1::1/64).' });

/** A port (`80`) or an inclusive range (`"8000-8080"`), kept as written. */
export const portOrRangeText = z
  .union([z.number(), z.string()])
  .superRefine((v, ctx) => checkWith(portRange, v, ctx))
  .meta({ pattern: '^(any|\\d{1,5}(-\\d{1,5})?)$', description: 'A port (0-65535) or an inclusive range "from-to".' });

const ENDPOINT_MESSAGE = 'not an address:port (e.g. "198.18.2.100:80" or "[2001:db8::1]:80", port 1-65535)';

/** Whether `p` is a port 1–65535 written as digits. */
function isEndpointPort(p: string): boolean {
  return /^\d{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535;
}

/** A parsed service endpoint, tagged with its family. */
export type Endpoint = { readonly family: 4; readonly addr: number; readonly port: number } | { readonly family: 6; readonly addr: Ipv6Address; readonly port: number };

/**
 * Parses `"a.b.c.d:port"` or `"[2001:db8::1]:port"` (port 1–65535); `undefined` when malformed.
 *
 * @example
 * ```ts
 * parseEndpoint('[2001:db8::1]:80'); // { family: 6, addr: [0x20010db8, 0, 0, 1], port: 80 }
 * ```
 */
export function parseEndpoint(text: string): Endpoint | undefined {
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (v6 !== null) {
    const addr = parseIpv6(v6[1]);
    return addr !== undefined && isEndpointPort(v6[2]) ? { family: 6, addr, port: Number(v6[2]) } : undefined;
  }
  const at = text.lastIndexOf(':');
  const addr = at >= 0 ? parseIpv4(text.slice(0, at)) : undefined;
  return addr !== undefined && isEndpointPort(text.slice(at + 1)) ? { family: 4, addr, port: Number(text.slice(at + 1)) } : undefined;
}

/** A service endpoint `"a.b.c.d:port"` or `"[2001:db8::1]:port"` (port 1–65535), kept as written; {@link parseEndpoint} parses it. */
export const endpointText = z
  .string()
  .superRefine((s, ctx) => {
    if (parseEndpoint(s) === undefined) ctx.addIssue({ code: 'custom', message: ENDPOINT_MESSAGE });
  })
  .meta({ pattern: '^(\\d{1,3}(\\.\\d{1,3}){3}|\\[[0-9A-Fa-f:.]+\\]):\\d{1,5}$', description: 'Address and port: "a.b.c.d:port" or "[2001:db8::1]:port".' });

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
