import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ipAddress, ipPrefix, ipv4Address, ipv4Cidr, ipv4CidrField, portRange, protocol, prefixMask } from '../../../src/config/net-schemas.ts';
import { issueCode, validateConfig } from '../../../src/config/validate-config.ts';
import { ConfigValidationError, IPV6_UNSUPPORTED } from '../../../src/errors/catalog.ts';

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

describe('dual-stack address and prefix schemas', () => {
  it('tag each value with its family', () => {
    expect(ipAddress.parse('198.18.0.1')).toEqual({ family: 4, addr: 0xc6120001 });
    expect(ipAddress.parse('2001:DB8::1')).toEqual({ family: 6, addr: [0x20010db8, 0, 0, 1] });
    expect(ipAddress.parse('::ffff:198.18.0.1')).toEqual({ family: 6, addr: [0, 0, 0xffff, 0xc6120001] });
    expect(ipPrefix.parse('198.19.7.9/15')).toEqual({ family: 4, addr: 0xc6120000, prefix: 15, mask: 0xfffe0000 });
    expect(ipPrefix.parse('2001:db8:ff::1/32')).toEqual({ family: 6, addr: [0x20010db8, 0, 0, 0], prefix: 32, mask: [0xffffffff, 0, 0, 0] });
    expect(ipPrefix.parse('2001:db8::1')).toEqual({ family: 6, addr: [0x20010db8, 0, 0, 1], prefix: 128, mask: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff] });
  });

  it('say what is wrong with a malformed value of either family', () => {
    expect(ipAddress.safeParse('198.18.0.256').error?.issues[0].message).toBe('not an IP address (IPv4 a.b.c.d or IPv6 such as 2001:db8::1)');
    expect(ipAddress.safeParse('fe80::1%eth0').error?.issues[0].message).toMatch(/^not an IPv6 address: zone id "%eth0" not accepted/);
    expect(ipPrefix.safeParse('2001:db8::/129').error?.issues[0].message).toBe('not an IPv6 prefix: prefix length 129 out of range 0-128');
    expect(ipPrefix.safeParse('any').error?.issues[0].message).toMatch(/not an IPv4 or IPv6 prefix/);
  });
});

describe('IPv4-only fields', () => {
  it('refuse a valid IPv6 value as not supported yet, with the issue code and the field reason', () => {
    const addr = ipv4Address.safeParse('2001:db8::1').error?.issues[0];
    expect(addr?.message).toBe('2001:db8::1: IPv6 is not supported here yet (this field takes IPv4 only for now) [NFVKIT_ERR_IPV6_UNSUPPORTED]');
    expect(issueCode(addr!)).toBe(IPV6_UNSUPPORTED);
    const cidr = ipv4CidrField('firewall rules match IPv4 only for now').safeParse('2001:db8::/32').error?.issues[0];
    expect(cidr?.message).toMatch(/^2001:db8::\/32: IPv6 is not supported here yet \(firewall rules match IPv4 only for now\)/);
    expect(issueCode(cidr!)).toBe(IPV6_UNSUPPORTED);
  });

  it('call malformed IPv6 malformed, without the code', () => {
    const bad = ipv4Address.safeParse('2001:db8:::1').error?.issues[0];
    expect(bad?.message).toMatch(/^not an IPv4 address, nor an IPv6 one \(/);
    expect(issueCode(bad!)).toBeUndefined();
    expect(ipv4Cidr.safeParse('2001:db8::/200').error?.issues[0].message).toBe('not an IPv4 CIDR block, nor an IPv6 prefix (prefix length 200 out of range 0-128)');
  });

  it('validateConfig carries the code into each ConfigIssue, beside issues without one', () => {
    const schema = z.object({ src: ipv4Cidr, dst: ipv4Cidr, vip: ipv4Address });
    try {
      validateConfig(schema, { src: '2001:db8::/32', dst: 'nonsense', vip: '198.18.0.1' }, 'test config', ['rules', 0]);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigValidationError);
      const issues = (err as ConfigValidationError).issues;
      expect(issues).toEqual([
        { path: 'rules[0].src', message: expect.stringContaining('[NFVKIT_ERR_IPV6_UNSUPPORTED]'), code: IPV6_UNSUPPORTED },
        { path: 'rules[0].dst', message: 'not an IPv4 CIDR block (a.b.c.d/len)' },
      ]);
      expect((err as ConfigValidationError).code).toBe('NFVKIT_ERR_CONFIG_INVALID');
    }
  });
});
