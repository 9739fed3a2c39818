import { z } from 'zod';
import { CT_COUNTER_NAMES } from '../../src/conntrack/conntrack-counters.ts';
import { ConntrackTable } from '../../src/conntrack/conntrack-table.ts';
import { CtState } from '../../src/conntrack/conntrack-state.ts';
import { MIDDLEBOX_PORTS, type CounterSpec, type ElementCode, type ElementDefinition, type GenContext } from '../../src/pipeline/element.ts';
import { Action, RejectWith, type AclRule } from './acl-rule.ts';
import { planFamily, type ClassifierPlan } from './classifier-plan.ts';
import { generateClassifier, generateClassifier6 } from './classifier-codegen.ts';
import { classifierOptionsSchema, firewallConntrackSchema, type ClassifierOptions } from './config.ts';

/** Configuration of the `firewall` element: the function config after validation, rules in numeric form. */
export interface FirewallElementConfig {
  stateful: boolean;
  /** `Action.*` for packets no rule matches. */
  defaultAction: number;
  rules: AclRule[];
  conntrack: z.output<typeof firewallConntrackSchema>;
  classifier: ClassifierOptions;
  /** Count hits per rule (needs the per-rule counters of `firewallElement(ruleCounterHelp)`). */
  ruleCounters: boolean;
}

const int = (lo: number, hi: number) => z.number().int().min(lo).max(hi);

const words = z.tuple([int(0, 0xffffffff), int(0, 0xffffffff), int(0, 0xffffffff), int(0, 0xffffffff)]);

const aclRuleSchema = z
  .object({
    action: int(0, 2),
    reject: int(-2, 15),
    side: int(-1, 1),
    proto: int(0, 255),
    /** 0 (no address: both families), 4 or 6; see `acl-rule.ts`. */
    family: z.union([z.literal(0), z.literal(4), z.literal(6)]).default(0),
    srcAddr: int(0, 0xffffffff),
    srcPrefix: int(0, 128),
    dstAddr: int(0, 0xffffffff),
    dstPrefix: int(0, 128),
    srcAddr6: words.default([0, 0, 0, 0]),
    dstAddr6: words.default([0, 0, 0, 0]),
    sportFrom: int(0, 65535),
    sportTo: int(0, 65535),
    dportFrom: int(0, 65535),
    dportTo: int(0, 65535),
    icmpFrom: int(0, 255),
    icmpTo: int(0, 255),
  })
  .strict()
  .superRefine((r, ctx) => {
    const most = r.family === 6 ? 128 : r.family === 4 ? 32 : 0;
    for (const key of ['srcPrefix', 'dstPrefix'] as const) {
      if (r[key] > most && r.family !== 0) ctx.addIssue({ code: 'custom', path: [key], message: `a rule of family ${r.family} takes a prefix of at most ${most}` });
      if (r[key] > 32 && r.family === 0) ctx.addIssue({ code: 'custom', path: [key], message: 'a prefix longer than 32 needs family 6' });
    }
  })
  // A rule written without `family` but with an IPv4 prefix is an IPv4 rule.
  .transform((r) => (r.family === 0 && (r.srcPrefix > 0 || r.dstPrefix > 0) ? { ...r, family: 4 as const } : r));

const elementConfigSchema = z
  .object({
    stateful: z.boolean(),
    defaultAction: int(0, 2),
    rules: z.array(aclRuleSchema),
    conntrack: firewallConntrackSchema,
    classifier: classifierOptionsSchema,
    ruleCounters: z.boolean(),
  })
  .strict();

/** Drop counters, in the order they are declared. */
const DROPS: CounterSpec[] = [
  { name: 'acl_denied', drop: true, help: 'new packets dropped by a drop rule' },
  { name: 'default_policy', drop: true, help: 'new packets dropped by the default policy (no rule matched)' },
  { name: 'ct_invalid', drop: true, help: 'packets of a tracked connection that do not fit its state' },
  { name: 'ct_no_connection', drop: true, help: 'TCP segments other than SYN, and ICMP echo replies, with no tracked connection' },
  { name: 'ct_table_full', drop: true, help: 'new connections allowed by the rules but refused: connection table full' },
  { name: 'reject_suppressed', drop: true, help: 'rejects not answered (an ICMP/ICMPv6 error or redirect, a RST, a later fragment, broadcast/multicast, a source that is not one host) and dropped' },
];

const PASSES: CounterSpec[] = [
  { name: 'allowed_rule', drop: false, help: 'new packets allowed by an allow rule' },
  { name: 'allowed_default', drop: false, help: 'new packets allowed by the default policy' },
  { name: 'rejected_tcp_reset', drop: false, help: 'rejected packets answered with a TCP reset (IPv4 or IPv6)' },
  { name: 'rejected_icmp', drop: false, help: 'rejected packets answered with an ICMP destination unreachable, or over IPv6 an ICMPv6 one (parameter problem for proto-unreachable)' },
  { name: 'ct_established', drop: false, help: 'packets of tracked connections passed without rule evaluation' },
  { name: 'ct_related', drop: false, help: 'ICMP errors about a tracked connection passed without rule evaluation' },
  { name: 'non_ip_passed', drop: false, help: 'non-IP frames (ARP) passed through' },
  { name: 'ndp_passed', drop: false, help: 'ICMPv6 neighbour discovery (router/neighbour solicitation and advertisement, redirect) passed by default' },
];

/** The connection table's own counters, contiguous, in `CtCounter` order (the table writes them directly). */
const CONNTRACK: CounterSpec[] = CT_COUNTER_NAMES.map((name) => ({
  name: `conntrack_${name}`,
  drop: false,
  help: `connection table: ${name.replace(/_/g, ' ')}`,
}));

/** Name of the hit counter of rule `index`. */
export function ruleCounterName(index: number): string {
  return `rule_${index}`;
}

/**
 * Makes the `firewall` element. Its counters are fixed except the optional per-rule hit
 * counters `rule_<i>`, one per entry of `ruleCounterHelp` (their help text); pass `[]`
 * for none. `ruleNames` (one per rule, e.g. `0 (web): allow`) names the rule a traced
 * packet matched (`rule` note); without them traces give its number. The function's
 * pipeline builds the element per configuration.
 *
 * The element runs after `parse-frame` and, per IPv4 or IPv6 packet:
 * 1. stateful mode: looks the packet up in the connection table (both directions, one
 *    dual-stack table). A hit that fits the connection's state passes at once
 *    (`ct_established`); an ICMP/ICMPv6 error quoting a tracked connection passes
 *    (`ct_related`); a TCP segment other than a SYN, or an echo reply, without a connection
 *    is dropped (`ct_no_connection`). IPv6 neighbour discovery (ICMPv6 133–137) passes
 *    before everything (`ndp_passed`);
 * 2. classifies new packets with the compiled rule set of their family (first match wins;
 *    no match → the default policy);
 * 3. allow: forwards, and in stateful mode tracks the new connection (TCP SYN, UDP, echo,
 *    other protocols; not errors or other ICMP messages); drop: counts
 *    `acl_denied`/`default_policy`; reject: turns the frame into a TCP RST or an ICMP
 *    destination unreachable (IPv6: an ICMPv6 one, the code mapped by `ICMPV6_REJECT`) and
 *    sends it back out of the arrival side, unless replying is forbidden
 *    (`reject_suppressed`).
 * Other frames (ARP) pass untouched (`non_ip_passed`).
 *
 * @example
 * ```ts
 * elements: (cfg) => [use(parseFrameElement, {}), use(firewallElement([]), toElementConfig(cfg))]
 * ```
 */
export function firewallElement(ruleCounterHelp: readonly string[], ruleNames: readonly string[] = []): ElementDefinition<FirewallElementConfig> {
  return {
    kind: 'firewall',
    description: 'Stateful dual-stack firewall: tracked connections pass, new ones are judged by compiled first-match rules.',
    ports: MIDDLEBOX_PORTS,
    config: elementConfigSchema,
    counters: [
      ...DROPS,
      ...PASSES,
      ...CONNTRACK,
      ...ruleCounterHelp.map((help, i) => ({ name: ruleCounterName(i), drop: false, help })),
    ],
    generate(config, ctx) {
      const plans = { v4: planFamily(config.rules, 4, config.classifier), v6: planFamily(config.rules, 6, config.classifier) };
      return generateFirewall(config, ctx, ruleCounterHelp.length > 0 && config.ruleCounters, plans, ruleNames);
    },
  };
}

function generateFirewall(
  config: FirewallElementConfig,
  ctx: GenContext,
  perRule: boolean,
  plans: { readonly v4: ClassifierPlan; readonly v6: ClassifierPlan },
  ruleNames: readonly string[],
): ElementCode {
  const id = ctx.id;
  const v = (name: string) => `${id}${name}`;
  const imp = (module: string, name: string) => ctx.importName(module, name);
  const stateful = config.stateful;
  const io = { constant: (x: unknown) => ctx.constant(x), importName: imp };
  const scalar = { side: 'side', proto: v('proto'), sp: v('sp'), dp: v('dp'), result: v('rule') };
  const code4 = generateClassifier(plans.v4, { prefix: `${id}c`, ...io }, { ...scalar, src: v('src'), dst: v('dst') });
  const words = (w: string) => [0, 1, 2, 3].map((i) => v(`${w}${i}`)) as [string, string, string, string];
  const code6 = generateClassifier6(plans.v6, { prefix: `${id}c6`, ...io }, { ...scalar, src: words('a'), dst: words('b') });

  const actions = ctx.constant(config.rules.map((r) => r.action));
  const rejects = ctx.constant(config.rules.map((r) => r.reject));
  let init = code4.init + code6.init;
  init += `const ${v('act')} = Int8Array.from(${actions});\nconst ${v('rej')} = Int8Array.from(${rejects});\n`;
  let perBatch = `${code4.perBatch}\n${code6.perBatch}`;
  let onAttach: string | undefined;
  const ct = v('ct');
  const k6 = v('k6');
  if (stateful) {
    const Table = imp('#nfvkit/conntrack/conntrack-table.ts', 'ConntrackTable');
    const c = config.conntrack;
    const first = ctx.counterIndex(CONNTRACK[0].name);
    init +=
      `const ${ct} = new ${Table}({ capacity: ${c.capacity}, whenFull: ${JSON.stringify(c.whenFull)}, ipv6: true, ` +
      `timeouts: ${ctx.constant(c.timeouts)}, counters: counters.subarray(${first}, ${first + CONNTRACK.length}) });\n` +
      `const ${k6} = new ${imp('#nfvkit/packet/flow-key-ipv6.ts', 'FlowKey6')}();\n`;
    if (c.sweepPerBatch > 0) perBatch += `\n${ct}.expire(now, ${c.sweepPerBatch});`;
    // Connections live in the host's memory: a successor of a failed instance takes them over.
    const bytes = ConntrackTable.recordBytes(c.capacity, true);
    const at = ctx.stateRegion(bytes);
    onAttach =
      `{ const t = ${ct}.attach(state.subarray(${at}, ${at + bytes}), previous?.subarray(${at}, ${at + bytes}), shift, now);\n` +
      `  took.adopted += t.adopted; took.rejected += t.rejected; }`;
  }
  const ruleBase = perRule ? ctx.counterIndex(ruleCounterName(0)) : -1;
  const named = ruleNames.length === config.rules.length;

  // A reject: the frame becomes its answer (either family), sent back out of the arrival side.
  const answer = imp('#functions/firewall/reject-answer.ts', 'writeRejectAnswer');
  const reject = `const ${v('n')} = ${answer}(view, off, L, ${v('rj')});
if (${v('n')} === 0) ${ctx.drop('reject_suppressed')}
len = ${v('n')};
if (${v('proto')} === 6 && ${v('rj')} < 0) ${ctx.count('rejected_tcp_reset')} else ${ctx.count('rejected_icmp')}
verdict = side;
${ctx.finish()}`;

  /**
   * The part both families share once the packet is known new: first-match rules (the
   * family's lookup), then allow (tracking it: `track`), drop or reject (`reject`: the
   * answer `writeRejectAnswer` writes for either family).
   */
  const decide = (lookup: string, track: string) => `let ${v('rule')} = -1;
${lookup}
${ctx.trace('rule', `${v('rule')} + 1`, named ? ['none: default policy', ...ruleNames] : undefined)}
let ${v('a')} = ${config.defaultAction}, ${v('rj')} = ${RejectWith.AUTO};
if (${v('rule')} >= 0) {
  ${v('a')} = ${v('act')}[${v('rule')}]; ${v('rj')} = ${v('rej')}[${v('rule')}];
  ${perRule ? `counters[${ruleBase} + ${v('rule')}] += 1;` : ''}
}
if (${v('a')} === ${Action.ALLOW}) {
  ${stateful ? track : ''}
  if (${v('rule')} >= 0) ${ctx.count('allowed_rule')} else ${ctx.count('allowed_default')}
  ${ctx.finish()}
}
if (${v('a')} === ${Action.DROP}) {
  if (${v('rule')} >= 0) ${ctx.drop('acl_denied')}
  ${ctx.drop('default_policy')}
}
${reject}
`;

  /** A tracked connection's packet passes (`ref` from the family's lookup): the shared fast path. */
  const established = (lookupRef: string) => `let ref = ${lookupRef};
  const opening = ${v('proto')} === 6 && (${v('flags')} & 0x17) === 0x02;
  if (ref >= 0 && opening) {
    // A SYN on the tuple of a closed connection opens a new one: judge it afresh.
    const st = ${ct}.state(ref >>> 1);
    if (st === ${CtState.TCP_TIME_WAIT} || st === ${CtState.TCP_CLOSE}) { ${ct}.delete(ref >>> 1); ref = -1; }
  }
  if (ref >= 0) {
    const dir = ref & 1;
    if (${v('kind')} >= 2 && (${v('kind')} === 2) !== (dir === 0)) ${ctx.drop('ct_invalid')}
    if (${ct}.update(ref >>> 1, dir, ${v('flags')}, now) < 0) ${ctx.drop('ct_invalid')}
    ${ctx.count('ct_established')}
    ${ctx.trace('conntrack', '0', ['established: passed without rules'])}
    ${ctx.finish()}
  }
  if ((${v('proto')} === 6 && !opening) || ${v('kind')} === 3) ${ctx.drop('ct_no_connection')}`;
  const related = `${ctx.count('ct_related')}
        ${ctx.trace('conntrack', '1', ['', 'related: an ICMP error about a tracked connection'])}
        ${ctx.finish()}`;
  const tracked = (create: string) => `if (${v('kind')} !== 1 && ${v('kind')} !== 4) {
    const e = ${create};
    if (e === -1) ${ctx.drop('ct_table_full')}
    if (e < 0) ${ctx.drop('ct_invalid')}
    ${ct}.update(e, 0, ${v('flags')}, now);
  }`;

  // IPv6: ports and ICMPv6 kinds from the parser's layout (a later fragment has no L4
  // header: no ports); neighbour discovery passes.
  const extract6 = imp('#nfvkit/packet/flow-key-ipv6.ts', 'extractFlowKey6');
  const inner6 = imp('#nfvkit/packet/flow-key-ipv6.ts', 'extractIcmpv6InnerFlowKey');
  let p6 = `const ${v('l3')} = L.l3Offset, ${v('l4')} = L.l4Offset, ${v('proto')} = L.ipProto;
const ${v('a0')} = view.getInt32(${v('l3')} + 8), ${v('a1')} = view.getInt32(${v('l3')} + 12), ${v('a2')} = view.getInt32(${v('l3')} + 16), ${v('a3')} = view.getInt32(${v('l3')} + 20);
const ${v('b0')} = view.getInt32(${v('l3')} + 24), ${v('b1')} = view.getInt32(${v('l3')} + 28), ${v('b2')} = view.getInt32(${v('l3')} + 32), ${v('b3')} = view.getInt32(${v('l3')} + 36);
let ${v('sp')} = 0, ${v('dp')} = 0, ${v('flags')} = 0, ${v('kind')} = 0;
if (${v('l4')} >= 0) {
  if (${v('proto')} === 6 || ${v('proto')} === 17) {
    ${v('sp')} = view.getUint16(${v('l4')}); ${v('dp')} = view.getUint16(${v('l4')} + 2);
    if (${v('proto')} === 6) ${v('flags')} = view.getUint8(${v('l4')} + 13);
  } else if (${v('proto')} === 58) {
    const t = view.getUint8(${v('l4')});
    ${v('dp')} = t;
    if (t === 128 || t === 129) ${v('kind')} = t === 128 ? 2 : 3;
    else if (t >= 1 && t <= 4) ${v('kind')} = 1;
    else if (t >= 133 && t <= 137) { ${ctx.count('ndp_passed')} ${ctx.finish()} }
    else ${v('kind')} = 4;
  }
}
`;
  if (stateful) {
    p6 += `if (${v('kind')} === 1) {
  // RELATED: an ICMPv6 error quoting a packet of a tracked connection, sent back to that packet's source.
  if (${inner6}(view, L, ${k6}) && ${k6}.s0 === ${v('b0')} && ${k6}.s1 === ${v('b1')} && ${k6}.s2 === ${v('b2')} && ${k6}.s3 === ${v('b3')} && ${ct}.lookup6(${k6}, now) >= 0) {
        ${related}
  }
} else if (${v('kind')} !== 4) {
  ${extract6}(view, L, ${k6});
  ${established(`${ct}.lookup6(${k6}, now)`)}
}
`;
  }
  p6 += decide(code6.lookup, tracked(`${ct}.createFlow6(${k6}, now)`));

  // IPv4. Packet kinds: 0 TCP/UDP/other, 1 ICMP error, 2 echo request, 3 echo reply, 4 other ICMP.
  let p4 = `const ${v('l3')} = L.l3Offset, ${v('l4')} = L.l4Offset, ${v('proto')} = L.ipProto;
const ${v('src')} = view.getInt32(${v('l3')} + 12), ${v('dst')} = view.getInt32(${v('l3')} + 16);
let ${v('sp')} = 0, ${v('dp')} = 0, ${v('flags')} = 0, ${v('ka')} = 0, ${v('kb')} = 0, ${v('kind')} = 0;
if (${v('proto')} === 6 || ${v('proto')} === 17) {
  ${v('sp')} = view.getUint16(${v('l4')}); ${v('dp')} = view.getUint16(${v('l4')} + 2);
  ${v('ka')} = ${v('sp')}; ${v('kb')} = ${v('dp')};
  if (${v('proto')} === 6) ${v('flags')} = view.getUint8(${v('l4')} + 13);
} else if (${v('proto')} === 1) {
  const t = view.getUint8(${v('l4')});
  ${v('dp')} = t;
  if (t === 8 || t === 0) { ${v('ka')} = view.getUint16(${v('l4')} + 4); ${v('kb')} = ${v('ka')}; ${v('kind')} = t === 8 ? 2 : 3; }
  else if (t === 3 || t === 11 || t === 12 || t === 4 || t === 5) ${v('kind')} = 1;
  else ${v('kind')} = 4;
}
`;
  if (stateful) {
    p4 += `if (${v('kind')} === 1) {
  // RELATED: an ICMP error quoting a packet of a tracked connection, sent back to that packet's source.
  const q = ${v('l4')} + 8, qlen = L.l4Length - 8;
  if (qlen >= 28) {
    const vihl = view.getUint8(q), ihl = (vihl & 15) << 2;
    if ((vihl >>> 4) === 4 && ihl >= 20 && ihl + 8 <= qlen && view.getInt32(q + 12) === ${v('dst')}) {
      const ip = view.getUint8(q + 9), ql4 = q + ihl;
      let a = 0, b = 0;
      if (ip === 6 || ip === 17) { a = view.getUint16(ql4); b = view.getUint16(ql4 + 2); }
      else if (ip === 1) { const it = view.getUint8(ql4); if (it === 8 || it === 0) { a = view.getUint16(ql4 + 4); b = a; } }
      if (${ct}.lookup(ip, ${v('dst')}, view.getInt32(q + 16), a, b, now) >= 0) {
        ${related}
      }
    }
  }
} else if (${v('kind')} !== 4) {
  ${established(`${ct}.lookup(${v('proto')}, ${v('src')}, ${v('dst')}, ${v('ka')}, ${v('kb')}, now)`)}
}
`;
  }
  p4 += decide(code4.lookup, tracked(`${ct}.createFlow(${v('proto')}, ${v('src')}, ${v('dst')}, ${v('ka')}, ${v('kb')}, now)`));

  const p = `{
if (L.ethertype === 0x86dd) {
${p6}
}
if (L.ethertype !== 0x0800) { ${ctx.count('non_ip_passed')} ${ctx.finish()} }
${p4}
}`;
  return { init, perBatch, perPacket: p, ...(onAttach === undefined ? {} : { onAttach }) };
}
