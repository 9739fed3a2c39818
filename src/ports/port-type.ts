import type { z } from 'zod';
import type { ChainEnd, ChainEndContext } from '../controller/chain-ends.ts';
import type { SpecIssue } from '../spec/chain-spec-rules.ts';

/**
 * One kind of chain end a spec can declare (`spec.ingress` / `spec.egress` with its `type`),
 * in one file: the zod schema of its fields (the only definition: the chain spec, its JSON
 * Schema and the port's own validation all use it), the rules across its fields that need
 * positions, and the factory the controller opens it with. Registered explicitly in a
 * `PortRegistry` (`BUILTIN_PORT_TYPES`), like functions in a `FunctionRegistry`.
 *
 * @example
 * ```ts
 * export const sinkPortType = definePortType({
 *   type: 'sink',
 *   schema: z.object({ type: z.literal('sink') }).strict().meta({ description: 'Counts and frees what leaves.' }),
 *   open: async () => { const sink = new SinkPort(); return { port: sink, stats: () => ({ framesOut: sink.frames }), close: async () => undefined }; },
 * });
 * ```
 */
export interface PortType<T extends string = string, Schema extends PortSchema<T> = PortSchema<T>> {
  /** The `type` a spec names it by. */
  readonly type: T;
  /** Its fields, `type` included: a strict object whose `type` is the literal `T`, with descriptions for the JSON Schema. */
  readonly schema: Schema;
  /**
   * Rules that span its fields (unique names, one of two fields), applied to the plain data of
   * the document whatever its shape (each rule looks only at values of the right type), so
   * they run even where the schema found other problems. Paths are under `at`.
   */
  readonly check?: (port: Readonly<Record<string, unknown>>, at: readonly PropertyKey[]) => SpecIssue[];
  /** Opens the end for a validated spec of this type. */
  readonly open: (spec: z.output<Schema>, context: ChainEndContext) => Promise<ChainEnd>;
}

/** The schema of one port type: a zod object with a literal `type`. */
export type PortSchema<T extends string = string> = z.ZodObject<{ type: z.ZodLiteral<T> } & z.ZodRawShape>;

/** Any port type, whatever its spec (what a `PortRegistry` holds). */
export type AnyPortType = PortType<string, PortSchema>;

/** The spec (validated fields) of port type `P`. */
export type PortSpecOf<P extends AnyPortType> = z.output<P['schema']>;

/** Types a port type definition (identity at run time). */
export function definePortType<T extends string, Schema extends PortSchema<T>>(definition: PortType<T, Schema>): PortType<T, Schema> {
  return definition;
}
