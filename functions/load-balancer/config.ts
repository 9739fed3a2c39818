import { z } from 'zod';
import { ipAddress, port, type IpAddress } from '../../src/config/net-schemas.ts';
import { formatIpv6 } from '../../src/packet/ipv6-address.ts';
import { conntrackConfigSchema } from '../../src/conntrack/conntrack-config.ts';
import { isPrime } from '../../src/flow/maglev-permutation.ts';
import { MAGLEV_DEFAULT_TABLE_SIZE, MAGLEV_MAX_TABLE_SIZE, MAGLEV_MAX_WEIGHT } from '../../src/flow/maglev.ts';

/** IP protocol numbers a service may balance. */
const SERVICE_PROTOCOLS = { tcp: 6, udp: 17 } as const;
/** Most Maglev slots over all services (4 bytes each: 256 MiB). */
const MAX_TOTAL_SLOTS = 1 << 26;

/**
 * VIPs and backend addresses: IPv4 or IPv6, tagged with the family. An IPv4-mapped IPv6
 * address (`::ffff:a.b.c.d`) is refused: it never appears on the wire, so a service on it
 * would balance nothing (write the IPv4 address).
 */
const lbAddress = ipAddress.superRefine((a, ctx) => {
  if (ipv4Mapped(a)) {
    ctx.addIssue({ code: 'custom', message: `${formatAddress(a)} is an IPv4-mapped IPv6 address, which no packet carries: write the IPv4 address` });
  }
});

const backendSchema = z
  .object({
    /** Backend address: the family of the service's VIP (IPv4 dotted quad, or IPv6). */
    address: lbAddress,
    /** Backend port; default: the service port. */
    port: port.optional(),
    /** Share of new flows, relative to the other backends of the service. */
    weight: z.number().int('weight must be an integer').min(1, 'weight must be >= 1').max(MAGLEV_MAX_WEIGHT, `weight must be <= ${MAGLEV_MAX_WEIGHT}`).default(1),
    /** `draining`: keeps its existing flows, gets no new ones. */
    state: z.enum(['active', 'draining']).default('active'),
  })
  .strict();

const serviceSchema = z
  .object({
    /** Label for counters and docs; default `vip:port/proto`. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'name: letters, digits, ".", "_", "-" (max 63)').optional(),
    /** Virtual address clients connect to, IPv4 or IPv6: the service's family. */
    vip: lbAddress,
    /** Virtual port (1–65535). */
    port: port.refine((p) => p !== 0, 'service port must be 1-65535'),
    /** `tcp` (default) or `udp`. */
    proto: z.enum(['tcp', 'udp']).default('tcp').transform((p) => SERVICE_PROTOCOLS[p]),
    backends: z.array(backendSchema).min(1, 'a service needs at least one backend'),
  })
  .strict();

/**
 * Configuration schema of the `load-balancer` function (zod; validated and baked into the
 * image by the pipeline compiler). Field paths in errors follow the input
 * (`services[1].backends[0].weight`).
 *
 * Cross-field rules: a service is one family (its backends have its VIP's family; IPv4
 * and IPv6 services may sit side by side); each VIP (address, port, protocol) appears
 * once; a backend (address, port) appears once per service and is never itself a VIP;
 * service names are unique; the Maglev table has at least as many slots as any service
 * has backends.
 *
 * @example
 * ```ts
 * const cfg = loadBalancerConfigSchema.parse({
 *   services: [{ vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.2', port: 8080, weight: 2 }] }],
 * });
 * ```
 */
export const loadBalancerConfigSchema = z
  .object({
    services: z.array(serviceSchema).min(1, 'at least one service is needed'),
    /** Side the clients are on; the servers are on the other one. Default `inside` (eth0). */
    clientSide: z.enum(['inside', 'outside']).default('inside'),
    /** IP packets (either family) the balancer does not translate: `forward` unchanged (default) or `drop`. */
    nonVipTraffic: z.enum(['forward', 'drop']).default('forward'),
    /** Maglev lookup-table size M per service: a prime ≤ 2^24 (default 65537). */
    maglevTableSize: z
      .number()
      .int()
      .refine((m) => isPrime(m), 'maglevTableSize must be a prime')
      .refine((m) => m <= MAGLEV_MAX_TABLE_SIZE, `maglevTableSize must be <= ${MAGLEV_MAX_TABLE_SIZE}`)
      .default(MAGLEV_DEFAULT_TABLE_SIZE),
    /** Seed of the flow hash: balancers that must agree on picks share it. Default 0. */
    hashSeed: z.number().int().min(0).max(0xffffffff).default(0),
    conntrack: conntrackConfigSchema.prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const vips = new Map<string, number>();
    const names = new Map<string, number>();
    cfg.services.forEach((s, i) => {
      // A malformed VIP is reported at its field and compared with nothing.
      const key = typeof s.vip === 'object' ? endpointKey(s.vip, s.port, s.proto) : undefined;
      const first = key === undefined ? undefined : vips.get(key);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'vip'], message: `duplicate VIP ${key} (also services[${first}])` });
      } else if (key !== undefined) vips.set(key, i);
      const name = s.name ?? key;
      if (name === undefined) return;
      const sameName = names.get(name);
      if (sameName !== undefined) ctx.addIssue({ code: 'custom', path: ['services', i, 'name'], message: `duplicate service name "${name}" (also services[${sameName}])` });
      else names.set(name, i);
      if (s.backends.length > cfg.maglevTableSize) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'backends'], message: `${s.backends.length} backends do not fit a Maglev table of ${cfg.maglevTableSize} slots` });
      }
    });
    if (cfg.services.length * cfg.maglevTableSize > MAX_TOTAL_SLOTS) {
      ctx.addIssue({
        code: 'custom',
        path: ['maglevTableSize'],
        message: `${cfg.services.length} services × ${cfg.maglevTableSize} slots exceed ${MAX_TOTAL_SLOTS} Maglev slots (4 bytes each); use a smaller prime`,
      });
    }
    cfg.services.forEach((s, i) => {
      const seen = new Map<string, number>();
      s.backends.forEach((b, k) => {
        const bport = b.port ?? s.port;
        const key = endpointKey(b.address, bport, s.proto);
        const again = seen.get(key);
        if (again !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['services', i, 'backends', k], message: `duplicate backend ${key} (also backends[${again}])` });
        } else seen.set(key, k);
        if (bport === 0) ctx.addIssue({ code: 'custom', path: ['services', i, 'backends', k, 'port'], message: 'backend port must be 1-65535' });
        // Only where both are addresses (a malformed one is reported at its field already).
        if (typeof b.address === 'object' && typeof s.vip === 'object' && !ipv4Mapped(b.address) && !ipv4Mapped(s.vip) && b.address.family !== s.vip.family) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', i, 'backends', k, 'address'],
            message: `backend ${formatAddress(b.address)} is IPv${b.address.family} but the service's VIP ${formatAddress(s.vip)} is IPv${s.vip.family}: a service balances within one family (make an IPv${b.address.family} service beside it)`,
          });
        }
        if (vips.has(key)) ctx.addIssue({ code: 'custom', path: ['services', i, 'backends', k, 'address'], message: `backend ${key} is also a VIP` });
      });
    });
  });

/** True for an IPv4-mapped IPv6 address (`::ffff:0:0/96`). */
function ipv4Mapped(a: IpAddress): boolean {
  return a.family === 6 && a.addr[0] === 0 && a.addr[1] === 0 && a.addr[2] === 0xffff;
}

/** The `load-balancer` configuration as written (before defaults and parsing). */
export type LoadBalancerConfigInput = z.input<typeof loadBalancerConfigSchema>;
/** The validated `load-balancer` configuration (addresses tagged with their family, protocols as numbers). */
export type LoadBalancerConfig = z.output<typeof loadBalancerConfigSchema>;
/** One validated service. */
export type LoadBalancerService = LoadBalancerConfig['services'][number];

/**
 * Text of an address: dotted quad for IPv4, RFC 5952 for IPv6 (control plane: allocates).
 *
 * @example
 * ```ts
 * formatAddress({ family: 4, addr: 0xc6120064 });               // '198.18.0.100'
 * formatAddress({ family: 6, addr: [0x20010db8, 0, 0, 0x100] }); // '2001:db8::100'
 * ```
 */
export function formatAddress(a: IpAddress): string {
  if (a.family === 6) return formatIpv6(a.addr);
  const n = a.addr;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * `address:port` as endpoints are written: `198.18.0.100:80`, `[2001:db8::100]:80`.
 *
 * @example
 * ```ts
 * hostPort({ family: 6, addr: [0x20010db8, 0, 0, 1] }, 8080); // '[2001:db8::1]:8080'
 * ```
 */
export function hostPort(a: IpAddress, p: number): string {
  return a.family === 6 ? `[${formatAddress(a)}]:${p}` : `${formatAddress(a)}:${p}`;
}

/**
 * `address:port/proto`: how services and backends are named in messages and counters.
 *
 * @example
 * ```ts
 * endpointKey({ family: 4, addr: 0xc6120064 }, 80, 6); // '198.18.0.100:80/tcp'
 * ```
 */
export function endpointKey(addr: IpAddress, p: number, proto: number): string {
  return `${hostPort(addr, p)}/${proto === 6 ? 'tcp' : proto === 17 ? 'udp' : String(proto)}`;
}

/** The name of a service: its `name`, or its VIP endpoint. */
export function serviceName(s: Pick<LoadBalancerService, 'name' | 'vip' | 'port' | 'proto'>): string {
  return s.name ?? endpointKey(s.vip, s.port, s.proto);
}
