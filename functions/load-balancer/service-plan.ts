import { z } from 'zod';
import type { IpAddress } from '../../src/config/net-schemas.ts';
import { type LoadBalancerConfig, endpointKey, hostPort, serviceName } from './config.ts';
import { BackendState } from './backend-state.ts';

/** One virtual service of a {@link LbPlan}. */
export interface LbPlanService {
  /** Service name (`name` from the config, else `vip:port/proto`). */
  name: string;
  /** 4 or 6: the family of the VIP and of every backend of the service. */
  family: number;
  /** The VIP as address words: `[u32]` for IPv4, four u32 words (most significant first) for IPv6. */
  vip: number[];
  port: number;
  proto: number;
  /** Index of its first backend in {@link LbPlan.backends}; its backends are contiguous. */
  first: number;
  count: number;
}

/** One backend of a {@link LbPlan}; its index in `backends` is its global backend index. */
export interface LbPlanBackend {
  /** Maglev identity, `a.b.c.d:port` or `[2001:db8::1]:port`: stable across configs, so other backends' slots stay. */
  name: string;
  service: number;
  /** Address words in its service's family (see {@link LbPlanService.vip}). */
  address: number[];
  port: number;
  weight: number;
  /** {@link BackendState} value from the config (ACTIVE or DRAINING). */
  state: number;
}

/**
 * The load balancer's configuration flattened for the data plane: services with their
 * backends in one global list (a backend's index there names it in conntrack user slot 0,
 * in the per-backend counters and in the control array). JSON-serialisable: the element
 * bakes it into the generated module.
 *
 * @example
 * ```ts
 * const plan = planLoadBalancer(loadBalancerConfigSchema.parse(raw));
 * plan.backends[plan.services[0].first].name; // '198.19.0.1:8080'
 * ```
 */
export interface LbPlan {
  /** Side number the clients are on (0 inside, 1 outside); servers are on the other. */
  clientSide: number;
  /** Drop (true) or forward (false) IP packets (either family) that are not translated. */
  nonVipDrop: boolean;
  /** Maglev table size M (prime). */
  tableSize: number;
  /** Seed of the flow hash that indexes the Maglev tables. */
  hashSeed: number;
  conntrack: {
    capacity: number;
    timeouts: Record<string, number>;
    whenFull: 'evict' | 'refuse';
  };
  services: LbPlanService[];
  backends: LbPlanBackend[];
}

const u32 = z.number().int().min(0).max(0xffffffff);
const u16 = z.number().int().min(0).max(0xffff);
/** Address words: one for IPv4, four for IPv6 (checked against the service's family below). */
const words = z.array(u32).min(1).max(4);

/** Schema of {@link LbPlan}, the `lb-maglev` element's configuration (numeric, pre-validated). */
export const lbPlanSchema: z.ZodType<LbPlan> = z
  .object({
    clientSide: z.number().int().min(0).max(1),
    nonVipDrop: z.boolean(),
    tableSize: z.number().int().min(1),
    hashSeed: u32,
    conntrack: z
      .object({
        capacity: z.number().int().min(2),
        timeouts: z.record(z.string(), z.number().min(0)),
        whenFull: z.enum(['evict', 'refuse']),
      })
      .strict(),
    services: z.array(
      z
        .object({ name: z.string(), family: z.union([z.literal(4), z.literal(6)]), vip: words, port: u16, proto: z.number().int(), first: z.number().int().min(0), count: z.number().int().min(1) })
        .strict()
        .refine((s) => s.vip.length === (s.family === 6 ? 4 : 1), { message: 'vip: one word for IPv4, four for IPv6', path: ['vip'] }),
    ),
    backends: z.array(
      z
        .object({
          name: z.string().min(1),
          service: z.number().int().min(0),
          address: words,
          port: u16,
          weight: z.number().int().min(1),
          state: z.number().int().min(0).max(2),
        })
        .strict(),
    ),
  })
  .strict()
  .superRefine((plan, ctx) => {
    plan.backends.forEach((b, i) => {
      const s = plan.services[b.service];
      if (s !== undefined && b.address.length !== s.vip.length) ctx.addIssue({ code: 'custom', path: ['backends', i, 'address'], message: `a backend has its service's family (IPv${s.family})` });
    });
  });

/** An address as plan words: `[u32]` for IPv4, the four words of an IPv6 address. */
function wordsOf(a: IpAddress): number[] {
  return a.family === 6 ? [...a.addr] : [a.addr];
}

/**
 * Flattens a validated configuration into an {@link LbPlan}. Deterministic: same config,
 * same plan (services and backends keep their config order). Control plane.
 *
 * @example
 * ```ts
 * const plan = planLoadBalancer(cfg);
 * console.log(plan.backends.map((b) => b.name));
 * ```
 */
export function planLoadBalancer(cfg: LoadBalancerConfig): LbPlan {
  const services: LbPlanService[] = [];
  const backends: LbPlanBackend[] = [];
  cfg.services.forEach((s, i) => {
    services.push({ name: serviceName(s), family: s.vip.family, vip: wordsOf(s.vip), port: s.port, proto: s.proto, first: backends.length, count: s.backends.length });
    for (const b of s.backends) {
      const p = b.port ?? s.port;
      backends.push({
        name: hostPort(b.address, p),
        service: i,
        address: wordsOf(b.address),
        port: p,
        weight: b.weight,
        state: b.state === 'draining' ? BackendState.DRAINING : BackendState.ACTIVE,
      });
    }
  });
  const timeouts: Record<string, number> = {};
  for (const [k, v] of Object.entries(cfg.conntrack.timeouts)) if (v !== undefined) timeouts[k] = v;
  return {
    clientSide: cfg.clientSide === 'inside' ? 0 : 1,
    nonVipDrop: cfg.nonVipTraffic === 'drop',
    tableSize: cfg.maglevTableSize,
    hashSeed: cfg.hashSeed,
    conntrack: { capacity: cfg.conntrack.capacity, timeouts, whenFull: cfg.conntrack.whenFull },
    services,
    backends,
  };
}

/**
 * Human label of backend `b` of `plan` (counter help, messages).
 *
 * @example
 * ```ts
 * backendLabel(plan, 0); // '198.19.0.1:8080/tcp of service web'
 * ```
 */
export function backendLabel(plan: LbPlan, b: number): string {
  const be = plan.backends[b];
  const s = plan.services[be.service];
  return `${endpointKey(planAddress(be.address), be.port, s.proto)} of service ${s.name}`;
}

/**
 * The tagged address of plan words (control plane).
 *
 * @example
 * ```ts
 * formatAddress(planAddress(plan.backends[0].address)); // '2001:db8:1::1'
 * ```
 */
export function planAddress(words: readonly number[]): IpAddress {
  return words.length === 4 ? { family: 6, addr: [words[0], words[1], words[2], words[3]] } : { family: 4, addr: words[0] };
}
