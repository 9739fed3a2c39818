import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFusedImage, buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import { STATE_LOST } from '../../src/dataplane/stage.ts';
import { DuplexPort } from '../../src/dataplane/ports/duplex-port.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { MemfdMemory } from '../../src/memory/shared-memory.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { TcpFlag } from '../../src/packet/tcp.ts';
import { ProcessIsolate } from '../../src/runtime/process-isolate.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { parseSegment, SwitchableSource, type TcpSegment } from '../support/tcp-ports.ts';

// Issue 16, item 5: where connection state cannot be taken over (no successor of the image
// came in time), the flows are closed honestly: the next segment from either side is answered
// with a TCP reset its sender accepts, instead of being dropped in silence.

const ip = (s: string): number => parseIpv4(s) as number;
const CLIENT = ip('198.18.1.2');
const VIP = ip('198.18.2.10');
const NAT_ADDR = ip('198.18.3.1');
const FLOWS = 8;

/** The TCP segment in `frame` (checksums verified). */
function tcp(frame: Uint8Array): TcpSegment {
  const segment = parseSegment(frame);
  expect(segment).not.toBeNull();
  return segment!;
}

const FW = { defaultPolicy: 'drop', stateful: true, rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 }] } as const;
const LB = { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: [{ address: '198.18.3.11', port: 8080 }] }] };
const NAT = { snat: { addresses: '198.18.3.1/32', ports: '20000-20999' } };

/**
 * Isolated over host-forwarded and direct links: the load balancer dies. Fused: the replica
 * running all three dies (ARCHITECTURE.md "Placements"), and the host, where both ends of
 * the chain are, answers for it.
 */
const CASES = [
  { placement: 'isolated', links: 'host' },
  { placement: 'isolated', links: 'direct' },
  { placement: 'fused', links: 'host' },
] as const;

describe.skipIf(!MemfdMemory.available()).each(CASES)('a flow whose state died with its instance is closed with resets both ways ($placement placement, $links links)', ({ placement, links }) => {
  let dir: string;
  let chain: ChainDataPlane;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nfvkit-state-lost-'));
    const store = ImageStore.open(dir);
    const images =
      placement === 'fused'
        ? [await buildFusedImage([{ name: 'fw', definition: firewall, config: FW }, { name: 'lb', definition: loadBalancer, config: LB }, { name: 'nat', definition: nat, config: NAT }], { store })]
        : [await buildImage(firewall, FW, { store }), await buildImage(loadBalancer, LB, { store }), await buildImage(nat, NAT, { store })];
    chain = await ChainDataPlane.boot(images, { queueSize: 64, orphanWaitMs: 100, instanceMode: 'process', links });
  }, 60_000);
  afterAll(async () => {
    await chain?.shutdown().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the client and the server with a reset each once the load balancer died and nobody took its connections', async () => {
    const insideSink = new SinkPort({ capture: true });
    const outsideSink = new SinkPort({ capture: true });
    const inSource = new SwitchableSource();
    const outSource = new SwitchableSource();
    const inside = new DuplexPort(inSource, insideSink);
    const outside = new DuplexPort(outSource, outsideSink);
    const run = (done: () => boolean) => chain.runUntil(inside, outside, done, 10_000);

    // Handshakes: SYN out, SYN-ACK back, ACK out.
    inSource.gen = new GeneratorPort(Array.from({ length: FLOWS }, (_, c) => buildFrame({ proto: IpProto.TCP, srcIp: CLIENT, dstIp: VIP, srcPort: 40000 + c, dstPort: 80, tcpFlags: TcpFlag.SYN, seq: 1000, ack: 0 })));
    expect(await run(() => outsideSink.frames >= FLOWS)).toBe(true);
    const server = outsideSink.captured.map(tcp);
    outSource.gen = new GeneratorPort(server.map((p) => buildFrame({ proto: IpProto.TCP, srcIp: p.dst, dstIp: NAT_ADDR, srcPort: 8080, dstPort: p.sport, tcpFlags: TcpFlag.SYN | TcpFlag.ACK, seq: 5000, ack: 1001 })));
    expect(await run(() => insideSink.frames >= FLOWS)).toBe(true);
    inSource.gen = new GeneratorPort(Array.from({ length: FLOWS }, (_, c) => buildFrame({ proto: IpProto.TCP, srcIp: CLIENT, dstIp: VIP, srcPort: 40000 + c, dstPort: 80, tcpFlags: TcpFlag.ACK, seq: 1001, ack: 5001 })));
    expect(await run(() => outsideSink.frames >= 2 * FLOWS)).toBe(true);
    expect(chain.dropsByReason()).toEqual({});

    // The load balancer (fused: the replica) dies; no successor comes; its state is given up after 100 ms.
    const dying = placement === 'fused' ? chain.stages[0] : chain.stage('load-balancer');
    const lb = dying.live[0];
    process.kill((lb.host.worker as ProcessIsolate).pid!, 'SIGKILL');
    expect(await run(() => lb.heir === STATE_LOST)).toBe(true);
    expect(dying.live).toEqual([]);
    insideSink.captured.length = 0;
    outsideSink.captured.length = 0;
    const [inBefore, outBefore] = [insideSink.frames, outsideSink.frames];

    // The client's next segment comes back to it as a reset from the VIP (seq = its ACK).
    inSource.gen = new GeneratorPort(Array.from({ length: FLOWS }, (_, c) => buildFrame({ proto: IpProto.TCP, srcIp: CLIENT, dstIp: VIP, srcPort: 40000 + c, dstPort: 80, tcpFlags: TcpFlag.ACK | TcpFlag.PSH, seq: 1001, ack: 5001, payloadLength: 100 })));
    expect(await run(() => insideSink.frames >= inBefore + FLOWS), JSON.stringify({ drops: chain.dropsByReason(), counters: chain.counters })).toBe(true);
    for (const [c, frame] of insideSink.captured.entries()) {
      expect(tcp(frame)).toMatchObject({ checksumsValid: true, src: VIP, sport: 80, dst: CLIENT, dport: 40000 + c, seq: 5001 });
      expect(tcp(frame).flags & TcpFlag.RST).toBe(TcpFlag.RST);
    }
    // The server's next segment comes back to it as a reset from the NAT address (seq = its ACK).
    outSource.gen = new GeneratorPort(server.map((p) => buildFrame({ proto: IpProto.TCP, srcIp: p.dst, dstIp: NAT_ADDR, srcPort: 8080, dstPort: p.sport, tcpFlags: TcpFlag.ACK | TcpFlag.PSH, seq: 5001, ack: 1101, payloadLength: 50 })));
    expect(await run(() => outsideSink.frames >= outBefore + FLOWS)).toBe(true);
    for (const [i, frame] of outsideSink.captured.entries()) {
      expect(tcp(frame)).toMatchObject({ checksumsValid: true, src: NAT_ADDR, sport: server[i].sport, dst: server[i].dst, dport: 8080, seq: 1101 });
      expect(tcp(frame).flags & TcpFlag.RST).toBe(TcpFlag.RST);
    }
    // Host links: the host answers both; direct links: the instances that sent toward the lost one (fw, NAT) each answer theirs.
    expect(chain.dropsByReason()).toMatchObject(links === 'host' ? { 'host:stateLost': 2 * FLOWS } : { 'firewall-0:link_state_lost': FLOWS, 'nat-0:link_state_lost': FLOWS });
  }, 30_000);
});
