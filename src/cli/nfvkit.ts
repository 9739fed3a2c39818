/**
 * The `nfvkit` command line. Commands so far:
 * - `nfvkit functions`: the registered functions;
 * - `nfvkit emit <function> [--config <file>]`: validates a configuration (YAML or JSON),
 *   runs the pipeline compiler and prints the generated source.
 * Exit codes: 0 ok, 1 runtime failure, 2 usage or invalid input.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { NfvkitError, ConfigValidationError } from '../errors/catalog.ts';
import { FunctionRegistry } from '../pipeline/function-registry.ts';
import { compilePipeline } from '../pipeline/compiler.ts';
import { registerBuiltinFunctions } from '../../functions/index.ts';

function readConfig(file: string | undefined): unknown {
  if (file === undefined) return {};
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
}

/** Builds the program (exported for tests). */
export function buildProgram(registry: FunctionRegistry): Command {
  const program = new Command('nfvkit').description('Network functions as compiled packet pipelines').exitOverride();
  program
    .command('functions')
    .description('list the registered functions')
    .action(() => {
      for (const name of registry.names()) console.log(`${name.padEnd(16)} ${registry.get(name).description}`);
    });
  program
    .command('emit')
    .description('compile a function with a configuration and print the generated pipeline source')
    .argument('<function>', 'function name (see `nfvkit functions`)')
    .option('-c, --config <file>', 'configuration file, YAML or JSON (default: empty configuration)')
    .action((name: string, opts: { config?: string }) => {
      const compiled = compilePipeline(registry.get(name), readConfig(opts.config));
      process.stdout.write(compiled.source);
    });
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram(registerBuiltinFunctions(new FunctionRegistry()));
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    if (err instanceof ConfigValidationError) {
      console.error(`nfvkit: ${err.message}`);
      process.exit(2);
    }
    if (err instanceof NfvkitError) {
      console.error(`nfvkit: ${err.code}: ${err.message}`);
      process.exit(err.code === 'NFVKIT_ERR_UNKNOWN_FUNCTION' ? 2 : 1);
    }
    throw err;
  }
}

await main();
