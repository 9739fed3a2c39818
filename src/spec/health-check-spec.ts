import { z } from 'zod';
import { endpointText, ipAddressText } from './spec-values.ts';

/** Fewest seconds between two probes of one backend. */
export const HEALTH_MIN_INTERVAL_SECONDS = 0.05;
/** Most seconds between two probes of one backend. */
export const HEALTH_MAX_INTERVAL_SECONDS = 3600;
/** Most probes in a row that `rise` and `fall` may ask for. */
export const HEALTH_MAX_THRESHOLD = 100;

/**
 * Zod schema of one active health check of a function's service (`spec.functions[i].
 * healthChecks[j]`): the controller probes every backend of `service` each
 * `intervalSeconds` — a TCP connect, or an HTTP GET of `path` answered 2xx or 3xx — and
 * takes a backend out after `fall` failed probes in a row, back in after `rise` good ones.
 * Cross-field rules (the service exists, `addresses` name its backends, `timeoutSeconds ≤
 * intervalSeconds`, `path` only for http, the probe rate) are `checkChainSpec`'s.
 *
 * @example
 * ```ts
 * healthCheckSchema.parse({ service: 'web', protocol: 'http', path: '/healthz', intervalSeconds: 1, fall: 2 });
 * ```
 */
export const healthCheckSchema = z
  .object({
    service: z.string().min(1, 'name a service of the function').max(128).meta({ description: "The service whose backends are checked: its name, or its 'vip:port/proto'." }),
    protocol: z.enum(['tcp', 'http']).default('tcp').meta({ description: 'tcp: the backend accepts a connection; http: it answers GET `path` with 2xx or 3xx (default tcp).' }),
    path: z
      .string()
      .max(256, 'at most 256 characters')
      .regex(/^\/[\x21-\x7e]*$/, 'an absolute path of printable ASCII, e.g. "/healthz"')
      .optional()
      .meta({ description: 'HTTP path to GET (http only; default "/").' }),
    port: z.number().int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535').optional().meta({ description: "Port probed on every backend (default: each backend's own)." }),
    intervalSeconds: z
      .number()
      .min(HEALTH_MIN_INTERVAL_SECONDS, `must be >= ${HEALTH_MIN_INTERVAL_SECONDS}`)
      .max(HEALTH_MAX_INTERVAL_SECONDS, `must be <= ${HEALTH_MAX_INTERVAL_SECONDS}`)
      .default(2)
      .meta({ description: 'Seconds between two probes of a backend (default 2).' }),
    timeoutSeconds: z
      .number()
      .min(0.01, 'must be >= 0.01')
      .max(HEALTH_MAX_INTERVAL_SECONDS, `must be <= ${HEALTH_MAX_INTERVAL_SECONDS}`)
      .optional()
      .meta({ description: 'Seconds a probe may take, at most intervalSeconds (default: half the interval, at most 1).' }),
    rise: z.number().int('must be a whole number').min(1, 'must be >= 1').max(HEALTH_MAX_THRESHOLD, `must be <= ${HEALTH_MAX_THRESHOLD}`).default(2).meta({ description: 'Good probes in a row that bring a down backend back (default 2).' }),
    fall: z.number().int('must be a whole number').min(1, 'must be >= 1').max(HEALTH_MAX_THRESHOLD, `must be <= ${HEALTH_MAX_THRESHOLD}`).default(3).meta({ description: 'Failed probes in a row that take a backend out (default 3).' }),
    addresses: z
      .record(endpointText, ipAddressText)
      .default({})
      .meta({ description: "Where the controller reaches a backend when not at its own address (a management network): backend 'a.b.c.d:port' → IPv4 or IPv6 address to probe." }),
  })
  .strict()
  .transform((c) => ({ ...c, path: c.path ?? '/', timeoutSeconds: c.timeoutSeconds ?? Math.min(1, c.intervalSeconds / 2) }));
