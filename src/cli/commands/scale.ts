/**
 * `nfvkit scale <chain> <function> --replicas <n> [-o text|json|yaml]`: sets a function's
 * replicas (a manual override within its `scaling.min..max`). Exit 3 for an unknown chain
 * or function, 4 when `n` lies outside the bounds.
 *
 * @example
 * ```sh
 * nfvkit scale web-edge lb --replicas 3
 * # function web-edge/lb scaled to 3 replicas (3 ready, bounds 1..4)
 * ```
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.ts';
import { wholeNumber } from '../arg-parsers.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { outputOption, printResult, type OutputFormat } from '../output.ts';

interface ScaleFlags extends ConnectionFlags {
  replicas: number;
  output: OutputFormat;
}

/** Registers `nfvkit scale` on `program`; output goes to `ctx`. */
export function registerScaleCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('scale')
    .description("set a function's replicas (within its scaling min..max)")
    .argument('<chain>', 'chain name')
    .argument('<function>', 'function name in the chain spec')
    .requiredOption('-r, --replicas <n>', 'replicas wanted', wholeNumber(0))
    .addOption(outputOption());
  addConnectionOptions(cmd).action(async (chain: string, fn: string, opts: ScaleFlags) => {
    await withClient(ctx, opts, async (client) => {
      const status = await client.scaleFunction(chain, fn, opts.replicas);
      printResult(
        ctx,
        opts.output,
        status,
        () => `function ${chain}/${status.name} scaled to ${status.desiredReplicas} replicas (${status.readyReplicas} ready, bounds ${status.min}..${status.max})`,
      );
    });
  });
}
