import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import type { LongLivedStatus } from '../../bench/lib/long-lived-connections.ts';
import { tcpMib, tcpMibDelta, type TcpMib } from '../../bench/lib/tcp-mib.ts';
import { TrafficAgent } from '../../bench/lib/traffic-agent-client.ts';
import type { ControllerEvent } from '../../src/controller/controller-api.ts';
import type { StageInstance } from '../../src/dataplane/stage.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { runCommand } from '../../src/netlab/run-command.ts';
import { startWebEdgeChain, type WebEdgeChain } from '../../src/netlab/web-edge-chain.ts';
import { WEB_BACKEND_PORT, WEB_LAB_ADDRESSES, WebLab } from '../../src/netlab/web-lab.ts';
import { parseIpv4 } from '../../src/packet/ipv4.ts';
import { BuiltinCounter } from '../../src/pipeline/compiled-pipeline.ts';
import { ReplicaVxlanEnds } from '../../src/controller/replica-vxlan-ends.ts';
import { buildFrame } from '../../src/traffic/frame-builder.ts';
import { IpProto } from '../../src/packet/ipv4.ts';
import { FunctionRegistry } from '../../src/pipeline/function-registry.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[e2e] skipping autoscaling test: ${probe.reason}`);

const TARGET_PPS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Isolated: the NAT scales alone (instances `nat-<n>`, stage 2, pinned on the link between
 * lb and NAT by the backend's tuple). Fused: the chain scales as a whole (ARCHITECTURE.md
 * "Placements": replicas `fused-<n>` of one unit whose bounds cover every function's, its
 * load read from the first function's rate), its VXLAN ends in the replicas: a connection
 * stays on the replica its SYN was steered to (the client's tuple), scale-in retires a
 * replica and drains it while the others hand it its flows' frames.
 */
const PLACEMENTS = [
  { placement: 'isolated' as const, unit: 'nat', stage: 2, pinnedByBackend: true },
  { placement: 'fused' as const, unit: 'fused', stage: 0, pinnedByBackend: false },
];

describe.skipIf(!probe.ok).each(PLACEMENTS)('autoscaling under real HTTP load ($placement placement): $unit scales out and back in, every connection kept', ({ placement, unit, stage, pinnedByBackend }) => {
  let web: WebLab | undefined;
  let edge: WebEdgeChain | undefined;
  let agent: TrafficAgent | undefined;
  let storeDir = '';
  const events: ControllerEvent[] = [];
  const mibBefore = new Map<string, TcpMib>();
  const url = `http://${WEB_LAB_ADDRESSES.vip}/`;
  let drained = '';
  let closedOnDrained: number[] = [];

  const namespaces = () => [web!.client, ...web!.backends.map((b) => b.ns)];
  const nat = () => edge!.runtime.dataPlane.stage(unit);
  const nth = (n: number) => `${unit}-${n}`;
  const history = () => events.map((e) => `#${e.seq} ${e.type} ${e.instance || e.function} ${e.reason}`).join('\n');

  async function waitForEvent(match: (e: ControllerEvent) => boolean, timeoutMs: number, what: string): Promise<ControllerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; events:\n${history()}`);
      await sleep(50);
    }
  }

  /**
   * Ends in the replicas (fused): the replica a connection's SYN was steered to, asked when
   * the test first looks at it (right after it opened; a flow stays on the replica that saw
   * it start, its bucket's later owners hand its frames over). No host pin exists there;
   * the end checks (no reset, no failure, one NAT mapping per connection) show the flows stayed.
   */
  const opener = new Map<number, StageInstance | undefined>();
  function steeredOpen(c: LongLivedStatus, client: number): StageInstance | undefined {
    if (!opener.has(c.id)) {
      const ends = edge!.runtime.replicaEnds as ReplicaVxlanEnds;
      const frame = buildFrame({ proto: IpProto.TCP, srcIp: client, dstIp: parseIpv4(WEB_LAB_ADDRESSES.vip) as number, srcPort: c.localPort, dstPort: 80 });
      const datagram = new Uint8Array(8 + frame.length);
      datagram.set(frame, 8);
      opener.set(c.id, ends.steeredInside(datagram));
    }
    return opener.get(c.id);
  }

  /** The instance of the scaled unit a connection is pinned to. */
  function natInstanceOf(c: LongLivedStatus): StageInstance | undefined {
    const client = parseIpv4(WEB_LAB_ADDRESSES.client) as number;
    if (edge!.runtime.replicaEnds instanceof ReplicaVxlanEnds) return steeredOpen(c, client);
    if (!pinnedByBackend) return edge!.runtime.dataPlane.pinnedInstance(stage, client, parseIpv4(WEB_LAB_ADDRESSES.vip) as number, c.localPort, 80, 6);
    const backend = web!.backends.find((b) => b.name === c.backends[0]);
    if (backend === undefined) return undefined;
    return edge!.runtime.dataPlane.pinnedInstance(stage, client, parseIpv4(backend.address) as number, c.localPort, WEB_BACKEND_PORT, 6);
  }

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), 'nfvkit-autoscale-e2e-'));
    web = await WebLab.create({ prefix: 'nfva' });
    edge = await startWebEdgeChain(web, {
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(join(storeDir, 'store')),
      name: 'web-edge-scaled',
      placement,
      autoscale: true,
      scaling: {
        fw: { min: 1, max: 1 },
        lb: { min: 1, max: 1 },
        nat: { min: 1, max: 2, target: TARGET_PPS, cooldownSeconds: 1, drainTimeoutSeconds: 20 },
      },
      scalingPolicy: { outAfterMs: 500, inAfterMs: 2000 },
      sampleIntervalMs: 250,
    });
    edge.controller.subscribe((e) => events.push(e), 0);
    agent = await TrafficAgent.start(web.lab, web.client);
    for (const ns of namespaces()) mibBefore.set(ns, await tcpMib(web.lab, ns));
  });

  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await edge?.close().catch(() => undefined);
    await web?.destroy();
    if (storeDir !== '') rmSync(storeDir, { recursive: true, force: true });
  });

  it('scales NAT out under load: the new instance takes new flows, the long-lived ones stay where they are', async () => {
    expect(edge!.controller.getChain('web-edge-scaled').ends?.where).toBe(placement === 'fused' ? 'replicas' : 'host');
    const early = await agent!.open(url, 10, 200, 'early');
    expect(early.map((c) => c.state)).toEqual(Array(10).fill('open'));
    expect(nat().live.map((i) => i.id)).toEqual([nth(0)]);
    expect(early.map((c) => natInstanceOf(c)?.id)).toEqual(Array(10).fill(nth(0)));

    const loadStart = Date.now();
    await agent!.loadShort({ url, concurrency: 8, requestsPerConnection: 4 });
    const out = await waitForEvent((e) => e.type === 'scaled' && e.function === unit, 15_000, `scale-out of ${unit}`);
    expect(out.details).toMatchObject({ source: 'autoscaler', from: '1', to: '2' });
    expect(out.reason).toMatch(/^scale-out: load .* per instance > target 2 kpps/);
    expect(Number(out.details.perInstancePps)).toBeGreaterThan(TARGET_PPS);
    expect(out.time - loadStart).toBeLessThan(10_000);
    const ready = await waitForEvent((e) => e.type === 'instance-ready' && e.function === unit && e.seq > out.seq, 5000, `new ${unit} instance ready`);
    expect(ready.instance).toBe(`web-edge-scaled/${nth(1)}`);

    await sleep(2500);
    const fresh = edge!.runtime.dataPlane.instance(nth(1));
    expect(fresh.host.counters[BuiltinCounter.RX_INSIDE_PACKETS]).toBeGreaterThan(100);
    expect(fresh.host.counters[BuiltinCounter.RX_OUTSIDE_PACKETS]).toBeGreaterThan(100);
    expect(early.map((c) => natInstanceOf(c)?.id)).toEqual(Array(10).fill(nth(0)));

    const late: LongLivedStatus[] = [];
    for (let round = 0; round < 6; round++) {
      late.push(...(await agent!.open(url, 4, 200, 'late')));
      const on = (id: string) => late.filter((c) => natInstanceOf(c)?.id === id).length;
      if (on(nth(0)) >= 2 && on(nth(1)) >= 2) break;
    }
    expect(late.every((c) => c.state === 'open')).toBe(true);
    expect(new Set(late.map((c) => natInstanceOf(c)?.id))).toEqual(new Set([nth(0), nth(1)]));
  });

  it('scales back in when the load drops: the drained instance takes no new flow and stops once its flows have ended', async () => {
    const stopped = await agent!.stopLoad();
    expect(stopped.totals.failed, JSON.stringify(stopped.totals.failures)).toBe(0);
    expect(stopped.totals.ok).toBeGreaterThan(500);
    expect(stopped.shortConnections).toBeGreaterThan(125);

    const scaledIn = await waitForEvent((e) => e.type === 'scaled' && e.function === unit && e.details.to === '1', 15_000, `scale-in of ${unit}`);
    expect(scaledIn.details).toMatchObject({ source: 'autoscaler', from: '2' });
    const draining = await waitForEvent((e) => e.type === 'instance-draining' && e.function === unit, 5000, `a draining ${unit} instance`);
    drained = draining.instance.split('/')[1];
    const kept = drained === nth(0) ? nth(1) : nth(0);

    const during = await agent!.open(url, 6, 200, 'during-drain');
    expect(during.map((c) => natInstanceOf(c)?.id)).toEqual(Array(6).fill(kept));

    // The drained instance still holds long-lived flows, so it waits for them (bounded by its
    // 20 s drain timeout). The test closes them after checking they still answer, and the
    // instance must then stop with no flow left, well before the timeout: the drain ends
    // because the flows ended, and no flow was moved to the other instance meanwhile.
    const all = await agent!.connections();
    const onDrained = all.filter((c) => c.state === 'open' && natInstanceOf(c)?.id === drained);
    expect(onDrained.length).toBeGreaterThan(0);
    const okBefore = new Map(onDrained.map((c) => [c.id, c.ok]));
    await sleep(1200);
    expect(edge!.runtime.dataPlane.instance(drained).state).toBe('draining');
    const still = (await agent!.connections()).filter((c) => okBefore.has(c.id));
    for (const c of still) {
      expect(c.state, `connection ${c.id}: ${c.errors.join(', ')}`).toBe('open');
      expect(c.ok).toBeGreaterThan(okBefore.get(c.id)!);
      expect(natInstanceOf(c)?.id).toBe(drained);
    }
    expect(events.some((e) => e.type === 'instance-stopped' && e.function === unit)).toBe(false);

    closedOnDrained = onDrained.map((c) => c.id);
    const closedAt = Date.now();
    const closed = await agent!.close(closedOnDrained);
    expect(closed.map((c) => c.state)).toEqual(Array(closed.length).fill('closed'));
    const stop = await waitForEvent((e) => e.type === 'instance-stopped' && e.instance.endsWith(`/${drained}`), 12_000, `${drained} stopped`);
    expect(stop.details.flowsLeft).toBe('0');
    expect(stop.time - closedAt).toBeLessThan(10_000);
    expect(stop.time - draining.time).toBeLessThan(20_000);
    expect(nat().live.map((i) => i.id)).toEqual([kept]);
  });

  it('at the end: every long-lived connection still answers on its one NAT mapping, nothing failed or was reset, no buffer leaked', async () => {
    const before = await agent!.connections();
    await sleep(600);
    const after = await agent!.connections();
    const open = after.filter((c) => !closedOnDrained.includes(c.id));
    expect(open.length).toBe(after.length - closedOnDrained.length);
    expect(open.length).toBeGreaterThanOrEqual(6);
    for (const c of open) {
      expect(c.state, `connection ${c.id}: ${c.errors.join(', ')}`).toBe('open');
      expect(c.ok).toBeGreaterThan(before.find((b) => b.id === c.id)!.ok);
    }
    for (const c of after) {
      expect(c.failed, `connection ${c.id}: ${c.errors.join(', ')}`).toBe(0);
      expect(c.backends).toHaveLength(1);
      expect(c.seen).toHaveLength(1);
      expect(c.seen[0]).toMatch(new RegExp(`^${WEB_LAB_ADDRESSES.nat.replace(/\./g, '\\.')}:\\d+$`));
    }
    expect(new Set(after.map((c) => c.seen[0])).size).toBe(after.length);

    const totals = await agent!.totals();
    expect(totals.totals.failures).toEqual({});
    expect(totals.totals.longFailed).toBe(0);
    for (const ns of namespaces()) {
      const d = tcpMibDelta(mibBefore.get(ns)!, await tcpMib(web!.lab, ns));
      expect({ ns, EstabResets: d.EstabResets, AttemptFails: d.AttemptFails, OutRsts: d.OutRsts }).toEqual({ ns, EstabResets: 0, AttemptFails: 0, OutRsts: 0 });
    }

    const dp = edge!.runtime.dataPlane;
    expect(dp.counters.learnConflicts).toBe(0);
    expect(dp.counters.repinned).toBe(0);
    expect(dp.dropsByReason()).toEqual({});
    expect(dp.dropped()).toBe(0);
    // Ends in the replicas: every frame of the run entered and left there, none through the host.
    if (placement === 'fused') expect(dp.traffic).toEqual({ enteredInside: 0, enteredOutside: 0, leftInside: 0, leftOutside: 0 });

    await agent!.close();
    await agent!.stop();
    const shutdown = await edge!.close();
    expect(shutdown.leakedBuffers).toBe('0');
    const id = web!.lab.id;
    expect(await web!.destroy()).toMatchObject({ errors: [], leftovers: [] });
    expect((await runCommand('ip', ['netns', 'list'])).stdout).not.toContain(id);
  });
});
