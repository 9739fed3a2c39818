import { definePipeline } from '../../src/pipeline/define-pipeline.ts';
import { use } from '../../src/pipeline/element.ts';
import { parseFrameElement } from '../../src/pipeline/elements/parse-frame-element.ts';
import { natConfigSchema, type NatConfig } from './config.ts';
import { natElement } from './nat-element.ts';
import { planNat } from './nat-plan.ts';

/**
 * The `nat` network function: masquerade / source NAT of inside (eth0) traffic onto an
 * external address pool with endpoint-independent mapping (RFC 4787), static port
 * forwards (DNAT), ICMP echo identifier and ICMP error translation (RFC 5508), and
 * hairpinning. IPv6 passes untranslated, or with `nat64` inside IPv6 hosts reach IPv4 hosts
 * through RFC 6052 addresses, mapped onto the same pool (RFC 6146, RFC 7915). See
 * `functions/nat/README.md` for the configuration reference.
 *
 * @example
 * ```ts
 * const compiled = compilePipeline(nat, {
 *   snat: { addresses: '198.18.100.1', match: ['10.0.0.0/8'] },
 *   nat64: { prefix: '64:ff9b::/96', match: ['2001:db8:1::/48'] },
 *   portForwards: [{ protocol: 'tcp', externalAddress: '198.18.100.1', externalPort: 8080, internalAddress: '10.0.0.5', internalPort: 80 }],
 * });
 * const instance = await loadPipeline(compiled, { counters: new Float64Array(compiled.counters.length) });
 * ```
 */
export const nat = definePipeline<NatConfig>({
  name: 'nat',
  description: 'Source NAT / masquerade with endpoint-independent mapping, port forwards and ICMP translation; IPv6 passes, or NAT64 to IPv4.',
  config: natConfigSchema,
  elements: (cfg) => [use(parseFrameElement, {}), use(natElement, planNat(cfg))],
  memoryMiB: 128,
  sharded: true,
  // Each instance allocates from its slice of the SNAT range (`shardPortRange`).
  shardedPorts: (cfg) => {
    const plan = planNat(cfg);
    return { from: plan.portFrom, to: plan.portTo };
  },
});
