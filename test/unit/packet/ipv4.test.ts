import { describe, expect, it } from 'vitest';
import {
  IpProto, ipv4Checksum, ipv4DontFragment, ipv4Dscp, ipv4Dst, ipv4Ecn, ipv4Flags, Ipv4Flag, ipv4FragmentOffset, ipv4HeaderLength,
  ipv4Id, ipv4Ihl, ipv4IsFragment, ipv4MoreFragments, ipv4Protocol, ipv4ReservedFlag, ipv4Src, ipv4ToString, ipv4TotalLength,
  ipv4Tos, ipv4Ttl, ipv4Version, parseIpv4, setIpv4Checksum, setIpv4Dscp, setIpv4Dst, setIpv4Ecn, setIpv4Flags,
  setIpv4FragmentOffset, setIpv4Id, setIpv4Protocol, setIpv4Src, setIpv4TotalLength, setIpv4Ttl, setIpv4VersionIhl,
} from '../../../src/packet/ipv4.ts';
import { hex, placed, toHex } from './frame-fixtures.ts';

const HDR = hex('46 b9 0073 1c46 a0b9 40 11 b861 c0a80001 c0a800c7 94040000');
const L3 = 21;

describe('ipv4 view', () => {
  it('reads every field', () => {
    const v = placed(HDR, L3);
    expect([ipv4Version(v, L3), ipv4Ihl(v, L3), ipv4HeaderLength(v, L3)]).toEqual([4, 6, 24]);
    expect([ipv4Tos(v, L3), ipv4Dscp(v, L3), ipv4Ecn(v, L3)]).toEqual([0xb9, 46, 1]);
    expect([ipv4TotalLength(v, L3), ipv4Id(v, L3)]).toEqual([0x73, 0x1c46]);
    expect(ipv4Flags(v, L3)).toBe(Ipv4Flag.RESERVED | Ipv4Flag.MF);
    expect([ipv4ReservedFlag(v, L3), ipv4DontFragment(v, L3), ipv4MoreFragments(v, L3), ipv4IsFragment(v, L3)]).toEqual([true, false, true, true]);
    expect(ipv4FragmentOffset(v, L3)).toBe(0xb9);
    expect([ipv4Ttl(v, L3), ipv4Protocol(v, L3), ipv4Checksum(v, L3)]).toEqual([64, IpProto.UDP, 0xb861]);
    expect(ipv4Src(v, L3)).toBe(0xc0a80001);
    expect(ipv4Dst(v, L3)).toBe(0xc0a800c7);
  });

  it('writes every field without disturbing its neighbours', () => {
    const v = placed(HDR, L3);
    setIpv4VersionIhl(v, L3, 4, 5);
    setIpv4Dscp(v, L3, 10);
    setIpv4Ecn(v, L3, 2);
    setIpv4TotalLength(v, L3, 1500);
    setIpv4Id(v, L3, 0xbeef);
    setIpv4Flags(v, L3, Ipv4Flag.DF);
    setIpv4FragmentOffset(v, L3, 0x1fff);
    setIpv4FragmentOffset(v, L3, 0);
    setIpv4Ttl(v, L3, 1);
    setIpv4Protocol(v, L3, IpProto.TCP);
    setIpv4Checksum(v, L3, 0x1234);
    setIpv4Src(v, L3, 0xc6120001);
    setIpv4Dst(v, L3, 0xffffffff);
    expect(toHex(new Uint8Array(v.buffer, L3, 24))).toBe('45' + '2a' + '05dc' + 'beef' + '4000' + '01' + '06' + '1234' + 'c6120001' + 'ffffffff' + '94040000');
    setIpv4Flags(v, L3, Ipv4Flag.MF);
    setIpv4FragmentOffset(v, L3, 3);
    expect([ipv4Flags(v, L3), ipv4FragmentOffset(v, L3), ipv4IsFragment(v, L3)]).toEqual([1, 3, true]);
  });

  it('formats and parses dotted quads', () => {
    expect(ipv4ToString(0xc6120001)).toBe('198.18.0.1');
    expect(ipv4ToString(0xffffffff)).toBe('255.255.255.255');
    expect(parseIpv4('198.18.0.1')).toBe(0xc6120001);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('256.1.1.1')).toBeUndefined();
    expect(parseIpv4('1.2.3')).toBeUndefined();
  });
});
