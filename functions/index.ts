import type { FunctionRegistry } from '../src/pipeline/function-registry.ts';
import { firewall } from './firewall/pipeline.ts';
import { loadBalancer } from './load-balancer/pipeline.ts';
import { nat } from './nat/pipeline.ts';
import { passThrough } from './pass-through/pipeline.ts';

/**
 * Registers the functions that ship with nfvkit. Programs (CLI, controller, tests) call
 * this explicitly; the framework in `src/` never imports a function.
 *
 * @example
 * ```ts
 * const registry = registerBuiltinFunctions(new FunctionRegistry());
 * const fw = registry.get('firewall');
 * ```
 */
export function registerBuiltinFunctions(registry: FunctionRegistry): FunctionRegistry {
  return registry.register(passThrough).register(firewall).register(loadBalancer).register(nat);
}
