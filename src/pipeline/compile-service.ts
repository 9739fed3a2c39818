import { ConfigValidationError, InvalidArgumentError, PipelineCompileError, UnknownFunctionError, type ConfigIssue } from '../errors/catalog.ts';
import { rememberConfigSha256 } from '../image/config-digest.ts';
import { WorkerService } from '../runtime/worker-service.ts';
import type { CompiledPipeline } from './compiled-pipeline.ts';
import { compilePipeline } from './compiler.ts';
import type { PipelineDefinition } from './define-pipeline.ts';
import { definitionSource, type FunctionSource } from './definition-source.ts';
import { compileFusedChain, type FusedChainPart } from './fuse-chain.ts';

/** One function of a compile request: where its definition lives, its name and raw config. */
export interface CompilePart {
  readonly name: string;
  readonly function: string;
  readonly source: FunctionSource;
  readonly config: unknown;
}

/** A request to the compile worker: one function, or a chain to fuse. */
export interface CompileRequest {
  readonly id: number;
  readonly fused: boolean;
  readonly parts: readonly CompilePart[];
}

/** An error thrown in the worker, as data (rebuilt as the same catalog class here). */
export interface CompileFailure {
  readonly name: string;
  readonly code: string | undefined;
  readonly message: string;
  readonly issues?: readonly ConfigIssue[];
}

/** The compile worker's answer to the request with the same `id`. */
export type CompileReply = { readonly id: number; readonly compiled: CompiledPipeline; readonly configSha256: string } | { readonly id: number; readonly error: CompileFailure };

/** Options of `PipelineCompileService`. */
export interface PipelineCompileServiceOptions {
  /** Heap of the worker, MiB (default 512). */
  readonly workerMemoryMiB?: number;
  /** Longest a compile may take, ms; the worker is then stopped and the compile fails (default 60000). */
  readonly timeoutMs?: number;
}

/**
 * `compilePipeline` and `compileFusedChain` in a worker thread: the work that grows with a
 * function's config (validation, code generation, the firewall's decision trees: 256 rules
 * ~40 ms, a fused chain of 13 such firewalls ~0.6 s here) leaves the caller's event loop.
 * Only functions registered with their module (`FunctionRegistry.register(definition,
 * source)`) can be compiled there; the others compile on the calling thread, as before.
 * Results and errors are the same as the direct calls' (`ConfigValidationError` with its
 * issues, `PipelineCompileError`…); the worker also computes the config's digest of the
 * image's build inputs (`configSha256`). The worker starts on first use and does not keep the
 * process alive while idle.
 *
 * @example
 * ```ts
 * const compiled = await PIPELINE_COMPILER.compile(registry.get('firewall'), config);
 * ```
 */
export class PipelineCompileService {
  private readonly timeoutMs: number;
  private readonly worker: WorkerService<Omit<CompileRequest, 'id'>, CompileReply>;

  constructor(options: PipelineCompileServiceOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.worker = new WorkerService(new URL('./compile-worker.ts', import.meta.url), {
      memoryMiB: options.workerMemoryMiB ?? 512,
      timeoutMs: this.timeoutMs,
      failure: (detail) => new PipelineCompileError(`the pipeline compile worker ${detail}`),
    });
  }

  /** `compilePipeline(definition, rawConfig)`, off the event loop when `definition` has a source. */
  async compile<C>(definition: PipelineDefinition<C>, rawConfig: unknown): Promise<CompiledPipeline> {
    const source = definitionSource(definition);
    if (source === undefined) return compilePipeline(definition, rawConfig);
    return this.call(false, [{ name: definition.name, function: definition.name, source, config: rawConfig }]);
  }

  /** `compileFusedChain(parts)`, off the event loop when every part's definition has a source. */
  async compileFused(parts: readonly FusedChainPart[]): Promise<CompiledPipeline> {
    const sources = parts.map((p) => definitionSource(p.definition));
    if (parts.length === 0 || sources.some((s) => s === undefined)) return compileFusedChain(parts);
    return this.call(
      true,
      parts.map((p, i) => ({ name: p.name, function: p.definition.name, source: sources[i]!, config: p.config })),
    );
  }

  /** Stops the worker; later compiles start a new one. */
  close(): void {
    this.worker.stop(new InvalidArgumentError('pipeline compile service closed'));
  }

  private async call(fused: boolean, parts: readonly CompilePart[]): Promise<CompiledPipeline> {
    const reply = await this.worker.call(
      { fused, parts },
      () => new PipelineCompileError(`compiling ${parts.map((p) => p.name).join(', ')} took longer than ${this.timeoutMs} ms`),
    );
    if ('error' in reply) throw rebuildError(reply.error);
    rememberConfigSha256(reply.compiled, reply.configSha256);
    return reply.compiled;
  }
}

/** The catalog error a worker's failure stands for (same class, code, message and issues). */
function rebuildError(failure: CompileFailure): Error {
  if (failure.issues !== undefined) {
    const err = new ConfigValidationError('', failure.issues);
    err.message = failure.message; // its subject is in the message already
    return err;
  }
  if (failure.code === 'NFVKIT_ERR_INVALID_ARGUMENT') return new InvalidArgumentError(failure.message);
  if (failure.code === 'NFVKIT_ERR_UNKNOWN_FUNCTION') return new UnknownFunctionError(failure.message);
  if (failure.code === 'NFVKIT_ERR_PIPELINE_COMPILE') return new PipelineCompileError(failure.message);
  return new PipelineCompileError(`${failure.name}: ${failure.message}`);
}

/** The process-wide compile service `buildImage` and `buildFusedImage` use. */
export const PIPELINE_COMPILER = new PipelineCompileService();
