/**
 * Where a data plane's shared memory comes from: the pool, the rings, the counters and the
 * wait words that the host and its instances both map.
 *
 * - `HeapMemory`: `new SharedArrayBuffer` per allocation, shared with worker-thread
 *   instances by structured clone (no native code needed).
 * - `MemfdMemory`: one sealed memfd per data plane, mapped by the host and by every
 *   instance process (the native addon wraps ranges of the mapping as SharedArrayBuffers).
 *   Allocations are ranges of it; an instance process maps the same fd and rebuilds each
 *   buffer from its `SharedRange`.
 *
 * Memory that crosses processes needs another wake mechanism than `Atomics.wait/notify`
 * (V8's wait list is per process): `crossesProcesses(sab)` tells which, and `Doorbell`
 * picks the futex for such memory. One mechanism per word, decided by the memory it lives in.
 *
 * @example
 * ```ts
 * const memory = MemfdMemory.create(poolBytes + (16 << 20));   // host
 * const sab = memory.allocate(4096);
 * const range = memory.locate(sab);                             // → { offset, length }, sent to the child
 * // child: const mapped = MappedMemory.attach(3, memory.bytes); mapped.view(range)
 * ```
 */
import { InvalidArgumentError, SharedMemoryError } from '../errors/catalog.ts';
import { nativeAddonOrNull, type NativeAddon } from '../native/native-addon.ts';
import { markCrossProcess } from './cross-process.ts';

/** A range of a memfd mapping: how another process finds an allocation. */
export interface SharedRange {
  readonly offset: number;
  readonly length: number;
}

/** A source of shared memory for one data plane. */
export interface SharedMemory {
  /** `heap`: worker threads only; `memfd`: mappable by other processes. */
  readonly kind: 'heap' | 'memfd';
  /** A zeroed shared buffer of `bytes`. */
  allocate(bytes: number): SharedArrayBuffer;
  /** Gives back a buffer `allocate` returned; its memory may be handed out again. */
  release(sab: SharedArrayBuffer): void;
  /** Where `sab` lies in the mapping (memfd), or undefined (heap: pass the buffer itself). */
  locate(sab: SharedArrayBuffer): SharedRange | undefined;
  /** Frees what the memory holds open (its fd); buffers already handed out stay valid. */
  close(): void;
}

export { crossesProcesses } from './cross-process.ts';

/** Plain `SharedArrayBuffer`s: for worker-thread instances. */
export class HeapMemory implements SharedMemory {
  readonly kind = 'heap';
  allocate(bytes: number): SharedArrayBuffer {
    return new SharedArrayBuffer(bytes);
  }
  release(): void {}
  locate(): undefined {
    return undefined;
  }
  close(): void {}
}

/** The process-wide heap memory. */
export const HEAP_MEMORY: SharedMemory = new HeapMemory();

/** Allocation granularity, bytes: a cache line, so no two allocations share one. */
const ALIGN = 64;

/** The page size of the mappings (x86-64, arm64 with 4 KiB pages). */
const PAGE_BYTES = 4096;

/**
 * A released range with at least this many bytes of whole pages gives them back to the
 * system instead of being zeroed when handed out again (a firewall's connection state is
 * 8 MiB: zeroing it took milliseconds of the controller's thread on its next owner's boot).
 */
export const DISCARD_MIN_BYTES = 64 * 1024;

/** Adds `[offset, offset + length)` (not overlapping any) to `list` (sorted, never adjacent), merging neighbours. */
function putRange(list: SharedRange[], offset: number, length: number): void {
  let i = list.findIndex((r) => r.offset > offset);
  if (i < 0) i = list.length;
  const before = list[i - 1];
  if (before !== undefined && before.offset + before.length === offset) {
    offset = before.offset;
    length += before.length;
    list.splice(--i, 1);
  }
  const after = list[i];
  if (after !== undefined && offset + length === after.offset) {
    length += after.length;
    list.splice(i, 1);
  }
  list.splice(i, 0, { offset, length });
}

/** Removes `[offset, offset + length)` from `list` (sorted, never adjacent); returns the parts of it `list` held. */
function takeRange(list: SharedRange[], offset: number, length: number): SharedRange[] {
  const end = offset + length;
  const taken: SharedRange[] = [];
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    const rEnd = r.offset + r.length;
    if (rEnd <= offset) continue;
    if (r.offset >= end) break;
    const from = Math.max(r.offset, offset);
    const to = Math.min(rEnd, end);
    taken.push({ offset: from, length: to - from });
    const keep: SharedRange[] = [];
    if (r.offset < from) keep.push({ offset: r.offset, length: from - r.offset });
    if (rEnd > to) keep.push({ offset: to, length: rEnd - to });
    list.splice(i, 1, ...keep);
    i += keep.length - 1;
  }
  return taken;
}

/**
 * One sealed memfd mapped here, carved into allocations (first fit over a sorted free list,
 * neighbours merged on release). Needs the native addon.
 */
export class MemfdMemory implements SharedMemory {
  readonly kind = 'memfd';
  /** The memfd (close-on-exec): pass it to instance processes through spawn's stdio. */
  readonly fd: number;
  /** Size of the mapping. */
  readonly bytes: number;
  private readonly addon: NativeAddon;
  private readonly whole: SharedArrayBuffer;
  /** Free ranges, sorted by offset, never adjacent. */
  private readonly free: SharedRange[];
  /**
   * Free memory that may hold bytes someone wrote (handed out, released, not zeroed since),
   * sorted by offset, never adjacent: only these parts of a range are zeroed when it is
   * handed out again. A new memfd reads as zeros, so allocating the pool (tens of MiB)
   * touches no page (filling it took ~0.5 s of the controller's event loop per chain); a
   * large range released is given back to the system (`DISCARD_MIN_BYTES`) and reads as
   * zeros again, so a state block of megabytes handed out anew costs no fill either.
   */
  private readonly dirty: SharedRange[] = [];
  /** Bytes `allocate` zeroed so far (memory released without being discarded, handed out again). */
  zeroedBytes = 0;
  /** Bytes `release` gave back to the system so far (`DISCARD_MIN_BYTES`). */
  discardedBytes = 0;
  private readonly ranges = new WeakMap<SharedArrayBuffer, SharedRange>();
  private closed = false;

  private constructor(addon: NativeAddon, fd: number, whole: SharedArrayBuffer) {
    this.addon = addon;
    this.fd = fd;
    this.whole = whole;
    this.bytes = whole.byteLength;
    this.free = [{ offset: 0, length: whole.byteLength }];
  }

  /** A memfd of `bytes` (pages are only used once touched; allocations never zero memory no one used). Throws `FailedPreconditionError` without the addon. */
  static create(bytes: number, name = 'nfvkit-dataplane'): MemfdMemory {
    const addon = nativeAddonOrNull();
    if (addon === null) throw new SharedMemoryError('shared memory between processes needs the native addon (npm run build:native)');
    const size = Math.ceil(bytes / 4096) * 4096;
    const { fd, memory } = addon.shmCreate(name, size);
    return new MemfdMemory(addon, fd, memory);
  }

  /** True when this machine can make it (the native addon is loaded). */
  static available(): boolean {
    return nativeAddonOrNull() !== null;
  }

  allocate(bytes: number): SharedArrayBuffer {
    if (!Number.isInteger(bytes) || bytes <= 0) throw new InvalidArgumentError(`cannot allocate ${bytes} bytes`);
    const length = Math.ceil(bytes / ALIGN) * ALIGN;
    const i = this.free.findIndex((r) => r.length >= length);
    if (i < 0) throw new SharedMemoryError(`shared memory of ${this.bytes} B has no free range of ${length} B left`);
    const r = this.free[i];
    if (r.length === length) this.free.splice(i, 1);
    else this.free[i] = { offset: r.offset + length, length: r.length - length };
    const sab = this.addon.shmSlice(this.whole, r.offset, bytes);
    for (const part of takeRange(this.dirty, r.offset, length)) {
      new Uint8Array(this.whole, part.offset, part.length).fill(0);
      this.zeroedBytes += part.length;
    }
    const range = { offset: r.offset, length: bytes };
    this.ranges.set(sab, range);
    markCrossProcess(sab, this.addon);
    return sab;
  }

  release(sab: SharedArrayBuffer): void {
    const range = this.ranges.get(sab);
    if (range === undefined) return;
    this.ranges.delete(sab);
    const length = Math.ceil(range.length / ALIGN) * ALIGN;
    this.clean(range.offset, length);
    putRange(this.free, range.offset, length);
  }

  locate(sab: SharedArrayBuffer): SharedRange | undefined {
    return this.ranges.get(sab);
  }

  /**
   * Marks `[offset, offset + length)`, just released, as needing zeros before its next
   * owner, except its whole pages when there are at least `DISCARD_MIN_BYTES` of them:
   * those go back to the system now (`shmDiscard`, where the addon has it) and read as zeros.
   */
  private clean(offset: number, length: number): void {
    const from = Math.ceil(offset / PAGE_BYTES) * PAGE_BYTES;
    const to = Math.floor((offset + length) / PAGE_BYTES) * PAGE_BYTES;
    if (to - from < DISCARD_MIN_BYTES || this.addon.shmDiscard === undefined) {
      putRange(this.dirty, offset, length);
      return;
    }
    this.addon.shmDiscard(this.whole, from, to - from);
    this.discardedBytes += to - from;
    if (from > offset) putRange(this.dirty, offset, from - offset);
    if (offset + length > to) putRange(this.dirty, to, offset + length - to);
  }

  /** Bytes not handed out. */
  freeBytes(): number {
    return this.free.reduce((n, r) => n + r.length, 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.shmCloseFd(this.fd);
  }
}

/** An instance process's view of its data plane's memfd (`MemfdMemory` on the host). */
export class MappedMemory {
  private readonly addon: NativeAddon;
  private readonly whole: SharedArrayBuffer;

  private constructor(addon: NativeAddon, whole: SharedArrayBuffer) {
    this.addon = addon;
    this.whole = whole;
  }

  /** Maps the inherited memfd `fd` of `bytes` (refused unless sealed and of that size). */
  static attach(fd: number, bytes: number): MappedMemory {
    const addon = nativeAddonOrNull();
    if (addon === null) throw new SharedMemoryError('an instance process needs the native addon to map its memory');
    return new MappedMemory(addon, addon.shmAttach(fd, bytes));
  }

  /** The buffer the host allocated at `range` (bounds checked by the addon). */
  view(range: SharedRange): SharedArrayBuffer {
    const sab = this.addon.shmSlice(this.whole, range.offset, range.length);
    markCrossProcess(sab, this.addon);
    return sab;
  }
}
