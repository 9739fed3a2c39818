import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutocannonLoad } from '../../../bench/lib/autocannon-load.ts';
import { HttpResponseReader } from '../../../bench/lib/http-response-reader.ts';
import { LoadWindow, percentileOf } from '../../../bench/lib/load-window.ts';
import { LongLivedConnections } from '../../../bench/lib/long-lived-connections.ts';
import { ShortConnectionLoad } from '../../../bench/lib/short-connection-load.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('HttpResponseReader', () => {
  it('splits responses across and within chunks', () => {
    const r = new HttpResponseReader();
    const one = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
    const two = 'HTTP/1.1 503 Busy\r\ncontent-length: 2\r\n\r\nno';
    expect(r.push(Buffer.from(one.slice(0, 20)))).toBeNull();
    expect(r.push(Buffer.from(one.slice(20) + two.slice(0, 30)))).toEqual({ status: 200, body: 'hello' });
    expect(r.next()).toBeNull();
    expect(r.buffered).toBe(30);
    expect(r.push(Buffer.from(two.slice(30) + 'HTTP/1.1 204 No\r\n\r\n'))).toEqual({ status: 503, body: 'no' });
    expect(r.next()).toEqual({ status: 204, body: '' });
    expect(r.buffered).toBe(0);
  });
});

describe('LoadWindow', () => {
  it('counts per window and in total, by source, with latency percentiles since a mark', () => {
    const w = new LoadWindow();
    for (let i = 1; i <= 100; i++) w.ok(i, 'load');
    w.ok(Number.NaN, 'load');
    w.ok(3, 'long');
    w.fail('load', 'ECONNRESET');
    w.fail('long', 'closed by peer');
    const s = w.take(Date.now());
    expect(s).toMatchObject({ ok: 101, failed: 1, longOk: 1, longFailed: 1, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(w.take(Date.now())).toMatchObject({ ok: 0, failed: 0, longOk: 0, p99: 0 });
    const mark = w.latencyCount;
    w.ok(500, 'load');
    expect(w.percentiles(mark)).toEqual({ p50: 500, p90: 500, p99: 500, max: 500, count: 1 });
    expect(w.percentiles().count).toBe(101);
    expect(w.totals).toEqual({ ok: 102, failed: 1, longOk: 1, longFailed: 1, failures: { 'load: ECONNRESET': 1, 'long: closed by peer': 1 } });
    expect(percentileOf([], 50)).toBe(0);
  });
});

describe('load tools against a local HTTP server', () => {
  let server: Server;
  let url = '';
  const sockets = new Set<Socket>();
  const peers: string[] = [];
  const serverErrors: string[] = [];
  let resetNext = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (resetNext && req.url?.startsWith('/long/')) {
        resetNext = false;
        req.socket.resetAndDestroy();
        return;
      }
      const body = JSON.stringify({ backend: 'local', from: req.socket.remoteAddress, port: req.socket.remotePort });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    server.keepAliveTimeout = 30_000;
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      peers.push(`${s.remoteAddress}:${s.remotePort}`);
      s.on('close', () => sockets.delete(s));
      s.on('error', (err: NodeJS.ErrnoException) => serverErrors.push(err.code ?? err.message));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    url = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}/`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('long-lived connections keep one socket, see their peer, close gracefully, and count a reset or a peer close as a failure', async () => {
    const w = new LoadWindow();
    const set = new LongLivedConnections(w, { timeoutMs: 2000 });
    const opened = await set.open(url, 3, 20, 't');
    expect(opened.map((c) => c.state)).toEqual(['open', 'open', 'open']);
    await sleep(150);
    const mid = set.statuses();
    for (const c of mid) {
      expect(c.ok).toBeGreaterThan(2);
      expect(c.seen).toEqual([`127.0.0.1:${c.localPort}`]);
      expect(c.backends).toEqual(['local']);
    }
    const closed = await set.close([mid[0].id]);
    expect(closed[0]).toMatchObject({ state: 'closed', failed: 0 });

    resetNext = true;
    await sleep(100);
    const afterReset = set.statuses().filter((c) => c.state === 'failed');
    expect(afterReset).toHaveLength(1);
    expect(afterReset[0].errors[0]).toMatch(/ECONNRESET|closed by peer/);

    const survivor = set.statuses().find((c) => c.state === 'open')!;
    for (const s of sockets) if (s.remotePort === survivor.localPort) s.end();
    await sleep(100);
    const last = set.statuses().find((c) => c.id === survivor.id)!;
    expect(last.state).toBe('failed');
    expect(last.errors[0]).toMatch(/^closed by peer/);
    expect(w.totals.longFailed).toBe(2);
    set.destroy();
  });

  it('short connections: each a new socket, a graceful stop fails nothing, pacing holds the rate', async () => {
    const w = new LoadWindow();
    const before = peers.length;
    serverErrors.length = 0;
    const load = new ShortConnectionLoad(w, { url, concurrency: 4, requestsPerConnection: 3, rate: 400 });
    load.start();
    await sleep(500);
    await load.stop();
    expect(w.totals.failed).toBe(0);
    expect(w.totals.ok).toBeGreaterThan(100);
    expect(w.totals.ok).toBeLessThan(260);
    expect(peers.length - before).toBe(load.connections);
    expect(load.connections).toBeGreaterThanOrEqual(Math.floor(w.totals.ok / 3));
    await sleep(50);
    expect(serverErrors).toEqual([]);
  });

  it('autocannon load: follows rate changes, reconnects, stops without aborting a request', async () => {
    const w = new LoadWindow();
    const load = new AutocannonLoad(w);
    expect(() => load.start({ url, connections: 8, rate: 4 })).toThrow(/≥ the 8 connections/);
    const before = peers.length;
    serverErrors.length = 0;
    load.start({ url, connections: 8, rate: 200, reconnectRate: 10, lanes: 2 });
    await sleep(1000);
    const low = w.totals.ok;
    load.setRate(800);
    await sleep(1000);
    const high = w.totals.ok - low;
    const summary = await load.stop();
    expect(low).toBeGreaterThan(100);
    expect(low).toBeLessThan(330);
    expect(high).toBeGreaterThan(2 * low);
    expect(summary).toMatchObject({ errors: 0, timeouts: 0, non2xx: 0 });
    expect(w.totals.failed).toBe(0);
    expect(peers.length - before).toBeGreaterThan(w.totals.ok / 10 - 10);
    expect(w.percentiles().count).toBeGreaterThan(0.8 * w.totals.ok);
    await sleep(50);
    expect(serverErrors).toEqual([]);
  });
});
