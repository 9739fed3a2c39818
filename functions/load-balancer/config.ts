import { z } from 'zod';
import { ipv4AddressField, port } from '../../src/config/net-schemas.ts';
import { conntrackConfigSchema } from '../../src/conntrack/conntrack-config.ts';
import { isPrime } from '../../src/flow/maglev-permutation.ts';
import { MAGLEV_DEFAULT_TABLE_SIZE, MAGLEV_MAX_TABLE_SIZE, MAGLEV_MAX_WEIGHT } from '../../src/flow/maglev.ts';

/** IP protocol numbers a service may balance. */
const SERVICE_PROTOCOLS = { tcp: 6, udp: 17 } as const;
/** Most Maglev slots over all services (4 bytes each: 256 MiB). */
const MAX_TOTAL_SLOTS = 1 << 26;

/** VIPs and backend addresses: IPv4; an IPv6 one is refused as not supported yet (`NFVKIT_ERR_IPV6_UNSUPPORTED`). */
const ipv4Address = ipv4AddressField('the load balancer balances IPv4 only for now');

const backendSchema = z
  .object({
    /** Backend IPv4 address (dotted quad). */
    address: ipv4Address,
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
    /** Virtual IPv4 address clients connect to. */
    vip: ipv4Address,
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
 * Cross-field rules: each VIP (address, port, protocol) appears once; a backend
 * (address, port) appears once per service and is never itself a VIP; service names are
 * unique; the Maglev table has at least as many slots as any service has backends.
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
    /** IPv4 packets the balancer does not translate: `forward` unchanged (default) or `drop`. */
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
      const key = endpointKey(s.vip, s.port, s.proto);
      const first = vips.get(key);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'vip'], message: `duplicate VIP ${key} (also services[${first}])` });
      } else vips.set(key, i);
      const name = serviceName(s);
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
        if (vips.has(key)) ctx.addIssue({ code: 'custom', path: ['services', i, 'backends', k, 'address'], message: `backend ${key} is also a VIP` });
      });
    });
  });

/** The `load-balancer` configuration as written (before defaults and parsing). */
export type LoadBalancerConfigInput = z.input<typeof loadBalancerConfigSchema>;
/** The validated `load-balancer` configuration (addresses as u32, protocols as numbers). */
export type LoadBalancerConfig = z.output<typeof loadBalancerConfigSchema>;
/** One validated service. */
export type LoadBalancerService = LoadBalancerConfig['services'][number];

/**
 * Dotted-quad form of a u32 address (control plane: allocates).
 *
 * @example
 * ```ts
 * formatIpv4(0xc6120064); // '198.18.0.100'
 * ```
 */
export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 255}.${(addr >>> 8) & 255}.${addr & 255}`;
}

/**
 * `a.b.c.d:port/tcp`: how services and backends are named in messages and counters.
 *
 * @example
 * ```ts
 * endpointKey(0xc6120064, 80, 6); // '198.18.0.100:80/tcp'
 * ```
 */
export function endpointKey(addr: number, p: number, proto: number): string {
  return `${formatIpv4(addr)}:${p}/${proto === 6 ? 'tcp' : proto === 17 ? 'udp' : String(proto)}`;
}

/** The name of a service: its `name`, or its VIP endpoint. */
export function serviceName(s: Pick<LoadBalancerService, 'name' | 'vip' | 'port' | 'proto'>): string {
  return s.name ?? endpointKey(s.vip, s.port, s.proto);
}
