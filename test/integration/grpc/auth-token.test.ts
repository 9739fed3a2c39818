import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors/catalog.ts';
import { bearerToken } from '../../../src/grpc/auth-interceptor.ts';
import { createControllerClient, type ControllerClient } from '../../../src/grpc/controller-client.ts';
import { startControllerServer } from '../../../src/grpc/controller-server.ts';
import { isLoopbackHost, parseListenAddress } from '../../../src/grpc/listen-address.ts';
import { FakeController, specYaml } from './fake-controller.ts';
import { rpcError, startHarness, type Harness } from './grpc-harness.ts';
import { reflect } from './reflection-client.ts';

const TOKEN = 'n7f-Vk1t.t0ken_for+tests/only=';

describe('bearer token', () => {
  let h: Harness;
  const others: ControllerClient[] = [];
  const client = (token?: string): ControllerClient => {
    const c = createControllerClient(h.server.address, { token });
    others.push(c);
    return c;
  };

  beforeAll(async () => {
    h = await startHarness({ token: TOKEN }, { token: TOKEN });
  });

  afterAll(async () => {
    for (const c of others) c.close();
    await h.close();
  });

  it('refuses unary calls without a token, or with a wrong one, with UNAUTHENTICATED', async () => {
    const missing = await rpcError(client().listChains());
    expect(missing.status).toBe(status.UNAUTHENTICATED);
    expect(missing.message).toContain('missing bearer token');
    const wrong = await rpcError(client(TOKEN + 'x').applyChain(specYaml('a')));
    expect(wrong.status).toBe(status.UNAUTHENTICATED);
    expect(wrong.message).toBe('invalid bearer token');
    const prefix = await rpcError(client(TOKEN.slice(0, -1)).listChains());
    expect(prefix.status).toBe(status.UNAUTHENTICATED);
    expect(h.fake.chains.size).toBe(0);
  });

  it('refuses streams without the token', async () => {
    const err = await rpcError(
      (async () => {
        for await (const e of client('nope').watchEvents()) return e;
      })(),
    );
    expect(err.status).toBe(status.UNAUTHENTICATED);
    expect(h.fake.listenerCount).toBe(0);
  });

  it('accepts every kind of call with the right token', async () => {
    const applied = await h.client.applyChain(specYaml('a'));
    expect(applied.changed).toBe(true);
    expect(await h.client.listChains()).toHaveLength(1);
    h.fake.emit({ type: 'applied', chain: 'a' });
    for await (const e of h.client.watchEvents()) {
      expect(e.type).toBe('applied');
      break;
    }
  });

  it('answers health checks without a token', async () => {
    expect(await client().checkHealth()).toBe('SERVING');
  });

  it('protects reflection with the token', async () => {
    await expect(reflect(h.server.address, { listServices: '*' })).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    const md = new Metadata();
    md.set('authorization', `Bearer ${TOKEN}`);
    const res = await reflect(h.server.address, { listServices: '*' }, md);
    expect(res.listServicesResponse?.service.map((s) => s.name)).toContain('nfvkit.v1.Controller');
  });

  it('parses the authorization header strictly', () => {
    const md = (v: string): Metadata => {
      const m = new Metadata();
      m.set('authorization', v);
      return m;
    };
    expect(bearerToken(md('Bearer abc'))).toBe('abc');
    expect(bearerToken(md('bearer  abc'))).toBe('abc');
    expect(bearerToken(md('Basic abc'))).toBeUndefined();
    expect(bearerToken(md('Bearer a b'))).toBeUndefined();
    expect(bearerToken(new Metadata())).toBeUndefined();
  });
});

describe('listen address policy', () => {
  it('knows loopback hosts', () => {
    for (const host of ['127.0.0.1', '127.9.8.7', 'localhost', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '198.18.0.1', 'controller.example', '', '::2']) expect(isLoopbackHost(host), host).toBe(false);
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0, loopback: true, unix: false });
    expect(parseListenAddress('unix:/run/nfvkit.sock')).toMatchObject({ loopback: true, unix: true });
    for (const bad of ['127.0.0.1', '::1:50051', '127.0.0.1:http', '127.0.0.1:70000', '[::1]50051']) expect(() => parseListenAddress(bad), bad).toThrow(InvalidArgumentError);
  });

  it('refuses to listen on a non-loopback address without TLS or a token', async () => {
    const fake = new FakeController();
    await expect(startControllerServer(fake, { address: '0.0.0.0:0' })).rejects.toThrow(/refusing to listen on 0.0.0.0:0 without TLS or a token/);
    await expect(startControllerServer(fake, { address: '[::]:0' })).rejects.toThrow(InvalidArgumentError);
  });

  it('listens on a non-loopback address with a token, and still demands it', async () => {
    const server = await startControllerServer(new FakeController(), { address: '0.0.0.0:0', token: TOKEN });
    const anon = createControllerClient(`127.0.0.1:${server.port}`);
    const authed = createControllerClient(`127.0.0.1:${server.port}`, { token: TOKEN });
    try {
      expect(server.address).toBe(`0.0.0.0:${server.port}`);
      expect((await rpcError(anon.listChains())).status).toBe(status.UNAUTHENTICATED);
      expect(await authed.listChains()).toEqual([]);
    } finally {
      anon.close();
      authed.close();
      await server.close();
    }
  });

  it('reports a port already in use', async () => {
    const first = await startControllerServer(new FakeController());
    try {
      await expect(startControllerServer(new FakeController(), { address: first.address })).rejects.toThrow(/No address added|EADDRINUSE/);
    } finally {
      await first.close();
    }
  });

  it('rejects unusable tokens and mTLS without a CA at startup', async () => {
    const fake = new FakeController();
    await expect(startControllerServer(fake, { token: '' })).rejects.toThrow(InvalidArgumentError);
    await expect(startControllerServer(fake, { token: 'has space' })).rejects.toThrow(/printable ASCII/);
    await expect(startControllerServer(fake, { tls: { cert: 'x', key: 'y', requireClientCert: true } })).rejects.toThrow(/requireClientCert needs tls.ca/);
  });
});
