import { OK } from '../../generated/drop-reason-codes.ts';
import { EtherType } from '../../packet/ethernet.ts';
import { Ipv6HeaderChain, walkIpv6ExtensionHeaders } from '../../packet/ipv6-extension-headers.ts';
import type { Ipv6Address } from '../../packet/ipv6-address.ts';
import type { PoolHandle } from '../../pool/pool-handle.ts';
import type { ChainPort } from '../chain-port.ts';

/** What a `ClassifierPort` admits; each list left empty admits everything. */
export interface ClassifierRules {
  /** IP protocol numbers (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6; the upper-layer protocol of an IPv6 packet, after its extension headers). */
  readonly protocols: readonly number[];
  /** IPv4 destination networks as `[network, mask]` (unsigned 32-bit). */
  readonly destinations: ReadonlyArray<readonly [number, number]>;
  /**
   * IPv6 destination networks as `[network, mask]` (four 32-bit words each). When either
   * destination list is given, a frame must match one of its own family's: a spec that
   * names only IPv4 destinations admits no IPv6 frame, and the other way round.
   */
  readonly destinations6?: ReadonlyArray<readonly [Ipv6Address, Ipv6Address]>;
  /** Destination port ranges `[from, to]` (TCP and UDP; other protocols never match a port rule). */
  readonly ports: ReadonlyArray<readonly [number, number]>;
}

/**
 * The chain's classifier at its ingress: frames from the wrapped port enter the chain
 * only if they are IPv4 or IPv6 and match every rule list that is not empty (protocol,
 * destination network, destination port); the rest are freed and counted in `rejected`.
 * An IPv6 packet is judged on its upper-layer header (extension headers walked, bounded; a
 * malformed chain is rejected; a non-first fragment has no ports, so it never matches a
 * port rule). Frames leaving the chain at this end pass through untouched. Per frame: a few
 * header reads and linear scans of the (short) rule lists, no allocation.
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
  /** IPv6 destinations: four network words then four mask words per entry. */
  private readonly nets6: Int32Array;
  private readonly chain = new Ipv6HeaderChain();
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
    this.nets6 = Int32Array.from((rules.destinations6 ?? []).flatMap(([net, mask]) => [...net, ...mask]));
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
    if (len < 14) return false;
    const ethertype = view.getUint16(off + 12);
    const l3 = off + 14;
    let proto: number;
    let l4: number;
    if (ethertype === EtherType.IPV4) {
      if (len < 34) return false;
      proto = view.getUint8(l3 + 9);
      if (!this.matchesDestination4(view.getUint32(l3 + 16))) return false;
      // A non-first fragment carries no ports.
      l4 = (view.getUint16(l3 + 6) & 0x1fff) !== 0 ? -1 : l3 + ((view.getUint8(l3) & 0x0f) << 2);
    } else if (ethertype === EtherType.IPV6) {
      if (len < 54) return false;
      const end = l3 + 40 + view.getUint16(l3 + 4);
      if (end > off + len || walkIpv6ExtensionHeaders(view, l3, end, this.chain) !== OK) return false;
      proto = this.chain.upperProtocol;
      if (!this.matchesDestination6(view, l3 + 24)) return false;
      l4 = this.chain.laterFragment ? -1 : this.chain.upperOffset;
    } else {
      return false;
    }
    const protocols = this.protocols;
    if (protocols.length > 0) {
      let ok = false;
      for (let i = 0; i < protocols.length; i++) if (protocols[i] === proto) ok = true;
      if (!ok) return false;
    }
    const from = this.portFrom;
    if (from.length > 0) {
      if ((proto !== 6 && proto !== 17) || l4 < 0 || l4 + 4 > off + len) return false;
      const dport = view.getUint16(l4 + 2);
      let ok = false;
      for (let i = 0; i < from.length; i++) if (dport >= from[i] && dport <= this.portTo[i]) ok = true;
      if (!ok) return false;
    }
    return true;
  }

  /** Whether no destination is listed, or the IPv4 destination `dst` is in one of the IPv4 networks. */
  private matchesDestination4(dst: number): boolean {
    const nets = this.nets;
    if (nets.length === 0) return this.nets6.length === 0;
    for (let i = 0; i < nets.length; i++) if (((dst & this.masks[i]) >>> 0) === nets[i]) return true;
    return false;
  }

  /** Whether no destination is listed, or the IPv6 destination at `at` is in one of the IPv6 networks. */
  private matchesDestination6(view: DataView, at: number): boolean {
    const n6 = this.nets6;
    if (n6.length === 0) return this.nets.length === 0;
    const d0 = view.getInt32(at), d1 = view.getInt32(at + 4), d2 = view.getInt32(at + 8), d3 = view.getInt32(at + 12);
    for (let i = 0; i < n6.length; i += 8) {
      if ((d0 & n6[i + 4]) === n6[i] && (d1 & n6[i + 5]) === n6[i + 1] && (d2 & n6[i + 6]) === n6[i + 2] && (d3 & n6[i + 7]) === n6[i + 3]) return true;
    }
    return false;
  }
}
