import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from './module-worker.ts';

/** Options of a `WorkerService`. */
export interface WorkerServiceOptions {
  /** Heap of the worker, MiB. */
  readonly memoryMiB: number;
  /** Longest one call may take, ms: the worker is then stopped and every call waiting on it fails. */
  readonly timeoutMs: number;
  /** The error every waiting call fails with when the worker fails (`detail`: why) or exits. */
  readonly failure: (detail: string) => Error;
}

interface Pending<Reply> {
  readonly resolve: (reply: Reply) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Requests and replies with a worker thread that does work too big for the event loop
 * (compiling pipelines, reading specs): each request gets an `id`, the worker answers with
 * the same `id`. The worker starts on first use with a bounded heap, keeps no process
 * alive while idle, and a call that overruns its time stops it (the next call starts a new
 * one). Every waiting call fails when the worker fails, exits or is closed.
 *
 * @example
 * ```ts
 * const service = new WorkerService<Task, Answer>(new URL('./task-worker.ts', import.meta.url), { memoryMiB: 256, timeoutMs: 20_000, failure: (d) => new Error(d) });
 * const answer = await service.call(task, () => new Error('took too long'));
 * ```
 */
export class WorkerService<Request extends object, Reply extends { readonly id: number }> {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending<Reply>>();
  private nextId = 1;

  constructor(
    private readonly entry: URL,
    private readonly options: WorkerServiceOptions,
  ) {}

  /** Sends `request` (with a fresh `id`) and resolves with the worker's reply to it; `overrun` is the error when it takes too long. */
  call(request: Request, overrun: () => Error): Promise<Reply> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => this.stop(overrun()), this.options.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.ref();
      worker.postMessage({ ...request, id });
    });
  }

  /** Stops the worker, failing what waits on it with `reason`; later calls start a new one. */
  stop(reason: Error): void {
    const worker = this.worker;
    this.worker = undefined;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(reason);
      this.pending.delete(id);
    }
    if (worker !== undefined) void worker.terminate();
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = startModuleWorker(this.entry, {
      resourceLimits: { maxOldGenerationSizeMb: this.options.memoryMiB, maxYoungGenerationSizeMb: 32 },
    });
    worker.on('message', (reply: Reply) => {
      const pending = this.pending.get(reply.id);
      if (pending === undefined) return;
      this.pending.delete(reply.id);
      clearTimeout(pending.timer);
      if (this.pending.size === 0) worker.unref();
      pending.resolve(reply);
    });
    // A worker already replaced (stopped after an overrun) must not stop its successor.
    worker.on('error', (err) => {
      if (this.worker === worker) this.stop(this.options.failure(`failed (${err.message})`));
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.stop(this.options.failure('stopped'));
    });
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
