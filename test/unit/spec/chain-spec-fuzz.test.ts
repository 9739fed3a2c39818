import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { chainSpecDigest, functionSpecDigest } from '../../../src/spec/chain-spec-digest.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';

const registry = registerBuiltinFunctions(new FunctionRegistry());
const base = readFileSync(new URL('../../../topologies/web-edge.yaml', import.meta.url), 'utf8');

const VALUES = ['-1', '0', '1.5', '65536', '16777216', '1e400', '.inf', '.nan', '~', 'null', '[]', '{}', 'true', '"x"', "''", '*a', '&a 1', '!!str 5', '198.18.3.300', '0.0.0.0/0', 'any', '"8000-80"', '64Gi', 'firewall', 'image', '|\n  text', '[1, [2, [3]]]'];
const CHARS = ':-[]{},#&*!|>\'"%@` \n\ta0Z.';

type Mutation =
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'value'; line: number; value: string }
  | { kind: 'line'; op: 'drop' | 'dup' | 'swap' | 'indent' | 'dedent'; line: number; other: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ unit: fc.constantFrom(...CHARS), minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('value' as const), line: fc.nat(), value: fc.constantFrom(...VALUES) }),
  fc.record({ kind: fc.constant('line' as const), op: fc.constantFrom('drop', 'dup', 'swap', 'indent', 'dedent'), line: fc.nat(), other: fc.nat() }),
);

function apply(text: string, m: Mutation): string {
  if (m.kind === 'delete') {
    const at = m.at % text.length;
    return text.slice(0, at) + text.slice(at + m.length);
  }
  if (m.kind === 'insert') {
    const at = m.at % (text.length + 1);
    return text.slice(0, at) + m.text + text.slice(at);
  }
  const lines = text.split('\n');
  const i = m.line % lines.length;
  if (m.kind === 'value') {
    const colon = lines[i].indexOf(': ');
    lines[i] = colon < 0 ? `${lines[i]} ${m.value}` : `${lines[i].slice(0, colon + 2)}${m.value}`;
  } else if (m.op === 'drop') lines.splice(i, 1);
  else if (m.op === 'dup') lines.splice(i, 0, lines[i]);
  else if (m.op === 'swap') {
    const j = m.other % lines.length;
    [lines[i], lines[j]] = [lines[j], lines[i]];
  } else if (m.op === 'indent') lines[i] = `  ${lines[i]}`;
  else lines[i] = lines[i].replace(/^ {1,2}/, '');
  return lines.join('\n');
}

describe('chain spec fuzzing', () => {
  it('random mutations of web-edge.yaml give a spec or a ConfigValidationError with positions, nothing else', () => {
    let rejected = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
        const text = mutations.reduce(apply, base);
        const lines = text.split('\n');
        try {
          const spec = parseChainSpec(text, 'web-edge.yaml', registry);
          expect(chainSpecDigest(spec)).toMatch(/^[0-9a-f]{64}$/);
          for (const fn of spec.spec.functions) expect(functionSpecDigest(fn)).toMatch(/^[0-9a-f]{64}$/);
        } catch (err) {
          if (!(err instanceof ConfigValidationError)) throw err;
          rejected++;
          expect(err.issues.length).toBeGreaterThan(0);
          for (const issue of err.issues) {
            expect(issue.file).toBe('web-edge.yaml');
            expect(issue.message).not.toBe('');
            expect(issue.line).toBeGreaterThanOrEqual(1);
            expect(issue.line).toBeLessThanOrEqual(lines.length);
            expect(issue.column).toBeGreaterThanOrEqual(1);
            expect(issue.column).toBeLessThanOrEqual(lines[issue.line! - 1].length + 1);
          }
        }
      }),
      { numRuns: 400, seed: 0x5eed },
    );
    expect(rejected).toBeGreaterThan(80);
  });
});
