import { describe, expect, it } from 'vitest';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { nat } from '../../../functions/nat/pipeline.ts';
import { natConfigSchema } from '../../../functions/nat/config.ts';
import { planNat } from '../../../functions/nat/nat-plan.ts';
import { NatProto } from '../../../functions/nat/nat-proto.ts';
import { ip } from './nat-harness.ts';

function issues(config: unknown): ReadonlyArray<{ path: string; message: string }> {
  try {
    compilePipeline(nat, config);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return (err as ConfigValidationError).issues;
  }
  throw new Error('config was accepted');
}

describe('nat: configuration', () => {
  it('plans a full configuration into numbers, with defaults', () => {
    const plan = planNat(
      natConfigSchema.parse({
        snat: { addresses: ['198.18.100.9', '198.18.100.0/31'], match: ['10.0.0.0/8'] },
        portForwards: [{ protocol: 'udp', externalAddress: '198.18.200.1', externalPort: '53-54', internalAddress: '10.0.0.53' }],
        timeouts: { udp: 60 },
      }),
    );
    expect(plan.externalAddresses).toEqual([ip('198.18.100.0'), ip('198.18.100.1'), ip('198.18.100.9'), ip('198.18.200.1')]);
    expect(plan.poolAddressIndexes).toEqual([2, 0, 1]);
    expect([plan.portFrom, plan.portTo]).toEqual([1024, 65535]);
    expect(plan.match).toEqual([[ip('10.0.0.0'), 0xff000000]]);
    expect(plan.forwards).toEqual([{ proto: NatProto.UDP, extAddrIndex: 3, extPort: 53, intAddr: ip('10.0.0.53'), intPort: 53, count: 2 }]);
    expect(plan.timeoutsMs).toEqual([240_000, 7_440_000, 60_000, 60_000]);
    expect(plan).toMatchObject({ capacity: 65536, hairpinning: true, inboundRefresh: true });
  });

  it('compiles deterministically', () => {
    const cfg = { snat: { addresses: '198.18.100.1' } };
    expect(compilePipeline(nat, cfg).sourceHash).toBe(compilePipeline(nat, cfg).sourceHash);
    expect(compilePipeline(nat, { ...cfg, capacity: 1024 }).sourceHash).not.toBe(compilePipeline(nat, cfg).sourceHash);
  });

  it('reports malformed fields with their paths, all at once', () => {
    const found = issues({
      snat: { addresses: ['198.18.100.1', 'nope'], ports: '9-2', extra: 1 },
      portForwards: [{ protocol: 'sctp', externalAddress: '198.18.100.1', externalPort: 80, internalAddress: '10.0.0.1' }],
      timeouts: { udp: -1 },
    });
    expect(found.map((i) => i.path).sort()).toEqual(['portForwards[0].protocol', 'snat', 'snat.addresses[1]', 'snat.ports', 'timeouts.udp']);
  });

  it('reports cross-field problems with their paths', () => {
    const fwd = (extPort: number | string, internalPort?: number, internalAddress = '10.0.0.1') => ({ protocol: 'tcp', externalAddress: '198.18.100.1', externalPort: extPort, internalAddress, ...(internalPort === undefined ? {} : { internalPort }) });
    expect(issues({})).toEqual([{ path: '', message: expect.stringMatching(/nothing to translate/) }]);
    expect(issues({ snat: { addresses: '198.18.0.0/24' } })[0]).toMatchObject({ path: 'snat.addresses', message: expect.stringMatching(/256 addresses/) });
    expect(issues({ snat: { addresses: '198.18.0.1', ports: '0-100' } })[0].path).toBe('snat.ports');
    expect(issues({ portForwards: [fwd(80), fwd('70-80', 1000)] })[0]).toMatchObject({ path: 'portForwards[1].externalPort', message: expect.stringMatching(/overlaps portForwards\[0\]/) });
    expect(issues({ portForwards: [fwd(80, 80), fwd(81, 80)] })[0]).toMatchObject({ path: 'portForwards[1].internalPort', message: expect.stringMatching(/already forwarded/) });
    expect(issues({ portForwards: [fwd('65000-65535', 2000), fwd('100-200', 65500)] }).map((i) => i.path)).toEqual(['portForwards[1].internalPort']);
    expect(issues({ snat: { addresses: '198.18.0.1' }, capacity: 0 })[0].path).toBe('capacity');
  });
});

describe('nat: IPv6 in the configuration', () => {
  it('refuses IPv6 pools, matches and forwards as not supported, at their fields', () => {
    const why = 'IPv6 is not supported here yet (the SNAT pool and port forwards are IPv4 (IPv6 passes untranslated; IPv6 clients reach IPv4 through `nat64`)) [NFVKIT_ERR_IPV6_UNSUPPORTED]';
    const code = 'NFVKIT_ERR_IPV6_UNSUPPORTED';
    expect(
      issues({
        snat: { addresses: ['198.18.100.0/30', '2001:db8:100::/126'], match: ['10.0.0.0/8', 'fd00::/8'] },
        portForwards: [{ protocol: 'tcp', externalAddress: '2001:db8:100::1', externalPort: 80, internalAddress: 'fd00::5' }],
      }),
    ).toEqual([
      { path: 'snat.addresses[1]', message: `2001:db8:100::/126: ${why}`, code },
      { path: 'snat.match[1]', message: `fd00::/8: ${why}`, code },
      { path: 'portForwards[0].externalAddress', message: `2001:db8:100::1: ${why}`, code },
      { path: 'portForwards[0].internalAddress', message: `fd00::5: ${why}`, code },
    ]);
  });

  it('plans nat64: the well-known prefix by default, a network-specific prefix and source networks when given', () => {
    expect(planNat(natConfigSchema.parse({ snat: { addresses: '198.18.100.1' } })).nat64).toBeNull();
    expect(planNat(natConfigSchema.parse({ snat: { addresses: '198.18.100.1' }, nat64: {} })).nat64).toEqual({
      prefix: [0x0064ff9b, 0, 0, 0],
      length: 96,
      layout: { template: [0x0064ff9b, 0, 0, 0], prefixMask: [0xffffffff, 0xffffffff, 0xffffffff, 0], positions: [12, 13, 14, 15] },
      match: [[0, 0, 0, 0, 0, 0, 0, 0]],
    });
    expect(planNat(natConfigSchema.parse({ snat: { addresses: '198.18.100.1' }, nat64: { prefix: '2001:db8:122::/48', match: ['2001:db8:1::1/48'] } })).nat64).toEqual({
      prefix: [0x20010db8, 0x01220000, 0, 0],
      length: 48,
      // 2001:db8:122 | v4 bytes 6, 7 | u octet 8 | v4 bytes 9, 10 | suffix
      layout: { template: [0x20010db8, 0x01220000, 0, 0], prefixMask: [0xffffffff, 0xffff0000, 0, 0], positions: [6, 7, 9, 10] },
      match: [[0x20010db8, 0x00010000, 0, 0, 0xffffffff, 0xffff0000, 0, 0]],
    });
  });

  it('reports bad nat64 input at its field', () => {
    expect(issues({ snat: { addresses: '198.18.100.1' }, nat64: { prefix: '2001:db8::/80' } })).toEqual([
      { path: 'nat64.prefix', message: '/80: RFC 6052 NAT64 prefixes are /32, /40, /48, /56, /64, /96' },
    ]);
    expect(issues({ snat: { addresses: '198.18.100.1' }, nat64: { prefix: '2001:db8:0:0:ff00::/96' } })[0]).toMatchObject({ path: 'nat64.prefix', message: expect.stringMatching(/u" octet/) });
    expect(issues({ snat: { addresses: '198.18.100.1' }, nat64: { prefix: '198.18.0.0/16', match: ['2001:db8::/32', '10.0.0.0/8', '2001:zz::/32'] } }).map((i) => [i.path, i.message])).toEqual([
      ['nat64.prefix', '198.18.0.0/16: an IPv4 prefix; NAT64 takes IPv6 prefixes here (2001:db8::/32)'],
      ['nat64.match[1]', '10.0.0.0/8: an IPv4 prefix; NAT64 takes IPv6 prefixes here (2001:db8::/32)'],
      ['nat64.match[2]', expect.stringMatching(/^not an IPv6 prefix/)],
    ]);
    expect(issues({ portForwards: [{ protocol: 'tcp', externalAddress: '198.18.100.1', externalPort: 80, internalAddress: '10.0.0.1' }], nat64: {} })).toEqual([
      { path: 'nat64', message: 'NAT64 maps IPv6 clients onto the SNAT pool: give `snat.addresses` too' },
    ]);
    expect(issues({ snat: { addresses: '198.18.100.1' }, nat64: { prefx: '64:ff9b::/96' } })[0].path).toBe('nat64');
  });
});
