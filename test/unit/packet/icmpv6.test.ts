import { describe, expect, it } from 'vitest';
import {
  findNdpOption, icmpv6Code, icmpv6EchoId, icmpv6EchoSeq, icmpv6Mtu, icmpv6Pointer, icmpv6QuotedOffset, icmpv6Type, isIcmpv6Echo,
  isIcmpv6Error, isIcmpv6QuotingError, isNdp, NDP_NS_NA_LENGTH, NdpAdvertisementFlag, ndpAdvertisementFlags, NdpOption,
  ndpRaCurHopLimit, ndpRaFlags, ndpRaReachableTime, ndpRaRetransTimer, ndpRaRouterLifetime, ndpTargetOffset, setIcmpv6Code, setIcmpv6Type,
} from '../../../src/packet/icmpv6.ts';
import { hex, viewOf } from './frame-fixtures.ts';

describe('ICMPv6 view', () => {
  it('classifies types', () => {
    expect([1, 2, 3, 4, 127, 128].map(isIcmpv6Error)).toEqual([true, true, true, true, true, false]);
    expect([0, 1, 4, 5].map(isIcmpv6QuotingError)).toEqual([false, true, true, false]);
    expect([128, 129, 130].map(isIcmpv6Echo)).toEqual([true, true, false]);
    expect([132, 133, 137, 138].map(isNdp)).toEqual([false, true, true, false]);
  });

  it('reads echo, packet too big, parameter problem', () => {
    const v = viewOf(hex('80 00 1234 abcd 0007'));
    expect([icmpv6Type(v, 0), icmpv6Code(v, 0), icmpv6EchoId(v, 0), icmpv6EchoSeq(v, 0)]).toEqual([128, 0, 0xabcd, 7]);
    setIcmpv6Type(v, 0, 2);
    setIcmpv6Code(v, 0, 0);
    expect(icmpv6Mtu(v, 0)).toBe(0xabcd0007);
    expect(icmpv6Pointer(v, 0)).toBe(0xabcd0007);
    expect(icmpv6QuotedOffset(100)).toBe(108);
  });

  it('reads a neighbour advertisement with its target link-layer option, and a router advertisement', () => {
    // NA, flags S|O, target fe80::1, option 2 (target link-layer address) 02:00:00:00:00:0b
    const na = viewOf(hex('88 00 0000 60000000 fe800000000000000000000000000001 0201 02000000000b'));
    expect(ndpAdvertisementFlags(na, 0)).toBe(NdpAdvertisementFlag.SOLICITED | NdpAdvertisementFlag.OVERRIDE);
    expect(ndpTargetOffset(0)).toBe(8);
    expect(findNdpOption(na, NDP_NS_NA_LENGTH, 32, NdpOption.TARGET_LINK_LAYER_ADDRESS)).toBe(24);
    expect(findNdpOption(na, NDP_NS_NA_LENGTH, 32, NdpOption.SOURCE_LINK_LAYER_ADDRESS)).toBe(-1);
    const ra = viewOf(hex('86 00 0000 40 80 0708 00001388 000003e8'));
    expect([ndpRaCurHopLimit(ra, 0), ndpRaFlags(ra, 0), ndpRaRouterLifetime(ra, 0), ndpRaReachableTime(ra, 0), ndpRaRetransTimer(ra, 0)])
      .toEqual([64, 0x80, 1800, 5000, 1000]);
  });

  it('refuses malformed NDP options: length 0, past the end, or a trailing fragment', () => {
    expect(findNdpOption(viewOf(hex('0100 0000 0000 0000')), 0, 8, 1)).toBe(-2);
    expect(findNdpOption(viewOf(hex('0102 0000 0000 0000')), 0, 8, 1)).toBe(-2);
    expect(findNdpOption(viewOf(hex('0301 0000 0000 0000 01')), 0, 9, 3)).toBe(-2);
    expect(findNdpOption(viewOf(hex('0501 0000 0000 0500 0101 0200 0000 0001')), 0, 16, 1)).toBe(8);
  });
});
