import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFusedImage, buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { parseFrame } from '../../src/packet/parse-frame.ts';
import { ipv4Dst, ipv4Src, ipv4TotalLength, IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { tcpAck, tcpDstPort, tcpFlags, tcpSeq, tcpSrcPort, TcpFlag } from '../../src/packet/tcp.ts';
import { verifyIpv4HeaderChecksum, verifyTcpChecksum } from '../../src/packet/checksum.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { requestReplyEnds } from '../support/tcp-ports.ts';

const ip = (s: string): number => parseIpv4(s) as number;
const CLIENT = ip('198.18.1.2');
const VIP = ip('198.18.2.10');
const NAT_ADDR = ip('198.18.3.1');
const BACKENDS = ['198.18.3.11', '198.18.3.12', '198.18.3.13'];
const FLOWS = 96;

function tcpFields(frame: Uint8Array) {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const layout = new FrameLayout();
  const reason = parseFrame(view, 0, frame.byteLength, layout);
  const l3 = layout.l3Offset;
  const l4 = layout.l4Offset;
  return {
    reason,
    checksumsValid: verifyIpv4HeaderChecksum(view, l3) && verifyTcpChecksum(view, l3, l4, ipv4TotalLength(view, l3) - (l4 - l3)),
    src: ipv4Src(view, l3),
    dst: ipv4Dst(view, l3),
    sport: tcpSrcPort(view, l4),
    dport: tcpDstPort(view, l4),
    flags: tcpFlags(view, l4),
    seq: tcpSeq(view, l4),
    ack: tcpAck(view, l4),
  };
}

const PARTS = [
  {
    name: 'firewall',
    definition: firewall,
    config: {
      defaultPolicy: 'drop',
      rules: [
        { name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 },
        { name: 'telnet', action: 'reject', side: 'inside', proto: 'tcp', dport: 23 },
      ],
    },
  },
  { name: 'load-balancer', definition: loadBalancer, config: { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: BACKENDS.map((address) => ({ address, port: 8080 })) }] } },
  { name: 'nat', definition: nat, config: { snat: { addresses: '198.18.3.1/32', ports: '20000-20999' } } },
];

/**
 * Isolated: an image and a worker per function, frames handed between them by the host.
 * Fused: one image of the three run to completion by one worker (ARCHITECTURE.md
 * "Placements"); the same rewrites must come out, and only the one instance receives.
 */
describe.each(['isolated', 'fused'] as const)('chain data plane: firewall → load balancer → NAT (%s placement)', (placement) => {
  let chain: ChainDataPlane;
  beforeAll(async () => {
    const store = ImageStore.open(join(tmpdir(), 'nfvkit-dataplane-test-images'));
    const images =
      placement === 'fused'
        ? [await buildFusedImage(PARTS, { store })]
        : [await buildImage(firewall, PARTS[0].config, { store }), await buildImage(loadBalancer, PARTS[1].config, { store }), await buildImage(nat, PARTS[2].config, { store })];
    chain = await ChainDataPlane.boot(images, { queueSize: 64 });
  }, 30_000);
  afterAll(async () => {
    if (chain !== undefined) await chain.shutdown().catch(() => undefined);
  });

  it('carries SYNs out and SYN-ACKs back with every rewrite right, zero copies between instances and no leak', async () => {
    const syns = Array.from({ length: FLOWS }, (_, c) =>
      buildFrame({ proto: IpProto.TCP, srcIp: CLIENT, dstIp: VIP, srcPort: 40000 + c, dstPort: 80, tcpFlags: TcpFlag.SYN, seq: 1000 * c + 1, ack: 0 }),
    );
    const { inside, outside, insideSink, outsideSink, outsideSource } = requestReplyEnds(syns);

    expect(await chain.runUntil(inside, outside, () => outsideSink.frames + chain.dropped() >= FLOWS, 10_000)).toBe(true);
    expect(chain.dropsByReason()).toEqual({});
    expect(outsideSink.frames).toBe(FLOWS);
    const seen = new Set<number>();
    const replies: Uint8Array[] = [];
    for (const frame of outsideSink.captured) {
      const p = tcpFields(frame);
      expect(p.reason).toBe(0);
      expect(p.checksumsValid).toBe(true);
      expect(p.src).toBe(NAT_ADDR);
      expect(BACKENDS.map(ip)).toContain(p.dst);
      expect(p.dport).toBe(8080);
      expect(p.sport).toBeGreaterThanOrEqual(20000);
      expect(p.sport).toBeLessThanOrEqual(20999);
      expect(p.flags).toBe(TcpFlag.SYN);
      seen.add(p.dst);
      replies.push(buildFrame({ proto: IpProto.TCP, srcIp: p.dst, dstIp: NAT_ADDR, srcPort: 8080, dstPort: p.sport, tcpFlags: TcpFlag.SYN | TcpFlag.ACK, seq: 7, ack: p.seq + 1 }));
    }
    expect(seen.size).toBe(BACKENDS.length);

    outsideSource.gen = new GeneratorPort(replies);
    expect(await chain.runUntil(inside, outside, () => insideSink.frames + chain.dropped() >= FLOWS, 10_000)).toBe(true);
    expect(chain.dropsByReason()).toEqual({});
    const clients = new Set<number>();
    for (const frame of insideSink.captured) {
      const p = tcpFields(frame);
      expect(p.reason).toBe(0);
      expect(p.checksumsValid).toBe(true);
      expect(p).toMatchObject({ src: VIP, dst: CLIENT, sport: 80, flags: TcpFlag.SYN | TcpFlag.ACK, seq: 7 });
      const c = p.dport - 40000;
      expect(p.ack).toBe(1000 * c + 2);
      clients.add(c);
    }
    expect(clients.size).toBe(FLOWS);

    expect(chain.traffic).toEqual({ enteredInside: FLOWS, enteredOutside: FLOWS, leftInside: FLOWS, leftOutside: FLOWS });
    const stats = chain.pool.stats();
    expect(stats.copiesIn).toBe(2 * FLOWS);
    expect(stats.copiesOut).toBe(2 * FLOWS);
    expect(stats.ownershipErrors).toBe(0);

    const report = await chain.shutdown();
    // Each frame entered every instance once: the three of isolated, the one fused replica.
    const names = chain.stages.map((s) => s.name);
    if (placement === 'isolated') expect(names).toEqual(['firewall', 'load-balancer', 'nat']);
    else expect(names).toHaveLength(1);
    expect(report.received).toEqual(Object.fromEntries(names.map((n) => [`${n}-0`, 2 * FLOWS])));
    expect(report.leaks).toEqual([]);
    expect(chain.pool.stats().copiesIn).toBe(2 * FLOWS);
  }, 20_000);
});
