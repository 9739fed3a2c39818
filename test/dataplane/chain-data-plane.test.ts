import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainDataPlane, type DataPlaneEvent, type StageImage } from '../../src/dataplane/chain-data-plane.ts';
import { buildImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { IpProto, parseIpv4 } from '../../src/packet/ipv4.ts';
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

/** Sends one data segment on every open flow whenever the previous round is fully acknowledged. */
function keepTalking(client: TcpClientPort, flows: () => ClientFlow[]): () => void {
  return () => {
    const open = flows().filter((f) => f.state === 'open');
    if (open.every((f) => f.acked === f.sent)) for (const f of open) client.send(f);
  };
}

describe.each(INSTANCE_MODES)('chain data plane: several instances per function, flows pinned across scaling (%s instances)', (instanceMode) => {
  let dp: ChainDataPlane;
  const events: DataPlaneEvent[] = [];

  afterAll(async () => {
    if (dp !== undefined) await dp.shutdown().catch(() => undefined);
  });

  it('keeps every flow on its instances while instances are added and drained under traffic', async () => {
    dp = ChainDataPlane.create(['fw', 'lb', 'nat'], { instanceMode, queueSize: 64, bufferCount: 8192, pinTimeouts: { tcpClosed: 1 }, onEvent: (e) => events.push(e) });
    await dp.addInstance(0, images[0]);
    await dp.addInstance(1, images[1]);
    await dp.addInstance(2, images[2], { shards: 4 });
    const client = new TcpClientPort(VIP, 80);
    const servers = new TcpResponderPort();
    /** The NAT instance a server-side tuple `src:sport>dst:dport` is pinned to on the outside link. */
    const natOf = (tuple: string): string => {
      const [[src, sport], [dst, dport]] = tuple.split('>').map((e) => e.split(':').map(Number));
      const link = dp.links[3];
      link.setTuple(src, dst, sport, dport, IpProto.TCP);
      const slot = link.find();
      return slot < 0 ? 'unpinned' : dp.stages[2].bySlot[link.leftOf(slot)].id;
    };
    const phaseA = Array.from({ length: 40 }, (_, i) => client.open(clientIp(i), 30000 + i));
    const allOpen = (flows: ClientFlow[]) => flows.every((f) => f.state === 'open');
    expect(await dp.runUntil(client, servers, () => allOpen(phaseA), 10_000)).toBe(true);

    // Scale fw and lb out while phase-A flows keep sending.
    const talkA = keepTalking(client, () => phaseA);
    const added = Promise.all([dp.addInstance(0, images[0]), dp.addInstance(1, images[1]), dp.addInstance(2, images[2], { shards: 4 })]);
    let scaled = false;
    void added.then(() => (scaled = true));
    expect(await dp.runUntil(client, servers, () => (talkA(), scaled), 20_000)).toBe(true);
    await added;
    expect(dp.stage('fw').live.map((i) => i.id)).toEqual(['fw-0', 'fw-1']);

    // New flows spread over old and new instances; old ones stay where they were.
    const before = new Map(phaseA.map((f) => [f.id, dp.pinnedInstance(0, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id]));
    expect([...before.values()].every((id) => id === 'fw-0')).toBe(true);
    const phaseB = Array.from({ length: 60 }, (_, i) => client.open(clientIp(100 + i), 40000 + i));
    const everyone = () => [...phaseA, ...phaseB];
    const talk = keepTalking(client, everyone);
    expect(await dp.runUntil(client, servers, () => (talk(), allOpen(phaseB) && everyone().every((f) => f.acked >= 3)), 20_000)).toBe(true);
    const fwOfB = phaseB.map((f) => dp.pinnedInstance(0, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id);
    const lbOfB = phaseB.map((f) => dp.pinnedInstance(1, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id);
    expect(new Set(fwOfB)).toEqual(new Set(['fw-0', 'fw-1']));
    expect(new Set(lbOfB)).toEqual(new Set(['lb-0', 'lb-1']));
    const natPorts = new Map<string, Set<number>>();
    for (const f of phaseB) {
      const tuple = [...servers.tuples.get(f.id)!][0];
      const natId = natOf(tuple);
      const port = Number(tuple.split('>')[0].split(':')[1]);
      natPorts.set(natId, (natPorts.get(natId) ?? new Set()).add(port));
    }
    expect([...natPorts.keys()].sort()).toEqual(['nat-0', 'nat-1']);
    const [ports0, ports1] = [natPorts.get('nat-0')!, natPorts.get('nat-1')!];
    expect([...ports0].every((p) => p >= 20000 && p <= 22499)).toBe(true);
    expect([...ports1].every((p) => p >= 22500 && p <= 24999)).toBe(true);
    for (const f of phaseA) expect(dp.pinnedInstance(0, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id).toBe('fw-0');

    // Drain fw-0 and lb-0: their flows end (FIN both ways), the rest keep talking, then they stop.
    const onOld = everyone().filter((f) => dp.pinnedInstance(0, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id === 'fw-0' || dp.pinnedInstance(1, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id === 'lb-0');
    const staying = everyone().filter((f) => !onOld.includes(f));
    expect(staying.length).toBeGreaterThan(5);
    let drained = false;
    const drains = Promise.all([dp.drainInstance('fw-0', 'scale-in', 10_000), dp.drainInstance('lb-0', 'scale-in', 10_000)]).then(() => (drained = true));
    for (const f of onOld) client.close(f);
    const talkStaying = keepTalking(client, () => staying);
    expect(await dp.runUntil(client, servers, () => (talkStaying(), drained), 15_000)).toBe(true);
    await drains;
    expect(onOld.every((f) => f.state === 'closed')).toBe(true);
    expect(dp.stage('fw').live.map((i) => i.id)).toEqual(['fw-1']);
    expect(dp.stage('lb').live.map((i) => i.id)).toEqual(['lb-1']);
    const stops = events.filter((e) => e.type === 'instance-stopped');
    expect(stops).toEqual([
      expect.objectContaining({ instance: expect.stringMatching(/^(fw|lb)-0$/), reason: 'scale-in', flowsLeft: 0 }),
      expect.objectContaining({ instance: expect.stringMatching(/^(fw|lb)-0$/), reason: 'scale-in', flowsLeft: 0 }),
    ]);

    // The flows that stayed still work end to end after the old instances are gone.
    const target = Math.max(...staying.map((f) => f.sent)) + 3;
    expect(await dp.runUntil(client, servers, () => (talkStaying(), staying.every((f) => f.acked >= target)), 10_000)).toBe(true);

    for (const f of everyone()) {
      expect(f.wrongSource).toBe(0);
      expect(servers.tuples.get(f.id)?.size).toBe(1);
    }
    expect(client.strays).toBe(0);
    expect(servers.servers.size).toBe(BACKENDS.length);
    expect(dp.drops).toEqual({ noInstance: 0, instanceGone: 0, ownership: 0, unpinned: 0, awaitingHeir: 0, stateLost: 0 });
    expect({ dropped: dp.dropped(), byReason: dp.dropsByReason() }).toEqual({ dropped: 0, byReason: {} });
    expect(dp.counters.learnConflicts).toBe(0);
    expect(dp.pool.stats().ownershipErrors).toBe(0);
    const { leaks } = await dp.shutdown();
    expect(leaks).toEqual([]);
  }, 90_000);
});

describe.each(INSTANCE_MODES)('chain data plane: an instance that dies (%s instances)', (instanceMode) => {
  it('is detected and taken out; its flows move to the survivor, which keeps forwarding; nothing leaks', async () => {
    const { passThrough } = await import('../../functions/pass-through/pipeline.ts');
    const { GeneratorPort } = await import('../../src/dataplane/ports/generator-port.ts');
    const { SinkPort } = await import('../../src/dataplane/ports/sink-port.ts');
    const { buildFrame } = await import('../../src/traffic/frame-builder.ts');
    const image = await buildImage(passThrough, {}, { store: ImageStore.open(join(tmpdir(), 'nfvkit-dataplane-test-images')) });
    const events: DataPlaneEvent[] = [];
    const plane = ChainDataPlane.create(['pt'], { instanceMode, queueSize: 64, bufferCount: 4096, onEvent: (e) => events.push(e) });
    try {
      await plane.addInstance(0, image);
      const doomed = await plane.addInstance(0, image);
      const flows = Array.from({ length: 64 }, (_, i) => buildFrame({ proto: IpProto.UDP, srcIp: clientIp(i), dstIp: VIP, srcPort: 5000 + i, dstPort: 53 }));
      const sink = new SinkPort();
      const first = new GeneratorPort(flows, { total: 20_000 });
      expect(await plane.runUntil(first, sink, () => first.done && sink.frames + plane.dropped() >= first.sent, 10_000)).toBe(true);
      expect(plane.stage('pt').live.every((i) => i.flows > 0)).toBe(true);

      await doomed.host.worker.terminate();
      const second = new GeneratorPort(flows, { total: 20_000 });
      const before = sink.frames;
      expect(await plane.runUntil(second, sink, () => second.done && sink.frames - before + plane.dropped() >= second.sent && events.some((e) => e.type === 'instance-failed'), 10_000)).toBe(true);
      expect(events.find((e) => e.type === 'instance-failed')).toMatchObject({ instance: doomed.id });
      expect(plane.stage('pt').live.map((i) => i.id)).toEqual(['pt-0']);
      // Frames caught in the dead instance are lost (counted); every later one reaches the sink through the survivor.
      const third = new GeneratorPort(flows, { total: 5_000 });
      const mid = sink.frames;
      const droppedBefore = plane.dropped();
      expect(await plane.runUntil(third, sink, () => third.done && sink.frames - mid + plane.dropped() - droppedBefore >= third.sent, 10_000)).toBe(true);
      expect(sink.frames - mid).toBe(5_000);
      expect(plane.counters.repinned).toBeGreaterThan(0);
    } finally {
      const { leaks } = await plane.shutdown();
      expect(leaks).toEqual([]);
    }
  }, 60_000);
});
