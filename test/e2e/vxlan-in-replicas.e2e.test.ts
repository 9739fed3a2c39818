import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import { LocalPortCounter, type LocalPortSpec } from '../../src/dataplane/ports/local-ports.ts';
import { readVxlanPortCounters, VXLAN_PORT_COUNTERS } from '../../src/dataplane/ports/vxlan-port-counters.ts';
import { buildFusedImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { loadNativeAddon } from '../../src/native/native-addon.ts';
import { Lab, type LabDestroyReport } from '../../src/netlab/lab.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { VxlanReplicaGroup } from '../../src/dataplane/ports/vxlan-replica-group.ts';
import type { VxlanPortSettings } from '../../src/dataplane/ports/vxlan-port-config.ts';
import { INSTANCE_MODES } from '../support/instance-modes.ts';
import { vxlanSides } from './support/vxlan-sides.ts';
import { until } from '../support/until.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[e2e] skipping VXLAN-in-replicas test: ${probe.reason}`);
const native = loadNativeAddon();

const CLIENT_IP = '198.18.1.2';
const SERVER_IP = '198.18.2.2';
const CLIENT_IP6 = '2001:db8:1::2';
const SERVER_IP6 = '2001:db8:2::2';
const REQUESTS = 5;

/** A fused chain (firewall admitting the clients' HTTP, then pass-through): the edge's checks run in the replica. */
const PARTS = [
  {
    name: 'fw',
    definition: firewall,
    config: {
      defaultPolicy: 'drop',
      rules: [
        { name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: SERVER_IP, dport: 8080 },
        { name: 'web6', action: 'allow', side: 'inside', proto: 'tcp', dst: SERVER_IP6, dport: 8080 },
      ],
    },
  },
  { name: 'pass', definition: passThrough, config: {} },
];

describe.skipIf(!probe.ok || !native.available).each(INSTANCE_MODES)('VXLAN ends in a fused replica (%s instance): real TCP, no frame through the host', (instanceMode) => {
  it('the replica binds its own sockets, answers ARP and pings, carries HTTP both ways, counts in shared memory, and leaves nothing behind', async () => {
    const lab = new Lab({ prefix: 'nfvr' });
    const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-e2e-'));
    let dp: ChainDataPlane | undefined;
    let leaks: unknown[] = ['chain not shut down'];
    let labReport: LabDestroyReport | undefined;
    try {
      const sides = await vxlanSides(lab);
      const { client, server } = sides;
      dp = ChainDataPlane.create(['edge'], { instanceMode, bufferCount: 4096 });
      const insideBlock = new Float64Array(dp.memory.allocate(VXLAN_PORT_COUNTERS * 8));
      const outsideBlock = new Float64Array(dp.memory.allocate(VXLAN_PORT_COUNTERS * 8));
      const inside: LocalPortSpec = {
        type: 'vxlan',
        settings: sides.settings().inside,
        counters: insideBlock.buffer as SharedArrayBuffer,
      };
      const outside: LocalPortSpec = {
        type: 'vxlan',
        settings: sides.settings().outside,
        counters: outsideBlock.buffer as SharedArrayBuffer,
      };
      const image = await buildFusedImage(PARTS, { store: ImageStore.open(storeDir) });
      const replica = await dp.addInstance(0, image, { ports: { inside, outside } });
      // The replica bound both sockets while it booted (4789 on each underlay address).
      expect(readVxlanPortCounters(insideBlock).localPort).toBe(4789);
      expect(readVxlanPortCounters(outsideBlock).localPort).toBe(4789);

      await sides.attach({ clientIp: CLIENT_IP, serverIp: SERVER_IP });
      const httpServer = lab.spawnNode(server, new URL('./support/http-server.ts', import.meta.url), [SERVER_IP, '8080']);
      await httpServer.waitForOutput(/listening/, 20_000);

      // The gateway answers pings to its own address in the replica.
      const ping = await lab.exec(client, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '198.18.1.1']);
      expect(ping.stdout).toContain('2 received');

      const httpClient = lab.spawnNode(client, new URL('./support/http-client.ts', import.meta.url), [`http://${SERVER_IP}:8080/hello`, String(REQUESTS), '15000']);
      await httpClient.exited;
      const out = JSON.parse(httpClient.stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean; results: Array<{ status: number; body: string }>; error?: string };
      expect(out, httpClient.stderr).toMatchObject({ ok: true });
      expect(out.results.map((r) => r.status)).toEqual(Array(REQUESTS).fill(200));
      expect(JSON.parse(out.results[0].body)).toEqual({ path: '/hello?i=0', from: CLIENT_IP });
      expect((await lab.exec(client, 'ip', ['neigh', 'show', '198.18.1.1'])).stdout).toContain('lladdr 02:00:c6:12:01:01');

      const i = readVxlanPortCounters(insideBlock);
      const o = readVxlanPortCounters(outsideBlock);
      expect(i.gateway.arpRepliesSent).toBeGreaterThanOrEqual(1);
      expect(i.gateway.echoRepliesSent).toBe(2);
      // The outside end resolved the server once and released the frame it held meanwhile.
      expect(o.gateway).toMatchObject({ arpRequestsSent: 1, arpRepliesReceived: 1, released: 1 });
      // Every frame the sockets put into the chain went through the replica's loop, and out at the other end.
      const c = replica.portCounters!;
      expect(c[LocalPortCounter.INSIDE_IN]).toBe(i.entered);
      expect(c[LocalPortCounter.OUTSIDE_IN]).toBe(o.entered);
      expect(c[LocalPortCounter.OUTSIDE_OUT]).toBe(o.left);
      expect(c[LocalPortCounter.INSIDE_OUT]).toBe(i.left);
      expect(i.entered).toBeGreaterThanOrEqual(REQUESTS * 3);
      expect(o.left).toBe(i.entered);
      expect(i.left).toBe(o.entered);
      expect(Object.values(i.drops.port).every((v) => v === 0)).toBe(true);
      expect(Object.values(o.drops.port).every((v) => v === 0)).toBe(true);
      // The host's pump carried nothing.
      expect(dp.traffic).toEqual({ enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 });
      expect(dp.passes).toBe(0);
    } finally {
      if (dp !== undefined) leaks = [...(await dp.shutdown()).leaks];
      labReport = await lab.destroy();
      rmSync(storeDir, { recursive: true, force: true });
    }
    expect(leaks).toEqual([]);
    expect(labReport).toMatchObject({ errors: [], leftovers: [] });
  }, 90_000);
});

describe.skipIf(!probe.ok || !native.available).each(INSTANCE_MODES)('VXLAN ends in two fused replicas (%s instances): one reuseport group per end, steered by the inner frame', (instanceMode) => {
  it('both directions of every connection meet the replica holding its firewall state, neighbours are shared, and scale-in re-steers the group', async () => {
    const lab = new Lab({ prefix: 'nfvs' });
    const storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-e2e-'));
    let dp: ChainDataPlane | undefined;
    let leaks: unknown[] = ['chain not shut down'];
    let labReport: LabDestroyReport | undefined;
    try {
      const sides = await vxlanSides(lab);
      const { client, server } = sides;
      dp = ChainDataPlane.create(['edge'], { instanceMode, bufferCount: 8192 });
      const memory = dp.memory;
      const insideGroup = new VxlanReplicaGroup((n) => memory.allocate(n), { by: 'inner-source' }, 4);
      const outsideGroup = new VxlanReplicaGroup((n) => memory.allocate(n), { by: 'inner-destination' }, 4);
      // Dual stack: IPv6 flows are steered by the inner frame too.
      const { inside: insideSettings, outside: outsideSettings } = sides.settings(true);
      const blocks: Array<[Float64Array, Float64Array]> = [];
      const end = (settings: VxlanPortSettings, group: VxlanReplicaGroup, block: Float64Array, member: number): LocalPortSpec => ({
        type: 'vxlan',
        settings,
        counters: block.buffer as SharedArrayBuffer,
        replicas: group.prepare(member),
      });
      const image = await buildFusedImage(PARTS, { store: ImageStore.open(storeDir) });
      // Both replicas boot at once: they bind under the groups' lock and log it, so the groups' order is the kernel's whichever is ready first.
      for (let member = 0; member < 2; member++) blocks.push([new Float64Array(memory.allocate(VXLAN_PORT_COUNTERS * 8)), new Float64Array(memory.allocate(VXLAN_PORT_COUNTERS * 8))]);
      const replicas = await Promise.all(
        [0, 1].map(async (member) => {
          const inst = await dp!.addInstance(0, image, { ports: { inside: end(insideSettings, insideGroup, blocks[member][0], member), outside: end(outsideSettings, outsideGroup, blocks[member][1], member) } });
          insideGroup.join(member);
          outsideGroup.join(member);
          return inst;
        }),
      );
      expect([...insideGroup.members].sort()).toEqual([0, 1]);
      expect(outsideGroup.members).toEqual(insideGroup.members);
      // The first member attaches each group's program from its replica (once its loop looked at the area).
      expect(await until(() => insideGroup.attached() && outsideGroup.attached(), 10_000)).toBe(true);
      expect(insideGroup.attachErrors + outsideGroup.attachErrors).toBe(0);

      const { clientDev, serverDev } = await sides.attach({ clientIp: CLIENT_IP, serverIp: SERVER_IP });
      await lab.address(client, clientDev, `${CLIENT_IP6}/64`);
      await lab.address(server, serverDev, `${SERVER_IP6}/64`);
      await lab.route(client, '2001:db8:2::/64', '2001:db8:1::1');
      await lab.route(server, '2001:db8:1::/64', '2001:db8:2::1');
      const httpServer = lab.spawnNode(server, new URL('./support/http-server.ts', import.meta.url), [SERVER_IP, '8080']);
      await httpServer.waitForOutput(/listening/, 20_000);
      const httpServer6 = lab.spawnNode(server, new URL('./support/http-server.ts', import.meta.url), [SERVER_IP6, '8080']);
      await httpServer6.waitForOutput(/listening/, 20_000);

      const get = async (n: number, host = SERVER_IP): Promise<number[]> => {
        const c = lab.spawnNode(client, new URL('./support/http-client.ts', import.meta.url), [`http://${host}:8080/hello`, String(n), '15000']);
        await c.exited;
        const out = JSON.parse(c.stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean; results: Array<{ status: number }>; error?: string };
        expect(out, c.stderr).toMatchObject({ ok: true });
        return out.results.map((r) => r.status);
      };
      // A connection per request, each from a new source port: spread over both replicas, over both families.
      expect(await get(24)).toEqual(Array(24).fill(200));
      expect(await get(24, `[${SERVER_IP6}]`)).toEqual(Array(24).fill(200));
      const read = () => blocks.map(([i, o]) => ({ i: readVxlanPortCounters(i), o: readVxlanPortCounters(o) }));
      let r = read();
      // Each replica carried connections, both ways (the stateful firewall passed their replies: they came back to it).
      for (const { i, o } of r) {
        expect(i.entered).toBeGreaterThan(0);
        expect(o.entered).toBeGreaterThan(0);
        expect(i.misdirected).toBe(0);
        expect(o.misdirected).toBe(0);
      }
      // The server was resolved once (by whichever replica sent first) and the other adopted it through the rings.
      expect(r.reduce((n, x) => n + x.o.gateway.arpRequestsSent, 0)).toBeGreaterThanOrEqual(1);
      // (Both families: the server's IPv4 and IPv6 addresses each learned on one replica, adopted by the other.)
      expect(r.reduce((n, x) => n + x.o.neighboursAdopted, 0)).toBeGreaterThanOrEqual(2);
      expect(r.every((x) => x.o.neighbours >= 1)).toBe(true);
      expect(dp.passes).toBe(0);

      // Scale in: replica 1 stops, its sockets leave; the group of one steers everything to replica 0.
      await dp.drainInstance(replicas[1].id, 'scale in', 5000);
      insideGroup.leave(1);
      outsideGroup.leave(1);
      expect(await until(() => insideGroup.attached() && outsideGroup.attached(), 10_000)).toBe(true);
      const before = read()[0];
      expect(await get(8)).toEqual(Array(8).fill(200));
      r = read();
      expect(r[0].i.entered - before.i.entered).toBeGreaterThanOrEqual(8 * 3);
      expect(r[0].i.misdirected + r[0].o.misdirected).toBe(0);
      expect(dp.passes).toBe(0);
    } finally {
      if (dp !== undefined) leaks = [...(await dp.shutdown()).leaks];
      labReport = await lab.destroy();
      rmSync(storeDir, { recursive: true, force: true });
    }
    expect(leaks).toEqual([]);
    expect(labReport).toMatchObject({ errors: [], leftovers: [] });
  }, 120_000);
});
