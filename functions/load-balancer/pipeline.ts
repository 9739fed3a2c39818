import { definePipeline } from '../../src/pipeline/define-pipeline.ts';
import { use } from '../../src/pipeline/element.ts';
import { parseFrameElement } from '../../src/pipeline/elements/parse-frame-element.ts';
import { loadBalancerConfigSchema } from './config.ts';
import { lbBackends } from './lb-backends.ts';
import { createLbMaglevElement } from './lb-maglev.ts';
import { planLoadBalancer } from './service-plan.ts';

/**
 * The `load-balancer` network function: a layer-4 load balancer in NAT mode. Clients (on
 * `clientSide`, default inside/eth0) connect to virtual services (VIP:port, TCP or UDP);
 * each new connection goes to one of the service's weighted backends, picked by Maglev
 * consistent hashing of the 5-tuple, and stays there (connection tracking). Client packets
 * are DNATed to the backend; replies from the backend get the VIP:port back as source.
 * See `README.md` for the configuration reference.
 *
 * @example
 * ```ts
 * const compiled = compilePipeline(loadBalancer, {
 *   services: [{ name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.2', port: 8080, weight: 2 }] }],
 * });
 * const lb = await loadPipeline(compiled, { counters: new Float64Array(compiled.counters.length) });
 * ```
 */
export const loadBalancer = definePipeline({
  name: 'load-balancer',
  description: 'Layer-4 NAT load balancer: VIP services to weighted backends by Maglev hashing, with connection affinity.',
  config: loadBalancerConfigSchema,
  elements: (cfg) => {
    const plan = planLoadBalancer(cfg);
    return [use(parseFrameElement, {}), use(createLbMaglevElement(plan), plan)];
  },
  memoryMiB: 256,
  backends: lbBackends,
});
