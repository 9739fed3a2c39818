import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { chainSpecJsonSchema, renderChainSpecJsonSchema } from '../../../src/spec/chain-spec-json-schema.ts';
import { validateJsonSchema } from './json-schema-subset.ts';

const root = new URL('../../../', import.meta.url);
const registry = registerBuiltinFunctions(new FunctionRegistry());
const schema = chainSpecJsonSchema(registry) as Record<string, any>;
const topologies = fileURLToPath(new URL('topologies/', root));
const webEdge = parse(readFileSync(`${topologies}web-edge.yaml`, 'utf8'));

function mutated(edit: (doc: any) => void): unknown {
  const doc = structuredClone(webEdge);
  edit(doc);
  return doc;
}

describe('chain spec JSON Schema', () => {
  it('is committed as generated (run npx tsx scripts/generate-chain-schema.ts after a schema change)', () => {
    const committed = readFileSync(new URL('schemas/chain-spec.schema.json', root), 'utf8');
    expect(committed).toBe(renderChainSpecJsonSchema(registry));
  });

  it('is draft 2020-12 with one config schema per registered function', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    const entry = schema.properties.spec.properties.functions.items;
    expect(entry.properties.function.enum).toEqual(registry.names());
    expect(Object.keys(schema.$defs).sort()).toEqual(registry.names().map((n) => `config.${n}`));
    expect(schema.$defs['config.load-balancer'].required).toEqual(['services']);
  });

  it.each(readdirSync(topologies).filter((f) => f.endsWith('.yaml')))('accepts topologies/%s', (file) => {
    expect(validateJsonSchema(schema, parse(readFileSync(`${topologies}${file}`, 'utf8')))).toEqual([]);
  });

  it('rejects what an editor should flag', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['unknown field', mutated((d) => (d.spec.functions[0].replicas = 2)), /functions\[0\]: unexpected replicas/],
      ['function and image', mutated((d) => (d.spec.functions[2].image = 'abcd1234')), /functions\[2\]: matches 2 oneOf branches/],
      ['neither function nor image', mutated((d) => delete d.spec.functions[2].function), /functions\[2\]: matches 0 oneOf branches/],
      ['config with image', mutated((d) => (d.spec.functions[2] = { name: 'nat', image: 'abcd1234', config: {} })), /functions\[2\]: matches a `not` schema/],
      ['unknown function', mutated((d) => (d.spec.functions[0].function = 'firewal')), /functions\[0\]\.function: not in enum/],
      ['firewall config value', mutated((d) => (d.spec.functions[0].config.defaultPolicy = 'maybe')), /functions\[0\]\.config\.defaultPolicy: not in enum/],
      ['nat config field', mutated((d) => (d.spec.functions[2].config.snat.pool = 'x')), /functions\[2\]\.config\.snat: unexpected pool/],
      ['config of another function', mutated((d) => (d.spec.functions[2].function = 'pass-through')), /functions\[2\]\.config: unexpected snat/],
      ['port type', mutated((d) => (d.spec.egress = { type: 'tap' })), /spec\.egress: matches 0 oneOf branches/],
      ['memory text', mutated((d) => (d.spec.functions[0].resources.memory = '2Ti')), /resources\.memory: does not match/],
      ['scaling bound', mutated((d) => (d.spec.functions[1].scaling.min = 0)), /scaling\.min: < 1/],
      ['apiVersion', mutated((d) => (d.apiVersion = 'v1')), /\$\.apiVersion: not "nfvkit\.dev\/v1"/],
    ];
    for (const [what, doc, problem] of cases) {
      const errors = validateJsonSchema(schema, doc);
      expect(errors.join('\n'), what).toMatch(problem);
    }
  });
});
