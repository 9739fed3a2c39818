import type { FunctionBackends } from '../../src/backends/function-backends.ts';
import { BackendState } from './backend-state.ts';
import type { LoadBalancerConfig } from './config.ts';
import { formatAddress } from './config.ts';
import { backendConnectionsCounterName, backendCounterName } from './lb-maglev.ts';
import { planAddress, planLoadBalancer } from './service-plan.ts';

/**
 * The load balancer's backends as the controller steers them: every backend of every
 * service in plan order (the global backend index is the control-array slot and names the
 * per-backend counters). `PipelineDefinition.backends` of `loadBalancer`.
 *
 * @example
 * ```ts
 * lbBackends.list(cfg).map((b) => `${b.service}/${b.name}`); // ['web/198.19.0.1:8080', 'web6/[2001:db8:1::1]:8080', …]
 * ```
 */
export const lbBackends: FunctionBackends<LoadBalancerConfig> = {
  list(config) {
    const plan = planLoadBalancer(config);
    return plan.backends.map((b) => {
      const service = plan.services[b.service];
      return {
        service: service.name,
        name: b.name,
        address: formatAddress(planAddress(b.address)),
        port: b.port,
        protocol: service.proto === 17 ? 'udp' : 'tcp',
        configured: b.state === BackendState.DRAINING ? BackendState.DRAINING : BackendState.ACTIVE,
      };
    });
  },
  connectionsCounter: backendConnectionsCounterName,
  newFlowsCounter: backendCounterName,
};
