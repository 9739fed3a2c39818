import { SharedLayoutError } from '../errors/catalog.ts';

/**
 * Virtio rings are little-endian (`le16`, `le32`, `le64`). The ring code reads and writes
 * them through Uint16Array/Uint32Array views so that `Atomics` (which needs integer typed
 * arrays) can publish indices; typed arrays use the host's byte order, so this is only
 * byte-for-byte correct on a little-endian host. Every x86-64 and arm64 Node host is; the
 * ring constructors call `assertLittleEndianHost()` so a big-endian one fails loudly
 * instead of writing byte-swapped rings.
 *
 * @example
 * ```ts
 * assertLittleEndianHost(); // throws SharedLayoutError on a big-endian host
 * ```
 */
export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([0x0102]).buffer)[0] === 0x02;

/** Throws `SharedLayoutError` unless the host is little-endian. */
export function assertLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) {
    throw new SharedLayoutError('virtio split rings need a little-endian host: typed-array views would byte-swap le16/le32 fields');
  }
}
