import { beforeAll, describe, expect, it } from 'vitest';
import { compilePipeline } from '../../src/pipeline/compiler.ts';
import { loadPipeline } from '../../src/pipeline/load-pipeline.ts';
import type { CompiledPipeline, PipelineInstance } from '../../src/pipeline/compiled-pipeline.ts';
import { PacketBatch } from '../../src/pipeline/packet-batch.ts';
import { Side, Verdict } from '../../src/pipeline/verdict.ts';
import { FrameLayout } from '../../src/packet/frame-layout.ts';
import { parseFrame, ParseFlag } from '../../src/packet/parse-frame.ts';
import { formatIpv6, parseIpv6 } from '../../src/packet/ipv6-address.ts';
import { buildIpv6Frame } from '../../src/packet/ipv6-frame-builder.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import { TcpFlag } from '../../src/packet/tcp.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';

// An IPv6 web service through the dual-stack chain, in process: the firewall judges and
// tracks the connection, the load balancer spreads connections over IPv6 backends and
// translates both ways, NAT passes IPv6 untranslated. Every frame that leaves is parsed with
// its checksum verified in full.

const VIP6 = '2001:db8:2::10';
const BACKENDS6 = ['2001:db8:3::11', '2001:db8:3::12', '2001:db8:3::13'];
const groups = (text: string) => (parseIpv6(text) as readonly number[]).flatMap((w) => [w >>> 16, w & 0xffff]);

interface Hop {
  compiled: CompiledPipeline;
  pipeline: PipelineInstance;
}

/** The hops in order: a verdict OUTSIDE feeds the next hop's inside, INSIDE the previous hop's outside. */
class Chain {
  readonly mem = new DataView(new ArrayBuffer(4096));
  readonly batch = new PacketBatch(this.mem);
  constructor(readonly hops: Hop[]) {}

  send(frame: Uint8Array, from: 'client' | 'server', now: number): { out: Uint8Array | null; droppedBy?: string } {
    new Uint8Array(this.mem.buffer).set(frame, 128);
    let off = 128;
    let len = frame.length;
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
      const leaves = verdict === Verdict.OUTSIDE ? hop === this.hops.length - 1 : hop === 0;
      if (leaves) return { out: new Uint8Array(this.mem.buffer, off, len).slice() };
      hop += verdict === Verdict.OUTSIDE ? 1 : -1;
      side = verdict === Verdict.OUTSIDE ? Side.INSIDE : Side.OUTSIDE;
    }
  }
}

function tcp6(src: string, dst: string, sport: number, dport: number, flags: number, seq: number, ack: number, payloadLength = 0): Uint8Array {
  const view = new DataView(new ArrayBuffer(2048));
  const n = buildIpv6Frame(view, 0, { proto: IpProto.TCP, src: groups(src), dst: groups(dst), srcPort: sport, dstPort: dport, tcpFlags: flags, tcpSeq: seq, tcpAck: ack, payloadLength });
  return new Uint8Array(view.buffer, 0, n).slice();
}

/** The frame's tuple, after parsing it with its TCP checksum verified over the IPv6 pseudo-header. */
function parsed(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const layout = new FrameLayout();
  const reason = parseFrame(view, 0, bytes.length, layout, ParseFlag.VERIFY_L4_CHECKSUM);
  const l3 = layout.l3Offset;
  const l4 = layout.l4Offset;
  const addr = (at: number) => formatIpv6([view.getUint32(at), view.getUint32(at + 4), view.getUint32(at + 8), view.getUint32(at + 12)]);
  return {
    reason,
    ethertype: layout.ethertype,
    src: addr(l3 + 8),
    dst: addr(l3 + 24),
    sport: view.getUint16(l4),
    dport: view.getUint16(l4 + 2),
    seq: view.getUint32(l4 + 4),
    ack: view.getUint32(l4 + 8),
    flags: view.getUint8(l4 + 13),
  };
}

async function hop(def: Parameters<typeof compilePipeline>[0], config: unknown): Promise<Hop> {
  const compiled = compilePipeline(def, config);
  return { compiled, pipeline: await loadPipeline(compiled, { counters: new Float64Array(compiled.counters.length) }) };
}

describe('chain firewall → load balancer → NAT over IPv6 (in process)', () => {
  let chain: Chain;
  beforeAll(async () => {
    chain = new Chain([
      await hop(firewall, {
        defaultPolicy: 'drop',
        rules: [
          { name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 },
          { name: 'web6', action: 'allow', side: 'inside', proto: 'tcp', dst: VIP6, dport: 80 },
        ],
      }),
      await hop(loadBalancer, {
        services: [
          { name: 'web', vip: '198.18.2.10', port: 80, backends: ['198.18.3.11', '198.18.3.12'].map((address) => ({ address, port: 8080 })) },
          { name: 'web6', vip: VIP6, port: 80, backends: BACKENDS6.map((address) => ({ address, port: 8080 })) },
        ],
      }),
      await hop(nat, { snat: { addresses: '198.18.3.1/32', ports: '20000-20999' } }),
    ]);
  });

  it('carries an IPv6 TCP handshake, data and teardown both ways, every checksum right', () => {
    const client = '2001:db8:1::2';
    const cport = 40001;
    const syn = chain.send(tcp6(client, VIP6, cport, 80, TcpFlag.SYN, 100, 0), 'client', 1000);
    expect(syn.droppedBy).toBeUndefined();
    const atServer = parsed(syn.out!);
    expect(atServer).toMatchObject({ reason: 0, ethertype: 0x86dd, src: client, sport: cport, dport: 8080, flags: TcpFlag.SYN });
    expect(BACKENDS6).toContain(atServer.dst);
    const backend = atServer.dst;

    const synAck = chain.send(tcp6(backend, client, 8080, cport, TcpFlag.SYN | TcpFlag.ACK, 5000, 101), 'server', 1001);
    expect(synAck.droppedBy).toBeUndefined();
    expect(parsed(synAck.out!)).toMatchObject({ reason: 0, src: VIP6, dst: client, sport: 80, dport: cport, seq: 5000, ack: 101 });

    for (const [flags, seq, ack, from, payload] of [
      [TcpFlag.ACK, 101, 5001, 'client', 0],
      [TcpFlag.ACK | TcpFlag.PSH, 101, 5001, 'client', 77],
      [TcpFlag.ACK | TcpFlag.PSH, 5001, 178, 'server', 301],
      [TcpFlag.FIN | TcpFlag.ACK, 178, 5302, 'client', 0],
      [TcpFlag.FIN | TcpFlag.ACK, 5302, 179, 'server', 0],
      [TcpFlag.ACK, 179, 5303, 'client', 0],
    ] as const) {
      const r =
        from === 'client'
          ? chain.send(tcp6(client, VIP6, cport, 80, flags, seq, ack, payload), 'client', 1002)
          : chain.send(tcp6(backend, client, 8080, cport, flags, seq, ack, payload), 'server', 1002);
      expect(r.droppedBy, `${from} flags ${flags}`).toBeUndefined();
      const p = parsed(r.out!);
      expect(p.reason).toBe(0);
      if (from === 'client') expect(p).toMatchObject({ src: client, dst: backend, sport: cport, dport: 8080, flags, seq, ack });
      else expect(p).toMatchObject({ src: VIP6, dst: client, sport: 80, dport: cport, flags, seq, ack });
    }
  });

  it('spreads IPv6 connections over every IPv6 backend, and the firewall still refuses what no rule allows', () => {
    const seen = new Map<string, number>();
    for (let c = 0; c < 60; c++) {
      const r = chain.send(tcp6(`2001:db8:1::${(100 + c).toString(16)}`, VIP6, 41000 + c, 80, TcpFlag.SYN, 1, 0), 'client', 2000);
      expect(r.droppedBy).toBeUndefined();
      const dst = parsed(r.out!).dst;
      seen.set(dst, (seen.get(dst) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual([...BACKENDS6].sort());
    expect(chain.send(tcp6('2001:db8:1::2', VIP6, 40002, 443, TcpFlag.SYN, 1, 0), 'client', 2001).droppedBy).toBe('firewall:default_policy');
  });
});
