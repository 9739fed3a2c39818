import { z } from 'zod';
import { DEFAULT_NAT_TIMEOUTS, expandAddresses, NAT_MAX_CAPACITY, NAT_MAX_EXTERNAL_ADDRESSES, type NatConfig } from './config.ts';
import { NatProto } from './nat-proto.ts';
import { NAT64_PREFIX_LENGTHS, NAT64_WELL_KNOWN_PREFIX, nat64PrefixLayout, type Nat64PrefixLayout } from './nat64-address.ts';
import { ipv6Mask } from '../../src/packet/ipv6-address.ts';

/**
 * A port forward: `count` consecutive external ports from `extPort` onto as many internal
 * ports from `intPort`, each a static mapping that never expires.
 */
export interface NatForward {
  /** {@link NatProto} index. */
  proto: number;
  /** Index into `NatPlan.externalAddresses`. */
  extAddrIndex: number;
  extPort: number;
  intAddr: number;
  intPort: number;
  count: number;
}

/**
 * What the `nat` element bakes into an image: the configuration reduced to plain numbers
 * and arrays (JSON-serialisable, so the generated source is deterministic) from which
 * `NatEngine` builds its tables when an instance starts.
 *
 * @example
 * ```ts
 * const plan = planNat(natConfigSchema.parse({ snat: { addresses: '198.18.100.1' } }));
 * plan.externalAddresses; // [0xc6126401]
 * ```
 */
export interface NatPlan {
  /** Every external address (SNAT pool and port-forward addresses), sorted ascending, unique. */
  externalAddresses: number[];
  /** Indexes into `externalAddresses` of the SNAT pool, in configuration order (empty: no SNAT). */
  poolAddressIndexes: number[];
  /** Inclusive port / ICMP identifier range handed out on each pool address. */
  portFrom: number;
  portTo: number;
  /** Hidden (translated) source networks as [addr, mask] pairs; empty when there is no SNAT. */
  match: Array<[number, number]>;
  /** Port forwards (ranges; together at most 65536 ports). */
  forwards: NatForward[];
  /** Idle timeouts in MILLISECONDS: [tcpTransitory, tcpEstablished, udp, icmp]. */
  timeoutsMs: [number, number, number, number];
  /** Most live dynamic mappings. */
  capacity: number;
  hairpinning: boolean;
  inboundRefresh: boolean;
  /** NAT64 (RFC 6146) onto the SNAT pool, or null when off. */
  nat64: NatPlan64 | null;
}

/** The NAT64 part of a {@link NatPlan}. */
export interface NatPlan64 {
  /** RFC 6052 prefix: four words and a length (32, 40, 48, 56, 64 or 96). */
  prefix: number[];
  length: number;
  /** What the data path needs of the prefix (`nat64PrefixLayout(prefix, length)`). */
  layout: Nat64PrefixLayout;
  /** Translated IPv6 source networks, each [net0…net3, mask0…mask3]. */
  match: number[][];
}

const u32 = z.number().int().min(0).max(0xffffffff);
const u16 = z.number().int().min(0).max(0xffff);

/** Schema of a {@link NatPlan} (the `nat` element's config): structural checks only. */
export const natPlanSchema: z.ZodType<NatPlan> = z
  .object({
    externalAddresses: z.array(u32).min(1).max(NAT_MAX_EXTERNAL_ADDRESSES),
    poolAddressIndexes: z.array(z.number().int().min(0).max(NAT_MAX_EXTERNAL_ADDRESSES - 1)),
    portFrom: u16.min(1),
    portTo: u16,
    match: z.array(z.tuple([u32, u32])),
    forwards: z.array(
      z
        .object({
          proto: z.number().int().min(0).max(1),
          extAddrIndex: z.number().int().min(0).max(NAT_MAX_EXTERNAL_ADDRESSES - 1),
          extPort: u16.min(1),
          intAddr: u32,
          intPort: u16.min(1),
          count: z.number().int().min(1).max(65535),
        })
        .strict()
        .refine((f) => f.extPort + f.count - 1 <= 65535 && f.intPort + f.count - 1 <= 65535, { message: 'port range beyond 65535' }),
    ),
    timeoutsMs: z.tuple([z.number().positive(), z.number().positive(), z.number().positive(), z.number().positive()]),
    capacity: z.number().int().min(1).max(NAT_MAX_CAPACITY),
    hairpinning: z.boolean(),
    inboundRefresh: z.boolean(),
    nat64: z
      .object({
        prefix: z.array(u32).length(4),
        length: z.number().refine((n) => NAT64_PREFIX_LENGTHS.includes(n), { message: 'not an RFC 6052 prefix length' }),
        layout: z
          .object({
            template: z.array(u32).length(4),
            prefixMask: z.array(u32).length(4),
            positions: z.array(z.number().int().min(0).max(15)).length(4),
          })
          .strict(),
        match: z.array(z.array(u32).length(8)).min(1),
      })
      .strict()
      .nullable(),
  })
  .strict()
  .refine((p) => p.portFrom <= p.portTo, { message: 'portFrom > portTo', path: ['portTo'] })
  .refine((p) => p.poolAddressIndexes.every((i) => i < p.externalAddresses.length) && p.forwards.every((f) => f.extAddrIndex < p.externalAddresses.length), {
    message: 'address index out of range',
  });

/**
 * Reduces a validated {@link NatConfig} to the {@link NatPlan} the element bakes in.
 * Deterministic: the same configuration gives the same plan.
 *
 * @example
 * ```ts
 * use(natElement, planNat(natConfigSchema.parse({ snat: { addresses: '198.18.100.0/30' } })));
 * ```
 */
export function planNat(config: NatConfig): NatPlan {
  const pool = config.snat === undefined ? [] : expandAddresses(Array.isArray(config.snat.addresses) ? config.snat.addresses : [config.snat.addresses]);
  const forwards = config.portForwards ?? [];
  const all = new Set<number>(pool);
  for (const f of forwards) all.add(f.externalAddress >>> 0);
  const externalAddresses = [...all].sort((a, b) => a - b);
  const indexOf = (a: number): number => externalAddresses.indexOf(a >>> 0);
  const planned: NatForward[] = forwards.map((f) => ({
    proto: f.protocol === 'tcp' ? NatProto.TCP : NatProto.UDP,
    extAddrIndex: indexOf(f.externalAddress),
    extPort: f.externalPort.from,
    intAddr: f.internalAddress >>> 0,
    intPort: f.internalPort ?? f.externalPort.from,
    count: f.externalPort.to - f.externalPort.from + 1,
  }));
  const t = { ...DEFAULT_NAT_TIMEOUTS, ...config.timeouts };
  const range = config.snat?.ports ?? { from: 1024, to: 65535 };
  const match: Array<[number, number]> =
    config.snat === undefined ? [] : (config.snat.match ?? [{ addr: 0, prefix: 0, mask: 0 }]).map((c) => [c.addr >>> 0, c.mask >>> 0]);
  return {
    externalAddresses,
    poolAddressIndexes: pool.map(indexOf),
    portFrom: range.from,
    portTo: range.to,
    match,
    forwards: planned,
    timeoutsMs: [t.tcpTransitory * 1000, t.tcpEstablished * 1000, t.udp * 1000, t.icmp * 1000],
    capacity: config.capacity ?? 65536,
    hairpinning: config.hairpinning ?? true,
    inboundRefresh: config.inboundRefresh ?? true,
    nat64: config.nat64 === undefined ? null : planNat64(config.nat64),
  };
}

/** The NAT64 part of the plan: the prefix (default 64:ff9b::/96) and the source networks (default every IPv6 source). */
function planNat64(n: NonNullable<NatConfig['nat64']>): NatPlan64 {
  const prefix = n.prefix ?? { addr: NAT64_WELL_KNOWN_PREFIX, prefix: 96 };
  const match = (n.match ?? [{ addr: [0, 0, 0, 0] as const, prefix: 0 }]).map((m) => {
    const mask = ipv6Mask(m.prefix);
    return [...m.addr.map((w, i) => (w & mask[i]) >>> 0), ...mask.map((w) => w >>> 0)];
  });
  const words = [...prefix.addr].map((w) => w >>> 0);
  return { prefix: words, length: prefix.prefix, layout: nat64PrefixLayout(words, prefix.prefix), match };
}
