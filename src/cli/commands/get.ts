/**
 * `nfvkit get chains [name]` and `nfvkit get instances [id] [--chain <name>]`, as aligned
 * tables or `-o json|yaml`. A name that does not exist exits 3.
 *
 * @example
 * ```sh
 * nfvkit get chains
 * nfvkit get instances --chain web-edge -o json
 * ```
 */
import { Argument, type Command } from 'commander';
import { NotFoundError } from '../../errors/catalog.ts';
import { println, type CliContext } from '../cli-context.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { outputOption, printResult, type OutputFormat } from '../output.ts';
import { chainTable } from '../views/chain-table.ts';
import { instanceTable } from '../views/instance-table.ts';

interface GetFlags extends ConnectionFlags {
  chain?: string;
  output: OutputFormat;
}

/** Resource names `get`, `describe` and `delete` accept, singular or plural. */
export const CHAIN_RESOURCES = ['chains', 'chain'] as const;
const RESOURCES = [...CHAIN_RESOURCES, 'instances', 'instance'] as const;

/** Registers `nfvkit get` on `program`; output goes to `ctx`. */
export function registerGetCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('get')
    .description('list chains or instances')
    .addArgument(new Argument('<resource>', 'what to list').choices(RESOURCES))
    .argument('[name]', 'only this chain (or this instance id, e.g. web-edge/fw-0)')
    .option('--chain <name>', 'instances of this chain only')
    .addOption(outputOption());
  addConnectionOptions(cmd).action(async (resource: (typeof RESOURCES)[number], name: string | undefined, opts: GetFlags) => {
    await withClient(ctx, opts, async (client) => {
      const now = Date.now();
      if (resource === 'chains' || resource === 'chain') {
        if (name !== undefined) {
          const chain = await client.getChain(name);
          printResult(ctx, opts.output, chain, () => chainTable([chain], now));
          return;
        }
        const chains = await client.listChains();
        if (opts.output === 'text' && chains.length === 0) println(ctx, 'no chains');
        else printResult(ctx, opts.output, chains, () => chainTable(chains, now));
        return;
      }
      const instances = await client.listInstances(opts.chain);
      if (name !== undefined) {
        const found = instances.find((i) => i.id === name);
        if (found === undefined) throw new NotFoundError(`no instance "${name}"${opts.chain === undefined ? '' : ` in chain "${opts.chain}"`}`);
        printResult(ctx, opts.output, found, () => instanceTable([found], now));
        return;
      }
      if (opts.output === 'text' && instances.length === 0) println(ctx, 'no instances');
      else printResult(ctx, opts.output, instances, () => instanceTable(instances, now));
    });
  });
}
