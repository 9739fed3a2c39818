/**
 * `nfvkit apply -f <file> [-o text|json|yaml]`: sends a chain spec to the controller, which
 * validates it and makes the running chain match it (declarative, idempotent). Prints
 * `chain/<name> created`, `configured` (the spec changed) or `unchanged`. An invalid spec
 * prints every problem as `file:line:col path: message` and exits 2.
 *
 * @example
 * ```sh
 * nfvkit apply -f topologies/web-edge.yaml
 * # chain/web-edge created
 * ```
 */
import type { Command } from 'commander';
import { println, type CliContext } from '../cli-context.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { outputOption, renderData, type OutputFormat } from '../output.ts';
import { readTextInput } from '../read-input.ts';

/** What an apply did to the chain. */
export type ApplyAction = 'created' | 'configured' | 'unchanged';

interface ApplyFlags extends ConnectionFlags {
  filename: string;
  output: OutputFormat;
}

/** Registers `nfvkit apply` on `program`; output goes to `ctx`. */
export function registerApplyCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('apply')
    .description('create or update a chain from a spec file (declarative: applying the same spec twice changes nothing)')
    .requiredOption('-f, --filename <file>', 'chain spec (YAML); - reads standard input')
    .addOption(outputOption());
  addConnectionOptions(cmd).action(async (opts: ApplyFlags) => {
    const text = readTextInput(opts.filename);
    const source = opts.filename === '-' ? '<stdin>' : opts.filename;
    await withClient(ctx, opts, async (client) => {
      const before = new Set((await client.listChains()).map((c) => c.name));
      const { chain, changed } = await client.applyChain(text, source);
      const action: ApplyAction = !before.has(chain.name) ? 'created' : changed ? 'configured' : 'unchanged';
      if (opts.output === 'text') println(ctx, `chain/${chain.name} ${action}`);
      else println(ctx, renderData(opts.output, { action, chain }));
    });
  });
}
