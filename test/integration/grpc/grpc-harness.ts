import { startControllerServer, type ControllerServer, type ControllerServerOptions } from '../../../src/grpc/controller-server.ts';
import { createControllerClient, type ControllerClient, type ControllerClientOptions } from '../../../src/grpc/controller-client.ts';
import { ControllerRpcError } from '../../../src/grpc/controller-rpc-error.ts';
import { FakeController } from './fake-controller.ts';

export interface Harness {
  fake: FakeController;
  server: ControllerServer;
  client: ControllerClient;
  internalErrors: { err: unknown; method: string }[];
  close(): Promise<void>;
}

export async function startHarness(serverOptions: ControllerServerOptions = {}, clientOptions: ControllerClientOptions = {}): Promise<Harness> {
  const fake = new FakeController();
  const internalErrors: { err: unknown; method: string }[] = [];
  const server = await startControllerServer(fake, { shutdownGraceMs: 500, onInternalError: (err, method) => internalErrors.push({ err, method }), ...serverOptions });
  const client = createControllerClient(server.address, clientOptions);
  return {
    fake,
    server,
    client,
    internalErrors,
    async close() {
      client.close();
      await server.close();
    },
  };
}

export async function rpcError(promise: Promise<unknown>): Promise<ControllerRpcError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ControllerRpcError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
