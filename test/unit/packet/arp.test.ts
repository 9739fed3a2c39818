import { describe, expect, it } from 'vitest';
import {
  ARP_LENGTH, arpFrameToReply, arpHlen, arpHtype, arpOp, ArpOp, arpPlen, arpPtype, arpShaHi16, arpShaLo32, arpSpa, arpThaHi16,
  arpThaLo32, arpToReply, arpTpa, setArpOp, setArpSha, setArpSpa, setArpTha, setArpTpa, writeArpHeader,
} from '../../../src/packet/arp.ts';
import { hex, placed, toHex } from './frame-fixtures.ts';

const REQUEST = hex('ffffffffffff 02aabbccddee 0806 0001 0800 06 04 0001 02aabbccddee c6120001 000000000000 c6120002');
const B = 3;
const A = B + 14;

describe('arp view', () => {
  it('reads an Ethernet/IPv4 request', () => {
    const v = placed(REQUEST, B);
    expect([arpHtype(v, A), arpPtype(v, A), arpHlen(v, A), arpPlen(v, A), arpOp(v, A)]).toEqual([1, 0x0800, 6, 4, ArpOp.REQUEST]);
    expect([arpShaHi16(v, A), arpShaLo32(v, A)]).toEqual([0x02aa, 0xbbccddee]);
    expect(arpSpa(v, A)).toBe(0xc6120001);
    expect([arpThaHi16(v, A), arpThaLo32(v, A)]).toEqual([0, 0]);
    expect(arpTpa(v, A)).toBe(0xc6120002);
    expect(REQUEST.length - 14).toBe(ARP_LENGTH);
  });

  it('writes every field', () => {
    const v = placed(new Uint8Array(42), B);
    writeArpHeader(v, A, ArpOp.REPLY);
    setArpSha(v, A, 0x0211, 0x22334455);
    setArpSpa(v, A, 0xc6120102);
    setArpTha(v, A, 0x0266, 0x778899aa);
    setArpTpa(v, A, 0xc6130001);
    setArpOp(v, A, ArpOp.REQUEST);
    expect(toHex(new Uint8Array(v.buffer, A, ARP_LENGTH))).toBe('0001080006040001' + '021122334455' + 'c6120102' + '0266778899aa' + 'c6130001');
  });

  it('turns a request into a reply in place', () => {
    const v = placed(REQUEST, B);
    arpToReply(v, A, 0x0200, 0x00000002);
    expect(arpOp(v, A)).toBe(ArpOp.REPLY);
    expect([arpShaHi16(v, A), arpShaLo32(v, A), arpSpa(v, A)]).toEqual([0x0200, 0x00000002, 0xc6120002]);
    expect([arpThaHi16(v, A), arpThaLo32(v, A), arpTpa(v, A)]).toEqual([0x02aa, 0xbbccddee, 0xc6120001]);
    expect(toHex(new Uint8Array(v.buffer, B, 14))).toBe('ffffffffffff02aabbccddee0806');
  });

  it('turns a request frame into a reply frame', () => {
    const v = placed(REQUEST, B);
    arpFrameToReply(v, B, A, 0x0200, 0x00000002);
    expect(toHex(new Uint8Array(v.buffer, B, REQUEST.length))).toBe(
      '02aabbccddee' + '020000000002' + '0806' + '0001080006040002' + '020000000002' + 'c6120002' + '02aabbccddee' + 'c6120001',
    );
  });
});
