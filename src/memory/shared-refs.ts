/**
 * Hands a tree of plain data holding SharedArrayBuffers to another process: every buffer
 * allocated from one of a list of `MemfdMemory`s is replaced by its range and the index of
 * its memory (`{ [SHARED_REF]: { memory, offset, length } }`) so the tree can travel as
 * JSON; the receiver rebuilds each buffer from its own mapping of the same memfds
 * (`MappedMemory`, in the same order). Byte arrays (`Uint8Array`, e.g. a
 * generator's frames) travel as base64 copies (`{ [BYTES_REF]: '…' }`).
 *
 * @example
 * ```ts
 * const wire = JSON.stringify(encodeSharedRefs({ poolSab, owner: 3 }, [memory]));   // host
 * const data = decodeSharedRefs(JSON.parse(wire), [mapped]);                        // instance process
 * ```
 */
import { InvalidArgumentError, SharedLayoutError } from '../errors/catalog.ts';
import type { MappedMemory, SharedMemory, SharedRange } from './shared-memory.ts';

/** The key marking a buffer reference. */
export const SHARED_REF = '$sharedRange';
/** The key marking a copied byte array. */
export const BYTES_REF = '$bytes';

/** `value` with every SharedArrayBuffer replaced by its range in one of `memories` (each must come from one). */
export function encodeSharedRefs(value: unknown, memories: readonly SharedMemory[]): unknown {
  if (value instanceof SharedArrayBuffer) {
    for (let memory = 0; memory < memories.length; memory++) {
      const range = memories[memory].locate(value);
      if (range !== undefined) return { [SHARED_REF]: { memory, offset: range.offset, length: range.length } };
    }
    throw new InvalidArgumentError('a buffer handed to an instance process was not allocated from its shared memory');
  }
  if (value instanceof Uint8Array) return { [BYTES_REF]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map((v) => encodeSharedRefs(v, memories));
  if (typeof value === 'object' && value !== null) {
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) throw new InvalidArgumentError('only SharedArrayBuffers, byte arrays and plain data can go to an instance process');
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = encodeSharedRefs(v, memories);
    return out;
  }
  return value;
}

/** The inverse of `encodeSharedRefs`, in the receiving process. */
export function decodeSharedRefs(value: unknown, mapped: readonly MappedMemory[]): unknown {
  if (Array.isArray(value)) return value.map((v) => decodeSharedRefs(v, mapped));
  if (typeof value === 'object' && value !== null) {
    const ref = (value as Record<string, unknown>)[SHARED_REF];
    if (ref !== undefined) {
      const { memory, offset, length } = ref as SharedRange & { memory: number };
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length)) throw new SharedLayoutError('a shared range is not a pair of integers');
      const from = mapped[memory];
      if (from === undefined) throw new SharedLayoutError(`a shared range names memory ${memory}, which this process has not mapped`);
      return from.view({ offset, length });
    }
    const bytes = (value as Record<string, unknown>)[BYTES_REF];
    if (typeof bytes === 'string') return new Uint8Array(Buffer.from(bytes, 'base64'));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = decodeSharedRefs(v, mapped);
    return out;
  }
  return value;
}
