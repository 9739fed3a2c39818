import type { PipelineDefinition } from './define-pipeline.ts';

/**
 * Where a function's definition can be imported from: a module (URL or package subpath
 * specifier) and the name it is exported under. A thread other than the one that
 * registered the function (the pipeline compile worker) imports the same definition
 * through it; functions registered without one compile on the calling thread.
 *
 * @example
 * ```ts
 * registry.register(firewall, { module: new URL('./firewall/pipeline.ts', import.meta.url).href, exportName: 'firewall' });
 * ```
 */
export interface FunctionSource {
  /** `file:` URL or package subpath specifier (`#functions/firewall/pipeline.ts`) of the defining module. */
  readonly module: string;
  /** The export holding the definition. */
  readonly exportName: string;
}

const sources = new WeakMap<PipelineDefinition<any>, FunctionSource>();

/** Records where `definition` comes from (`FunctionRegistry.register` calls it). */
export function setDefinitionSource(definition: PipelineDefinition<any>, source: FunctionSource): void {
  sources.set(definition, source);
}

/** Where `definition` can be imported from, if it was registered with its source. */
export function definitionSource(definition: PipelineDefinition<any>): FunctionSource | undefined {
  return sources.get(definition);
}
