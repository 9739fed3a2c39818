import { describe, expect, it } from 'vitest';
import type { LabDestroyReport } from '../../src/netlab/lab.ts';
import { canCreateNamespaces } from '../../src/netlab/namespace-probe.ts';
import type { WebEdgeShutdown } from '../../src/netlab/web-edge-chain.ts';
import { WEB_BACKEND_PORT, WEB_LAB_ADDRESSES, WEB_LAB_ADDRESSES6 } from '../../src/netlab/web-lab.ts';
import { backendsOf, callAgent as call, type GetResult } from './support/agent-client.ts';
import { useWebEdgeLab } from './support/web-edge-fixture.ts';

const probe = await canCreateNamespaces();
if (!probe.ok) console.warn(`[e2e] skipping web-edge IPv6 test: ${probe.reason}`);

describe.skipIf(!probe.ok).each(['isolated', 'fused'] as const)('web-edge over IPv6: real HTTP from an IPv6 client through the dual-stack chain (%s placement)', (placement) => {
  const lab = useWebEdgeLab('nfvkit-web6-e2e-', { placement }, { prefix: 'nfv6' });
  const A6 = WEB_LAB_ADDRESSES6;
  const get = (url: string, count: number, keep?: string) => call<GetResult>(lab.sock, { op: 'get', url, count, keep });
  const counter = (fn: string, name: string) => lab.edge.runtime.functionCounter(fn, name);

  it('spreads connections to the IPv6 VIP over the three backends, which see the client’s own IPv6 address (NAT passes IPv6 untranslated)', async () => {
    const r = await get(`http://[${A6.vip}]/`, 36);
    expect(r, r.error).toMatchObject({ ok: true });
    expect(r.results.map((x) => x.status)).toEqual(Array(36).fill(200));
    expect(new Set(backendsOf(r))).toEqual(new Set(['backend-1', 'backend-2', 'backend-3']));
    expect(new Set(r.results.map((x) => x.body.from))).toEqual(new Set([A6.client]));
    expect(counter('nat', 'ipv6_passed')).toBeGreaterThan(0);
  });

  it('answers curl itself over IPv6 (the kernel’s own HTTP client path: NDP for the gateway, TCP over IPv6)', async () => {
    const r = await lab.web.lab.exec(lab.web.client, 'curl', ['-6', '-g', '-s', '-S', '--max-time', '10', `http://[${A6.vip}]/curl`]);
    const body = JSON.parse(r.stdout) as { backend: string; from: string; path: string };
    expect(body).toMatchObject({ from: A6.client, path: '/curl' });
    expect(['backend-1', 'backend-2', 'backend-3']).toContain(body.backend);
  });

  it('keeps an IPv6 keep-alive connection on one backend', async () => {
    const r = await get(`http://[${A6.vip}]/`, 10, 'k6');
    expect(r, r.error).toMatchObject({ ok: true });
    expect(new Set(backendsOf(r)).size).toBe(1);
    expect(new Set(r.results.map((x) => x.localPort)).size).toBe(1);
    await call(lab.sock, { op: 'close', keep: 'k6' });
  });

  it('rejects a forbidden port with a TCP reset over IPv6 from the firewall (refused at once)', async () => {
    const before = counter('fw', 'rejected_tcp_reset');
    const r = await call<{ outcome: string; ms: number }>(lab.sock, { op: 'connect', host: A6.vip, port: 22, timeoutMs: 5000 });
    expect(r.outcome).toBe('ECONNREFUSED');
    expect(r.ms).toBeLessThan(1000);
    expect(counter('fw', 'rejected_tcp_reset')).toBe(before + 1);
  });

  it('reaches an IPv4-only server from the IPv6-only client through NAT64 (64:ff9b::/96): the server sees the NAT address', async () => {
    const target = WEB_LAB_ADDRESSES.backendBase + '11';
    const r = await get(`http://[64:ff9b::${target}]:${WEB_BACKEND_PORT}/nat64`, 6);
    expect(r, r.error).toMatchObject({ ok: true });
    expect(r.results.map((x) => x.status)).toEqual(Array(6).fill(200));
    expect(new Set(backendsOf(r))).toEqual(new Set(['backend-1']));
    expect(new Set(r.results.map((x) => x.body.from))).toEqual(new Set([WEB_LAB_ADDRESSES.nat]));
    expect(r.results.map((x) => x.body.path)).toEqual(Array(6).fill('/nat64'));
  });

  it('still carries IPv4 beside IPv6 in the same chain', async () => {
    const r = await get(`http://${WEB_LAB_ADDRESSES.vip}/`, 9);
    expect(r, r.error).toMatchObject({ ok: true });
    expect(new Set(r.results.map((x) => x.body.from))).toEqual(new Set([WEB_LAB_ADDRESSES.nat]));
  });

  it('shuts down with no leaked buffer and no host drops, and leaves no namespace behind', async () => {
    const drops = lab.edge.runtime.dataPlane.dropsByReason();
    expect(Object.keys(drops).filter((k) => k.startsWith('host:'))).toEqual([]);
    await lab.agent.kill();
    const shutdown: WebEdgeShutdown = await lab.edge.close();
    expect(shutdown.leakedBuffers).toBe('0');
    const report: LabDestroyReport = await lab.web.destroy();
    expect(report).toMatchObject({ errors: [], leftovers: [] });
  });
});
