import { describe, expect, it } from 'vitest';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { writeUdpChecksumIpv6 } from '../../../src/packet/checksum-ipv6.ts';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { IPV6_MAX_EXTENSION_HEADERS } from '../../../src/packet/ipv6-extension-headers.ts';
import { ParseFlag, parseFrame, parseFrameGeneral, verifyL4Checksum } from '../../../src/packet/parse-frame.ts';
import { frame6, mutated6, placed } from './frame-fixtures.ts';

const OFF = 21;
const V = ParseFlag.VERIFY_L4_CHECKSUM;

function parsed(bytes: Uint8Array, flags: number = V, length = bytes.length): { code: number; layout: FrameLayout; view: DataView } {
  const layout = new FrameLayout();
  const view = placed(bytes, OFF);
  return { code: parseFrame(view, OFF, length, layout, flags), layout, view };
}

describe('parseFrame: IPv6 frames it accepts', () => {
  it('UDP: offsets are absolute, lengths follow the headers', () => {
    const { code, layout } = parsed(frame6({ proto: 17, payloadLength: 18 }));
    expect(code).toBe(DropReason.OK);
    expect(layout).toMatchObject({
      frameOffset: OFF, frameLength: 80, ethertype: 0x86dd, vlanCount: 0, l3Offset: OFF + 14, l3Length: 66,
      ipHeaderLength: 40, ipTotalLength: 66, ipProto: 17, isFragment: false, l4Offset: OFF + 54, l4Length: 26,
      payloadOffset: OFF + 62, payloadLength: 18,
    });
  });

  it('TCP and ICMPv6 behind a VLAN tag, with Ethernet padding', () => {
    let r = parsed(frame6({ proto: 6, payloadLength: 5, vlanIds: [42], padding: 4 }));
    expect(r.code).toBe(DropReason.OK);
    expect(r.layout).toMatchObject({ vlanCount: 1, l3Offset: OFF + 18, ipProto: 6, l4Offset: OFF + 58, l4Length: 25, payloadLength: 5 });
    expect(Array.from(r.layout.vlanIds)).toEqual([42, 0]);
    r = parsed(frame6({ proto: 58, icmpType: 129, payloadLength: 32 }));
    expect(r.code).toBe(DropReason.OK);
    expect(r.layout).toMatchObject({ ipProto: 58, l4Length: 40, payloadOffset: r.layout.l4Offset + 8, payloadLength: 32 });
  });

  it(`extension headers: every kind, up to ${IPV6_MAX_EXTENSION_HEADERS}, in ipHeaderLength`, () => {
    const spec: Ipv6FrameSpec = {
      proto: 6, payloadLength: 3,
      extensionHeaders: [{ type: 0, length: 16 }, { type: 60 }, { type: 43 }, { type: 44 }, { type: 51, length: 24 }, { type: 60, length: 8 }],
    };
    const r = parsed(frame6(spec));
    expect(r.code).toBe(DropReason.OK);
    expect(r.layout).toMatchObject({ ipHeaderLength: 40 + 16 + 8 + 24 + 8 + 24 + 8, ipProto: 6, isFragment: false, payloadLength: 3 });
    expect(r.layout.l4Offset).toBe(r.layout.l3Offset + r.layout.ipHeaderLength);
    const max = Array.from({ length: IPV6_MAX_EXTENSION_HEADERS }, () => ({ type: 60 }));
    expect(parsed(frame6({ proto: 17, extensionHeaders: max })).code).toBe(DropReason.OK);
    expect(parsed(frame6({ proto: 17, extensionHeaders: [...max, { type: 60 }] })).code).toBe(DropReason.IPV6_EXT_HEADER_CHAIN_TOO_LONG);
  });

  it('a later fragment has no upper-layer header: no ports, its data as payload, protocol from the fragment header', () => {
    const r = parsed(frame6({ proto: 17, payloadLength: 24, extensionHeaders: [{ type: 44, fragmentOffset: 10, moreFragments: true }] }));
    expect(r.code).toBe(DropReason.OK);
    expect(r.layout).toMatchObject({ ipProto: 17, isFragment: true, l4Offset: -1, l4Length: 0, ipHeaderLength: 48, payloadOffset: OFF + 14 + 48, payloadLength: 32 });
    expect(verifyL4Checksum(r.view, r.layout)).toBe(DropReason.OK);
  });

  it('a first fragment carries the L4 header; its UDP length may exceed the fragment; its checksum is not verified', () => {
    const bytes = mutated6({ proto: 17, payloadLength: 16, extensionHeaders: [{ type: 44, moreFragments: true }] }, (v, l3) => {
      v.setUint16(l3 + 48 + 4, 1000); // the whole datagram's length
    });
    const r = parsed(bytes);
    expect(r.code).toBe(DropReason.OK);
    expect(r.layout).toMatchObject({ ipProto: 17, isFragment: true, l4Offset: OFF + 14 + 48, l4Length: 24, payloadLength: 16 });
  });

  it('an atomic fragment (offset 0, M clear) is no fragment and is verified', () => {
    const r = parsed(frame6({ proto: 6, payloadLength: 4, extensionHeaders: [{ type: 44 }] }));
    expect(r.code).toBe(DropReason.OK);
    expect(r.layout.isFragment).toBe(false);
    expect(r.layout.l4Offset).toBe(OFF + 14 + 48);
  });

  it('a routing header with segments left: the pseudo-header uses the final destination it names', () => {
    const bytes = mutated6({ proto: 17, payloadLength: 6, extensionHeaders: [{ type: 43, routingType: 4, segmentsLeft: 1 }] }, (v, l3) => {
      for (let i = 0; i < 16; i++) v.setUint8(l3 + 48 + i, 0x20 + i); // segment 0: the final destination
      writeUdpChecksumIpv6(v, l3, l3 + 64, 14, l3 + 48);
    });
    const r = parsed(bytes);
    expect(r.code).toBe(DropReason.OK);
    expect(parseFrame(r.view, OFF, bytes.length, r.layout, 0)).toBe(DropReason.OK);
    expect(verifyL4Checksum(r.view, r.layout)).toBe(DropReason.OK);
    // With no segment left the header's own destination is the final one, and the checksum above no longer fits it.
    r.view.setUint8(OFF + 14 + 43, 0);
    expect(parseFrame(r.view, OFF, bytes.length, r.layout, V)).toBe(DropReason.UDP_BAD_CHECKSUM);
  });

  it('no next header (59) and unknown upper layers pass as opaque payload by default', () => {
    const r = parsed(frame6({ proto: 59, extensionHeaders: [{ type: 0 }] }));
    expect(r.code).toBe(DropReason.OK);
    expect(r.layout).toMatchObject({ ipProto: 59, l4Length: 0, ipHeaderLength: 48 });
    expect(parsed(frame6({ proto: 132, payloadLength: 12 })).layout).toMatchObject({ ipProto: 132, l4Length: 12, payloadLength: 12 });
  });

  it('verifyL4Checksum after a fast parse agrees with the verifying parse', () => {
    for (const [bytes, want] of [
      [mutated6({ proto: 6, payloadLength: 4 }, (v, l3) => v.setUint8(l3 + 61, 0x81)), DropReason.TCP_BAD_CHECKSUM],
      [frame6({ proto: 17, udpNoChecksum: true }), DropReason.UDP_BAD_CHECKSUM],
      [mutated6({ proto: 58, payloadLength: 4 }, (v, l3) => v.setUint8(l3 + 49, 0x81)), DropReason.ICMPV6_BAD_CHECKSUM],
      [frame6({ proto: 58, icmpType: 135, payloadLength: 24 }), DropReason.OK],
    ] as Array<[Uint8Array, number]>) {
      const r = parsed(bytes, 0);
      expect(r.code).toBe(DropReason.OK);
      expect(verifyL4Checksum(r.view, r.layout)).toBe(want);
      expect(parsed(bytes, V).code).toBe(want);
    }
  });

  it('a dropped IPv6 frame keeps its L2 findings and resets everything deeper; the fast path and the general parser agree', () => {
    const layout = new FrameLayout();
    const view = placed(frame6({ proto: 17, payloadLength: 8, extensionHeaders: [{ type: 44, fragmentOffset: 1 }, { type: 44 }] }), OFF);
    expect(parseFrame(view, OFF, 14 + 40 + 16 + 16, layout)).toBe(DropReason.OK); // later fragment: the second header is data
    const bad = placed(frame6({ proto: 17, hopLimit: 0 }), OFF);
    expect(parseFrame(bad, OFF, 62, layout)).toBe(DropReason.IPV6_HOP_LIMIT_ZERO);
    expect(layout).toMatchObject({ ethertype: 0x86dd, l3Offset: OFF + 14, l3Length: 0, ipProto: 0, isFragment: false, l4Offset: -1, payloadOffset: -1 });
    const other = new FrameLayout();
    expect(parseFrameGeneral(bad, OFF, 62, other)).toBe(DropReason.IPV6_HOP_LIMIT_ZERO);
    expect(other).toEqual(layout);
  });
});

describe('parseFrame shortcut for untagged IPv6 TCP/UDP', () => {
  const fields = (l: FrameLayout) => [l.frameOffset, l.frameLength, l.ethertype, l.vlanCount, l.vlanIds[0], l.vlanIds[1], l.l3Offset, l.l3Length,
    l.ipHeaderLength, l.ipTotalLength, l.ipProto, l.isFragment, l.l4Offset, l.l4Length, l.payloadOffset, l.payloadLength];
  type Edit = [string, (v: DataView, l3: number) => void];

  it('agrees with the general parser at every length, payload-length and header boundary, reading nothing past the frame', () => {
    const edits: Edit[] = [
      ['as built', () => {}],
      ...[0, 7, 8, 9, 19, 20, 21, 27, 28, 40, 0xffff].map((n): Edit => [`payload length ${n}`, (v, l3) => v.setUint16(l3 + 4, n)]),
      ...[0x40, 0x70, 0x00].map((b): Edit => [`version byte ${b}`, (v, l3) => v.setUint8(l3, b)]),
      ['hop limit 0', (v, l3) => v.setUint8(l3 + 7, 0)],
      ['multicast source', (v, l3) => v.setUint8(l3 + 8, 0xff)],
      ...[0, 44, 58, 59, 47].map((p): Edit => [`next header ${p}`, (v, l3) => v.setUint8(l3 + 6, p)]),
      ...[0, 7, 8, 9, 25, 26, 27].map((n): Edit => [`udp length ${n}`, (v, l3) => v.setUint16(l3 + 44, n)]),
      ...[0x00, 0x40, 0x50, 0x60, 0xf0].map((b): Edit => [`tcp offset ${b}`, (v, l3) => v.setUint8(l3 + 52, b)]),
    ];
    const specs: Ipv6FrameSpec[] = [{ proto: 17, payloadLength: 0 }, { proto: 17, payloadLength: 18 }, { proto: 6, payloadLength: 0 }, { proto: 6, payloadLength: 5 }];
    for (const spec of specs) {
      for (const [name, edit] of edits) {
        if ((name.startsWith('udp') && spec.proto !== 17) || (name.startsWith('tcp') && spec.proto !== 6)) continue;
        const bytes = mutated6(spec, edit);
        for (let len = Math.max(0, bytes.length - 30); len <= bytes.length + 4; len++) {
          for (const flags of [0, ParseFlag.VERIFY_L4_CHECKSUM, ParseFlag.DROP_UNSUPPORTED_PROTOCOLS]) {
            const frame = new Uint8Array(len);
            frame.set(bytes.subarray(0, Math.min(len, bytes.length)));
            // The view ends where the frame does: a read past it throws.
            const view = placed(frame, OFF, 0x45, OFF + len);
            const a = new FrameLayout();
            const b = new FrameLayout();
            const where = `${spec.proto}/${spec.payloadLength} ${name} len ${len} flags ${flags}`;
            expect(parseFrame(view, OFF, len, a, flags), where).toBe(parseFrameGeneral(view, OFF, len, b, flags));
            expect(fields(a), where).toEqual(fields(b));
          }
        }
      }
    }
  });
});
