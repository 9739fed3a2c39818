import { z } from 'zod';
import type { ChainEnd } from '../controller/chain-ends.ts';
import type { DataDir } from '../controller/data-dir.ts';
import type { ChainPort } from '../dataplane/chain-port.ts';
import { DuplexPort } from '../dataplane/ports/duplex-port.ts';
import { PcapInPort, PcapOutPort } from '../dataplane/ports/pcap-port.ts';
import { CaptureFormatError, DataPathError } from '../errors/catalog.ts';
import type { SpecIssue } from '../spec/chain-spec-rules.ts';
import { dataPathProblem, quotePath } from '../spec/data-path.ts';
import { definePortType } from './port-type.ts';

const pcapPortSchema = z
  .object({
    type: z.literal('pcap'),
    read: z.string().min(1).optional().meta({ description: "Capture file to replay, relative to the controller's read directory (no absolute path, no '..')." }),
    write: z.string().min(1).optional().meta({ description: "Capture file to write, relative to the controller's write directory (no absolute path, no '..')." }),
  })
  .strict()
  .meta({ description: 'Capture file in and/or out; at least one of read and write.' });

/**
 * Replays a capture file into the chain and/or writes the frames that leave to one. `read`
 * (pcap or pcapng) is a path relative to the controller's read directory (`nfvkit up
 * --data-dir`/`--read-dir`), `write` one relative to its write directory; absolute paths and
 * `..` are refused. `ingress: { type: pcap, read: in.pcap, write: replies.pcap }`.
 */
export type PcapPortSpec = z.output<typeof pcapPortSchema>;

/**
 * The `pcap` port type: `read`, `write` or both, each a path that stays inside the
 * controller's data directory (`dataPathProblem`). Both paths are checked again when the end
 * opens (`DataDir`), so a refused path fails the apply before any traffic flows; the write
 * happens at close, through a temporary file renamed over the target.
 */
export const pcapPortType = definePortType({
  type: 'pcap',
  schema: pcapPortSchema,
  check: (port, at) => {
    const issues: SpecIssue[] = [];
    if (port.read === undefined && port.write === undefined) issues.push({ path: [...at], message: 'a pcap port needs `read`, `write` or both' });
    for (const key of ['read', 'write'] as const) {
      const value = port[key];
      const problem = typeof value === 'string' && value !== '' ? dataPathProblem(value) : undefined;
      if (problem !== undefined) issues.push({ path: [...at, key], message: `${quotePath(value as string)}: ${problem}` });
    }
    return issues;
  },
  open: (spec, context) => openPcapEnd(spec, context.dataDir, context.side === 'inside' ? 'spec.ingress' : 'spec.egress'),
});

/** Opens a pcap end; `field` is the spec field of the port (`spec.ingress`) for messages. */
async function openPcapEnd(spec: PcapPortSpec, dataDir: DataDir, field: string): Promise<ChainEnd> {
  let input: PcapInPort | null = null;
  if (spec.read !== undefined) {
    const bytes = await dataDir.readFile(spec.read, `${field}.read`);
    try {
      input = new PcapInPort(bytes);
    } catch (err) {
      // The reader's own message quotes the file's magic number and size: say only what is wrong.
      if (err instanceof CaptureFormatError) {
        throw new DataPathError(`${field}.read ${quotePath(spec.read)} (in the controller's read directory): refused: not a pcap or pcapng capture, or its header is damaged`);
      }
      throw err;
    }
  }
  const write = spec.write;
  if (write !== undefined) await dataDir.prepareWrite(write, `${field}.write`);
  const output = write === undefined ? null : new PcapOutPort();
  const port: ChainPort = input !== null && output !== null ? new DuplexPort(input, output) : (input ?? output)!;
  return {
    port,
    stats: () => ({
      framesOut: output?.frames ?? 0,
      ...(input === null ? {} : { framesIn: input.sent, recordsSkipped: input.skipped, captureDamaged: input.damaged ? 1 : 0 }),
    }),
    close: async () => {
      if (output !== null && write !== undefined) await dataDir.writeFile(write, output.writer.bytes(), `${field}.write`);
    },
  };
}
