/**
 * Rates tables of `top` and `up`: per function (the default) or per instance.
 *
 * @example
 * ```ts
 * println(ctx, functionRatesTable(ratesByFunction(controller.stats())));
 * // CHAIN     FUNCTION  INST  RX PPS  TX PPS  DROP/S  RX BIT/S  QUEUE  BUSY
 * // web-edge  fw           1  286.7k  286.7k       0    146.8M    12%   40%
 * ```
 */
import type { InstanceRates } from '../../controller/controller-api.ts';
import type { FunctionRates } from '../function-rates.ts';
import { renderTable, type Column } from '../output.ts';
import { formatPercent, formatRate } from '../units.ts';

type Rates = FunctionRates | InstanceRates;

const RATE_COLUMNS: readonly Column<Rates>[] = [
  { header: 'RX PPS', value: (r) => formatRate(r.rxPps), right: true },
  { header: 'TX PPS', value: (r) => formatRate(r.txPps), right: true },
  { header: 'DROP/S', value: (r) => formatRate(r.dropPps), right: true },
  { header: 'RX BIT/S', value: (r) => formatRate(r.rxBps * 8), right: true },
  { header: 'QUEUE', value: (r) => formatPercent(r.queueOccupancy), right: true },
  { header: 'BUSY', value: (r) => formatPercent(r.busyRatio), right: true },
];

/** One row per function of each chain. */
export function functionRatesTable(rates: readonly FunctionRates[]): string {
  const columns: Column<FunctionRates>[] = [
    { header: 'CHAIN', value: (r) => r.chain },
    { header: 'FUNCTION', value: (r) => r.function },
    { header: 'INST', value: (r) => String(r.instances), right: true },
    ...(RATE_COLUMNS as readonly Column<FunctionRates>[]),
  ];
  return renderTable(columns, rates);
}

/** One row per instance. */
export function instanceRatesTable(rates: readonly InstanceRates[]): string {
  const columns: Column<InstanceRates>[] = [{ header: 'INSTANCE', value: (r) => r.instance }, { header: 'FUNCTION', value: (r) => r.function }, ...(RATE_COLUMNS as readonly Column<InstanceRates>[])];
  return renderTable(columns, rates);
}
