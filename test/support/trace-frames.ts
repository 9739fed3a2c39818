import type { PacketPool } from '../../src/pool/packet-pool.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';

/**
 * One frame per protocol in `protos` put into `pool`, as they would enter a chain: frame `i`
 * from 198.18.1.`i`:`1000 + i` to 198.18.2.100:53, each carrying a stale trace mark
 * (`0xdeadbeef`) a marker must overwrite. Returns their buffer ids.
 */
export function traceFrames(pool: PacketPool, protos: readonly number[]): Uint32Array {
  const ids = new Uint32Array(protos.length);
  protos.forEach((proto, i) => {
    const f = buildFrame({ proto, srcIp: 0xc6120100 + i, dstIp: 0xc6120264, srcPort: 1000 + i, dstPort: 53 });
    ids[i] = pool.alloc();
    pool.copyIn(ids[i], f, 0, f.length);
    pool.meta.trace[ids[i]] = 0xdeadbeef;
  });
  return ids;
}

/** The trace marks of `ids` in `pool`, in hex. */
export const traceMarks = (pool: PacketPool, ids: Uint32Array): string[] => [...ids].map((id) => pool.meta.trace[id].toString(16));
