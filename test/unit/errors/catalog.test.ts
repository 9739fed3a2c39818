import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as catalog from '../../../src/errors/catalog.ts';

describe('error catalog', () => {
  it('docs/errors.md lists every code, and every code has a class', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    for (const code of catalog.ERROR_CODES) expect(doc, code).toContain(`\`${code}\``);
    const classCodes = Object.values(catalog)
      .filter((v) => typeof v === 'function' && (v as { prototype: unknown }).prototype instanceof catalog.NfvkitError)
      .map((cls) => new (cls as new (a: string, b: never[]) => catalog.NfvkitError)('probe', []).code);
    expect(new Set(classCodes)).toEqual(new Set(catalog.ERROR_CODES));
  });

  it('docs/errors.md lists every issue code, none of them an error code', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    for (const code of catalog.ISSUE_CODES) {
      expect(doc, code).toContain(`\`${code}\``);
      expect(catalog.ERROR_CODES as readonly string[]).not.toContain(code);
    }
  });

  it('sets name and code', () => {
    const err = new catalog.PoolExhaustedError('none free');
    expect(err.name).toBe('PoolExhaustedError');
    expect(err.code).toBe('NFVKIT_ERR_POOL_EXHAUSTED');
    expect(err).toBeInstanceOf(Error);
  });
});
