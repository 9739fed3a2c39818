import { describe, expect, it } from 'vitest';
import {
  copyMac, ETH_SRC_OFFSET, ethDstHi16, ethDstLo32, ethSrcHi16, ethSrcLo32, ethType, EtherType, isVlanTpid, macHi16, macLo32,
  macToString, parseMac, setEthDst, setEthSrc, setEthType, setMac, setVlanId, setVlanTag, swapEthAddresses, vlanDei, vlanId,
  vlanInnerType, vlanPcp, vlanTci, vlanTpid,
} from '../../../src/packet/ethernet.ts';
import { hex, placed, toHex } from './frame-fixtures.ts';

const QINQ = hex('0123456789ab fedcba987654 88a8 a00a 8100 3fff 0800 4500');
const B = 9;

describe('ethernet view', () => {
  it('reads MACs as (hi16, lo32) and the EtherType at an absolute offset', () => {
    const v = placed(QINQ, B);
    expect(ethDstHi16(v, B)).toBe(0x0123);
    expect(ethDstLo32(v, B)).toBe(0x456789ab);
    expect(ethSrcHi16(v, B)).toBe(0xfedc);
    expect(ethSrcLo32(v, B)).toBe(0xba987654);
    expect(macHi16(v, B + ETH_SRC_OFFSET)).toBe(0xfedc);
    expect(macLo32(v, B + ETH_SRC_OFFSET)).toBe(0xba987654);
    expect(ethType(v, B)).toBe(EtherType.QINQ);
  });

  it('reads both VLAN tags', () => {
    const v = placed(QINQ, B);
    const outer = B + 12;
    const inner = outer + 4;
    expect(vlanTpid(v, outer)).toBe(0x88a8);
    expect(vlanTci(v, outer)).toBe(0xa00a);
    expect([vlanPcp(v, outer), vlanDei(v, outer), vlanId(v, outer)]).toEqual([5, 0, 10]);
    expect(vlanInnerType(v, outer)).toBe(0x8100);
    expect([vlanPcp(v, inner), vlanDei(v, inner), vlanId(v, inner)]).toEqual([1, 1, 0xfff]);
    expect(vlanInnerType(v, inner)).toBe(EtherType.IPV4);
    expect([0x8100, 0x88a8, 0x0800, 0x9100].map(isVlanTpid)).toEqual([true, true, false, false]);
  });

  it('writes fields in place', () => {
    const v = placed(QINQ, B);
    setEthDst(v, B, 0xffff, 0xffffffff);
    setEthSrc(v, B, 0x0200, 0x00000001);
    setVlanTag(v, B + 12, 0x8100, 3, 1, 42);
    setVlanId(v, B + 16, 7);
    setEthType(v, B, 0x8100);
    const out = new Uint8Array(v.buffer, B, QINQ.length);
    expect(toHex(out)).toBe('ffffffffffff' + '020000000001' + '8100' + '702a' + '8100' + '3007' + '0800' + '4500');
  });

  it('swaps and copies addresses', () => {
    const v = placed(QINQ, B);
    swapEthAddresses(v, B);
    expect([ethDstHi16(v, B), ethDstLo32(v, B), ethSrcHi16(v, B), ethSrcLo32(v, B)]).toEqual([0xfedc, 0xba987654, 0x0123, 0x456789ab]);
    copyMac(v, B, B + 6);
    expect(ethSrcLo32(v, B)).toBe(0xba987654);
    setMac(v, B, 0xaabb, 0xccddeeff);
    expect(macToString(ethDstHi16(v, B), ethDstLo32(v, B))).toBe('aa:bb:cc:dd:ee:ff');
  });

  it('formats and parses MAC text', () => {
    expect(macToString(0x0200, 0x00000001)).toBe('02:00:00:00:00:01');
    expect(parseMac('AA-bb-cc-dd-ee-0f')).toEqual([0xaabb, 0xccddee0f]);
    expect(parseMac('aa:bb:cc:dd:ee')).toBeUndefined();
    expect(parseMac('gg:bb:cc:dd:ee:ff')).toBeUndefined();
  });
});
