/**
 * The `nfvkit backends` table.
 *
 * @example
 * ```ts
 * println(ctx, backendTable(await client.listBackends('web-edge-vxlan'), Date.now()));
 * // SERVICE  BACKEND           STATE     HEALTH  EFFECTIVE  CONNS  NEW FLOWS  CHANGED  DETAIL
 * // web      198.18.3.11:8080  active    up      active         3         41  2m       HTTP 200
 * ```
 */
import type { BackendStatus } from '../../controller/backend-status.ts';
import { renderTable, type Column } from '../output.ts';
import { formatAge } from '../units.ts';

/** Backends as a table; `now` (Unix ms) gives the age of the last health change. */
export function backendTable(backends: readonly BackendStatus[], now: number): string {
  const columns: Column<BackendStatus>[] = [
    { header: 'SERVICE', value: (b) => b.service },
    { header: 'BACKEND', value: (b) => b.backend },
    { header: 'STATE', value: (b) => b.state },
    { header: 'HEALTH', value: (b) => b.health },
    { header: 'EFFECTIVE', value: (b) => b.effective },
    { header: 'CONNS', value: (b) => String(b.connections), right: true },
    { header: 'NEW FLOWS', value: (b) => String(b.newFlows), right: true },
    { header: 'CHANGED', value: (b) => (b.healthChangedAt > 0 ? formatAge(now - b.healthChangedAt) : '-'), right: true },
    { header: 'DETAIL', value: (b) => b.healthDetail },
  ];
  return renderTable(columns, backends);
}
