import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../../../src/image/image-store.ts';
import { fakeImage } from '../../image/fake-image.ts';

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const cli = join(process.cwd(), 'src/cli/nfvkit.ts');
const dir = mkdtempSync(join(tmpdir(), 'nfvkit-images-prune-cli-'));
const store = ImageStore.open(join(dir, 'store'));
// What a running controller holds: the prune, in another process, must keep it.
const lease = store.lease('controller');
afterAll(() => {
  lease.close();
  rmSync(dir, { recursive: true, force: true });
});

function nfvkit(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NFVKIT_IMAGE_STORE;
  return spawnSync(tsx, [cli, ...args, '--store', store.dir], { encoding: 'utf8', env, timeout: 30_000 });
}

function add(name: string): string {
  const img = fakeImage(name, name, 3000);
  store.add(img.bytes, img.manifest);
  return img.manifest.id;
}

describe('nfvkit images prune', () => {
  const held = add('held');
  const old = add('old');
  const fresh = add('fresh');
  lease.hold(held);
  const indexFile = join(store.dir, 'index.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8'));
  for (const e of index.images) if (e.id !== fresh) e.lastUsed = '2020-01-02T03:04:05.000Z';
  writeFileSync(indexFile, JSON.stringify(index));
  const names = (): string[] => store.list().map((e) => e.name).sort();

  it('--dry-run says what would go and removes nothing', () => {
    const r = nfvkit(['images', 'prune', '--older-than', '1h', '--dry-run']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe(`would remove old image ${old.slice(0, 12)} (${(store.list().find((e) => e.id === old)!.storedBytes! / 1024).toFixed(1)} KiB, last used 2020-01-02 03:04:05Z)`);
    expect(lines[1]).toMatch(/^would free [\d.]+ KiB \(1 image\); kept 2 images, [\d.]+ KiB: 1 in use, 1 used within 1h$/);
    expect(lines).toHaveLength(2);
    expect(names()).toEqual(['fresh', 'held', 'old']);
  });

  it('removes the unused images past --older-than, keeps what a controller holds, and reports JSON', () => {
    const r = nfvkit(['images', 'prune', '--older-than', '1h', '-o', 'json']);
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ dryRun: false, images: 2, inUse: 1, recent: 1, removed: [{ id: old, name: 'old', reason: 'unused' }] });
    expect(json.freedBytes).toBe(json.removed[0].bytes);
    expect(names()).toEqual(['fresh', 'held']);

    const all = nfvkit(['images', 'prune']);
    expect(all.status).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^removed fresh image ${fresh.slice(0, 12)} \\(.*\\)\\nfreed [\\d.]+ KiB \\(1 image\\); kept 1 image, [\\d.]+ KiB: 1 in use\\n$`));
    expect(names()).toEqual(['held']);
    expect(store.verify(held).id).toBe(held);
  });

  it('rm refuses a held image (exit 4) and a bad duration is a usage error (exit 2)', () => {
    const rm = nfvkit(['images', 'rm', held]);
    expect(rm.status).toBe(4);
    expect(rm.stderr).toMatch(/in use by controller pid \d+/);
    const bad = nfvkit(['images', 'prune', '--older-than', 'soon']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('expected a duration such as 90s, 10m, 1h30m or 0');
    expect(names()).toEqual(['held']);
  });
});
