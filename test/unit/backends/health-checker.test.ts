import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendHealth } from '../../../src/backends/backend-health.ts';
import { HealthChecker, type HealthChange } from '../../../src/backends/health-checker.ts';
import { probeBackend, type ProbeTarget } from '../../../src/backends/health-probe.ts';

function listen<T extends Server | HttpServer>(server: T): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const target = (port: number, more: Partial<ProbeTarget> = {}): ProbeTarget => ({ protocol: 'tcp', address: '127.0.0.1', port, path: '/', timeoutMs: 300, ...more });

describe('BackendHealth (rise/fall)', () => {
  it('goes down after fall failures in a row, up after rise successes in a row; unknown is up at the first success', () => {
    const h = new BackendHealth(2, 3);
    expect(h.state).toBe('unknown');
    expect([h.record(false), h.record(false), h.record(true)]).toEqual([undefined, undefined, 'up']);
    expect([h.record(false), h.record(false), h.record(true), h.record(false), h.record(false)]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(h.record(false)).toBe('down');
    expect([h.record(true), h.record(false), h.record(true)]).toEqual([undefined, undefined, undefined]);
    expect(h.record(true)).toBe('up');
    const once = new BackendHealth(1, 1);
    expect([once.record(false), once.record(true), once.record(false)]).toEqual(['down', 'up', 'down']);
  });
});

describe('HealthChecker on a fake clock', () => {
  afterEach(() => vi.useRealTimers());

  it('marks a failing backend down within interval × fall and back up within interval × rise, each change reported once', async () => {
    vi.useFakeTimers({ now: 0 });
    let ok = true;
    const probes: number[] = [];
    const changes: (HealthChange & { at: number })[] = [];
    const checker = new HealthChecker(
      [{ key: 'b', probe: target(1), intervalMs: 200, rise: 2, fall: 3 }],
      (c) => changes.push({ ...c, at: Date.now() }),
      async () => {
        probes.push(Date.now());
        return ok ? { ok: true, detail: 'connected' } : { ok: false, detail: 'ECONNREFUSED' };
      },
    );
    checker.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(checker.report('b')).toMatchObject({ state: 'up', detail: 'connected' });
    expect(probes).toEqual([0, 200, 400, 600, 800, 1000]);
    ok = false;
    const failedAt = Date.now() + 1;
    await vi.advanceTimersByTimeAsync(1000);
    const down = changes.find((c) => c.to === 'down')!;
    expect(down).toMatchObject({ key: 'b', from: 'up', detail: 'ECONNREFUSED', probes: 3 });
    expect(down.at - failedAt).toBeLessThanOrEqual(200 * 3);
    ok = true;
    const backAt = Date.now() + 1;
    await vi.advanceTimersByTimeAsync(1000);
    const up = changes.filter((c) => c.to === 'up').at(-1)!;
    expect(up).toMatchObject({ from: 'down', probes: 2 });
    expect(up.at - backAt).toBeLessThanOrEqual(200 * 2);
    expect(changes.map((c) => `${c.from}→${c.to}`)).toEqual(['unknown→up', 'up→down', 'down→up']);
    checker.stop();
    const count = probes.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect(probes.length).toBe(count);
  });

  it('spreads the first probes of many backends over one interval and never overlaps probes of one backend', async () => {
    vi.useFakeTimers({ now: 0 });
    const starts = new Map<number, number[]>();
    let inFlight = 0;
    let most = 0;
    const checker = new HealthChecker(
      [0, 1, 2, 3].map((i) => ({ key: `b${i}`, probe: target(i + 1), intervalMs: 400, rise: 1, fall: 1 })),
      () => undefined,
      async (t) => {
        starts.set(t.port, [...(starts.get(t.port) ?? []), Date.now()]);
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 350));
        inFlight--;
        return { ok: true, detail: 'connected' };
      },
    );
    checker.start();
    await vi.advanceTimersByTimeAsync(1200);
    checker.stop();
    expect([1, 2, 3, 4].map((p) => starts.get(p)![0])).toEqual([0, 100, 200, 300]);
    for (const list of starts.values()) for (let k = 1; k < list.length; k++) expect(list[k] - list[k - 1]).toBe(400);
    expect(most).toBeLessThanOrEqual(4);
  });
});

describe('probeBackend on ::1 (a health check may name an IPv6 address to probe)', () => {
  const servers: (Server | HttpServer)[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });
  const listen6 = (server: Server | HttpServer): Promise<number> => new Promise((resolve) => server.listen(0, '::1', () => resolve((server.address() as AddressInfo).port)));

  it('tcp and http reach a server listening on the IPv6 loopback only', async () => {
    const open = createServer((s) => s.destroy());
    servers.push(open);
    const tcpPort = await listen6(open);
    expect(await probeBackend(target(tcpPort, { address: '::1' }))).toEqual({ ok: true, detail: 'connected' });
    expect(await probeBackend(target(tcpPort))).toEqual({ ok: false, detail: 'ECONNREFUSED' });
    const web = createHttpServer((_req, res) => {
      res.statusCode = 204;
      res.end();
    });
    servers.push(web);
    web.keepAliveTimeout = 10;
    const httpPort = await listen6(web);
    expect(await probeBackend(target(httpPort, { address: '::1', protocol: 'http', path: '/healthz', timeoutMs: 500 }))).toEqual({ ok: true, detail: 'HTTP 204' });
    web.closeAllConnections();
  });
});

describe('probeBackend on 127.0.0.1', () => {
  const servers: (Server | HttpServer)[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it('tcp: up when a connection is accepted, ECONNREFUSED on a closed port', async () => {
    const open = createServer((s) => s.destroy());
    servers.push(open);
    const port = await listen(open);
    expect(await probeBackend(target(port))).toEqual({ ok: true, detail: 'connected' });
    const closed = createServer();
    const closedPort = await listen(closed);
    await new Promise((r) => closed.close(r));
    expect(await probeBackend(target(closedPort))).toEqual({ ok: false, detail: 'ECONNREFUSED' });
  });

  it('http: up on 2xx/3xx, down on 5xx and on a server that never answers', async () => {
    const seen: string[] = [];
    const web = createHttpServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.url === '/slow') return;
      res.statusCode = req.url === '/healthz' ? 204 : req.url === '/moved' ? 302 : 503;
      res.end();
    });
    servers.push(web);
    web.keepAliveTimeout = 10;
    const port = await listen(web);
    const http = (path: string, timeoutMs = 500) => probeBackend(target(port, { protocol: 'http', path, timeoutMs }));
    expect(await http('/healthz')).toEqual({ ok: true, detail: 'HTTP 204' });
    expect(await http('/moved')).toEqual({ ok: true, detail: 'HTTP 302' });
    expect(await http('/broken')).toEqual({ ok: false, detail: 'HTTP 503' });
    expect(await http('/slow', 150)).toEqual({ ok: false, detail: 'timeout after 150 ms' });
    expect(seen).toEqual(['GET /healthz', 'GET /moved', 'GET /broken', 'GET /slow']);
    web.closeAllConnections();
  });
});
