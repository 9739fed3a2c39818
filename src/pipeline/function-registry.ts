import { UnknownFunctionError } from '../errors/catalog.ts';
import type { PipelineDefinition } from './define-pipeline.ts';

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

  /** Adds a function; registering a second function of the same name is an error. */
  register(definition: PipelineDefinition<any>): this {
    if (this.functions.has(definition.name)) {
      throw new UnknownFunctionError(`function "${definition.name}" is registered twice`);
    }
    this.functions.set(definition.name, definition);
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
