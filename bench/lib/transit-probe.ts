/**
 * Benchmark instrumentation: how long TCP data segments take from entering the chain's
 * data plane at one end (`fill` of that end's port) to leaving it at the other (`take`),
 * i.e. the hops through the function instances, without the sockets. Wrap both ends'
 * ports with `probe.wrap(port)`; while `enabled` is false a wrapper only forwards (one
 * branch per batch). Segments are matched by TCP sequence and acknowledgement numbers,
 * which the functions never rewrite; pure ACKs are skipped.
 *
 * Not for production chains: while enabled it allocates a map entry per data segment.
 * Wrapping needs the ports on the host: `startWebEdgeChain` with `wrapPort` keeps a fused
 * chain's VXLAN ends there (without it they run in the replicas, where nothing can wrap them).
 *
 * @example
 * ```ts
 * const probe = new TransitProbe();
 * // startWebEdgeChain(web, { …, wrapPort: (_side, port) => probe.wrap(port) })
 * probe.start();
 * await load();
 * probe.stop().p50; // µs from fill to take
 * ```
 */
import type { ChainPort } from '../../src/dataplane/chain-port.ts';
import type { PacketPool } from '../../src/pool/packet-pool.ts';

/** Fill-to-take times while enabled, µs. */
export interface TransitSummary {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Sequence/ack key of the TCP data segment at `off`, or -1 (not IPv4/TCP, or no payload). */
function segmentKey(pool: PacketPool, off: number, len: number): number {
  const v = pool.view;
  if (len < 54 || v.getUint16(off + 12) !== 0x0800 || v.getUint8(off + 23) !== 6) return -1;
  const ihl = (v.getUint8(off + 14) & 15) * 4;
  const l4 = off + 14 + ihl;
  const payload = v.getUint16(off + 16) - ihl - (v.getUint8(l4 + 12) >> 4) * 4;
  if (payload <= 0) return -1;
  // 2^21 · seq + ack keeps 53 bits: unique enough among the segments in flight.
  return (v.getUint32(l4 + 4) % 0x100000) * 0x200000 + (v.getUint32(l4 + 8) % 0x200000);
}

/** Shared by the wrappers of both ends of one chain. */
export class TransitProbe {
  enabled = false;
  private readonly entered = new Map<number, number>();
  private samples: number[] = [];

  /** Wraps a chain end's port; the wrapper keeps the original in `inner`. */
  wrap(port: ChainPort): ChainPort & { readonly inner: ChainPort } {
    return new ProbedPort(port, this);
  }

  /** Clears and starts recording. */
  start(): void {
    this.entered.clear();
    this.samples = [];
    this.enabled = true;
  }

  /** Stops recording and summarises. */
  stop(): TransitSummary {
    this.enabled = false;
    const s = this.samples.sort((a, b) => a - b);
    const at = (p: number) => (s.length === 0 ? 0 : Math.round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]));
    this.entered.clear();
    return { samples: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: Math.round(s.at(-1) ?? 0) };
  }

  /** @internal */
  noteIn(pool: PacketPool, ids: Uint32Array, n: number): void {
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const key = segmentKey(pool, pool.dataOffset(id), pool.meta.length[id]);
      if (key >= 0) this.entered.set(key, now);
    }
  }

  /** @internal */
  noteOut(pool: PacketPool, ids: Uint32Array, n: number): void {
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const key = segmentKey(pool, pool.dataOffset(id), pool.meta.length[id]);
      if (key < 0) continue;
      const t = this.entered.get(key);
      if (t === undefined) continue;
      this.entered.delete(key);
      this.samples.push((now - t) * 1000);
    }
  }
}

class ProbedPort implements ChainPort {
  /** The wrapped port's readiness (a socket port wakes the pump loop through it). */
  readonly onReadable?: (callback: (() => void) | null) => void;

  constructor(
    readonly inner: ChainPort,
    private readonly probe: TransitProbe,
  ) {
    if (inner.onReadable !== undefined) this.onReadable = (callback) => inner.onReadable!(callback);
  }

  fill(pool: PacketPool, ids: Uint32Array, max: number): number {
    const n = this.inner.fill(pool, ids, max);
    if (this.probe.enabled && n > 0) this.probe.noteIn(pool, ids, n);
    return n;
  }

  take(pool: PacketPool, ids: Uint32Array, n: number): void {
    if (this.probe.enabled && n > 0) this.probe.noteOut(pool, ids, n);
    this.inner.take(pool, ids, n);
  }
}
