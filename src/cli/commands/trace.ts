/**
 * `nfvkit trace <chain> --count n [filter…] [--timeout ms] [-o text|json|yaml]`: the next
 * n packets that enter a running chain and pass the filter (docs/capture.md), each shown
 * VPP `show trace` style: every function it met, in order, and in each every element with
 * its verdict, the drop reason, the header fields it rewrote and what it reported (the
 * firewall rule, the load-balancer backend, …). Tracing is off otherwise and costs the
 * chain nothing then: instances switch to their pipeline's tracing variant only for this.
 *
 * @example
 * ```sh
 * nfvkit trace web-edge --count 1 tcp and syn and not ack
 * ```
 */
import type { Command } from 'commander';
import type { PacketTraceView } from '../../trace/trace-session.ts';
import { println, type CliContext } from '../cli-context.ts';
import { durationMs, wholeNumber } from '../arg-parsers.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { outputOption, printStreamItem, type OutputFormat } from '../output.ts';
import { cancelOnAbort } from '../stream-reading.ts';
import { filterText } from './capture.ts';

interface TraceFlags extends ConnectionFlags {
  count: number;
  filter?: string;
  timeout?: number;
  output: OutputFormat;
}

/** The lines of one traced packet. */
export function traceLines(p: PacketTraceView): string[] {
  const time = new Date(p.timeMs).toISOString().slice(11, 23);
  const lines = [`Packet ${p.seq}`, `  ${time} entered ${p.entered}: ${p.packet}`];
  if (p.functions.length === 0) lines.push('  (no function reported it: records lost, or it never reached an instance)');
  for (const f of p.functions) {
    lines.push('', `  ${f.function} (${f.instance}) arrived ${f.arrived}: ${f.packet}`);
    const width = Math.max(...f.steps.map((s) => s.element.length), 8);
    for (const s of f.steps) {
      lines.push(`    ${s.element.padEnd(width)}  -> ${s.verdict}${s.dropReason === '' ? '' : ` (${s.dropReason})`}`);
      for (const n of s.notes) lines.push(`    ${' '.repeat(width)}     ${n}`);
      for (const r of s.rewrites) lines.push(`    ${' '.repeat(width)}     rewrote ${r}`);
    }
  }
  if (p.lost > 0) lines.push('', `  (${p.lost} trace records lost so far)`);
  return lines;
}

/** Registers `nfvkit trace` on `program`; output goes to `ctx`. */
export function registerTraceCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('trace')
    .description("trace the next packets entering a chain through every function's elements")
    .argument('<chain>', 'chain name')
    .argument('[filter...]', 'filter on the 5-tuple as the packet enters, e.g. tcp and syn and not ack (docs/capture.md)')
    .option('-c, --count <n>', 'packets to trace (1..1000)', wholeNumber(1, 1000), 1)
    .option('--filter <expr>', 'filter (joined with the positional one by "and")')
    .option('--timeout <duration>', 'stop waiting after this long (default 10s)', durationMs)
    .addOption(outputOption());
  addConnectionOptions(cmd).action(async (chain: string, words: string[], opts: TraceFlags) => {
    await withClient(ctx, opts, async (client) => {
      const stream = client.trace(chain, { count: opts.count, filter: filterText(words, opts.filter), ...(opts.timeout === undefined ? {} : { timeoutMs: opts.timeout }) });
      const release = cancelOnAbort(stream, ctx.stopSignal());
      let traced = 0;
      try {
        for await (const p of stream) {
          if (opts.output === 'text') {
            if (traced > 0) println(ctx, '');
            println(ctx, traceLines(p).join('\n'));
          } else printStreamItem(ctx, opts.output, p);
          traced++;
        }
      } finally {
        release();
      }
      if (traced < opts.count) ctx.stderr.write(`${traced} of ${opts.count} packet${opts.count === 1 ? '' : 's'} traced before the timeout\n`);
    });
  });
}
