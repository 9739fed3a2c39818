import { FLOW_NOT_FOUND, FlowTable, FlowTableStatus } from '../flow/flow-table.ts';
import { Ipv6HeaderChain, walkIpv6ExtensionHeaders } from '../packet/ipv6-extension-headers.ts';

/** An unset side of a link pin (no instance chosen on that side yet). */
export const UNSET_SIDE = 0xffff;

/** Link-pin flag bits (auxiliary word 1 of an entry; bits 8–15 hold the IP protocol). */
export const PinFlag = {
  /** A TCP FIN crossed the link rightward (inside → outside). */
  FIN_RIGHT: 1,
  /** A TCP FIN crossed the link leftward. */
  FIN_LEFT: 2,
  /** A TCP RST crossed the link. */
  RST: 4,
} as const;

/** Idle timeouts of pins, in ticks of the data plane's clock. */
export interface PinTimeoutTicks {
  readonly tcp: number;
  readonly tcpClosed: number;
  readonly udp: number;
  readonly other: number;
}

/** Pins a link table holds before it first grows (it doubles when full, up to its capacity). */
export const LINK_TABLE_INITIAL_CAPACITY = 1024;

/**
 * A `FlowTable` that can be rebuilt bigger: `grownFrom` re-inserts every entry of a full
 * table (key, value and both auxiliary words) into one of twice the capacity. A link table
 * starts small and grows with the flows it pins instead of being sized for `flowCapacity`
 * at once: at 65,536 pins a table takes 4 MiB, and a thousand flows scattered over it touch
 * a thousand pages, so a find after the instance was switched out (every batch when busy
 * threads outnumber cores) missed the TLB as well as the cache (an in-process
 * microbenchmark with the TLB thrashed between batches: ~400 ns a find against ~230 in a
 * table sized for the flows).
 */
class LinkPinTable extends FlowTable {
  /** A table of `capacity` entries (seed `seed`) holding every entry of `from`. */
  static grownFrom(from: LinkPinTable, capacity: number, seed: number): LinkPinTable {
    const to = new LinkPinTable(capacity, seed);
    const s = from.slots;
    for (let i = 0; i < from.slotCount; i++) {
      // FlowTable's slot: srcIp, dstIp, ports, tag (protocol in its low byte, 0 when empty), value, hash, aux 0, aux 1.
      const b = i << 3;
      const tag = s[b + 3];
      if (tag === 0) continue;
      const ports = s[b + 2];
      to.insert(s[b], s[b + 1], ports >>> 16, ports & 0xffff, tag & 0xff, s[b + 4]);
      const slot = to.find(s[b], s[b + 1], ports >>> 16, ports & 0xffff, tag & 0xff);
      to.setAux(slot, 0, s[b + 6]);
      to.setAux(slot, 1, s[b + 7]);
    }
    return to;
  }
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;

/**
 * Folds the 128-bit IPv6 address at `off` into 32 bits (murmur3-style mixing of its four
 * words), the address word of an IPv6 link key. Two flows whose folded keys collide share
 * one pin: both are steered alike, which any instance can serve for a new flow, so a
 * collision only merges two steering choices; it never splits a flow.
 */
function foldIpv6Address(view: DataView, off: number): number {
  let h = 0x6a09e667;
  for (let i = 0; i < 16; i += 4) {
    let k = Math.imul(view.getInt32(off + i), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * The flows crossing one link of a chain (between two stages, or between a port and a
 * stage), each pinned to an instance on either side. An entry is keyed by the flow's
 * 5-tuple **as seen on this link**, in canonical order (lower endpoint first), so both
 * directions find it; its value holds the instance slot on the left (low 16 bits) and on
 * the right (high 16 bits), `UNSET_SIDE` until known. A function that rewrites addresses
 * (load balancer, NAT) makes the tuple differ from link to link; the data plane therefore
 * keeps one table per link and learns each side from the frames an instance emits.
 *
 * `classify` parses the frame once (no allocation) and leaves the canonical tuple in
 * public fields for `find` / `insert`; an ICMP error is keyed by the flow it quotes, so it
 * reaches the instance that holds that flow's state. It is deliberately lighter than
 * `parseFrame` + `extractFlowKey`: the host only needs a key on every link crossing (four
 * per packet in a three-function chain), and the instance's pipeline validates the frame
 * (checksums, options, lengths) anyway; a malformed frame at worst reaches another
 * instance of the same function, which drops it.
 *
 * @example
 * ```ts
 * const link = new LinkFlowTable(65536);
 * if (link.classify(pool.view, pool.dataOffset(id), pool.meta.length[id])) {
 *   const slot = link.find();
 *   const right = slot === FLOW_NOT_FOUND ? UNSET_SIDE : link.rightOf(slot);
 * }
 * ```
 */
export class LinkFlowTable {
  /** The pins (replaced by a bigger table when it fills, see `LinkPinTable`: hold no slot across an `insert`). */
  table: FlowTable;
  /** Most pins it holds (`FlowTable.capacity` of its largest table). */
  readonly capacity: number;
  private readonly seed: number;
  /** Canonical tuple of the last classified frame (int32 addresses). */
  s = 0;
  d = 0;
  sp = 0;
  dp = 0;
  proto = 0;
  /** TCP flags of the last classified frame (0 if not TCP). */
  tcpFlags = 0;
  /** Flows dropped from the table by `insert` because it was full. */
  full = 0;

  constructor(capacity: number, seed: number) {
    this.capacity = capacity;
    this.seed = seed;
    this.table = new LinkPinTable(Math.min(capacity, LINK_TABLE_INITIAL_CAPACITY), seed);
  }

  /**
   * Reads the 5-tuple of the frame at `off` (`len` bytes) into the canonical fields.
   * Returns false for a frame that is not IP (ARP, …) or too short to key. An IPv6 frame
   * is keyed by its folded addresses (`foldIpv6Address`) and the ports of the transport
   * header found after its extension headers (`walkIpv6ExtensionHeaders`, bounded).
   */
  classify(view: DataView, off: number, len: number): boolean {
    if (len < 34) return false;
    let l3 = off + 14;
    let type = view.getUint16(off + 12);
    if (type === ETH_VLAN) {
      // Every read stays inside the frame (which may end at the pool's last byte).
      if (len < 38) return false;
      type = view.getUint16(off + 16);
      l3 += 4;
    }
    if (type === ETH_IPV6) return this.classify6(view, l3, off + len);
    if (type !== ETH_IPV4) return false;
    const ihl = (view.getUint8(l3) & 0x0f) << 2;
    const end = off + len;
    let proto = view.getUint8(l3 + 9);
    let src = view.getInt32(l3 + 12);
    let dst = view.getInt32(l3 + 16);
    let ports = 0;
    let flags = 0;
    const l4 = l3 + ihl;
    const fragment = (view.getUint16(l3 + 6) & 0x3fff) !== 0;
    if (!fragment && ihl >= 20 && l4 + 8 <= end) {
      if (proto === TCP || proto === UDP) {
        ports = view.getInt32(l4);
        if (proto === TCP && l4 + 14 <= end) flags = view.getUint8(l4 + 13);
      } else if (proto === ICMP) {
        const icmpType = view.getUint8(l4);
        if (icmpType === 8 || icmpType === 0) {
          const id = view.getUint16(l4 + 4);
          ports = (id << 16) | id;
        } else if ((icmpType === 3 || icmpType === 11 || icmpType === 12 || icmpType === 4 || icmpType === 5) && l4 + 8 + 28 <= end) {
          // An ICMP error: key it by the quoted packet's flow (canonical order makes direction moot).
          const q = l4 + 8;
          const qihl = (view.getUint8(q) & 0x0f) << 2;
          const qproto = view.getUint8(q + 9);
          if (qihl >= 20 && q + qihl + 4 <= end) {
            proto = qproto;
            src = view.getInt32(q + 12);
            dst = view.getInt32(q + 16);
            const ql4 = q + qihl;
            if (qproto === TCP || qproto === UDP) ports = view.getInt32(ql4);
            else if (qproto === ICMP && ql4 + 8 <= end && (view.getUint8(ql4) === 8 || view.getUint8(ql4) === 0)) {
              // A quoted echo: keyed like the echo itself (identifier as both ports).
              const qid = view.getUint16(ql4 + 4);
              ports = (qid << 16) | qid;
            } else ports = 0;
          }
        }
      }
    }
    this.setTuple(src, dst, ports >>> 16, ports & 0xffff, proto);
    this.tcpFlags = flags;
    return true;
  }

  /** Transport protocol and header offset found by the last `walk6` (offset -1: none, or a fragment). */
  private l4Proto = 0;
  private l4Off = -1;
  private readonly chain = new Ipv6HeaderChain();

  /**
   * Walks the IPv6 header at `l3` and its extension headers to the transport header,
   * leaving its protocol and offset in `l4Proto` / `l4Off`. Any fragment keys the datagram
   * by its addresses alone (as IPv4 fragments are), so all its pieces go one way; a chain
   * the walk refuses is keyed by its addresses too (the instance drops it with the reason).
   * Returns false when the fixed header does not fit before `end`.
   */
  private walk6(view: DataView, l3: number, end: number): boolean {
    if (l3 + 40 > end) return false;
    const c = this.chain;
    const ok = walkIpv6ExtensionHeaders(view, l3, end, c) === 0;
    this.l4Proto = ok ? c.upperProtocol : view.getUint8(l3 + 6);
    this.l4Off = ok && !c.isFragment && c.upperOffset + 8 <= end ? c.upperOffset : -1;
    return true;
  }

  /** `classify` for the IPv6 packet at `l3` (the frame ends at `end`). */
  private classify6(view: DataView, l3: number, end: number): boolean {
    if (!this.walk6(view, l3, end)) return false;
    let src = foldIpv6Address(view, l3 + 8);
    let dst = foldIpv6Address(view, l3 + 24);
    let proto = this.l4Proto;
    let ports = 0;
    let flags = 0;
    const l4 = this.l4Off;
    if (l4 >= 0) {
      if (proto === TCP || proto === UDP) {
        ports = view.getInt32(l4);
        if (proto === TCP && l4 + 14 <= end) flags = view.getUint8(l4 + 13);
      } else if (proto === ICMPV6) {
        const icmpType = view.getUint8(l4);
        if (icmpType === 128 || icmpType === 129) {
          const id = view.getUint16(l4 + 4);
          ports = (id << 16) | id;
        } else if (icmpType >= 1 && icmpType <= 4 && this.walk6(view, l4 + 8, end)) {
          // An ICMPv6 error: key it by the quoted packet's flow (canonical order makes direction moot).
          const q = l4 + 8;
          proto = this.l4Proto;
          src = foldIpv6Address(view, q + 8);
          dst = foldIpv6Address(view, q + 24);
          const ql4 = this.l4Off;
          if (ql4 >= 0 && (proto === TCP || proto === UDP)) ports = view.getInt32(ql4);
          else if (ql4 >= 0 && proto === ICMPV6 && (view.getUint8(ql4) === 128 || view.getUint8(ql4) === 129)) {
            const qid = view.getUint16(ql4 + 4);
            ports = (qid << 16) | qid;
          }
        }
      }
    }
    this.setTuple(src, dst, ports >>> 16, ports & 0xffff, proto);
    this.tcpFlags = flags;
    return true;
  }

  /** Sets the canonical fields from a 5-tuple given in either direction. */
  setTuple(src: number, dst: number, sp: number, dp: number, proto: number): void {
    // Canonical order: the lower (address, port) endpoint first, compared unsigned.
    const a = src >>> 0;
    const b = dst >>> 0;
    if (a < b || (a === b && sp <= dp)) {
      this.s = src | 0;
      this.d = dst | 0;
      this.sp = sp;
      this.dp = dp;
    } else {
      this.s = dst | 0;
      this.d = src | 0;
      this.sp = dp;
      this.dp = sp;
    }
    this.proto = proto;
  }

  /** Slot of the classified flow, or `FLOW_NOT_FOUND`. */
  find(): number {
    return this.table.find(this.s, this.d, this.sp, this.dp, this.proto);
  }

  /**
   * Pins the classified flow to `left`/`right`; returns its slot, or `FLOW_NOT_FOUND` when the
   * table is full. A table below `capacity` that is full first grows (twice the entries; every
   * slot found before moves).
   */
  insert(left: number, right: number, tick: number): number {
    const t = this.table;
    if (t.size >= t.capacity && t.capacity < this.capacity) this.table = LinkPinTable.grownFrom(t as LinkPinTable, Math.min(2 * t.capacity, this.capacity), this.seed);
    if (this.table.insert(this.s, this.d, this.sp, this.dp, this.proto, left | (right << 16)) === FlowTableStatus.FULL) {
      this.full++;
      return FLOW_NOT_FOUND;
    }
    const slot = this.find();
    this.table.setAux(slot, 0, tick);
    this.table.setAux(slot, 1, this.proto << 8);
    return slot;
  }

  /** Instance slot on the left of an entry (`UNSET_SIDE` if none). */
  leftOf(slot: number): number {
    return this.table.value(slot) & 0xffff;
  }

  /** Instance slot on the right of an entry (`UNSET_SIDE` if none). */
  rightOf(slot: number): number {
    return this.table.value(slot) >>> 16;
  }

  /** Instance slot on side `side` of an entry (0 left, 1 right; `UNSET_SIDE` if none). */
  sideOf(slot: number, side: 0 | 1): number {
    return (this.table.value(slot) >>> (side << 4)) & 0xffff;
  }

  /** Sets side `side` of an entry (0 left, 1 right), keeping the other. */
  setSide(slot: number, side: 0 | 1, instance: number): void {
    const shift = side << 4;
    this.table.setValue(slot, (this.table.value(slot) & ~(0xffff << shift)) | ((instance & 0xffff) << shift));
  }

  /** Marks an entry as seen at `tick`, recording FIN/RST of the classified frame (`finBit` = its direction's FIN flag). */
  touch(slot: number, tick: number, finBit: number): void {
    const table = this.table;
    table.setAux(slot, 0, tick);
    const f = this.tcpFlags;
    if ((f & 0x05) !== 0) table.setAux(slot, 1, table.aux(slot, 1) | ((f & 0x04) !== 0 ? PinFlag.RST : finBit));
  }

  /** Tick an entry was last seen. */
  lastSeen(slot: number): number {
    return this.table.aux(slot, 0);
  }

  /** True when the entry's TCP connection ended (RST, or FIN both ways). */
  isClosed(slot: number): boolean {
    const f = this.table.aux(slot, 1);
    return (f & PinFlag.RST) !== 0 || (f & (PinFlag.FIN_LEFT | PinFlag.FIN_RIGHT)) === (PinFlag.FIN_LEFT | PinFlag.FIN_RIGHT);
  }

  /**
   * True when an entry has been idle longer than its protocol's timeout at tick `now`.
   * `lastSeen` is a tick number and a frame may have crossed at the very end of that tick,
   * so an entry goes only after more than `limit` whole ticks: never sooner than its timeout.
   */
  isExpired(slot: number, now: number, t: PinTimeoutTicks): boolean {
    const proto = this.protoOf(slot);
    const limit = proto === TCP ? (this.isClosed(slot) ? t.tcpClosed : t.tcp) : proto === UDP ? t.udp : t.other;
    return now - this.lastSeen(slot) > limit;
  }

  /** IP protocol of an entry. */
  protoOf(slot: number): number {
    return this.table.aux(slot, 1) >>> 8;
  }
}
