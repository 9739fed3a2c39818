/**
 * Writes schemas/chain-spec.schema.json, the JSON Schema of chain specs for editors,
 * generated from the validator's zod schemas and the built-in functions' config schemas.
 * `--check` only compares and exits 1 when the committed file is stale.
 *
 *   npx tsx scripts/generate-chain-schema.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerBuiltinFunctions } from '../functions/index.ts';
import { FunctionRegistry } from '../src/pipeline/function-registry.ts';
import { renderChainSpecJsonSchema } from '../src/spec/chain-spec-json-schema.ts';

const target = fileURLToPath(new URL('../schemas/chain-spec.schema.json', import.meta.url));
const text = renderChainSpecJsonSchema(registerBuiltinFunctions(new FunctionRegistry()));

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    current = '';
  }
  if (current !== text) {
    console.error(`${target} is out of date: run npx tsx scripts/generate-chain-schema.ts`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target} (${text.length} bytes)`);
}
