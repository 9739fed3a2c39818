import { z } from 'zod';
import { definePipeline } from '../../src/pipeline/define-pipeline.ts';
import { use } from '../../src/pipeline/element.ts';
import { parseFrameElement } from '../../src/pipeline/elements/parse-frame-element.ts';

/** Configuration of `pass-through`. */
export const passThroughConfig = z
  .object({
    /** Verify TCP/UDP/ICMP checksums and drop frames whose checksum is wrong. */
    verifyL4Checksum: z.boolean().default(false),
  })
  .strict();

/**
 * `pass-through`: validates every frame and forwards the well-formed ones to the other side.
 * The smallest useful function: the baseline for per-hop cost in chain benchmarks.
 *
 * @example
 * ```ts
 * const compiled = compilePipeline(passThrough, {});
 * ```
 */
export const passThrough = definePipeline({
  name: 'pass-through',
  description: 'Forwards every well-formed frame to the other side; malformed frames are dropped with a reason.',
  config: passThroughConfig,
  memoryMiB: 16,
  elements: (config) => [use(parseFrameElement, { verifyL4Checksum: config.verifyL4Checksum })],
});
