import { Client, credentials, status } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rpcError, startHarness, waitFor, type Harness } from './grpc-harness.ts';
import { reflect } from './reflection-client.ts';

let h: Harness;

beforeEach(async () => {
  h = await startHarness();
});

afterEach(async () => {
  await h.close();
});

describe('health', () => {
  it('answers SERVING for the server and for nfvkit.v1.Controller', async () => {
    expect(await h.client.checkHealth()).toBe('SERVING');
    expect(await h.client.checkHealth('nfvkit.v1.Controller')).toBe('SERVING');
  });

  it('answers NOT_FOUND for a service it does not know', async () => {
    expect((await rpcError(h.client.checkHealth('other.v1.Thing'))).status).toBe(status.NOT_FOUND);
  });

  it('turns NOT_SERVING when the server shuts down', async () => {
    const raw = new Client(h.server.address, credentials.createInsecure());
    const watch = healthService.Watch as unknown as MethodDefinition<object, { status: string }>;
    const call = raw.makeServerStreamRequest(watch.path, watch.requestSerialize, watch.responseDeserialize, { service: 'nfvkit.v1.Controller' });
    const seen: string[] = [];
    call.on('data', (m: { status: string }) => seen.push(m.status));
    call.on('error', () => {});
    await waitFor(() => seen.length === 1);
    await h.server.close();
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
    raw.close();
  });
});

describe('reflection', () => {
  it('lists nfvkit.v1.Controller and grpc.health.v1.Health', async () => {
    const res = await reflect(h.server.address, { listServices: '*' });
    const names = res.listServicesResponse?.service.map((s) => s.name) ?? [];
    expect(names).toContain('nfvkit.v1.Controller');
    expect(names).toContain('grpc.health.v1.Health');
  });

  it('describes every Controller method with its message types', async () => {
    const res = await reflect(h.server.address, { fileContainingSymbol: 'nfvkit.v1.Controller' });
    const files = (res.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b) => descriptor.FileDescriptorProto.decode(b) as unknown as {
      package: string;
      service: { name: string; method: { name: string; inputType: string; outputType: string; serverStreaming?: boolean }[] }[];
    });
    const file = files.find((f) => f.package === 'nfvkit.v1');
    const methods = file?.service.find((s) => s.name === 'Controller')?.method ?? [];
    expect(methods.map((m) => m.name)).toEqual(['ApplyChain', 'GetChain', 'ListChains', 'DeleteChain', 'ListInstances', 'ScaleFunction', 'WatchEvents', 'StreamStats', 'ListBackends', 'SetBackendState', 'Capture', 'Trace']);
    expect(methods.filter((m) => m.serverStreaming).map((m) => m.name)).toEqual(['WatchEvents', 'StreamStats', 'Capture', 'Trace']);
    expect(methods.find((m) => m.name === 'ApplyChain')?.outputType).toBe('.nfvkit.v1.ApplyChainResponse');
  });

  it('resolves the google.rpc detail types so tools can print error details', async () => {
    const res = await reflect(h.server.address, { fileContainingSymbol: 'google.rpc.BadRequest' });
    expect(res.errorResponse).toBeUndefined();
    expect(res.fileDescriptorResponse?.fileDescriptorProto.length).toBeGreaterThan(0);
  });
});
