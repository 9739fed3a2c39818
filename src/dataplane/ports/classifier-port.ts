import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';

/** What a `ClassifierPort` admits; each list left empty admits everything. */
export interface ClassifierRules {
  /** IP protocol numbers (6 TCP, 17 UDP, 1 ICMP). */
  readonly protocols: readonly number[];
  /** Destination networks as `[network, mask]` (unsigned 32-bit). */
  readonly destinations: ReadonlyArray<readonly [number, number]>;
  /** Destination port ranges `[from, to]` (TCP and UDP; other protocols never match a port rule). */
  readonly ports: ReadonlyArray<readonly [number, number]>;
}

/**
 * The chain's classifier at its ingress: frames from the wrapped port enter the chain
 * only if they are IPv4 and match every rule list that is not empty (protocol,
 * destination network, destination port); the rest are freed and counted in `rejected`.
 * Frames leaving the chain at this end pass through untouched. Per frame: a few header
 * reads and linear scans of the (short) rule lists, no allocation.
 *
 * @example
 * ```ts
 * const ingress = new ClassifierPort(vxlan, { protocols: [6], destinations: [[0xc6120264, 0xffffffff]], ports: [[80, 80]] });
 * ```
 */
export class ClassifierPort implements ChainPort {
  /** Frames that did not match and were dropped. */
  rejected = 0;
  private readonly protocols: Int32Array;
  private readonly nets: Uint32Array;
  private readonly masks: Uint32Array;
  private readonly portFrom: Int32Array;
  private readonly portTo: Int32Array;
  private scratch = new Uint32Array(256);
  /** The wrapped port's readiness, when it has one (`ChainPort.onReadable`). */
  readonly onReadable?: (callback: (() => void) | null) => void;

  constructor(
    readonly inner: ChainPort,
    rules: ClassifierRules,
  ) {
    this.protocols = Int32Array.from(rules.protocols);
    this.nets = Uint32Array.from(rules.destinations.map((d) => d[0] >>> 0));
    this.masks = Uint32Array.from(rules.destinations.map((d) => d[1] >>> 0));
    this.portFrom = Int32Array.from(rules.ports.map((p) => p[0]));
    this.portTo = Int32Array.from(rules.ports.map((p) => p[1]));
    if (inner.onReadable !== undefined) this.onReadable = (callback) => inner.onReadable!(callback);
  }

  fill(pool: PoolHandle, ids: Uint32Array, max: number): number {
    const n = this.inner.fill(pool, ids, max);
    let kept = 0;
    let dropped = 0;
    if (n > this.scratch.length) this.scratch = new Uint32Array(n);
    const drop = this.scratch;
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      if (this.admits(pool.view, pool.dataOffset(id), pool.meta.length[id])) ids[kept++] = id;
      else drop[dropped++] = id;
    }
    if (dropped > 0) {
      this.rejected += dropped;
      pool.freeBatch(drop, dropped);
    }
    return kept;
  }

  take(pool: PoolHandle, ids: Uint32Array, n: number): void {
    this.inner.take(pool, ids, n);
  }

  /** True when the frame at `off` matches the rules. */
  admits(view: DataView, off: number, len: number): boolean {
    if (len < 34 || view.getUint16(off + 12) !== 0x0800) return false;
    const l3 = off + 14;
    const proto = view.getUint8(l3 + 9);
    const protocols = this.protocols;
    if (protocols.length > 0) {
      let ok = false;
      for (let i = 0; i < protocols.length; i++) if (protocols[i] === proto) ok = true;
      if (!ok) return false;
    }
    const nets = this.nets;
    if (nets.length > 0) {
      const dst = view.getUint32(l3 + 16);
      let ok = false;
      for (let i = 0; i < nets.length; i++) if (((dst & this.masks[i]) >>> 0) === nets[i]) ok = true;
      if (!ok) return false;
    }
    const from = this.portFrom;
    if (from.length > 0) {
      if (proto !== 6 && proto !== 17) return false;
      const l4 = l3 + ((view.getUint8(l3) & 0x0f) << 2);
      if (l4 + 4 > off + len || (view.getUint16(l3 + 6) & 0x1fff) !== 0) return false;
      const dport = view.getUint16(l4 + 2);
      let ok = false;
      for (let i = 0; i < from.length; i++) if (dport >= from[i] && dport <= this.portTo[i]) ok = true;
      if (!ok) return false;
    }
    return true;
  }
}
