/**
 * `nfvkit functions [-o text|json|yaml]`: the functions this build knows (what a chain
 * spec's `function:` may name).
 *
 * @example
 * ```sh
 * nfvkit functions -o json
 * ```
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.ts';
import { outputOption, printResult, renderTable, type OutputFormat } from '../output.ts';

/** Registers `nfvkit functions` on `program`; output goes to `ctx`. */
export function registerFunctionsCommand(program: Command, ctx: CliContext): void {
  program
    .command('functions')
    .description('list the registered functions')
    .addOption(outputOption())
    .action((opts: { output: OutputFormat }) => {
      const list = ctx.registry.names().map((name) => ({ name, description: ctx.registry.get(name).description }));
      printResult(ctx, opts.output, list, () =>
        renderTable(
          [
            { header: 'NAME', value: (f: (typeof list)[number]) => f.name },
            { header: 'DESCRIPTION', value: (f) => f.description },
          ],
          list,
        ),
      );
    });
}
