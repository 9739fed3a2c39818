import { z } from 'zod';
import { SinkPort } from '../dataplane/ports/sink-port.ts';
import { definePortType } from './port-type.ts';

const sinkPortSchema = z.object({ type: z.literal('sink') }).strict().meta({ description: 'Counts and frees the frames leaving the chain.' });

/** Counts and frees every frame that leaves the chain at this end: `egress: { type: sink }`. */
export type SinkPortSpec = z.output<typeof sinkPortSchema>;

/** The `sink` port type. */
export const sinkPortType = definePortType({
  type: 'sink',
  schema: sinkPortSchema,
  open: async () => {
    const sink = new SinkPort();
    return { port: sink, stats: () => ({ framesOut: sink.frames, bytesOut: sink.bytes }), close: async () => undefined };
  },
});
