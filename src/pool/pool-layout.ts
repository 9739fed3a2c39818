import { SharedLayoutError, InvalidArgumentError } from '../errors/catalog.ts';
import { META_FIELDS, META_KIND_BYTES, type MetaFieldName } from './packet-meta.ts';

/**
 * Byte layout of the packet pool's SharedArrayBuffer. Every region starts on a 64-byte
 * (cache line) boundary:
 *
 * ```
 * 0      header (256 B, Uint32 words; see the H_* constants)
 * 256    free stack: Uint32[bufferCount] of free buffer ids (top = H_FREE_TOP)
 * …      metadata: one typed array per META_FIELDS entry, each bufferCount long
 * …      data: bufferCount buffers of `stride` bytes; buffer i at dataArea + i * stride,
 *        its frame at + headroom when freshly allocated
 * ```
 *
 * The header lets another thread `attach` the buffer and check it got what it expects.
 *
 * @example
 * ```ts
 * const layout = computePoolLayout({ bufferCount: 1024, stride: 2176, headroom: 128 });
 * const sab = new SharedArrayBuffer(layout.totalBytes);
 * ```
 */

/** "NFVP" read as a little-endian u32. */
export const POOL_MAGIC = 0x5056464e;
/** Bump whenever the header, the metadata table or the region order changes. */
export const POOL_LAYOUT_VERSION = 3;
/** Size of the header region in bytes. */
export const POOL_HEADER_BYTES = 256;

/** Header word indices (Uint32 / Int32 views at byte offset 0). */
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_BUFFER_COUNT = 2;
export const H_STRIDE = 3;
export const H_HEADROOM = 4;
export const H_STACK_OFFSET = 5;
export const H_META_OFFSET = 6;
export const H_DATA_OFFSET = 7;
export const H_TOTAL_BYTES = 8;
export const H_META_FIELDS = 9;
/** Lock word (Int32, own cache line at byte 64): 0 free, 1 held, 2 held with waiters. */
export const H_LOCK = 16;
/** Owner id of the current lock holder (0 when free); lets a supervisor recover a dead holder's lock. */
export const H_LOCK_HOLDER = 17;
/** Number of ids on the free stack. */
export const H_FREE_TOP = 18;
/** Lock acquisitions so far (wraps): with the holder, tells one hold from the next (`LockWatch`). */
export const H_LOCK_SEQ = 19;
/** 64-bit counters as (lo, hi) Uint32 pairs from byte 128 on. */
export const C_ALLOCS = 32;
export const C_FREES = 34;
export const C_COPIES_IN = 36;
export const C_BYTES_IN = 38;
export const C_COPIES_OUT = 40;
export const C_BYTES_OUT = 42;
export const C_OWNERSHIP_ERRORS = 44;
export const C_ALLOC_SHORTFALL = 46;
export const C_COPY_REJECTS = 48;
export const C_TRANSFERS = 50;
/** Holds of the lock the supervisor took back from a holder that kept it past the timeout. */
export const C_LOCK_STEALS = 52;
/** Free-stack entries that were not free buffers (skipped), and free-stack tops out of range (repaired). */
export const C_STACK_REJECTS = 54;

/** Default bytes per buffer: 128 headroom + 2048 room for a frame (34 cache lines). */
export const DEFAULT_STRIDE = 2176;
/** Default headroom: room to push encapsulation (virtio_net_hdr, VXLAN/UDP/IP/Ethernet). */
export const DEFAULT_HEADROOM = 128;

/** Inputs of the layout. */
export interface PoolGeometry {
  bufferCount: number;
  stride: number;
  headroom: number;
}

/** Where every region sits. */
export interface PoolLayout extends PoolGeometry {
  stackOffset: number;
  metaOffset: number;
  metaOffsets: Readonly<Record<MetaFieldName, number>>;
  dataOffset: number;
  totalBytes: number;
}

const LINE = 64;

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * Computes the layout for a geometry, validating it: `bufferCount` 1…2^24, `stride` a
 * multiple of 64 between 128 and 65536, `headroom` a multiple of 8 with at least 64
 * bytes of room after it, and a total under 4 GiB (descriptor addresses stay u32-exact).
 * Throws `InvalidArgumentError` otherwise.
 */
export function computePoolLayout(g: PoolGeometry): PoolLayout {
  const { bufferCount, stride, headroom } = g;
  if (!Number.isInteger(bufferCount) || bufferCount < 1 || bufferCount > 1 << 24) {
    throw new InvalidArgumentError(`bufferCount must be an integer in 1..${1 << 24}, got ${bufferCount}`);
  }
  if (!Number.isInteger(stride) || stride % LINE !== 0 || stride < 128 || stride > 65536) {
    throw new InvalidArgumentError(`stride must be a multiple of 64 in 128..65536, got ${stride}`);
  }
  if (!Number.isInteger(headroom) || headroom < 0 || headroom % 8 !== 0 || headroom > stride - 64) {
    throw new InvalidArgumentError(`headroom must be a multiple of 8 leaving ≥ 64 bytes of the ${stride}-byte stride, got ${headroom}`);
  }
  const stackOffset = POOL_HEADER_BYTES;
  const metaOffset = alignUp(stackOffset + 4 * bufferCount, LINE);
  let at = metaOffset;
  const metaOffsets = {} as Record<MetaFieldName, number>;
  for (const f of META_FIELDS) {
    metaOffsets[f.name] = at;
    at = alignUp(at + META_KIND_BYTES[f.kind] * bufferCount, LINE);
  }
  const dataOffset = at;
  const totalBytes = dataOffset + stride * bufferCount;
  if (totalBytes >= 2 ** 32) {
    throw new InvalidArgumentError(`pool of ${totalBytes} bytes exceeds 4 GiB`);
  }
  return { bufferCount, stride, headroom, stackOffset, metaOffset, metaOffsets, dataOffset, totalBytes };
}

/** Writes a layout's header into fresh shared memory. */
export function writePoolHeader(words: Uint32Array, l: PoolLayout): void {
  words[H_BUFFER_COUNT] = l.bufferCount;
  words[H_STRIDE] = l.stride;
  words[H_HEADROOM] = l.headroom;
  words[H_STACK_OFFSET] = l.stackOffset;
  words[H_META_OFFSET] = l.metaOffset;
  words[H_DATA_OFFSET] = l.dataOffset;
  words[H_TOTAL_BYTES] = l.totalBytes;
  words[H_META_FIELDS] = META_FIELDS.length;
  words[H_VERSION] = POOL_LAYOUT_VERSION;
  Atomics.store(words, H_MAGIC, POOL_MAGIC);
}

/**
 * Reads and validates the header of a pool created elsewhere: magic, version, metadata
 * shape, and that every recorded offset equals what this build computes from the recorded
 * geometry. Throws `SharedLayoutError` on any mismatch.
 */
export function readPoolHeader(sab: SharedArrayBuffer): PoolLayout {
  if (!(sab instanceof SharedArrayBuffer)) throw new SharedLayoutError('packet pool memory must be a SharedArrayBuffer');
  if (sab.byteLength < POOL_HEADER_BYTES) throw new SharedLayoutError(`pool memory of ${sab.byteLength} bytes is smaller than its header`);
  const w = new Uint32Array(sab, 0, POOL_HEADER_BYTES / 4);
  const magic = Atomics.load(w, H_MAGIC);
  if (magic !== POOL_MAGIC) throw new SharedLayoutError(`pool magic 0x${magic.toString(16)} is not 0x${POOL_MAGIC.toString(16)}`);
  if (w[H_VERSION] !== POOL_LAYOUT_VERSION) throw new SharedLayoutError(`pool layout version ${w[H_VERSION]}, expected ${POOL_LAYOUT_VERSION}`);
  if (w[H_META_FIELDS] !== META_FIELDS.length) throw new SharedLayoutError(`pool has ${w[H_META_FIELDS]} metadata fields, expected ${META_FIELDS.length}`);
  let l: PoolLayout;
  try {
    l = computePoolLayout({ bufferCount: w[H_BUFFER_COUNT], stride: w[H_STRIDE], headroom: w[H_HEADROOM] });
  } catch (e) {
    throw new SharedLayoutError(`pool header holds an invalid geometry: ${(e as Error).message}`);
  }
  const recorded = [w[H_STACK_OFFSET], w[H_META_OFFSET], w[H_DATA_OFFSET], w[H_TOTAL_BYTES]];
  const expected = [l.stackOffset, l.metaOffset, l.dataOffset, l.totalBytes];
  if (recorded.some((v, i) => v !== expected[i])) {
    throw new SharedLayoutError(`pool offsets ${recorded.join('/')} differ from the expected ${expected.join('/')}`);
  }
  if (sab.byteLength < l.totalBytes) throw new SharedLayoutError(`pool memory is ${sab.byteLength} bytes, layout needs ${l.totalBytes}`);
  return l;
}
