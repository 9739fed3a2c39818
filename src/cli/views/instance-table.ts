/**
 * The `get instances` table (also in `describe chain`).
 *
 * @example
 * ```ts
 * println(ctx, instanceTable(await client.listInstances('web-edge'), Date.now()));
 * // ID             FUNCTION  STATE  IMAGE         FLOWS  BOOT   AGE  REASON
 * // web-edge/fw-0  fw        ready  cdb59b0efb7a   1024  127ms  2m
 * ```
 */
import type { InstanceStatus } from '../../controller/controller-api.ts';
import { renderTable, type Column } from '../output.ts';
import { formatAge, formatMs, shortId } from '../units.ts';

/** Instances as a table; `now` (Unix ms) gives the ages. */
export function instanceTable(instances: readonly InstanceStatus[], now: number): string {
  const columns: Column<InstanceStatus>[] = [
    { header: 'ID', value: (i) => i.id },
    { header: 'FUNCTION', value: (i) => i.function },
    { header: 'STATE', value: (i) => i.state },
    { header: 'IMAGE', value: (i) => shortId(i.imageId) },
    { header: 'FLOWS', value: (i) => String(i.flows), right: true },
    { header: 'BOOT', value: (i) => (i.bootMs > 0 ? formatMs(i.bootMs) : '-'), right: true },
    { header: 'AGE', value: (i) => formatAge(now - i.startedAt), right: true },
    { header: 'REASON', value: (i) => i.reason },
  ];
  return renderTable(columns, instances);
}
