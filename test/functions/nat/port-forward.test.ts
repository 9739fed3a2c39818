import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/traffic/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { checksumsValid, hex, ip, NatHarness, srcPortOf } from './nat-harness.ts';

const EXT = ip('198.18.100.1');
const FWD_ADDR = ip('198.18.100.9');
const WEB = ip('10.1.0.80');
const DNS = ip('10.1.0.53');
const CLIENT = ip('198.19.5.5');
const HOST = ip('10.1.0.5');
const CONFIG = {
  snat: { addresses: ['198.18.100.1'], ports: '1024-65535', match: ['10.1.0.0/16'] },
  portForwards: [
    { protocol: 'tcp', externalAddress: '198.18.100.1', externalPort: 8080, internalAddress: '10.1.0.80', internalPort: 80 },
    { protocol: 'udp', externalAddress: '198.18.100.9', externalPort: '5300-5301', internalAddress: '10.1.0.53', internalPort: 53 },
  ],
};

describe('nat: port forwards (DNAT)', () => {
  it('forwards an external port to the internal server and translates its replies back', async () => {
    const nat = await NatHarness.create(CONFIG);
    const syn = { proto: IpProto.TCP, srcIp: CLIENT, dstIp: EXT, srcPort: 50000, dstPort: 8080, tcpFlags: 0x02 };
    const inb = nat.one(Side.OUTSIDE, syn, 0);
    expect(inb.verdict).toBe(Verdict.INSIDE);
    expect(hex(inb.bytes)).toBe(hex(buildFrame({ ...syn, dstIp: WEB, dstPort: 80 })));
    expect(checksumsValid(inb.bytes)).toBe(true);
    const synAck = { proto: IpProto.TCP, srcIp: WEB, dstIp: CLIENT, srcPort: 80, dstPort: 50000, tcpFlags: 0x12, payloadLength: 3 };
    const out = nat.one(Side.INSIDE, synAck, 1);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    expect(hex(out.bytes)).toBe(hex(buildFrame({ ...synAck, srcIp: EXT, srcPort: 8080 })));
    expect(nat.counter('port_forwarded')).toBe(1);
    expect(nat.counter('mappings_created')).toBe(0);
  });

  it('maps a port range one to one and never expires forwards', async () => {
    const nat = await NatHarness.create(CONFIG);
    const q = (port: number) => ({ proto: IpProto.UDP, srcIp: CLIENT, dstIp: FWD_ADDR, srcPort: 999, dstPort: port });
    const day = 86_400_000;
    const r = nat.run([{ side: Side.OUTSIDE, bytes: buildFrame(q(5300)) }, { side: Side.OUTSIDE, bytes: buildFrame(q(5301)) }, { side: Side.OUTSIDE, bytes: buildFrame(q(5302)) }], 30 * day);
    expect(hex(r[0].bytes)).toBe(hex(buildFrame({ ...q(5300), dstIp: DNS, dstPort: 53 })));
    expect(hex(r[1].bytes)).toBe(hex(buildFrame({ ...q(5301), dstIp: DNS, dstPort: 54 })));
    expect(r[2].reason).toBe('no_mapping');
    const reply = { proto: IpProto.UDP, srcIp: DNS, dstIp: ip('198.19.9.9'), srcPort: 54, dstPort: 4444 };
    const out = nat.one(Side.INSIDE, reply, 31 * day);
    expect(hex(out.bytes)).toBe(hex(buildFrame({ ...reply, srcIp: FWD_ADDR, srcPort: 5301 })));
  });

  it('never hands a forwarded port to a dynamic mapping', async () => {
    const nat = await NatHarness.create({ ...CONFIG, snat: { addresses: '198.18.100.1', ports: '8079-8081', match: ['10.1.0.0/16'] } });
    const ports = [0, 1, 2].map((k) => nat.one(Side.INSIDE, { proto: IpProto.TCP, srcIp: HOST, dstIp: CLIENT, srcPort: 3000 + k, dstPort: 80 }, 0));
    expect(ports.map((p) => p.reason)).toEqual([null, null, 'ports_exhausted']);
    expect(ports.slice(0, 2).map((p) => srcPortOf(p.bytes)).sort()).toEqual([8079, 8081]);
  });

  it('hairpins an inside client to a forwarded port with both ends translated', async () => {
    const nat = await NatHarness.create(CONFIG);
    const syn = { proto: IpProto.TCP, srcIp: HOST, dstIp: EXT, srcPort: 41000, dstPort: 8080, tcpFlags: 0x02 };
    const there = nat.one(Side.INSIDE, syn, 0);
    expect(there.verdict).toBe(Verdict.INSIDE);
    const extPort = srcPortOf(there.bytes);
    expect(hex(there.bytes)).toBe(hex(buildFrame({ ...syn, srcIp: EXT, srcPort: extPort, dstIp: WEB, dstPort: 80 })));
    expect(checksumsValid(there.bytes)).toBe(true);
    const synAck = { proto: IpProto.TCP, srcIp: WEB, dstIp: EXT, srcPort: 80, dstPort: extPort, tcpFlags: 0x12 };
    const back = nat.one(Side.INSIDE, synAck, 1);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(hex(back.bytes)).toBe(hex(buildFrame({ ...synAck, srcIp: EXT, srcPort: 8080, dstIp: HOST, dstPort: 41000 })));
    expect(nat.counter('hairpinned')).toBe(2);
  });

  it('sends inside traffic to an external address out when hairpinning is off', async () => {
    const nat = await NatHarness.create({ ...CONFIG, hairpinning: false });
    const syn = { proto: IpProto.TCP, srcIp: HOST, dstIp: EXT, srcPort: 41000, dstPort: 8080, tcpFlags: 0x02 };
    const out = nat.one(Side.INSIDE, syn, 0);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    expect(hex(out.bytes)).toBe(hex(buildFrame({ ...syn, srcIp: EXT, srcPort: srcPortOf(out.bytes) })));
  });

  it('works without SNAT: forwards only, other traffic routed unchanged', async () => {
    const nat = await NatHarness.create({ portForwards: CONFIG.portForwards });
    const syn = { proto: IpProto.TCP, srcIp: CLIENT, dstIp: EXT, srcPort: 50000, dstPort: 8080, tcpFlags: 0x02 };
    expect(nat.one(Side.OUTSIDE, syn, 0).verdict).toBe(Verdict.INSIDE);
    const plain = buildFrame({ proto: IpProto.UDP, srcIp: HOST, dstIp: CLIENT, srcPort: 1, dstPort: 2 });
    const r = nat.one(Side.INSIDE, plain, 0);
    expect(r.verdict).toBe(Verdict.OUTSIDE);
    expect(hex(r.bytes)).toBe(hex(plain));
    expect(nat.one(Side.OUTSIDE, { proto: IpProto.TCP, srcIp: CLIENT, dstIp: EXT, srcPort: 1, dstPort: 22 }, 0).reason).toBe('no_mapping');
  });
});
