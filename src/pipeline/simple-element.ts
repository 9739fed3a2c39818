import type { z } from 'zod';
import type { FrameLayout } from '../packet/frame-layout.ts';
import { MIDDLEBOX_PORTS, type ElementDefinition, type ElementPorts } from './element.ts';

/**
 * What a simple action returns for a packet: `CONTINUE` to hand it to the next stage,
 * `Action.INSIDE`/`Action.OUTSIDE` to send it out now, or `Action.drop(k)` to drop it under
 * the element's k-th drop reason.
 */
export const Action = {
  CONTINUE: -1,
  INSIDE: 0,
  OUTSIDE: 1,
  /** Drop under `drops[k]` of the element. */
  drop: (k: number): number => 2 + k,
} as const;

/**
 * A per-packet function: reads and rewrites the frame in place through `view` (absolute
 * offsets in `L`, filled by `parse-frame`) and returns an `Action` code. It must not
 * allocate or throw; it runs once per packet inside the fused loop.
 */
export type SimpleAction = (view: DataView, L: FrameLayout, side: number, now: number) => number;

/** Everything `defineSimpleElement` needs. */
export interface SimpleElementSpec<C> {
  readonly kind: string;
  readonly description: string;
  readonly config: z.ZodType<C>;
  readonly ports?: ElementPorts;
  /** Drop reasons, in the order `Action.drop(k)` names them. */
  readonly drops: ReadonlyArray<{ readonly name: string; readonly help: string }>;
  /**
   * Where the factory lives, as a package subpath specifier the generated code can import
   * (`#nfvkit/…` or `#functions/…`), and its export name. The factory gets the validated
   * configuration once, at instance start, and returns the action.
   */
  readonly module: string;
  readonly factory: string;
}

/**
 * The sugar for elements that need no code generation: a factory `(config) => action` is
 * applied across the batch by the framework. The fused loop calls the action once per
 * packet (V8 inlines small actions); element authors write plain TypeScript.
 *
 * @example
 * ```ts
 * // functions/my-fn/ttl-guard.ts
 * export function createTtlGuard(cfg: { min: number }): SimpleAction {
 *   return (view, L) => (view.getUint8(L.l3Offset + 8) < cfg.min ? Action.drop(0) : Action.CONTINUE);
 * }
 * export const ttlGuard = defineSimpleElement({
 *   kind: 'ttl-guard', description: 'drops packets with a low TTL',
 *   config: z.object({ min: z.number().int() }).strict(),
 *   drops: [{ name: 'ttl_too_low', help: 'TTL below the minimum' }],
 *   module: '#functions/my-fn/ttl-guard.ts', factory: 'createTtlGuard',
 * });
 * ```
 */
export function defineSimpleElement<C>(spec: SimpleElementSpec<C>): ElementDefinition<C> {
  return {
    kind: spec.kind,
    description: spec.description,
    config: spec.config,
    ports: spec.ports ?? MIDDLEBOX_PORTS,
    counters: spec.drops.map((d) => ({ name: d.name, drop: true, help: d.help })),
    generate(config, ctx) {
      const factory = ctx.importName(spec.module, spec.factory);
      const action = `${ctx.id}act`;
      const result = `${ctx.id}v`;
      const first = spec.drops.length > 0 ? ctx.counterIndex(spec.drops[0].name) : 0;
      return {
        init: `const ${action} = ${factory}(${ctx.constant(config)});`,
        perPacket:
          `const ${result} = ${action}(view, L, side, now);\n` +
          `if (${result} !== -1) {\n` +
          `  if (${result} >= 2) ${ctx.dropIndex(`${first - 2} + ${result}`)}\n` +
          `  verdict = ${result};\n  ${ctx.finish()}\n}`,
      };
    },
  };
}
