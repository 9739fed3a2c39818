import { describe, expect, it } from 'vitest';
import { issueCode } from '../../../src/config/validate-config.ts';
import { IPV6_UNSUPPORTED } from '../../../src/errors/catalog.ts';
import { endpointText, gatewayAddressText, ipAddressText, ipv4AddressTextFor, ipv4CidrText, parseEndpoint } from '../../../src/spec/spec-values.ts';

const firstIssue = (r: { error?: { issues: { message: string }[] } }) => r.error?.issues[0];

describe('spec address values (kept as text)', () => {
  it('ipAddressText keeps either family as written and refuses the malformed with the reason', () => {
    expect(ipAddressText.parse('198.18.0.1')).toBe('198.18.0.1');
    expect(ipAddressText.parse('2001:DB8::1')).toBe('2001:DB8::1');
    expect(firstIssue(ipAddressText.safeParse('2001:db8::1::2'))?.message).toBe('not an IPv6 address: "::" may appear only once');
  });

  it('the IPv4-only texts refuse IPv6 with the code and the reason given, and keep their IPv4 messages', () => {
    const issue = firstIssue(ipv4AddressTextFor('the VXLAN underlay is IPv4').safeParse('2001:db8::1'));
    expect(issue?.message).toBe('2001:db8::1: IPv6 is not supported here yet (the VXLAN underlay is IPv4) [NFVKIT_ERR_IPV6_UNSUPPORTED]');
    expect(issueCode(issue!)).toBe(IPV6_UNSUPPORTED);
    expect(issueCode(firstIssue(ipv4CidrText.safeParse('2001:db8::/48'))!)).toBe(IPV6_UNSUPPORTED);
    expect(firstIssue(ipv4CidrText.safeParse('198.18.0.0/33'))?.message).toBe('not an IPv4 CIDR block (a.b.c.d/len)');
    expect(ipv4CidrText.parse('198.18.0.0/15')).toBe('198.18.0.0/15');
  });

  it('gatewayAddressText: either family with host bits kept; the malformed with the reason, never coded IPv6-unsupported', () => {
    expect(gatewayAddressText.parse('198.18.1.1/24')).toBe('198.18.1.1/24');
    expect(gatewayAddressText.parse('2001:db8:1::1/64')).toBe('2001:db8:1::1/64');
    expect(gatewayAddressText.parse('2001:db8:1::1')).toBe('2001:db8:1::1');
    expect(firstIssue(gatewayAddressText.safeParse('198.18.1.1/40'))?.message).toBe('not an address with prefix (a.b.c.d/len or 2001:db8:1::1/64)');
    const bad6 = firstIssue(gatewayAddressText.safeParse('2001:db8:1::1/200'));
    expect(bad6?.message).toBe('not an address with prefix (a.b.c.d/len or 2001:db8:1::1/64)');
    expect(issueCode(bad6!)).toBeUndefined();
  });

  it('endpointText: a.b.c.d:port or [IPv6]:port; anything else malformed', () => {
    expect(endpointText.parse('198.18.2.100:80')).toBe('198.18.2.100:80');
    expect(endpointText.parse('[2001:db8::1]:80')).toBe('[2001:db8::1]:80');
    expect(parseEndpoint('[2001:db8::1]:80')).toEqual({ family: 6, addr: [0x20010db8, 0, 0, 1], port: 80 });
    expect(parseEndpoint('198.18.2.100:8080')).toEqual({ family: 4, addr: 0xc6120264, port: 8080 });
    for (const bad of ['2001:db8::1:80', '[2001:db8::1]:0', '[2001:db8:::1]:80', '[198.18.2.100]:80', '198.18.2.100:70000', '198.18.2.100', '[2001:db8::1]80']) {
      expect(parseEndpoint(bad), bad).toBeUndefined();
      const issue = firstIssue(endpointText.safeParse(bad));
      expect(issue?.message, bad).toBe('not an address:port (e.g. "198.18.2.100:80" or "[2001:db8::1]:80", port 1-65535)');
      expect(issueCode(issue!), bad).toBeUndefined();
    }
  });
});
