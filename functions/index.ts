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
  // With their modules: the pipeline compile worker imports the same definitions.
  return registry
    .register(passThrough, { module: new URL('./pass-through/pipeline.ts', import.meta.url).href, exportName: 'passThrough' })
    .register(firewall, { module: new URL('./firewall/pipeline.ts', import.meta.url).href, exportName: 'firewall' })
    .register(loadBalancer, { module: new URL('./load-balancer/pipeline.ts', import.meta.url).href, exportName: 'loadBalancer' })
    .register(nat, { module: new URL('./nat/pipeline.ts', import.meta.url).href, exportName: 'nat' });
}
