import { describe, expect, it } from 'vitest';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { frame, frame6, mutated6 } from '../../unit/packet/frame-fixtures.ts';
import { ip, NatHarness } from './nat-harness.ts';
import { groups, parsed } from './nat64-frames.ts';

const CONFIG = { snat: { addresses: '198.18.100.1', match: ['10.1.0.0/16'] }, nat64: {} };
const src = groups('2001:db8:1::10');
const dst = groups('64:ff9b::198.18.0.9');

describe('nat64: hostile and unsupported inputs are counted drops, never translated wrong', () => {
  it('fragments (first and later), AH, routing headers with segments left: named drops; skippable options are dropped in translation', async () => {
    const nat = await NatHarness.create(CONFIG);
    const out = nat.run(
      [
        { side: Side.INSIDE, bytes: frame6({ src, dst, proto: 17, extensionHeaders: [{ type: 44, moreFragments: true }] }) },
        { side: Side.INSIDE, bytes: frame6({ src, dst, proto: 17, payloadLength: 16, extensionHeaders: [{ type: 44, fragmentOffset: 3 }] }) },
        { side: Side.INSIDE, bytes: frame6({ src, dst, proto: 17, extensionHeaders: [{ type: 51, length: 16 }] }) },
        { side: Side.INSIDE, bytes: frame6({ src, dst, proto: 17, extensionHeaders: [{ type: 43, segmentsLeft: 1 }] }) },
        { side: Side.INSIDE, bytes: frame6({ src, dst, proto: 17, srcPort: 9, extensionHeaders: [{ type: 0 }, { type: 43, segmentsLeft: 0 }, { type: 60, length: 16 }] }) },
      ],
      1000,
    );
    expect(out.map((r) => r.reason)).toEqual(['nat64_fragment', 'nat64_fragment', 'nat64_unsupported_header', 'nat64_unsupported_header', null]);
    const t = parsed(out[4].bytes);
    expect(out[4].verdict).toBe(Verdict.OUTSIDE);
    expect(t.checksumsOk).toBe(true);
    expect([t.L.ipProto, t.L.ipHeaderLength, t.dst4]).toEqual([17, 20, ip('198.18.0.9')]);
    expect(out[4].bytes.length).toBe(frame6({ src, dst, proto: 17 }).length - 20);
    expect(nat.counter('mappings_created')).toBe(1);
  });

  it('destinations in the prefix that are not canonical or embed no unicast IPv4 address: nat64_bad_address', async () => {
    const nat = await NatHarness.create({ ...CONFIG, nat64: { prefix: '2001:db8:64::/64' } });
    const to = (a: string) => ({ side: Side.INSIDE, bytes: frame6({ src, dst: groups(a), proto: 17 }) });
    const out = nat.run(
      [
        to('2001:db8:64:0:c6:1200:900:1'), // suffix not zero
        to('2001:db8:64:0:1c6:1200:900:0'), // u octet not zero
        to('2001:db8:64:0:7f:0:100:0'), // 127.0.0.1
        to('2001:db8:64:0:e0:0:100:0'), // 224.0.0.1
        to('2001:db8:64:0:ff:ffff:ff00:0'), // 255.255.255.255
        to('2001:db8:64:0:0:0:100:0'), // 0.0.0.1
        to('2001:db8:64:0:c6:1200:900:0'), // 198.18.0.9: fine
      ],
      1000,
    );
    expect(out.map((r) => r.reason)).toEqual([...Array(6).fill('nat64_bad_address'), null]);
    expect(parsed(out[6].bytes).dst4).toBe(ip('198.18.0.9'));
    expect(nat.counter('nat64_bad_address')).toBe(6);
  });

  it('truncated and lying frames stop at parse-frame with its reason; protocols NAT64 does not translate are counted', async () => {
    const nat = await NatHarness.create(CONFIG);
    const good = frame6({ src, dst, proto: 6, tcpFlags: 0x02, payloadLength: 20 });
    const out = nat.run(
      [
        { side: Side.INSIDE, bytes: good.subarray(0, 14 + 40 + 10) },
        { side: Side.INSIDE, bytes: mutated6({ src, dst, proto: 17 }, (v, l3) => v.setUint16(l3 + 4, 900)) },
        { side: Side.INSIDE, bytes: frame6({ src, dst, proto: 47, payloadLength: 12 }) },
        { side: Side.INSIDE, bytes: frame6({ src, dst, proto: 58, icmpType: 135, hopLimit: 255, payloadLength: 16 }) },
      ],
      1000,
    );
    expect(out.every((r) => r.verdict === Verdict.DROP)).toBe(true);
    expect(out[0].reason).not.toMatch(/^nat/);
    expect(out[1].reason).not.toMatch(/^nat/);
    expect(out.slice(2).map((r) => r.reason)).toEqual(['unsupported_protocol', 'unsupported_icmp']);
    expect(nat.counter('mappings_created')).toBe(0);
  });

  it('hairpinning to a NAT64 mapping, from IPv4 or through the NAT64 prefix, is no_mapping', async () => {
    const nat = await NatHarness.create(CONFIG);
    const port = parsed(nat.one(Side.INSIDE, frame6({ src, dst, proto: 17, srcPort: 7000, dstPort: 53 }), 1000).bytes).sport;
    const hairpin = nat.one(Side.INSIDE, frame({ srcIp: ip('10.1.0.5'), dstIp: ip('198.18.100.1'), proto: 17, srcPort: 1, dstPort: port }), 1001);
    expect(hairpin.reason).toBe('no_mapping');
    const hairpin6 = nat.one(Side.INSIDE, frame6({ src: groups('2001:db8:1::11'), dst: groups('64:ff9b::198.18.100.1'), proto: 17, srcPort: 1, dstPort: port }), 1002);
    expect(hairpin6.reason).toBe('no_mapping');
  });
});
