/**
 * Which shared buffers other processes map too (memory from a `MemfdMemory` or a
 * `MappedMemory`, `shared-memory.ts`), and how to wait on a word there: the kernel's futex,
 * since V8's `Atomics.wait` is not woken from another process (`Doorbell` asks here).
 *
 * The registry is one per process, kept on `globalThis` under `Symbol.for(REGISTRY_KEY)`:
 * an instance process runs two bundles (its bootstrap, which maps the memory, and its
 * image, whose doorbells wait on it), each with its own copy of this module. It is also
 * apart from `shared-memory.ts` so that images, which only ask, bundle neither the
 * allocator nor the native addon's loader.
 */

/** The futex calls of the native addon (`NativeAddon`), for words in memory that crosses processes. */
export interface FutexOps {
  futexWait(words: Int32Array, index: number, expected: number, timeoutMs: number): 'ok' | 'not-equal' | 'timed-out';
  futexWake(words: Int32Array, index: number, count: number): number;
}

/** `Symbol.for` key of the process-wide registry. */
export const REGISTRY_KEY = 'nfvkit.crossProcessMemory';

function registry(): WeakMap<SharedArrayBuffer, FutexOps> {
  const g = globalThis as Record<symbol, unknown>;
  const key = Symbol.for(REGISTRY_KEY);
  let map = g[key] as WeakMap<SharedArrayBuffer, FutexOps> | undefined;
  if (map === undefined) g[key] = map = new WeakMap();
  return map;
}

/** True when `sab` is memory another process may map. */
export function crossesProcesses(sab: ArrayBufferLike): boolean {
  return sab instanceof SharedArrayBuffer && registry().has(sab);
}

/** The futex calls to wait on words of `sab`, when it crosses processes; undefined otherwise. */
export function crossProcessFutex(sab: ArrayBufferLike): FutexOps | undefined {
  return sab instanceof SharedArrayBuffer ? registry().get(sab) : undefined;
}

/** Records that `sab` is memory another process may map, and the futex calls for its words. */
export function markCrossProcess(sab: SharedArrayBuffer, futex: FutexOps): void {
  registry().set(sab, futex);
}
