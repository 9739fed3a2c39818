import { InvalidArgumentError } from '../errors/catalog.ts';
import { arpFrameToReply, ArpOp } from '../packet/arp.ts';
import { DROP_REASON_COUNT, dropReasonName } from '../packet/drop-reason.ts';
import { EtherType, setMac } from '../packet/ethernet.ts';
import { FrameLayout } from '../packet/frame-layout.ts';
import { IpProto } from '../packet/ipv4.ts';
import { parseFrame } from '../packet/parse-frame.ts';
import { icmpErrorPermitted } from '../packet/reply/icmp-unreachable.ts';
import { decrementTtl } from '../packet/rewrite.ts';
import { writeArpRequest } from './arp-request.ts';
import type { GatewayEdgeConfig, GatewayEdgeOptions } from './gateway-config.ts';
import { GATEWAY_DROP_COUNT, GATEWAY_DROP_NAMES, GatewayDrop } from './gateway-drop-reason.ts';
import { writeIcmpEchoReply } from './icmp-echo-reply.ts';
import { writeIcmpTimeExceeded } from './icmp-time-exceeded.ts';
import { NeighbourState, NeighbourTable } from './neighbour-table.ts';
import { PrefixRoutes } from './prefix-routes.ts';

/**
 * The link side a `GatewayEdge` talks to (the VXLAN socket in production, a recorder in
 * tests). Calls are rare (ARP, resolution, timeouts), never per forwarded frame.
 */
export interface GatewayWire {
  /** Sends a frame the gateway built (an ARP request) to `peer`: `frame[0..length)`, copied before return. */
  emit(peer: number, frame: Uint8Array, length: number): void;
  /** A frame held by `toWire` (its `handle`) can go now: call `toWire` on it again, then send it. */
  release(handle: number): void;
  /** A held frame is dropped (resolve timeout, close): free it. The drop is already counted. */
  discard(handle: number): void;
}

/** What `fromWire` decided. */
export const GatewayVerdict = {
  /** Into the chain (TTL decremented). */
  FORWARD: 0,
  /** Rewritten in place into a reply (ARP reply, ICMP time exceeded, echo reply) of `replyLength` bytes: send it back to the same peer. */
  REPLY: 1,
  /** Used by the gateway (an ARP reply it learned from); free it, nothing is counted as dropped. */
  CONSUMED: 2,
  /** Dropped; the reason is counted in `drops`. */
  DROP: 3,
} as const;

/** `toWire` result: the frame waits for ARP (the edge keeps its handle). */
export const EGRESS_HELD = -1;
/** `toWire` result: dropped, reason counted. */
export const EGRESS_DROP = -2;

/** Event counters of a `GatewayEdge` (not drops). */
export interface GatewayCounters {
  /** Frames handed to the chain. */
  forwarded: number;
  /** Frames sent toward a peer by `toWire` (MACs rewritten). */
  sent: number;
  arpRepliesSent: number;
  arpRequestsSent: number;
  /** ARP replies for the gateway that it learned from. */
  arpRepliesReceived: number;
  icmpTimeExceededSent: number;
  echoRepliesSent: number;
  /** Neighbour entries created or changed (MAC or peer). */
  learned: number;
  /** Frames put on hold for ARP, and released when it was answered. */
  held: number;
  released: number;
}

/**
 * The chain's edge as an L3 gateway, over any L2 link with numbered peers (`GatewayWire`):
 *
 * - **from the wire** (`fromWire`): answers ARP requests for the addresses it owns
 *   (`addresses[0]` is its interface address, the others proxy-ARP: VIPs, NAT
 *   addresses); learns neighbours (IP → MAC, peer) from ARP and from IPv4 sources inside
 *   the peer's subnets; answers pings to its interface address; drops frames not for its MAC
 *   (broadcast ARP excepted); decrements the TTL of what it forwards, or answers ICMP time
 *   exceeded from its address when the TTL runs out.
 * - **to the wire** (`toWire`): picks the route by longest prefix, rewrites the MACs (source
 *   = gateway, destination = the neighbour), and returns the neighbour's peer; an unknown
 *   next hop gets an ARP request to the route's peer(s) while the frame waits in a small
 *   bounded hold queue (released through `wire.release`, or dropped and counted on overflow
 *   or timeout: call `sweep(now)` now and then).
 *
 * Works in place on any `DataView` (the packet pool in production). No allocation per frame;
 * the neighbour table is keyed by the uint32 address.
 *
 * @example
 * ```ts
 * const edge = new GatewayEdge(config, wire);
 * switch (edge.fromWire(pool.view, pool.dataOffset(id), len, peer, performance.now())) {
 *   case GatewayVerdict.FORWARD: ids[n++] = id; break;
 *   case GatewayVerdict.REPLY: sendBack(peer, id, edge.replyLength); break;
 *   default: free(id);
 * }
 * const peer = edge.toWire(pool.view, pool.dataOffset(id), len, id, now); // ≥ 0: send to peer
 * ```
 */
export class GatewayEdge {
  /** Drops by `GatewayDrop` code. */
  readonly drops = new Float64Array(GATEWAY_DROP_COUNT);
  /** `MALFORMED` drops by the parser's `DropReason` code. */
  readonly parseDrops = new Float64Array(DROP_REASON_COUNT);
  readonly counters: GatewayCounters = {
    forwarded: 0, sent: 0, arpRepliesSent: 0, arpRequestsSent: 0, arpRepliesReceived: 0,
    icmpTimeExceededSent: 0, echoRepliesSent: 0, learned: 0, held: 0, released: 0,
  };
  /** Length of the frame `fromWire` rewrote when it returned `REPLY`. */
  replyLength = 0;
  readonly neighbours: NeighbourTable;
  readonly routes: PrefixRoutes;
  readonly macHi: number;
  readonly macLo: number;
  /** The interface address (source of ARP requests by default and of ICMP errors). */
  readonly interfaceAddress: number;
  private readonly owned: Uint32Array;
  private readonly wire: GatewayWire;
  private readonly layout = new FrameLayout();
  private readonly scratch = new Uint8Array(64);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly handles: Uint32Array;
  private readonly resolveTimeoutMs: number;
  private readonly probeIntervalMs: number;
  private readonly reachableMs: number;

  constructor(config: GatewayEdgeConfig, wire: GatewayWire, options: GatewayEdgeOptions = {}) {
    if (config.addresses.length === 0) throw new InvalidArgumentError('a gateway needs at least one address');
    this.wire = wire;
    this.owned = Uint32Array.from(config.addresses, (a) => a.address);
    this.interfaceAddress = config.addresses[0].address >>> 0;
    this.macHi = config.mac[0] & 0xffff;
    this.macLo = config.mac[1] >>> 0;
    const holdPerAddress = options.holdPerAddress ?? 32;
    const maxPending = options.maxPending ?? 64;
    this.neighbours = new NeighbourTable(options.neighbourCapacity ?? 1024, maxPending, holdPerAddress);
    this.routes = new PrefixRoutes(config.peerSubnets, config.addresses);
    this.handles = new Uint32Array(maxPending * holdPerAddress);
    this.resolveTimeoutMs = options.resolveTimeoutMs ?? 3000;
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.reachableMs = options.reachableMs ?? 300_000;
  }

  /** True when the gateway owns `ip` (interface or proxy-ARP address). */
  owns(ip: number): boolean {
    const owned = this.owned;
    for (let i = 0; i < owned.length; i++) if (owned[i] === ip >>> 0) return true;
    return false;
  }

  /**
   * Handles the L2 frame at `[off, off + len)` of `view` that arrived from `peer`; returns a
   * `GatewayVerdict`. `now` is a millisecond clock (`performance.now()`), read once per batch.
   */
  fromWire(view: DataView, off: number, len: number, peer: number, now: number): number {
    const toUs = len >= 6 && view.getUint16(off) === this.macHi && view.getUint32(off + 2) === this.macLo;
    if (!toUs && !(len >= 6 && view.getUint16(off) === 0xffff && view.getUint32(off + 2) === 0xffffffff)) {
      return this.drop(GatewayDrop.NOT_FOR_GATEWAY);
    }
    const L = this.layout;
    const reason = parseFrame(view, off, len, L);
    if (reason !== 0) {
      this.parseDrops[reason]++;
      return this.drop(GatewayDrop.MALFORMED);
    }
    if (L.ethertype === EtherType.ARP) return this.arpIn(view, off, L.l3Offset, peer, now);
    if (L.ethertype === EtherType.IPV6) return this.drop(GatewayDrop.IPV6_NOT_SUPPORTED);
    if (!toUs) return this.drop(GatewayDrop.NOT_FOR_GATEWAY);
    const l3 = L.l3Offset;
    const src = view.getUint32(l3 + 12);
    const dst = view.getUint32(l3 + 16);
    this.learnFromIp(view, off, src, peer, now);
    if (dst === this.interfaceAddress) {
      if (L.ipProto === IpProto.ICMP && view.getUint8(L.l4Offset) === 8) {
        writeIcmpEchoReply(view, off, l3, L.l4Offset, this.macHi, this.macLo);
        this.replyLength = len;
        this.counters.echoRepliesSent++;
        return GatewayVerdict.REPLY;
      }
      return this.drop(GatewayDrop.FOR_GATEWAY);
    }
    if (view.getUint8(l3 + 8) <= 1) {
      this.drops[GatewayDrop.TTL_EXCEEDED]++;
      if (!icmpErrorPermitted(view, off, l3, L.l4Offset)) return GatewayVerdict.DROP;
      this.replyLength = writeIcmpTimeExceeded(view, off, l3, this.sourceFor(src), this.macHi, this.macLo);
      this.counters.icmpTimeExceededSent++;
      return GatewayVerdict.REPLY;
    }
    decrementTtl(view, l3);
    this.counters.forwarded++;
    return GatewayVerdict.FORWARD;
  }

  /**
   * Prepares the frame at `[off, off + len)` that leaves the chain: returns the peer to send
   * it to (MACs rewritten), `EGRESS_HELD` (kept under `handle` until ARP is answered; the
   * caller must not free it) or `EGRESS_DROP` (counted).
   */
  toWire(view: DataView, off: number, len: number, handle: number, now: number): number {
    if (len < 34 || view.getUint16(off + 12) !== EtherType.IPV4) return this.egressDrop(GatewayDrop.EGRESS_NOT_IPV4);
    const dst = view.getUint32(off + 30);
    const t = this.neighbours;
    let s = t.find(dst);
    if (s >= 0 && t.state[s] === NeighbourState.REACHABLE) {
      setMac(view, off, t.macHi[s], t.macLo[s]);
      setMac(view, off + 6, this.macHi, this.macLo);
      this.counters.sent++;
      return t.peer[s];
    }
    const r = this.routes.lookup(dst);
    if (r < 0) return this.egressDrop(GatewayDrop.NO_ROUTE);
    if (this.owns(dst)) return this.egressDrop(GatewayDrop.FOR_GATEWAY);
    if (s < 0) {
      s = t.insertIncomplete(dst, now);
      if (s < 0) return this.egressDrop(GatewayDrop.NEIGHBOUR_TABLE_FULL);
      this.probe(r, dst);
    } else if (now - t.probeAt[s] >= this.probeIntervalMs) {
      t.probeAt[s] = now;
      this.probe(r, dst);
    }
    if (!t.hold(s, handle)) return this.egressDrop(GatewayDrop.HOLD_QUEUE_FULL);
    this.counters.held++;
    return EGRESS_HELD;
  }

  /**
   * Ages the neighbour table: unresolved next hops older than the resolve timeout are
   * removed and their held frames discarded (`RESOLVE_TIMEOUT`); neighbours not heard from
   * for `reachableMs` are forgotten. O(capacity): call it every few hundred ms, not per frame.
   */
  sweep(now: number): void {
    const t = this.neighbours;
    for (let s = 0; s < t.capacity; ) {
      const st = t.state[s];
      const expired =
        (st === NeighbourState.INCOMPLETE && now - t.seenAt[s] >= this.resolveTimeoutMs) ||
        (st === NeighbourState.REACHABLE && now - t.seenAt[s] >= this.reachableMs);
      if (!expired) {
        s++;
        continue;
      }
      const n = t.takePending(s, this.handles);
      t.remove(s);
      this.drops[GatewayDrop.RESOLVE_TIMEOUT] += n;
      for (let i = 0; i < n; i++) this.wire.discard(this.handles[i]);
      // Slot s may now hold an entry shifted back from later in its run: look again.
    }
  }

  /** Discards every held frame (counted `HELD_AT_CLOSE`) and forgets every neighbour. */
  close(): void {
    const n = this.neighbours.clear(this.handles);
    this.drops[GatewayDrop.HELD_AT_CLOSE] += n;
    for (let i = 0; i < n; i++) this.wire.discard(this.handles[i]);
  }

  /** Every non-zero drop counter by name (gateway reasons, then `malformed:<parser reason>`). */
  dropsByReason(): Record<string, number> {
    const out: Record<string, number> = {};
    this.drops.forEach((v, code) => {
      if (v > 0) out[GATEWAY_DROP_NAMES[code]] = v;
    });
    this.parseDrops.forEach((v, code) => {
      if (v > 0) out[`malformed:${dropReasonName(code)}`] = v;
    });
    return out;
  }

  private arpIn(view: DataView, off: number, a: number, peer: number, now: number): number {
    const op = view.getUint16(a + 6);
    const spa = view.getUint32(a + 14);
    const tpa = view.getUint32(a + 24);
    if (!this.owns(tpa)) return this.drop(GatewayDrop.ARP_NOT_FOR_US);
    if (spa !== 0 && !this.owns(spa) && this.routes.peerCovers(peer, spa)) {
      this.learn(spa, view.getUint16(a + 8), view.getUint32(a + 10), peer, now);
    }
    if (op === ArpOp.REQUEST) {
      arpFrameToReply(view, off, a, this.macHi, this.macLo);
      this.replyLength = a - off + 28;
      this.counters.arpRepliesSent++;
      return GatewayVerdict.REPLY;
    }
    this.counters.arpRepliesReceived++;
    return GatewayVerdict.CONSUMED;
  }

  private learnFromIp(view: DataView, off: number, src: number, peer: number, now: number): void {
    const t = this.neighbours;
    const s = t.find(src);
    const hi = view.getUint16(off + 6);
    const lo = view.getUint32(off + 8);
    if (s >= 0 && t.state[s] === NeighbourState.REACHABLE && t.macLo[s] === lo && t.macHi[s] === hi && t.peer[s] === peer) {
      t.seenAt[s] = now;
      return;
    }
    if (this.routes.peerCovers(peer, src)) this.learn(src, hi, lo, peer, now);
  }

  private learn(ip: number, hi: number, lo: number, peer: number, now: number): void {
    const t = this.neighbours;
    let s = t.find(ip);
    if (s < 0) {
      s = t.insertReachable(ip, hi, lo, peer, now);
      if (s >= 0) this.counters.learned++;
      return;
    }
    if (t.state[s] === NeighbourState.REACHABLE && t.macHi[s] === hi && t.macLo[s] === lo >>> 0 && t.peer[s] === peer) {
      t.seenAt[s] = now;
      return;
    }
    t.setReachable(s, hi, lo, peer, now);
    this.counters.learned++;
    const n = t.takePending(s, this.handles);
    // `release` calls `toWire` again, which finds the entry REACHABLE now.
    for (let i = 0; i < n; i++) this.wire.release(this.handles[i]);
    this.counters.released += n;
  }

  private probe(r: number, target: number): void {
    const end = this.routes.groupEnd(r);
    for (let g = r; g < end; g++) {
      const len = writeArpRequest(this.scratchView, 0, this.macHi, this.macLo, this.routes.sourceOf(g), target);
      this.wire.emit(this.routes.peerOf(g), this.scratch, len);
      this.counters.arpRequestsSent++;
    }
  }

  /** Source of an ICMP error to `ip`: the owned address whose subnet holds it, else the interface address. */
  private sourceFor(ip: number): number {
    const r = this.routes.lookup(ip);
    return r >= 0 ? this.routes.sourceOf(r) : this.interfaceAddress;
  }

  private drop(code: number): number {
    this.drops[code]++;
    return GatewayVerdict.DROP;
  }

  private egressDrop(code: number): number {
    this.drops[code]++;
    return EGRESS_DROP;
  }
}
