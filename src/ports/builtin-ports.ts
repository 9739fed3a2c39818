import { generatorPortType } from './generator.ts';
import { pcapPortType } from './pcap.ts';
import { PortRegistry } from './port-registry.ts';
import { responderPortType } from './responder.ts';
import { sinkPortType } from './sink.ts';
import { vxlanPortType } from './vxlan.ts';

/**
 * The port types that ship with nfvkit, in the order the spec schema lists them: the one
 * list the chain spec (`portSpecSchema`, `checkChainSpec`) and the controller's chain ends
 * are built from. A new port type is one file under `src/ports/` and one entry here.
 */
export const BUILTIN_PORT_TYPES = [generatorPortType, sinkPortType, responderPortType, pcapPortType, vxlanPortType] as const;

/**
 * Registers the built-in port types.
 *
 * @example
 * ```ts
 * const ports = registerBuiltinPorts(new PortRegistry());
 * ports.names(); // ['generator', 'sink', 'responder', 'pcap', 'vxlan']
 * ```
 */
export function registerBuiltinPorts(registry: PortRegistry): PortRegistry {
  for (const portType of BUILTIN_PORT_TYPES) registry.register(portType);
  return registry;
}

/** The registry of the built-in port types (what specs are parsed against and the controller opens). */
export const BUILTIN_PORTS = registerBuiltinPorts(new PortRegistry());
