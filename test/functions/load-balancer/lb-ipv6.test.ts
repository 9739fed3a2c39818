import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maglevEntries } from '../../../src/flow/maglev.ts';
import { FlowKey6, flowHash6 } from '../../../src/packet/flow-key-ipv6.ts';
import { IpProto } from '../../../src/packet/ipv4.ts';
import { formatIpv6, parseIpv6 } from '../../../src/packet/ipv6-address.ts';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { TcpFlag } from '../../../src/packet/tcp.ts';
import { importPipelineModule } from '../../../src/pipeline/load-pipeline.ts';
import { sealImage } from '../../../src/image/image-builder.ts';
import { compilePipeline } from '../../../src/pipeline/compiler.ts';
import { PacketBatch } from '../../../src/pipeline/packet-batch.ts';
import { Side, Verdict } from '../../../src/pipeline/verdict.ts';
import { BackendControl } from '../../../functions/load-balancer/backend-control.ts';
import { loadBalancerConfigSchema, type LoadBalancerConfigInput } from '../../../functions/load-balancer/config.ts';
import { loadBalancer } from '../../../functions/load-balancer/pipeline.ts';
import { buildFrame, type FrameSpec } from '../../../src/traffic/frame-builder.ts';
import { Rng } from '../../support/rng.ts';
import { checksumsOk, checksumsOk6, decode, decode6, groups6, ip, startLb, STRIDE, v6, type Sent } from './lb-harness.ts';

const VIP6 = '2001:db8::100';
const B6 = ['2001:db8:1::1', '2001:db8:1::2', '2001:db8:1::3', '2001:db8:1::4'];
const B4 = ['198.19.0.1', '198.19.0.2', '198.19.0.3'];
const WEIGHTS = [1, 2, 3, 4];
const M = 4099;

function config(proto: 'tcp' | 'udp' = 'tcp', extra: Partial<LoadBalancerConfigInput> = {}): LoadBalancerConfigInput {
  return {
    services: [{ name: 'web6', vip: VIP6, port: 443, proto, backends: B6.map((address, i) => ({ address, port: 8443, weight: WEIGHTS[i] })) }],
    maglevTableSize: M,
    conntrack: { capacity: 1 << 16 },
    ...extra,
  };
}

/** Client `i`: 2001:db8:c::<i>, a port of its own. */
function client(i: number): { addr: string; port: number } {
  return { addr: formatIpv6([0x20010db8, 0xc0000, 0, i >>> 0]), port: 10000 + (i % 50000) };
}

function words(text: string): number[] {
  return [...(parseIpv6(text) as readonly number[])];
}

/** The backend the Maglev table of `names`/`weights` gives the flow (the oracle: maglevEntries over flowHash6). */
function oracle(names: string[], weights: number[], src: string, sport: number, dst: string, dport: number, proto: number, seed = 0): number {
  const slots = maglevEntries(names.map((name, i) => ({ name, weight: weights[i] })), M);
  const key = new FlowKey6();
  key.set(words(src), words(dst), sport, dport, proto);
  return slots[flowHash6(key, seed) % M];
}

const NAMES = B6.map((a) => `[${a}]:8443`);

function fromClient(i: number, flags: number, payloadLength = 0, proto: number = IpProto.TCP): Sent {
  const c = client(i);
  const spec: Ipv6FrameSpec = { proto, src: groups6(c.addr), dst: groups6(VIP6), srcPort: c.port, dstPort: 443, tcpFlags: flags, payloadLength };
  return { side: Side.INSIDE, frame: v6(spec) };
}

function fromBackend(i: number, backend: string, flags: number, payloadLength = 0, sport = 8443): Sent {
  const c = client(i);
  return { side: Side.OUTSIDE, frame: v6({ proto: IpProto.TCP, src: groups6(backend), dst: groups6(c.addr), srcPort: sport, dstPort: c.port, tcpFlags: flags, payloadLength }) };
}

type Lb = Awaited<ReturnType<typeof startLb>>;

/** Opens TCP connections (SYN, SYN/ACK, ACK) for `flows`; returns each one's backend address. */
function connect(lb: Lb, flows: number[], now: number): Map<number, string> {
  const backendOf = new Map<number, string>();
  lb.send(flows.map((f) => fromClient(f, TcpFlag.SYN)), now).forEach((r, k) => {
    expect(r.verdict).toBe(Verdict.OUTSIDE);
    backendOf.set(flows[k], decode6(r.bytes).dst);
  });
  lb.send(flows.map((f) => fromBackend(f, backendOf.get(f)!, TcpFlag.SYN | TcpFlag.ACK)), now).forEach((r) => expect(r.verdict).toBe(Verdict.INSIDE));
  lb.send(flows.map((f) => fromClient(f, TcpFlag.ACK)), now).forEach((r) => expect(r.verdict).toBe(Verdict.OUTSIDE));
  return backendOf;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('load balancer over IPv6', () => {
  it('DNATs a SYN to the backend Maglev names for flowHash6 and turns the reply back to the VIP, byte for byte', async () => {
    const lb = await startLb(config());
    const c = client(7);
    const syn: Ipv6FrameSpec = { proto: IpProto.TCP, src: groups6(c.addr), dst: groups6(VIP6), srcPort: c.port, dstPort: 443, tcpFlags: TcpFlag.SYN, tcpSeq: 7777 };
    const [out] = lb.send([{ side: Side.INSIDE, frame: v6(syn) }], 1000);
    const k = oracle(NAMES, WEIGHTS, c.addr, c.port, VIP6, 443, IpProto.TCP);
    expect(out.verdict).toBe(Verdict.OUTSIDE);
    expect(out.bytes).toEqual(v6({ ...syn, dst: groups6(B6[k]), dstPort: 8443 }));
    expect(checksumsOk6(out.bytes)).toBe(true);
    expect(lb.counter(`new_flows_backend_${k}`)).toBe(1);
    expect(lb.counter('connections_backend_' + k)).toBe(1);

    const synAck: Ipv6FrameSpec = { proto: IpProto.TCP, src: groups6(B6[k]), dst: groups6(c.addr), srcPort: 8443, dstPort: c.port, tcpFlags: TcpFlag.SYN | TcpFlag.ACK, tcpSeq: 99, tcpAck: 7778 };
    const [back] = lb.send([{ side: Side.OUTSIDE, frame: v6(synAck) }], 1001);
    expect(back.verdict).toBe(Verdict.INSIDE);
    expect(back.bytes).toEqual(v6({ ...synAck, src: groups6(VIP6), srcPort: 443 }));
    expect(checksumsOk6(back.bytes)).toBe(true);
    expect(lb.counter('to_client_packets')).toBe(1);
  });

  it('matches a full-checksum rebuild and the Maglev oracle for any client, port, payload and seed (property)', async () => {
    const seed = 0xdecafbad;
    const udp = await startLb(config('udp', { hashSeed: seed }));
    const tcp = await startLb(config('tcp', { hashSeed: seed }));
    let now = 0;
    const group = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        fc.array(group, { minLength: 8, maxLength: 8 }).map((g) => [0x2001, 0xdb8, 0xc, ...g.slice(3)]),
        fc.integer({ min: 1, max: 0xffff }),
        fc.uint8Array({ maxLength: 61 }),
        fc.boolean(),
        (src, sport, payload, isUdp) => {
          now += 200_000;
          const spec: Ipv6FrameSpec = { proto: isUdp ? IpProto.UDP : IpProto.TCP, src, dst: groups6(VIP6), srcPort: sport, dstPort: 443, tcpFlags: TcpFlag.SYN, payload };
          const [r] = (isUdp ? udp : tcp).send([{ side: Side.INSIDE, frame: v6(spec) }], now);
          const text = decode6(v6(spec)).src;
          const k = oracle(NAMES, WEIGHTS, text, sport, VIP6, 443, spec.proto!, seed);
          expect(r.bytes).toEqual(v6({ ...spec, dst: groups6(B6[k]), dstPort: 8443 }));
          expect(checksumsOk6(r.bytes)).toBe(true);
        },
      ),
      { numRuns: 300, seed: 61 },
    );
  });

  it('spreads new flows over the IPv6 backends in proportion to their weights', async () => {
    const lb = await startLb(config('udp'));
    const flows = 20_000;
    const seen = new Map<string, number>();
    for (const r of lb.send(range(0, flows).map((f) => fromClient(f, 0, 0, IpProto.UDP)), 0)) {
      const d = decode6(r.bytes).dst;
      seen.set(d, (seen.get(d) ?? 0) + 1);
    }
    const total = WEIGHTS.reduce((a, b) => a + b, 0);
    B6.forEach((b, i) => {
      expect(Math.abs((seen.get(b) ?? 0) / flows - WEIGHTS[i] / total)).toBeLessThan(0.015);
      expect(lb.counter(`new_flows_backend_${i}`)).toBe(seen.get(b));
    });
  });

  it('keeps each TCP connection on its backend both ways across batches, every checksum right by full recompute', async () => {
    const lb = await startLb(config());
    const flows = 600;
    const backendOf = connect(lb, range(0, flows), 0);
    const rng = new Rng(11);
    for (let round = 0; round < 4; round++) {
      const order = range(0, flows * 2).sort(() => (rng.next() & 1) - 0.5);
      const out = lb.send(
        order.map((k) => ((k & 1) === 0 ? fromClient(k >> 1, TcpFlag.ACK | TcpFlag.PSH, (k >> 1) % 53) : fromBackend(k >> 1, backendOf.get(k >> 1)!, TcpFlag.ACK | TcpFlag.PSH, (k >> 1) % 71))),
        1 + round,
      );
      out.forEach((r, j) => {
        const f = order[j] >> 1;
        const c = client(f);
        const d = decode6(r.bytes);
        expect(checksumsOk6(r.bytes)).toBe(true);
        if ((order[j] & 1) === 0) {
          expect(r.verdict).toBe(Verdict.OUTSIDE);
          expect([d.src, d.dst, d.sport, d.dport]).toEqual([c.addr, backendOf.get(f), c.port, 8443]);
        } else {
          expect(r.verdict).toBe(Verdict.INSIDE);
          expect([d.src, d.dst, d.sport, d.dport]).toEqual([VIP6, c.addr, 443, c.port]);
        }
      });
    }
    expect(lb.counter('new_flows')).toBe(flows);
    expect(lb.counter('conntrack_created')).toBe(flows);
    expect(lb.counter('dropped_packets')).toBe(0);
    expect(B6.reduce((n, _, i) => n + lb.counter(`connections_backend_${i}`), 0)).toBe(flows);
  });

  it('drops what it cannot translate with the IPv4 reasons: no connection, reply without connection, bad state; rebalances a reused tuple', async () => {
    const lb = await startLb(config());
    const [ack] = lb.send([fromClient(1, TcpFlag.ACK)], 0);
    expect(ack.reason).toBe('tcp_no_connection');
    const [stray] = lb.send([fromBackend(1, B6[0], TcpFlag.ACK)], 0);
    expect(stray.reason).toBe('reply_no_connection');
    const [syn] = lb.send([fromClient(2, TcpFlag.SYN)], 0);
    const backend = decode6(syn.bytes).dst;
    const [early] = lb.send([fromClient(2, TcpFlag.ACK)], 0);
    expect(early.reason).toBe('ct_invalid');
    // Close it (RST from the backend), then the same tuple opens afresh.
    lb.send([fromBackend(2, backend, TcpFlag.RST | TcpFlag.ACK)], 1);
    const [again] = lb.send([fromClient(2, TcpFlag.SYN)], 2);
    expect(again.verdict).toBe(Verdict.OUTSIDE);
    expect(decode6(again.bytes).dst).toBe(backend);
    expect(lb.counter('new_flows')).toBe(2);
    // A backend port that is not the backend's: not a tracked reply, not a backend endpoint.
    const [other] = lb.send([fromBackend(2, backend, TcpFlag.ACK, 0, 9999)], 3);
    expect([other.verdict, other.reason]).toEqual([Verdict.INSIDE, '']);
    expect(lb.counter('non_vip_forwarded')).toBe(1);
  });

  it('drain and removal work on IPv6 backends as on IPv4 ones', async () => {
    const control = BackendControl.forConfig(loadBalancerConfigSchema.parse(config()));
    const lb = await startLb(config(), { control: control.array });
    const old = connect(lb, range(0, 1500), 0);
    control.drain('web6', `[${B6[3]}]:8443`);
    lb.send(range(0, 1500).map((f) => fromClient(f, TcpFlag.ACK | TcpFlag.PSH)), 1).forEach((r, f) => expect(decode6(r.bytes).dst).toBe(old.get(f)));
    const fresh = connect(lb, range(1500, 3500), 2);
    for (const [f, b] of fresh) {
      const c = client(f);
      expect(b).toBe(B6[oracle(NAMES, [1, 2, 3, 0], c.addr, c.port, VIP6, 443, IpProto.TCP)]);
    }
    expect([...fresh.values()]).not.toContain(B6[3]);

    control.remove('web6', `[${B6[2]}]:8443`);
    const victims = [...old].filter(([, b]) => b === B6[2]).map(([f]) => f);
    expect(victims.length).toBeGreaterThan(200);
    const out = lb.send(range(0, 1500).map((f) => fromClient(f, TcpFlag.ACK)), 3);
    out.forEach((r, f) => expect(r.reason).toBe(old.get(f) === B6[2] ? 'backend_removed' : ''));
    expect(lb.send(victims.map((f) => fromBackend(f, B6[2], TcpFlag.ACK)), 4).every((r) => r.reason === 'reply_no_connection')).toBe(true);
    for (const b of connect(lb, victims, 5).values()) expect([B6[0], B6[1]]).toContain(b);
  });

  it('a mixed-family config balances each family to its own backends, never across', async () => {
    const lb = await startLb({
      services: [
        { name: 'web4', vip: '198.18.0.100', port: 443, backends: B4.map((address) => ({ address, port: 8443 })) },
        { name: 'web6', vip: VIP6, port: 443, backends: B6.map((address) => ({ address, port: 8443 })) },
      ],
      maglevTableSize: M,
    });
    const rng = new Rng(5);
    const sent: Array<{ family: 4 | 6; f: number }> = [];
    const packets: Sent[] = [];
    for (let f = 0; f < 4000; f++) {
      const family = (rng.next() & 1) === 0 ? 4 : 6;
      sent.push({ family, f });
      packets.push(
        family === 6
          ? fromClient(f, TcpFlag.SYN)
          : { side: Side.INSIDE, frame: { proto: IpProto.TCP, srcIp: ip('198.18.64.0') + f, dstIp: ip('198.18.0.100'), srcPort: 10000 + f, dstPort: 443, tcpFlags: TcpFlag.SYN } },
      );
    }
    const seen4 = new Set<number>();
    const seen6 = new Set<string>();
    lb.send(packets, 0).forEach((r, k) => {
      expect(r.verdict).toBe(Verdict.OUTSIDE);
      if (sent[k].family === 4) {
        expect(checksumsOk(r.bytes)).toBe(true);
        const d = decode(r.bytes).dst;
        expect(B4.map(ip)).toContain(d);
        seen4.add(d);
      } else {
        expect(checksumsOk6(r.bytes)).toBe(true);
        const d = decode6(r.bytes).dst;
        expect(B6).toContain(d);
        seen6.add(d);
      }
    });
    expect(seen4.size).toBe(B4.length);
    expect(seen6.size).toBe(B6.length);
    expect(lb.counter('new_flows')).toBe(4000);
    // The other family's spelling of a VIP is no VIP: IPv4 32.1.13.184 is 2001:db8::100's first
    // word, ::c612:64 holds 198.18.0.100 in its last one.
    const alias4Spec: FrameSpec = { proto: IpProto.TCP, srcIp: ip('198.18.64.1'), dstIp: 0x20010db8, srcPort: 1, dstPort: 443, tcpFlags: TcpFlag.SYN };
    const alias4: Sent = { side: Side.INSIDE, frame: alias4Spec };
    const alias6 = { side: Side.INSIDE, frame: v6({ proto: IpProto.TCP, src: groups6('2001:db8:c::1'), dst: groups6('::c612:64'), srcPort: 1, dstPort: 443, tcpFlags: TcpFlag.SYN }) };
    const aliasReply = { side: Side.OUTSIDE, frame: v6({ proto: IpProto.TCP, src: groups6('::c613:1'), dst: groups6('2001:db8:c::1'), srcPort: 8443, dstPort: 1, tcpFlags: TcpFlag.ACK }) };
    const out = lb.send([alias4, alias6, aliasReply], 1);
    expect(out.map((r) => [r.verdict, r.reason])).toEqual([
      [Verdict.OUTSIDE, ''],
      [Verdict.OUTSIDE, ''],
      [Verdict.INSIDE, ''],
    ]);
    expect(out[0].bytes).toEqual(buildFrame(alias4Spec));
    expect(out[1].bytes).toEqual(alias6.frame);
    expect(lb.counter('non_vip_forwarded')).toBe(3);
    expect(lb.counter('new_flows')).toBe(4000);
  });

  it('non-VIP IPv6 follows nonVipTraffic; neighbour discovery always passes; ICMPv6 errors pass as ICMP errors do; fragments are dropped', async () => {
    const [syn] = [fromClient(3, TcpFlag.SYN)];
    const quoted = (syn.frame as Uint8Array).slice(14, 14 + 40 + 20);
    const frames: Array<{ name: string; sent: Sent }> = [
      { name: 'echo to the VIP', sent: { side: Side.INSIDE, frame: v6({ proto: 58, src: groups6('2001:db8:c::3'), dst: groups6(VIP6), icmpType: 128, payloadLength: 8 }) } },
      { name: 'UDP to another host', sent: { side: Side.INSIDE, frame: v6({ proto: IpProto.UDP, src: groups6('2001:db8:c::3'), dst: groups6('2001:db8:9::9'), srcPort: 5, dstPort: 53, payloadLength: 12 }) } },
      { name: 'TCP to the VIP, another port', sent: { side: Side.INSIDE, frame: v6({ proto: IpProto.TCP, src: groups6('2001:db8:c::3'), dst: groups6(VIP6), srcPort: 5, dstPort: 80 }) } },
      { name: 'unreachable from the server side', sent: { side: Side.OUTSIDE, frame: v6({ proto: 58, src: groups6('2001:db8:1::fe'), dst: groups6('2001:db8:c::3'), icmpType: 1, icmpCode: 3, icmpRest: 0, payload: quoted }) } },
    ];
    const ndp: Sent[] = [135, 136].map((t) => ({ side: Side.INSIDE, frame: v6({ proto: 58, src: groups6('fe80::1'), dst: groups6('ff02::1:ff00:100'), icmpType: t, hopLimit: 255, payloadLength: 16 }) }));
    const fragment: Sent = { side: Side.INSIDE, frame: v6({ proto: IpProto.TCP, src: groups6('2001:db8:c::3'), dst: groups6(VIP6), srcPort: 5, dstPort: 443, tcpFlags: TcpFlag.SYN, extensionHeaders: [{ type: 44, moreFragments: true }], payloadLength: 12 }) };

    const forward = await startLb(config());
    const f = forward.send([...frames.map((x) => x.sent), ...ndp, fragment], 0);
    f.slice(0, frames.length + 2).forEach((r, k) => {
      expect([r.verdict, r.reason], k < frames.length ? frames[k].name : 'ndp').toEqual([k === 3 ? Verdict.INSIDE : Verdict.OUTSIDE, '']);
      expect(r.bytes).toEqual(k < frames.length ? frames[k].sent.frame : ndp[k - frames.length].frame);
    });
    expect(f[f.length - 1].reason).toBe('ipv6_fragment');
    expect(forward.counter('non_vip_forwarded')).toBe(frames.length + 2);

    const drop = await startLb(config('tcp', { nonVipTraffic: 'drop' }));
    const d = drop.send([...frames.map((x) => x.sent), ...ndp, fragment], 0);
    expect(d.map((r) => r.reason)).toEqual([...frames.map(() => 'non_vip_dropped'), '', '', 'ipv6_fragment']);
    expect(drop.counter('non_vip_forwarded')).toBe(2);
  });

  it('balances a packet whose extension headers end at the VIP, not one a routing header sends on to another segment', async () => {
    const lb = await startLb(config());
    const c = client(9);
    const base: Ipv6FrameSpec = { proto: IpProto.TCP, src: groups6(c.addr), dst: groups6(VIP6), srcPort: c.port, dstPort: 443, tcpFlags: TcpFlag.SYN };
    const done = v6({ ...base, extensionHeaders: [{ type: 0 }, { type: 43, routingType: 4, segmentsLeft: 0 }, { type: 60 }] });
    const onward = v6({ ...base, srcPort: c.port + 1, extensionHeaders: [{ type: 43, routingType: 4, segmentsLeft: 1 }] });
    const [a, b] = lb.send([{ side: Side.INSIDE, frame: done }, { side: Side.INSIDE, frame: onward }], 0);
    expect(a.verdict).toBe(Verdict.OUTSIDE);
    expect(decode6(a.bytes).dst).toBe(B6[oracle(NAMES, WEIGHTS, c.addr, c.port, VIP6, 443, IpProto.TCP)]);
    expect(checksumsOk6(a.bytes)).toBe(true);
    expect([b.verdict, b.reason, b.bytes]).toEqual([Verdict.OUTSIDE, '', onward]);
    expect(lb.counter('new_flows')).toBe(1);
    expect(lb.counter('non_vip_forwarded')).toBe(1);
  });

  it('a config without IPv6 services treats every IPv6 packet as non-VIP traffic', async () => {
    const lb = await startLb({ services: [{ vip: '198.18.0.100', port: 443, backends: [{ address: '198.19.0.1' }] }], maglevTableSize: M });
    const packets = [fromClient(1, TcpFlag.SYN), fromBackend(1, B6[0], TcpFlag.ACK), { side: Side.INSIDE, frame: v6({ proto: IpProto.UDP, extensionHeaders: [{ type: 44, fragmentOffset: 2 }], payloadLength: 8 }) }];
    const out = lb.send(packets, 0);
    out.forEach((r, k) => expect([r.reason, r.bytes]).toEqual(['', packets[k].frame]));
    expect(lb.counter('non_vip_forwarded')).toBe(3);
  });

  it('a successor instance takes over IPv6 connections with their backends', async () => {
    const compiled = compilePipeline(loadBalancer, config());
    const mod = await importPipelineModule(compiled);
    const mem = new DataView(new ArrayBuffer(256 * STRIDE));
    const bytes = new Uint8Array(mem.buffer);
    const boot = (previous: Uint8Array | undefined, now: number) => {
      const counters = new Float64Array(mod.COUNTERS.length);
      const pipeline = mod.createPipeline({ counters });
      const state = new Uint8Array(new SharedArrayBuffer(mod.STATE_BYTES!));
      const took = pipeline.attachState!(state, previous, now);
      const send = (packets: Sent[], t: number) => {
        const batch = new PacketBatch(mem);
        packets.forEach((p, i) => {
          bytes.set(p.frame as Uint8Array, i * STRIDE);
          batch.push(i, i * STRIDE, (p.frame as Uint8Array).length, p.side);
        });
        pipeline.processBatch(batch, t);
        return packets.map((_, i) => ({ verdict: batch.verdicts[i], bytes: bytes.slice(batch.offsets[i], batch.offsets[i] + batch.lengths[i]) }));
      };
      return { state, took, send };
    };
    const a = boot(undefined, 1000);
    const flows = range(0, 100);
    const backendOf = new Map<number, string>();
    a.send(flows.map((f) => fromClient(f, TcpFlag.SYN)), 1000).forEach((r, k) => backendOf.set(flows[k], decode6(r.bytes).dst));
    a.send(flows.map((f) => fromBackend(f, backendOf.get(f)!, TcpFlag.SYN | TcpFlag.ACK)), 1001);
    a.send(flows.map((f) => fromClient(f, TcpFlag.ACK)), 1002);
    const b = boot(a.state, 50_000);
    expect(b.took).toEqual({ adopted: 100, rejected: 0 });
    b.send(flows.map((f) => fromClient(f, TcpFlag.ACK | TcpFlag.PSH, 10)), 50_001).forEach((r, k) => {
      expect(r.verdict).toBe(Verdict.OUTSIDE);
      expect(decode6(r.bytes).dst).toBe(backendOf.get(flows[k]));
    });
    b.send(flows.map((f) => fromBackend(f, backendOf.get(f)!, TcpFlag.ACK, 5)), 50_002).forEach((r) => {
      expect(r.verdict).toBe(Verdict.INSIDE);
      expect(decode6(r.bytes).src).toBe(VIP6);
      expect(checksumsOk6(r.bytes)).toBe(true);
    });
  });
});

describe('load balancer image', () => {
  it('a dual-stack configuration builds an image within 100 KB, like the IPv4 one', async () => {
    const dual = await sealImage(
      compilePipeline(loadBalancer, {
        services: [
          { name: 'web', vip: '198.18.0.100', port: 80, backends: [{ address: '198.19.0.1', port: 8080 }, { address: '198.19.0.2', port: 8080, weight: 2 }] },
          { name: 'web6', vip: VIP6, port: 80, backends: [{ address: B6[0], port: 8080 }, { address: B6[1], port: 8080, weight: 2 }] },
        ],
      }),
      64,
    );
    expect(dual.manifest.size).toBeLessThanOrEqual(100_000);
    expect(dual.manifest.modules.map((m) => m.path)).toContain('src/packet/nat-rewrite-ipv6.ts');
  });
});
