import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import { buildFusedImage } from '../../src/image/image-builder.ts';
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
const PARTS = [
  { name: 'fw', definition: firewall, config: { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: '198.18.2.10', dport: 80 }] } },
  { name: 'lb', definition: loadBalancer, config: { services: [{ name: 'web', vip: '198.18.2.10', port: 80, backends: BACKENDS.map((address) => ({ address, port: 8080 })) }] } },
  { name: 'nat', definition: nat, config: { snat: { addresses: '198.18.3.1/32', ports: '20000-29999' } } },
];

/** A store of this file's own, removed at the end (a store shared across runs may hold images other checkouts built). */
const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-fused-test-'));
const store = (): ImageStore => ImageStore.open(join(storeDir, 'images'));
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));

describe('fused image', () => {
  it('builds one sealed image holding the three functions, each with its own counter block', async () => {
    const image = await buildFusedImage(PARTS, { store: store() });
    expect(image.manifest.name).toBe('fused:fw+lb+nat');
    expect(image.manifest.parts?.map((p) => p.name)).toEqual(['fw', 'lb', 'nat']);
    const parts = image.manifest.parts!;
    expect(parts[0].firstCounter).toBe(0);
    expect(parts[1].firstCounter).toBe(parts[0].counterCount);
    expect(parts[2].firstCounter + parts[2].counterCount).toBe(image.manifest.counters.length);
    expect(image.manifest.counters[parts[2].firstCounter].element).toBe('nat/pipeline');
    expect(image.manifest.modules.filter((m) => m.path.startsWith('nfvkit-image:part-')).length).toBe(3);
    // Same inputs, same image (and a cache hit).
    const again = await buildFusedImage(PARTS, { store: store() });
    expect(again.manifest.id).toBe(image.manifest.id);
    expect(again.cache).toBe('hit');
  }, 60_000);
});

function keepTalking(client: TcpClientPort, flows: () => ClientFlow[]): () => void {
  return () => {
    const open = flows().filter((f) => f.state === 'open');
    if (open.every((f) => f.acked === f.sent)) for (const f of open) client.send(f);
  };
}

describe.each(INSTANCE_MODES)('fused placement: firewall → load balancer → NAT in one image, replicas sharing the flows (%s instances)', (instanceMode) => {
  let dp: ChainDataPlane | undefined;
  afterAll(async () => {
    await dp?.shutdown().catch(() => undefined);
  });

  it('carries TCP flows with handshakes through two replicas (NAT port shard per replica), and keeps them while a replica is added and one drained', async () => {
    const image = await buildFusedImage(PARTS, { store: store() });
    dp = ChainDataPlane.create(['web'], { instanceMode, queueSize: 64, bufferCount: 8192, pinTimeouts: { tcpClosed: 1 } });
    await dp.addInstance(0, image, { shards: 4 });
    await dp.addInstance(0, image, { shards: 4 });
    const client = new TcpClientPort(VIP, 80);
    const servers = new TcpResponderPort();
    const flows = Array.from({ length: 80 }, (_, i) => client.open(clientIp(i), 30000 + i));
    const talk = keepTalking(client, () => flows);
    expect(await dp.runUntil(client, servers, () => (talk(), flows.every((f) => f.state === 'open' && f.acked >= 2)), 20_000)).toBe(true);
    const replicaOf = (f: ClientFlow) => dp!.pinnedInstance(0, f.srcIp, VIP, f.sport, 80, IpProto.TCP)?.id;
    expect(new Set(flows.map(replicaOf))).toEqual(new Set(['web-0', 'web-1']));
    // Each replica's NAT hands out ports from its own shard.
    for (const f of flows) {
      const port = Number([...servers.tuples.get(f.id)!][0].split('>')[0].split(':')[1]);
      const shard = replicaOf(f) === 'web-0' ? 0 : 1;
      expect(port).toBeGreaterThanOrEqual(20000 + shard * 2500);
      expect(port).toBeLessThan(20000 + (shard + 1) * 2500);
    }

    // Scale: a third replica takes new flows; draining web-0 ends its flows' lives there only after they close.
    await dp.addInstance(0, image, { shards: 4 });
    const more = Array.from({ length: 60 }, (_, i) => client.open(clientIp(100 + i), 40000 + i));
    const everyone = () => [...flows, ...more];
    const talkAll = keepTalking(client, everyone);
    expect(await dp.runUntil(client, servers, () => (talkAll(), more.every((f) => f.state === 'open' && f.acked >= 2)), 20_000)).toBe(true);
    expect(new Set(more.map(replicaOf)).has('web-2')).toBe(true);
    const onOld = everyone().filter((f) => replicaOf(f) === 'web-0');
    const staying = everyone().filter((f) => !onOld.includes(f));
    let drained = false;
    const drain = dp.drainInstance('web-0', 'scale-in', 10_000).then(() => (drained = true));
    for (const f of onOld) client.close(f);
    const talkStaying = keepTalking(client, () => staying);
    expect(await dp.runUntil(client, servers, () => (talkStaying(), drained), 15_000)).toBe(true);
    await drain;
    const target = Math.max(...staying.map((f) => f.sent)) + 2;
    expect(await dp.runUntil(client, servers, () => (talkStaying(), staying.every((f) => f.acked >= target)), 10_000)).toBe(true);
    for (const f of everyone()) {
      expect(f.wrongSource).toBe(0);
      expect(servers.tuples.get(f.id)?.size).toBe(1);
    }
    expect(client.strays).toBe(0);
    expect(dp.dropped()).toBe(0);
    expect(dp.counters.learnConflicts).toBe(0);
    const { leaks } = await dp.shutdown();
    dp = undefined;
    expect(leaks).toEqual([]);
  }, 90_000);
});
