import { describe, expect, it } from 'vitest';
import {
  ICMP_HEADER_LENGTH, icmpChecksum, icmpCode, icmpEchoId, icmpEchoSeq, icmpInnerIpv4Offset, icmpRestOfHeader, IcmpType, icmpType,
  isIcmpEcho, isIcmpError, setIcmpChecksum, setIcmpCode, setIcmpEchoId, setIcmpEchoSeq, setIcmpType,
} from '../../../src/packet/icmp.ts';
import { hex, placed, toHex } from './frame-fixtures.ts';

const L4 = 33;

describe('icmp view', () => {
  it('reads and writes an echo request', () => {
    const v = placed(hex('08 00 f7fd 0102 0304'), L4);
    expect([icmpType(v, L4), icmpCode(v, L4), icmpChecksum(v, L4), icmpEchoId(v, L4), icmpEchoSeq(v, L4)]).toEqual([8, 0, 0xf7fd, 0x0102, 0x0304]);
    expect(icmpRestOfHeader(v, L4)).toBe(0x01020304);
    setIcmpType(v, L4, IcmpType.ECHO_REPLY);
    setIcmpCode(v, L4, 1);
    setIcmpChecksum(v, L4, 0xabcd);
    setIcmpEchoId(v, L4, 0xffff);
    setIcmpEchoSeq(v, L4, 9);
    expect(toHex(new Uint8Array(v.buffer, L4, 8))).toBe('0001abcdffff0009');
  });
  it('classifies types and finds the quoted header of an error', () => {
    expect([0, 8, 3, 11].map(isIcmpEcho)).toEqual([true, true, false, false]);
    expect([3, 4, 5, 11, 12, 0, 8, 13].map(isIcmpError)).toEqual([true, true, true, true, true, false, false, false]);
    expect(icmpInnerIpv4Offset(100)).toBe(100 + ICMP_HEADER_LENGTH);
  });
});
