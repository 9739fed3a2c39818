import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('the npm start demo', () => {
  it('pushes packets through an instance over virtio-net with every packet accounted for, no copy and no leak', () => {
    const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
    const r = spawnSync(tsx, ['src/demo/ring-demo.ts', '--packets', '200000'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).not.toContain('FAILED');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/sent into the pool\s+200,000 \(one copy in each: 200,000 copies\)/);
    expect(r.stdout).toMatch(/received by the instance 200,000/);
    expect(r.stdout).toMatch(/forwarded out eth1\s+199,600/);
    expect(r.stdout).toMatch(/ipv4_bad_checksum\s+200\b/);
    expect(r.stdout).toMatch(/ipv4_truncated_header\s+200\b/);
    expect(r.stdout).toContain('copies between host and instance: 0');
    expect(r.stdout).toContain('every buffer back in the pool');
  });
});
