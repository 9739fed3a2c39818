/**
 * `nfvkit events [--chain <name>] [--since <seq>] [-f|--follow] [-o text|json|yaml]`: the
 * controller's lifecycle events (applied, image built, instance booted/ready/draining/
 * failed/stopped, scaled, deleted). Without `--follow`, the recorded history is printed
 * and the command ends; with it, new events are printed as they happen until Ctrl-C.
 * `--since <seq>` shows only events after that sequence number (resume after a
 * disconnect). With `-o json` the history is one JSON array, and a followed stream one
 * JSON object per line.
 *
 * @example
 * ```sh
 * nfvkit events --chain web-edge -f
 * ```
 */
import type { Command } from 'commander';
import { println, type CliContext } from '../cli-context.ts';
import { wholeNumber } from '../arg-parsers.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { outputOption, printResult, printStreamItem, type OutputFormat } from '../output.ts';
import { cancelOnAbort, readHistory } from '../stream-reading.ts';
import { EVENT_HEADER, eventLine } from '../views/event-line.ts';

interface EventsFlags extends ConnectionFlags {
  chain?: string;
  since: number;
  follow?: boolean;
  output: OutputFormat;
}

/** Registers `nfvkit events` on `program`; output goes to `ctx`. */
export function registerEventsCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('events')
    .description('print controller events (history, then live ones with --follow)')
    .option('--chain <name>', "only this chain's events (it need not exist yet)")
    .option('--since <seq>', 'only events after this sequence number', wholeNumber(0), 0)
    .option('-f, --follow', 'keep printing new events until interrupted')
    .addOption(outputOption());
  addConnectionOptions(cmd).action(async (opts: EventsFlags) => {
    await withClient(ctx, opts, async (client) => {
      const request = { afterSeq: opts.since, ...(opts.chain === undefined ? {} : { chain: opts.chain }) };
      if (opts.follow !== true) {
        // A unary call first, so the quiet gap that ends the history does not include connecting.
        await client.checkHealth();
        const events = await readHistory(client.watchEvents(request));
        if (opts.output === 'text' && events.length === 0) println(ctx, 'no events');
        else printResult(ctx, opts.output, events, () => [EVENT_HEADER, ...events.map(eventLine)].join('\n'));
        return;
      }
      const stream = client.watchEvents(request);
      const release = cancelOnAbort(stream, ctx.stopSignal());
      try {
        if (opts.output === 'text') println(ctx, EVENT_HEADER);
        for await (const e of stream) {
          if (opts.output === 'text') println(ctx, eventLine(e));
          else printStreamItem(ctx, opts.output, e);
        }
      } finally {
        release();
      }
    });
  });
}
