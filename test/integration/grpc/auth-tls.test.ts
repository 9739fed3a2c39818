import { credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControllerClient, type ClientTlsOptions, type ControllerClient } from '../../../src/grpc/controller-client.ts';
import { startControllerServer, type ControllerServer } from '../../../src/grpc/controller-server.ts';
import { FakeController, specYaml } from './fake-controller.ts';
import { rpcError } from './grpc-harness.ts';
import { reflect } from './reflection-client.ts';
import { generateTestPki, type TestPki } from './tls-material.ts';

let pki: TestPki;
const clients: ControllerClient[] = [];

beforeAll(() => {
  pki = generateTestPki();
});

afterAll(() => {
  for (const c of clients) c.close();
});

function connect(server: ControllerServer, tls?: ClientTlsOptions, token?: string): ControllerClient {
  const c = createControllerClient(server.address, { tls, token, deadlineMs: 5000 });
  clients.push(c);
  return c;
}

describe('TLS', () => {
  let server: ControllerServer;

  beforeAll(async () => {
    server = await startControllerServer(new FakeController(), { tls: { cert: pki.serverCert, key: pki.serverKey } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('serves clients that trust the CA', async () => {
    const c = connect(server, { ca: pki.caCert });
    expect((await c.applyChain(specYaml('tls'))).changed).toBe(true);
    expect(await c.checkHealth()).toBe('SERVING');
  });

  it('checks the server name against the certificate', async () => {
    const c = connect(server, { ca: pki.caCert, serverName: 'localhost' });
    expect(await c.listChains()).toHaveLength(1);
    const wrongName = connect(server, { ca: pki.caCert, serverName: 'controller.example' });
    expect((await rpcError(wrongName.listChains())).status).toBe(status.UNAVAILABLE);
  });

  it('is refused by clients that do not trust the CA, and by plaintext clients', async () => {
    expect((await rpcError(connect(server, { ca: pki.rogueCaCert }).listChains())).status).toBe(status.UNAVAILABLE);
    expect((await rpcError(connect(server).listChains())).status).toBe(status.UNAVAILABLE);
  });

  it('combines with a non-loopback address', async () => {
    const open = await startControllerServer(new FakeController(), { address: '0.0.0.0:0', tls: { cert: pki.serverCert, key: pki.serverKey } });
    try {
      const c = createControllerClient(`127.0.0.1:${open.port}`, { tls: { ca: pki.caCert } });
      clients.push(c);
      expect(await c.listChains()).toEqual([]);
    } finally {
      await open.close();
    }
  });
});

describe('mutual TLS', () => {
  let server: ControllerServer;
  let fake: FakeController;

  beforeAll(async () => {
    fake = new FakeController();
    server = await startControllerServer(fake, { tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requireClientCert: true } });
  });

  afterAll(async () => {
    await server.close();
  });

  it('refuses a client without a certificate with UNAUTHENTICATED', async () => {
    const err = await rpcError(connect(server, { ca: pki.caCert }).applyChain(specYaml('x')));
    expect(err.status).toBe(status.UNAUTHENTICATED);
    expect(err.message).toContain('client certificate');
    expect(fake.chains.size).toBe(0);
  });

  it('refuses a certificate from another CA with UNAUTHENTICATED', async () => {
    const err = await rpcError(connect(server, { ca: pki.caCert, cert: pki.rogueClientCert, key: pki.rogueClientKey }).listChains());
    expect(err.status).toBe(status.UNAUTHENTICATED);
  });

  it('serves a client with a certificate from the CA, streams included', async () => {
    const c = connect(server, { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey });
    expect((await c.applyChain(specYaml('m'))).chain.name).toBe('m');
    for await (const e of c.watchEvents()) {
      expect(e).toMatchObject({ type: 'applied', chain: 'm' });
      break;
    }
  });

  it('answers health without a client certificate, but not reflection', async () => {
    expect(await connect(server, { ca: pki.caCert }).checkHealth()).toBe('SERVING');
    const creds = credentials.createSsl(pki.caCert);
    await expect(reflect(server.address, { listServices: '*' }, new Metadata(), creds)).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    const withCert = credentials.createSsl(pki.caCert, pki.clientKey, pki.clientCert);
    const res = await reflect(server.address, { listServices: '*' }, new Metadata(), withCert);
    expect(res.listServicesResponse?.service.map((s) => s.name)).toContain('nfvkit.v1.Controller');
  });

  it('demands both the certificate and the token when both are configured', async () => {
    const both = await startControllerServer(new FakeController(), {
      token: 'tok3n',
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requireClientCert: true },
    });
    try {
      const tls: ClientTlsOptions = { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey };
      const certOnly = createControllerClient(both.address, { tls });
      const tokenOnly = createControllerClient(both.address, { tls: { ca: pki.caCert }, token: 'tok3n' });
      const full = createControllerClient(both.address, { tls, token: 'tok3n' });
      clients.push(certOnly, tokenOnly, full);
      expect((await rpcError(certOnly.listChains())).status).toBe(status.UNAUTHENTICATED);
      expect((await rpcError(tokenOnly.listChains())).status).toBe(status.UNAUTHENTICATED);
      expect(await full.listChains()).toEqual([]);
    } finally {
      await both.close();
    }
  });
});
