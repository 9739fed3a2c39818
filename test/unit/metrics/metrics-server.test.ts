import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { checkMetricsExposure, startMetricsServer, type MetricsServer } from '../../../src/metrics/metrics-server.ts';
import { NfvkitMetrics } from '../../../src/metrics/nfvkit-metrics.ts';
import { parseExposition, valueOf } from './exposition.ts';
import { FakeSource } from './fake-source.ts';
import { generateTestPki } from '../../integration/grpc/tls-material.ts';

function head(url: string): Promise<{ status: number; length: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'HEAD' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, length: res.headers['content-length'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics HTTP server', () => {
  const source = new FakeSource('edge/fw-0');
  const metrics = new NfvkitMetrics();
  metrics.setSources(() => [source]);
  let server: MetricsServer;
  beforeAll(async () => {
    server = await startMetricsServer(metrics, { host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('listens on a free loopback port and serves /metrics in the registry content type', async () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`);
    source.traffic(77, 70);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.contentType);
    const exp = parseExposition(await res.text());
    expect(exp.problems).toEqual([]);
    expect(valueOf(exp, 'nfvkit_function_packets_total', { side: 'inside', direction: 'rx' })).toBe(77);
    const withQuery = await fetch(`${server.url}?name[]=x`);
    expect(withQuery.status).toBe(200);
  });

  it('answers /healthz, 404 elsewhere, 405 for other methods, and HEAD without a body', async () => {
    const base = server.url.replace(/\/metrics$/, '');
    const health = await fetch(`${base}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics/x`)).status).toBe(404);
    const post = await fetch(server.url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const h = await head(server.url);
    expect(h.status).toBe(200);
    expect(Number(h.length)).toBeGreaterThan(100);
    expect(h.body).toBe('');
  });

  it('answers 500 when collecting fails and keeps serving afterwards', async () => {
    metrics.setSources(() => {
      throw new Error('data plane gone');
    });
    const res = await fetch(server.url);
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/data plane gone/);
    metrics.setSources(() => [source]);
    expect((await fetch(server.url)).status).toBe(200);
  });

  it('rejects when the port is taken and frees it on close', async () => {
    const other = await startMetricsServer(metrics, { port: 0 });
    await expect(startMetricsServer(metrics, { port: other.port })).rejects.toThrow(/EADDRINUSE/);
    await other.close();
    const again = await startMetricsServer(metrics, { port: other.port });
    expect(again.port).toBe(other.port);
    await again.close();
  });
});

describe('metrics HTTP server exposure', () => {
  const metrics = new NfvkitMetrics();
  const servers: MetricsServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it('refuses a non-loopback address without TLS, a token or the unauthenticated opt-in', async () => {
    await expect(startMetricsServer(metrics, { host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /refusing to serve \/metrics on 0\.0\.0\.0:0 without TLS or a token.*--metrics-unauthenticated/,
    );
    await expect(startMetricsServer(metrics, { host: '::', port: 0 })).rejects.toMatchObject({ code: 'NFVKIT_ERR_INVALID_ARGUMENT' });
    expect(() => checkMetricsExposure('198.18.0.1', 9464, {})).toThrow(InvalidArgumentError);
    expect(() => checkMetricsExposure('127.0.0.2', 9464, {})).not.toThrow();
    expect(() => checkMetricsExposure('0.0.0.0', 9464, { token: 'has space' })).toThrow(/printable ASCII/);
  });

  it('serves the network when told so explicitly', async () => {
    const s = await startMetricsServer(metrics, { host: '0.0.0.0', port: 0, unauthenticated: true });
    servers.push(s);
    expect((await fetch(`http://127.0.0.1:${s.port}/metrics`)).status).toBe(200);
  });

  it('with a token, /metrics answers 401 without "Authorization: Bearer <token>"; /healthz stays open', async () => {
    const s = await startMetricsServer(metrics, { host: '0.0.0.0', port: 0, token: 's3cret' });
    servers.push(s);
    const url = `http://127.0.0.1:${s.port}/metrics`;
    const denied = await fetch(url);
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await denied.text()).not.toMatch(/nfvkit_/);
    expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${s.port}/healthz`)).status).toBe(200);
  });

  it('serves HTTPS with TLS', async () => {
    const pki = generateTestPki();
    const s = await startMetricsServer(metrics, { host: '0.0.0.0', port: 0, tls: { cert: pki.serverCert, key: pki.serverKey } });
    servers.push(s);
    expect(s.url).toBe(`https://0.0.0.0:${s.port}/metrics`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`https://127.0.0.1:${s.port}/metrics`, { ca: pki.caCert }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });
});
