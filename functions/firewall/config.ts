import { z } from 'zod';
import { ipv4CidrField, portRange, protocol } from '../../src/config/net-schemas.ts';
import { conntrackConfigSchema } from '../../src/conntrack/conntrack-config.ts';
import { Action, ANY_RULE, RejectWith, type AclRule } from './acl-rule.ts';

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

/** `rejectWith` values and the ICMP destination-unreachable code (or `RejectWith`) each means. */
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

/** An ICMP type (0–255), an inclusive range `"3-5"`, a type name (`"echo-request"`) or `"any"`. */
export const icmpTypeRange = z
  .union([z.number().int().min(0).max(255), z.string()])
  .refine(
    (v) => {
      if (typeof v === 'number' || v === 'any' || v in ICMP_TYPE_NAMES) return true;
      const m = /^(\d{1,3})-(\d{1,3})$/.exec(v);
      return m !== null && Number(m[1]) <= Number(m[2]) && Number(m[2]) <= 255;
    },
    { message: `not an ICMP type (0-255, "from-to", "any" or one of ${Object.keys(ICMP_TYPE_NAMES).join(', ')})` },
  )
  .transform((v) => {
    if (typeof v === 'number') return { from: v, to: v };
    if (v === 'any') return { from: 0, to: 255 };
    if (v in ICMP_TYPE_NAMES) return { from: ICMP_TYPE_NAMES[v], to: ICMP_TYPE_NAMES[v] };
    const [a, b] = v.split('-');
    return { from: Number(a), to: Number(b) };
  });

const action = z.enum(['allow', 'drop', 'reject']);

/**
 * `src` and `dst`: an IPv4 prefix (`"any"`: 0.0.0.0/0). An IPv6 prefix parses, and the rule
 * is refused with `NFVKIT_ERR_IPV6_UNSUPPORTED` at that field: the classifier matches IPv4
 * only for now, and a rule that matched nothing would be accepted and silently ignored. A
 * rule set mixing both families is therefore reported rule by rule.
 */
const rulePrefix = ipv4CidrField('firewall rules match IPv4 packets only for now');

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
    proto: protocol.optional(),
    sport: portRange.optional(),
    dport: portRange.optional(),
    icmpType: icmpTypeRange.optional(),
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
    if (r.icmpType !== undefined && proto !== 1) {
      ctx.addIssue({ code: 'custom', path: ['icmpType'], message: 'icmpType needs proto icmp' });
    }
    if (r.rejectWith !== undefined && r.action !== 'reject') {
      ctx.addIssue({ code: 'custom', path: ['rejectWith'], message: 'rejectWith needs action reject' });
    }
    if (r.rejectWith === 'tcp-reset' && proto !== 6) {
      ctx.addIssue({ code: 'custom', path: ['rejectWith'], message: 'tcp-reset needs proto tcp' });
    }
  });

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
  return {
    ...ANY_RULE,
    action: ACTION_NUMBERS[rule.action],
    reject: rule.rejectWith === undefined ? RejectWith.AUTO : REJECT_WITH[rule.rejectWith],
    side: rule.side === 'inside' ? 0 : rule.side === 'outside' ? 1 : -1,
    proto: rule.proto ?? 0,
    srcAddr: rule.src?.addr ?? 0,
    srcPrefix: rule.src?.prefix ?? 0,
    dstAddr: rule.dst?.addr ?? 0,
    dstPrefix: rule.dst?.prefix ?? 0,
    sportFrom: rule.sport?.from ?? 0,
    sportTo: rule.sport?.to ?? 65535,
    dportFrom: rule.dport?.from ?? 0,
    dportTo: rule.dport?.to ?? 65535,
    icmpFrom: rule.icmpType?.from ?? 0,
    icmpTo: rule.icmpType?.to ?? 255,
  };
}

/** The action number of a policy name. */
export function actionNumber(name: 'allow' | 'drop' | 'reject'): number {
  return ACTION_NUMBERS[name];
}
