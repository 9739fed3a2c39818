import { describe, expect, it } from 'vitest';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { TcpFlag } from '../../../src/packet/tcp.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { buildFrame, type FrameSpec } from '../../../src/traffic/frame-builder.ts';
import { BackendControl } from '../../../functions/load-balancer/backend-control.ts';
import { loadBalancerConfigSchema, type LoadBalancerConfigInput } from '../../../functions/load-balancer/config.ts';
import { checksumsOk, decode, ip, startLb } from './lb-harness.ts';

const VIP = ip('198.18.0.100');
const CLIENT = ip('198.18.5.5');
const { SYN, ACK, FIN, PSH } = TcpFlag;

function cfg(extra: Partial<LoadBalancerConfigInput> = {}): LoadBalancerConfigInput {
  return {
    services: [{ name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.2', port: 8080 }] }],
    maglevTableSize: 1009,
    ...extra,
  };
}

const fromClient = (flags: number, seq: number, ack: number, payloadLength = 0, sport = 41000): FrameSpec => ({
  proto: IpProto.TCP, srcIp: CLIENT, dstIp: VIP, srcPort: sport, dstPort: 80, tcpFlags: flags, seq, ack, payloadLength,
});
const fromServer = (backend: number, flags: number, seq: number, ack: number, payloadLength = 0, dport = 41000): FrameSpec => ({
  proto: IpProto.TCP, srcIp: backend, dstIp: CLIENT, srcPort: 8080, dstPort: dport, tcpFlags: flags, seq, ack, payloadLength,
});

describe('load-balancer connection tracking', () => {
  it('carries a whole TCP connection through, rewriting each segment exactly, and rebalances a reused tuple', async () => {
    const control = BackendControl.forConfig(loadBalancerConfigSchema.parse(cfg()));
    const lb = await startLb(cfg(), { control: control.array });
    let now = 0;
    const hop = (spec: FrameSpec, side: number) => {
      const [r] = lb.send([{ side, frame: spec }], (now += 10));
      expect(r.reason).toBe('');
      expect(checksumsOk(r.bytes)).toBe(true);
      return r;
    };
    const syn = hop(fromClient(SYN, 100, 0), Side.INSIDE);
    const backend = decode(syn.bytes).dst;
    expect(syn.bytes).toEqual(buildFrame({ ...fromClient(SYN, 100, 0), dstIp: backend, dstPort: 8080 }));
    const exchange: Array<[FrameSpec, number]> = [
      [fromServer(backend, SYN | ACK, 500, 101), Side.OUTSIDE],
      [fromClient(ACK, 101, 501), Side.INSIDE],
      [fromClient(ACK | PSH, 101, 501, 120), Side.INSIDE],
      [fromServer(backend, ACK | PSH, 501, 221, 1400), Side.OUTSIDE],
      [fromClient(ACK | FIN, 221, 1901), Side.INSIDE],
      [fromServer(backend, ACK, 1901, 222), Side.OUTSIDE],
      [fromServer(backend, ACK | FIN, 1901, 222), Side.OUTSIDE],
      [fromClient(ACK, 222, 1902), Side.INSIDE],
    ];
    for (const [spec, side] of exchange) {
      const r = hop(spec, side);
      const want = side === Side.INSIDE ? { ...spec, dstIp: backend, dstPort: 8080 } : { ...spec, srcIp: VIP, srcPort: 80 };
      expect(r.verdict).toBe(side ^ 1);
      expect(r.bytes).toEqual(buildFrame(want));
    }
    expect(lb.counter('to_backend_packets')).toBe(5);
    expect(lb.counter('to_client_packets')).toBe(4);

    control.drain('web', `${backend === ip('198.19.0.1') ? '198.19.0.1' : '198.19.0.2'}:8080`);
    const again = hop(fromClient(SYN, 9000, 0), Side.INSIDE);
    expect(decode(again.bytes).dst).not.toBe(backend);
    expect(lb.counter('new_flows')).toBe(2);
  });

  it('drops segments that do not fit the connection state', async () => {
    const lb = await startLb(cfg());
    lb.send([{ side: Side.INSIDE, frame: fromClient(SYN, 1, 0) }], 0);
    const [early] = lb.send([{ side: Side.INSIDE, frame: fromClient(ACK, 2, 7) }], 1);
    expect(early.reason).toBe('ct_invalid');
    expect(lb.counter('conntrack_invalid')).toBe(1);
  });

  it('expires idle connections on the injected clock', async () => {
    const lb = await startLb(cfg({ conntrack: { capacity: 128, timeouts: { udpUnreplied: 5, udpAssured: 20, tcpSynSent: 2, tcpEstablished: 10 } } }));
    const udpSvc = await startLb({
      services: [{ vip: '198.18.0.53', port: 53, proto: 'udp', backends: [{ address: '198.19.0.9' }] }],
      maglevTableSize: 7,
      conntrack: { capacity: 128, timeouts: { udpUnreplied: 5, udpAssured: 20 } },
    });
    const q: FrameSpec = { proto: IpProto.UDP, srcIp: CLIENT, dstIp: ip('198.18.0.53'), srcPort: 3000, dstPort: 53 };
    const a: FrameSpec = { proto: IpProto.UDP, srcIp: ip('198.19.0.9'), dstIp: CLIENT, srcPort: 53, dstPort: 3000 };
    const send = (spec: FrameSpec, side: number, t: number) => udpSvc.send([{ side, frame: spec }], t)[0];
    expect(send(q, Side.INSIDE, 0).verdict).toBe(Verdict.OUTSIDE);
    expect(send(a, Side.OUTSIDE, 4_999).verdict).toBe(Verdict.INSIDE);
    expect(send(a, Side.OUTSIDE, 24_998).verdict).toBe(Verdict.INSIDE);
    expect(send(a, Side.OUTSIDE, 44_998).reason).toBe('reply_no_connection');
    expect(udpSvc.counter('conntrack_expired')).toBe(1);
    expect(send(q, Side.INSIDE, 44_998).verdict).toBe(Verdict.OUTSIDE);
    expect(udpSvc.counter('new_flows')).toBe(2);

    const backend = decode(lb.send([{ side: Side.INSIDE, frame: fromClient(SYN, 1, 0) }], 0)[0].bytes).dst;
    expect(lb.send([{ side: Side.OUTSIDE, frame: fromServer(backend, SYN | ACK, 5, 2) }], 1_999)[0].verdict).toBe(Verdict.INSIDE);
    const second = decode(lb.send([{ side: Side.INSIDE, frame: fromClient(SYN, 1, 0, 0, 41002) }], 2_000)[0].bytes).dst;
    const late = lb.send([{ side: Side.OUTSIDE, frame: fromServer(second, SYN | ACK, 5, 2, 0, 41002) }], 4_000);
    expect(late[0].reason).toBe('reply_no_connection');

    const sport = 41001;
    const [syn] = lb.send([{ side: Side.INSIDE, frame: fromClient(SYN, 1, 0, 0, sport) }], 10_000);
    const b = decode(syn.bytes).dst;
    lb.send([{ side: Side.OUTSIDE, frame: fromServer(b, SYN | ACK, 5, 2, 0, sport) }], 10_001);
    lb.send([{ side: Side.INSIDE, frame: fromClient(ACK, 2, 6, 0, sport) }], 10_002);
    expect(lb.send([{ side: Side.INSIDE, frame: fromClient(ACK, 2, 6, 10, sport) }], 19_999)[0].verdict).toBe(Verdict.OUTSIDE);
    expect(lb.send([{ side: Side.OUTSIDE, frame: fromServer(b, ACK, 6, 12, 10, sport) }], 29_998)[0].verdict).toBe(Verdict.INSIDE);
    expect(lb.send([{ side: Side.INSIDE, frame: fromClient(ACK, 12, 16, 0, sport) }], 39_999)[0].reason).toBe('tcp_no_connection');
  });

  it('sweeps expired entries every batch without needing their packets', async () => {
    const lb = await startLb(cfg({ conntrack: { capacity: 128, timeouts: { udpUnreplied: 1 } }, services: [{ vip: '198.18.0.53', port: 53, proto: 'udp', backends: [{ address: '198.19.0.9' }] }] }));
    lb.send(Array.from({ length: 100 }, (_, i) => ({ side: Side.INSIDE, frame: { proto: IpProto.UDP, srcIp: CLIENT, dstIp: ip('198.18.0.53'), srcPort: 1000 + i, dstPort: 53 } })), 0);
    expect(lb.counter('conntrack_created')).toBe(100);
    const other: FrameSpec = { proto: IpProto.UDP, srcIp: CLIENT, dstIp: ip('198.18.9.9'), srcPort: 1, dstPort: 1 };
    lb.send([{ side: Side.INSIDE, frame: other }], 500);
    expect(lb.counter('conntrack_expired')).toBe(0);
    lb.send([{ side: Side.INSIDE, frame: other }], 2_000);
    lb.send([{ side: Side.INSIDE, frame: other }], 2_000);
    expect(lb.counter('conntrack_expired')).toBe(100);
  });

  it('counts a full table and a reply-tuple clash as drops', async () => {
    const refuse = await startLb(cfg({ conntrack: { capacity: 2, whenFull: 'refuse' } }));
    const out = refuse.send([1, 2, 3].map((i) => ({ side: Side.INSIDE, frame: fromClient(SYN, 1, 0, 0, 50000 + i) })), 0);
    expect(out.map((r) => r.reason)).toEqual(['', '', 'ct_table_full']);
    const evict = await startLb(cfg({ conntrack: { capacity: 2 } }));
    expect(evict.send([1, 2, 3].map((i) => ({ side: Side.INSIDE, frame: fromClient(SYN, 1, 0, 0, 50000 + i) })), 0).map((r) => r.reason)).toEqual(['', '', '']);
    expect(evict.counter('conntrack_evicted')).toBe(1);

    const shared = await startLb({
      services: [
        { vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }] },
        { vip: '198.18.0.101', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }] },
      ],
      maglevTableSize: 7,
    });
    const [first, second] = shared.send(
      [
        { side: Side.INSIDE, frame: fromClient(SYN, 1, 0) },
        { side: Side.INSIDE, frame: { ...fromClient(SYN, 1, 0), dstIp: ip('198.18.0.101') } },
      ],
      0,
    );
    expect(first.reason).toBe('');
    expect(second.reason).toBe('ct_clash');
  });
});
