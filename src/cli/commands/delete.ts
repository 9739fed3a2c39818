/**
 * `nfvkit delete chain <name>`: drains the chain's instances (bounded by their drain
 * timeout), stops them and forgets the chain; returns when done. Exit 3 when there is no
 * such chain, 4 when it is already being deleted.
 *
 * @example
 * ```sh
 * nfvkit delete chain web-edge
 * # chain/web-edge deleted
 * ```
 */
import { Argument, type Command } from 'commander';
import { println, type CliContext } from '../cli-context.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { CHAIN_RESOURCES } from './get.ts';

/** Registers `nfvkit delete` on `program`; output goes to `ctx`. */
export function registerDeleteCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('delete')
    .description('delete a chain: drain its flows, stop its instances')
    .addArgument(new Argument('<resource>', 'what to delete').choices(CHAIN_RESOURCES))
    .argument('<name>', 'chain name');
  addConnectionOptions(cmd).action(async (_resource: string, name: string, opts: ConnectionFlags) => {
    await withClient(ctx, opts, async (client) => {
      await client.deleteChain(name);
      println(ctx, `chain/${name} deleted`);
    });
  });
}
