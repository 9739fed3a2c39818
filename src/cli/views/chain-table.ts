/**
 * Text views of chains: the `get chains` table and the functions table of `describe`.
 *
 * @example
 * ```ts
 * println(ctx, chainTable(await client.listChains(), Date.now()));
 * // NAME      PHASE  GEN  FUNCTIONS   READY  AGE
 * // web-edge  Ready    1  fw,lb,nat   3/3    2m5s
 * ```
 */
import type { ChainSummary, FunctionStatus } from '../../controller/controller-api.ts';
import { renderTable, type Column } from '../output.ts';
import { formatAge, formatRate, formatSeconds, shortId } from '../units.ts';

/** Ready/desired instances over all functions of a chain, e.g. `3/3`. */
export function readySummary(chain: ChainSummary): string {
  const ready = chain.functions.reduce((n, f) => n + f.readyReplicas, 0);
  const desired = chain.functions.reduce((n, f) => n + f.desiredReplicas, 0);
  return `${ready}/${desired}`;
}

/** The `get chains` table (summaries or full statuses); `now` (Unix ms) gives the ages. */
export function chainTable(chains: readonly ChainSummary[], now: number): string {
  const columns: Column<ChainSummary>[] = [
    { header: 'NAME', value: (c) => c.name },
    { header: 'PHASE', value: (c) => c.phase },
    { header: 'GEN', value: (c) => String(c.generation), right: true },
    { header: 'FUNCTIONS', value: (c) => c.functions.map((f) => f.name).join(',') },
    { header: 'READY', value: readySummary, right: true },
    { header: 'AGE', value: (c) => formatAge(now - c.appliedAt), right: true },
  ];
  return renderTable(columns, chains);
}

/**
 * A function's crash-loop back-off: the wait after its last failure and, while a
 * replacement is held back, when it boots (`3.2s, next in 1.1s`); `-` when healthy.
 */
export function backoffSummary(f: FunctionStatus, now: number): string {
  if (f.failures === 0) return '-';
  const wait = f.nextRestartAt - now;
  return wait > 0 ? `${formatSeconds(f.restartDelayMs)}, next in ${formatSeconds(wait)}` : formatSeconds(f.restartDelayMs);
}

/**
 * The functions of a chain: spec name, registered function, image, replicas, bounds,
 * failures and back-off; `now` (Unix ms) gives the time to the next restart.
 */
export function functionTable(functions: readonly FunctionStatus[], now: number): string {
  const columns: Column<FunctionStatus>[] = [
    { header: 'NAME', value: (f) => f.name },
    { header: 'FUNCTION', value: (f) => f.function },
    { header: 'IMAGE', value: (f) => shortId(f.imageId) },
    { header: 'READY', value: (f) => `${f.readyReplicas}/${f.desiredReplicas}`, right: true },
    { header: 'MIN', value: (f) => String(f.min), right: true },
    { header: 'MAX', value: (f) => String(f.max), right: true },
    { header: 'TARGET PPS', value: (f) => formatRate(f.target), right: true },
    { header: 'FAILURES', value: (f) => String(f.failures), right: true },
    { header: 'BACK-OFF', value: (f) => backoffSummary(f, now) },
  ];
  return renderTable(columns, functions);
}
