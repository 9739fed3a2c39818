import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerBuiltinFunctions } from '../../functions/index.ts';
import { Controller, type ControllerOptions } from '../../src/controller/controller.ts';
import { createControllerClient, type ControllerClient } from '../../src/grpc/controller-client.ts';
import { startControllerServer, type ControllerServer } from '../../src/grpc/controller-server.ts';
import { ImageStore } from '../../src/image/image-store.ts';
import { FunctionRegistry } from '../../src/pipeline/function-registry.ts';

/** A controller over a fresh temporary directory, served over gRPC on 127.0.0.1, with a client. */
export interface ControllerHarness {
  readonly controller: Controller;
  readonly server: ControllerServer;
  readonly rpc: ControllerClient;
  /** The temporary directory (images under `images/`), removed by `close`. */
  readonly dir: string;
  /** Closes the client, the server and the controller (`close(0)`), then removes `dir`. */
  close(): Promise<void>;
}

/**
 * Starts a controller for a test: the built-in functions, an image store under a fresh
 * `nfvkit-<name>-*` directory, no warm pool and no autoscaler unless `options` (given the
 * directory, for paths under it) says otherwise; a gRPC server on port 0 and a client to it.
 *
 * @example
 * ```ts
 * let h: ControllerHarness;
 * beforeAll(async () => (h = await startControllerHarness('limits', (dir) => ({ dataDir: { dataDir: join(dir, 'data') } }))));
 * afterAll(() => h?.close());
 * ```
 */
export async function startControllerHarness(name: string, options: Partial<ControllerOptions> | ((dir: string) => Partial<ControllerOptions>) = {}): Promise<ControllerHarness> {
  const dir = mkdtempSync(join(tmpdir(), `nfvkit-${name}-`));
  const rest = typeof options === 'function' ? options(dir) : options;
  let controller: Controller | undefined;
  let server: ControllerServer | undefined;
  try {
    controller = await Controller.create({
      registry: registerBuiltinFunctions(new FunctionRegistry()),
      store: ImageStore.open(join(dir, 'images')),
      warm: false,
      autoscale: false,
      ...rest,
    });
    server = await startControllerServer(controller);
  } catch (err) {
    await controller?.close(0);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const rpc = createControllerClient(`127.0.0.1:${server.port}`);
  const started = { controller, server };
  return {
    ...started,
    rpc,
    dir,
    async close() {
      rpc.close();
      await started.server.close();
      await started.controller.close(0);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
