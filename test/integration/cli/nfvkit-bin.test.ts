import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const checkout = process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'nfvkit-bin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** npm never reaches the registry here: the command must be this package's own bin. */
const env = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' };

describe('the nfvkit executable', () => {
  it('is the package bin, a launcher that needs no tsx of its own', () => {
    const pkg = JSON.parse(readFileSync(join(checkout, 'package.json'), 'utf8')) as { bin: Record<string, string>; dependencies: Record<string, string> };
    expect(pkg.bin).toEqual({ nfvkit: 'bin/nfvkit.mjs' });
    expect(readFileSync(join(checkout, pkg.bin.nfvkit), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    // Installed without devDependencies, the launcher still finds its TypeScript loader.
    expect(pkg.dependencies.tsx).toBeDefined();
  });

  it('`npx nfvkit --help` works in the checkout', async () => {
    const { stdout } = await run('npx', ['nfvkit', '--help'], { cwd: checkout, env });
    expect(stdout).toMatch(/^Usage: nfvkit \[options\] \[command\]/);
    for (const command of ['up', 'apply', 'get', 'describe', 'validate', 'build']) expect(stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
  }, 60_000);

  it('runs from another directory through the link npm install makes, and passes its exit code on', async () => {
    // The layout `npm install <this package>` leaves in a project: the package under
    // node_modules (a link for a directory install) and its bin linked into .bin.
    const project = join(dir, 'project');
    mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-nfvkit', private: true, dependencies: { nfvkit: `file:${checkout}` } }));
    symlinkSync(checkout, join(project, 'node_modules', 'nfvkit'));
    symlinkSync('../nfvkit/bin/nfvkit.mjs', join(project, 'node_modules', '.bin', 'nfvkit'));
    const { stdout } = await run('npx', ['nfvkit', 'functions'], { cwd: project, env });
    expect(stdout).toMatch(/^NAME\s+DESCRIPTION\n/);
    for (const fn of ['firewall', 'load-balancer', 'nat']) expect(stdout).toMatch(new RegExp(`\\n${fn}\\s`));
    const spec = join(project, 'bad.yaml');
    writeFileSync(spec, 'apiVersion: nfvkit.dev/v1\nkind: ServiceFunctionChain\nmetadata: { name: x }\nspec: { functions: [] }\n');
    const failed = await run('npx', ['nfvkit', 'validate', spec], { cwd: project, env }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed.code).toBe(2);
  }, 60_000);
});
