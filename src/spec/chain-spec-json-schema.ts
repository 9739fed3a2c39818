import { z } from 'zod';
import { InvalidArgumentError } from '../errors/catalog.ts';
import type { FunctionRegistry } from '../pipeline/function-registry.ts';
import { chainSpecSchema } from './chain-spec-schema.ts';

/** `$id` of the generated schema. */
export const CHAIN_SPEC_SCHEMA_ID = 'https://nfvkit.dev/schemas/chain-spec.schema.json';

type JsonObject = Record<string, unknown>;

/**
 * A JSON Schema (draft 2020-12) of chain specs for editors (e.g. the YAML language server:
 * `# yaml-language-server: $schema=../schemas/chain-spec.schema.json`), generated from the
 * same zod schemas the validator uses. Each registered function's config schema is in
 * `$defs` (`config.<name>`) and applies through `if`/`then` on `function`. The schema
 * describes input (as written: defaults are annotations); rules it cannot express (unique
 * names, `min ≤ max`, CIDR syntax beyond a pattern) are left to `parseChainSpec`.
 *
 * @example
 * ```ts
 * const schema = chainSpecJsonSchema(registerBuiltinFunctions(new FunctionRegistry()));
 * ```
 */
export function chainSpecJsonSchema(registry: FunctionRegistry): JsonObject {
  const root = toJson(chainSpecSchema);
  const names = registry.names();
  const defs: JsonObject = {};
  for (const name of names) {
    const config = toJson(registry.get(name).config);
    delete config.$schema;
    if ('$defs' in config) throw new InvalidArgumentError(`config schema of "${name}" needs $defs; embedding it is not supported`);
    defs[`config.${name}`] = { description: registry.get(name).description, ...config };
  }
  const entry = dig(root, ['properties', 'spec', 'properties', 'functions', 'items']);
  const props = dig(entry, ['properties']);
  props.function = { ...dig(props, ['function']), enum: names };
  entry.oneOf = [{ required: ['function'] }, { required: ['image'] }];
  entry.allOf = [
    { if: { required: ['image'] }, then: { not: { required: ['config'] } } },
    ...names.map((name) => ({
      if: { properties: { function: { const: name } }, required: ['function'] },
      then: { properties: { config: { $ref: `#/$defs/config.${name}` } } },
    })),
  ];
  const { $schema, ...rest } = root;
  return { $schema, $id: CHAIN_SPEC_SCHEMA_ID, ...rest, $defs: { ...(root.$defs as JsonObject | undefined), ...defs } };
}

/** The JSON Schema as the text of `schemas/chain-spec.schema.json` (2-space JSON and a newline). */
export function renderChainSpecJsonSchema(registry: FunctionRegistry): string {
  return `${JSON.stringify(chainSpecJsonSchema(registry), null, 2)}\n`;
}

function toJson(schema: z.ZodType): JsonObject {
  return z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonObject;
}

function dig(value: JsonObject, path: string[]): JsonObject {
  let node: unknown = value;
  for (const key of path) node = (node as JsonObject | undefined)?.[key];
  if (typeof node !== 'object' || node === null) throw new InvalidArgumentError(`chain spec JSON Schema has no ${path.join('.')}`);
  return node as JsonObject;
}
