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
 * Dual stack: with `ipv6Share` > 0 that share of rules takes IPv6 prefixes (sites /48,
 * subnets /64, hosts /128 and lengths between, some crossing word boundaries) and a few rules
 * none at all (they match both families); {@link generateTraffic6} aims IPv6 packets at the
 * IPv6 and family-free rules as {@link generateTraffic} aims IPv4 ones. With `ipv6Share` 0
 * (the default) the output is exactly the IPv4-only generator's.
 *
 * @example
 * ```ts
 * const rules = generateRuleSet({ count: 10_000, seed: 42 });       // config form (strings)
 * const compiled = compilePipeline(firewall, { defaultPolicy: 'drop', rules });
 * const packets = generateTraffic(rules.map(r => toAclRule(firewallRuleSchema.parse(r))), 1000, 7);
 * ```
 */
import { ipv4ToString } from '../../src/packet/ipv4.ts';
import { formatIpv6Prefix } from '../../src/packet/ipv6-address.ts';
import { prefixRange, type AclPacket, type AclPacket6, type AclRule } from './acl-rule.ts';
import { bigIntToWords, prefixBounds6 } from './address-reduction.ts';
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
  /** Share of rules with IPv6 prefixes (default 0: an IPv4-only set). */
  ipv6Share?: number;
  /** Share of rules without addresses, matching both families (default 0.05 when `ipv6Share` > 0, else 0; an IPv4-only set has them only when this is given). */
  familyFreeShare?: number;
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

/** The IPv6 counterpart of `AddressPool`: sites (/48) → subnets (/64) → hosts, under a few /32s. */
class AddressPool6 {
  private readonly subnets: Array<[number, number, number, number]>[] = [];

  constructor(
    private readonly rnd: () => number,
    siteCount: number,
  ) {
    const tops = [0x20010db8, 0x20010db9, (0x2400 + Math.floor(rnd() * 0x1000)) * 65536 + Math.floor(rnd() * 65536)];
    for (let i = 0; i < siteCount; i++) {
      const w0 = tops[Math.floor(rnd() * tops.length)] >>> 0;
      const w1hi = Math.floor(rnd() * 65536);
      const subnets: Array<[number, number, number, number]> = [];
      const k = 4 + Math.floor(rnd() * 28);
      for (let j = 0; j < k; j++) subnets.push([w0, ((w1hi << 16) | Math.floor(rnd() * 65536)) >>> 0, 0, 0]);
      this.subnets.push(subnets);
    }
  }

  /** A prefix string, ClassBench-like length mix moved to IPv6 (`wildcardShare` of "any"). */
  cidr(wildcardShare: number, hostShare: number): string | undefined {
    const rnd = this.rnd;
    if (rnd() < wildcardShare) return undefined;
    const s = Math.floor(Math.pow(rnd(), 2) * this.subnets.length);
    const subnet = pick(rnd, this.subnets[s]);
    const y = rnd();
    let prefix: number;
    if (y < hostShare) prefix = 128;
    else if (y < hostShare + 0.3) prefix = 64;
    else if (y < hostShare + 0.45) prefix = 48;
    else if (y < hostShare + 0.6) prefix = 65 + Math.floor(rnd() * 63);
    else if (y < hostShare + 0.75) prefix = 49 + Math.floor(rnd() * 15);
    else prefix = 16 + Math.floor(rnd() * 32);
    const host = [subnet[0], subnet[1], Math.floor(rnd() * 2 ** 32), rnd() < 0.5 ? Math.floor(rnd() * 256) : Math.floor(rnd() * 2 ** 32)] as const;
    const [lo] = prefixBounds6(host, prefix);
    return formatIpv6Prefix({ addr: bigIntToWords(lo), prefix });
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
  const sites = options.sites ?? Math.max(4, Math.ceil(Math.sqrt(options.count) * 2));
  const pool = new AddressPool(rnd, sites);
  const v6Share = options.ipv6Share ?? 0;
  const pool6 = v6Share > 0 ? new AddressPool6(rnd, sites) : undefined;
  const freeShare = options.familyFreeShare ?? (v6Share > 0 ? 0.05 : 0);
  const sided = options.sidedShare ?? 0.3;
  const actions = options.actionWeights ?? [45, 45, 10];
  const out: GeneratedRule[] = [];
  for (let i = 0; i < options.count; i++) {
    const rule: GeneratedRule = { action: (['allow', 'drop', 'reject'] as const)[weighted(rnd, actions)] };
    if (rnd() < sided) rule.side = rnd() < 0.5 ? 'inside' : 'outside';
    const drawn = weighted(rnd, [60, 25, 5, 8, 2]);
    // Drawn only when rules without addresses are wanted (dual-stack sets by default), so
    // IPv4-only sets stay what they always were unless `familyFreeShare` asks for them.
    const free = (pool6 !== undefined || freeShare > 0) && rnd() < freeShare;
    const family = free ? 0 : pool6 === undefined ? 4 : rnd() < v6Share ? 6 : 4;
    // A rule with neither addresses nor protocol would shadow everything after it: TCP instead.
    const proto = family === 0 && drawn === 3 ? 0 : drawn;
    if (family !== 0) {
      const from = family === 6 ? (pool6 as AddressPool6) : pool;
      const src = from.cidr(0.3, 0.25);
      // Real ACLs almost never leave both addresses open: that rule would shadow the rest.
      const dst = from.cidr(src !== undefined && !src.endsWith('/8') ? 0.05 : 0, 0.4);
      if (src !== undefined) rule.src = src;
      if (dst !== undefined) rule.dst = dst;
    }
    if (family === 6 && proto === 2) {
      rule.proto = 'icmpv6';
      if (rnd() < 0.6) rule.icmpType = pick(rnd, [128, 129, 1, 135, 136]);
    } else if (family === 0 && proto === 2) {
      rule.proto = pick(rnd, ['icmp', 'icmpv6'] as const);
    } else if (proto === 0 || proto === 1) {
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
export function generateTraffic(allRules: readonly AclRule[], count: number, seed: number, randomShare = 0.1): AclPacket[] {
  const rnd = seededRandom(seed);
  const rules = allRules.some((r) => r.family === 6) ? allRules.filter((r) => r.family !== 6) : allRules;
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

const SPACE6 = 1n << 128n;

/** A 128-bit point at, just outside or inside `[lo, end)` (as `inRange` does for IPv4). */
function inRange6(rnd: () => number, lo: bigint, end: bigint): bigint {
  const x = rnd();
  if (x < 0.15) return lo;
  if (x < 0.3) return end - 1n;
  if (x < 0.4 && lo > 0n) return lo - 1n;
  if (x < 0.5 && end < SPACE6) return end;
  const span = end - lo;
  const r = (BigInt(Math.floor(rnd() * 2 ** 32)) << 96n) | (BigInt(Math.floor(rnd() * 2 ** 32)) << 64n) | (BigInt(Math.floor(rnd() * 2 ** 32)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32));
  return lo + (r % span);
}

function randomWords(rnd: () => number): [number, number, number, number] {
  return [Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 32), Math.floor(rnd() * 2 ** 32)];
}

/**
 * `count` IPv6 packet headers aimed at the IPv6 and family-free rules of `rules`, as
 * {@link generateTraffic} aims IPv4 ones: at, next to or inside a rule's prefixes, port
 * ranges and ICMPv6 types; `randomShare` uniformly random. Protocols TCP, UDP, ICMPv6 or
 * (rarely) something else.
 */
export function generateTraffic6(allRules: readonly AclRule[], count: number, seed: number, randomShare = 0.1): AclPacket6[] {
  const rnd = seededRandom(seed);
  const rules = allRules.filter((r) => r.family !== 4);
  const out: AclPacket6[] = [];
  for (let i = 0; i < count; i++) {
    const side = rnd() < 0.5 ? 0 : 1;
    if (rules.length === 0 || rnd() < randomShare) {
      out.push({
        side,
        proto: pick(rnd, [6, 6, 17, 17, 58, 47, 1]),
        src: randomWords(rnd),
        dst: randomWords(rnd),
        sport: Math.floor(rnd() * 65536),
        dport: Math.floor(rnd() * 65536),
        icmpType: Math.floor(rnd() * 256),
      });
      continue;
    }
    const r = rules[Math.floor(rnd() * rules.length)];
    const [sLo, sEnd] = r.family === 6 ? prefixBounds6(r.srcAddr6, r.srcPrefix) : [0n, SPACE6];
    const [dLo, dEnd] = r.family === 6 ? prefixBounds6(r.dstAddr6, r.dstPrefix) : [0n, SPACE6];
    const proto = r.proto !== 0 ? (rnd() < 0.05 ? pick(rnd, [6, 17, 58]) : r.proto) : pick(rnd, [6, 17, 58, 50]);
    out.push({
      side: r.side >= 0 && rnd() < 0.9 ? r.side : side,
      proto,
      src: bigIntToWords(inRange6(rnd, sLo, sEnd)),
      dst: bigIntToWords(inRange6(rnd, dLo, dEnd)),
      sport: clampPort(inRange(rnd, r.sportFrom, r.sportTo)),
      dport: clampPort(inRange(rnd, r.dportFrom, r.dportTo)),
      icmpType: inRange(rnd, r.icmpFrom, r.icmpTo) & 0xff,
    });
  }
  return out;
}
