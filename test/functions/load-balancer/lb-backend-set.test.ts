import { describe, expect, it } from 'vitest';
import { BackendSet } from '../../../functions/load-balancer/backend-set.ts';
import { BackendState, CONTROL_BACKEND_COUNT, CONTROL_STATES, controlLength } from '../../../functions/load-balancer/backend-state.ts';
import { planLoadBalancer } from '../../../functions/load-balancer/service-plan.ts';
import { loadBalancerConfigSchema } from '../../../functions/load-balancer/config.ts';

const plan = planLoadBalancer(
  loadBalancerConfigSchema.parse({
    services: [
      { name: 'web', vip: '198.18.2.100', port: 80, backends: [{ address: '198.18.3.11', port: 8080 }, { address: '198.18.3.12', port: 8080 }] },
      { name: 'dns', vip: '198.18.2.101', port: 53, proto: 'udp', backends: [{ address: '198.18.3.21' }, { address: '198.18.3.22' }] },
    ],
    maglevTableSize: 251,
  }),
);

/** A control array whose states are `states` (backends in plan order). */
function control(states: readonly number[]): Int32Array {
  const c = new Int32Array(controlLength(states.length));
  c[CONTROL_BACKEND_COUNT] = states.length;
  states.forEach((st, b) => (c[CONTROL_STATES + b] = st));
  return c;
}

const slotsOf = (set: BackendSet, s: number): Int32Array => set.maglev.subarray(s * set.tableSize, (s + 1) * set.tableSize);
const A = BackendState.ACTIVE;

describe('BackendSet.attachControl (a pipeline built ahead gets its control array at boot)', () => {
  it('keeps every Maglev table when the states it brings leave each service the same active backends', () => {
    const set = new BackendSet(plan);
    const tables = [0, 1].map((s) => slotsOf(set, s).slice());
    set.attachControl(control([A, A, A, A]));
    expect(set.rebuilds).toBe(0);
    for (const s of [0, 1]) expect(slotsOf(set, s)).toEqual(tables[s]);
  });

  it('rebuilds only the service whose active set changed: a draining backend gets no slot, the other service keeps its table', () => {
    const set = new BackendSet(plan);
    const dns = slotsOf(set, 1).slice();
    set.attachControl(control([A, BackendState.DRAINING, A, A]));
    expect(set.rebuilds).toBe(1);
    expect(set.state[1]).toBe(BackendState.DRAINING);
    expect(slotsOf(set, 0).every((b) => b === 0)).toBe(true);
    expect(slotsOf(set, 1)).toEqual(dns);
  });
});
