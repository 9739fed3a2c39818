/**
 * Fixed-shape per-buffer metadata of the packet pool (the "annotations" of Click, the
 * mbuf fields of DPDK). Every field is declared here, up front, as one typed array over
 * the pool's SharedArrayBuffer (struct of arrays, indexed by buffer id); no field is ever
 * added at run time, so every thread sees the same shape.
 *
 * @example
 * ```ts
 * const id = pool.alloc();
 * pool.meta.port[id] = 1;
 * pool.meta.flowHash[id] = hash;
 * const frameStart = pool.dataOffset(id); // = bufferOffset(id) + meta.dataOff[id]
 * ```
 */

/** Typed-array constructors a metadata field may use (all integer or float64, all native endian). */
export type MetaArrayKind = 'i32' | 'u32' | 'u16' | 'f64';

/** One declared metadata field. */
export interface MetaFieldSpec {
  readonly name: MetaFieldName;
  readonly kind: MetaArrayKind;
  /** What the field means; shown in docs. */
  readonly doc: string;
}

/** The names of every metadata field, in layout order. */
export type MetaFieldName =
  | 'state'
  | 'length'
  | 'dataOff'
  | 'port'
  | 'parseFlags'
  | 'flowHash'
  | 'l3Off'
  | 'l4Off'
  | 'timestamp'
  | 'user'
  | 'trace';

/**
 * The metadata fields in layout order. Changing this table changes the shared layout:
 * bump `POOL_LAYOUT_VERSION` in `pool-layout.ts` when you do.
 */
export const META_FIELDS: readonly MetaFieldSpec[] = [
  { name: 'state', kind: 'i32', doc: 'owner word: 0 = free, otherwise the owner id holding the buffer' },
  { name: 'length', kind: 'u32', doc: 'frame length in bytes, starting at dataOff' },
  { name: 'dataOff', kind: 'u32', doc: 'offset of the frame inside the buffer (headroom before it)' },
  { name: 'port', kind: 'u16', doc: 'input port or interface index' },
  { name: 'parseFlags', kind: 'u16', doc: 'reserved for the parser: which layers were found' },
  { name: 'flowHash', kind: 'u32', doc: 'symmetric flow hash (0 = not computed)' },
  { name: 'l3Off', kind: 'u16', doc: 'reserved for the parser: L3 header offset from the frame start' },
  { name: 'l4Off', kind: 'u16', doc: 'reserved for the parser: L4 header offset from the frame start' },
  { name: 'timestamp', kind: 'f64', doc: 'receive time in nanoseconds (monotonic clock)' },
  { name: 'user', kind: 'u32', doc: 'reserved for pipeline elements' },
  {
    name: 'trace',
    kind: 'u32',
    doc: 'trace mark (session << 16 | seq; seq 0: not traced) the host writes on every frame entering the chain while a trace session is on; meaningless otherwise (never reset)',
  },
] as const;

/** Bytes per element of each kind. */
export const META_KIND_BYTES: Readonly<Record<MetaArrayKind, number>> = { i32: 4, u32: 4, u16: 2, f64: 8 };

/**
 * Typed-array views of every metadata field, indexed by buffer id. Plain reads and writes
 * are fine for the buffer's owner; `state` is read and written with `Atomics` by the pool.
 */
export class PacketMeta {
  readonly state: Int32Array;
  readonly length: Uint32Array;
  readonly dataOff: Uint32Array;
  readonly port: Uint16Array;
  readonly parseFlags: Uint16Array;
  readonly flowHash: Uint32Array;
  readonly l3Off: Uint16Array;
  readonly l4Off: Uint16Array;
  readonly timestamp: Float64Array;
  readonly user: Uint32Array;
  /** See `META_FIELDS` (`trace`) and `src/trace/trace-layout.ts`. */
  readonly trace: Uint32Array;

  /**
   * @param sab the pool's shared memory
   * @param offsets byte offset of each field's array, from `computePoolLayout`
   * @param count number of buffers
   */
  constructor(sab: SharedArrayBuffer, offsets: Readonly<Record<MetaFieldName, number>>, count: number) {
    this.state = new Int32Array(sab, offsets.state, count);
    this.length = new Uint32Array(sab, offsets.length, count);
    this.dataOff = new Uint32Array(sab, offsets.dataOff, count);
    this.port = new Uint16Array(sab, offsets.port, count);
    this.parseFlags = new Uint16Array(sab, offsets.parseFlags, count);
    this.flowHash = new Uint32Array(sab, offsets.flowHash, count);
    this.l3Off = new Uint16Array(sab, offsets.l3Off, count);
    this.l4Off = new Uint16Array(sab, offsets.l4Off, count);
    this.timestamp = new Float64Array(sab, offsets.timestamp, count);
    this.user = new Uint32Array(sab, offsets.user, count);
    this.trace = new Uint32Array(sab, offsets.trace, count);
  }

  /** Resets every field except `state` for buffer `id`, with the frame starting at `headroom`. */
  reset(id: number, headroom: number): void {
    this.length[id] = 0;
    this.dataOff[id] = headroom;
    this.port[id] = 0;
    this.parseFlags[id] = 0;
    this.flowHash[id] = 0;
    this.l3Off[id] = 0;
    this.l4Off[id] = 0;
    this.timestamp[id] = 0;
    this.user[id] = 0;
  }
}
