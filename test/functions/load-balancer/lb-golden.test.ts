import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MaglevTable } from '../../../src/flow/maglev.ts';
import { flowHash } from '../../../src/packet/flow-key.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { TcpFlag } from '../../../src/packet/tcp.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { buildFrame, type FrameSpec } from '../../../src/traffic/frame-builder.ts';
import type { LoadBalancerConfigInput } from '../../../functions/load-balancer/config.ts';
import { checksumsOk, decode, ip, startLb } from './lb-harness.ts';

const VIP = ip('198.18.0.100');
const DNS_VIP = ip('198.18.0.53');
const CLIENT = ip('198.18.1.7');
const B1 = ip('198.19.0.1');
const B2 = ip('198.19.0.2');
const D1 = ip('198.19.0.10');
const D2 = ip('198.19.0.11');

const config: LoadBalancerConfigInput = {
  services: [
    { name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.2', port: 8080, weight: 2 }] },
    { name: 'dns', vip: '198.18.0.53', port: 53, proto: 'udp', backends: [{ address: '198.19.0.10' }, { address: '198.19.0.11' }] },
  ],
  maglevTableSize: 251,
};

const webTable = MaglevTable.build([{ name: '198.19.0.1:8080' }, { name: '198.19.0.2:8080', weight: 2 }], { tableSize: 251 });
const dnsTable = MaglevTable.build([{ name: '198.19.0.10:53' }, { name: '198.19.0.11:53' }], { tableSize: 251 });

function webBackend(src: number, sport: number): number {
  return webTable.lookup(flowHash(src, VIP, sport, 80, IpProto.TCP));
}

const ARP_REQUEST = Uint8Array.from(
  Buffer.from('ffffffffffff020000000001080600010800060400010200000000 01c6120107000000000000c6120064'.replace(/\s/g, ''), 'hex'),
);

describe('load-balancer golden rewrites', () => {
  it('DNATs a client SYN to its Maglev backend and translates the reply back, byte for byte', async () => {
    const lb = await startLb(config);
    const syn: FrameSpec = { proto: IpProto.TCP, srcIp: CLIENT, dstIp: VIP, srcPort: 40001, dstPort: 80, seq: 7777, tcpFlags: TcpFlag.SYN, payloadLength: 0 };
    const [out] = lb.send([{ side: Side.INSIDE, frame: syn }], 1000);
    const k = webBackend(CLIENT, 40001);
    const backend = [B1, B2][k];
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    expect(out.bytes).toEqual(buildFrame({ ...syn, dstIp: backend, dstPort: 8080 }));
    expect(checksumsOk(out.bytes)).toBe(true);
    expect(lb.counter('new_flows')).toBe(1);
    expect(lb.counter(`new_flows_backend_${k}`)).toBe(1);

    const synAck: FrameSpec = { proto: IpProto.TCP, srcIp: backend, dstIp: CLIENT, srcPort: 8080, dstPort: 40001, seq: 99, ack: 7778, tcpFlags: TcpFlag.SYN | TcpFlag.ACK };
    const [back] = lb.send([{ side: Side.OUTSIDE, frame: synAck }], 1001);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(back.bytes).toEqual(buildFrame({ ...synAck, srcIp: VIP, srcPort: 80 }));
    expect(checksumsOk(back.bytes)).toBe(true);
    expect(lb.counter('to_client_packets')).toBe(1);
  });

  it('translates UDP with the service port as default backend port, odd payloads and "no checksum" kept', async () => {
    const lb = await startLb(config);
    const q: FrameSpec = { proto: IpProto.UDP, srcIp: CLIENT, dstIp: DNS_VIP, srcPort: 5353, dstPort: 53, payloadLength: 33 };
    const bare: FrameSpec = { ...q, srcPort: 5354, udpNoChecksum: true };
    const [a, b] = lb.send([{ side: Side.INSIDE, frame: q }, { side: Side.INSIDE, frame: bare }], 0);
    const da = [D1, D2][dnsTable.lookup(flowHash(CLIENT, DNS_VIP, 5353, 53, IpProto.UDP))];
    const db = [D1, D2][dnsTable.lookup(flowHash(CLIENT, DNS_VIP, 5354, 53, IpProto.UDP))];
    expect(a.bytes).toEqual(buildFrame({ ...q, dstIp: da }));
    expect(b.bytes).toEqual(buildFrame({ ...bare, dstIp: db }));
    expect(new DataView(b.bytes.buffer).getUint16(14 + 20 + 6)).toBe(0);
    expect(checksumsOk(a.bytes)).toBe(true);

    const reply: FrameSpec = { proto: IpProto.UDP, srcIp: da, dstIp: CLIENT, srcPort: 53, dstPort: 5353, payloadLength: 121 };
    const [r] = lb.send([{ side: Side.OUTSIDE, frame: reply }], 10);
    expect(r.verdict).toBe(Verdict.INSIDE);
    expect(r.bytes).toEqual(buildFrame({ ...reply, srcIp: DNS_VIP }));
    expect(checksumsOk(r.bytes)).toBe(true);
  });

  it('matches a full-checksum rebuild for any client, port, sequence and payload (property)', async () => {
    const lb = await startLb({ ...config, conntrack: { capacity: 1 << 12 } });
    let now = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 1, max: 0xffff }),
        fc.nat(),
        fc.integer({ min: 0, max: 1400 }),
        fc.integer({ min: 0, max: 255 }),
        (host, sport, seq, payloadLength, ttl) => {
          const src = (ip('198.18.128.0') | host) >>> 0;
          const payload = new Uint8Array(payloadLength).map((_, i) => (i * 31 + seq) & 255);
          const syn: FrameSpec = { proto: IpProto.TCP, srcIp: src, dstIp: VIP, srcPort: sport, dstPort: 80, seq, tcpFlags: TcpFlag.SYN, payload, ttl: ttl || 1 };
          now += 1_000_000;
          const [out] = lb.send([{ side: Side.INSIDE, frame: syn }], now);
          const backend = [B1, B2][webBackend(src, sport)];
          expect(out.bytes).toEqual(buildFrame({ ...syn, dstIp: backend, dstPort: 8080 }));
          const ack: FrameSpec = { proto: IpProto.TCP, srcIp: backend, dstIp: src, srcPort: 8080, dstPort: sport, seq: seq ^ 0x5a5a, ack: seq + 1, tcpFlags: TcpFlag.SYN | TcpFlag.ACK, payload };
          const [back] = lb.send([{ side: Side.OUTSIDE, frame: ack }], now);
          expect(back.bytes).toEqual(buildFrame({ ...ack, srcIp: VIP, srcPort: 80 }));
          expect(checksumsOk(out.bytes) && checksumsOk(back.bytes)).toBe(true);
        },
      ),
      { numRuns: 300, seed: 1234 },
    );
  });

  it('forwards non-VIP traffic unchanged by default, ARP always', async () => {
    const lb = await startLb(config);
    const frames: FrameSpec[] = [
      { proto: IpProto.TCP, srcIp: CLIENT, dstIp: ip('198.18.0.99'), srcPort: 1, dstPort: 80 },
      { proto: IpProto.UDP, srcIp: CLIENT, dstIp: VIP, srcPort: 1, dstPort: 80 },
      { proto: IpProto.ICMP, srcIp: CLIENT, dstIp: VIP },
      { proto: IpProto.TCP, srcIp: B1, dstIp: CLIENT, srcPort: 22, dstPort: 5000, tcpFlags: TcpFlag.ACK },
    ];
    const sides = [Side.INSIDE, Side.INSIDE, Side.INSIDE, Side.OUTSIDE];
    const out = lb.send([...frames.map((f, i) => ({ side: sides[i], frame: f })), { side: Side.INSIDE, frame: ARP_REQUEST }], 0);
    frames.forEach((f, i) => {
      expect(out[i].bytes).toEqual(buildFrame(f));
      expect(out[i].verdict).toBe(sides[i] ^ 1);
    });
    expect(out[4].bytes).toEqual(ARP_REQUEST);
    expect(out[4].verdict).toBe(Verdict.OUTSIDE);
    expect(lb.counter('non_vip_forwarded')).toBe(5);
  });

  it('drops untranslatable traffic with named reasons', async () => {
    const lb = await startLb({ ...config, nonVipTraffic: 'drop' });
    const out = lb.send(
      [
        { side: Side.INSIDE, frame: { proto: IpProto.TCP, srcIp: CLIENT, dstIp: ip('198.18.0.99'), srcPort: 1, dstPort: 80 } },
        { side: Side.INSIDE, frame: { proto: IpProto.TCP, srcIp: CLIENT, dstIp: VIP, srcPort: 2, dstPort: 80, tcpFlags: TcpFlag.ACK } },
        { side: Side.OUTSIDE, frame: { proto: IpProto.TCP, srcIp: B2, dstIp: CLIENT, srcPort: 8080, dstPort: 3, tcpFlags: TcpFlag.ACK } },
        { side: Side.OUTSIDE, frame: { proto: IpProto.UDP, srcIp: D1, dstIp: CLIENT, srcPort: 53, dstPort: 3 } },
        { side: Side.INSIDE, frame: ARP_REQUEST },
      ],
      0,
    );
    expect(out.map((r) => r.reason)).toEqual(['non_vip_dropped', 'tcp_no_connection', 'reply_no_connection', 'reply_no_connection', '']);
    expect(out[4].verdict).toBe(Verdict.OUTSIDE);
  });

  it('serves clients on the outside when clientSide is "outside"', async () => {
    const lb = await startLb({ ...config, clientSide: 'outside' });
    const syn: FrameSpec = { proto: IpProto.TCP, srcIp: CLIENT, dstIp: VIP, srcPort: 40001, dstPort: 80 };
    const [inWrong] = lb.send([{ side: Side.INSIDE, frame: syn }], 0);
    expect(inWrong.bytes).toEqual(buildFrame(syn));
    const [out] = lb.send([{ side: Side.OUTSIDE, frame: syn }], 0);
    expect(out.verdict).toBe(Verdict.INSIDE);
    expect(decode(out.bytes).dst).toBe([B1, B2][webBackend(CLIENT, 40001)]);
  });
});
