/**
 * `nfvkit validate <file…> [-o text|json|yaml]`: checks chain specs locally (no controller)
 * with the same parser the controller uses, and reports every problem of every file with
 * its position. Exit 0 when all are valid, 2 otherwise.
 *
 * @example
 * ```sh
 * nfvkit validate topologies/*.yaml
 * # topologies/web-edge.yaml: valid: chain/web-edge (3 functions: fw, lb, nat)
 * ```
 */
import type { Command } from 'commander';
import { ConfigValidationError, type ConfigIssue } from '../../errors/catalog.ts';
import type { ChainSpec } from '../../spec/chain-spec.ts';
import { loadChainSpec, parseChainSpec } from '../../spec/parse-chain-spec.ts';
import { eprintln, println, type CliContext } from '../cli-context.ts';
import { ExitCode, ReportedFailure } from '../exit-codes.ts';
import { formatCliError } from '../format-error.ts';
import { outputOption, renderData, type OutputFormat } from '../output.ts';
import { readTextInput } from '../read-input.ts';

/** The verdict on one file. */
export type ValidationResult =
  | { readonly file: string; readonly valid: true; readonly chain: string; readonly functions: readonly string[] }
  | { readonly file: string; readonly valid: false; readonly issues: readonly ConfigIssue[] };

/** Validates one spec file (`-`: stdin); never throws for a bad spec. */
export function validateSpecFile(ctx: CliContext, file: string): ValidationResult {
  try {
    const spec: ChainSpec = file === '-' ? parseChainSpec(readTextInput('-'), '<stdin>', ctx.registry) : loadChainSpec(file, ctx.registry);
    return { file, valid: true, chain: spec.metadata.name, functions: spec.spec.functions.map((f) => f.name) };
  } catch (err) {
    if (err instanceof ConfigValidationError) return { file, valid: false, issues: err.issues };
    throw err;
  }
}

/** Registers `nfvkit validate` on `program`; output goes to `ctx`. */
export function registerValidateCommand(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('check chain spec files locally (no controller) and print every problem with its position')
    .argument('<file...>', 'chain spec files (YAML); - reads standard input')
    .addOption(outputOption())
    .action((files: string[], opts: { output: OutputFormat }) => {
      const results: ValidationResult[] = [];
      for (const file of files) {
        const result = validateSpecFile(ctx, file);
        results.push(result);
        if (opts.output !== 'text') continue;
        if (result.valid) {
          const n = result.functions.length;
          println(ctx, `${file}: valid: chain/${result.chain} (${n} function${n === 1 ? '' : 's'}: ${result.functions.join(', ')})`);
        } else {
          eprintln(ctx, formatCliError(new ConfigValidationError(`chain spec ${file === '-' ? '<stdin>' : file}`, result.issues)));
        }
      }
      if (opts.output !== 'text') println(ctx, renderData(opts.output, results));
      if (results.some((r) => !r.valid)) throw new ReportedFailure(ExitCode.USAGE);
    });
}
