import type { InstanceStatsSource } from '../../../src/metrics/instance-stats-source.ts';
import { BUILTIN_COUNTERS, BuiltinCounter, type CounterInfo } from '../../../src/pipeline/compiled-pipeline.ts';
import type { SideNumber } from '../../../src/pipeline/verdict.ts';

export const FAKE_COUNTERS: readonly CounterInfo[] = [
  ...BUILTIN_COUNTERS,
  { name: 'bad_checksum', element: 'parse', drop: true, help: 'bad checksum' },
  { name: 'conn_created', element: 'fw', drop: false, help: 'connections created' },
  { name: 'no_rule', element: 'fw', drop: true, help: 'no rule matched' },
];

export class FakeSource implements InstanceStatsSource {
  counters = new Float64Array(FAKE_COUNTERS.length);
  readonly counterInfo = FAKE_COUNTERS;
  occupancy: [number, number] = [0, 0];
  loopStats?: Float64Array;
  sandboxDenied?: Int32Array;

  constructor(
    readonly id: string,
    readonly chain = 'edge',
    readonly fn = 'fw',
  ) {}

  get function(): string {
    return this.fn;
  }

  queueOccupancy(side: SideNumber): number {
    return this.occupancy[side];
  }

  /** Adds traffic: `rx` packets in on the inside, `tx` out on the outside, `drop` dropped as no_rule, `size` bytes each. */
  traffic(rx: number, tx: number, drop = 0, size = 100): void {
    const c = this.counters;
    c[BuiltinCounter.RX_INSIDE_PACKETS] += rx;
    c[BuiltinCounter.RX_INSIDE_BYTES] += rx * size;
    c[BuiltinCounter.TX_OUTSIDE_PACKETS] += tx;
    c[BuiltinCounter.TX_OUTSIDE_BYTES] += tx * size;
    c[BuiltinCounter.DROPPED_PACKETS] += drop;
    c[11] += drop;
  }
}
