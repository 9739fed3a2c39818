import { mkdirSync, writeFileSync, existsSync, renameSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { PipelineCompileError } from '../errors/catalog.ts';
import type { CompiledPipeline, PipelineInstance, PipelineModule, PipelineRuntime } from './compiled-pipeline.ts';

/**
 * Directory where generated pipeline modules are written before they are imported. It sits
 * inside the package so the generated `#nfvkit/…` imports resolve (package.json `imports`).
 */
export const GENERATED_DIR = fileURLToPath(new URL('../../.nfvkit/generated/', import.meta.url));

/**
 * Imports a compiled pipeline in this isolate and instantiates it: the in-process way to
 * run a function (tests, benchmarks). Images run the same generated module bundled.
 *
 * @example
 * ```ts
 * const compiled = compilePipeline(passThrough, {});
 * const counters = new Float64Array(compiled.counters.length);
 * const p = await loadPipeline(compiled, { counters });
 * p.processBatch(batch, Date.now());
 * ```
 */
export async function loadPipeline(compiled: CompiledPipeline, runtime: PipelineRuntime): Promise<PipelineInstance> {
  const module = await importPipelineModule(compiled);
  return module.createPipeline(runtime);
}

/** Writes the generated module (once per source hash) and imports it. */
export async function importPipelineModule(compiled: CompiledPipeline): Promise<PipelineModule> {
  mkdirSync(GENERATED_DIR, { recursive: true });
  const file = join(GENERATED_DIR, `${compiled.name}-${compiled.sourceHash.slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, compiled.source);
    renameSync(tmp, file);
  }
  try {
    return (await import(pathToFileURL(file).href)) as PipelineModule;
  } catch (err) {
    throw new PipelineCompileError(`generated pipeline ${compiled.name} (${file}) failed to load: ${(err as Error).message}`, { cause: err });
  }
}
