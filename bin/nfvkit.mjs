#!/usr/bin/env node
/**
 * The `nfvkit` executable (package.json `bin`): `npx nfvkit …` in the checkout, or
 * `nfvkit …` once the package is installed. The CLI is TypeScript (`src/cli/nfvkit.ts`);
 * this launcher registers tsx's ESM loader in this process (resolved from this package,
 * not from the current directory), then runs the command line and exits with its code.
 * Worker threads start their own loader (`startModuleWorker`); instance images are plain
 * JavaScript and need none.
 */
import { register } from 'tsx/esm/api';

register();
const root = new URL('../', import.meta.url);
const [{ runCli }, { registerBuiltinFunctions }, { FunctionRegistry }] = await Promise.all([
  import(new URL('src/cli/nfvkit.ts', root).href),
  import(new URL('functions/index.ts', root).href),
  import(new URL('src/pipeline/function-registry.ts', root).href),
]);
process.exitCode = await runCli(process.argv.slice(2), registerBuiltinFunctions(new FunctionRegistry()));
