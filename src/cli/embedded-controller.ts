/**
 * The embedded default of `nfvkit up`: a controller (with its data plane) in this process,
 * the gRPC controller API in front of it, and the Prometheus `/metrics` endpoint fed from
 * it. `close()` stops accepting calls, deletes every chain (draining flows for a bounded
 * time), then closes the metrics endpoint.
 *
 * @example
 * ```ts
 * const embedded = await startEmbeddedController({ registry, listen: '127.0.0.1:50051', metrics: { host: '127.0.0.1', port: 9464 } });
 * await embedded.controller.apply(text, 'web-edge.yaml');
 * await embedded.close(1000);
 * ```
 */
import type { ChainEndFactory } from '../controller/chain-ends.ts';
import { attachControllerMetrics } from '../controller/controller-metrics.ts';
import type { DataDir, DataDirOptions } from '../controller/data-dir.ts';
import { Controller, type RestoreResult } from '../controller/controller.ts';
import type { ImageGcOptions } from '../controller/image-gc.ts';
import type { StateStore } from '../controller/state-store.ts';
import { FailedPreconditionError } from '../errors/catalog.ts';
import { startControllerServer, type ControllerServer } from '../grpc/controller-server.ts';
import type { ServerTlsOptions } from '../grpc/server-tls.ts';
import type { ImageStore } from '../image/image-store.ts';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.ts';
import { NfvkitMetrics } from '../metrics/nfvkit-metrics.ts';
import type { FunctionRegistry } from '../pipeline/function-registry.ts';

/** Options of {@link startEmbeddedController}. */
export interface EmbeddedControllerOptions {
  readonly registry: FunctionRegistry;
  readonly store?: ImageStore;
  /** Image garbage collection (`--image-grace`, `--image-store-cap`; `false`: `--no-image-gc`). Default: on, 10 min grace, no cap. */
  readonly imageGc?: ImageGcOptions | false;
  /** Warm isolates to keep (0: cold boots only). Default 2. */
  readonly warm?: number;
  readonly endFactories?: Partial<Record<string, ChainEndFactory>>;
  /** Directories files named in specs resolve in (`--data-dir`, `--read-dir`, `--write-dir`). */
  readonly dataDir?: DataDir | DataDirOptions;
  /**
   * Desired state kept across restarts: its chains are restored before gRPC is served, and
   * every change is saved to it. Owned from here on: closed by `close()` (or a failed start).
   */
  readonly stateStore?: StateStore;
  /** gRPC listen address (`host:port`, port 0: any free one). */
  readonly listen: string;
  readonly token?: string;
  readonly tls?: ServerTlsOptions;
  /**
   * Metrics endpoint address; none when undefined. It takes the gRPC API's `token` and `tls`;
   * a non-loopback host without either needs `unauthenticated` (see `checkMetricsExposure`).
   */
  readonly metrics?: { readonly host: string; readonly port: number; readonly unauthenticated?: boolean };
}

/** A running embedded controller. */
export interface EmbeddedController {
  readonly controller: Controller;
  readonly server: ControllerServer;
  readonly metricsServer: MetricsServer | undefined;
  /** What was restored from the state store (nothing without one). */
  readonly restored: RestoreResult;
  /** Stops the gRPC server, deletes every chain (flows get `drainMs`), stops metrics. Idempotent. */
  close(drainMs: number): Promise<void>;
}

/** Memory of each warm isolate, MiB. */
const WARM_MEMORY_MIB = 64;

/** Starts the controller, then the gRPC server and the metrics endpoint; undoes what started if a later step fails. */
export async function startEmbeddedController(options: EmbeddedControllerOptions): Promise<EmbeddedController> {
  const warm = options.warm ?? 2;
  const controller = await Controller.create({
    registry: options.registry,
    ...(options.store === undefined ? {} : { store: options.store }),
    ...(options.imageGc === undefined ? {} : { imageGc: options.imageGc }),
    warm: warm === 0 ? false : { size: warm, memoryMiB: WARM_MEMORY_MIB },
    ...(options.endFactories === undefined ? {} : { endFactories: options.endFactories }),
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.stateStore === undefined ? {} : { stateStore: options.stateStore }),
  }).catch(async (err: unknown) => {
    await options.stateStore?.close();
    throw err;
  });
  const metrics = new NfvkitMetrics({ processMetrics: true });
  const detach = attachControllerMetrics(controller, metrics);
  let server: ControllerServer | undefined;
  let metricsServer: MetricsServer | undefined;
  let restored: RestoreResult;
  try {
    restored = await controller.restore();
    server = await startControllerServer(controller, {
      address: options.listen,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    }).catch((err: unknown) => {
      if (err instanceof Error && err.message.includes('EADDRINUSE')) {
        throw new FailedPreconditionError(`cannot listen on ${options.listen}: address already in use (is another controller running? choose another with --listen)`);
      }
      throw err;
    });
    if (options.metrics !== undefined) {
      const where = `${options.metrics.host}:${options.metrics.port}`;
      metricsServer = await startMetricsServer(metrics, {
        ...options.metrics,
        ...(options.token === undefined ? {} : { token: options.token }),
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      }).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new FailedPreconditionError(`cannot serve metrics on ${where}: address already in use (choose another with --metrics, or --no-metrics)`);
        throw err;
      });
    }
  } catch (err) {
    await server?.close();
    detach();
    await controller.close(0);
    await options.stateStore?.close();
    throw err;
  }
  const grpcServer = server;
  let closing: Promise<void> | undefined;
  return {
    controller,
    server: grpcServer,
    metricsServer,
    restored,
    close(drainMs) {
      closing ??= (async () => {
        await grpcServer.close();
        await controller.close(drainMs);
        detach();
        await metricsServer?.close();
        await options.stateStore?.close();
      })();
      return closing;
    },
  };
}
