import { z } from 'zod';
import { CT_MAX_CAPACITY } from './conntrack-table.ts';
import { DEFAULT_CONNTRACK_TIMEOUTS, type ConntrackTimeouts } from './conntrack-timeouts.ts';

const seconds = z.number().finite().min(0, 'timeout must be >= 0 seconds').max(30 * 86400, 'timeout must be <= 30 days');
const timeoutKeys = Object.keys(DEFAULT_CONNTRACK_TIMEOUTS) as Array<keyof ConntrackTimeouts>;

/**
 * Connection-tracking options as functions take them in their configuration: capacity (a
 * power of two), idle timeouts in seconds per state (merged over
 * `DEFAULT_CONNTRACK_TIMEOUTS`; unknown names are errors) and the policy when full.
 *
 * @example
 * ```ts
 * const schema = z.object({ conntrack: conntrackConfigSchema.prefault({}) });
 * schema.parse({ conntrack: { capacity: 1024, timeouts: { udpAssured: 60 } } });
 * ```
 */
export const conntrackConfigSchema = z
  .object({
    /** Most tracked connections: a power of two in [2, 2^22] (default 65536). */
    capacity: z
      .number()
      .int()
      .min(2)
      .max(CT_MAX_CAPACITY)
      .refine((n) => (n & (n - 1)) === 0, 'capacity must be a power of two')
      .default(1 << 16),
    /** Idle timeouts in seconds, per state. */
    timeouts: z
      .object(Object.fromEntries(timeoutKeys.map((k) => [k, seconds.optional()])) as Record<keyof ConntrackTimeouts, z.ZodOptional<typeof seconds>>)
      .strict()
      .default({}),
    /** When full: evict a not-yet-assured connection (default) or refuse the new one. */
    whenFull: z.enum(['evict', 'refuse']).default('evict'),
  })
  .strict();
