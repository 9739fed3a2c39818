/**
 * `nfvkit top [--chain <name>] [--interval <ms>] [--count <n>] [--instances] [-o …]`: live
 * rates from the controller's `StreamStats`: per function (or per instance with
 * `--instances`) packets in/out, drops, bits in, queue occupancy and busy ratio, redrawn
 * in place on a terminal, appended otherwise; until Ctrl-C or `--count` snapshots. With
 * `-o json` each snapshot is one JSON line `{time, functions, instances}`.
 *
 * @example
 * ```sh
 * nfvkit top --chain web-edge --interval 500
 * nfvkit top --count 1 -o json | jq '.functions[] | {function, rxPps}'
 * ```
 */
import type { Command } from 'commander';
import type { StatsSnapshot } from '../../grpc/stats-snapshot.ts';
import type { CliContext } from '../cli-context.ts';
import { wholeNumber } from '../arg-parsers.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { ratesByFunction } from '../function-rates.ts';
import { LiveDisplay } from '../live-display.ts';
import { outputOption, printStreamItem, type OutputFormat } from '../output.ts';
import { cancelOnAbort } from '../stream-reading.ts';
import { formatTimestamp } from '../units.ts';
import { functionRatesTable, instanceRatesTable } from '../views/rates-table.ts';

interface TopFlags extends ConnectionFlags {
  chain?: string;
  interval: number;
  count?: number;
  instances?: boolean;
  output: OutputFormat;
}

/** One `top` frame as text: a time line, then the table (or a note when nothing runs). */
export function topFrame(snap: StatsSnapshot, perInstance: boolean): string {
  const head = `${formatTimestamp(snap.time)}  ${snap.instances.length} instance${snap.instances.length === 1 ? '' : 's'}`;
  if (snap.instances.length === 0) return `${head}\n(no instances)`;
  return `${head}\n${perInstance ? instanceRatesTable(snap.instances) : functionRatesTable(ratesByFunction(snap.instances))}`;
}

/** Registers `nfvkit top` on `program`; output goes to `ctx`. */
export function registerTopCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('top')
    .description('show live per-function rates (packets, drops, queue, busy) until interrupted')
    .option('--chain <name>', 'only this chain')
    .option('--interval <ms>', 'time between snapshots, ms (100..600000)', wholeNumber(100, 600_000), 1000)
    .option('-n, --count <n>', 'stop after n snapshots', wholeNumber(1))
    .option('--instances', 'one row per instance instead of per function')
    .addOption(outputOption());
  addConnectionOptions(cmd).action(async (opts: TopFlags) => {
    await withClient(ctx, opts, async (client) => {
      const stream = client.streamStats({ intervalMs: opts.interval, ...(opts.chain === undefined ? {} : { chain: opts.chain }) });
      const release = cancelOnAbort(stream, ctx.stopSignal());
      const display = new LiveDisplay(ctx.stdout);
      let shown = 0;
      try {
        for await (const snap of stream) {
          if (opts.output === 'text') display.show(topFrame(snap, opts.instances === true));
          else printStreamItem(ctx, opts.output, { time: snap.time, functions: ratesByFunction(snap.instances), instances: snap.instances });
          if (opts.count !== undefined && ++shown >= opts.count) break;
        }
      } finally {
        release();
      }
    });
  });
}
