import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const cli = join(process.cwd(), 'src/cli/nfvkit.ts');
const dir = mkdtempSync(join(tmpdir(), 'nfvkit-images-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nfvkit(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NFVKIT_IMAGE_STORE;
  Object.assign(env, opts.env);
  return spawnSync(tsx, [cli, ...args], { encoding: 'utf8', cwd: opts.cwd ?? process.cwd(), env, timeout: 30_000 });
}

describe('nfvkit build and images', () => {
  const cfg = join(dir, 'fw.yaml');
  writeFileSync(cfg, 'defaultPolicy: drop\nrules:\n  - { action: allow, proto: tcp, dport: 443 }\n');
  const storeA = join(dir, 'store-a');
  const storeB = join(dir, 'store-b');

  it('builds the same image id from another working directory and store, then hits the cache', () => {
    const cwdB = join(dir, 'elsewhere');
    mkdirSync(cwdB);
    const a = nfvkit(['build', 'firewall', '--config', cfg, '--store', storeA, '-o', 'json']);
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);
    const b = nfvkit(['build', 'firewall', '-c', cfg, '-o', 'json'], { cwd: cwdB, env: { NFVKIT_IMAGE_STORE: storeB } });
    expect(b.status).toBe(0);
    const ja = JSON.parse(a.stdout);
    const jb = JSON.parse(b.stdout);
    expect(ja).toMatchObject({ name: 'firewall', cache: 'miss', memoryMiB: 256 });
    expect(jb.id).toBe(ja.id);
    expect(jb.path).toBe(join(storeB, ja.id, 'image.mjs'));

    const again = nfvkit(['build', 'firewall', '-c', cfg, '--store', storeA]);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^cached firewall image ${ja.id.slice(0, 12)} \\(.* KiB, \\d+ modules, 256 MiB\\): build inputs unchanged`));
  });

  it('lists, inspects and removes images', () => {
    const pt = nfvkit(['build', 'pass-through', '--store', storeA, '--memory', '32', '-o', 'json']);
    expect(pt.status).toBe(0);
    const ptId = JSON.parse(pt.stdout).id as string;

    const table = nfvkit(['images', '--store', storeA]);
    expect(table.status).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+ID\s+SIZE\s+MODULES\s+MEMORY\s+CREATED$/);
    expect(lines[2]).toMatch(new RegExp(`^pass-through\\s+${ptId.slice(0, 12)}\\s+[\\d.]+ KiB\\s+\\d+\\s+32 MiB\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`));
    const json = JSON.parse(nfvkit(['images', '-o', 'json', '--store', storeA]).stdout);
    expect(json.map((e: { name: string }) => e.name)).toEqual(['firewall', 'pass-through']);

    const inspect = nfvkit(['images', 'inspect', ptId.slice(0, 7), '--store', storeA]);
    expect(inspect.status).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ id: ptId, name: 'pass-through', memoryMiB: 32 });

    expect(nfvkit(['images', 'rm', ptId, '--store', storeA]).stdout).toBe(`removed pass-through image ${ptId.slice(0, 12)}\n`);
    const gone = nfvkit(['images', 'inspect', ptId, '--store', storeA]);
    expect(gone.status).toBe(3);
    expect(gone.stderr).toContain('NFVKIT_ERR_IMAGE_NOT_FOUND');
  });

  it('keeps every entry when builds run concurrently into one store', async () => {
    const store = join(dir, 'store-concurrent');
    writeFileSync(join(dir, 'nat.yaml'), 'snat: { addresses: 198.18.100.1 }\n');
    const runs = [['firewall', '-c', cfg], ['pass-through'], ['firewall', '-c', cfg], ['nat', '-c', join(dir, 'nat.yaml')]].map(async (args) => {
      const child = spawn(tsx, [cli, 'build', ...args, '--store', store, '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      expect(code).toBe(0);
      return JSON.parse(out) as { id: string; name: string };
    });
    const built = await Promise.all(runs);
    expect(built[0].id).toBe(built[2].id);
    const listed = JSON.parse(nfvkit(['images', '-o', 'json', '--store', store]).stdout) as Array<{ id: string }>;
    expect(new Set(listed.map((e) => e.id))).toEqual(new Set(built.map((b) => b.id)));
    expect(listed).toHaveLength(3);
  });

  it('rejects a bad memory limit and an unreadable config with exit 2', () => {
    const mem = nfvkit(['build', 'pass-through', '--store', storeA, '--memory', 'lots']);
    expect(mem.status).toBe(2);
    expect(mem.stderr).toContain('whole number of MiB');
    const missing = nfvkit(['build', 'firewall', '-c', join(dir, 'nope.yaml'), '--store', storeA]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('cannot read configuration');
  });
});
