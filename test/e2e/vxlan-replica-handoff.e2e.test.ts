import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firewall } from '../../functions/firewall/pipeline.ts';
import { passThrough } from '../../functions/pass-through/pipeline.ts';
import { ChainDataPlane } from '../../src/dataplane/chain-data-plane.ts';
import type { LocalPortSpec } from '../../src/dataplane/ports/local-ports.ts';
import { readVxlanPortCounters, VXLAN_PORT_COUNTERS, type VxlanBlockReading } from '../../src/dataplane/ports/vxlan-port-counters.ts';
import { VxlanReplicaGroup } from '../../src/dataplane/ports/vxlan-replica-group.ts';
import type { VxlanPortSettings } from '../../src/dataplane/ports/vxlan-port-config.ts';
import { buildFusedImage } from '../../src/image/image-builder.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { loadNativeAddon } from '../../src/native/native-addon.ts';
import { Lab, type LabDestroyReport } from '../../src/netlab/lab.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { INSTANCE_MODES } from '../support/instance-modes.ts';
import { vxlanSides } from './support/vxlan-sides.ts';
import { until } from '../support/until.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[e2e] skipping VXLAN replica handoff test: ${probe.reason}`);
const native = loadNativeAddon();

const CLIENT_IP = '198.18.1.2';
const SERVER_IP = '198.18.2.2';
/** Long-lived connections per set. */
const CONNECTIONS = 12;

/** A stateful firewall (the clients' HTTP allowed, replies by connection state only), then pass-through. */
const PARTS = [
  { name: 'fw', definition: firewall, config: { defaultPolicy: 'drop', rules: [{ name: 'web', action: 'allow', side: 'inside', proto: 'tcp', dst: SERVER_IP, dport: 8080 }] } },
  { name: 'pass', definition: passThrough, config: {} },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!probe.ok || !native.available).each(INSTANCE_MODES)('VXLAN replica group membership changes keep established connections (%s instances)', (instanceMode) => {
  it('long-lived connections through a stateful firewall keep working while a replica joins, then retires and leaves: handed between replicas, 0 failed, 0 reset', async () => {
    const lab = new Lab({ prefix: 'nfvh' });
    const dir = mkdtempSync(join(tmpdir(), 'nfvkit-e2e-'));
    const control = join(dir, 'control');
    writeFileSync(control, '');
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
      const groups = [insideGroup, outsideGroup];
      const { inside: insideSettings, outside: outsideSettings } = sides.settings();
      const blocks: Array<[Float64Array, Float64Array]> = [];
      const end = (settings: VxlanPortSettings, group: VxlanReplicaGroup, block: Float64Array, member: number): LocalPortSpec => ({ type: 'vxlan', settings, counters: block.buffer as SharedArrayBuffer, replicas: group.prepare(member) });
      const image = await buildFusedImage(PARTS, { store: ImageStore.open(join(dir, 'store')) });
      const boot = async (member: number) => {
        blocks[member] = [new Float64Array(memory.allocate(VXLAN_PORT_COUNTERS * 8)), new Float64Array(memory.allocate(VXLAN_PORT_COUNTERS * 8))];
        const inst = await dp!.addInstance(0, image, { ports: { inside: end(insideSettings, insideGroup, blocks[member][0], member), outside: end(outsideSettings, outsideGroup, blocks[member][1], member) } });
        for (const g of groups) g.join(member);
        expect(await until(() => groups.every((g) => g.attached()), 10_000)).toBe(true);
        return inst;
      };
      const read = (member: number): { i: VxlanBlockReading; o: VxlanBlockReading } => ({ i: readVxlanPortCounters(blocks[member][0]), o: readVxlanPortCounters(blocks[member][1]) });
      const handedOut = (member: number) => read(member).i.handedOut + read(member).o.handedOut;
      const handedIn = (member: number) => read(member).i.handedIn + read(member).o.handedIn;
      const handedTo = (member: number) => groups.reduce((n, g) => n + g.handedTo(member), 0);

      await boot(0);
      await sides.attach({ clientIp: CLIENT_IP, serverIp: SERVER_IP });
      const httpServer = lab.spawnNode(server, new URL('./support/http-server.ts', import.meta.url), [SERVER_IP, '8080']);
      await httpServer.waitForOutput(/listening/, 20_000);
      const conns = lab.spawnNode(client, new URL('./support/long-lived-client.ts', import.meta.url), [SERVER_IP, '8080', control]);
      const command = async (line: string) => {
        appendFileSync(control, `${line}\n`);
        await conns.waitForOutput(new RegExp(`ack ${line}`), 10_000);
      };

      // Set A starts on replica 0 alone.
      await command(`open A ${CONNECTIONS}`);
      await sleep(2500);
      // Scale out: replica 1 joins and takes half the buckets; A's connections in them keep their state on 0 by handoff.
      const replica1 = await boot(1);
      await sleep(2500);
      expect(handedOut(1)).toBeGreaterThan(0);
      // What 0 took in, the rings' write counters had seen written (read after: they only grow).
      const inTo0 = handedIn(0);
      expect(inTo0).toBeGreaterThan(0);
      expect(inTo0).toBeLessThanOrEqual(handedTo(0));
      // Set B starts with both replicas: spread over them.
      await command(`open B ${CONNECTIONS}`);
      await sleep(2500);
      const enteredOn1 = read(1).i.entered;
      expect(enteredOn1).toBeGreaterThan(0);
      // Scale in: replica 1 retires; every bucket goes back to 0, and B's connections that started on 1 are handed to it.
      for (const g of groups) g.retire(1);
      expect(await until(() => groups.every((g) => g.attached()), 10_000)).toBe(true);
      expect(insideGroup.bucketOwners().every((m) => m === 0)).toBe(true);
      const retiredAt = handedTo(1);
      await sleep(2500);
      expect(handedTo(1)).toBeGreaterThan(retiredAt);
      // B ends; the handoffs to 1 stop (the drain a controller waits for), then it stops and leaves.
      await command('close B');
      let last = -1;
      for (let i = 0; i < 50 && handedTo(1) !== last; i++) {
        last = handedTo(1);
        await sleep(300);
      }
      expect(handedTo(1)).toBe(last);
      await dp.drainInstance(replica1.id, 'scale in', 5000);
      for (const g of groups) g.leave(1);
      expect(await until(() => groups.every((g) => g.attached()), 10_000)).toBe(true);
      await sleep(2500);
      await command('stop');
      await Promise.race([conns.exited, sleep(10_000)]);
      const report = JSON.parse(conns.stdout.trim().split('\n').at(-1) ?? '{}') as { sets: Record<string, { connections: number; requests: number[]; failures: string[] }> };
      expect(report.sets.A.failures, conns.stderr).toEqual([]);
      expect(report.sets.B.failures, conns.stderr).toEqual([]);
      expect(report.sets.A.connections).toBe(CONNECTIONS);
      expect(report.sets.B.connections).toBe(CONNECTIONS);
      // Every A connection carried requests through all four phases (one every ~40 ms over ≥ 6 s).
      for (const n of report.sets.A.requests) expect(n).toBeGreaterThan(40);
      for (const n of report.sets.B.requests) expect(n).toBeGreaterThan(10);
      // Nothing lost or refused on the way, and no firewall state missed.
      for (const m of [0, 1]) {
        const { i, o } = read(m);
        for (const x of [i, o]) expect([x.handoffLost, x.handoffRejected]).toEqual([0, 0]);
      }
      expect(handedIn(1)).toBeGreaterThan(0);
      expect(dp.passes).toBe(0);
    } finally {
      if (dp !== undefined) leaks = [...(await dp.shutdown()).leaks];
      labReport = await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(leaks).toEqual([]);
    expect(labReport).toMatchObject({ errors: [], leftovers: [] });
  }, 120_000);
});
