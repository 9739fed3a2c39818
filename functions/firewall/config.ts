import { z } from 'zod';
import { parseIpPrefix, portRange, type IpPrefix } from '../../src/config/net-schemas.ts';
import { conntrackConfigSchema } from '../../src/conntrack/conntrack-config.ts';
import { Action, ANY_RULE, PROTO_ICMP, PROTO_ICMPV6, RejectWith, type AclRule } from './acl-rule.ts';

/** ICMP type names accepted in `icmpType`. */
export const ICMP_TYPE_NAMES: Readonly<Record<string, number>> = Object.freeze({
  'echo-reply': 0,
  'dest-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  'time-exceeded': 11,
  'parameter-problem': 12,
  timestamp: 13,
  'timestamp-reply': 14,
});

/** ICMPv6 type names accepted in `icmpType` of a rule with `proto: icmpv6` (nftables' names, `dest-unreachable` as for ICMP). */
export const ICMPV6_TYPE_NAMES: Readonly<Record<string, number>> = Object.freeze({
  'dest-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'parameter-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'mld-listener-query': 130,
  'mld-listener-report': 131,
  'mld-listener-done': 132,
  'nd-router-solicit': 133,
  'nd-router-advert': 134,
  'nd-neighbor-solicit': 135,
  'nd-neighbor-advert': 136,
  'nd-redirect': 137,
  'mld2-listener-report': 143,
});

/**
 * `rejectWith` values and the ICMP destination-unreachable code (or `RejectWith`) each means;
 * an IPv6 packet gets the ICMPv6 answer `ICMPV6_REJECT` pairs with the code (`acl-rule.ts`).
 */
export const REJECT_WITH: Readonly<Record<string, number>> = Object.freeze({
  'tcp-reset': RejectWith.TCP_RESET,
  'net-unreachable': 0,
  'host-unreachable': 1,
  'proto-unreachable': 2,
  'port-unreachable': 3,
  'net-prohibited': 9,
  'host-prohibited': 10,
  'admin-prohibited': 13,
});

/**
 * An `icmpType` as written (number, `"from-to"`, `"any"` or a name) for a rule's protocol:
 * names are ICMP's for `proto` icmp and ICMPv6's for icmpv6. Returns the inclusive range, or
 * what is wrong.
 *
 * @example
 * ```ts
 * resolveIcmpType('echo-request', 58); // { from: 128, to: 128 }
 * ```
 */
export function resolveIcmpType(value: number | string, proto: number): { from: number; to: number } | string {
  const names = proto === PROTO_ICMPV6 ? ICMPV6_TYPE_NAMES : ICMP_TYPE_NAMES;
  if (typeof value === 'number') return { from: value, to: value };
  if (value === 'any') return { from: 0, to: 255 };
  if (value in names) return { from: names[value], to: names[value] };
  const m = /^(\d{1,3})-(\d{1,3})$/.exec(value);
  if (m !== null && Number(m[1]) <= Number(m[2]) && Number(m[2]) <= 255) return { from: Number(m[1]), to: Number(m[2]) };
  const kind = proto === PROTO_ICMPV6 ? 'an ICMPv6' : 'an ICMP';
  return `not ${kind} type (0-255, "from-to", "any" or one of ${Object.keys(names).join(', ')})`;
}

const action = z.enum(['allow', 'drop', 'reject']);

/**
 * `src` and `dst`: an IPv4 or IPv6 prefix (a bare address is /32 or /128), or `"any"` (no
 * constraint). A rule with an address applies to that address's family only; a rule whose
 * `src` and `dst` are of different families is refused (see `firewallRuleSchema`).
 */
const rulePrefix = z
  .string()
  .superRefine((s, ctx) => {
    if (s === 'any') return;
    const r = parseIpPrefix(s);
    if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r });
  })
  .transform((s): IpPrefix | undefined => (s === 'any' ? undefined : (parseIpPrefix(s) as IpPrefix)));

/** IP protocol numbers by name, for rules: ICMPv6 beside ICMP. */
export const RULE_PROTOCOLS: Readonly<Record<string, number>> = Object.freeze({ any: 0, icmp: PROTO_ICMP, tcp: 6, udp: 17, icmpv6: PROTO_ICMPV6 });

/** `"tcp" | "udp" | "icmp" | "icmpv6" | "any"` or a protocol number → number (0 = any). */
const ruleProtocol = z
  .union([z.enum(['tcp', 'udp', 'icmp', 'icmpv6', 'any']), z.number().int().min(0).max(255)])
  .transform((v) => (typeof v === 'number' ? v : RULE_PROTOCOLS[v]));

/** The family a rule applies to (see `acl-rule.ts`): its addresses', else ICMP's (4) or ICMPv6's (6), else 0 (both). */
function ruleFamilyOf(src: IpPrefix | undefined, dst: IpPrefix | undefined, proto: number): 0 | 4 | 6 {
  const f = src?.family ?? dst?.family;
  if (f !== undefined) return f;
  return proto === PROTO_ICMP ? 4 : proto === PROTO_ICMPV6 ? 6 : 0;
}

/** One rule as users write it. */
export const firewallRuleSchema = z
  .object({
    /** Short identifier shown in counter help and dumps. */
    name: z.string().min(1).max(64).optional(),
    comment: z.string().max(256).optional(),
    action,
    /** Where the packet arrives: `inside` (eth0) or `outside` (eth1); default either. */
    side: z.enum(['inside', 'outside', 'any']).optional(),
    src: rulePrefix.optional(),
    dst: rulePrefix.optional(),
    proto: ruleProtocol.optional(),
    sport: portRange.optional(),
    dport: portRange.optional(),
    /** Checked and resolved against `proto` (ICMP or ICMPv6 names) below. */
    icmpType: z.union([z.number().int().min(0).max(255), z.string()]).optional(),
    rejectWith: z.enum(Object.keys(REJECT_WITH) as [string, ...string[]]).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const proto = r.proto ?? 0;
    for (const key of ['sport', 'dport'] as const) {
      if (r[key] !== undefined && proto !== 6 && proto !== 17) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs proto tcp or udp` });
      }
    }
    if (r.icmpType !== undefined && proto !== PROTO_ICMP && proto !== PROTO_ICMPV6) {
      ctx.addIssue({ code: 'custom', path: ['icmpType'], message: 'icmpType needs proto icmp or icmpv6' });
    } else if (r.icmpType !== undefined) {
      const t = resolveIcmpType(r.icmpType, proto);
      if (typeof t === 'string') ctx.addIssue({ code: 'custom', path: ['icmpType'], message: t });
    }
    if (r.rejectWith !== undefined && r.action !== 'reject') {
      ctx.addIssue({ code: 'custom', path: ['rejectWith'], message: 'rejectWith needs action reject' });
    }
    if (r.rejectWith === 'tcp-reset' && proto !== 6) {
      ctx.addIssue({ code: 'custom', path: ['rejectWith'], message: 'tcp-reset needs proto tcp' });
    }
    // One family per rule, as nftables' inet family: an address decides it.
    if (r.src !== undefined && r.dst !== undefined && r.src.family !== r.dst.family) {
      ctx.addIssue({ code: 'custom', path: ['dst'], message: `dst is IPv${r.dst.family} but src is IPv${r.src.family}: a rule matches one address family` });
    }
    const family = r.src?.family ?? r.dst?.family;
    if (family === 6 && proto === PROTO_ICMP) {
      ctx.addIssue({ code: 'custom', path: ['proto'], message: 'icmp is carried by IPv4 only: an IPv6 rule takes proto icmpv6' });
    }
    if (family === 4 && proto === PROTO_ICMPV6) {
      ctx.addIssue({ code: 'custom', path: ['proto'], message: 'icmpv6 is carried by IPv6 only: an IPv4 rule takes proto icmp' });
    }
  })
  .transform(({ icmpType, ...r }) => ({
    ...r,
    ...(icmpType === undefined ? {} : { icmpType: resolveIcmpType(icmpType, r.proto ?? 0) as { from: number; to: number } }),
  }));

/** Connection-tracking options (stateful mode): the shared ones plus the sweep budget. */
export const firewallConntrackSchema = conntrackConfigSchema
  .extend({
    /** Entries the expiry sweep examines per batch (default 32; 0 = only lazy expiry). */
    sweepPerBatch: z.number().int().min(0).max(1 << 16).default(32),
  })
  .strict();

/** How the rule set is turned into decision code (defaults suit every size). */
export const classifierOptionsSchema = z
  .object({
    /**
     * `auto` (default): straight-line code up to `straightLineMax` rules, else a decision
     * tree. `linear` runs the interpreter (a first-match scan): a baseline for benchmarks.
     */
    algorithm: z.enum(['auto', 'tree', 'straight-line', 'linear']).default('auto'),
    straightLineMax: z.number().int().min(0).max(256).default(16),
    /** Most rules in a tree leaf (scanned in order). */
    leafSize: z.number().int().min(1).max(64).default(4),
    /** HiCuts space factor: a cut may multiply rule references by at most this. */
    spaceFactor: z.number().min(1).max(64).default(8),
    /** Largest fan-out of one node, as a power of two. */
    maxCutBits: z.number().int().min(1).max(15).default(12),
    /** Memory budget of the tree in MiB; over it the compiler trades speed for space. */
    memoryMiB: z.number().positive().max(4096).default(128),
  })
  .strict();

/**
 * The firewall's configuration, as written in a chain spec.
 *
 * @example
 * ```yaml
 * defaultPolicy: drop
 * rules:
 *   - { name: web, action: allow, side: inside, proto: tcp, dport: 443 }
 *   - { name: dns, action: allow, side: inside, proto: udp, dst: 198.18.0.53, dport: 53 }
 *   - { name: ping, action: allow, proto: icmp, icmpType: echo-request }
 *   - { name: telnet, action: reject, proto: tcp, dport: 23 }
 * ```
 */
export const firewallConfigSchema = z
  .object({
    /** What happens to a packet no rule matches (default `drop`). */
    defaultPolicy: action.default('drop'),
    /** Track connections so replies pass without rules (default true). */
    stateful: z.boolean().default(true),
    rules: z.array(firewallRuleSchema).max(1 << 20).default([]),
    conntrack: firewallConntrackSchema.default(() => firewallConntrackSchema.parse({})),
    /** One hit counter per rule (default: on up to 1024 rules). */
    ruleCounters: z.boolean().optional(),
    classifier: classifierOptionsSchema.default(() => classifierOptionsSchema.parse({})),
  })
  .strict();

/** Firewall configuration as written (input of the schema). */
export type FirewallConfigInput = z.input<typeof firewallConfigSchema>;
/** Firewall configuration after validation. */
export type FirewallConfig = z.output<typeof firewallConfigSchema>;
/** One rule after validation. */
export type FirewallRule = z.output<typeof firewallRuleSchema>;
/** Classifier options after validation. */
export type ClassifierOptions = z.output<typeof classifierOptionsSchema>;

const ACTION_NUMBERS: Record<string, number> = { allow: Action.ALLOW, drop: Action.DROP, reject: Action.REJECT };

/**
 * A validated rule in the numeric form the compiler and interpreter use.
 *
 * @example
 * ```ts
 * const rules = config.rules.map(toAclRule);
 * ```
 */
export function toAclRule(rule: FirewallRule): AclRule {
  const { src, dst } = rule;
  return {
    ...ANY_RULE,
    action: ACTION_NUMBERS[rule.action],
    reject: rule.rejectWith === undefined ? RejectWith.AUTO : REJECT_WITH[rule.rejectWith],
    side: rule.side === 'inside' ? 0 : rule.side === 'outside' ? 1 : -1,
    proto: rule.proto ?? 0,
    family: ruleFamilyOf(src, dst, rule.proto ?? 0),
    srcAddr: src?.family === 4 ? src.addr : 0,
    srcPrefix: src?.prefix ?? 0,
    dstAddr: dst?.family === 4 ? dst.addr : 0,
    dstPrefix: dst?.prefix ?? 0,
    srcAddr6: src?.family === 6 ? words(src.addr) : ANY_RULE.srcAddr6,
    dstAddr6: dst?.family === 6 ? words(dst.addr) : ANY_RULE.dstAddr6,
    sportFrom: rule.sport?.from ?? 0,
    sportTo: rule.sport?.to ?? 65535,
    dportFrom: rule.dport?.from ?? 0,
    dportTo: rule.dport?.to ?? 65535,
    icmpFrom: rule.icmpType?.from ?? 0,
    icmpTo: rule.icmpType?.to ?? 255,
  };
}

function words(a: readonly number[]): [number, number, number, number] {
  return [a[0] >>> 0, a[1] >>> 0, a[2] >>> 0, a[3] >>> 0];
}

/** The action number of a policy name. */
export function actionNumber(name: 'allow' | 'drop' | 'reject'): number {
  return ACTION_NUMBERS[name];
}
