import type { PoolHandle } from '../pool/pool-handle.ts';
import { VIRTIO_NET_HDR_SIZE } from './virtio-net-header.ts';

/**
 * The buffers a peer handed over in `k` popped descriptors (`addrs`, `lens`: each a
 * virtio-net header and a frame inside one buffer of `pool`), taken into `outIds`: each
 * must name a buffer this side owns, at least `minLength` bytes long (header included),
 * ending inside its buffer, and named once in the batch (`taken`: one byte per buffer, all
 * zero before and after). A taken buffer gets `meta.dataOff`/`meta.length` from its
 * descriptor, never from what the peer wrote into the metadata. Refused descriptors are
 * skipped: `refused[0]` is the first one's index (-1: none), `refused[1]` how many. Returns
 * how many were taken. Per batch; no allocation. One body for the device end's transmitq
 * and a queue pair's inbound ring.
 */
export function takeHandedBuffers(
  pool: PoolHandle,
  addrs: Float64Array,
  lens: Uint32Array,
  k: number,
  minLength: number,
  taken: Uint8Array,
  outIds: Uint32Array,
  refused: Int32Array,
): number {
  const meta = pool.meta;
  const me = pool.ownerId;
  const stride = pool.stride;
  refused[0] = -1;
  refused[1] = 0;
  let n = 0;
  for (let i = 0; i < k; i++) {
    const addr = addrs[i];
    const len = lens[i];
    const id = pool.bufferIdAt(addr);
    const start = id < 0 ? 0 : addr - pool.bufferOffset(id);
    if (id < 0 || len < minLength || len > stride - start || taken[id] !== 0 || pool.ownerOf(id) !== me) {
      if (refused[0] < 0) refused[0] = i;
      refused[1]++;
      continue;
    }
    taken[id] = 1;
    meta.dataOff[id] = start + VIRTIO_NET_HDR_SIZE;
    meta.length[id] = len - VIRTIO_NET_HDR_SIZE;
    outIds[n++] = id;
  }
  for (let i = 0; i < n; i++) taken[outIds[i]] = 0;
  return n;
}
