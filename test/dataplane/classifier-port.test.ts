import { describe, expect, it } from 'vitest';
import { classifierRules } from '../../src/controller/chain-ends.ts';
import { ClassifierPort } from '../../src/dataplane/ports/classifier-port.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { buildIpv6Frame, type Ipv6FrameSpec } from '../../src/packet/ipv6-frame-builder.ts';

const ip = (s: string) => parseIpv4(s) as number;

describe('classifier port', () => {
  it('admits only frames matching every rule list, counts and frees the rest', () => {
    const rules = classifierRules({ protocols: ['tcp', 'udp'], destinations: ['198.18.2.0/24'], ports: [80, '8000-8080'] });
    expect(rules).toEqual({ protocols: [6, 17], destinations: [[ip('198.18.2.0'), 0xffffff00]], destinations6: [], ports: [[80, 80], [8000, 8080]] });
    const frame = (proto: number, dst: string, dport: number) => buildFrame({ proto, srcIp: ip('198.18.1.2'), dstIp: ip(dst), srcPort: 4000, dstPort: dport });
    const frames = [
      frame(IpProto.TCP, '198.18.2.100', 80),
      frame(IpProto.UDP, '198.18.2.7', 8080),
      frame(IpProto.TCP, '198.18.2.100', 22),
      frame(IpProto.TCP, '198.18.3.1', 80),
      frame(IpProto.ICMP, '198.18.2.100', 1),
      new Uint8Array(60),
    ];
    const pool = PacketPool.create({ bufferCount: 64, owner: 1 });
    const port = new ClassifierPort(new GeneratorPort(frames), rules);
    const ids = new Uint32Array(16);
    expect(port.fill(pool, ids, 16)).toBe(2);
    expect(port.rejected).toBe(4);
    expect(pool.inUse()).toBe(2);
    pool.freeBatch(ids, 2);
    expect(pool.leakCheck()).toEqual([]);
  });

  it('admits everything with empty rule lists', () => {
    const port = new ClassifierPort(new GeneratorPort([buildFrame({ proto: IpProto.ICMP, srcIp: 1, dstIp: 2 })]), { protocols: [], destinations: [], ports: [] });
    const pool = PacketPool.create({ bufferCount: 8, owner: 1 });
    expect(port.fill(pool, new Uint32Array(4), 4)).toBe(1);
  });

  describe('dual stack', () => {
    const v6 = (spec: Ipv6FrameSpec) => {
      const bytes = new Uint8Array(256);
      return bytes.slice(0, buildIpv6Frame(new DataView(bytes.buffer), 0, { src: [0x2001, 0xdb8, 1, 0, 0, 0, 0, 2], srcPort: 40000, ...spec }));
    };
    const vip6 = [0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x100];
    const other6 = [0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x100];
    const admitted = (rules: ReturnType<typeof classifierRules>, frames: Uint8Array[]): boolean[] => {
      const port = new ClassifierPort(new GeneratorPort([new Uint8Array(60)]), rules);
      return frames.map((f) => port.admits(new DataView(f.buffer, f.byteOffset), 0, f.length));
    };

    it('judges IPv6 on its own prefixes, its upper-layer protocol and port, and IPv4 on its own', () => {
      const rules = classifierRules({ protocols: ['tcp', 'icmpv6'], destinations: ['198.18.2.100/32', '2001:db8:2::/64'], ports: [80] });
      expect(rules.destinations6).toEqual([[[0x20010db8, 0x00020000, 0, 0], [0xffffffff, 0xffffffff, 0, 0]]]);
      expect(rules.protocols).toEqual([6, 58]);
      expect(
        admitted(rules, [
          v6({ proto: 6, dst: vip6, dstPort: 80 }),
          v6({ proto: 6, dst: vip6, dstPort: 80, extensionHeaders: [{ type: 0 }, { type: 60 }] }),
          v6({ proto: 6, dst: vip6, dstPort: 22 }),
          v6({ proto: 6, dst: other6, dstPort: 80 }),
          v6({ proto: 17, dst: vip6, dstPort: 80 }),
          buildFrame({ proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.100'), srcPort: 4000, dstPort: 80 }),
          buildFrame({ proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.101'), srcPort: 4000, dstPort: 80 }),
        ]),
      ).toEqual([true, true, false, false, false, true, false]);
    });

    it('admits no IPv6 when only IPv4 destinations are listed, and no IPv4 when only IPv6 ones are', () => {
      const tcp6 = v6({ proto: 6, dst: vip6, dstPort: 80 });
      const tcp4 = buildFrame({ proto: IpProto.TCP, srcIp: ip('198.18.1.2'), dstIp: ip('198.18.2.100'), srcPort: 4000, dstPort: 80 });
      expect(admitted(classifierRules({ destinations: ['198.18.2.0/24'] }), [tcp6, tcp4])).toEqual([false, true]);
      expect(admitted(classifierRules({ destinations: ['2001:db8:2::/48'] }), [tcp6, tcp4])).toEqual([true, false]);
      expect(admitted(classifierRules({}), [tcp6, tcp4])).toEqual([true, true]);
    });

    it('rejects what it cannot judge: a later fragment under a port rule, a malformed header chain, a payload past the frame', () => {
      const rules = classifierRules({ ports: [80] });
      const truncated = v6({ proto: 6, dst: vip6, dstPort: 80 });
      new DataView(truncated.buffer).setUint16(14 + 4, 400);
      const tooLong = v6({ proto: 6, dst: vip6, dstPort: 80, extensionHeaders: Array.from({ length: 9 }, () => ({ type: 60 })) });
      expect(
        admitted(rules, [
          v6({ proto: 6, dst: vip6, dstPort: 80, extensionHeaders: [{ type: 44, fragmentOffset: 3 }] }),
          v6({ proto: 6, dst: vip6, dstPort: 80, extensionHeaders: [{ type: 44, fragmentOffset: 0, moreFragments: true }], payloadLength: 4 }),
          truncated,
          tooLong,
          new Uint8Array(40),
        ]),
      ).toEqual([false, true, false, false, false]);
    });
  });
});
