import { describe, expect, it } from 'vitest';
import { classifierRules } from '../../src/controller/chain-ends.ts';
import { ClassifierPort } from '../../src/dataplane/ports/classifier-port.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { PacketPool } from '../../src/pool/packet-pool.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';

const ip = (s: string) => parseIpv4(s) as number;

describe('classifier port', () => {
  it('admits only frames matching every rule list, counts and frees the rest', () => {
    const rules = classifierRules({ protocols: ['tcp', 'udp'], destinations: ['198.18.2.0/24'], ports: [80, '8000-8080'] });
    expect(rules).toEqual({ protocols: [6, 17], destinations: [[ip('198.18.2.0'), 0xffffff00]], ports: [[80, 80], [8000, 8080]] });
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
});
