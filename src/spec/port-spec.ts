import type { z } from 'zod';
import { BUILTIN_PORTS, type BUILTIN_PORT_TYPES } from '../ports/builtin-ports.ts';
import type { AnyPortType } from '../ports/port-type.ts';

/**
 * The ends of a chain (`spec.ingress`, `spec.egress`): where packets enter and leave. A
 * port is a mapping whose `type` names one of the registered port types (`src/ports/`,
 * `BUILTIN_PORT_TYPES`), each of which owns its schema; addresses stay as written.
 *
 * @example
 * ```yaml
 * ingress: { type: generator, flows: 1024, packetSize: 64, protocol: tcp, clients: 198.18.1.0/24, service: "198.18.2.100:80" }
 * egress: { type: sink }
 * ```
 */

export type { GeneratorPortSpec } from '../ports/generator.ts';
export { MAX_GENERATOR_FLOWS } from '../ports/generator.ts';
export type { SinkPortSpec } from '../ports/sink.ts';
export type { ResponderPortSpec } from '../ports/responder.ts';
export type { PcapPortSpec } from '../ports/pcap.ts';
export type { VxlanPeerSpec, VxlanPortSpec } from '../ports/vxlan.ts';
/** The standard VXLAN UDP port (RFC 7348) and the largest VNI (24 bits). */
export { VXLAN_DEFAULT_PORT, VXLAN_MAX_VNI } from '../dataplane/ports/vxlan-header.ts';

/** Any chain port, discriminated by `type`: the spec of one of the built-in port types. */
export type PortSpec = z.output<(typeof BUILTIN_PORT_TYPES)[number]['schema']>;

/**
 * Zod schema of a chain port: a union discriminated by `type`, built from the registered
 * port types. Cross-field rules (`pcap` needs `read` or `write`, unique peer names and
 * VNIs) are the port types' `check`s, run by `checkChainSpec` with positions.
 */
export const portSpecSchema = BUILTIN_PORTS.schema() as unknown as z.ZodDiscriminatedUnion<BuiltinPortSchemas, 'type'>;

/** The schemas of the built-in port types, as a tuple type (the registry's union, typed). */
type BuiltinPortSchemas = SchemasOf<typeof BUILTIN_PORT_TYPES>;
type SchemasOf<T extends readonly AnyPortType[]> = { -readonly [K in keyof T]: T[K] extends { readonly schema: infer S } ? S : never };
