/**
 * The firewall's answer to a rejected packet, for both families, written in place over the
 * frame by the packet library's reply writers (`src/packet/reply/`). One body the generated
 * pipeline calls (once per family branch, and the same in its tracing variant), so the
 * image carries the decision once.
 *
 * A reject names `RejectWith.AUTO` (-1), `RejectWith.TCP_RESET` (-2) or an ICMP
 * destination-unreachable code (0…15):
 * - TCP with AUTO or TCP_RESET → a TCP reset (IPv4: `writeTcpReset`; IPv6: `writeTcpReset6`);
 * - otherwise IPv4 → ICMP destination unreachable with the code (AUTO: port unreachable, 3;
 *   `writeIcmpError`, the body of `writeIcmpUnreachable`);
 * - otherwise IPv6 → the ICMPv6 error {@link ICMPV6_REJECT} pairs with the code (AUTO: port
 *   unreachable, 1/4), as nftables' `icmpx` and ip6tables' REJECT pair them.
 * Nothing is written when the reply writers' guards forbid an answer (RFC 1122, RFC 4443
 * §2.4 (e)): the caller drops the packet as `reject_suppressed`.
 *
 * @example
 * ```ts
 * const n = writeRejectAnswer(view, off, L, rj);
 * if (n === 0) dropAs('reject_suppressed');
 * else { len = n; verdict = side; } // a reset when L.ipProto === 6 && rj < 0
 * ```
 */
import type { FrameLayout } from '#nfvkit/packet/frame-layout.ts';
import { icmpErrorPermitted, writeIcmpError } from '#nfvkit/packet/reply/icmp-unreachable.ts';
import { icmpv6ErrorPermitted, ipv6UpperNextHeaderPointer, writeIcmpv6Error } from '#nfvkit/packet/reply/icmpv6-error.ts';
import { tcpResetPermitted6, writeTcpReset6 } from '#nfvkit/packet/reply/tcp-reset-ipv6.ts';
import { tcpResetPermitted, writeTcpReset } from '#nfvkit/packet/reply/tcp-reset.ts';

/**
 * The ICMPv6 answer of each ICMP destination-unreachable code a reject names, as
 * `type << 8 | code`, indexed by the IPv4 code (0…15): net → no route (1/0), host → address
 * unreachable (1/3), port → port unreachable (1/4), the prohibited ones (9, 10, 13) and
 * those without an IPv6 counterpart → administratively prohibited (1/1); protocol (2) →
 * parameter problem "unrecognized next header" (4/1) pointing at the next-header field,
 * which is what an IPv6 host answers for a protocol it does not speak (RFC 8200 §4).
 */
export const ICMPV6_REJECT = Uint16Array.of(
  0x100, 0x103, 0x401, 0x104, 0x101, 0x101, 0x100, 0x103, 0x101, 0x101, 0x101, 0x100, 0x103, 0x101, 0x101, 0x101,
);

/**
 * Rewrites the rejected frame at `off` (parsed into `L`) into its answer with `reject`
 * (`RejectWith.*` or an ICMP unreachable code) and returns the answer's length, or 0 when no
 * answer may be sent (frame untouched). No allocation.
 */
export function writeRejectAnswer(view: DataView, off: number, L: FrameLayout, reject: number): number {
  const l3 = L.l3Offset;
  const l4 = L.l4Offset;
  const tcp = L.ipProto === 6 && reject < 0;
  if (L.ethertype === 0x86dd) {
    if (tcp) return tcpResetPermitted6(view, off, l3, l4) ? writeTcpReset6(view, off, l3, l4) : 0;
    if (!icmpv6ErrorPermitted(view, off, l3, l4, L.ipProto)) return 0;
    const r = reject < 0 ? 0x104 : ICMPV6_REJECT[reject & 15];
    return writeIcmpv6Error(view, off, l3, r >>> 8, r & 255, r === 0x401 ? ipv6UpperNextHeaderPointer(view, l3, l3 + L.ipHeaderLength) : 0, null);
  }
  if (tcp) return tcpResetPermitted(view, off, l3, l4) ? writeTcpReset(view, off, l3, l4) : 0;
  return icmpErrorPermitted(view, off, l3, l4) ? writeIcmpError(view, off, l3, 3, reject < 0 ? 3 : reject, -1) : 0;
}
