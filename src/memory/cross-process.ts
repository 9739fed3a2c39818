/**
 * Which shared buffers other processes map too: memory from a `MemfdMemory` or a
 * `MappedMemory` (`shared-memory.ts`). A wait word in such memory needs the kernel's futex,
 * since V8's `Atomics.wait` is not woken from another process (`Doorbell` asks here). Kept
 * apart from `shared-memory.ts` so that images, which only ask, do not bundle the allocator.
 */
const crossProcess = new WeakSet<SharedArrayBuffer>();

/** True when `sab` is memory another process may map. */
export function crossesProcesses(sab: ArrayBufferLike): boolean {
  return sab instanceof SharedArrayBuffer && crossProcess.has(sab);
}

/** Records that `sab` is memory another process may map (for `MemfdMemory` and `MappedMemory`). */
export function markCrossProcess(sab: SharedArrayBuffer): void {
  crossProcess.add(sab);
}
