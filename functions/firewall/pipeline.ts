import { definePipeline, type PipelineDefinition } from '../../src/pipeline/define-pipeline.ts';
import { use } from '../../src/pipeline/element.ts';
import { parseFrameElement } from '../../src/pipeline/elements/parse-frame-element.ts';
import { ACTION_NAMES, type AclRule } from './acl-rule.ts';
import { actionNumber, firewallConfigSchema, toAclRule, type FirewallConfig } from './config.ts';
import { firewallElement, type FirewallElementConfig } from './firewall-element.ts';

/** Rule sets up to this size get per-rule hit counters unless `ruleCounters` says otherwise. */
export const RULE_COUNTERS_AUTO_MAX = 1024;

/** The firewall element's configuration for a validated function configuration. */
export function firewallElementConfig(config: FirewallConfig): FirewallElementConfig {
  const rules: AclRule[] = config.rules.map(toAclRule);
  return {
    stateful: config.stateful,
    defaultAction: actionNumber(config.defaultPolicy),
    rules,
    conntrack: config.conntrack,
    classifier: config.classifier,
    ruleCounters: config.ruleCounters ?? rules.length <= RULE_COUNTERS_AUTO_MAX,
  };
}

/**
 * `firewall`: a stateful IPv4 firewall. Ordered allow / drop / reject rules (first match
 * wins, then `defaultPolicy`) are compiled into specialised decision code; with
 * `stateful: true` (the default) allowed connections are tracked so their replies pass
 * without rules and unsolicited traffic does not. Rejects answer with a TCP reset or an ICMP
 * destination unreachable on the arrival side. See `functions/firewall/README.md`.
 *
 * @example
 * ```ts
 * const compiled = compilePipeline(firewall, {
 *   defaultPolicy: 'drop',
 *   rules: [{ action: 'allow', side: 'inside', proto: 'tcp', dport: 443 }],
 * });
 * const fw = await loadPipeline(compiled, { counters: new Float64Array(compiled.counters.length) });
 * ```
 */
export const firewall: PipelineDefinition<FirewallConfig> = definePipeline({
  name: 'firewall',
  description: 'Stateful IPv4 firewall: first-match allow/drop/reject rules compiled to decision code, with connection tracking.',
  config: firewallConfigSchema,
  elements: (config) => {
    const element = firewallElementConfig(config);
    const help = element.ruleCounters
      ? config.rules.map((r, i) => `packets matched by rule ${i}${r.name === undefined ? '' : ` (${r.name})`}: ${ACTION_NAMES[actionNumber(r.action)]}`)
      : [];
    // Rule names for traces, as long as they stay small enough to travel in the image's manifest.
    const names = config.rules.length <= RULE_COUNTERS_AUTO_MAX ? config.rules.map((r, i) => `${i}${r.name === undefined ? '' : ` (${r.name})`}: ${r.action}`) : [];
    return [use(parseFrameElement, {}), use(firewallElement(help, names), element)];
  },
  memoryMiB: 256,
});
