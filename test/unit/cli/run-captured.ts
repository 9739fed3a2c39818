import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { runCli } from '../../../src/cli/nfvkit.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CapturedOptions {
  env?: Record<string, string>;
  stop?: AbortSignal;
  onStdout?: (text: string) => void;
}

const registry = registerBuiltinFunctions(new FunctionRegistry());

export async function runCaptured(args: string[], options: CapturedOptions = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, registry, {
    stdout: {
      write: (s: string) => {
        stdout += s;
        options.onStdout?.(stdout);
      },
    },
    stderr: { write: (s: string) => void (stderr += s) },
    env: options.env ?? {},
    stopSignal: () => options.stop ?? new AbortController().signal,
  });
  return { code, stdout, stderr };
}
