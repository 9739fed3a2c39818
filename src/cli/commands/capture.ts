/**
 * `nfvkit capture <chain> [filter…] [--function f] [--side inside|outside] [--count n]
 * [--snaplen n] [-w file.pcap | -]`: copies of the frames that cross one link of a running
 * chain (a function's inside or outside; default the first function's inside), filtered on
 * the 5-tuple (docs/capture.md), over the controller's `Capture` stream. With `-w` the
 * frames go to a pcap file (nanosecond timestamps; `-` writes it to stdout) that tcpdump and
 * tshark read; without, one line per frame. Ends after `--count` frames or on Ctrl-C, then
 * says on stderr how many frames matched and how many the controller's bounded queue
 * dropped because this reader was too slow (the chain never waits for a capture).
 *
 * @example
 * ```sh
 * nfvkit capture web-edge --function lb --side inside --count 1000 -w lb-in.pcap tcp and port 80
 * tshark -r lb-in.pcap
 * ```
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { FrameTuple, formatFrameTuple, readFrameTuple } from '../../capture/frame-tuple.ts';
import { PcapWriter } from '../../pcap/pcap-writer.ts';
import { println, type CliContext } from '../cli-context.ts';
import { wholeNumber } from '../arg-parsers.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { cancelOnAbort } from '../stream-reading.ts';

interface CaptureFlags extends ConnectionFlags {
  function?: string;
  side: 'inside' | 'outside';
  count: number;
  filter?: string;
  snaplen: number;
  write?: string;
}

/** Where captured frames go: a pcap file, pcap on stdout, or text lines. */
interface FrameSink {
  frame(data: Uint8Array, originalLength: number, timeSec: number, timeNsec: number, toward: string): void;
  close(): void;
}

/** The filter: `--filter`, or the words after the chain name, or both joined with `and`. */
export function filterText(words: readonly string[], option: string | undefined): string {
  const positional = words.join(' ').trim();
  const flag = (option ?? '').trim();
  if (positional === '') return flag;
  if (flag === '') return positional;
  return `(${flag}) and (${positional})`;
}

function pcapSink(ctx: CliContext, target: string): FrameSink {
  const writer = new PcapWriter({ resolution: 'nano' });
  const fd = target === '-' ? -1 : openSync(target, 'w');
  const flush = (): void => {
    const bytes = writer.drain();
    if (bytes.length === 0) return;
    if (fd < 0) ctx.stdout.write(bytes);
    else writeSync(fd, bytes);
  };
  flush();
  return {
    frame(data, originalLength, timeSec, timeNsec) {
      writer.write(data, timeSec, timeNsec, originalLength);
      if (writer.bytes().length >= 1 << 16) flush();
    },
    close() {
      flush();
      if (fd >= 0) closeSync(fd);
    },
  };
}

function textSink(ctx: CliContext): FrameSink {
  const tuple = new FrameTuple();
  return {
    frame(data, originalLength, timeSec, timeNsec, toward) {
      readFrameTuple(new DataView(data.buffer, data.byteOffset, data.byteLength), 0, data.byteLength, tuple);
      const time = new Date(timeSec * 1000).toISOString().slice(11, 19) + '.' + String(Math.floor(timeNsec / 1000)).padStart(6, '0');
      println(ctx, `${time} ${toward === 'outside' ? '->' : '<-'} ${formatFrameTuple(tuple)} len ${originalLength}`);
    },
    close() {},
  };
}

/** Registers `nfvkit capture` on `program`; output goes to `ctx`. */
export function registerCaptureCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('capture')
    .description('copy the frames crossing a link of a chain to pcap (or print them), filtered on the 5-tuple')
    .argument('<chain>', 'chain name')
    .argument('[filter...]', 'filter, e.g. tcp and host 198.18.0.5 and port 80 (docs/capture.md)')
    .option('--function <name>', "function whose link to capture (default: the chain's first)")
    .addOption(new Option('--side <side>', 'the inside or outside link of the function').choices(['inside', 'outside']).default('inside'))
    .option('-c, --count <n>', 'stop after n frames (0: until interrupted)', wholeNumber(0), 0)
    .option('--filter <expr>', 'filter (joined with the positional one by "and")')
    .option('--snaplen <bytes>', 'bytes kept of each frame (0: whole frames)', wholeNumber(0, 65535), 0)
    .option('-w, --write <file>', 'write a pcap file ("-": pcap to stdout) instead of lines');
  addConnectionOptions(cmd).action(async (chain: string, words: string[], opts: CaptureFlags) => {
    await withClient(ctx, opts, async (client) => {
      const stream = client.capture(chain, {
        ...(opts.function === undefined ? {} : { function: opts.function }),
        side: opts.side,
        count: opts.count,
        filter: filterText(words, opts.filter),
        snaplen: opts.snaplen,
      });
      const release = cancelOnAbort(stream, ctx.stopSignal());
      let sink: FrameSink | undefined;
      let link = '';
      let frames = 0;
      let matched = 0;
      let dropped = 0;
      try {
        for await (const chunk of stream) {
          // The first chunk names the link: only then is the capture known to be running.
          if (chunk.link !== '') link = chunk.link;
          sink ??= opts.write === undefined ? textSink(ctx) : pcapSink(ctx, opts.write);
          for (const f of chunk.frames) sink.frame(f.data, f.originalLength, f.timeSec, f.timeNsec, f.toward);
          frames += chunk.frames.length;
          matched = Math.max(matched, chunk.matched);
          dropped = Math.max(dropped, chunk.dropped);
        }
      } finally {
        release();
        sink?.close();
      }
      ctx.stderr.write(`${frames} frame${frames === 1 ? '' : 's'} captured on ${chain} ${link}: ${matched} matched, ${dropped} dropped (reader too slow)\n`);
    });
  });
}
