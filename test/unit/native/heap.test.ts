import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadNativeAddon, type NativeAddon } from '../../../src/native/native-addon.ts';

const status = loadNativeAddon();

/** Runs `script` in a new node with the addon as `a`; its exit and output. */
function child(script: string, env: NodeJS.ProcessEnv = {}): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const path = status.available ? status.path : '';
  const r = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(path)});\n${script}`], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const HOG = 'const hog = []; for (let i = 0; i < 96; i++) hog.push(new Array(131072).fill(i + 0.5)); console.log("survived");';

describe.skipIf(!status.available)('native heap limit and collection (no V8 flag)', () => {
  const addon = (status.available ? status.addon : undefined) as NativeAddon;

  it('heapLimit refuses a limit that is not a whole number of MiB in range', () => {
    for (const bad of [0, -1, 2 ** 40]) expect(() => addon.heapLimit(bad)).toThrow(expect.objectContaining({ code: 'NFVKIT_ERR_NATIVE_ARGUMENT' }));
    expect(() => addon.heapLimit('64' as unknown as number)).toThrow(TypeError);
  });

  it('heapLimit bounds the old generation as --max-old-space-size does: past it the process dies of "heap out of memory"', () => {
    // ~96 MiB of doubles kept alive: fine without a limit, fatal under 32 MiB.
    const free = child(HOG);
    expect(free.stdout.trim()).toBe('survived');
    const bounded = child(`const before = require('v8').getHeapStatistics().heap_size_limit; const after = a.heapLimit(32); console.log(before > after, after < 128 * 2 ** 20); ${HOG}`);
    expect(bounded.stdout.split('\n')[0]).toBe('true true');
    expect(bounded.stdout).not.toContain('survived');
    expect(bounded.stderr).toMatch(/heap out of memory/);
  }, 60_000);

  it('heapLimit never raises a limit', () => {
    const r = child('const low = a.heapLimit(32); console.log(a.heapLimit(1024) === low);');
    expect(r.stdout.trim()).toBe('true');
  });

  it('collectGarbage collects without leaving gc() to scripts, and Node keeps accepting its code cache', () => {
    const r = child(
      `let ref; (() => { ref = new WeakRef({ big: new Array(1000).fill(1) }); })();
       setImmediate(() => { a.collectGarbage(); console.log(ref.deref() === undefined, typeof globalThis.gc); require('node:zlib'); });`,
      { NODE_DEBUG_NATIVE: 'CODE_CACHE' },
    );
    expect(r.stdout.trim()).toBe('true undefined');
    // zlib is compiled after the collection: its code cache must still fit the flags.
    expect(r.stderr).toMatch(/Code cache of zlib \S+ is accepted/);
    expect(r.stderr).not.toMatch(/is rejected/);
  });
});
