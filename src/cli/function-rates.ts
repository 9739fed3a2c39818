/**
 * Per-function rates from per-instance ones: what `nfvkit top` and `nfvkit up` show by
 * default. Packet and byte rates add up over a function's instances; queue occupancy and
 * busy ratio are averaged.
 *
 * @example
 * ```ts
 * ratesByFunction(controller.stats());
 * // [{ chain: 'web-edge', function: 'fw', instances: 2, rxPps: 410000, txPps: 409800, … }]
 * ```
 */
import type { InstanceRates } from '../controller/controller-api.ts';

/** Rates of one function of a chain, summed (or averaged) over its instances. */
export interface FunctionRates extends Omit<InstanceRates, 'instance'> {
  /** Instances summed (rates) or averaged (`queueOccupancy`, `busyRatio`: means over them). */
  readonly instances: number;
}

/** Groups `rates` by chain and function, in first-seen order (the chain's function order). */
export function ratesByFunction(rates: readonly InstanceRates[]): FunctionRates[] {
  const groups = new Map<string, InstanceRates[]>();
  for (const r of rates) {
    const key = `${r.chain}\u0000${r.function}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [r]);
    else group.push(r);
  }
  return [...groups.values()].map((group) => {
    const sum = (pick: (r: InstanceRates) => number): number => group.reduce((n, r) => n + pick(r), 0);
    return {
      chain: group[0].chain,
      function: group[0].function,
      instances: group.length,
      rxPps: sum((r) => r.rxPps),
      txPps: sum((r) => r.txPps),
      dropPps: sum((r) => r.dropPps),
      rxBps: sum((r) => r.rxBps),
      queueOccupancy: sum((r) => r.queueOccupancy) / group.length,
      busyRatio: sum((r) => r.busyRatio) / group.length,
    };
  });
}
