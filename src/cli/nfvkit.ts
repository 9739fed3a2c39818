/**
 * The `nfvkit` command line (commander). Local commands: `functions`, `emit`, `build`,
 * `images`, `validate`. The embedded default: `up <chain.yaml>` (controller, data plane,
 * gRPC API and metrics in this process). Client commands over the gRPC controller
 * (`--server`/`NFVKIT_SERVER`, `--token`/`NFVKIT_TOKEN`, TLS flags): `apply`, `get`,
 * `describe`, `delete`, `scale`, `backends`, `events`, `top`, `capture`, `trace`. Listing commands take `-o text|json|yaml`.
 * Exit codes (see docs/cli.md and `exit-codes.ts`): 0 ok, 1 runtime failure, 2 usage or
 * invalid input, 3 not found, 4 failed precondition or conflict, 5 controller unreachable,
 * 6 unauthenticated.
 *
 * @example
 * ```ts
 * const out: string[] = [];
 * const code = await runCli(['get', 'chains', '-o', 'json'], registry, { stdout: { write: (s) => out.push(s) } });
 * ```
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import { FunctionRegistry } from '../pipeline/function-registry.ts';
import { createCliContext, type CliContext, type CliContextOverrides } from './cli-context.ts';
import { registerApplyCommand } from './commands/apply.ts';
import { registerBackendsCommand } from './commands/backends.ts';
import { registerBuildCommand } from './commands/build.ts';
import { registerCaptureCommand } from './commands/capture.ts';
import { registerTraceCommand } from './commands/trace.ts';
import { registerDeleteCommand } from './commands/delete.ts';
import { registerDescribeCommand } from './commands/describe.ts';
import { registerEmitCommand } from './commands/emit.ts';
import { registerEventsCommand } from './commands/events.ts';
import { registerFunctionsCommand } from './commands/functions.ts';
import { registerGetCommand } from './commands/get.ts';
import { registerImagesCommand } from './commands/images.ts';
import { registerScaleCommand } from './commands/scale.ts';
import { registerTopCommand } from './commands/top.ts';
import { registerUpCommand } from './commands/up.ts';
import { registerValidateCommand } from './commands/validate.ts';
import { exitCodeFor, type ExitCodeValue } from './exit-codes.ts';
import { formatCliError } from './format-error.ts';

/**
 * Builds the program. Commander's own messages (help, usage errors) go to the context's
 * streams and never exit the process: parsing throws a `CommanderError` instead.
 */
export function buildProgram(registry: FunctionRegistry, overrides: CliContextOverrides = {}): Command {
  const ctx: CliContext = createCliContext(registry, overrides);
  const program = new Command('nfvkit')
    .description('Network functions as compiled packet pipelines, chained and run by a controller')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void ctx.stdout.write(s), writeErr: (s) => void ctx.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)');
  program.commandsGroup('Run:');
  registerUpCommand(program, ctx);
  program.commandsGroup('Controller (over gRPC):');
  registerApplyCommand(program, ctx);
  registerGetCommand(program, ctx);
  registerDescribeCommand(program, ctx);
  registerDeleteCommand(program, ctx);
  registerScaleCommand(program, ctx);
  registerBackendsCommand(program, ctx);
  registerEventsCommand(program, ctx);
  registerTopCommand(program, ctx);
  registerCaptureCommand(program, ctx);
  registerTraceCommand(program, ctx);
  program.commandsGroup('Local:');
  registerValidateCommand(program, ctx);
  registerFunctionsCommand(program, ctx);
  registerEmitCommand(program, ctx);
  registerBuildCommand(program, ctx);
  registerImagesCommand(program, ctx);
  return program;
}

/**
 * Runs one command line (`args` without the node and script paths) and returns its exit
 * code. Errors are printed to the context's stderr with their code; nothing is thrown.
 */
export async function runCli(args: readonly string[], registry: FunctionRegistry, overrides: CliContextOverrides = {}): Promise<ExitCodeValue> {
  const program = buildProgram(registry, overrides);
  const stderr = overrides.stderr ?? process.stderr;
  try {
    await program.parseAsync([...args], { from: 'user' });
    return 0;
  } catch (err) {
    const text = formatCliError(err);
    if (text !== '') stderr.write(`${text}\n`);
    return exitCodeFor(err);
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await runCli(process.argv.slice(2), registerBuiltinFunctions(new FunctionRegistry()));
}
