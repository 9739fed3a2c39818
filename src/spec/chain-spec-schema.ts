import { z } from 'zod';
import { CHAIN_SPEC_API_VERSION, CHAIN_SPEC_KIND, DEFAULT_SCALING, MAX_REPLICAS, PLACEMENTS } from './chain-spec.ts';
import { healthCheckSchema } from './health-check-spec.ts';
import { portSpecSchema } from './port-spec.ts';
import { SPEC_LIMITS } from './spec-limits.ts';
import { dnsLabel, imageRefText, ipPrefixText, memoryQuantity, portOrRangeText } from './spec-values.ts';

/**
 * The zod schema of a chain spec document, field by field. It checks shapes, ranges and
 * unknown fields; what needs several fields or the function registry (unique names,
 * `function` xor `image`, each function's own config schema, `min ≤ max`) is
 * `checkChainSpec`'s job, so that every problem is found even where a shape is wrong.
 * `chainSpecJsonSchema` turns the same schema into a JSON Schema for editors.
 *
 * @example
 * ```ts
 * const result = chainSpecSchema.safeParse(doc.toJS());
 * ```
 */

const metadataSchema = z
  .object({
    name: dnsLabel.meta({ description: 'Chain name, a DNS label.' }),
    labels: z
      .record(z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/, 'label keys: letters, digits, ".", "_", "/", "-"'), z.string().max(256))
      .default({})
      // The count is checked by `checkChainSpec` (zod records have no size bound); editors see it here.
      .meta({ description: `Free-form string labels, at most ${SPEC_LIMITS.labels.value}.`, maxProperties: SPEC_LIMITS.labels.value }),
  })
  .strict();

const classifierSchema = z
  .object({
    protocols: z
      .array(z.enum(['tcp', 'udp', 'icmp', 'icmpv6']))
      .min(1, 'at least one protocol (omit `protocols` to admit all)')
      .optional()
      .meta({ description: 'Transport protocols admitted (IPv6: the protocol after the extension headers); omitted: all.' }),
    destinations: z
      .array(ipPrefixText)
      .min(1, 'at least one prefix (omit `destinations` to admit all)')
      .optional()
      .meta({ description: 'Destination prefixes (IPv4 or IPv6) of client → server traffic; omitted: all. Listing some admits a packet only if its destination is in one of its own family.' }),
    ports: z
      .array(portOrRangeText)
      .min(1, 'at least one port (omit `ports` to admit all)')
      .optional()
      .meta({ description: 'Destination ports or ranges ("8000-8080"); omitted: all.' }),
  })
  .strict()
  .meta({ description: 'Which client traffic enters the chain; the rest is dropped and counted.' });

const replicas = z.number().int().min(1, 'must be >= 1').max(MAX_REPLICAS, `must be <= ${MAX_REPLICAS}`);

const scalingSchema = z
  .object({
    min: replicas.default(DEFAULT_SCALING.min).meta({ description: 'Fewest instances (default 1).' }),
    max: replicas.optional().meta({ description: 'Most instances, >= min (default: min).' }),
    target: z.number().positive().default(DEFAULT_SCALING.target).meta({ description: 'Target packets per second per instance (default 500000).' }),
    drainTimeoutSeconds: z.number().min(0).max(86_400).default(DEFAULT_SCALING.drainTimeoutSeconds).meta({ description: 'Seconds a draining instance may keep its flows (default 30).' }),
    cooldownSeconds: z.number().min(0).max(86_400).default(DEFAULT_SCALING.cooldownSeconds).meta({ description: 'Seconds between two scaling steps (default 10).' }),
  })
  .strict()
  .transform((s) => ({ ...s, max: s.max ?? s.min }))
  .meta({ description: 'Instance count bounds and autoscaler settings.' });

const functionSchema = z
  .object({
    name: dnsLabel.meta({ description: 'Name within the chain (unique, DNS label).' }),
    function: z.string().min(1).optional().meta({ description: 'Registered function to build (give this or `image`).' }),
    image: imageRefText.optional().meta({ description: 'Prebuilt image id or id prefix (give this or `function`).' }),
    config: z.unknown().optional().meta({ description: "The function's configuration (only with `function`)." }),
    scaling: scalingSchema.prefault({}),
    healthChecks: z
      .array(healthCheckSchema)
      .max(SPEC_LIMITS.healthChecksPerFunction.value, `at most ${SPEC_LIMITS.healthChecksPerFunction.value} health checks per function (limit healthChecksPerFunction)`)
      .default([])
      .meta({ description: `Active health checks of the function's services (functions with backends, e.g. load-balancer; at most ${SPEC_LIMITS.healthChecksPerFunction.value}).` }),
    resources: z
      .object({ memory: memoryQuantity.optional() })
      .strict()
      .default({})
      .meta({ description: 'Per-instance resources.' }),
  })
  .strict();

/** Zod schema of a whole chain spec document (function configs unchecked: see `checkChainSpec`). */
export const chainSpecSchema = z
  .object({
    apiVersion: z.literal(CHAIN_SPEC_API_VERSION),
    kind: z.literal(CHAIN_SPEC_KIND),
    metadata: metadataSchema,
    spec: z
      .object({
        ingress: portSpecSchema.meta({ description: 'The inside end (clients).' }),
        egress: portSpecSchema.meta({ description: 'The outside end (servers).' }),
        classifier: classifierSchema.optional(),
        functions: z
          .array(functionSchema)
          .min(1, 'a chain needs at least one function')
          .max(SPEC_LIMITS.functionsPerChain.value, `at most ${SPEC_LIMITS.functionsPerChain.value} functions in a chain (limit functionsPerChain)`)
          .meta({
            description: `The functions in order, inside → outside; at most ${SPEC_LIMITS.functionsPerChain.value}, together at most ${SPEC_LIMITS.instancesPerChain.value} instances (the sum of scaling.max).`,
          }),
        placement: z
          .enum(PLACEMENTS)
          .default('auto')
          .meta({
            description:
              'How the functions run: isolated (one image and instance set per function, linked by virtqueues), fused (the functions compiled into one image run to completion by each replica), or auto (fused when the machine has fewer cores than isolated placement has busy threads; default).',
          }),
      })
      .strict(),
  })
  .strict()
  .meta({ title: 'nfvkit ServiceFunctionChain', description: 'A service-function chain (nfvkit.dev/v1).' });

/** What `chainSpecSchema` yields. */
export type ChainSpecDocument = z.output<typeof chainSpecSchema>;
