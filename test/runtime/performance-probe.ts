import { z } from 'zod';
import { definePipeline } from '../../src/pipeline/define-pipeline.ts';
import { use, type ElementDefinition } from '../../src/pipeline/element.ts';

/** Internal module Node loads the first time `performance` is read. */
export const PERFORMANCE_MODULE = 'NativeModule internal/perf/performance';

const probeElement: ElementDefinition<Record<string, never>> = {
  kind: 'performance-probe',
  description: 'Counts, when its pipeline is built, whether the process had not loaded `performance` yet.',
  config: z.object({}).strict(),
  counters: [{ name: 'performance_not_loaded', drop: false, help: 'performance was still unloaded when the pipeline was built' }],
  generate(_config, ctx) {
    return {
      init: `if (!process.moduleLoadList.includes(${JSON.stringify(PERFORMANCE_MODULE)})) counters[${ctx.counterIndex('performance_not_loaded')}] = 1;\n`,
      perPacket: '',
    };
  },
};

/** Forwards frames; its counter says whether `performance` was loaded before its pipeline was built (tests only). */
export const performanceProbe = definePipeline({
  name: 'performance-probe',
  description: 'Forwards frames; records whether performance was loaded when the pipeline was built (tests only).',
  config: z.object({}).strict(),
  memoryMiB: 16,
  elements: () => [use(probeElement, {})],
});
