/**
 * The fields a capture or trace filter looks at, read straight from a frame: whether it is
 * IPv4, the protocol, the addresses, the ports (TCP and UDP, first fragments only) and the
 * TCP flags. One `FrameTuple` is reused for every frame: `readFrameTuple` overwrites every
 * field and allocates nothing. It validates only what it needs to read safely (lengths,
 * version, IHL); a frame the pipeline's parser would drop can still be captured.
 *
 * @example
 * ```ts
 * const t = new FrameTuple();
 * if (readFrameTuple(pool.view, pool.dataOffset(id), pool.meta.length[id], t) && t.proto === 6) console.log(t.dport);
 * ```
 */
export class FrameTuple {
  /** True when the frame carries IPv4 (after up to two VLAN tags); every other field is 0 otherwise. */
  ipv4 = false;
  /** IPv4 protocol number. */
  proto = 0;
  /** Source address, unsigned 32-bit. */
  src = 0;
  /** Destination address, unsigned 32-bit. */
  dst = 0;
  /** TCP/UDP source port (0 for other protocols and later fragments); ICMP: 0. */
  sport = 0;
  /** TCP/UDP destination port; ICMP: 0. */
  dport = 0;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10); 0 for other protocols. */
  tcpFlags = 0;
  /** ICMP type, -1 for other protocols. */
  icmpType = -1;
  /** IPv4 time to live. */
  ttl = 0;
}

/**
 * Fills `t` from the frame at `[off, off + len)` of `view`; returns `t.ipv4`. Never throws
 * for what the frame holds (the range itself must lie inside the view).
 */
export function readFrameTuple(view: DataView, off: number, len: number, t: FrameTuple): boolean {
  t.ipv4 = false;
  t.proto = 0;
  t.src = 0;
  t.dst = 0;
  t.sport = 0;
  t.dport = 0;
  t.tcpFlags = 0;
  t.icmpType = -1;
  t.ttl = 0;
  const end = off + len;
  let p = off + 12;
  if (p + 2 > end) return false;
  let type = view.getUint16(p);
  for (let tags = 0; tags < 2 && (type === 0x8100 || type === 0x88a8); tags++) {
    p += 4;
    if (p + 2 > end) return false;
    type = view.getUint16(p);
  }
  const l3 = p + 2;
  if (type !== 0x0800 || l3 + 20 > end) return false;
  const vihl = view.getUint8(l3);
  const ihl = (vihl & 15) << 2;
  if (vihl >>> 4 !== 4 || ihl < 20 || l3 + ihl > end) return false;
  t.ipv4 = true;
  t.ttl = view.getUint8(l3 + 8);
  t.proto = view.getUint8(l3 + 9);
  t.src = view.getUint32(l3 + 12);
  t.dst = view.getUint32(l3 + 16);
  const laterFragment = (view.getUint16(l3 + 6) & 0x1fff) !== 0;
  const l4 = l3 + ihl;
  if (laterFragment) return true;
  if ((t.proto === 6 || t.proto === 17) && l4 + 4 <= end) {
    t.sport = view.getUint16(l4);
    t.dport = view.getUint16(l4 + 2);
    if (t.proto === 6 && l4 + 14 <= end) t.tcpFlags = view.getUint8(l4 + 13);
  } else if (t.proto === 1 && l4 + 1 <= end) {
    t.icmpType = view.getUint8(l4);
  }
  return true;
}

/** Dotted quad of an unsigned 32-bit address. */
export function formatIpv4(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

const FLAG_LETTERS = ['F', 'S', 'R', 'P', '.', 'U'];

/**
 * One line for people, tcpdump style: `tcp 198.18.1.5:40000 > 198.18.2.100:80 [S]`,
 * `icmp 198.18.1.5 > 198.18.2.100 type 8`, `ipv4 proto 47 …`, `non-IPv4`.
 */
export function formatFrameTuple(t: FrameTuple): string {
  if (!t.ipv4) return 'non-IPv4';
  const s = formatIpv4(t.src);
  const d = formatIpv4(t.dst);
  if (t.proto === 6 || t.proto === 17) {
    const base = `${t.proto === 6 ? 'tcp' : 'udp'} ${s}:${t.sport} > ${d}:${t.dport}`;
    if (t.proto !== 6) return base;
    let flags = '';
    for (let b = 0; b < FLAG_LETTERS.length; b++) if ((t.tcpFlags & (1 << b)) !== 0) flags += FLAG_LETTERS[b];
    return `${base} [${flags === '' ? 'none' : flags}]`;
  }
  if (t.proto === 1) return `icmp ${s} > ${d}${t.icmpType >= 0 ? ` type ${t.icmpType}` : ''}`;
  return `ipv4 proto ${t.proto} ${s} > ${d}`;
}
