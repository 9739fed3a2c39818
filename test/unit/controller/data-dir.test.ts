import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDir } from '../../../src/controller/data-dir.ts';
import { DataPathError } from '../../../src/errors/catalog.ts';
import { dataPathProblem } from '../../../src/spec/data-path.ts';

/** The DataPathError `op` rejects with (fails the test when it resolves or throws anything else). */
async function refusal(op: Promise<unknown>): Promise<DataPathError> {
  const err = await op.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataPathError);
  const e = err as DataPathError;
  expect(e.code).toBe('NFVKIT_ERR_DATA_PATH');
  return e;
}

describe('dataPathProblem (the lexical rule the validator and the controller share)', () => {
  it.each(['in.pcap', 'captures/in.pcap', './in.pcap', 'a/./b.pcap', '..foo.pcap', 'x..pcap', 'dir/...'])('accepts %s', (path) => {
    expect(dataPathProblem(path)).toBeUndefined();
  });

  it.each([
    ['/etc/shadow', /absolute/],
    ['\\\\server\\share', /absolute/],
    ['C:/Windows/x', /absolute/],
    ['..', /`\.\.`/],
    ['../x.pcap', /`\.\.`/],
    ['a/../../x.pcap', /`\.\.`/],
    ['a\\..\\x', /`\.\.`/],
    ['dir/', /directory/],
    ['.', /directory/],
    ['a\0b', /NUL/],
    ['', /empty/],
    ['x'.repeat(2000), /longer/],
  ])('refuses %j', (path, why) => {
    expect(dataPathProblem(path)).toMatch(why);
  });
});

describe('DataDir: spec paths resolve inside the controller data directory only', () => {
  let tmp: string;
  let data: DataDir;
  let outside: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'nfvkit-data-dir-'));
    data = DataDir.resolve({ dataDir: join(tmp, 'data') });
    outside = join(tmp, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 'root:x:0:0 secret bytes');
    mkdirSync(join(tmp, 'data', 'read', 'captures'), { recursive: true });
    mkdirSync(join(tmp, 'data', 'write'), { recursive: true });
    writeFileSync(join(tmp, 'data', 'read', 'captures', 'in.pcap'), 'inside bytes');
  });

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('puts read/ and write/ under the data directory by default, or where --read-dir/--write-dir say', () => {
    expect(data.readDir).toBe(join(tmp, 'data', 'read'));
    expect(data.writeDir).toBe(join(tmp, 'data', 'write'));
    const split = DataDir.resolve({ readDir: 'in', writeDir: '/srv/out' }, '/work');
    expect(split.root).toBe('/work/.nfvkit/data');
    expect(split.readDir).toBe('/work/in');
    expect(split.writeDir).toBe('/srv/out');
  });

  it('creates its directories on first use', async () => {
    const fresh = DataDir.resolve({ dataDir: join(tmp, 'fresh') });
    expect(existsSync(fresh.root)).toBe(false);
    await fresh.ensure();
    expect(lstatSync(fresh.readDir).isDirectory()).toBe(true);
    expect(lstatSync(fresh.writeDir).isDirectory()).toBe(true);
  });

  it('reads a regular file by its relative path', async () => {
    expect(Buffer.from(await data.readFile('captures/in.pcap', 'spec.ingress.read')).toString()).toBe('inside bytes');
  });

  it('reads a large file without holding the event loop', async () => {
    writeFileSync(join(data.readDir, 'big.pcap'), Buffer.alloc(64 << 20, 1));
    let worstGapMs = 0;
    let last = performance.now();
    let ticks = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGapMs = Math.max(worstGapMs, now - last);
      last = now;
      ticks++;
    }, 1);
    const bytes = await data.readFile('big.pcap', 'r');
    clearInterval(ticker);
    expect(bytes.byteLength).toBe(64 << 20);
    expect(ticks).toBeGreaterThan(0);
    expect(worstGapMs).toBeLessThan(200);
  });

  it('refuses an absolute path, naming the field, the path and the reason', async () => {
    const err = await refusal(data.readFile(join(outside, 'secret'), 'spec.ingress.read'));
    expect(err.message).toMatch(/^spec\.ingress\.read ".*secret" \(in the controller's read directory\): refused: absolute paths are refused/);
  });

  it('refuses a .. escape', async () => {
    const err = await refusal(data.readFile('../../outside/secret', 'spec.ingress.read'));
    expect(err.message).toContain('`..` is refused');
  });

  it('refuses a symbolic link that leads out of the directory, without leaking the target', async () => {
    symlinkSync(join(outside, 'secret'), join(data.readDir, 'link-out'));
    symlinkSync(outside, join(data.readDir, 'dir-out'));
    for (const path of ['link-out', 'dir-out/secret']) {
      const err = await refusal(data.readFile(path, 'spec.ingress.read'));
      expect(err.message).toContain('a symbolic link leads outside the read directory');
      expect(err.message).not.toContain('root');
      expect(err.message).not.toContain(outside);
    }
  });

  it('follows a symbolic link that stays inside the directory', async () => {
    symlinkSync('captures/in.pcap', join(data.readDir, 'latest.pcap'));
    symlinkSync('captures', join(data.readDir, 'current'));
    expect(Buffer.from(await data.readFile('latest.pcap', 'r')).toString()).toBe('inside bytes');
    expect(Buffer.from(await data.readFile('current/in.pcap', 'r')).toString()).toBe('inside bytes');
  });

  it('refuses a FIFO without opening it (nothing blocks, the event loop keeps ticking)', async () => {
    const fifo = join(data.readDir, 'pipe.pcap');
    execFileSync('mkfifo', [fifo]);
    // A blocking open or read of a FIFO without a writer would never return.
    const started = performance.now();
    const err = await refusal(data.readFile('pipe.pcap', 'spec.ingress.read'));
    expect(err.message).toContain('not a regular file (a FIFO)');
    expect(performance.now() - started).toBeLessThan(1000);
    // Also through a symbolic link inside the directory.
    symlinkSync('pipe.pcap', join(data.readDir, 'pipe-link'));
    expect((await refusal(data.readFile('pipe-link', 'r'))).message).toContain('a FIFO');
  });

  it('refuses a directory and a device', async () => {
    expect((await refusal(data.readFile('captures', 'r'))).message).toContain('not a regular file (a directory)');
    symlinkSync('/dev/zero', join(data.readDir, 'zero'));
    // /dev/zero lies outside: refused for that before its kind is looked at.
    expect((await refusal(data.readFile('zero', 'r'))).message).toContain('outside the read directory');
    if (process.getuid?.() === 0) {
      // A device node inside the directory (only root may make one): refused without opening it.
      execFileSync('mknod', [join(data.readDir, 'zero-inside'), 'c', '1', '5']);
      expect((await refusal(data.readFile('zero-inside', 'r'))).message).toContain('not a regular file (a device)');
    }
  });

  it('reports a missing file as such (no stack, no system text)', async () => {
    const err = await refusal(data.readFile('captures/nope.pcap', 'spec.ingress.read'));
    expect(err.message).toBe(`spec.ingress.read "captures/nope.pcap" (in the controller's read directory): refused: no such file`);
    expect((await refusal(data.readFile('captures/in.pcap/x', 'r'))).message).toContain('not a directory');
  });

  it('writes through a temporary file and a rename, creating parent directories inside', async () => {
    await data.writeFile('runs/1/out.pcap', new Uint8Array([1, 2, 3]), 'spec.egress.write');
    expect([...readFileSync(join(data.writeDir, 'runs', '1', 'out.pcap'))]).toEqual([1, 2, 3]);
    await data.writeFile('runs/1/out.pcap', new Uint8Array([4]), 'spec.egress.write');
    expect([...readFileSync(join(data.writeDir, 'runs', '1', 'out.pcap'))]).toEqual([4]);
    expect(readdirSync(join(data.writeDir, 'runs', '1'))).toEqual(['out.pcap']);
  });

  it('refuses writes outside, through links out, or over what is not a regular file', async () => {
    const secret = join(outside, 'secret');
    await refusal(data.writeFile(secret, new Uint8Array([0]), 'w'));
    await refusal(data.writeFile('../outside/secret', new Uint8Array([0]), 'w'));
    symlinkSync(outside, join(data.writeDir, 'escape'));
    expect((await refusal(data.writeFile('escape/secret', new Uint8Array([0]), 'w'))).message).toContain('leads outside the write directory');
    expect((await refusal(data.writeFile('escape/new/file', new Uint8Array([0]), 'w'))).message).toContain('leads outside the write directory');
    symlinkSync(secret, join(data.writeDir, 'link.pcap'));
    expect((await refusal(data.writeFile('link.pcap', new Uint8Array([0]), 'w'))).message).toContain('not a regular file (a symbolic link)');
    execFileSync('mkfifo', [join(data.writeDir, 'pipe.pcap')]);
    expect((await refusal(data.writeFile('pipe.pcap', new Uint8Array([0]), 'w'))).message).toContain('a FIFO');
    mkdirSync(join(data.writeDir, 'adir'));
    expect((await refusal(data.writeFile('adir', new Uint8Array([0]), 'w'))).message).toContain('a directory');
    writeFileSync(join(data.writeDir, 'plain'), 'x');
    expect((await refusal(data.writeFile('plain/under', new Uint8Array([0]), 'w'))).message).toContain('"plain" is not a directory');
    expect(readFileSync(secret, 'utf8')).toBe('root:x:0:0 secret bytes');
    expect(existsSync(join(outside, 'new'))).toBe(false);
  });

  it('writes through a symbolic link to a directory inside the write directory', async () => {
    mkdirSync(join(data.writeDir, 'real'));
    symlinkSync('real', join(data.writeDir, 'alias'));
    await data.writeFile('alias/x.pcap', new Uint8Array([9]), 'w');
    expect([...readFileSync(join(data.writeDir, 'real', 'x.pcap'))]).toEqual([9]);
  });
});
