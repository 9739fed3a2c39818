import { z } from 'zod';
import { InvalidArgumentError } from '../errors/catalog.ts';
import type { SpecIssue } from '../spec/chain-spec-rules.ts';
import type { AnyPortType, PortSchema } from './port-type.ts';

/**
 * The port types a program knows, registered explicitly (never by import side effects),
 * like functions in a `FunctionRegistry`. The chain spec's `ingress`/`egress` schema, its
 * cross-field port rules and the controller's chain ends all come from one registry
 * (`BUILTIN_PORTS`), so a port type is declared in one place.
 *
 * @example
 * ```ts
 * const ports = new PortRegistry().register(sinkPortType).register(vxlanPortType);
 * ports.schema().parse({ type: 'sink' });
 * const end = await ports.get('sink').open({ type: 'sink' }, context);
 * ```
 */
export class PortRegistry {
  private readonly types = new Map<string, AnyPortType>();

  /** Adds a port type; a second one of the same `type` is an `InvalidArgumentError`. */
  register(portType: AnyPortType): this {
    if (this.types.has(portType.type)) throw new InvalidArgumentError(`port type "${portType.type}" is registered twice`);
    this.types.set(portType.type, portType);
    return this;
  }

  /** The port type called `type`; `InvalidArgumentError` listing the known ones. */
  get(type: string): AnyPortType {
    const found = this.types.get(type);
    if (found === undefined) throw new InvalidArgumentError(`unknown port type "${type}"; known: ${this.names().join(', ') || 'none'}`);
    return found;
  }

  /** `type` of every registered port type, in registration order (the order of the spec schema's union). */
  names(): string[] {
    return [...this.types.keys()];
  }

  /** Zod schema of a port of any registered type: a union discriminated by `type`. */
  schema(): z.ZodDiscriminatedUnion<PortSchema[], 'type'> {
    const schemas = [...this.types.values()].map((t) => t.schema);
    if (schemas.length === 0) throw new InvalidArgumentError('no port type is registered');
    return z.discriminatedUnion('type', schemas as [PortSchema, ...PortSchema[]]);
  }

  /**
   * The cross-field issues of the port at `at` (plain data of any shape): those of the port
   * type its `type` names; none for an unknown type (the schema reports it).
   */
  check(port: unknown, at: readonly PropertyKey[]): SpecIssue[] {
    if (typeof port !== 'object' || port === null || Array.isArray(port)) return [];
    const record = port as Record<string, unknown>;
    const portType = typeof record.type === 'string' ? this.types.get(record.type) : undefined;
    return portType?.check?.(record, at) ?? [];
  }
}
