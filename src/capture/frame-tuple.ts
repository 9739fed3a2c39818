import { OK } from '../generated/drop-reason-codes.ts';
import { Ipv6HeaderChain, walkIpv6ExtensionHeaders } from '../packet/ipv6-extension-headers.ts';
import { formatIpv6, type Ipv6Address } from '../packet/ipv6-address.ts';

/**
 * The fields a capture or trace filter looks at, read straight from a frame: its family
 * (IPv4 or IPv6), the protocol (IPv6: the upper-layer one, after the extension headers), the
 * addresses, the ports (TCP and UDP, first fragments only) and the TCP flags. One
 * `FrameTuple` is reused for every frame: `readFrameTuple` overwrites every field and
 * allocates nothing. It validates only what it needs to read safely (lengths, version, IHL,
 * the extension-header chain); a frame the pipeline's parser would drop can still be
 * captured.
 *
 * @example
 * ```ts
 * const t = new FrameTuple();
 * if (readFrameTuple(pool.view, pool.dataOffset(id), pool.meta.length[id], t) && t.proto === 6) console.log(t.dport);
 * ```
 */
export class FrameTuple {
  /** True when the frame carries IPv4 (after up to two VLAN tags). */
  ipv4 = false;
  /** True when the frame carries IPv6 (after up to two VLAN tags). With neither, every other field is 0. */
  ipv6 = false;
  /** IP protocol number (IPv6: the upper-layer protocol after the extension headers). */
  proto = 0;
  /** IPv4 source address, unsigned 32-bit (0 for IPv6). */
  src = 0;
  /** IPv4 destination address, unsigned 32-bit (0 for IPv6). */
  dst = 0;
  /** IPv6 source address as four 32-bit words, most significant first (zeros for IPv4). */
  readonly src6 = new Int32Array(4);
  /** IPv6 destination address as four 32-bit words. */
  readonly dst6 = new Int32Array(4);
  /** TCP/UDP source port (0 for other protocols and later fragments); ICMP: 0. */
  sport = 0;
  /** TCP/UDP destination port; ICMP: 0. */
  dport = 0;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10); 0 for other protocols. */
  tcpFlags = 0;
  /** ICMP or ICMPv6 type, -1 for other protocols. */
  icmpType = -1;
  /** IPv4 time to live, or IPv6 hop limit. */
  ttl = 0;
  /** Scratch of the extension-header walk. */
  readonly chain = new Ipv6HeaderChain();
}

/**
 * Fills `t` from the frame at `[off, off + len)` of `view`; returns whether it is IPv4 or
 * IPv6. Never throws for what the frame holds (the range itself must lie inside the view).
 */
export function readFrameTuple(view: DataView, off: number, len: number, t: FrameTuple): boolean {
  t.ipv4 = false;
  t.ipv6 = false;
  t.proto = 0;
  t.src = 0;
  t.dst = 0;
  t.src6.fill(0);
  t.dst6.fill(0);
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
  let l4: number;
  if (type === 0x0800) {
    if (l3 + 20 > end) return false;
    const vihl = view.getUint8(l3);
    const ihl = (vihl & 15) << 2;
    if (vihl >>> 4 !== 4 || ihl < 20 || l3 + ihl > end) return false;
    t.ipv4 = true;
    t.ttl = view.getUint8(l3 + 8);
    t.proto = view.getUint8(l3 + 9);
    t.src = view.getUint32(l3 + 12);
    t.dst = view.getUint32(l3 + 16);
    if ((view.getUint16(l3 + 6) & 0x1fff) !== 0) return true;
    l4 = l3 + ihl;
  } else if (type === 0x86dd) {
    if (l3 + 40 > end || view.getUint8(l3) >>> 4 !== 6) return false;
    t.ipv6 = true;
    t.ttl = view.getUint8(l3 + 7);
    for (let i = 0; i < 4; i++) {
      t.src6[i] = view.getInt32(l3 + 8 + 4 * i);
      t.dst6[i] = view.getInt32(l3 + 24 + 4 * i);
    }
    const payloadEnd = Math.min(end, l3 + 40 + view.getUint16(l3 + 4));
    const c = t.chain;
    if (walkIpv6ExtensionHeaders(view, l3, payloadEnd, c) !== OK) {
      // A chain that does not parse: the next header of the fixed header, no ports.
      t.proto = view.getUint8(l3 + 6);
      return true;
    }
    t.proto = c.upperProtocol;
    if (c.laterFragment) return true;
    l4 = c.upperOffset;
  } else {
    return false;
  }
  if ((t.proto === 6 || t.proto === 17) && l4 + 4 <= end) {
    t.sport = view.getUint16(l4);
    t.dport = view.getUint16(l4 + 2);
    if (t.proto === 6 && l4 + 14 <= end) t.tcpFlags = view.getUint8(l4 + 13);
  } else if ((t.proto === (t.ipv4 ? 1 : 58)) && l4 + 1 <= end) {
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
 * `icmp 198.18.1.5 > 198.18.2.100 type 8`, `ipv4 proto 47 …`; IPv6 with bracketed
 * endpoints: `tcp [2001:db8:1::2]:40000 > [2001:db8:2::100]:80 [S]`,
 * `icmp6 2001:db8:1::2 > 2001:db8:1::1 type 128`, `ipv6 proto 50 …`; `non-IP`.
 */
export function formatFrameTuple(t: FrameTuple): string {
  if (!t.ipv4 && !t.ipv6) return 'non-IP';
  const s = t.ipv4 ? formatIpv4(t.src) : formatIpv6(t.src6 as unknown as Ipv6Address);
  const d = t.ipv4 ? formatIpv4(t.dst) : formatIpv6(t.dst6 as unknown as Ipv6Address);
  if (t.proto === 6 || t.proto === 17) {
    const endpoint = (a: string, port: number) => (t.ipv4 ? `${a}:${port}` : `[${a}]:${port}`);
    const base = `${t.proto === 6 ? 'tcp' : 'udp'} ${endpoint(s, t.sport)} > ${endpoint(d, t.dport)}`;
    if (t.proto !== 6) return base;
    let flags = '';
    for (let b = 0; b < FLAG_LETTERS.length; b++) if ((t.tcpFlags & (1 << b)) !== 0) flags += FLAG_LETTERS[b];
    return `${base} [${flags === '' ? 'none' : flags}]`;
  }
  const icmp = t.ipv4 ? 'icmp' : 'icmp6';
  if (t.proto === (t.ipv4 ? 1 : 58)) return `${icmp} ${s} > ${d}${t.icmpType >= 0 ? ` type ${t.icmpType}` : ''}`;
  return `${t.ipv4 ? 'ipv4' : 'ipv6'} proto ${t.proto} ${s} > ${d}`;
}
