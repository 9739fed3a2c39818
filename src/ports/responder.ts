import { z } from 'zod';
import { ResponderPort } from '../dataplane/ports/responder-port.ts';
import { definePortType } from './port-type.ts';

const responderPortSchema = z
  .object({ type: z.literal('responder') })
  .strict()
  .meta({ description: 'Simulated TCP servers: answers SYN and FIN, frees the rest.' });

/**
 * Simulated servers (the embedded default's web servers): answers each TCP SYN and FIN
 * that leaves the chain, so stateful functions see complete handshakes; frees the rest.
 * `egress: { type: responder }`.
 */
export type ResponderPortSpec = z.output<typeof responderPortSchema>;

/** The `responder` port type. */
export const responderPortType = definePortType({
  type: 'responder',
  schema: responderPortSchema,
  open: async () => {
    const servers = new ResponderPort();
    return { port: servers, stats: () => ({ framesOut: servers.frames, bytesOut: servers.bytes, synAcks: servers.synAcks, finAcks: servers.finAcks }), close: async () => undefined };
  },
});
