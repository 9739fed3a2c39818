import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerEvent } from '../../src/controller/controller-api.ts';
import { createControllerClient, type ControllerClient } from '../../src/grpc/controller-client.ts';
import { startControllerServer, type ControllerServer } from '../../src/grpc/controller-server.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import { WEB_BACKEND_PORT, WEB_LAB_ADDRESSES, WEB_LAB_ADDRESSES6 } from '../../src/netlab/web-lab.ts';
import { backendsOf, callAgent as call, type GetResult } from './support/agent-client.ts';
import { useWebEdgeLab } from './support/web-edge-fixture.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[e2e] skipping load-balancer backends test: ${probe.reason}`);

const endpoint = (i: number): string => `${WEB_LAB_ADDRESSES.backendBase}${11 + i}:${WEB_BACKEND_PORT}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The health check of these tests: HTTP GET / every 0.5 s, down after 2 failures, up after 2 successes. */
const CHECK = { protocol: 'http', path: '/', intervalSeconds: 0.5, timeoutSeconds: 0.25, fall: 2, rise: 2 } as const;

describe.skipIf(!probe.ok).each(['isolated', 'fused'] as const)('load-balancer backends at run time over gRPC, real TCP from network namespaces (%s placement)', (placement) => {
  const lab = useWebEdgeLab('nfvkit-lb-e2e-', { placement, healthCheck: CHECK });
  let server: ControllerServer | undefined;
  let client: ControllerClient | undefined;
  /** Every request the tests sent and every one that failed (a timeout, a reset, a status other than 200). */
  const sent = { requests: 0, failed: [] as string[] };
  const url = `http://${WEB_LAB_ADDRESSES.vip}/`;
  const chain = 'web-edge-vxlan';

  async function get(count: number, keep?: string): Promise<GetResult> {
    const r = await call<GetResult>(lab.sock, { op: 'get', url, count, keep, timeoutMs: 3000 });
    sent.requests += r.results.length + (r.ok ? 0 : 1);
    if (!r.ok) sent.failed.push(r.error ?? 'error');
    for (const x of r.results) if (x.status !== 200) sent.failed.push(`HTTP ${x.status}`);
    return r;
  }

  async function eventAfter(seq: number, match: (e: ControllerEvent) => boolean, timeoutMs: number): Promise<ControllerEvent | undefined> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = lab.edge.controller.events.since(seq).find(match);
      if (found !== undefined || Date.now() > until) return found;
      await sleep(10);
    }
  }

  beforeAll(async () => {
    server = await startControllerServer(lab.edge.controller, { address: '127.0.0.1:0' });
    client = createControllerClient(server.address);
  });

  afterAll(async () => {
    client?.close();
    await server?.close().catch(() => undefined);
  });

  it('lists the service’s three backends over gRPC: active, and up once probed', async () => {
    // The topology is dual stack: the health check probes the IPv4 service's backends; the
    // IPv6 service's are listed beside them, unchecked.
    const web = (all: typeof rows) => all.filter((b) => b.service === 'web');
    let rows = await client!.listBackends(chain);
    for (let i = 0; i < 50 && web(rows).some((b) => b.health !== 'up'); i++) {
      await sleep(100);
      rows = await client!.listBackends(chain, 'lb');
    }
    expect(web(rows).map((b) => [b.service, b.backend, b.state, b.health, b.effective])).toEqual([0, 1, 2].map((i) => ['web', endpoint(i), 'active', 'up', 'active']));
    expect(rows.filter((b) => b.service === 'web6').map((b) => [b.backend, b.state, b.effective])).toEqual([0, 1, 2].map((i) => [`[${WEB_LAB_ADDRESSES6.backendBase}${11 + i}]:${WEB_BACKEND_PORT}`, 'active', 'active']));
    const r = await get(24);
    expect(r, r.error).toMatchObject({ ok: true });
    const after = await client!.listBackends(chain);
    expect(after.reduce((n, b) => n + b.newFlows, 0)).toBeGreaterThanOrEqual(24);
  });

  it('a backend drained over gRPC gets no new flows while its established ones finish; activated, it gets new flows again', async () => {
    const open = new Map<string, string>();
    for (let i = 0; i < 40 && ![...open.values()].includes('backend-3'); i++) {
      const r = await get(1, `pre${i}`);
      expect(r, r.error).toMatchObject({ ok: true });
      open.set(`pre${i}`, backendsOf(r)[0]);
    }
    const onThree = [...open].filter(([, b]) => b === 'backend-3').map(([k]) => k);
    expect(onThree.length).toBeGreaterThan(0);
    const before = lab.edge.controller.events.lastSeq;

    const drained = await client!.setBackendState(chain, 'lb', 'web', endpoint(2), 'draining');
    expect(drained).toMatchObject({ backend: endpoint(2), state: 'draining', effective: 'draining' });
    expect(drained.connections).toBeGreaterThanOrEqual(onThree.length);
    const event = await eventAfter(before, (e) => e.type === 'backend-state', 1000);
    expect(event).toMatchObject({ chain, function: 'lb', details: { service: 'web', backend: endpoint(2), from: 'active', to: 'draining' } });

    const fresh = await get(30);
    expect(fresh, fresh.error).toMatchObject({ ok: true });
    expect(new Set(backendsOf(fresh))).toEqual(new Set(['backend-1', 'backend-2']));
    for (const keep of onThree) {
      const r = await get(4, keep);
      expect(r, `${keep}: ${r.error}`).toMatchObject({ ok: true });
      expect(backendsOf(r)).toEqual(Array(4).fill('backend-3'));
    }
    for (const keep of open.keys()) await call(lab.sock, { op: 'close', keep });

    await client!.setBackendState(chain, '', 'web', endpoint(2), 'active');
    const back = await get(36);
    expect(back, back.error).toMatchObject({ ok: true });
    expect(new Set(backendsOf(back))).toEqual(new Set(['backend-1', 'backend-2', 'backend-3']));
  });

  it('a backend whose server is stopped is marked down within interval × fall, its new flows go elsewhere, and it comes back up', async () => {
    const b2 = lab.web.backends[1];
    const warm = await get(12);
    expect(warm, warm.error).toMatchObject({ ok: true });
    const before = lab.edge.controller.events.lastSeq;

    await b2.server.kill();
    const stoppedAt = Date.now();
    const down = await eventAfter(before, (e) => e.type === 'backend-health' && e.details.to === 'down', 10_000);
    expect(down).toMatchObject({ chain, function: 'lb', details: { service: 'web', backend: endpoint(1), from: 'up', to: 'down', probes: String(CHECK.fall) } });
    const took = down!.time - stoppedAt;
    const bound = CHECK.intervalSeconds * 1000 * CHECK.fall;
    console.log(`[e2e ${placement}] backend-2 stopped → marked down after ${took} ms (interval × fall = ${bound} ms): ${down!.reason}`);
    // Scheduling on a loaded 2-core machine may add a little to the probes' timers.
    expect(took).toBeLessThanOrEqual(bound + 250);

    const rows = await client!.listBackends(chain);
    expect(rows[1]).toMatchObject({ health: 'down', state: 'active', effective: 'draining' });
    expect(rows[1].healthDetail).toMatch(/ECONNREFUSED|ECONNRESET/);
    const after = await get(40);
    expect(after, after.error).toMatchObject({ ok: true });
    expect(new Set(backendsOf(after))).toEqual(new Set(['backend-1', 'backend-3']));

    const restart = lab.edge.controller.events.lastSeq;
    const again = lab.web.lab.spawnNode(b2.ns, new URL('../../src/netlab/http-backend.ts', import.meta.url), [b2.name, String(WEB_BACKEND_PORT)]);
    await again.waitForOutput(/listening/, 20_000);
    const up = await eventAfter(restart, (e) => e.type === 'backend-health' && e.details.to === 'up', 10_000);
    expect(up).toMatchObject({ details: { backend: endpoint(1), from: 'down', to: 'up', probes: String(CHECK.rise) } });
    const healed = await get(36);
    expect(healed, healed.error).toMatchObject({ ok: true });
    expect(new Set(backendsOf(healed))).toEqual(new Set(['backend-1', 'backend-2', 'backend-3']));
  });

  it('sent every request without a failure', () => {
    expect(sent.requests).toBeGreaterThan(150);
    expect(sent.failed).toEqual([]);
  });
});
