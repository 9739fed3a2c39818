import { describe, expect, it } from 'vitest';
import { parseGatewayAddress, parseTaggedGatewayAddress } from '../../../src/gateway/gateway-config.ts';

describe('gateway addresses of either family', () => {
  it('tags IPv4 as parseGatewayAddress parses it, and IPv6 with host bits kept', () => {
    expect(parseTaggedGatewayAddress('198.18.1.1/24')).toEqual({ family: 4, ...parseGatewayAddress('198.18.1.1/24') });
    expect(parseTaggedGatewayAddress('2001:db8:1::1/64')).toEqual({ family: 6, address: [0x20010db8, 0x00010000, 0, 1], prefix: 64, mask: [0xffffffff, 0xffffffff, 0, 0] });
    expect(parseTaggedGatewayAddress('2001:db8:1::1')).toMatchObject({ family: 6, prefix: 128 });
  });

  it('refuses the malformed of either family', () => {
    for (const bad of ['198.18.1.1/33', '2001:db8::1/129', 'fe80::1%eth0/64', 'gateway', '']) expect(parseTaggedGatewayAddress(bad), bad).toBeUndefined();
  });
});
