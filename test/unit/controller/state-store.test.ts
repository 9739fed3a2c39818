import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeSnapshot, StateStore, STATE_FILE, type StoredState } from '../../../src/controller/state-store.ts';
import { StateStoreError } from '../../../src/errors/catalog.ts';
import { writerState } from './state-store-writer.ts';

const dirs: string[] = [];
const stores: StateStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nfvkit-state-'));
  dirs.push(dir);
  return dir;
}

function open(dir: string): StateStore {
  const store = StateStore.open(dir);
  stores.push(store);
  return store;
}

const state = (generation: number, replicas = 1): StoredState => ({
  chains: [
    { name: 'alpha', source: 'alpha.yaml', specYaml: `apiVersion: nfvkit.dev/v1\n# ünïcode ✓ ${generation}\n`, generation, appliedAt: 1_700_000_000_000 + generation, replicas: { hop: replicas } },
    { name: 'beta', source: '-', specYaml: 'kind: ServiceFunctionChain\n', generation: 1, appliedAt: 1_700_000_000_000, replicas: { fused: 2 } },
  ],
});

/** The error `op` throws (fails the test when it does not throw). */
function thrown(op: () => unknown): StateStoreError {
  try {
    op();
  } catch (err) {
    expect(err).toBeInstanceOf(StateStoreError);
    return err as StateStoreError;
  }
  throw new Error('expected a StateStoreError');
}

describe('StateStore', () => {
  it('loads nothing from a new directory, then round-trips a saved state through a reopen', async () => {
    const dir = join(tempDir(), 'nested', 'state');
    const store = open(dir);
    expect(store.load()).toEqual({ chains: [] });
    await store.save(state(3, 2));
    await store.close();
    expect(open(dir).load()).toEqual(state(3, 2));
    expect(readdirSync(dir).sort()).toEqual(['lock', STATE_FILE]);
  });

  it('replaces the snapshot whole, in the order of the saves, leaving no temp file', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.save(state(1));
    const saves = [2, 3, 4, 5].map((g) => store.save(state(g, g)));
    await Promise.all(saves);
    expect(store.load()).toEqual(state(5, 5));
    expect(existsSync(join(dir, `${STATE_FILE}.tmp`))).toBe(false);
  });

  it('ignores (and removes at open) a torn temp file a killed writer left', async () => {
    const dir = tempDir();
    const first = open(dir);
    await first.save(state(7));
    await first.close();
    const torn = readFileSync(join(dir, STATE_FILE)).subarray(0, 40);
    writeFileSync(join(dir, `${STATE_FILE}.tmp`), torn);
    const store = open(dir);
    expect(existsSync(join(dir, `${STATE_FILE}.tmp`))).toBe(false);
    expect(store.load()).toEqual(state(7));
  });

  it('refuses a corrupt snapshot as a whole with a clear error, and leaves the file as it was', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.save(state(2));
    const file = join(dir, STATE_FILE);
    const good = readFileSync(file);
    const cases: [string, Buffer, RegExp][] = [
      ['flipped byte', Buffer.concat([good.subarray(0, good.length - 5), Buffer.from('X'), good.subarray(good.length - 4)]), /checksum mismatch/],
      ['truncated', good.subarray(0, good.length - 10), /body is \d+ bytes, the header says \d+/],
      ['empty', Buffer.alloc(0), /no header line/],
      ['not a snapshot', Buffer.from('{"chains":[]}\n'), /header line is not/],
      ['other version', Buffer.from(good.toString('latin1').replace(/^nfvkit-state 1 /, 'nfvkit-state 9 '), 'latin1'), /format version 9/],
    ];
    for (const [what, bytes, reason] of cases) {
      writeFileSync(file, bytes);
      const err = thrown(() => store.load());
      expect(err.code, what).toBe('NFVKIT_ERR_STATE_STORE');
      expect(err.message, what).toContain(`state snapshot ${file} is corrupt`);
      expect(err.message, what).toMatch(reason);
      expect(err.message, what).toContain('nothing was restored');
      expect(readFileSync(file).equals(bytes), what).toBe(true);
    }
  });

  it('checks the content behind a valid checksum: JSON, shape, one record per chain', () => {
    const snapshot = (body: string): Buffer => {
      const b = Buffer.from(body);
      const hash = createHash('sha256').update(b).digest('hex');
      return Buffer.concat([Buffer.from(`nfvkit-state 1 ${hash} ${b.length}\n`), b]);
    };
    expect(() => decodeSnapshot(snapshot('{"chains": ['), 'f')).toThrow(/body is not JSON/);
    expect(() => decodeSnapshot(snapshot('{"chains":[{"name":"a","source":"s","specYaml":"y","generation":0,"appliedAt":1,"replicas":{}}]}'), 'f')).toThrow(/unexpected content at chains\.0\.generation/);
    const one = { name: 'a', source: 's', specYaml: 'y', generation: 1, appliedAt: 1, replicas: { hop: 1 } };
    expect(() => decodeSnapshot(snapshot(JSON.stringify({ chains: [one, one] })), 'f')).toThrow(/chain "a" is stored twice/);
    expect(decodeSnapshot(snapshot(JSON.stringify({ chains: [one] })), 'f')).toEqual({ chains: [one] });
  });

  it('rejects a failed write with StateStoreError and keeps the previous snapshot', async () => {
    const dir = tempDir();
    const store = open(dir);
    await store.save(state(1));
    mkdirSync(join(dir, `${STATE_FILE}.tmp`));
    await expect(store.save(state(2))).rejects.toThrow(/cannot write the state snapshot/);
    rmSync(join(dir, `${STATE_FILE}.tmp`), { recursive: true });
    expect(store.load()).toEqual(state(1));
    await store.save(state(3));
    expect(store.load()).toEqual(state(3));
  });

  it('refuses a directory a live process holds, and takes over the lock of a dead one', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'lock'), `${process.ppid}\n`);
    expect(thrown(() => StateStore.open(dir)).message).toContain(`is in use by process ${process.ppid}`);
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = child.pid as number;
    await new Promise((resolve) => child.on('exit', resolve));
    writeFileSync(join(dir, 'lock'), `${deadPid}\n`);
    const store = open(dir);
    expect(readFileSync(join(dir, 'lock'), 'utf8')).toBe(`${process.pid}\n`);
    await store.close();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });

  it('a writer killed with SIGKILL at any moment leaves a whole snapshot, never a torn one', async () => {
    // node itself with the tsx loader (not the tsx wrapper, whose node child a SIGKILL would miss).
    const writer = join(process.cwd(), 'test/unit/controller/state-store-writer.ts');
    for (const killAfterMs of [0, 7, 23, 61]) {
      const dir = tempDir();
      const child = spawn(process.execPath, ['--import', 'tsx', writer], { env: { ...process.env, STATE_WRITER_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        let out = '';
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`writer saved nothing in 30 s: ${stderr}`)), 30_000);
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('saved 3\n')) {
              clearTimeout(timer);
              resolve();
            }
          });
          child.on('exit', () => reject(new Error(`writer exited: ${stderr}`)));
        });
        await new Promise((r) => setTimeout(r, killAfterMs));
        child.kill('SIGKILL');
        await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.on('exit', resolve)));
        const acknowledged = Math.max(...[...out.matchAll(/saved (\d+)\n/g)].map((m) => Number(m[1])));
        const loaded = open(dir).load();
        const generation = loaded.chains[0].generation;
        expect(loaded).toEqual(writerState(generation));
        // A save that resolved is on disk; at most the one in flight may also have landed.
        expect(generation).toBeGreaterThanOrEqual(acknowledged);
        expect(generation).toBeLessThanOrEqual(acknowledged + 1);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
  });
});
