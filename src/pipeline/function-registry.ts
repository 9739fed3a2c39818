import { UnknownFunctionError } from '../errors/catalog.ts';
import type { PipelineDefinition } from './define-pipeline.ts';
import { setDefinitionSource, type FunctionSource } from './definition-source.ts';

/**
 * The functions a program knows, registered explicitly (never by import side effects), so
 * that an image bundles only the function it runs.
 *
 * @example
 * ```ts
 * const registry = new FunctionRegistry();
 * registry.register(firewall);
 * const fw = registry.get('firewall');
 * ```
 */
export class FunctionRegistry {
  private readonly functions = new Map<string, PipelineDefinition<any>>();

  /**
   * Adds a function; registering a second function of the same name is an error. With its
   * `source` (the module that exports it), its pipelines compile off the event loop
   * (`compilePipelineOffLoop`); without, on the calling thread.
   */
  register(definition: PipelineDefinition<any>, source?: FunctionSource): this {
    if (this.functions.has(definition.name)) {
      throw new UnknownFunctionError(`function "${definition.name}" is registered twice`);
    }
    this.functions.set(definition.name, definition);
    if (source !== undefined) setDefinitionSource(definition, source);
    return this;
  }

  /** The function called `name`; throws `UnknownFunctionError` listing the known ones. */
  get(name: string): PipelineDefinition<any> {
    const found = this.functions.get(name);
    if (found === undefined) {
      throw new UnknownFunctionError(`unknown function "${name}"; known: ${this.names().join(', ') || 'none'}`);
    }
    return found;
  }

  /** Names of every registered function, sorted. */
  names(): string[] {
    return [...this.functions.keys()].sort();
  }
}
