import { z } from 'zod';
import { definePipeline } from '../../src/pipeline/define-pipeline.ts';
import { use, type ElementDefinition } from '../../src/pipeline/element.ts';
import { parseFrameElement } from '../../src/pipeline/elements/parse-frame-element.ts';

export const THROW_PORT = 6661;
export const HOG_PORT = 6662;
export const SPIN_PORT = 6663;

const faultElement: ElementDefinition<Record<string, never>> = {
  kind: 'fault-on-magic-port',
  description: 'Throws, allocates without bound or spins forever when a UDP/TCP destination port is magic.',
  config: z.object({}).strict(),
  counters: [],
  generate() {
    return {
      perPacket:
        `{ const dport = view.getUint16(off + 36);\n` +
        `  if (dport === ${THROW_PORT}) throw new Error('magic packet');\n` +
        `  if (dport === ${HOG_PORT}) { const hog = []; for (;;) hog.push(new Array(65536).fill(off)); }\n` +
        `  if (dport === ${SPIN_PORT}) { for (;;) {} } }`,
    };
  },
};

export const faultyFunction = definePipeline({
  name: 'faulty-test',
  description: 'Forwards frames; misbehaves on magic destination ports (tests only).',
  config: z.object({}).strict(),
  memoryMiB: 16,
  elements: () => [use(parseFrameElement, { verifyL4Checksum: false }), use(faultElement, {})],
});
