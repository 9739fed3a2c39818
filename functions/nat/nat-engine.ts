import type { FrameLayout } from '../../src/packet/frame-layout.ts';
import type { StateTakeover } from '../../src/pipeline/compiled-pipeline.ts';
// Constants esbuild inlines into the image: the counter slots and drop results (generated
// from NAT_COUNTER_LIST: npm run gen:counters), the results, protocol indexes and record layout.
import * as NatCounter from '../../src/generated/nat-counter-codes.ts';
import {
  DROP_ICMP_ERROR_MALFORMED,
  DROP_MAPPING_TABLE_FULL,
  DROP_NAT64_BAD_ADDRESS,
  DROP_NAT64_FRAGMENT,
  DROP_NAT64_UNSUPPORTED_HEADER,
  DROP_NO_MAPPING,
  DROP_PORTS_EXHAUSTED,
  DROP_TCP_NOT_SYN,
  DROP_UNSUPPORTED_ICMP,
  DROP_UNSUPPORTED_PROTOCOL,
} from '../../src/generated/nat-drop-results.ts';
import * as NatResult from './nat-result.ts';
import * as NatProto from './nat-proto.ts';
import {
  FLAG_CLOSING as CLOSING,
  FLAG_SEEN_INBOUND as SEEN_INBOUND,
  FLAG_STATIC as STATIC,
  LIST_TCP_ESTABLISHED,
  LIST_TCP_TRANSITORY,
  MAPPING_MISS,
  MAPPING_TABLE_FULL,
} from './mapping-record.ts';
import { NatMappingTable } from './mapping-table.ts';
import type { NatPlan } from './nat-plan.ts';
import { natRewriteDestination, natRewriteIcmpError, natRewriteSource } from './nat-rewrite.ts';
import { PortAllocator } from './port-allocator.ts';
import { NAT64_CANONICAL, NAT64_NOT_CANONICAL, NAT64_OUTSIDE, Nat64Prefix } from './nat64-address.ts';
import { icmp4ErrorTo6, icmp6ErrorTo4, nat64ErrorToIpv4, nat64ErrorToIpv6 } from './nat64-icmp-error.ts';
import { halves, nat64ToIpv4, nat64ToIpv6 } from './nat64-translate.ts';

/** Results of `outbound` / `inbound` (`INSIDE`, `OUTSIDE`, `DROP_BASE + k`): see `nat-result.ts`. */
export { NatResult };

/** Dynamic mappings removed by the per-batch expiry at most (the rest go next batch). */
export const NAT_EXPIRE_PER_BATCH = 64;

const TCP_FIN_RST = 0x05;
const TCP_SYN = 0x02;
const TCP_SYN_ACK_RST = 0x16;

/** Timeout list of a TCP mapping with flags `f`. */
function tcpList(f: number): number {
  return (f & (SEEN_INBOUND | CLOSING)) === SEEN_INBOUND ? LIST_TCP_ESTABLISHED : LIST_TCP_TRANSITORY;
}

/**
 * The NAT data path: source NAT with endpoint-independent mapping, port forwards, ICMP
 * echo and ICMP error translation, hairpinning. One instance per pipeline instance, built
 * in the element's `init` from the baked {@link NatPlan}; its per-packet methods take the
 * layout `parseFrame` filled, rewrite the frame in place and return a {@link NatResult}.
 * They never allocate or throw; bad or unwanted packets are drops with a reason.
 *
 * - Outbound (arrived inside): the mapping of the source endpoint is found or created and
 *   the source rewritten; sources outside `match` pass untranslated.
 * - Inbound (arrived outside) to an external address: the destination endpoint's owner
 *   (dynamic mapping or port forward) is found with one array read and the destination
 *   rewritten back; no owner → `no_mapping`. Filtering is endpoint-independent (RFC 4787
 *   REQ-8, "transparency"): any remote may use a live mapping; stricter filtering is the
 *   firewall's job.
 * - TCP mappings use the transitory timeout until a packet has come back in, then the
 *   established one, and transitory again after FIN/RST until the next SYN.
 *
 * @example
 * ```ts
 * const nat = new NatEngine(plan, counters, counterBase);
 * nat.expire(now);                                            // once per batch
 * const r = side === 0 ? nat.outbound(view, L, now) : nat.inbound(view, L, now);
 * if (r >= NatResult.DROP_BASE) drop(counterBase + r - NatResult.DROP_BASE); else verdict = r;
 * ```
 */
export class NatEngine {
  /** The mappings (exposed for tests and tools). */
  readonly table: NatMappingTable;
  /** The external endpoints (exposed for tests and tools). */
  readonly ports: PortAllocator;
  /** The plan's pool port range (a shard narrows the allocator to a slice of it). */
  private readonly portFrom: number;
  private readonly portTo: number;

  private readonly counters: Float64Array;
  private readonly base: number;
  private readonly external: Uint32Array;
  private readonly externalMin: number;
  private readonly externalMax: number;
  private readonly addressCount: number;
  private readonly matchNet: Uint32Array;
  private readonly matchMask: Uint32Array;
  private readonly hairpinning: boolean;
  private readonly inboundRefresh: boolean;
  private readonly owners: Int32Array;
  /** NAT64 prefix, or null when NAT64 is off. */
  private readonly prefix64: Nat64Prefix | null;
  /** Translated IPv6 source networks, 8 words each (net, mask). */
  private readonly match64: Uint32Array;
  /** True when `match64` is ::/0 (the default): every IPv6 source is translated. */
  private readonly match64All: boolean;
  /** Scratch: the internal IPv6 address of the NAT64 mapping being translated. */
  private readonly addr6 = new Uint32Array(4);
  /** IPv4 identification of the next translated packet without DF. */
  private ipId = 0;
  /**
   * True after a call that translated between IPv6 and IPv4: the frame now starts at
   * {@link frameStart} (it moved into the headroom or forward) and is
   * {@link frameLength} bytes long. The caller takes both and sets it back to false.
   */
  resized = false;
  /** Absolute offset of the frame's first byte after a translation (see {@link resized}). */
  frameStart = 0;
  /** Frame length in bytes after a translation (see {@link resized}). */
  frameLength = 0;

  /**
   * @param plan the baked configuration
   * @param counters the pipeline's counter array
   * @param counterBase slot of the element's first counter (`no_mapping`)
   * @param seed secret hash seed; default random (ports are then unpredictable)
   */
  constructor(plan: NatPlan, counters: Float64Array, counterBase: number, seed = (Math.random() * 0x1_0000_0000) >>> 0) {
    this.portFrom = plan.portFrom;
    this.portTo = plan.portTo;
    this.counters = counters;
    this.base = counterBase;
    this.external = Uint32Array.from(plan.externalAddresses);
    this.addressCount = plan.externalAddresses.length;
    this.externalMin = this.external[0];
    this.externalMax = this.external[this.addressCount - 1];
    this.matchNet = Uint32Array.from(plan.match.map((m) => m[0]));
    this.matchMask = Uint32Array.from(plan.match.map((m) => m[1]));
    this.hairpinning = plan.hairpinning;
    this.inboundRefresh = plan.inboundRefresh;
    this.ports = new PortAllocator(this.addressCount, plan.poolAddressIndexes, plan.portFrom, plan.portTo);
    this.table = new NatMappingTable(this.ports, {
      capacity: plan.capacity,
      staticCapacity: staticCapacityOf(plan),
      timeoutsMs: plan.timeoutsMs,
      externalAddresses: plan.externalAddresses,
      seed,
    });
    for (const f of plan.forwards) {
      for (let k = 0; k < f.count; k++) this.table.addStatic(f.proto, f.intAddr, f.intPort + k, this.ports.key(f.proto, f.extAddrIndex, f.extPort + k));
    }
    this.owners = this.ports.ownerArray();
    const n64 = plan.nat64;
    this.prefix64 = n64 === null ? null : new Nat64Prefix(n64.layout);
    this.match64 = Uint32Array.from(n64 === null ? [] : n64.match.flat());
    this.match64All = n64 !== null && n64.match.some((m) => m[4] === 0 && m[5] === 0 && m[6] === 0 && m[7] === 0);
  }

  /**
   * Takes this instance's shard of the pool's port range (instances of one NAT behind one
   * dispatcher must never hand out the same external port): the range is cut into `count`
   * equal slices and this instance allocates from slice `index` only. Call before the
   * first packet (the instance may have been built ahead, in a warm isolate).
   */
  setShard(shard: { readonly index: number; readonly count: number }): void {
    const [from, to] = shardPortRange(this.portFrom, this.portTo, shard);
    this.ports.restrict(from, to);
  }

  /** Bytes of state a NAT of `plan` keeps in its host's memory (`attach`). */
  static stateBytes(plan: NatPlan): number {
    return NatMappingTable.recordBytes(plan.capacity, staticCapacityOf(plan));
  }

  /**
   * Moves the mappings into the host's memory and takes over a failed predecessor's
   * (`NatMappingTable.attach`). Call after `setShard`, before the first packet.
   */
  attach(state: Uint8Array, previous: Uint8Array | undefined, shiftMs: number, now: number): StateTakeover {
    return this.table.attach(state, previous, shiftMs, now);
  }

  /** Removes expired mappings (bounded work); call once per batch. */
  expire(now: number): void {
    this.table.expire(now, NAT_EXPIRE_PER_BATCH);
    const n = this.table.takeExpiredCount();
    if (n > 0) this.counters[this.base + NatCounter.MAPPINGS_EXPIRED] += n;
  }

  /** Index of `addr` among the external addresses, or -1. */
  externalIndex(addr: number): number {
    if (addr < this.externalMin || addr > this.externalMax) return -1;
    const ext = this.external;
    let lo = 0;
    let hi = ext.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = ext[mid];
      if (v === addr) return mid;
      if (v < addr) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** True when `addr` is in a translated (`match`) network. */
  hidden(addr: number): boolean {
    const net = this.matchNet;
    const mask = this.matchMask;
    for (let i = 0; i < net.length; i++) if (((addr & mask[i]) >>> 0) === net[i]) return true;
    return false;
  }

  /** A packet that arrived on the inside. */
  outbound(view: DataView, L: FrameLayout, now: number): number {
    if (L.ethertype !== 0x0800) {
      if (L.ethertype !== 0x86dd) return this.pass(NatResult.OUTSIDE);
      return this.prefix64 === null ? this.pass6(NatResult.OUTSIDE) : this.outbound64(view, L, now);
    }
    const l3 = L.l3Offset;
    const l4 = L.l4Offset;
    const ip = L.ipProto;
    // int32: it crosses calls V8 may not inline (a uint32 of 2^31 or more would be boxed there).
    const src = view.getInt32(l3 + 12);
    let pi: number;
    let sport: number;
    let tcpFlags = 0;
    if (ip === 6) {
      pi = NatProto.TCP;
      sport = view.getUint16(l4);
      tcpFlags = view.getUint8(l4 + 13);
    } else if (ip === 17) {
      pi = NatProto.UDP;
      sport = view.getUint16(l4);
    } else if (ip === 1) {
      const type = view.getUint8(l4);
      if (type === 8 || type === 0) {
        pi = NatProto.ICMP;
        sport = view.getUint16(l4 + 4);
      } else if (type === 3 || type === 11 || type === 12) {
        return this.outboundIcmpError(view, L, src, now);
      } else {
        return this.hidden(src) ? DROP_UNSUPPORTED_ICMP : this.pass(NatResult.OUTSIDE);
      }
    } else {
      return this.hidden(src) ? DROP_UNSUPPORTED_PROTOCOL : this.pass(NatResult.OUTSIDE);
    }
    if (this.hairpinning && pi !== NatProto.ICMP) {
      const ai = this.externalIndex(view.getUint32(l3 + 16));
      if (ai >= 0) return this.hairpin(view, L, src, sport, pi, tcpFlags, ai, now);
    }
    const table = this.table;
    let e = this.live(table.lookup(pi, src, sport), now);
    if (e === MAPPING_MISS) {
      if (!this.hidden(src)) return this.pass(NatResult.OUTSIDE);
      e = this.createMapping(pi, src, sport, tcpFlags, now);
      if (e < 0) return -e;
    } else {
      this.refreshOutbound(e, pi, tcpFlags, now);
    }
    natRewriteSource(view, l3, l4, L.l4Length, ip, table.extAddrOf(e) | 0, table.extPortOf(e));
    this.counters[this.base + NatCounter.TRANSLATED_OUTBOUND]++;
    return NatResult.OUTSIDE;
  }

  /** A packet that arrived on the outside. */
  inbound(view: DataView, L: FrameLayout, now: number): number {
    if (L.ethertype !== 0x0800) return L.ethertype === 0x86dd ? this.pass6(NatResult.INSIDE) : this.pass(NatResult.INSIDE);
    const l3 = L.l3Offset;
    const l4 = L.l4Offset;
    const ip = L.ipProto;
    const dst = view.getUint32(l3 + 16);
    const ai = this.externalIndex(dst);
    if (ai < 0) return this.hidden(dst) ? DROP_NO_MAPPING : this.pass(NatResult.INSIDE);
    let pi: number;
    let dport: number;
    let tcpFlags = 0;
    if (ip === 6) {
      pi = NatProto.TCP;
      dport = view.getUint16(l4 + 2);
      tcpFlags = view.getUint8(l4 + 13);
    } else if (ip === 17) {
      pi = NatProto.UDP;
      dport = view.getUint16(l4 + 2);
    } else if (ip === 1) {
      const type = view.getUint8(l4);
      if (type === 0) {
        pi = NatProto.ICMP;
        dport = view.getUint16(l4 + 4);
      } else if (type === 3 || type === 11 || type === 12) {
        return this.inboundIcmpError(view, L, now);
      } else {
        return type === 8 ? DROP_NO_MAPPING : DROP_UNSUPPORTED_ICMP;
      }
    } else {
      return DROP_UNSUPPORTED_PROTOCOL;
    }
    const table = this.table;
    const e = this.live(this.owners[((pi * this.addressCount + ai) << 16) | dport] - 1, now);
    if (e < 0) return DROP_NO_MAPPING;
    this.refreshInbound(e, pi, tcpFlags, now);
    if (this.prefix64 !== null && table.isV6(e)) return this.inbound64(view, L, e);
    natRewriteDestination(view, l3, l4, L.l4Length, ip, table.intAddrOf(e), table.intPortOf(e));
    this.counters[this.base + NatCounter.TRANSLATED_INBOUND]++;
    if ((table.flagsOf(e) & STATIC) !== 0) this.counters[this.base + NatCounter.PORT_FORWARDED]++;
    return NatResult.INSIDE;
  }

  private pass(result: number): number {
    this.counters[this.base + NatCounter.UNTRANSLATED]++;
    return result;
  }

  /** An IPv6 frame forwarded unchanged (RFC 4787 NAT translates IPv4; IPv6 is routed, not hidden). */
  private pass6(result: number): number {
    this.counters[this.base + NatCounter.IPV6_PASSED]++;
    return result;
  }

  /** Creates a mapping for a source endpoint that has none; returns the entry, or MINUS a drop result. */
  private createMapping(pi: number, src: number, sport: number, tcpFlags: number, now: number): number {
    if (pi === NatProto.TCP && (tcpFlags & TCP_SYN_ACK_RST) !== TCP_SYN) return -DROP_TCP_NOT_SYN;
    const e = this.table.create(pi, src, sport, now);
    if (e < 0) return e === MAPPING_TABLE_FULL ? -DROP_MAPPING_TABLE_FULL : -DROP_PORTS_EXHAUSTED;
    this.counters[this.base + NatCounter.MAPPINGS_CREATED]++;
    return e;
  }

  /** `e` (an entry or MAPPING_MISS) if it is live at `now`; an expired one is removed (expired means gone) and MAPPING_MISS returned. */
  private live(e: number, now: number): number {
    if (e < 0 || !this.table.isExpired(e, now)) return e;
    this.expireNow(e);
    return MAPPING_MISS;
  }

  /** Removes an expired mapping met on the data path (before the sweep reached it): expired means gone. */
  private expireNow(e: number): void {
    this.table.remove(e);
    this.counters[this.base + NatCounter.MAPPINGS_EXPIRED]++;
  }

  /** Outbound refresh of a live mapping (RFC 4787 REQ-6), with the TCP state. */
  private refreshOutbound(e: number, pi: number, tcpFlags: number, now: number): void {
    const table = this.table;
    let f = table.flagsOf(e);
    if ((f & STATIC) !== 0) return;
    if (pi !== NatProto.TCP) {
      table.touch(e, table.listOf(e), now);
      return;
    }
    if ((tcpFlags & TCP_FIN_RST) !== 0) f |= CLOSING;
    else if ((tcpFlags & TCP_SYN_ACK_RST) === TCP_SYN) f = 0;
    table.setFlags(e, f);
    table.touch(e, tcpList(f), now);
  }

  /** Inbound refresh of a live mapping (TCP state always; the timer if `inboundRefresh`). */
  private refreshInbound(e: number, pi: number, tcpFlags: number, now: number): void {
    const table = this.table;
    let f = table.flagsOf(e);
    if ((f & STATIC) !== 0) return;
    if (pi === NatProto.TCP) {
      f |= SEEN_INBOUND;
      if ((tcpFlags & TCP_FIN_RST) !== 0) f |= CLOSING;
      table.setFlags(e, f);
      if (this.inboundRefresh) table.touch(e, tcpList(f), now);
    } else if (this.inboundRefresh) {
      table.touch(e, table.listOf(e), now);
    }
  }

  /** Inside host to an external address: translate both ends and send it back inside. */
  private hairpin(view: DataView, L: FrameLayout, src: number, sport: number, pi: number, tcpFlags: number, ai: number, now: number): number {
    const l3 = L.l3Offset;
    const l4 = L.l4Offset;
    const table = this.table;
    const t = this.live(this.owners[((pi * this.addressCount + ai) << 16) | view.getUint16(l4 + 2)] - 1, now);
    if (t < 0 || table.isV6(t)) return DROP_NO_MAPPING;
    let e = this.live(table.lookup(pi, src, sport), now);
    if (e === MAPPING_MISS) {
      if (this.hidden(src)) {
        e = this.createMapping(pi, src, sport, tcpFlags, now);
        if (e < 0) return -e;
      }
    } else {
      this.refreshOutbound(e, pi, tcpFlags, now);
    }
    if (e >= 0) natRewriteSource(view, l3, l4, L.l4Length, L.ipProto, table.extAddrOf(e) | 0, table.extPortOf(e));
    this.refreshInbound(t, pi, tcpFlags, now);
    natRewriteDestination(view, l3, l4, L.l4Length, L.ipProto, table.intAddrOf(t), table.intPortOf(t));
    this.counters[this.base + NatCounter.HAIRPINNED]++;
    return NatResult.INSIDE;
  }

  /**
   * Offset of the quoted packet's L4 header in the ICMP error at `L`, or -1 when the quote
   * lacks a valid IPv4 header plus 8 bytes, or is a non-first fragment (no ports).
   */
  private quotedL4(view: DataView, L: FrameLayout): number {
    const inner = L.l4Offset + 8;
    const end = L.l4Offset + L.l4Length;
    if (end - inner < 28) return -1;
    const vihl = view.getUint8(inner);
    const ihl = (vihl & 0x0f) << 2;
    if (vihl >>> 4 !== 4 || ihl < 20 || inner + ihl + 8 > end) return -1;
    if ((view.getUint16(inner + 6) & 0x1fff) !== 0) return -1;
    return inner + ihl;
  }

  /** ICMP error from the outside about a packet the NAT sent out: reverse the quote. */
  private inboundIcmpError(view: DataView, L: FrameLayout, now: number): number {
    const il4 = this.quotedL4(view, L);
    if (il4 < 0) return DROP_ICMP_ERROR_MALFORMED;
    const inner = L.l4Offset + 8;
    const iproto = view.getUint8(inner + 9);
    const ai = this.externalIndex(view.getUint32(inner + 12));
    if (ai < 0) return DROP_NO_MAPPING;
    let pi: number;
    let port: number;
    if (iproto === 6 || iproto === 17) {
      pi = iproto === 6 ? NatProto.TCP : NatProto.UDP;
      port = view.getUint16(il4);
    } else if (iproto === 1 && view.getUint8(il4) === 8) {
      pi = NatProto.ICMP;
      port = view.getUint16(il4 + 4);
    } else {
      return DROP_NO_MAPPING;
    }
    const table = this.table;
    const e = this.live(this.owners[((pi * this.addressCount + ai) << 16) | port] - 1, now);
    if (e < 0) return DROP_NO_MAPPING;
    if (table.isV6(e)) return this.prefix64 === null ? DROP_NO_MAPPING : this.inboundError64(view, L, e, inner, il4);
    natRewriteIcmpError(view, L.l3Offset, L.l4Offset, L.l4Offset + L.l4Length, inner, il4, iproto, true, table.intAddrOf(e), table.intPortOf(e));
    this.counters[this.base + NatCounter.ICMP_ERRORS_TRANSLATED]++;
    this.counters[this.base + NatCounter.TRANSLATED_INBOUND]++;
    return NatResult.INSIDE;
  }

  /** ICMP error from the inside about a packet the NAT let in: translate the quote back. */
  private outboundIcmpError(view: DataView, L: FrameLayout, src: number, now: number): number {
    const il4 = this.quotedL4(view, L);
    if (il4 < 0) return this.hidden(src) ? DROP_ICMP_ERROR_MALFORMED : this.pass(NatResult.OUTSIDE);
    const inner = L.l4Offset + 8;
    const iproto = view.getUint8(inner + 9);
    const ep = quotedEndpoint(view, iproto, il4, 1, 0);
    const table = this.table;
    const e = ep < 0 ? MAPPING_MISS : table.lookup(ep >>> 16, view.getUint32(inner + 16), ep & 0xffff);
    if (e === MAPPING_MISS || table.isExpired(e, now)) return this.hidden(src) ? DROP_NO_MAPPING : this.pass(NatResult.OUTSIDE);
    natRewriteIcmpError(view, L.l3Offset, L.l4Offset, L.l4Offset + L.l4Length, inner, il4, iproto, false, table.extAddrOf(e), table.extPortOf(e));
    this.counters[this.base + NatCounter.ICMP_ERRORS_TRANSLATED]++;
    this.counters[this.base + NatCounter.TRANSLATED_OUTBOUND]++;
    return NatResult.OUTSIDE;
  }

  /** True when the IPv6 address `a0…a3` is in a translated (`nat64.match`) network. */
  private hidden6(a0: number, a1: number, a2: number, a3: number): boolean {
    if (this.match64All) return true;
    const m = this.match64;
    for (let i = 0; i < m.length; i += 8) {
      if (((a0 & m[i + 4]) >>> 0) === m[i] && ((a1 & m[i + 5]) >>> 0) === m[i + 1] && ((a2 & m[i + 6]) >>> 0) === m[i + 2] && ((a3 & m[i + 7]) >>> 0) === m[i + 3]) {
        return true;
      }
    }
    return false;
  }

  /**
   * NAT64, an IPv6 packet from the inside (RFC 6146 §3.5): to an address of the NAT64
   * prefix from a translated source, the mapping of its source endpoint is found or created
   * (the same table, pool and port spaces as NAT44's) and the packet becomes IPv4; other
   * IPv6 passes untranslated.
   */
  private outbound64(view: DataView, L: FrameLayout, now: number): number {
    const l3 = L.l3Offset;
    const l4 = L.l4Offset;
    const prefix = this.prefix64 as Nat64Prefix;
    // Both addresses are read once: the prefix match, the mapping and the checksum use the
    // words. Addresses stay int32 on this path (a uint32 of 2^31 or more is boxed when it
    // crosses a call that was not inlined; int32 never is).
    const d0 = view.getInt32(l3 + 24);
    const d1 = view.getInt32(l3 + 28);
    const d2 = view.getInt32(l3 + 32);
    const d3 = view.getInt32(l3 + 36);
    const where = prefix.matchWords(d0, d1, d2, d3);
    if (where === NAT64_OUTSIDE) return this.pass6(NatResult.OUTSIDE);
    const a0 = view.getInt32(l3 + 8);
    const a1 = view.getInt32(l3 + 12);
    const a2 = view.getInt32(l3 + 16);
    const a3 = view.getInt32(l3 + 20);
    if (!this.hidden6(a0, a1, a2, a3)) return this.pass6(NatResult.OUTSIDE);
    if (where === NAT64_NOT_CANONICAL) return DROP_NAT64_BAD_ADDRESS;
    if (L.isFragment) return DROP_NAT64_FRAGMENT;
    if (L.ipHeaderLength > 40 && !skippableHeaders(view, l3, l4)) return DROP_NAT64_UNSUPPORTED_HEADER;
    const dst4 = prefix.extractWords(d0, d1, d2, d3);
    const top = dst4 >>> 24;
    if (top === 0 || top === 127 || top >= 224) return DROP_NAT64_BAD_ADDRESS;
    if (this.externalIndex(dst4 >>> 0) >= 0) return DROP_NO_MAPPING; // NAT64 hairpinning is not done
    const ip = L.ipProto;
    let pi: number;
    let tcpFlags = 0;
    if (ip === 6) {
      pi = NatProto.TCP;
      tcpFlags = view.getUint8(l4 + 13);
    } else if (ip === 17) {
      pi = NatProto.UDP;
    } else if (ip === 58) {
      const type = view.getUint8(l4);
      if (type >= 1 && type <= 4) return this.outboundError64(view, L, dst4, now);
      if (type !== 128 && type !== 129) return DROP_UNSUPPORTED_ICMP;
      pi = NatProto.ICMP;
    } else {
      return DROP_UNSUPPORTED_PROTOCOL;
    }
    const sport = view.getUint16(pi === NatProto.ICMP ? l4 + 4 : l4);
    const table = this.table;
    let e = this.live(table.lookup6(pi, a0, a1, a2, a3, sport), now);
    if (e === MAPPING_MISS) {
      if (pi === NatProto.TCP && (tcpFlags & TCP_SYN_ACK_RST) !== TCP_SYN) return DROP_TCP_NOT_SYN;
      e = table.create6(pi, a0, a1, a2, a3, sport, now);
      if (e < 0) return e === MAPPING_TABLE_FULL ? DROP_MAPPING_TABLE_FULL : DROP_PORTS_EXHAUSTED;
      this.counters[this.base + NatCounter.MAPPINGS_CREATED]++;
    } else {
      this.refreshOutbound(e, pi, tcpFlags, now);
    }
    this.ipId = (this.ipId + 1) & 0xffff;
    const addrSum = halves(a0) + halves(a1) + halves(a2) + halves(a3) + halves(d0) + halves(d1) + halves(d2) + halves(d3);
    this.moved(L, nat64ToIpv4(view, L.frameOffset, l3, l4, L.ipTotalLength - L.ipHeaderLength, ip, addrSum, table.extAddrOf(e) | 0, dst4, table.extPortOf(e), this.ipId));
    this.counters[this.base + NatCounter.TRANSLATED_OUTBOUND]++;
    this.counters[this.base + NatCounter.NAT64_OUTBOUND]++;
    return NatResult.OUTSIDE;
  }

  /** NAT64, an IPv4 packet from the outside to NAT64 mapping `e` (found and refreshed): it becomes IPv6. */
  private inbound64(view: DataView, L: FrameLayout, e: number): number {
    const table = this.table;
    table.copyIntAddr6(e, this.addr6);
    const by = nat64ToIpv6(
      view,
      L.frameOffset,
      L.l3Offset,
      L.l4Offset,
      L.l4Length,
      L.ipProto,
      this.prefix64 as Nat64Prefix,
      this.addr6,
      table.intPortOf(e),
    );
    this.moved(L, by);
    this.counters[this.base + NatCounter.TRANSLATED_INBOUND]++;
    this.counters[this.base + NatCounter.NAT64_INBOUND]++;
    return NatResult.INSIDE;
  }

  /** Records a translation that moved the frame's start by `by` bytes and kept its end. */
  private moved(L: FrameLayout, by: number): void {
    this.resize(L.frameOffset + by, L.frameLength - by);
  }

  /** Records a translation after which the frame starts at `start` and is `length` bytes long (see {@link resized}). */
  private resize(start: number, length: number): void {
    this.resized = true;
    this.frameStart = start;
    this.frameLength = length;
  }

  /**
   * NAT64, an ICMPv4 error from the outside quoting a packet NAT64 sent out (mapping `e`,
   * quoted IPv4 header at `inner`, its L4 at `il4`): it becomes an ICMPv6 error to the
   * client quoting the client's packet (RFC 7915 §4.2). Errors do not refresh mappings.
   */
  private inboundError64(view: DataView, L: FrameLayout, e: number, inner: number, il4: number): number {
    const l4 = L.l4Offset;
    const t = icmp4ErrorTo6(view.getUint8(l4), view.getUint8(l4 + 1));
    if (t < 0) return DROP_UNSUPPORTED_ICMP;
    const table = this.table;
    table.copyIntAddr6(e, this.addr6);
    const l3 = L.l3Offset;
    const start = nat64ErrorToIpv6(
      view,
      L.frameOffset,
      l3,
      l4 + L.l4Length,
      inner,
      il4,
      t,
      view.getUint32(l4 + 4),
      this.prefix64 as Nat64Prefix,
      this.addr6,
      table.intPortOf(e),
    );
    if (start < 0) return DROP_UNSUPPORTED_ICMP;
    const l2 = l3 - L.frameOffset;
    this.resize(start, l2 + 40 + view.getUint16(start + l2 + 4));
    this.counters[this.base + NatCounter.ICMP_ERRORS_TRANSLATED]++;
    this.counters[this.base + NatCounter.TRANSLATED_INBOUND]++;
    this.counters[this.base + NatCounter.NAT64_INBOUND]++;
    return NatResult.INSIDE;
  }

  /**
   * NAT64, an ICMPv6 error from an inside host (to an address of the prefix, `to4` the one
   * it embeds) quoting a packet NAT64 let in: it becomes an ICMPv4 error to the server
   * (RFC 7915 §5.2). The quote must hold the whole IPv6 header, no extension header and
   * 8 bytes of TCP/UDP or an echo reply; its destination endpoint must have a live mapping.
   */
  private outboundError64(view: DataView, L: FrameLayout, to4: number, now: number): number {
    const l4 = L.l4Offset;
    const end = l4 + L.l4Length;
    const inner = l4 + 8;
    if (end - inner < 48 || view.getUint8(inner) >>> 4 !== 6) return DROP_ICMP_ERROR_MALFORMED;
    const ep = quotedEndpoint(view, view.getUint8(inner + 6), inner + 40, 58, 129);
    if (ep < 0) return DROP_ICMP_ERROR_MALFORMED;
    const prefix = this.prefix64 as Nat64Prefix;
    if (prefix.match(view, inner + 8) !== NAT64_CANONICAL) return DROP_NO_MAPPING;
    const table = this.table;
    const e = table.lookup6(ep >>> 16, view.getUint32(inner + 24), view.getUint32(inner + 28), view.getUint32(inner + 32), view.getUint32(inner + 36), ep & 0xffff);
    if (e === MAPPING_MISS || table.isExpired(e, now)) return DROP_NO_MAPPING;
    const t = icmp6ErrorTo4(view.getUint8(l4), view.getUint8(l4 + 1));
    if (t < 0) return DROP_UNSUPPORTED_ICMP;
    this.ipId = (this.ipId + 1) & 0xffff;
    const l3 = L.l3Offset;
    const start = nat64ErrorToIpv4(view, L.frameOffset, l3, l4, end, inner, t, view.getUint32(l4 + 4), table.extAddrOf(e), to4, prefix.extract(view, inner + 8), table.extPortOf(e), this.ipId);
    if (start < 0) return DROP_UNSUPPORTED_ICMP;
    this.resize(start, end - start);
    this.counters[this.base + NatCounter.ICMP_ERRORS_TRANSLATED]++;
    this.counters[this.base + NatCounter.TRANSLATED_OUTBOUND]++;
    this.counters[this.base + NatCounter.NAT64_OUTBOUND]++;
    return NatResult.OUTSIDE;
  }
}

/**
 * The mapping key of the packet an ICMP error quotes, its upper layer (protocol `proto`) at
 * `il4`: `NatProto << 16 | port` for TCP/UDP (the destination port) and for an echo reply
 * of the quote's family (`icmpProto`, type `echoReply`: the identifier); -1 for anything
 * else. Both families' errors use it (ICMP 1/0, ICMPv6 58/129).
 */
function quotedEndpoint(view: DataView, proto: number, il4: number, icmpProto: number, echoReply: number): number {
  if (proto === 6 || proto === 17) return ((proto === 6 ? NatProto.TCP : NatProto.UDP) << 16) | view.getUint16(il4 + 2);
  if (proto === icmpProto && view.getUint8(il4) === echoReply) return (NatProto.ICMP << 16) | view.getUint16(il4 + 4);
  return -1;
}

/**
 * True when every IPv6 extension header between the fixed header at `l3` and the upper
 * layer at `l4` may be dropped in translation (RFC 7915 §5.1): hop-by-hop and destination
 * options, a routing header with no segments left. `parseFrame` checked the chain's lengths.
 */
function skippableHeaders(view: DataView, l3: number, l4: number): boolean {
  let next = view.getUint8(l3 + 6);
  let o = l3 + 40;
  while (o < l4) {
    if (next !== 0 && next !== 60 && !(next === 43 && view.getUint8(o + 3) === 0)) return false;
    next = view.getUint8(o);
    o += (view.getUint8(o + 1) + 1) * 8;
  }
  return true;
}

/**
 * Slice `shard.index` of `count` equal slices of `[from, to]` (the last takes the rest);
 * the whole range without a shard or with fewer ports than shards.
 */
export function shardPortRange(from: number, to: number, shard?: { readonly index: number; readonly count: number }): [number, number] {
  if (shard === undefined || shard.count <= 1) return [from, to];
  const size = Math.floor((to - from + 1) / shard.count);
  if (size < 1) return [from, to];
  const index = Math.min(Math.max(0, shard.index | 0), shard.count - 1);
  const start = from + index * size;
  return [start, index === shard.count - 1 ? to : start + size - 1];
}

/** Room for the static mappings (port forwards) of `plan`. */
function staticCapacityOf(plan: NatPlan): number {
  return plan.forwards.reduce((n, f) => n + f.count, 0);
}
