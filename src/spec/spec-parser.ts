import { InvalidArgumentError, type ConfigIssue } from '../errors/catalog.ts';
import { definitionSource, type FunctionSource } from '../pipeline/definition-source.ts';
import type { FunctionRegistry } from '../pipeline/function-registry.ts';
import { WorkerService } from '../runtime/worker-service.ts';
import type { ChainSpec } from './chain-spec.ts';
import { rememberChainSpecDigest } from './chain-spec-digest.ts';
import type { SpecIssue } from './chain-spec-rules.ts';
import { fail, validateSpecDataInSlices } from './parse-chain-spec.ts';
import { limitMessage, SPEC_LIMITS } from './spec-limits.ts';

/** A registered function as the spec worker imports it: its name and where it is defined. */
export interface SpecWorkerFunction {
  readonly name: string;
  readonly source: FunctionSource;
}

/**
 * What the spec worker is asked: read a text, locate issues in it, or parse it whole
 * (YAML, schema, rules, limits and every function's config, against the functions given).
 */
type SpecWorkerTask =
  | { readonly op: 'read'; readonly text: string; readonly source: string; readonly maxBytes: number }
  | { readonly op: 'locate'; readonly text: string; readonly source: string; readonly maxBytes: number; readonly issues: readonly SpecIssue[] }
  | { readonly op: 'parse'; readonly text: string; readonly source: string; readonly maxBytes: number; readonly functions: readonly SpecWorkerFunction[] };

/** A request to the spec worker: a task and the id its reply carries. */
export type SpecWorkerRequest = SpecWorkerTask & { readonly id: number };

/** The spec worker's answer to the request with the same `id`. */
export type SpecWorkerReply =
  | { readonly id: number; readonly raw: unknown; readonly duplicates: readonly ConfigIssue[] }
  | { readonly id: number; readonly located: readonly ConfigIssue[] }
  | { readonly id: number; readonly spec: ChainSpec; readonly digest: string }
  | { readonly id: number; readonly invalid: readonly ConfigIssue[] }
  | { readonly id: number; readonly failed: string };

/** Options of `SpecParser`. */
export interface SpecParserOptions {
  /** Largest spec in UTF-8 bytes (default `SPEC_LIMITS.specBytes`). */
  readonly maxBytes?: number;
  /** Heap of the worker in MiB: a spec that needs more is refused, the controller lives on (default 256). */
  readonly workerMemoryMiB?: number;
  /** Longest a spec may take to read, ms; the worker is then stopped and the spec refused (default 20000). */
  readonly timeoutMs?: number;
}

/**
 * `parseChainSpec` for the controller, with the work that grows with the text off the event
 * loop: the size is checked first (`SPEC_LIMITS.specBytes`, nothing parsed above it), then
 * a worker thread (heap and time bounded) parses the YAML, checks duplicate keys, the
 * schema, rules, limits and every function's config, and locates each issue. The worker
 * imports the functions by their modules (`FunctionRegistry.register(definition,
 * source)`) and computes the spec's digest (`chainSpecDigest`) there too. When a function
 * of the registry has none, the worker only turns the YAML into data and the checks run
 * here, in slices (one function's config at a time). The result and the errors are the
 * same as `parseChainSpec`'s.
 *
 * @example
 * ```ts
 * const parser = new SpecParser();
 * const spec = await parser.parse(text, 'web-edge.yaml', registry);
 * parser.close();
 * ```
 */
export class SpecParser {
  private readonly maxBytes: number;
  private readonly timeoutMs: number;
  private readonly worker: WorkerService<SpecWorkerTask, SpecWorkerReply>;

  constructor(options: SpecParserOptions = {}) {
    this.maxBytes = options.maxBytes ?? SPEC_LIMITS.specBytes.value;
    this.timeoutMs = options.timeoutMs ?? 20_000;
    this.worker = new WorkerService(new URL('./spec-yaml-worker.ts', import.meta.url), {
      memoryMiB: options.workerMemoryMiB ?? 256,
      timeoutMs: this.timeoutMs,
      failure: (detail) => new InvalidArgumentError(`chain spec refused: the spec worker ${detail}`),
    });
  }

  /** Parses and validates `text` (see `parseChainSpec`); throws `ConfigValidationError` with every problem. */
  async parse(text: string, source: string, registry: FunctionRegistry): Promise<ChainSpec> {
    // Measured here too: an oversized text is not even copied to the worker.
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > this.maxBytes) fail(source, [{ file: source, line: 1, column: 1, path: '', message: `spec too large: ${limitMessage('specBytes', bytes, this.maxBytes)}` }]);
    const functions = workerFunctions(registry);
    if (functions !== undefined) {
      const parsed = await this.call({ op: 'parse', text, source, maxBytes: this.maxBytes, functions });
      if ('invalid' in parsed) fail(source, [...parsed.invalid]);
      if (!('spec' in parsed)) throw new InvalidArgumentError(`chain spec ${source}: unexpected answer from the spec worker`);
      rememberChainSpecDigest(parsed.spec, parsed.digest);
      return parsed.spec;
    }
    const read = await this.call({ op: 'read', text, source, maxBytes: this.maxBytes });
    if ('invalid' in read) fail(source, [...read.invalid]);
    if (!('raw' in read)) throw new InvalidArgumentError(`chain spec ${source}: unexpected answer from the spec worker`);
    const result = await validateSpecDataInSlices(read.raw, registry, () => new Promise<void>((resolve) => setImmediate(resolve)));
    if (result.spec !== undefined && read.duplicates.length === 0) return result.spec;
    const located = result.issues.length === 0 ? { located: [] } : await this.call({ op: 'locate', text, source, maxBytes: this.maxBytes, issues: result.issues });
    fail(source, [...read.duplicates, ...('located' in located ? located.located : [])]);
  }

  /** Stops the worker; later `parse` calls start a new one. */
  close(): void {
    this.worker.stop(new InvalidArgumentError('spec parser closed'));
  }

  private async call(request: SpecWorkerTask): Promise<SpecWorkerReply> {
    const reply = await this.worker.call(request, () => new InvalidArgumentError(`chain spec ${request.source}: reading it took longer than ${this.timeoutMs} ms; refused`));
    if ('failed' in reply) throw new InvalidArgumentError(`chain spec ${request.source}: ${reply.failed}`);
    return reply;
  }
}

/** Every function of `registry` with its source, or undefined when one has none (the worker could not import it). */
function workerFunctions(registry: FunctionRegistry): SpecWorkerFunction[] | undefined {
  const functions: SpecWorkerFunction[] = [];
  for (const name of registry.names()) {
    const source = definitionSource(registry.get(name));
    if (source === undefined) return undefined;
    functions.push({ name, source });
  }
  return functions;
}
