import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { loadNativeAddon, type NativeAddon } from '../../../src/native/native-addon.ts';

const status = loadNativeAddon();

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw, but the call returned');
}
const expectArgumentError = (fn: () => unknown, kind: typeof TypeError | typeof RangeError): void => {
  const e = thrown(fn);
  expect(e, e.message).toBeInstanceOf(kind);
  expect(e.code).toBe('NFVKIT_ERR_NATIVE_ARGUMENT');
};

describe.skipIf(!status.available)('native shared memory, futex across processes and the sandbox', () => {
  const addon = (status.available ? status.addon : undefined) as NativeAddon;
  const addonPath = status.available ? status.path : '';

  it('shmCreate/shmSlice/shmCloseFd refuse bad arguments; slices alias the mapping', () => {
    expectArgumentError(() => addon.shmCreate('x', 0), RangeError);
    expectArgumentError(() => addon.shmCreate('x', 2 ** 40), RangeError);
    expectArgumentError(() => addon.shmCreate(5 as unknown as string, 4096), TypeError);
    const { fd, memory } = addon.shmCreate('nfvkit-test', 1 << 16);
    try {
      expect(memory.byteLength).toBe(1 << 16);
      const slice = addon.shmSlice(memory, 4096, 128);
      new Int32Array(slice)[0] = 0x1234;
      expect(new Int32Array(memory, 4096, 1)[0]).toBe(0x1234);
      expectArgumentError(() => addon.shmSlice(new SharedArrayBuffer(4096), 0, 16), TypeError);
      expectArgumentError(() => addon.shmSlice(slice, 0, 16), TypeError); // a slice is not a whole mapping
      expectArgumentError(() => addon.shmSlice(memory, 1 << 16, 1), RangeError);
      expectArgumentError(() => addon.shmSlice(memory, 100, (1 << 16) - 99), RangeError);
      expectArgumentError(() => addon.shmSlice(memory, 0, 0), RangeError);
      expectArgumentError(() => addon.shmCloseFd(1), RangeError); // stdout is not one of its memfds
    } finally {
      addon.shmCloseFd(fd);
    }
    expectArgumentError(() => addon.shmCloseFd(fd), RangeError); // closed already
  });

  it('shmDiscard frees whole pages of a mapping (they read as zeros, in every mapping) and refuses anything else', () => {
    const { fd, memory } = addon.shmCreate('nfvkit-test', 1 << 16);
    try {
      const other = addon.shmAttach(fd, 1 << 16);
      new Uint8Array(memory).fill(7);
      addon.shmDiscard!(memory, 4096, 8192);
      const seen = new Uint8Array(other);
      expect([seen[4095], seen[4096], seen[12287], seen[12288]]).toEqual([7, 0, 0, 7]);
      expectArgumentError(() => addon.shmDiscard!(memory, 100, 4096), RangeError); // not a page
      expectArgumentError(() => addon.shmDiscard!(memory, 0, 100), RangeError);
      expectArgumentError(() => addon.shmDiscard!(memory, 0, 1 << 17), RangeError); // past the end
      expectArgumentError(() => addon.shmDiscard!(memory, 1 << 16, 4096), RangeError);
      expectArgumentError(() => addon.shmDiscard!(memory, 0, 0), RangeError);
      expectArgumentError(() => addon.shmDiscard!(new SharedArrayBuffer(8192), 0, 4096), TypeError);
      expectArgumentError(() => addon.shmDiscard!(addon.shmSlice(memory, 0, 8192), 0, 4096), TypeError); // a slice is not a whole mapping
      expectArgumentError(() => addon.shmDiscard!(memory, '0' as unknown as number, 4096), TypeError);
    } finally {
      addon.shmCloseFd(fd);
    }
  });

  it('shmAttach maps only a sealed memfd of the stated size', () => {
    const { fd, memory } = addon.shmCreate('nfvkit-test', 8192);
    try {
      const again = addon.shmAttach(fd, 8192);
      new Uint8Array(memory)[7] = 42;
      expect(new Uint8Array(again)[7]).toBe(42);
      expectArgumentError(() => addon.shmAttach(fd, 4096), RangeError);
      expect(thrown(() => addon.shmAttach(1, 4096)).code).toMatch(/^E/); // stdout: not a memfd
    } finally {
      addon.shmCloseFd(fd);
    }
  });

  it('a futexWake from another process ends a futexWait on the same memfd word', async () => {
    const { fd, memory } = addon.shmCreate('nfvkit-test', 4096);
    try {
      const shared = new Int32Array(memory);
      const child = spawn(process.execPath, ['-e', `const a = require(${JSON.stringify(addonPath)}); const w = new Int32Array(a.shmAttach(3, 4096)); setTimeout(() => { Atomics.store(w, 3, 1); a.futexWake(w, 3, 1); }, 200);`], { stdio: ['ignore', 'inherit', 'inherit', fd] });
      const t0 = performance.now();
      // Blocks this thread until woken (or 10 s): the child's wake must end it.
      expect(addon.futexWait(shared, 3, 0, 10_000)).toBe('ok');
      expect(performance.now() - t0).toBeLessThan(9_000);
      expect(Atomics.load(shared, 3)).toBe(1);
      await once(child, 'exit');
    } finally {
      addon.shmCloseFd(fd);
    }
  });

  it('the sandbox filter dispatches every system call number as the rule tables say', () => {
    const check = addon.sandboxFilterCheck();
    expect(check.mismatches).toBe(0);
    expect(check.instructions).toBeGreaterThan(100);
    expect(check.instructions).toBeLessThanOrEqual(4096); // BPF_MAXINSNS
  });

  it('sandboxEnter refuses bad arguments (checked in a child: entering is for good)', () => {
    const script = `
      const a = require(${JSON.stringify(addonPath)});
      const out = [];
      const tryIt = (f) => { try { f(); out.push('ok'); } catch (e) { out.push(e.constructor.name + ':' + e.code); } };
      tryIt(() => a.sandboxEnter(new Int32Array(2), -1, -1));
      tryIt(() => a.sandboxEnter(new Uint32Array(16), -1, -1));
      tryIt(() => a.sandboxEnter(new Int32Array(16), -2, -1));
      tryIt(() => a.sandboxEnter(new Int32Array(16), -1, -1));
      tryIt(() => a.sandboxEnter(new Int32Array(16), -1, -1));
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout)).toEqual([
      'RangeError:NFVKIT_ERR_NATIVE_ARGUMENT',
      'TypeError:NFVKIT_ERR_NATIVE_ARGUMENT',
      'RangeError:NFVKIT_ERR_NATIVE_ARGUMENT',
      'ok',
      'TypeError:NFVKIT_ERR_NATIVE_ARGUMENT', // once per process
    ]);
  });

  it('sandboxBegin … sandboxFinish enters the same sandbox with the ids and filter changed on a thread of their own: checked arguments, once per process, denied calls counted after finish', () => {
    const script = `
      const a = require(${JSON.stringify(addonPath)});
      const fs = require('node:fs');
      const out = [];
      const tryIt = (f) => { try { const r = f(); out.push(r === undefined ? 'ok' : r); } catch (e) { out.push(e.constructor.name + ':' + e.code); } };
      const counters = new Int32Array(new SharedArrayBuffer(64));
      const statusFd = fs.openSync('/proc/self/status', 'r'); // opened before: no file opens once sandboxed
      tryIt(() => a.sandboxFinish());
      tryIt(() => a.sandboxBegin(new Int32Array(2), -1, -1));
      tryIt(() => a.sandboxBegin(new Int32Array(16), -2, -1));
      tryIt(() => a.sandboxBegin(counters, -1, -1));
      tryIt(() => a.sandboxBegin(counters, -1, -1));
      tryIt(() => a.sandboxEnter(counters, -1, -1));
      tryIt(() => a.sandboxFinish() === a.sandboxReasons);
      tryIt(() => a.sandboxFinish());
      const bytes = Buffer.alloc(8192);
      const status = bytes.toString('utf8', 0, fs.readSync(statusFd, bytes, 0, bytes.length, 0));
      out.push(/^Seccomp:\\s+2$/m.test(status), /^NoNewPrivs:\\s+1$/m.test(status));
      tryIt(() => fs.readFileSync('/etc/hostname'));
      out.push(counters[0]);
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(r.stdout)).toEqual([
      'TypeError:NFVKIT_ERR_NATIVE_ARGUMENT', // nothing begun
      'RangeError:NFVKIT_ERR_NATIVE_ARGUMENT',
      'RangeError:NFVKIT_ERR_NATIVE_ARGUMENT',
      'ok',
      'TypeError:NFVKIT_ERR_NATIVE_ARGUMENT', // once per process
      'TypeError:NFVKIT_ERR_NATIVE_ARGUMENT', // either way
      true,
      'TypeError:NFVKIT_ERR_NATIVE_ARGUMENT', // finished once
      true,
      true,
      'Error:EPERM', // the file wall, counted
      1,
    ]);
  });

  it.each(['sandboxEnter', 'sandboxBegin'])('a process sandboxed with %s dies with its parent', async (entry) => {
    // parent: spawns the sandboxed child, prints its pid, then waits to be killed.
    const enter = entry === 'sandboxEnter' ? 'a.sandboxEnter(c, -1, -1)' : 'a.sandboxBegin(c, -1, -1); a.sandboxFinish()';
    const grandchild = `const a = require(${JSON.stringify(addonPath)}); const c = new Int32Array(new SharedArrayBuffer(64)); ${enter}; process.stdout.write('in\\n'); setInterval(() => {}, 1000);`;
    const parentScript = `
      const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: ['ignore', 'pipe', 'inherit'] });
      c.stdout.once('data', () => console.log(c.pid));
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', parentScript], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
    const pid = Number(chunk.toString().trim());
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    const deadline = Date.now() + 5000;
    while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive()).toBe(false);
  }, 15_000);
});
