import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IMAGE_LEASE_FORMAT, LEASES_DIR, type LeaseRecord } from '../../src/image/image-lease.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { fakeImage } from './fake-image.ts';

let root: string;
let store: ImageStore;
const leases: { close(): void }[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nfvkit-store-gc-'));
  store = ImageStore.open(join(root, 'store'));
});
afterEach(() => {
  for (const l of leases.splice(0)) l.close();
  rmSync(root, { recursive: true, force: true });
});

function lease(owner = 'test') {
  const l = store.lease(owner);
  leases.push(l);
  return l;
}

/** Adds a fake image; returns its id. */
function add(name: string, padBytes = 0): string {
  const img = fakeImage(name, name, padBytes);
  store.add(img.bytes, img.manifest);
  return img.manifest.id;
}

const names = (): string[] => store.list().map((e) => e.name).sort();
const HOUR = 3_600_000;
/** Lets the clock move on: last-use times have millisecond resolution. */
const tick = () => new Promise((r) => setTimeout(r, 3));

describe('image store garbage collection', () => {
  it('keeps the images a live lease holds and removes the others', () => {
    const a = add('a');
    add('b');
    expect(lease().hold(a)).toBe(true);
    const r = store.prune({ olderThanMs: 0 });
    expect(r.removed.map((x) => [x.name, x.reason])).toEqual([['b', 'unused']]);
    expect(r).toMatchObject({ images: 1, inUse: 1, recent: 0, dryRun: false });
    expect(r.freedBytes).toBeGreaterThan(0);
    expect(names()).toEqual(['a']);
    expect(store.verify(a).id).toBe(a);
    expect(readdirSync(store.dir).filter((n) => /^[0-9a-f]{64}$/.test(n))).toEqual([a]);
  });

  it('honours the grace period from the last use, and a dry run changes nothing', async () => {
    const a = add('a');
    const b = add('b');
    const now = Date.now();
    expect(store.prune({ olderThanMs: HOUR, now }).removed).toEqual([]);
    expect(store.prune({ olderThanMs: HOUR, now }).recent).toBe(2);
    // b is used again (a cache hit touches it): an hour after that use, a has been unused for longer.
    await tick();
    store.touch(b);
    const dry = store.prune({ olderThanMs: HOUR, now: now + HOUR + 1000, dryRun: true });
    expect(dry.removed.map((x) => x.name)).toEqual(['a', 'b']);
    expect(names()).toEqual(['a', 'b']);
    const later = Date.parse(store.list().find((e) => e.id === b)!.lastUsed!) + HOUR - 1;
    expect(store.prune({ olderThanMs: HOUR, now: later }).removed.map((x) => x.id)).toEqual([a]);
    expect(names()).toEqual(['b']);
  });

  it('starts the grace period when a lease lets an image go', async () => {
    const a = add('a');
    const l = lease();
    l.hold(a);
    await new Promise((r) => setTimeout(r, 20));
    const before = Date.now();
    l.set([]);
    const lastUsed = Date.parse(store.list()[0].lastUsed!);
    expect(lastUsed).toBeGreaterThanOrEqual(before);
    expect(store.prune({ olderThanMs: HOUR, now: lastUsed + HOUR - 1 }).removed).toEqual([]);
    expect(store.prune({ olderThanMs: HOUR, now: lastUsed + HOUR }).removed.map((x) => x.id)).toEqual([a]);
  });

  it('evicts the least recently used unused images to fit the cap, never an in-use or kept one', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'].map((n) => add(n, 2000));
    const [a, b, c, d, e] = ids;
    const size = store.usage().bytes / 5;
    // Use order, oldest first: c, a, d (b and e are held).
    const l = lease();
    l.hold(b);
    l.hold(e);
    for (const id of [c, a, d]) {
      await tick();
      store.touch(id);
    }
    const r = store.prune({ olderThanMs: HOUR, capBytes: Math.ceil(size * 3.5) });
    expect(r.removed.map((x) => [x.name, x.reason])).toEqual([['c', 'cap'], ['a', 'cap']]);
    expect(r.capExceeded).toBeUndefined();
    expect(names()).toEqual(['b', 'd', 'e']);

    const tight = store.prune({ olderThanMs: HOUR, capBytes: Math.ceil(size), keep: [d] });
    expect(tight.removed).toEqual([]);
    expect(tight.capExceeded).toEqual({ bytes: store.usage().bytes, capBytes: Math.ceil(size) });
    expect(names()).toEqual(['b', 'd', 'e']);
    expect(store.prune({ olderThanMs: HOUR, capBytes: Math.ceil(size * 2) }).removed.map((x) => x.name)).toEqual(['d']);
  });

  it('does not count a lease whose process is gone, and folds its last renewal into the images it held', () => {
    const a = add('a');
    const b = add('b');
    const c = add('c');
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const renewed = new Date(Date.now() - 60_000).toISOString();
    const write = (file: string, record: Partial<LeaseRecord>): void => {
      mkdirSync(join(store.dir, LEASES_DIR), { recursive: true });
      writeFileSync(join(store.dir, LEASES_DIR, file), JSON.stringify({ format: IMAGE_LEASE_FORMAT, owner: 'controller', host: hostname(), pid: dead, renewed, ttlMs: 300_000, images: [], ...record }));
    };
    write('crashed.json', { images: [a] });
    write('far-away.json', { host: 'another-host', pid: 1, renewed: new Date().toISOString(), images: [b] });
    write('lapsed.json', { host: 'another-host', pid: 1, renewed: new Date(Date.now() - 600_000).toISOString(), images: [c] });
    // The index says every image was last used two hours ago.
    const indexFile = join(store.dir, 'index.json');
    const index = JSON.parse(readFileSync(indexFile, 'utf8'));
    for (const e of index.images) e.lastUsed = new Date(Date.now() - 2 * HOUR).toISOString();
    writeFileSync(indexFile, JSON.stringify(index));
    expect(store.usage()).toMatchObject({ images: 3, inUseImages: 1 });
    // a: its holder died a minute after its last renewal; c: lapsed ten minutes ago; b: live elsewhere.
    const r = store.prune({ olderThanMs: 300_000 });
    expect(r.removed.map((x) => x.name)).toEqual(['c']);
    expect(r).toMatchObject({ inUse: 1, recent: 1 });
    expect(names()).toEqual(['a', 'b']);
    expect(store.list().find((e) => e.id === a)!.lastUsed).toBe(renewed);
    expect(readdirSync(join(store.dir, LEASES_DIR))).toEqual(['far-away.json']);
    expect(store.prune({ olderThanMs: 0 }).removed.map((x) => x.name)).toEqual(['a']);
  });

  it('refuses to guess when the leases directory holds a fresh file that is no lease', () => {
    add('a');
    mkdirSync(join(store.dir, LEASES_DIR), { recursive: true });
    writeFileSync(join(store.dir, LEASES_DIR, 'junk.json'), '{"format":"nfvkit-image-lease/9"}');
    expect(() => store.prune({ olderThanMs: 0 })).toThrow(/is not a lease; prune removes nothing/);
    expect(names()).toEqual(['a']);
  });

  it('never follows a symbolic link out of the store', () => {
    const outside = join(root, 'outside');
    mkdirSync(join(outside, 'keep'), { recursive: true });
    writeFileSync(join(outside, 'precious.txt'), 'do not delete');
    writeFileSync(join(outside, 'keep', 'also.txt'), 'nor this');
    const a = add('a');
    const b = add('b');
    // a link inside an image directory, an image directory replaced by a link, and .trash replaced by a link
    symlinkSync(outside, join(store.dir, a, 'escape'));
    rmSync(join(store.dir, b), { recursive: true });
    symlinkSync(outside, join(store.dir, b));
    symlinkSync(join(outside, 'keep'), join(store.dir, '.trash'));
    const r = store.prune({ olderThanMs: 0 });
    expect(r.removed.map((x) => x.name).sort()).toEqual(['a', 'b']);
    expect(readFileSync(join(outside, 'precious.txt'), 'utf8')).toBe('do not delete');
    expect(readFileSync(join(outside, 'keep', 'also.txt'), 'utf8')).toBe('nor this');
    expect(existsSync(join(store.dir, a))).toBe(false);
    expect(existsSync(join(store.dir, b))).toBe(false);
    expect(readdirSync(join(store.dir, '.trash'))).toEqual([]);
  });

  it('rm refuses an image a live lease holds', () => {
    const a = add('a');
    const l = lease('controller');
    l.hold(a);
    expect(() => store.remove(a)).toThrow(/is in use by controller pid \d+/);
    l.set([]);
    expect(store.remove(a).id).toBe(a);
    expect(names()).toEqual([]);
  });

  it('a closed lease leaves no file and its images count as used at the close', () => {
    const a = add('a');
    const l = store.lease('test');
    l.hold(a);
    expect(readdirSync(join(store.dir, LEASES_DIR))).toHaveLength(1);
    const before = Date.now();
    l.close();
    expect(readdirSync(join(store.dir, LEASES_DIR))).toEqual([]);
    expect(Date.parse(store.list()[0].lastUsed!)).toBeGreaterThanOrEqual(before);
    expect(() => l.hold(a)).toThrow(/closed/);
  });

  it('a concurrent build of the same id and prunes never leave a listed image incomplete or take a held one', async () => {
    const racer = join(process.cwd(), 'test/image/store-gc-racer.ts');
    const barrier = join(root, 'barrier');
    mkdirSync(barrier);
    const run = async (role: string) => {
      const child = spawn(process.execPath, ['--import', 'tsx', racer, role, store.dir, barrier, '1500'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const [code] = (await once(child, 'exit')) as [number];
      expect({ role, code, err }).toEqual({ role, code: 0, err: '' });
      return JSON.parse(out) as { rounds: number; failures: number; removed: number; errors: string[] };
    };
    const [adder, pruner] = await Promise.all([run('adder'), run('pruner')]);
    expect(adder.errors).toEqual([]);
    expect(pruner.errors).toEqual([]);
    expect(adder.failures + pruner.failures).toBe(0);
    expect(adder.rounds).toBeGreaterThan(10);
    expect(pruner.removed).toBeGreaterThan(0); // the two did meet
    for (const e of store.list()) expect(store.verify(e.id).id).toBe(e.id);
    expect(readdirSync(store.dir).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(readdirSync(join(store.dir, LEASES_DIR))).toEqual([]);
  });
});
