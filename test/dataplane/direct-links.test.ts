import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainDataPlane, type DataPlaneEvent, type StageImage } from '../../src/dataplane/chain-data-plane.ts';
import { DirectLinkCounter } from '../../src/dataplane/links/direct-link-counters.ts';
import { CaptureQueue } from '../../src/capture/capture-queue.ts';
import { compileFilter } from '../../src/capture/packet-filter.ts';
import { LinkTap } from '../../src/capture/link-tap.ts';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
import { GeneratorPort } from '../../src/dataplane/ports/generator-port.ts';
import { SinkPort } from '../../src/dataplane/ports/sink-port.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { loadBalancer } from '../../functions/load-balancer/pipeline.ts';
import { nat } from '../../functions/nat/pipeline.ts';
import { TcpClientPort, TcpResponderPort, type ClientFlow } from '../support/tcp-ports.ts';
import { INSTANCE_MODES } from '../support/instance-modes.ts';

const ip = (s: string): number => parseIpv4(s) as number;
const VIP = ip('198.18.2.10');
const BACKENDS = ['198.18.3.11', '198.18.3.12', '198.18.3.13'];
const clientIp = (i: number) => ip('198.18.1.0') + 2 + (i % 200);

let images: StageImage[];

beforeAll(async () => {
  const store = ImageStore.open(join(tmpdir(), 'nfvkit-dataplane-test-images'));
  images = [
    await buildImage(firewall, { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 }] }, { store }),
    await buildImage(loadBalancer, { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: BACKENDS.map((address) => ({ address, port: 8080 })) }] }, { store }),
    await buildImage(nat, { snat: { addresses: '198.18.3.1/32', ports: '20000-29999' } }, { store }),
  ];
}, 60_000);

function keepTalking(client: TcpClientPort, flows: () => ClientFlow[]): () => void {
  return () => {
    const open = flows().filter((f) => f.state === 'open');
    if (open.every((f) => f.acked === f.sent)) for (const f of open) client.send(f);
  };
}

const allOpen = (flows: ClientFlow[]) => flows.every((f) => f.state === 'open');

/** Frames the host's device ends moved for an instance (what it polled from and delivered to each side). */
function hostFrames(dp: ChainDataPlane, id: string): { eth0: number; eth1: number } {
  const h = dp.instance(id).host;
  return { eth0: h.eth0.rxCounters.packets + h.eth0.txCounters.packets, eth1: h.eth1.rxCounters.packets + h.eth1.txCounters.packets };
}

describe.each(INSTANCE_MODES)('chain data plane with direct links between stages (%s instances)', (instanceMode) => {
  let dp: ChainDataPlane | undefined;
  afterAll(async () => {
    if (dp !== undefined) await dp.shutdown().catch(() => undefined);
  });

  it('carries fw → lb → NAT both ways with no frame through the host between stages; a draining lb keeps its flows and gets no new ones', async () => {
    const events: DataPlaneEvent[] = [];
    dp = ChainDataPlane.create(['fw', 'lb', 'nat'], { instanceMode, links: 'direct', queueSize: 64, bufferCount: 8192, pinTimeouts: { tcpClosed: 1 }, onEvent: (e) => events.push(e) });
    const d = dp;
    await d.addInstance(0, images[0]);
    await d.addInstance(1, images[1]);
    await d.addInstance(2, images[2]);
    const client = new TcpClientPort(VIP, 80);
    const servers = new TcpResponderPort();
    const phaseA = Array.from({ length: 30 }, (_, i) => client.open(clientIp(i), 30000 + i));
    expect(await d.runUntil(client, servers, () => allOpen(phaseA), 15_000)).toBe(true);
    const talkA = keepTalking(client, () => phaseA);
    expect(await d.runUntil(client, servers, () => (talkA(), phaseA.every((f) => f.acked >= 2)), 15_000)).toBe(true);

    // The host moved frames only at the chain's ends: fw's eth0, NAT's eth1.
    expect(hostFrames(d, 'fw-0').eth1).toBe(0);
    expect(hostFrames(d, 'lb-0')).toEqual({ eth0: 0, eth1: 0 });
    expect(hostFrames(d, 'nat-0').eth0).toBe(0);
    expect(hostFrames(d, 'fw-0').eth0).toBeGreaterThan(0);
    // A capture can only tap what crosses the host: the chain's ends.
    expect(() => d.attachTap(1, new LinkTap(compileFilter(''), new CaptureQueue()))).toThrow(/never cross the host/);
    expect(() => d.attachTap(2, new LinkTap(compileFilter(''), new CaptureQueue()))).toThrow(expect.objectContaining({ code: 'NFVKIT_ERR_LINK_NOT_CAPTURABLE' }));
    const lbStats = d.instance('lb-0').linkStats!;
    expect(lbStats[DirectLinkCounter.RECEIVED]).toBeGreaterThan(0);
    expect(lbStats[DirectLinkCounter.SENT]).toBeGreaterThan(0);

    // Scale lb out, drain lb-0 at once: phase A keeps talking through it, phase B goes to lb-1 only.
    await d.addInstance(1, images[1]);
    let drained = false;
    const drain = d.drainInstance('lb-0', 'scale-in', 20_000).then(() => (drained = true));
    const phaseB = Array.from({ length: 30 }, (_, i) => client.open(clientIp(100 + i), 40000 + i));
    const everyone = () => [...phaseA, ...phaseB];
    const talk = keepTalking(client, everyone);
    const targetA = Math.max(...phaseA.map((f) => f.sent)) + 3;
    expect(await d.runUntil(client, servers, () => (talk(), allOpen(phaseB) && phaseB.every((f) => f.acked >= 3) && phaseA.every((f) => f.acked >= targetA)), 20_000)).toBe(true);
    expect(drained).toBe(false);
    // The host's pin query for the link between fw and lb asks the lb instances: phase A is lb-0's, phase B lb-1's.
    for (const f of phaseA.slice(0, 8)) expect(d.pinnedInstance(1, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id).toBe('lb-0');
    for (const f of phaseB.slice(0, 8)) expect(d.pinnedInstance(1, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id).toBe('lb-1');
    expect(d.pinnedInstance(1, clientIp(7), VIP, 12345, 80, IpProto.TCP)).toBeUndefined();
    // Phase A ends (FIN both ways): lb-0's pins go, it stops; phase B still works after.
    for (const f of phaseA) client.close(f);
    const talkB = keepTalking(client, () => phaseB);
    expect(await d.runUntil(client, servers, () => (talkB(), drained), 20_000)).toBe(true);
    await drain;
    expect(phaseA.every((f) => f.state === 'closed')).toBe(true);
    expect(d.stage('lb').live.map((i) => i.id)).toEqual(['lb-1']);
    expect(events.filter((e) => e.type === 'instance-stopped')).toEqual([expect.objectContaining({ instance: 'lb-0', reason: 'scale-in', flowsLeft: 0 })]);
    const targetB = Math.max(...phaseB.map((f) => f.sent)) + 3;
    expect(await d.runUntil(client, servers, () => (talkB(), phaseB.every((f) => f.acked >= targetB)), 15_000)).toBe(true);
    expect(hostFrames(d, 'lb-1')).toEqual({ eth0: 0, eth1: 0 });

    for (const f of everyone()) {
      expect(f.wrongSource).toBe(0);
      expect(servers.tuples.get(f.id)?.size).toBe(1);
    }
    expect(client.strays).toBe(0);
    expect(d.drops).toEqual({ noInstance: 0, instanceGone: 0, ownership: 0, unpinned: 0, awaitingHeir: 0, stateLost: 0 });
    expect({ dropped: d.dropped(), byReason: d.dropsByReason() }).toEqual({ dropped: 0, byReason: {} });
    expect(d.pool.stats().ownershipErrors).toBe(0);
    expect(d.faults).toEqual({ protocolViolations: 0, lockHeld: 0, lockUnattributed: 0, scrubbed: 0, caught: 0 });
    dp = undefined;
    const { leaks } = await d.shutdown();
    expect(leaks).toEqual([]);
  }, 120_000);
});

describe.each(INSTANCE_MODES)('direct links when an instance dies or breaks its queue pair (%s instances)', (instanceMode) => {
  let image: StageImage;
  beforeAll(async () => {
    image = await buildImage(passThrough, {}, { store: ImageStore.open(join(tmpdir(), 'nfvkit-dataplane-test-images')) });
  }, 60_000);
  const flows = Array.from({ length: 64 }, (_, i) => buildFrame({ proto: IpProto.UDP, srcIp: clientIp(i), dstIp: VIP, srcPort: 5000 + i, dstPort: 53 }));

  it('a dead middle instance is taken out; its flows are re-steered to the survivor by the senders; lost frames are counted; nothing leaks', async () => {
    const events: DataPlaneEvent[] = [];
    const plane = ChainDataPlane.create(['a', 'b', 'c'], { instanceMode, links: 'direct', queueSize: 64, bufferCount: 4096, onEvent: (e) => events.push(e) });
    try {
      await plane.addInstance(0, image);
      await plane.addInstance(1, image);
      const doomed = await plane.addInstance(1, image);
      await plane.addInstance(2, image);
      const sink = new SinkPort();
      const first = new GeneratorPort(flows, { total: 20_000 });
      expect(await plane.runUntil(first, sink, () => first.done && sink.frames + plane.dropped() >= first.sent, 10_000)).toBe(true);
      expect(sink.frames).toBe(20_000);
      expect(plane.stage('b').live.every((i) => i.linkStats![DirectLinkCounter.RECEIVED] > 0)).toBe(true);

      await doomed.host.worker.terminate();
      const second = new GeneratorPort(flows, { total: 20_000 });
      const before = sink.frames;
      expect(await plane.runUntil(second, sink, () => second.done && sink.frames - before + plane.dropped() >= second.sent && events.some((e) => e.type === 'instance-failed'), 30_000)).toBe(true);
      expect(events.find((e) => e.type === 'instance-failed')).toMatchObject({ instance: doomed.id });
      expect(plane.stage('b').live.map((i) => i.id)).toEqual(['b-0']);
      const third = new GeneratorPort(flows, { total: 5_000 });
      const mid = sink.frames;
      const droppedBefore = plane.dropped();
      expect(await plane.runUntil(third, sink, () => third.done && sink.frames - mid + plane.dropped() - droppedBefore >= third.sent, 10_000)).toBe(true);
      expect(sink.frames - mid).toBe(5_000);
      expect(plane.instance('a-0').linkStats![DirectLinkCounter.REPINNED]).toBeGreaterThan(0);
      // A new instance takes the lane back once the senders acknowledged the departure.
      expect((await plane.addInstance(1, image)).lane).toBeGreaterThanOrEqual(0);
    } finally {
      const { leaks } = await plane.shutdown();
      expect(leaks).toEqual([]);
    }
  }, 60_000);

  it('an instance that breaks its queue pair (its available index far ahead) is failed as a protocol violation; its peer keeps running', async () => {
    const events: DataPlaneEvent[] = [];
    const plane = ChainDataPlane.create(['a', 'b'], { instanceMode, links: 'direct', queueSize: 64, bufferCount: 4096, onEvent: (e) => events.push(e) });
    try {
      const hostile = await plane.addInstance(0, image);
      await plane.addInstance(0, image);
      const victim = await plane.addInstance(1, image);
      const sink = new SinkPort();
      const first = new GeneratorPort(flows, { total: 2_000 });
      expect(await plane.runUntil(first, sink, () => first.done && sink.frames + plane.dropped() >= first.sent, 10_000)).toBe(true);
      // What the hostile instance could write: the available index of its ring toward b-0.
      const area = plane.linkArea!;
      const ring = area.layout.pair(1, hostile.lane, victim.lane);
      const availIdx = ring + 192 + 16 * area.geometry.queueSize + 2; // control block and doorbells, descriptor table, avail->flags
      // A hostile writer keeps writing it (its own honest publishes would put it back).
      const scribble = () => new DataView(area.sab).setUint16(availIdx, 40_000, true);
      const second = new GeneratorPort(flows, { total: 2_000 });
      expect(await plane.runUntil(second, sink, () => (scribble(), events.some((e) => e.type === 'instance-failed')), 10_000)).toBe(true);
      expect(await plane.runUntil(second, sink, () => second.done && !plane.hasFramesInFlight(), 10_000)).toBe(true);
      expect(events.find((e) => e.type === 'instance-failed')).toMatchObject({ instance: hostile.id, reason: expect.stringMatching(/protocol-violation/) });
      expect(plane.faults.protocolViolations).toBe(1);
      expect(victim.host.state).toBe('running');
      const third = new GeneratorPort(flows, { total: 2_000 });
      const mid = sink.frames;
      const droppedBefore = plane.dropped();
      expect(await plane.runUntil(third, sink, () => third.done && sink.frames - mid + plane.dropped() - droppedBefore >= third.sent, 10_000)).toBe(true);
      expect(sink.frames - mid).toBe(2_000);
    } finally {
      const { leaks } = await plane.shutdown();
      expect(leaks).toEqual([]);
    }
  }, 60_000);
});
