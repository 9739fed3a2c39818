import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('works from a project where the packed package is installed, and passes its exit code on', async () => {
    // What `npm install nfvkit-<version>.tgz` leaves in a project: the package's files
    // (what `npm pack` takes) under node_modules/nfvkit, its bin linked into .bin, its
    // dependencies beside it (linked here from the checkout: this test installs nothing).
    const pack = join(dir, 'pack');
    mkdirSync(pack);
    const { stdout: packed } = await run('npm', ['pack', checkout, '--pack-destination', pack, '--silent'], { cwd: pack, env });
    const project = join(dir, 'project');
    const modules = join(project, 'node_modules');
    mkdirSync(join(modules, 'nfvkit'), { recursive: true });
    mkdirSync(join(modules, '.bin'));
    await run('tar', ['-xzf', join(pack, packed.trim()), '-C', join(modules, 'nfvkit'), '--strip-components=1']);
    for (const dep of readdirSync(join(checkout, 'node_modules'))) if (!dep.startsWith('.')) symlinkSync(join(checkout, 'node_modules', dep), join(modules, dep));
    symlinkSync('../nfvkit/bin/nfvkit.mjs', join(modules, '.bin', 'nfvkit'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-nfvkit', private: true, dependencies: { nfvkit: '0.1.0' } }));
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
    expect(failed.stderr).toMatch(/spec\.functions/);
  }, 60_000);
});
