import type { PoolHandle } from '../../pool/pool-handle.ts';
import { FrameLayout } from '../../packet/frame-layout.ts';
import { parseFrame } from '../../packet/parse-frame.ts';
import type { ChainPort } from '../chain-port.ts';
import { ResponderPort } from './responder-port.ts';

/**
 * The servers' end of a chain for measuring whether flows keep working across an event (an
 * instance killed, a rolling update): it answers handshakes like `ResponderPort` and notes,
 * per flow as the servers see it — the destination's last octet and the source port after
 * the chain (the backend and the NAT port) — when its last frame arrived and the longest
 * gap between two of its frames. A flow whose backend or NAT port changed shows up as a new
 * flow. A measuring tool for tests and benchmarks: it parses every frame and keeps a map.
 *
 * @example
 * ```ts
 * const servers = new FlowContinuityPort();
 * servers.resetGaps(); kill(); await sleep(1000);
 * const kept = [...before].filter((k) => servers.seenSince(performance.now() - 400).has(k));
 * ```
 */
export class FlowContinuityPort implements ChainPort {
  readonly responder = new ResponderPort();
  /** Flow key (backend's last octet << 16 | source port) → `performance.now()` of its last frame. */
  readonly lastSeen = new Map<number, number>();
  /** Per flow, the longest time between two of its frames since `resetGaps`, ms. */
  readonly longestGap = new Map<number, number>();
  private readonly layout = new FrameLayout();

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    return this.responder.fill(pool, ids, max);
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    const now = performance.now();
    const view = pool.view;
    for (let i = 0; i < n; i++) {
      if (parseFrame(view, pool.dataOffset(ids[i]), pool.meta.length[ids[i]], this.layout) !== 0 || this.layout.ethertype !== 0x0800 || this.layout.ipProto !== 6) continue;
      const key = (view.getUint8(this.layout.l3Offset + 19) << 16) | view.getUint16(this.layout.l4Offset);
      const last = this.lastSeen.get(key);
      if (last !== undefined && now - last > (this.longestGap.get(key) ?? 0)) this.longestGap.set(key, now - last);
      this.lastSeen.set(key, now);
    }
    this.responder.take(pool, ids, n);
  }

  /** Forgets the gaps measured so far. */
  resetGaps(): void {
    this.longestGap.clear();
  }

  /** Flows seen since `since` (`performance.now()` ms). */
  seenSince(since: number): Set<number> {
    const out = new Set<number>();
    for (const [k, t] of this.lastSeen) if (t >= since) out.add(k);
    return out;
  }

  /**
   * Of the flows in `before`, those seen in the last `windowMs` (kept), and the p50/p99 of
   * their longest gaps since `resetGaps` (their outage), ms.
   */
  continuity(before: ReadonlySet<number>, windowMs: number): { kept: number; outageP50: number; outageP99: number } {
    const recent = this.seenSince(performance.now() - windowMs);
    const kept = [...before].filter((k) => recent.has(k));
    const gaps = kept.map((k) => this.longestGap.get(k) ?? 0).sort((a, b) => a - b);
    const at = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(gaps.length * q))] ?? Infinity;
    return { kept: kept.length, outageP50: at(0.5), outageP99: at(0.99) };
  }
}
