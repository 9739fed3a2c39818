/**
 * The `pcap` chain end: replays a capture from the controller's read directory and/or
 * writes the frames leaving the chain to a capture in its write directory (see
 * `DataDir`). Both paths are checked when the end opens, so a refused path fails the
 * apply before any traffic flows; the write happens at close, through a temporary file
 * renamed over the target.
 *
 * @example
 * ```ts
 * const end = await openPcapEnd({ type: 'pcap', read: 'in.pcap', write: 'out.pcap' }, dataDir, 'spec.ingress');
 * ```
 */
import type { ChainPort } from '../dataplane/chain-port.ts';
import { DuplexPort } from '../dataplane/ports/duplex-port.ts';
import { PcapInPort, PcapOutPort } from '../dataplane/ports/pcap-port.ts';
import { CaptureFormatError, DataPathError } from '../errors/catalog.ts';
import type { PcapPortSpec } from '../spec/port-spec.ts';
import { quotePath } from '../spec/data-path.ts';
import type { ChainEnd } from './chain-ends.ts';
import type { DataDir } from './data-dir.ts';

/** Opens a pcap end; `field` is the spec field of the port (`spec.ingress`) for messages. */
export async function openPcapEnd(spec: PcapPortSpec, dataDir: DataDir, field: string): Promise<ChainEnd> {
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
