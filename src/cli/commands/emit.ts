/**
 * `nfvkit emit <function> [--config <file>]`: validates a configuration (YAML or JSON),
 * runs the pipeline compiler and prints the generated source.
 *
 * @example
 * ```sh
 * nfvkit emit firewall -c fw.yaml > fw.generated.js
 * ```
 */
import type { Command } from 'commander';
import { compilePipeline } from '../../pipeline/compiler.ts';
import type { CliContext } from '../cli-context.ts';
import { readConfigFile } from '../read-input.ts';

/** Registers `nfvkit emit` on `program`; output goes to `ctx`. */
export function registerEmitCommand(program: Command, ctx: CliContext): void {
  program
    .command('emit')
    .description('compile a function with a configuration and print the generated pipeline source')
    .argument('<function>', 'function name (see `nfvkit functions`)')
    .option('-c, --config <file>', 'configuration file, YAML or JSON (default: empty configuration)')
    .action((name: string, opts: { config?: string }) => {
      const compiled = compilePipeline(ctx.registry.get(name), readConfigFile(opts.config));
      ctx.stdout.write(compiled.source);
    });
}
