import { describe, expect, it } from 'vitest';
import { ipv4Address, ipv4Cidr, portRange, protocol, prefixMask } from '../../../src/config/net-schemas.ts';

describe('network config schemas', () => {
  it('parses addresses, CIDRs, port ranges and protocols', () => {
    expect(ipv4Address.parse('198.18.0.1')).toBe(0xc6120001);
    expect(ipv4Cidr.parse('198.19.7.9/15')).toEqual({ addr: 0xc6120000, prefix: 15, mask: 0xfffe0000 });
    expect(ipv4Cidr.parse('10.1.2.3')).toEqual({ addr: 0x0a010203, prefix: 32, mask: 0xffffffff });
    expect(ipv4Cidr.parse('any')).toEqual({ addr: 0, prefix: 0, mask: 0 });
    expect(portRange.parse(80)).toEqual({ from: 80, to: 80 });
    expect(portRange.parse('8000-8080')).toEqual({ from: 8000, to: 8080 });
    expect(portRange.parse('any')).toEqual({ from: 0, to: 65535 });
    expect(protocol.parse('udp')).toBe(17);
    expect(protocol.parse(47)).toBe(47);
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(24)).toBe(0xffffff00);
  });

  it('rejects malformed values with a message saying what is wrong', () => {
    expect(ipv4Address.safeParse('198.18.0.256').error?.issues[0].message).toBe('not an IPv4 address');
    expect(ipv4Cidr.safeParse('198.18.0.0/33').error?.issues[0].message).toMatch(/CIDR/);
    expect(ipv4Cidr.safeParse('198.18.0.0/1/2').success).toBe(false);
    expect(portRange.safeParse('90-80').success).toBe(false);
    expect(portRange.safeParse(70000).error?.issues[0].message).toMatch(/out of range/);
    expect(protocol.safeParse('sctp').success).toBe(false);
  });
});
