import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../../functions/index.ts';
import { ConfigValidationError, IPV6_UNSUPPORTED } from '../../../src/errors/catalog.ts';
import { FunctionRegistry } from '../../../src/pipeline/function-registry.ts';
import { parseChainSpec } from '../../../src/spec/parse-chain-spec.ts';
import { SpecParser } from '../../../src/spec/spec-parser.ts';

const dir = fileURLToPath(new URL('../../fixtures/specs/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
const registry = registerBuiltinFunctions(new FunctionRegistry());

function expectedLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('# expect: '))
    .map((l) => l.slice('# expect: '.length));
}

function failure(text: string, file: string): ConfigValidationError {
  try {
    parseChainSpec(text, file, registry);
  } catch (err) {
    if (err instanceof ConfigValidationError) return err;
    throw err;
  }
  throw new Error(`${file} parsed without an error`);
}

describe('broken chain spec corpus', () => {
  it('covers every kind of mistake the validator must catch', () => {
    for (const name of [
      'wrong-types',
      'unknown-fields',
      'bad-cidr',
      'port-out-of-range',
      'duplicate-names',
      'min-greater-than-max',
      'unknown-function',
      'yaml-syntax-error',
      'duplicate-key',
      'function-config-deep',
      'many-errors',
      'empty',
      'missing-fields',
      'ipv6-unsupported',
    ]) {
      expect(files).toContain(`${name}.yaml`);
    }
  });

  it.each(files)('%s reports exactly its expected issues, with positions', (file) => {
    const text = readFileSync(`${dir}${file}`, 'utf8');
    const expected = expectedLines(text);
    expect(expected.length).toBeGreaterThan(0);
    const err = failure(text, file);
    expect(err.code).toBe('NFVKIT_ERR_CONFIG_INVALID');
    const [header, ...lines] = err.message.split('\n');
    expect(header).toBe(`chain spec ${file}: ${expected.length} problem(s)`);
    expect(lines.map((l) => l.trim())).toEqual(expected);
    const textLines = text.split('\n');
    for (const issue of err.issues) {
      expect(issue.file).toBe(file);
      expect(issue.line).toBeGreaterThanOrEqual(1);
      expect(issue.line).toBeLessThanOrEqual(textLines.length);
      expect(issue.column).toBeGreaterThanOrEqual(1);
      expect(issue.column).toBeLessThanOrEqual(textLines[issue.line! - 1].length + 1);
    }
  });

  it('codes every IPv6 refusal NFVKIT_ERR_IPV6_UNSUPPORTED, and nothing else', () => {
    const err = failure(readFileSync(`${dir}ipv6-unsupported.yaml`, 'utf8'), 'ipv6-unsupported.yaml');
    for (const issue of err.issues) expect(issue.code, issue.path).toBe(issue.message.endsWith('[NFVKIT_ERR_IPV6_UNSUPPORTED]') ? IPV6_UNSUPPORTED : undefined);
    expect(err.issues.filter((i) => i.code === IPV6_UNSUPPORTED)).toHaveLength(3);
  });

  it('keeps the issue codes through SpecParser (the YAML half in a worker thread)', async () => {
    const text = readFileSync(`${dir}ipv6-unsupported.yaml`, 'utf8');
    const parser = new SpecParser();
    try {
      const err = await parser.parse(text, 'ipv6-unsupported.yaml', registry).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ConfigValidationError);
      expect((err as ConfigValidationError).issues).toEqual(failure(text, 'ipv6-unsupported.yaml').issues);
    } finally {
      parser.close();
    }
  });

  it('points at the offending value itself', () => {
    const text = readFileSync(`${dir}function-config-deep.yaml`, 'utf8');
    const issue = failure(text, 'function-config-deep.yaml').issues.find((i) => i.path === 'spec.functions[1].config.services[0].backends[0].address');
    expect(issue).toBeDefined();
    expect(text.split('\n')[issue!.line! - 1].slice(issue!.column! - 1)).toMatch(/^198\.18\.3\.300,/);
  });
});
