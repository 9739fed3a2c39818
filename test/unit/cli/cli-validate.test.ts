import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCaptured } from './run-captured.ts';

const dir = mkdtempSync(join(tmpdir(), 'nfvkit-cli-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = join(dir, 'good.yaml');
writeFileSync(
  good,
  `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: edge
spec:
  ingress: { type: generator }
  egress: { type: sink }
  functions:
    - name: fw
      function: firewall
      config: { defaultPolicy: allow }
    - name: hop
      function: pass-through
`,
);
const broken = join(dir, 'broken.yaml');
writeFileSync(
  broken,
  `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata:
  name: edge
spec:
  ingress: { type: generator }
  egress: { type: sink }
  functions:
    - name: fw
      function: firewal
    - name: hop
      function: pass-through
      scaling: { min: 3, max: 2 }
`,
);

describe('nfvkit validate', () => {
  it('accepts a good spec and names its chain and functions', async () => {
    const r = await runCaptured(['validate', good]);
    expect(r).toEqual({ code: 0, stdout: `${good}: valid: chain/edge (2 functions: fw, hop)\n`, stderr: '' });
  });

  it('prints every problem of a broken spec with its position and exits 2', async () => {
    const r = await runCaptured(['validate', good, broken]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(`${good}: valid: chain/edge (2 functions: fw, hop)\n`);
    expect(r.stderr).toBe(
      [
        `nfvkit: NFVKIT_ERR_CONFIG_INVALID: chain spec ${broken}: 2 problem(s)`,
        `  ${broken}:10:17 spec.functions[0].function: unknown function "firewal"; known: firewall, load-balancer, nat, pass-through`,
        `  ${broken}:13:23 spec.functions[1].scaling.min: min (3) > max (2)`,
        '',
      ].join('\n'),
    );
  });

  it('reports an unreadable file as a problem of that file', async () => {
    const missing = join(dir, 'missing.yaml');
    const r = await runCaptured(['validate', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`nfvkit: NFVKIT_ERR_CONFIG_INVALID: chain spec ${missing}: 1 problem(s)\n  ${missing} (root): cannot read the file: no such file\n`);
  });

  it('gives every verdict as JSON with -o json', async () => {
    const r = await runCaptured(['validate', '-o', 'json', good, broken]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    const results = JSON.parse(r.stdout);
    expect(results[0]).toEqual({ file: good, valid: true, chain: 'edge', functions: ['fw', 'hop'] });
    expect(results[1].valid).toBe(false);
    expect(results[1].issues.map((i: { line: number; column: number; path: string }) => `${i.line}:${i.column} ${i.path}`)).toEqual([
      '10:17 spec.functions[0].function',
      '13:23 spec.functions[1].scaling.min',
    ]);
  });

  it('treats bad flags and missing arguments as usage errors', async () => {
    expect((await runCaptured(['validate'])).code).toBe(2);
    const r = await runCaptured(['validate', '-o', 'xml', good]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: option '-o, --output <format>' argument 'xml' is invalid. Allowed choices are text, json, yaml.");
    expect((await runCaptured(['frobnicate'])).code).toBe(2);
  });

  it('prints help with exit 0', async () => {
    const r = await runCaptured(['validate', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: nfvkit validate [options] <file...>');
  });
});
