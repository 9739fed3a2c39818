import { InvalidArgumentError } from '../errors/catalog.ts';
import { arpFrameToReply, ArpOp } from '../packet/arp.ts';
import { DROP_REASON_COUNT, dropReasonName } from '../packet/drop-reason.ts';
import { EtherType, setMac } from '../packet/ethernet.ts';
import { FrameLayout } from '../packet/frame-layout.ts';
import { verifyIcmpv6Checksum } from '../packet/checksum-ipv6.ts';
import { findNdpOption, NDP_HOP_LIMIT, NDP_NS_NA_LENGTH, NdpOption } from '../packet/icmpv6.ts';
import { IpProto } from '../packet/ipv4.ts';
import { Ipv6NextHeader } from '../packet/ipv6.ts';
import { parseFrame } from '../packet/parse-frame.ts';
import { icmpErrorPermitted } from '../packet/reply/icmp-unreachable.ts';
import { icmpv6ErrorPermitted, writeIcmpv6Error } from '../packet/reply/icmpv6-error.ts';
import { decrementTtl } from '../packet/rewrite.ts';
import { writeArpRequest } from './arp-request.ts';
import type { GatewayEdgeConfig, GatewayEdgeOptions } from './gateway-config.ts';
import { GATEWAY_DROP_COUNT, GATEWAY_DROP_NAMES, GatewayDrop } from './gateway-drop-reason.ts';
import { writeIcmpEchoReply } from './icmp-echo-reply.ts';
import { writeIcmpTimeExceeded } from './icmp-time-exceeded.ts';
import { writeIcmpv6EchoReply } from './icmpv6-echo-reply.ts';
import { writeNeighbourAdvertisement } from './neighbour-advertisement.ts';
import { writeNeighbourSolicitation } from './neighbour-solicitation.ts';
import { NeighbourState, NeighbourTable } from './neighbour-table.ts';
import { PrefixRoutes } from './prefix-routes.ts';

/**
 * The link side a `GatewayEdge` talks to (the VXLAN socket in production, a recorder in
 * tests). Calls are rare (ARP, resolution, timeouts), never per forwarded frame.
 */
export interface GatewayWire {
  /** Sends a frame the gateway built (an ARP request, a neighbour solicitation) to `peer`: `frame[0..length)`, copied before return. */
  emit(peer: number, frame: Uint8Array, length: number): void;
  /** A frame held by `toWire` (its `handle`) can go now: call `toWire` on it again, then send it. */
  release(handle: number): void;
  /** A held frame is dropped (resolve timeout, close): free it. The drop is already counted. */
  discard(handle: number): void;
  /**
   * The gateway learned a neighbour from the wire, or it changed (not called when one is
   * merely heard from again): `width` 1 (IPv4, key in `k0`) or 4 (IPv6). Replicas of one
   * end share what they learn through it (`adopt` on the others).
   */
  learned?(width: number, k0: number, k1: number, k2: number, k3: number, macHi: number, macLo: number, peer: number): void;
}

/** What `fromWire` decided. */
export const GatewayVerdict = {
  /** Into the chain (TTL or hop limit decremented). */
  FORWARD: 0,
  /** Rewritten in place into a reply (ARP reply, neighbour advertisement, ICMP/ICMPv6 time exceeded, echo reply) of `replyLength` bytes: send it back to the same peer. */
  REPLY: 1,
  /** Used by the gateway (an ARP reply or neighbour advertisement it learned from); free it, nothing is counted as dropped. */
  CONSUMED: 2,
  /** Dropped; the reason is counted in `drops`. */
  DROP: 3,
} as const;

/** `toWire` result: the frame waits for ARP or neighbour discovery (the edge keeps its handle). */
export const EGRESS_HELD = -1;
/** `toWire` result: dropped, reason counted. */
export const EGRESS_DROP = -2;

/** Event counters of a `GatewayEdge` (not drops); time exceeded, echo, learned, held and released count both families. */
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
  /** Frames put on hold for ARP (neighbour discovery), and released when it was answered. */
  held: number;
  released: number;
  /** Neighbour advertisements sent (answers to solicitations for the gateway's IPv6 addresses). */
  neighbourAdvertisementsSent: number;
  /** Neighbour solicitations sent to resolve an IPv6 next hop. */
  neighbourSolicitationsSent: number;
  /** Neighbour advertisements the gateway learned from. */
  neighbourAdvertisementsReceived: number;
}

/**
 * The chain's edge as an L3 gateway, over any L2 link with numbered peers (`GatewayWire`):
 *
 * - **from the wire** (`fromWire`): answers ARP requests for the IPv4 addresses it owns
 *   (`addresses[0]` is its interface address, the others proxy-ARP: VIPs, NAT
 *   addresses) and neighbour solicitations for its IPv6 ones (`addresses6`; RFC 4861:
 *   hop limit 255, checksum, options, solicited-node multicast, a target link-layer
 *   address option in the advertisement); learns neighbours (IP → MAC, peer) from ARP,
 *   neighbour solicitations and advertisements, and IP sources inside the peer's subnets;
 *   answers pings (ICMP and ICMPv6 echo) to its interface addresses; drops frames not for
 *   its MAC (broadcast ARP and multicast neighbour discovery excepted); decrements the TTL
 *   (hop limit) of what it forwards, or answers ICMP (ICMPv6) time exceeded from its
 *   address when it runs out.
 * - **to the wire** (`toWire`): picks the route by longest prefix, rewrites the MACs (source
 *   = gateway, destination = the neighbour), and returns the neighbour's peer; an unknown
 *   next hop gets an ARP request (IPv6: a neighbour solicitation to its solicited-node
 *   address) to the route's peer(s) while the frame waits in a small bounded hold queue
 *   (released through `wire.release`, or dropped and counted on overflow or timeout: call
 *   `sweep(now)` now and then).
 *
 * Works in place on any `DataView` (the packet pool in production). No allocation per frame;
 * one neighbour table per family, one body (`NeighbourTable`: 1-word keys for IPv4, 4-word
 * ones for IPv6), and likewise one route body (`PrefixRoutes`).
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
    neighbourAdvertisementsSent: 0, neighbourSolicitationsSent: 0, neighbourAdvertisementsReceived: 0,
  };
  /** Length of the frame `fromWire` rewrote when it returned `REPLY`. */
  replyLength = 0;
  readonly neighbours: NeighbourTable;
  readonly routes: PrefixRoutes;
  /** The IPv6 neighbour cache (4-word keys) and routes. */
  readonly neighbours6: NeighbourTable;
  readonly routes6: PrefixRoutes;
  readonly macHi: number;
  readonly macLo: number;
  /** The IPv4 interface address (source of ARP requests by default and of ICMP errors); 0 for a gateway with IPv6 addresses only. */
  readonly interfaceAddress: number;
  private readonly owned: Uint32Array;
  /** Owned IPv6 addresses, four words each; `[0..3]` the IPv6 interface address. */
  private readonly owned6: Uint32Array;
  /** Four words of scratch: a source address for an error or a solicitation. */
  private readonly from6 = new Uint32Array(4);
  private readonly wire: GatewayWire;
  private readonly layout = new FrameLayout();
  private readonly scratch = new Uint8Array(128);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly handles: Uint32Array;
  private readonly resolveTimeoutMs: number;
  private readonly probeIntervalMs: number;
  private readonly reachableMs: number;

  constructor(config: GatewayEdgeConfig, wire: GatewayWire, options: GatewayEdgeOptions = {}) {
    if (config.addresses.length === 0 && (config.addresses6 ?? []).length === 0) throw new InvalidArgumentError('a gateway needs at least one address');
    this.wire = wire;
    this.owned = Uint32Array.from(config.addresses, (a) => a.address);
    this.interfaceAddress = config.addresses.length > 0 ? config.addresses[0].address >>> 0 : 0;
    this.macHi = config.mac[0] & 0xffff;
    this.macLo = config.mac[1] >>> 0;
    const holdPerAddress = options.holdPerAddress ?? 32;
    const maxPending = options.maxPending ?? 64;
    this.neighbours = new NeighbourTable(options.neighbourCapacity ?? 1024, maxPending, holdPerAddress);
    this.routes = PrefixRoutes.ipv4(config.peerSubnets, config.addresses);
    const addresses6 = config.addresses6 ?? [];
    this.owned6 = Uint32Array.from(addresses6.flatMap((a) => [...a.address]));
    this.neighbours6 = new NeighbourTable(options.neighbourCapacity ?? 1024, maxPending, holdPerAddress, 4);
    this.routes6 = PrefixRoutes.ipv6(config.peerSubnets6 ?? config.peerSubnets.map(() => []), addresses6);
    this.handles = new Uint32Array(maxPending * holdPerAddress);
    this.resolveTimeoutMs = options.resolveTimeoutMs ?? 3000;
    this.probeIntervalMs = options.probeIntervalMs ?? 1000;
    this.reachableMs = options.reachableMs ?? 300_000;
  }

  /** True when the gateway owns the IPv6 address `k0..k3` (interface address or another it answers for). */
  owns6(k0: number, k1: number, k2: number, k3: number): boolean {
    const o = this.owned6;
    for (let i = 0; i < o.length; i += 4) {
      if (o[i] === k0 >>> 0 && o[i + 1] === k1 >>> 0 && o[i + 2] === k2 >>> 0 && o[i + 3] === k3 >>> 0) return true;
    }
    return false;
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
    // Besides its own MAC: broadcast (ARP) and IPv6 multicast (33:33:…, neighbour discovery).
    if (!toUs && !(len >= 6 && ((view.getUint16(off) === 0xffff && view.getUint32(off + 2) === 0xffffffff) || view.getUint16(off) === 0x3333))) {
      return this.drop(GatewayDrop.NOT_FOR_GATEWAY);
    }
    const L = this.layout;
    const reason = parseFrame(view, off, len, L);
    if (reason !== 0) {
      this.parseDrops[reason]++;
      return this.drop(GatewayDrop.MALFORMED);
    }
    if (L.ethertype === EtherType.ARP) return this.arpIn(view, off, L.l3Offset, peer, now);
    if (L.ethertype === EtherType.IPV6) return this.ipv6In(view, off, peer, now, toUs);
    if (!toUs) return this.drop(GatewayDrop.NOT_FOR_GATEWAY);
    const l3 = L.l3Offset;
    const src = view.getUint32(l3 + 12);
    const dst = view.getUint32(l3 + 16);
    this.learnFromIp(this.neighbours, this.routes, view, off, src, 0, 0, 0, peer, now);
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
    const type = len >= 14 ? view.getUint16(off + 12) : 0;
    let k0: number, k1 = 0, k2 = 0, k3 = 0;
    let t: NeighbourTable, routes: PrefixRoutes;
    if (type === EtherType.IPV4 && len >= 34) {
      k0 = view.getUint32(off + 30);
      t = this.neighbours;
      routes = this.routes;
    } else if (type === EtherType.IPV6 && len >= 54) {
      k0 = view.getUint32(off + 38);
      k1 = view.getUint32(off + 42);
      k2 = view.getUint32(off + 46);
      k3 = view.getUint32(off + 50);
      t = this.neighbours6;
      routes = this.routes6;
    } else return this.egressDrop(GatewayDrop.EGRESS_NOT_IPV4);
    let s = t.find(k0, k1, k2, k3);
    if (s >= 0 && t.state[s] === NeighbourState.REACHABLE) {
      setMac(view, off, t.macHi[s], t.macLo[s]);
      setMac(view, off + 6, this.macHi, this.macLo);
      this.counters.sent++;
      return t.peer[s];
    }
    const r = routes.lookup(k0, k1, k2, k3);
    if (r < 0) return this.egressDrop(GatewayDrop.NO_ROUTE);
    if (t === this.neighbours ? this.owns(k0) : this.owns6(k0, k1, k2, k3)) return this.egressDrop(GatewayDrop.FOR_GATEWAY);
    if (s < 0) {
      s = t.insertIncomplete(k0, k1, k2, k3, now);
      if (s < 0) return this.egressDrop(GatewayDrop.NEIGHBOUR_TABLE_FULL);
      this.probe(t, routes, r, s);
    } else if (now - t.probeAt[s] >= this.probeIntervalMs) {
      t.probeAt[s] = now;
      this.probe(t, routes, r, s);
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
    this.sweepTable(this.neighbours, now);
    this.sweepTable(this.neighbours6, now);
  }

  private sweepTable(t: NeighbourTable, now: number): void {
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
    for (const t of [this.neighbours, this.neighbours6]) {
      const n = t.clear(this.handles);
      this.drops[GatewayDrop.HELD_AT_CLOSE] += n;
      for (let i = 0; i < n; i++) this.wire.discard(this.handles[i]);
    }
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
      this.learn(this.neighbours, spa, 0, 0, 0, view.getUint16(a + 8), view.getUint32(a + 10), peer, now);
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

  /** Learns the frame's IP source (either family: `t`, `routes`) from its Ethernet source, if `peer`'s subnets hold it. */
  private learnFromIp(t: NeighbourTable, routes: PrefixRoutes, view: DataView, off: number, k0: number, k1: number, k2: number, k3: number, peer: number, now: number): void {
    const s = t.find(k0, k1, k2, k3);
    const hi = view.getUint16(off + 6);
    const lo = view.getUint32(off + 8);
    if (s >= 0 && t.state[s] === NeighbourState.REACHABLE && t.macLo[s] === lo && t.macHi[s] === hi && t.peer[s] === peer) {
      t.seenAt[s] = now;
      return;
    }
    if (routes.peerCovers(peer, k0, k1, k2, k3)) this.learn(t, k0, k1, k2, k3, hi, lo, peer, now);
  }

  /**
   * A neighbour another replica of this end learned (`GatewayWire.learned` there): entered
   * as if heard from the wire, releasing the frames held for it; not passed on again.
   * Checked first, as anything another thread wrote: `width` 1 or 4, `peer` one of this
   * gateway's peers whose subnets hold the address. Returns false (nothing changed) otherwise.
   */
  adopt(width: number, k0: number, k1: number, k2: number, k3: number, macHi: number, macLo: number, peer: number, now: number): boolean {
    const v4 = width === 1;
    if (!v4 && width !== 4) return false;
    const routes = v4 ? this.routes : this.routes6;
    if (!Number.isInteger(peer) || peer < 0 || !routes.peerCovers(peer, k0, v4 ? 0 : k1, v4 ? 0 : k2, v4 ? 0 : k3)) return false;
    this.learn(v4 ? this.neighbours : this.neighbours6, k0, v4 ? 0 : k1, v4 ? 0 : k2, v4 ? 0 : k3, macHi & 0xffff, macLo >>> 0, peer, now, false);
    return true;
  }

  private learn(t: NeighbourTable, k0: number, k1: number, k2: number, k3: number, hi: number, lo: number, peer: number, now: number, share = true): void {
    let s = t.find(k0, k1, k2, k3);
    if (s < 0) {
      s = t.insertReachable(k0, k1, k2, k3, hi, lo, peer, now);
      if (s >= 0) {
        this.counters.learned++;
        if (share) this.wire.learned?.(t.width, k0, k1, k2, k3, hi, lo, peer);
      }
      return;
    }
    if (t.state[s] === NeighbourState.REACHABLE && t.macHi[s] === hi && t.macLo[s] === lo >>> 0 && t.peer[s] === peer) {
      t.seenAt[s] = now;
      return;
    }
    t.setReachable(s, hi, lo, peer, now);
    this.counters.learned++;
    if (share) this.wire.learned?.(t.width, k0, k1, k2, k3, hi, lo, peer);
    const n = t.takePending(s, this.handles);
    // `release` calls `toWire` again, which finds the entry REACHABLE now.
    for (let i = 0; i < n; i++) this.wire.release(this.handles[i]);
    this.counters.released += n;
  }

  /** Asks every peer of route `r`'s group for the address of slot `s` of `t`: an ARP request, or over IPv6 a neighbour solicitation. */
  private probe(t: NeighbourTable, routes: PrefixRoutes, r: number, s: number): void {
    const end = routes.groupEnd(r);
    for (let g = r; g < end; g++) {
      let len: number;
      if (t.width === 1) {
        len = writeArpRequest(this.scratchView, 0, this.macHi, this.macLo, routes.sourceOf(g), t.key[s]);
        this.counters.arpRequestsSent++;
      } else {
        const from = this.from6;
        for (let i = 0; i < 4; i++) from[i] = routes.sourceOf(g, i);
        len = writeNeighbourSolicitation(this.scratchView, 0, this.macHi, this.macLo, from, t.key, s << 2);
        this.counters.neighbourSolicitationsSent++;
      }
      this.wire.emit(routes.peerOf(g), this.scratch, len);
    }
  }

  /**
   * An IPv6 frame from the wire (parsed into `layout`): neighbour discovery, echo to the
   * interface address, or forwarding with the hop limit decremented (time exceeded when it
   * runs out). `toUs`: sent to the gateway's MAC (else a multicast MAC).
   */
  private ipv6In(view: DataView, off: number, peer: number, now: number, toUs: boolean): number {
    const o = this.owned6;
    if (o.length === 0) return this.drop(GatewayDrop.IPV6_NO_ADDRESS);
    const L = this.layout;
    const l3 = L.l3Offset;
    const l4 = L.l4Offset;
    const icmp6 = L.ipProto === Ipv6NextHeader.ICMPV6 && l4 >= 0;
    if (icmp6) {
      const type = view.getUint8(l4);
      if (type === 135 || type === 136) return this.ndpIn(view, off, l3, l4, type, peer, now);
      if (type >= 133 && type <= 137) return this.drop(GatewayDrop.NDP_UNSUPPORTED);
    }
    if (!toUs) return this.drop(GatewayDrop.NOT_FOR_GATEWAY);
    if (view.getUint8(l3 + 24) === 0xff) return this.drop(GatewayDrop.MULTICAST_NOT_ROUTED);
    const s0 = view.getUint32(l3 + 8), s1 = view.getUint32(l3 + 12), s2 = view.getUint32(l3 + 16), s3 = view.getUint32(l3 + 20);
    if ((s0 | s1 | s2 | s3) !== 0) this.learnFromIp(this.neighbours6, this.routes6, view, off, s0, s1, s2, s3, peer, now);
    if (view.getUint32(l3 + 24) === o[0] && view.getUint32(l3 + 28) === o[1] && view.getUint32(l3 + 32) === o[2] && view.getUint32(l3 + 36) === o[3]) {
      if (icmp6 && view.getUint8(l4) === 128) {
        writeIcmpv6EchoReply(view, off, l3, l4);
        this.replyLength = l3 - off + L.l3Length;
        this.counters.echoRepliesSent++;
        return GatewayVerdict.REPLY;
      }
      return this.drop(GatewayDrop.FOR_GATEWAY);
    }
    if ((s0 >>> 22) === 0x3fa || (view.getUint16(l3 + 24) & 0xffc0) === 0xfe80) return this.drop(GatewayDrop.LINK_LOCAL_NOT_ROUTED);
    const hops = view.getUint8(l3 + 7);
    if (hops <= 1) {
      this.drops[GatewayDrop.HOP_LIMIT_EXCEEDED]++;
      if (!icmpv6ErrorPermitted(view, off, l3, l4, L.ipProto)) return GatewayVerdict.DROP;
      // From the owned address whose subnet holds the sender, else the interface address.
      const r = this.routes6.lookup(s0, s1, s2, s3);
      const from = this.from6;
      for (let i = 0; i < 4; i++) from[i] = r >= 0 ? this.routes6.sourceOf(r, i) : o[i];
      this.replyLength = writeIcmpv6Error(view, off, l3, 3, 0, 0, from);
      this.counters.icmpTimeExceededSent++;
      return GatewayVerdict.REPLY;
    }
    view.setUint8(l3 + 7, hops - 1);
    this.counters.forwarded++;
    return GatewayVerdict.FORWARD;
  }

  /**
   * A neighbour solicitation (135) or advertisement (136), validated as RFC 4861 §7.1.1 and
   * §7.1.2 say: a solicitation for an owned address is answered in place (and its sender
   * learned from its source link-layer address option); an advertisement teaches its
   * target's MAC (target link-layer address option) when the sending peer's subnets hold it.
   */
  private ndpIn(view: DataView, off: number, l3: number, l4: number, type: number, peer: number, now: number): number {
    const length = this.layout.l4Length;
    const end = l4 + length;
    if (view.getUint8(l3 + 7) !== NDP_HOP_LIMIT || view.getUint8(l4 + 1) !== 0 || length < NDP_NS_NA_LENGTH) return this.drop(GatewayDrop.NDP_INVALID);
    if (view.getUint8(l4 + 8) === 0xff || !verifyIcmpv6Checksum(view, l3, l4, length)) return this.drop(GatewayDrop.NDP_INVALID);
    const t0 = view.getUint32(l4 + 8), t1 = view.getUint32(l4 + 12), t2 = view.getUint32(l4 + 16), t3 = view.getUint32(l4 + 20);
    if (type === 135) {
      const slla = findNdpOption(view, l4 + NDP_NS_NA_LENGTH, end, NdpOption.SOURCE_LINK_LAYER_ADDRESS);
      if (slla === -2) return this.drop(GatewayDrop.NDP_INVALID);
      const s0 = view.getUint32(l3 + 8), s1 = view.getUint32(l3 + 12), s2 = view.getUint32(l3 + 16), s3 = view.getUint32(l3 + 20);
      const unspecified = (s0 | s1 | s2 | s3) === 0;
      if (unspecified) {
        // Duplicate address detection: only to the target's solicited-node address, without a link-layer option.
        const solicitedNode = view.getUint32(l3 + 24) === 0xff020000 && view.getUint32(l3 + 28) === 0 && view.getUint32(l3 + 32) === 1
          && view.getUint32(l3 + 36) === ((0xff000000 | (t3 & 0xffffff)) >>> 0);
        if (!solicitedNode || slla >= 0) return this.drop(GatewayDrop.NDP_INVALID);
      }
      if (!this.owns6(t0, t1, t2, t3)) return this.drop(GatewayDrop.NDP_NOT_FOR_US);
      let hi = view.getUint16(off + 6);
      let lo = view.getUint32(off + 8);
      if (slla >= 0 && view.getUint8(slla + 1) === 1) {
        hi = view.getUint16(slla + 2);
        lo = view.getUint32(slla + 4);
        if (!this.owns6(s0, s1, s2, s3) && this.routes6.peerCovers(peer, s0, s1, s2, s3)) this.learn(this.neighbours6, s0, s1, s2, s3, hi, lo, peer, now);
      }
      this.replyLength = writeNeighbourAdvertisement(view, off, l3, l4, this.macHi, this.macLo, hi, lo);
      this.counters.neighbourAdvertisementsSent++;
      return GatewayVerdict.REPLY;
    }
    // An advertisement: a solicited one goes to one node, and it must carry the target's MAC.
    if (view.getUint8(l3 + 24) === 0xff && (view.getUint8(l4 + 4) & 0x40) !== 0) return this.drop(GatewayDrop.NDP_INVALID);
    const tlla = findNdpOption(view, l4 + NDP_NS_NA_LENGTH, end, NdpOption.TARGET_LINK_LAYER_ADDRESS);
    if (tlla < 0 || view.getUint8(tlla + 1) !== 1) return this.drop(GatewayDrop.NDP_INVALID);
    if (this.owns6(t0, t1, t2, t3) || !this.routes6.peerCovers(peer, t0, t1, t2, t3)) return this.drop(GatewayDrop.NDP_NOT_FOR_US);
    this.learn(this.neighbours6, t0, t1, t2, t3, view.getUint16(tlla + 2), view.getUint32(tlla + 4), peer, now);
    this.counters.neighbourAdvertisementsReceived++;
    return GatewayVerdict.CONSUMED;
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
