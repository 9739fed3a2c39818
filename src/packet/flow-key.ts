/**
 * Flow keys: the IPv4 5-tuple as plain numbers, and fast 32-bit hashes of it.
 *
 * `flowHash` is SYMMETRIC: both directions of a connection hash alike
 * (`flowHash(a, b, pa, pb, p) === flowHash(b, a, pb, pa, p)`), so a dispatcher sends replies
 * to the instance that saw the request. It orders the two endpoints canonically and then
 * applies the murmur3 32-bit mixing steps (Math.imul) and finalizer; `flowHashDirected`
 * skips the ordering, for tables keyed by direction (NAT). No allocation.
 *
 * ICMP echo request/reply use the identifier as both ports (as Linux conntrack does), so
 * the echo and its reply form one flow. ICMP errors carry ports 0 in their own key; use
 * {@link extractIcmpInnerFlowKey} to find the flow they are about.
 *
 * @example
 * ```ts
 * const key = new FlowKey();                    // once, reused per packet
 * if (parseFrame(view, off, len, layout) === DropReason.OK && extractFlowKey(view, layout, key)) {
 *   const worker = flowHash(key.srcIp, key.dstIp, key.srcPort, key.dstPort, key.proto) % workers;
 * }
 * ```
 */
import type { FrameLayout } from './frame-layout.ts';

/** A caller-owned, fixed-shape 5-tuple (IPv4 addresses as unsigned 32-bit numbers). */
export class FlowKey {
  // Field initialisers (not bare declarations) matter: ES2022 class fields start as
  // `undefined`, which makes V8 store them tagged, and then every store of an address
  // ≥ 2^31 would allocate a HeapNumber. Starting from a number keeps them unboxed-in-place.
  srcIp = 0;
  dstIp = 0;
  srcPort = 0;
  dstPort = 0;
  proto = 0;

  constructor(srcIp = 0, dstIp = 0, srcPort = 0, dstPort = 0, proto = 0) {
    this.srcIp = srcIp >>> 0;
    this.dstIp = dstIp >>> 0;
    this.srcPort = srcPort;
    this.dstPort = dstPort;
    this.proto = proto;
  }

  /** Sets all five fields. */
  set(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number): void {
    this.srcIp = srcIp >>> 0;
    this.dstIp = dstIp >>> 0;
    this.srcPort = srcPort;
    this.dstPort = dstPort;
    this.proto = proto;
  }

  /** Swaps source and destination in place (the key of the reply direction). */
  reverse(): void {
    const ip = this.srcIp;
    this.srcIp = this.dstIp;
    this.dstIp = ip;
    const port = this.srcPort;
    this.srcPort = this.dstPort;
    this.dstPort = port;
  }

  /** True when all five fields equal `other`'s. */
  equals(other: FlowKey): boolean {
    return this.srcIp === other.srcIp && this.dstIp === other.dstIp && this.srcPort === other.srcPort
      && this.dstPort === other.dstPort && this.proto === other.proto;
  }

  /** Symmetric hash of this key (see {@link flowHash}). */
  hash(seed = 0): number {
    return flowHash(this.srcIp, this.dstIp, this.srcPort, this.dstPort, this.proto, seed);
  }
}

/**
 * Fills `key` from a frame that `parseFrame` accepted. Returns false (key untouched) when
 * the frame is not IPv4 (ARP; IPv6 has its own key, `extractFlowKey6` in `flow-key-ipv6.ts`). TCP/UDP: ports; ICMP echo: identifier as both ports;
 * other ICMP and other protocols: ports 0.
 */
export function extractFlowKey(view: DataView, layout: FrameLayout, key: FlowKey): boolean {
  const l3 = layout.l3Offset;
  const l4 = layout.l4Offset;
  if (layout.ethertype !== 0x0800 || l3 < 0) return false;
  const proto = view.getUint8(l3 + 9);
  key.srcIp = view.getUint32(l3 + 12);
  key.dstIp = view.getUint32(l3 + 16);
  key.proto = proto;
  // Both ports in one read (TCP/UDP headers start with them); ICMP echo: the identifier twice.
  const ports = l4 < 0 ? 0 : proto === 6 || proto === 17 ? view.getInt32(l4) : proto === 1 ? icmpEchoPorts(view, l4) : 0;
  key.srcPort = ports >>> 16;
  key.dstPort = ports & 0xffff;
  return true;
}

/** ICMP echo request/reply: the identifier as both ports (`id << 16 | id`); other ICMP: 0. */
function icmpEchoPorts(view: DataView, l4: number): number {
  const type = view.getUint8(l4);
  if (type !== 8 && type !== 0) return 0;
  const id = view.getUint16(l4 + 4);
  return (id << 16) | id;
}

/**
 * For an ICMP error (types 3, 4, 5, 11, 12) that `parseFrame` accepted, fills `key` with the
 * 5-tuple of the QUOTED packet as it was sent (source = the host that received the error;
 * call `key.reverse()` for the direction of the error itself). Returns false when the frame
 * is not an ICMP error or the quote is too short (IPv4 header + 8 bytes) or malformed.
 */
export function extractIcmpInnerFlowKey(view: DataView, layout: FrameLayout, key: FlowKey): boolean {
  const l4 = layout.l4Offset;
  if (layout.ipProto !== 1 || l4 < 0 || layout.l4Length < 8) return false;
  const type = view.getUint8(l4);
  if (type !== 3 && type !== 11 && type !== 12 && type !== 5 && type !== 4) return false;
  const inner = l4 + 8;
  const quoted = layout.l4Length - 8;
  if (quoted < 28) return false;
  const vihl = view.getUint8(inner);
  const ihl = (vihl & 0x0f) << 2;
  if (vihl >>> 4 !== 4 || ihl < 20 || ihl + 8 > quoted) return false;
  const proto = view.getUint8(inner + 9);
  const il4 = inner + ihl;
  key.srcIp = view.getUint32(inner + 12);
  key.dstIp = view.getUint32(inner + 16);
  key.proto = proto;
  if (proto === 6 || proto === 17) {
    key.srcPort = view.getUint16(il4);
    key.dstPort = view.getUint16(il4 + 2);
  } else if (proto === 1 && (view.getUint8(il4) === 8 || view.getUint8(il4) === 0)) {
    const id = view.getUint16(il4 + 4);
    key.srcPort = id;
    key.dstPort = id;
  } else {
    key.srcPort = 0;
    key.dstPort = 0;
  }
  return true;
}

/**
 * Directed hash of a 5-tuple (unsigned 32-bit result): `(a→b)` and `(b→a)` differ.
 * murmur3_32 body over the words (srcIp, dstIp, srcPort << 16 | dstPort), seeded with
 * `seed` mixed with the protocol, then the murmur3 finalizer. Addresses may be given
 * unsigned or as their int32 alias (`x | 0`); the hash is the same.
 */
export function flowHashDirected(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number, seed = 0): number {
  return flowHashWords(srcIp | 0, dstIp | 0, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff), proto & 0xff, seed) >>> 0;
}

/**
 * {@link flowHashDirected} on the key as three int32 words (`ports` = srcPort << 16 |
 * dstPort, `proto` 0..255), returned as an int32 (`>>> 0` gives the unsigned hash). The
 * murmur3 rounds are written out, without helper calls, so that a caller's per-packet
 * path stays one function for V8. For tables that keep keys as int32 words.
 *
 * @example
 * ```ts
 * flowHashWords(src | 0, dst | 0, (sport << 16) | dport, 6, seed) >>> 0 === flowHashDirected(src, dst, sport, dport, 6, seed); // true
 * ```
 */
export function flowHashWords(src: number, dst: number, ports: number, proto: number, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed ^ Math.imul(proto, 0x9e3779b1);
  let k = Math.imul(src, c1);
  h ^= Math.imul((k << 15) | (k >>> 17), c2);
  h = (((h << 13) | (h >>> 19)) * 5 + 0xe6546b64) | 0;
  k = Math.imul(dst, c1);
  h ^= Math.imul((k << 15) | (k >>> 17), c2);
  h = (((h << 13) | (h >>> 19)) * 5 + 0xe6546b64) | 0;
  k = Math.imul(ports, c1);
  h ^= Math.imul((k << 15) | (k >>> 17), c2);
  h = (((h << 13) | (h >>> 19)) * 5 + 0xe6546b64) | 0;
  h ^= 12;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Symmetric hash of a 5-tuple (unsigned 32-bit): the directed hash of the endpoints in
 * canonical order (lower address first; equal addresses: lower port first), so
 * `flowHash(a, b, pa, pb, p) === flowHash(b, a, pb, pa, p)` for every flow.
 *
 * @example
 * ```ts
 * flowHash(0xc6120001, 0xc6120002, 40000, 80, 6) === flowHash(0xc6120002, 0xc6120001, 80, 40000, 6); // true
 * ```
 */
export function flowHash(srcIp: number, dstIp: number, srcPort: number, dstPort: number, proto: number, seed = 0): number {
  // Compare unsigned, pass int32 aliases on (never a boxed double).
  const a = srcIp >>> 0;
  const b = dstIp >>> 0;
  if (a < b || (a === b && srcPort <= dstPort)) return flowHashDirected(srcIp | 0, dstIp | 0, srcPort, dstPort, proto, seed);
  return flowHashDirected(dstIp | 0, srcIp | 0, dstPort, srcPort, proto, seed);
}
