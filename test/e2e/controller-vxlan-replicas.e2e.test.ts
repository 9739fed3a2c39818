import { describe, expect, it } from 'vitest';
import { ReplicaVxlanEnds } from '../../src/controller/replica-vxlan-ends.ts';
import type { ControllerEvent } from '../../src/controller/controller-api.ts';
import { loadNativeAddon } from '../../src/native/native-addon.ts';
import { Lab, type LabDestroyReport } from '../../src/netlab/lab.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { startControllerHarness, type ControllerHarness } from '../support/controller-harness.ts';
import { INSTANCE_MODES } from '../support/instance-modes.ts';
import { vxlanSides } from './support/vxlan-sides.ts';
import { until } from '../support/until.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[e2e] skipping controller VXLAN-in-replicas test: ${probe.reason}`);
const native = loadNativeAddon();

const CLIENT_IP = '198.18.1.2';
const SERVER_IP = '198.18.2.2';
const NAT_IP = '198.18.2.3';

/** A fused firewall → NAT chain between two VXLAN ends on the lab's underlay addresses. */
function spec(inside: { local: string; remote: string }, outside: { local: string; remote: string }): string {
  return `apiVersion: nfvkit.dev/v1
kind: ServiceFunctionChain
metadata: { name: vx }
spec:
  placement: fused
  ingress:
    type: vxlan
    listen: { address: ${inside.local} }
    gateway: { addresses: [198.18.1.1/24] }
    peers: [{ name: client, vni: 100, remote: ${inside.remote}, subnets: [198.18.1.0/24] }]
  egress:
    type: vxlan
    listen: { address: ${outside.local} }
    gateway: { addresses: [198.18.2.1/24, ${NAT_IP}/32] }
    peers: [{ name: server, vni: 200, remote: ${outside.remote}, subnets: [198.18.2.0/24] }]
  classifier: { protocols: [tcp], destinations: [198.18.2.0/24] }
  functions:
    - name: fw
      function: firewall
      config:
        defaultPolicy: drop
        stateful: true
        rules:
          - { name: web, action: allow, side: inside, proto: tcp, dst: ${SERVER_IP}, dport: 8080 }
      scaling: { min: 1, max: 2, drainTimeoutSeconds: 10 }
    - name: nat
      function: nat
      config: { snat: { addresses: ${NAT_IP}/32, ports: 20000-29999, match: [198.18.1.0/24] } }
      scaling: { min: 1, max: 2 }
`;
}

describe.skipIf(!probe.ok || !native.available).each(INSTANCE_MODES)('controller: a fused chain with VXLAN ends runs them in its replicas (%s instances)', (instanceMode) => {
  it('says ends: replicas, carries real TCP with no frame through the host, steers translated replies by NAT port shard over two replicas, scales back in, and rejects hostile specs with positions', async () => {
    const before = process.env.NFVKIT_INSTANCE_MODE;
    process.env.NFVKIT_INSTANCE_MODE = instanceMode;
    const lab = new Lab({ prefix: 'nfvc' });
    let h: ControllerHarness | undefined;
    let labReport: LabDestroyReport | undefined;
    const events: ControllerEvent[] = [];
    try {
      const sides = await vxlanSides(lab);
      const { client, server, inside: cu, outside: su } = sides;
      h = await startControllerHarness('vxlan-replicas', { sampleIntervalMs: 100 });
      const controller = h.controller;
      controller.subscribe((e) => events.push(e), 0);
      const text = spec({ local: cu.a, remote: cu.b }, { local: su.a, remote: su.b });

      // Hostile input: every issue with file, line and field; nothing started, no socket bound.
      const hostile = text.replace('vni: 100', 'vni: 16777216').replace(`listen: { address: ${su.a} }`, 'listen: { address: 198.18.300.1 }').replace('ports: 20000-29999', 'ports: 29999-20000');
      const err = await controller.apply(hostile, 'hostile.yaml').then(() => undefined, (e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect(err!.message).toMatch(/hostile\.yaml:\d+:\d+ spec\.ingress\.peers\[0\]\.vni/);
      expect(err!.message).toMatch(/hostile\.yaml:\d+:\d+ spec\.egress\.listen\.address/);
      expect(err!.message).toMatch(/hostile\.yaml:\d+:\d+ spec\.functions\[1\]\.config\.snat\.ports/);
      expect(controller.listChains()).toEqual([]);

      const applied = await controller.apply(text, 'vx.yaml');
      expect(applied.chain.placement).toBe('fused');
      expect(applied.chain.ends).toMatchObject({ where: 'replicas' });
      expect(applied.chain.ends?.reason).toMatch(/VXLAN ends \(vxlan → vxlan\).*no frame crosses the host/);
      const runtime = controller.chain('vx');
      const ends = runtime.replicaEnds;
      if (!(ends instanceof ReplicaVxlanEnds)) throw new Error('vxlan → vxlan ends run as ReplicaVxlanEnds');
      // Translated replies are steered by the NAT's port shards (2 × max = 4 slices of its range).
      expect(ends.groups.outside.key).toEqual({ by: 'port-shard', base: 20000, shardSize: 2500, shards: 4 });
      expect(ends.groups.inside.key).toEqual({ by: 'inner-source' });
      expect(await until(() => ends.groups.inside.attached() && ends.groups.outside.attached(), 10_000)).toBe(true);

      await sides.attach({ clientIp: CLIENT_IP, serverIp: SERVER_IP });
      const httpServer = lab.spawnNode(server, new URL('./support/http-server.ts', import.meta.url), [SERVER_IP, '8080']);
      await httpServer.waitForOutput(/listening/, 20_000);
      const get = async (n: number): Promise<Array<{ status: number; body: string }>> => {
        const c = lab.spawnNode(client, new URL('./support/http-client.ts', import.meta.url), [`http://${SERVER_IP}:8080/hello`, String(n), '15000']);
        await c.exited;
        const out = JSON.parse(c.stdout.trim().split('\n').at(-1) ?? '{}') as { ok: boolean; results: Array<{ status: number; body: string }>; error?: string };
        expect(out, c.stderr).toMatchObject({ ok: true });
        return out.results;
      };

      const one = await get(6);
      expect(one.map((r) => r.status)).toEqual(Array(6).fill(200));
      // The server sees the NAT address: the replica translated and its outside gateway answered ARP for it.
      expect(new Set(one.map((r) => (JSON.parse(r.body) as { from: string }).from))).toEqual(new Set([NAT_IP]));
      let status = controller.getChain('vx');
      const figures = status.ends!.figures;
      expect(figures['inside.framesIn']).toBeGreaterThanOrEqual(6 * 3);
      expect(figures['outside.framesOut']).toBe(figures['inside.framesIn'] - (figures['inside.drops:classifier'] ?? 0));
      expect(figures['outside.framesIn']).toBeGreaterThanOrEqual(6 * 3);
      expect(figures['inside.replicas']).toBe(1);
      // Every frame went through the replica's loop: the host's pump carried none.
      expect(runtime.dataPlane.traffic).toEqual({ enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 });
      expect(controller.chainTraffic('vx').enteredInside).toBe(figures['inside.framesIn'] - (figures['inside.drops:classifier'] ?? 0));
      // The ends' drops reach /metrics by layer, every declared reason present.
      expect(runtime.ends.inside.drops?.().port).toMatchObject({ runt: 0, unknown_vni: 0, socket_rcvbuf: 0, classifier: figures['inside.drops:classifier'] ?? 0 });
      expect(runtime.ends.outside.drops?.().gateway).toBeDefined();

      // Two replicas: one steered group per end, the NAT's shards naming their replica.
      await controller.scaleFunction('vx', 'fw', 2);
      expect(await until(() => ends.groups.inside.members.length === 2 && ends.groups.inside.attached() && ends.groups.outside.attached(), 20_000)).toBe(true);
      const live = runtime.dataPlane.stage('fused').live;
      expect(live.map((i) => i.shard).sort()).toEqual([0, 1]);
      const two = await get(32);
      expect(two.map((r) => r.status)).toEqual(Array(32).fill(200));
      status = controller.getChain('vx');
      expect(status.ends!.figures['inside.replicas']).toBe(2);
      // Both replicas carried connections, both ways (each port's own counters in its instance).
      for (const inst of runtime.dataPlane.stage('fused').live) {
        expect(inst.portCounters![0]).toBeGreaterThan(0);
        expect(inst.portCounters![2]).toBeGreaterThan(0);
      }
      expect(status.ends!.figures['inside.misdirected'] + status.ends!.figures['outside.misdirected']).toBe(0);
      expect(runtime.dataPlane.traffic).toEqual({ enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 });

      // Back to one: a replica is drained and leaves both groups; the other carries everything.
      await controller.scaleFunction('vx', 'fw', 1);
      expect(await until(() => runtime.dataPlane.stage('fused').live.length === 1 && ends.groups.inside.members.length === 1, 30_000)).toBe(true);
      expect(await until(() => ends.groups.inside.attached() && ends.groups.outside.attached(), 10_000)).toBe(true);
      const after = await get(8);
      expect(after.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(events.some((e) => e.type === 'instance-stopped' && e.function === 'fused')).toBe(true);
      // The gone replica's figures stay in the sums.
      expect(controller.getChain('vx').ends!.figures['inside.framesIn']).toBeGreaterThanOrEqual((6 + 32 + 8) * 3);
      expect(runtime.dataPlane.traffic).toEqual({ enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 });

      await controller.deleteChain('vx');
      const deleted = events.find((e) => e.type === 'deleted' && e.chain === 'vx');
      expect(deleted?.details).toMatchObject({ leakedBuffers: '0', misdirected: '0' });
    } finally {
      await h?.close();
      labReport = await lab.destroy();
      if (before === undefined) delete process.env.NFVKIT_INSTANCE_MODE;
      else process.env.NFVKIT_INSTANCE_MODE = before;
    }
    expect(labReport).toMatchObject({ errors: [], leftovers: [] });
  }, 180_000);
});
