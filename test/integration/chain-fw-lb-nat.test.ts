import { beforeAll, describe, expect, it } from 'vitest';
import { compilePipeline } from '../../src/pipeline/compiler.ts';
import { loadPipeline } from '../../src/pipeline/load-pipeline.ts';
import type { CompiledPipeline, PipelineInstance } from '../../src/pipeline/compiled-pipeline.ts';
import { PacketBatch } from '../../src/pipeline/packet-batch.ts';
import { Side, Verdict } from '../../src/pipeline/verdict.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { parseFrame, ParseFlag } from '../../src/packet/parse-frame.ts';
import { ipv4Dst, ipv4Src, IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { tcpAck, tcpDstPort, tcpFlags, tcpSeq, tcpSrcPort, TcpFlag } from '../../src/packet/tcp.ts';
import { writeFrame } from '../../src/traffic/frame-builder.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';

const ip = (s: string): number => parseIpv4(s) as number;
const CLIENT = ip('198.18.1.2');
const VIP = ip('198.18.2.10');
const NAT_ADDR = ip('198.18.3.1');
const BACKENDS = ['198.18.3.11', '198.18.3.12', '198.18.3.13'];

interface Hop {
  compiled: CompiledPipeline;
  counters: Float64Array;
  pipeline: PipelineInstance;
}

/** firewall → load balancer → NAT, run in process: a verdict OUTSIDE feeds the next hop's inside, INSIDE the previous hop's outside. */
class Chain {
  readonly mem = new DataView(new ArrayBuffer(4096));
  readonly batch = new PacketBatch(this.mem);
  constructor(readonly hops: Hop[]) {}

  /** Sends a frame in from the client side (inside) or the server side (outside); returns the frame that leaves, or the drop. */
  send(frame: (v: DataView, off: number) => number, from: 'client' | 'server', now: number): { out: DataView | null; droppedBy?: string } {
    let len = frame(this.mem, 128);
    let off = 128;
    let hop = from === 'client' ? 0 : this.hops.length - 1;
    let side: number = from === 'client' ? Side.INSIDE : Side.OUTSIDE;
    for (;;) {
      const h = this.hops[hop];
      this.batch.clear();
      this.batch.push(0, off, len, side);
      h.pipeline.processBatch(this.batch, now);
      const verdict = this.batch.verdicts[0];
      off = this.batch.offsets[0];
      len = this.batch.lengths[0];
      if (verdict === Verdict.DROP) return { out: null, droppedBy: `${h.compiled.name}:${h.compiled.counters[this.batch.reasons[0]].name}` };
      if (verdict === Verdict.OUTSIDE) {
        if (hop === this.hops.length - 1) return { out: new DataView(this.mem.buffer, off, len) };
        hop++;
        side = Side.INSIDE;
      } else {
        if (hop === 0) return { out: new DataView(this.mem.buffer, off, len) };
        hop--;
        side = Side.OUTSIDE;
      }
    }
  }
}

function tcp(src: number, dst: number, sport: number, dport: number, flags: number, seq: number, ack: number) {
  return (v: DataView, off: number) => writeFrame(v, off, { proto: IpProto.TCP, srcIp: src, dstIp: dst, srcPort: sport, dstPort: dport, tcpFlags: flags, seq, ack });
}

function parsed(out: DataView) {
  const view = new DataView(out.buffer);
  const layout = new FrameLayout();
  const reason = parseFrame(view, out.byteOffset, out.byteLength, layout, ParseFlag.VERIFY_L4_CHECKSUM);
  return {
    reason,
    src: ipv4Src(view, layout.l3Offset),
    dst: ipv4Dst(view, layout.l3Offset),
    sport: tcpSrcPort(view, layout.l4Offset),
    dport: tcpDstPort(view, layout.l4Offset),
    flags: tcpFlags(view, layout.l4Offset),
    seq: tcpSeq(view, layout.l4Offset),
    ack: tcpAck(view, layout.l4Offset),
  };
}

async function hop(def: Parameters<typeof compilePipeline>[0], config: unknown): Promise<Hop> {
  const compiled = compilePipeline(def, config);
  const counters = new Float64Array(compiled.counters.length);
  return { compiled, counters, pipeline: await loadPipeline(compiled, { counters }) };
}

describe('chain firewall → load balancer → NAT (in process)', () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = new Chain([
      await hop(firewall, {
        defaultPolicy: 'drop',
        rules: [
          { name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 },
          { name: 'telnet', action: 'reject', side: 'inside', proto: 'tcp', dport: 23 },
        ],
      }),
      await hop(loadBalancer, { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: BACKENDS.map((address) => ({ address, port: 8080 })) }] }),
      await hop(nat, { snat: { addresses: '198.18.3.1/32', ports: '20000-20999' } }),
    ]);
  });

  it('carries a TCP handshake, data and teardown both ways with every rewrite and checksum right', () => {
    const cport = 40001;
    const syn = chain.send(tcp(CLIENT, VIP, cport, 80, TcpFlag.SYN, 100, 0), 'client', 1000);
    expect(syn.droppedBy).toBeUndefined();
    const atServer = parsed(syn.out!);
    expect(atServer.reason).toBe(0);
    expect(atServer.src).toBe(NAT_ADDR);
    expect(BACKENDS.map(ip)).toContain(atServer.dst);
    expect(atServer.dport).toBe(8080);
    expect(atServer.sport).toBeGreaterThanOrEqual(20000);
    expect(atServer.sport).toBeLessThanOrEqual(20999);
    expect(atServer.flags).toBe(TcpFlag.SYN);
    const { dst: backend, sport: natPort } = atServer;

    const synAck = chain.send(tcp(backend, NAT_ADDR, 8080, natPort, TcpFlag.SYN | TcpFlag.ACK, 5000, 101), 'server', 1001);
    expect(synAck.droppedBy).toBeUndefined();
    const atClient = parsed(synAck.out!);
    expect(atClient).toMatchObject({ reason: 0, src: VIP, dst: CLIENT, sport: 80, dport: cport, flags: TcpFlag.SYN | TcpFlag.ACK, seq: 5000, ack: 101 });

    for (const [flags, seq, ack, from] of [
      [TcpFlag.ACK, 101, 5001, 'client'],
      [TcpFlag.ACK | TcpFlag.PSH, 101, 5001, 'client'],
      [TcpFlag.ACK | TcpFlag.PSH, 5001, 120, 'server'],
      [TcpFlag.FIN | TcpFlag.ACK, 120, 5100, 'client'],
      [TcpFlag.FIN | TcpFlag.ACK, 5100, 121, 'server'],
      [TcpFlag.ACK, 121, 5101, 'client'],
    ] as const) {
      const r =
        from === 'client'
          ? chain.send(tcp(CLIENT, VIP, cport, 80, flags, seq, ack), 'client', 1002)
          : chain.send(tcp(backend, NAT_ADDR, 8080, natPort, flags, seq, ack), 'server', 1002);
      expect(r.droppedBy, `${from} flags ${flags}`).toBeUndefined();
      const p = parsed(r.out!);
      expect(p.reason).toBe(0);
      if (from === 'client') expect(p).toMatchObject({ src: NAT_ADDR, dst: backend, sport: natPort, dport: 8080, flags, seq, ack });
      else expect(p).toMatchObject({ src: VIP, dst: CLIENT, sport: 80, dport: cport, flags, seq, ack });
    }
  });

  it('keeps a retransmitted SYN on its backend and NAT port, and spreads connections over all backends', () => {
    const seen = new Map<number, number>();
    for (let c = 0; c < 60; c++) {
      const cport = 41000 + c;
      const first = parsed(chain.send(tcp(CLIENT, VIP, cport, 80, TcpFlag.SYN, 1, 0), 'client', 2000).out!);
      const again = parsed(chain.send(tcp(CLIENT, VIP, cport, 80, TcpFlag.SYN, 1, 0), 'client', 2001).out!);
      expect(again.dst).toBe(first.dst);
      expect(again.sport).toBe(first.sport);
      seen.set(first.dst, (seen.get(first.dst) ?? 0) + 1);
    }
    expect(seen.size).toBe(BACKENDS.length);
  });

  it('drops unsolicited inbound traffic and rejects a forbidden port with a RST', () => {
    // A port outside the SNAT range: no mapping can own it, whatever ports earlier tests drew.
    const unsolicited = chain.send(tcp(ip('198.18.3.11'), NAT_ADDR, 8080, 30500, TcpFlag.SYN, 1, 0), 'server', 3000);
    expect(unsolicited.out).toBeNull();
    expect(unsolicited.droppedBy).toBe('nat:no_mapping');
    const telnet = chain.send(tcp(CLIENT, VIP, 40100, 23, TcpFlag.SYN, 7, 0), 'client', 3001);
    const rst = parsed(telnet.out!);
    expect(rst).toMatchObject({ reason: 0, src: VIP, dst: CLIENT, sport: 23, dport: 40100, ack: 8 });
    expect(rst.flags & TcpFlag.RST).toBe(TcpFlag.RST);
  });
});
