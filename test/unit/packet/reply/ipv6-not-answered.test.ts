import { describe, expect, it } from 'vitest';
import { DropReason } from '../../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../../src/packet/frame-layout.ts';
import { buildIpv6Frame } from '../../../../src/packet/ipv6-frame-builder.ts';
import { parseFrame } from '../../../../src/packet/parse-frame.ts';
import { icmpErrorPermitted } from '../../../../src/packet/reply/icmp-unreachable.ts';
import { tcpResetPermitted } from '../../../../src/packet/reply/tcp-reset.ts';

// The IPv4 reply writers must never answer an IPv6 packet (tcp-reset-ipv6.ts and icmpv6-error.ts do): their guards say no to it.
describe('IPv4 reply writers refuse IPv6 packets', () => {
  it('tcpResetPermitted and icmpErrorPermitted are false for an IPv6 TCP SYN between unicast hosts', () => {
    const view = new DataView(new ArrayBuffer(256));
    const len = buildIpv6Frame(view, 0, { proto: 6, tcpFlags: 0x02, payloadLength: 4 });
    const L = new FrameLayout();
    expect(parseFrame(view, 0, len, L)).toBe(DropReason.OK);
    expect(L.ipProto).toBe(6);
    expect(tcpResetPermitted(view, 0, L.l3Offset, L.l4Offset)).toBe(false);
    expect(icmpErrorPermitted(view, 0, L.l3Offset, L.l4Offset)).toBe(false);
  });
});
