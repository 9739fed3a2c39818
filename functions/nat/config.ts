import { z } from 'zod';
import { ipv4AddressField, ipv4CidrField, parseIpPrefix, port, portRange, type Cidr } from '../../src/config/net-schemas.ts';
import { ipv4ToString } from '../../src/packet/ipv4.ts';
import type { Ipv6Address } from '../../src/packet/ipv6-address.ts';
import { NAT64_PREFIX_LENGTHS } from './nat64-address.ts';

/** Most distinct external addresses (SNAT pool plus port-forward addresses). */
export const NAT_MAX_EXTERNAL_ADDRESSES = 64;
/** Most external ports all port forwards together may reserve. */
export const NAT_MAX_FORWARDED_PORTS = 65536;
/** Largest mapping table capacity. */
export const NAT_MAX_CAPACITY = 1 << 22;

/**
 * Idle timeouts in SECONDS. Defaults are the RFC minimums for a NAT: TCP established
 * 2 h 4 min and transitory 4 min (RFC 5382 REQ-5), UDP 5 min (RFC 4787 REQ-5), ICMP query
 * 60 s (RFC 5508 REQ-1).
 */
export const DEFAULT_NAT_TIMEOUTS = Object.freeze({ tcpEstablished: 7440, tcpTransitory: 240, udp: 300, icmp: 60 });

/** Why an IPv6 address or prefix is refused (`NFVKIT_ERR_IPV6_UNSUPPORTED`) in the NAT44 address fields. */
const NAT_IPV4_ONLY = 'the SNAT pool and port forwards are IPv4 (IPv6 passes untranslated; IPv6 clients reach IPv4 through `nat64`)';
const ipv4Address = ipv4AddressField(NAT_IPV4_ONLY);
const ipv4Cidr = ipv4CidrField(NAT_IPV4_ONLY);

const seconds = z.number().positive('timeout must be a positive number of seconds').finite();

const snatSchema = z
  .object({
    /** External addresses: one CIDR/address string or a list of them (every address of a CIDR is used). */
    addresses: z.union([ipv4Cidr, z.array(ipv4Cidr).min(1, 'at least one address')]),
    /** Port (and ICMP identifier) range handed out on each address; default 1024-65535. */
    ports: portRange.optional(),
    /** Source networks to translate; default every source. Other sources pass untranslated. */
    match: z.array(ipv4Cidr).min(1, 'at least one CIDR (omit `match` to translate every source)').optional(),
  })
  .strict();

/** An IPv6 prefix (`2001:db8::/32`; a bare address is /128), host bits cleared: `{ addr, prefix }`. */
const ipv6Prefix = z
  .string()
  .superRefine((s, ctx) => {
    const r = parseIpPrefix(s);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
    else if (r.family !== 6) ctx.addIssue({ code: 'custom', message: `${s}: an IPv4 prefix; NAT64 takes IPv6 prefixes here (2001:db8::/32)` });
  })
  .transform((s) => {
    const r = parseIpPrefix(s) as { addr: Ipv6Address; prefix: number };
    return { addr: r.addr, prefix: r.prefix };
  });

/** The NAT64 prefix RFC 6052 §2.1 reserves. */
export const NAT64_DEFAULT_PREFIX = '64:ff9b::/96';

const nat64Schema = z
  .object({
    /** RFC 6052 prefix the IPv4 Internet is seen through from the inside: /32, /40, /48, /56, /64 or /96; default 64:ff9b::/96. */
    prefix: ipv6Prefix.optional(),
    /** IPv6 source networks to translate; default every source. Others pass untranslated. */
    match: z.array(ipv6Prefix).min(1, 'at least one IPv6 prefix (omit `match` to translate every source)').optional(),
  })
  .strict()
  .superRefine((n, ctx) => {
    const p = n.prefix;
    if (typeof p !== 'object') return; // absent, or refused at its field already
    if (!NAT64_PREFIX_LENGTHS.includes(p.prefix)) {
      ctx.addIssue({ code: 'custom', path: ['prefix'], message: `/${p.prefix}: RFC 6052 NAT64 prefixes are /${NAT64_PREFIX_LENGTHS.join(', /')}` });
    } else if ((p.addr[2] & 0xff000000) !== 0) {
      ctx.addIssue({ code: 'custom', path: ['prefix'], message: 'bits 64-71 (the "u" octet) of a NAT64 prefix must be zero (RFC 6052 §2.2)' });
    }
  });

const portForwardSchema = z
  .object({
    protocol: z.enum(['tcp', 'udp']),
    externalAddress: ipv4Address,
    /** One port or a range; a range maps one to one onto internalPort… */
    externalPort: portRange,
    internalAddress: ipv4Address,
    /** First internal port; default the (first) external port. */
    internalPort: port.optional(),
  })
  .strict();

/**
 * Configuration of the `nat` function, as written in a chain spec (human forms: dotted
 * quads, CIDRs, `"from-to"` ranges). Cross-field rules (address and port limits, forwards
 * that overlap or would break endpoint-independence) are reported with their field path.
 *
 * @example
 * ```ts
 * natConfigSchema.parse({
 *   snat: { addresses: '198.18.100.0/30', ports: '1024-65535', match: ['10.0.0.0/8'] },
 *   portForwards: [{ protocol: 'tcp', externalAddress: '198.18.100.1', externalPort: 8080, internalAddress: '10.0.0.5', internalPort: 80 }],
 *   timeouts: { udp: 120 },
 * });
 * ```
 */
export const natConfigSchema = z
  .object({
    /** Source NAT / masquerade of inside-to-outside traffic onto an external pool. */
    snat: snatSchema.optional(),
    /** Static DNAT: external address:port on the outside → internal address:port. */
    portForwards: z.array(portForwardSchema).optional(),
    /**
     * Stateful NAT64 (RFC 6146): inside IPv6 hosts reach IPv4 hosts at addresses embedded in
     * `prefix` (RFC 6052), mapped onto the SNAT pool (`snat.addresses`, `snat.ports`). `{}`
     * takes the defaults.
     */
    nat64: nat64Schema.optional(),
    /** Idle timeouts in seconds (see {@link DEFAULT_NAT_TIMEOUTS}). */
    timeouts: z
      .object({ tcpEstablished: seconds.optional(), tcpTransitory: seconds.optional(), udp: seconds.optional(), icmp: seconds.optional() })
      .strict()
      .optional(),
    /** Most live dynamic mappings (all protocols); default 65536. */
    capacity: z.number().int().min(1).max(NAT_MAX_CAPACITY).optional(),
    /** Inside hosts reach each other through external addresses (RFC 4787 REQ-9); default true. */
    hairpinning: z.boolean().optional(),
    /** Inbound packets also refresh a mapping's timer (RFC 4787 REQ-6 allows it); default true. */
    inboundRefresh: z.boolean().optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.snat === undefined && (cfg.portForwards === undefined || cfg.portForwards.length === 0)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'nothing to translate: give `snat`, `portForwards` or both' });
    }
    if (cfg.nat64 !== undefined && cfg.snat === undefined) {
      ctx.addIssue({ code: 'custom', path: ['nat64'], message: 'NAT64 maps IPv6 clients onto the SNAT pool: give `snat.addresses` too' });
    }
    const external = new Set<number>();
    if (cfg.snat !== undefined) {
      const list = Array.isArray(cfg.snat.addresses) ? cfg.snat.addresses : [cfg.snat.addresses];
      let count = 0;
      for (const c of list) count += 2 ** (32 - c.prefix);
      if (count > NAT_MAX_EXTERNAL_ADDRESSES) {
        ctx.addIssue({ code: 'custom', path: ['snat', 'addresses'], message: `${count} addresses; at most ${NAT_MAX_EXTERNAL_ADDRESSES}` });
      } else {
        for (const a of expandAddresses(list)) external.add(a);
      }
      const range = cfg.snat.ports;
      if (range !== undefined && range.from === 0) {
        ctx.addIssue({ code: 'custom', path: ['snat', 'ports'], message: 'port 0 cannot be handed out; start the range at 1 or above' });
      }
    }
    const extSeen = new Map<string, number>();
    const intSeen = new Map<string, number>();
    let forwarded = 0;
    (cfg.portForwards ?? []).forEach((f, i) => {
      external.add(f.externalAddress);
      const size = f.externalPort.to - f.externalPort.from + 1;
      forwarded += size;
      const intFrom = f.internalPort ?? f.externalPort.from;
      if (f.externalPort.from === 0) {
        ctx.addIssue({ code: 'custom', path: ['portForwards', i, 'externalPort'], message: 'port 0 cannot be forwarded' });
      }
      if (intFrom === 0 || intFrom + size - 1 > 65535) {
        ctx.addIssue({ code: 'custom', path: ['portForwards', i, 'internalPort'], message: `internal ports ${intFrom}-${intFrom + size - 1} out of range 1-65535` });
        return;
      }
      for (let k = 0; k < size && size <= NAT_MAX_FORWARDED_PORTS; k++) {
        const ext = `${f.protocol}/${f.externalAddress}/${f.externalPort.from + k}`;
        const other = extSeen.get(ext);
        if (other !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['portForwards', i, 'externalPort'], message: `overlaps portForwards[${other}] on ${f.protocol} ${ipv4ToString(f.externalAddress)}:${f.externalPort.from + k}` });
          return;
        }
        extSeen.set(ext, i);
        const int = `${f.protocol}/${f.internalAddress}/${intFrom + k}`;
        const otherInt = intSeen.get(int);
        if (otherInt !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['portForwards', i, 'internalPort'],
            message: `internal endpoint ${ipv4ToString(f.internalAddress)}:${intFrom + k} is already forwarded by portForwards[${otherInt}] (one internal endpoint has one external endpoint)`,
          });
          return;
        }
        intSeen.set(int, i);
      }
    });
    if (forwarded > NAT_MAX_FORWARDED_PORTS) {
      ctx.addIssue({ code: 'custom', path: ['portForwards'], message: `${forwarded} forwarded ports; at most ${NAT_MAX_FORWARDED_PORTS}` });
    }
    if (external.size > NAT_MAX_EXTERNAL_ADDRESSES) {
      ctx.addIssue({ code: 'custom', path: ['portForwards'], message: `${external.size} external addresses with the SNAT pool; at most ${NAT_MAX_EXTERNAL_ADDRESSES}` });
    }
  });

/** The validated configuration (numeric forms). */
export type NatConfig = z.output<typeof natConfigSchema>;

/** The configuration as written (human forms), e.g. for typed chain specs and benches. */
export type NatConfigInput = z.input<typeof natConfigSchema>;

/**
 * Every address of the given CIDR blocks, deduplicated, in first-seen order.
 *
 * @example
 * ```ts
 * expandAddresses([ipv4Cidr.parse('198.18.100.0/31')]); // [0xc6126400, 0xc6126401]
 * ```
 */
export function expandAddresses(blocks: readonly Cidr[]): number[] {
  const out = new Set<number>();
  for (const b of blocks) {
    const n = 2 ** (32 - b.prefix);
    for (let k = 0; k < n; k++) out.add((b.addr + k) >>> 0);
  }
  return [...out];
}
