import { describe, expect, it } from 'vitest';
import { buildFrame, type FrameSpec } from '../../../src/traffic/frame-builder.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { checksumsValid, hex, icmpIdOf, ip, NatHarness, srcPortOf } from './nat-harness.ts';

const EXT = ip('198.18.100.1');
const HOST = ip('10.1.0.5');
const SERVER = ip('198.19.0.80');
const ROUTER = ip('198.19.255.1');
const CONFIG = {
  snat: { addresses: '198.18.100.1', match: ['10.1.0.0/16'] },
  portForwards: [{ protocol: 'udp', externalAddress: '198.18.100.1', externalPort: 5353, internalAddress: '10.1.0.53', internalPort: 53 }],
};

const quote = (frame: Uint8Array, bytes: number): Uint8Array => frame.slice(14, 14 + bytes);

const icmpError = (type: number, code: number, src: number, dst: number, quoted: Uint8Array): FrameSpec => ({
  proto: IpProto.ICMP,
  srcIp: src,
  dstIp: dst,
  icmpType: type,
  icmpCode: code,
  srcPort: 0,
  dstPort: 0,
  payload: quoted,
});

describe('nat: ICMP error translation (RFC 5508)', () => {
  for (const [label, spec, quoted] of [
    ['TCP, full header quoted', { proto: IpProto.TCP, srcIp: HOST, dstIp: SERVER, srcPort: 40001, dstPort: 443, tcpFlags: 0x02, payloadLength: 20 }, 20 + 20 + 20],
    ['TCP, 8 bytes quoted', { proto: IpProto.TCP, srcIp: HOST, dstIp: SERVER, srcPort: 40001, dstPort: 443, tcpFlags: 0x02 }, 28],
    ['UDP', { proto: IpProto.UDP, srcIp: HOST, dstIp: SERVER, srcPort: 5000, dstPort: 33434, payloadLength: 12 }, 40],
    ['UDP without checksum', { proto: IpProto.UDP, srcIp: HOST, dstIp: SERVER, srcPort: 5000, dstPort: 33434, udpNoChecksum: true }, 28],
    ['ICMP echo', { proto: IpProto.ICMP, srcIp: HOST, dstIp: SERVER, icmpType: 8, srcPort: 777, dstPort: 1, payloadLength: 8 }, 36],
  ] as Array<[string, FrameSpec, number]>) {
    it(`rewrites outer destination and quoted source back to the inside host: ${label}`, async () => {
      const nat = await NatHarness.create(CONFIG);
      const out = nat.one(Side.INSIDE, spec, 0);
      expect(out.verdict).toBe(Verdict.OUTSIDE);
      const extPort = spec.proto === IpProto.ICMP ? icmpIdOf(out.bytes) : srcPortOf(out.bytes);
      const err = icmpError(11, 0, ROUTER, EXT, quote(out.bytes, quoted));
      const back = nat.one(Side.OUTSIDE, err, 10);
      expect(back.verdict).toBe(Verdict.INSIDE);
      const original = buildFrame(spec);
      expect(hex(back.bytes)).toBe(hex(buildFrame(icmpError(11, 0, ROUTER, HOST, quote(original, quoted)))));
      expect(checksumsValid(back.bytes)).toBe(true);
      expect(extPort).not.toBe(spec.srcPort);
      expect(nat.counter('icmp_errors_translated')).toBe(1);
    });
  }

  it('translates an error the inside sends about a forwarded packet (outbound direction)', async () => {
    const nat = await NatHarness.create(CONFIG);
    const q = { proto: IpProto.UDP, srcIp: SERVER, dstIp: EXT, srcPort: 4000, dstPort: 5353, payloadLength: 4 };
    const inb = nat.one(Side.OUTSIDE, q, 0);
    expect(inb.verdict).toBe(Verdict.INSIDE);
    const unreachable = icmpError(3, 3, ip('10.1.0.53'), SERVER, quote(inb.bytes, 32));
    const out = nat.one(Side.INSIDE, unreachable, 1);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    expect(hex(out.bytes)).toBe(hex(buildFrame(icmpError(3, 3, EXT, SERVER, quote(buildFrame(q), 32)))));
    expect(checksumsValid(out.bytes)).toBe(true);
  });

  it('drops errors that quote no live mapping or too little of the packet', async () => {
    const nat = await NatHarness.create(CONFIG);
    const spec = { proto: IpProto.UDP, srcIp: EXT, dstIp: SERVER, srcPort: 30000, dstPort: 53 } as FrameSpec;
    const stray = nat.one(Side.OUTSIDE, icmpError(3, 1, ROUTER, EXT, quote(buildFrame(spec), 28)), 0);
    expect(stray.reason).toBe('no_mapping');
    const out = nat.one(Side.INSIDE, { ...spec, srcIp: HOST }, 0);
    const short = nat.one(Side.OUTSIDE, icmpError(3, 1, ROUTER, EXT, quote(out.bytes, 24)), 1);
    expect(short.reason).toBe('icmp_error_malformed');
    const badVersion = quote(out.bytes, 28);
    badVersion[0] = 0x65;
    expect(nat.one(Side.OUTSIDE, icmpError(3, 1, ROUTER, EXT, badVersion), 1).reason).toBe('icmp_error_malformed');
    expect(nat.one(Side.OUTSIDE, icmpError(3, 1, ROUTER, EXT, quote(out.bytes, 28)), 1).verdict).toBe(Verdict.INSIDE);
    expect(nat.one(Side.OUTSIDE, icmpError(3, 1, ROUTER, EXT, quote(out.bytes, 28)), 10 * 60_000).reason).toBe('no_mapping');
  });
});
