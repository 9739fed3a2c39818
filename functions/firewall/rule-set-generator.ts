/**
 * Seeded, ClassBench-like rule sets and traffic for the firewall's tests and benchmarks
 * (after Taylor & Turner, "ClassBench: a packet classification benchmark", 2005: ACL-style
 * filters with skewed protocol mixes, prefix lengths clustered at /0, /16, /24 and /32 and
 * drawn from a shared address hierarchy so rules nest and overlap, port fields in the
 * classes WC (wildcard), HI (1024-65535), LO (0-1023), EM (exact) and AR (arbitrary range)).
 * Not used by the data plane.
 *
 * Everything is a pure function of the seed, so a failing property test or a benchmark
 * figure can be reproduced exactly.
 *
 * @example
 * ```ts
 * const rules = generateRuleSet({ count: 10_000, seed: 42 });       // config form (strings)
 * const compiled = compilePipeline(firewall, { defaultPolicy: 'drop', rules });
 * const packets = generateTraffic(rules.map(r => toAclRule(firewallRuleSchema.parse(r))), 1000, 7);
 * ```
 */
import { ipv4ToString } from '../../src/packet/ipv4.ts';
import { prefixRange, type AclPacket, type AclRule } from './acl-rule.ts';
import type { FirewallConfigInput } from './config.ts';

/** A rule in config form (what a chain spec holds). */
export type GeneratedRule = NonNullable<FirewallConfigInput['rules']>[number];

/** Mulberry32: a tiny, fast, seeded 32-bit PRNG. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link generateRuleSet}. */
export interface RuleSetOptions {
  count: number;
  seed: number;
  /** Share of rules bound to an arrival side (default 0.3). */
  sidedShare?: number;
  /** Relative weights of allow / drop / reject (default 45 / 45 / 10). */
  actionWeights?: readonly [number, number, number];
  /** Distinct /16 "sites" addresses are drawn from (default grows with `count`). */
  sites?: number;
}

const COMMON_PORTS = [80, 443, 53, 22, 25, 110, 123, 143, 161, 389, 445, 993, 995, 1433, 3306, 3389, 5060, 8080, 8443, 1521];

function pick<T>(rnd: () => number, items: readonly T[]): T {
  return items[Math.floor(rnd() * items.length)];
}

function weighted(rnd: () => number, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let x = rnd() * total;
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i];
    if (x < 0) return i;
  }
  return weights.length - 1;
}

/** A shared address hierarchy: sites (/16) → subnets (/24) → hosts, all in 10.0.0.0/8 and 198.18.0.0/15 style space. */
class AddressPool {
  private readonly sites: number[] = [];
  private readonly subnets: number[][] = [];

  constructor(
    private readonly rnd: () => number,
    siteCount: number,
  ) {
    for (let i = 0; i < siteCount; i++) {
      const site = ((Math.floor(rnd() * 224) << 24) | (Math.floor(rnd() * 256) << 16)) >>> 0;
      this.sites.push(site);
      const subnets: number[] = [];
      const k = 4 + Math.floor(rnd() * 28);
      for (let j = 0; j < k; j++) subnets.push((site | (Math.floor(rnd() * 256) << 8)) >>> 0);
      this.subnets.push(subnets);
    }
  }

  /** A CIDR string with a ClassBench-like prefix length mix (`wildcardShare` of "any"). */
  cidr(wildcardShare: number, hostShare: number): string | undefined {
    const rnd = this.rnd;
    const x = rnd();
    if (x < wildcardShare) return undefined;
    const s = Math.floor(Math.pow(rnd(), 2) * this.sites.length); // skew toward the first sites
    const subnet = pick(rnd, this.subnets[s]);
    const y = rnd();
    let prefix: number;
    if (y < hostShare) prefix = 32;
    else if (y < hostShare + 0.3) prefix = 24;
    else if (y < hostShare + 0.45) prefix = 16;
    else if (y < hostShare + 0.6) prefix = 25 + Math.floor(rnd() * 7);
    else if (y < hostShare + 0.75) prefix = 17 + Math.floor(rnd() * 7);
    else prefix = 8 + Math.floor(rnd() * 8);
    const addr = (subnet | Math.floor(rnd() * 256)) >>> 0;
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    return `${ipv4ToString((addr & mask) >>> 0)}/${prefix}`;
  }
}

function portClass(rnd: () => number, weights: readonly number[]): string | number | undefined {
  switch (weighted(rnd, weights)) {
    case 0:
      return undefined; // WC
    case 1:
      return '1024-65535'; // HI
    case 2:
      return '0-1023'; // LO
    case 3:
      return rnd() < 0.7 ? pick(rnd, COMMON_PORTS) : Math.floor(rnd() * 65536); // EM
    default: {
      const from = Math.floor(rnd() * 65000);
      const width = Math.floor(Math.pow(2, rnd() * 12));
      return `${from}-${Math.min(65535, from + width)}`; // AR
    }
  }
}

/** A ClassBench-like rule set in config form, `count` rules long. */
export function generateRuleSet(options: RuleSetOptions): GeneratedRule[] {
  const rnd = seededRandom(options.seed);
  const pool = new AddressPool(rnd, options.sites ?? Math.max(4, Math.ceil(Math.sqrt(options.count) * 2)));
  const sided = options.sidedShare ?? 0.3;
  const actions = options.actionWeights ?? [45, 45, 10];
  const out: GeneratedRule[] = [];
  for (let i = 0; i < options.count; i++) {
    const rule: GeneratedRule = { action: (['allow', 'drop', 'reject'] as const)[weighted(rnd, actions)] };
    if (rnd() < sided) rule.side = rnd() < 0.5 ? 'inside' : 'outside';
    const proto = weighted(rnd, [60, 25, 5, 8, 2]);
    const src = pool.cidr(0.3, 0.25);
    // Real ACLs almost never leave both addresses open: that rule would shadow the rest.
    const dst = pool.cidr(src !== undefined && !src.endsWith('/8') ? 0.05 : 0, 0.4);
    if (src !== undefined) rule.src = src;
    if (dst !== undefined) rule.dst = dst;
    if (proto === 0 || proto === 1) {
      rule.proto = proto === 0 ? 'tcp' : 'udp';
      const sport = portClass(rnd, [88, 6, 1, 4, 1]);
      const dport = portClass(rnd, [15, 10, 5, 55, 15]);
      if (sport !== undefined) rule.sport = sport;
      if (dport !== undefined) rule.dport = dport;
    } else if (proto === 2) {
      rule.proto = 'icmp';
      if (rnd() < 0.6) rule.icmpType = pick(rnd, [0, 3, 8, 11]);
    } else if (proto === 4) {
      rule.proto = pick(rnd, [47, 50]);
    }
    if (rule.action === 'reject' && rule.proto === 'tcp' && rnd() < 0.3) rule.rejectWith = 'tcp-reset';
    out.push(rule);
  }
  return out;
}

function inRange(rnd: () => number, lo: number, hi: number): number {
  const x = rnd();
  if (x < 0.15) return lo;
  if (x < 0.3) return hi;
  if (x < 0.4 && lo > 0) return lo - 1; // just outside: boundaries are where classifiers go wrong
  if (x < 0.5 && hi < 0xffffffff) return hi + 1;
  return lo + Math.floor(rnd() * (hi - lo + 1));
}

function clampPort(v: number): number {
  return v < 0 ? 0 : v > 65535 ? 65535 : v;
}

/**
 * `count` packet headers aimed at `rules` (ClassBench trace-style): most take a random rule
 * and a point at or next to its edges or inside it, the rest (`randomShare`, default 0.1)
 * are uniformly random. Protocols are TCP, UDP, ICMP or (rarely) something else.
 */
export function generateTraffic(rules: readonly AclRule[], count: number, seed: number, randomShare = 0.1): AclPacket[] {
  const rnd = seededRandom(seed);
  const out: AclPacket[] = [];
  for (let i = 0; i < count; i++) {
    const side = rnd() < 0.5 ? 0 : 1;
    if (rules.length === 0 || rnd() < randomShare) {
      const proto = pick(rnd, [6, 6, 17, 17, 1, 47]);
      out.push({
        side,
        proto,
        src: Math.floor(rnd() * 2 ** 32),
        dst: Math.floor(rnd() * 2 ** 32),
        sport: Math.floor(rnd() * 65536),
        dport: Math.floor(rnd() * 65536),
        icmpType: Math.floor(rnd() * 16),
      });
      continue;
    }
    const r = rules[Math.floor(rnd() * rules.length)];
    const [sLo, sHi] = prefixRange(r.srcAddr, r.srcPrefix);
    const [dLo, dHi] = prefixRange(r.dstAddr, r.dstPrefix);
    const proto = r.proto !== 0 ? (rnd() < 0.05 ? pick(rnd, [6, 17, 1]) : r.proto) : pick(rnd, [6, 17, 1, 50]);
    out.push({
      side: r.side >= 0 && rnd() < 0.9 ? r.side : side,
      proto,
      src: inRange(rnd, sLo, sHi) >>> 0,
      dst: inRange(rnd, dLo, dHi) >>> 0,
      sport: clampPort(inRange(rnd, r.sportFrom, r.sportTo)),
      dport: clampPort(inRange(rnd, r.dportFrom, r.dportTo)),
      icmpType: inRange(rnd, r.icmpFrom, r.icmpTo) & 0xff,
    });
  }
  return out;
}
