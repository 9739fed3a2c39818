import { describe, expect, it } from 'vitest';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import {
  ipv6DstWord, ipv6FlowLabel, ipv6HopLimit, ipv6IsLinkLocalAt, ipv6IsMulticastAt, ipv6IsUnspecifiedAt, ipv6NextHeader,
  ipv6PayloadLength, ipv6SrcEqualsDst, ipv6SrcWord, ipv6ToFullString, ipv6TrafficClass, ipv6Version, readIpv6Dst, readIpv6Src,
  setIpv6DstWord, setIpv6FlowLabel, setIpv6HopLimit, setIpv6NextHeader, setIpv6PayloadLength, setIpv6SrcWord, setIpv6TrafficClass,
  setIpv6VersionClassLabel,
} from '../../../src/packet/ipv6.ts';
import { IPV6_MAX_EXTENSION_HEADERS, Ipv6HeaderChain, walkIpv6ExtensionHeaders } from '../../../src/packet/ipv6-extension-headers.ts';
import { frame6, hex, viewOf } from './frame-fixtures.ts';

// 2001:db8::1 → ff02::1:ff00:2, traffic class 0xb8, flow label 0x12345, hop limit 255, UDP, 8 bytes of payload.
const HEADER = hex('6b812345 0010 11 ff 20010db8000000000000000000000001 ff0200000000000000000001ff000002');

describe('IPv6 header view', () => {
  it('reads every field of a hand-written header', () => {
    const v = viewOf(HEADER);
    expect([ipv6Version(v, 0), ipv6TrafficClass(v, 0), ipv6FlowLabel(v, 0), ipv6PayloadLength(v, 0), ipv6NextHeader(v, 0), ipv6HopLimit(v, 0)])
      .toEqual([6, 0xb8, 0x12345, 16, 17, 255]);
    expect([0, 1, 2, 3].map((i) => ipv6SrcWord(v, 0, i))).toEqual([0x20010db8, 0, 0, 1]);
    expect([0, 1, 2, 3].map((i) => ipv6DstWord(v, 0, i))).toEqual([0xff020000, 0, 1, 0xff000002]);
    const out = new Uint32Array(8);
    readIpv6Src(v, 0, out);
    readIpv6Dst(v, 0, out, 4);
    expect(Array.from(out)).toEqual([0x20010db8, 0, 0, 1, 0xff020000, 0, 1, 0xff000002]);
    expect(ipv6ToFullString(v, 8)).toBe('2001:db8:0:0:0:0:0:1');
    expect(ipv6ToFullString(v, 24)).toBe('ff02:0:0:0:0:1:ff00:2');
    expect([ipv6IsMulticastAt(v, 24), ipv6IsMulticastAt(v, 8), ipv6IsLinkLocalAt(v, 8), ipv6IsUnspecifiedAt(v, 8), ipv6SrcEqualsDst(v, 0)])
      .toEqual([true, false, false, false, false]);
  });

  it('setters change their field only', () => {
    const bytes = HEADER.slice();
    const v = viewOf(bytes);
    setIpv6TrafficClass(v, 0, 0x04);
    expect([ipv6Version(v, 0), ipv6TrafficClass(v, 0), ipv6FlowLabel(v, 0)]).toEqual([6, 0x04, 0x12345]);
    setIpv6FlowLabel(v, 0, 0xfffff);
    expect([ipv6Version(v, 0), ipv6TrafficClass(v, 0), ipv6FlowLabel(v, 0)]).toEqual([6, 0x04, 0xfffff]);
    setIpv6VersionClassLabel(v, 0, 6, 0xff, 1);
    expect(hex('6ff00001')).toEqual(bytes.subarray(0, 4));
    setIpv6PayloadLength(v, 0, 1280);
    setIpv6NextHeader(v, 0, 58);
    setIpv6HopLimit(v, 0, 1);
    setIpv6SrcWord(v, 0, 3, 0xfe);
    setIpv6DstWord(v, 0, 0, 0xfe800000);
    expect([ipv6PayloadLength(v, 0), ipv6NextHeader(v, 0), ipv6HopLimit(v, 0), ipv6SrcWord(v, 0, 3), ipv6DstWord(v, 0, 0)]).toEqual([1280, 58, 1, 0xfe, 0xfe800000]);
    expect(ipv6IsLinkLocalAt(v, 24)).toBe(true);
    for (let i = 0; i < 4; i++) setIpv6SrcWord(v, 0, i, ipv6DstWord(v, 0, i));
    expect(ipv6SrcEqualsDst(v, 0)).toBe(true);
    for (let i = 0; i < 4; i++) setIpv6SrcWord(v, 0, i, 0);
    expect(ipv6IsUnspecifiedAt(v, 8)).toBe(true);
  });
});

describe('IPv6 extension-header walk', () => {
  const walk = (bytes: Uint8Array, chain = new Ipv6HeaderChain()) => {
    const v = viewOf(bytes);
    return { code: walkIpv6ExtensionHeaders(v, 14, 14 + 40 + v.getUint16(18), chain), chain };
  };

  it('walks each kind and reports where the upper layer starts', () => {
    const { code, chain } = walk(frame6({ proto: 58, extensionHeaders: [{ type: 0 }, { type: 60, length: 16 }, { type: 43 }, { type: 44 }, { type: 51, length: 16 }] }));
    expect(code).toBe(DropReason.OK);
    expect(chain).toMatchObject({ upperProtocol: 58, upperOffset: 54 + 8 + 16 + 24 + 8 + 16, count: 5, fragmentHeader: 54 + 48, isFragment: false, laterFragment: false, finalDestination: 38 });
  });

  it(`stops a chain beyond ${IPV6_MAX_EXTENSION_HEADERS} headers after reading a bounded number of them`, () => {
    const { code, chain } = walk(frame6({ proto: 17, extensionHeaders: Array.from({ length: 500 }, () => ({ type: 60 })) }));
    expect(code).toBe(DropReason.IPV6_EXT_HEADER_CHAIN_TOO_LONG);
    expect(chain.count).toBe(IPV6_MAX_EXTENSION_HEADERS + 1);
    expect(chain.upperOffset).toBe(-1);
  });

  it('a later fragment ends the walk at its fragment header; a type 2 routing header names the final destination', () => {
    let r = walk(frame6({ proto: 6, payloadLength: 4, extensionHeaders: [{ type: 44, fragmentOffset: 2, moreFragments: true }] }));
    expect(r.chain).toMatchObject({ upperProtocol: 6, upperOffset: 62, fragmentOffset: 2, moreFragments: true, isFragment: true, laterFragment: true });
    r = walk(frame6({ proto: 17, extensionHeaders: [{ type: 43, routingType: 2, segmentsLeft: 1 }] }), r.chain);
    expect(r.code).toBe(DropReason.OK);
    expect(r.chain).toMatchObject({ finalDestination: 62, fragmentHeader: -1, isFragment: false, laterFragment: false });
  });
});
