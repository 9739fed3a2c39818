import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendStatus } from '../../../src/controller/backend-status.ts';
import { controllerServiceDefinition } from '../../../src/grpc/controller-proto.ts';
import { specYaml } from './fake-controller.ts';
import { rpcError, startHarness, type Harness } from './grpc-harness.ts';

let h: Harness;

const row = (backend: string, more: Partial<BackendStatus> = {}): BackendStatus => ({
  chain: 'web-edge',
  function: 'lb',
  service: 'web',
  backend,
  address: backend.split(':')[0],
  port: 8080,
  protocol: 'tcp',
  state: 'active',
  health: 'up',
  healthDetail: 'HTTP 200',
  healthChangedAt: 1_700_000_000_000,
  effective: 'active',
  connections: 3,
  newFlows: 12,
  ...more,
});

beforeAll(async () => {
  h = await startHarness();
  await h.client.applyChain(specYaml('web-edge'), 'web-edge.yaml');
  h.fake.backendRows.push(row('198.18.3.11:8080'), row('198.18.3.12:8080', { health: 'down', healthDetail: 'ECONNREFUSED', effective: 'draining', connections: 0 }), row('198.18.3.13:8080', { health: 'unchecked', healthDetail: '', healthChangedAt: 0 }));
});

afterAll(async () => {
  await h.close();
});

describe('ListBackends and SetBackendState', () => {
  it('lists a function’s backends with state, health and counts, unchanged by the trip', async () => {
    expect(await h.client.listBackends('web-edge')).toEqual(h.fake.backendRows);
    expect(await h.client.listBackends('web-edge', 'lb')).toEqual(h.fake.backendRows);
  });

  it('sets a backend’s state and answers with the backend; the change is an event', async () => {
    const drained = await h.client.setBackendState('web-edge', 'lb', 'web', '198.18.3.13:8080', 'draining');
    expect(drained).toEqual(row('198.18.3.13:8080', { health: 'unchecked', healthDetail: '', healthChangedAt: 0, state: 'draining', effective: 'draining' }));
    expect(h.fake.backendRows[2].state).toBe('draining');
    const events = h.client.watchEvents({ chain: 'web-edge' });
    const seen: string[] = [];
    for await (const e of events) {
      seen.push(`${e.type} ${e.reason}`);
      if (e.type === 'backend-state') break;
    }
    events.cancel();
    expect(seen.at(-1)).toBe('backend-state backend 198.18.3.13:8080 of service web draining');
  });

  it('maps errors: unknown backend NOT_FOUND, unknown chain NOT_FOUND, no state or an empty backend INVALID_ARGUMENT with the field', async () => {
    expect((await rpcError(h.client.setBackendState('web-edge', 'lb', 'web', '198.18.3.99:8080', 'removed'))).status).toBe(status.NOT_FOUND);
    expect((await rpcError(h.client.listBackends('nope'))).status).toBe(status.NOT_FOUND);
    const empty = await rpcError(h.client.setBackendState('web-edge', 'lb', 'web', '', 'removed'));
    expect(empty.status).toBe(status.INVALID_ARGUMENT);
    expect(empty.fieldViolations).toEqual([{ field: 'backend', description: 'must not be empty' }]);
    // A raw request without a state (BACKEND_STATE_UNSPECIFIED).
    const raw = new Client(h.server.address, credentials.createInsecure());
    const method = controllerServiceDefinition().SetBackendState;
    try {
      const code = await new Promise<number>((resolve) => {
        raw.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, { chain: 'web-edge', service: 'web', backend: '198.18.3.11:8080' }, new Metadata(), {}, (e) => resolve(e?.code ?? status.OK));
      });
      expect(code).toBe(status.INVALID_ARGUMENT);
    } finally {
      raw.close();
    }
  });
});
