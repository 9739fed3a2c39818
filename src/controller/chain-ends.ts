import type { ChainPort } from '../dataplane/chain-port.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import type { PortSpec } from '../spec/port-spec.ts';
import type { ClassifierSpec } from '../spec/chain-spec.ts';
import { ClassifierPort, type ClassifierRules } from '../dataplane/ports/classifier-port.ts';
import { PROTOCOL_NUMBERS, parseIpPrefix, portRange, type IpPrefix } from '../config/net-schemas.ts';
import type { Ipv6Address } from '../packet/ipv6-address.ts';
import { BUILTIN_PORTS } from '../ports/builtin-ports.ts';
import type { DataDir } from './data-dir.ts';

/**
 * Drops at one chain end by layer, each declared reason present (0 included), for
 * `nfvkit_port_drops_total` and `nfvkit_gateway_drops_total`.
 */
export interface EndDrops {
  /** The port's own: socket and encapsulation reasons (`VxlanDrop`), a classifier's rejects (`classifier`). */
  readonly port: Readonly<Record<string, number>>;
  /** The L3 gateway edge's (`GatewayDrop`), for a port that is one (VXLAN). */
  readonly gateway?: Readonly<Record<string, number>>;
}

/** One end of a running chain: its port, what it counted, and how to release it. */
export interface ChainEnd {
  readonly port: ChainPort;
  /** Port-level figures (frames sent/received, drops by reason …) for `describe`. */
  stats(): Record<string, number>;
  /** Its drops by layer and reason (read at scrape time); absent for ends that never drop. */
  drops?(): EndDrops;
  /** Releases sockets and files (writes captures). */
  close(): Promise<void>;
}

/** Where a chain's ends are being created. */
export interface ChainEndContext {
  /** Chain name (labels, messages). */
  readonly chain: string;
  /** `inside` (ingress) or `outside` (egress). */
  readonly side: 'inside' | 'outside';
  /**
   * The only directories files named in the spec resolve in (`nfvkit up --data-dir`); never
   * the client-supplied source name.
   */
  readonly dataDir: DataDir;
  /** The chain's packet pool: socket ports receive into and send from its memory. */
  readonly pool: PacketPool;
}

/**
 * Opens a chain end for a port spec. The built-in one of each type is its port type's `open`
 * (`src/ports/`, `BUILTIN_PORTS`); callers may replace it per type
 * (`ControllerOptions.endFactories`, e.g. tests that count what a sink receives).
 */
export type ChainEndFactory = (spec: PortSpec, context: ChainEndContext) => Promise<ChainEnd>;

/** The built-in chain end of `spec`: its port type's factory (`BUILTIN_PORTS`). */
export function openBuiltinEnd(spec: PortSpec, context: ChainEndContext): Promise<ChainEnd> {
  // The spec was validated against this very port type's schema.
  return BUILTIN_PORTS.get(spec.type).open(spec as never, context);
}

/** Port-drop reason of the frames an ingress classifier rejected. */
export const CLASSIFIER_DROP = 'classifier';

/** Puts the spec's classifier in front of an ingress end (its rejects show in `stats()`). */
export function classifiedEnd(end: ChainEnd, classifier: ClassifierSpec): ChainEnd {
  const port = new ClassifierPort(end.port, classifierRules(classifier));
  return {
    ...end,
    port,
    stats: () => ({ ...end.stats(), 'drops:classifier': port.rejected }),
    drops: () => {
      const inner = end.drops?.();
      return { ...inner, port: { ...inner?.port, [CLASSIFIER_DROP]: port.rejected } };
    },
  };
}

/** IP protocol number of ICMPv6. */
const ICMPV6 = 58;

/** The numeric rules of a classifier spec (its values were validated by the spec parser). */
export function classifierRules(spec: ClassifierSpec): ClassifierRules {
  const protocols = (spec.protocols ?? []).map((p) => (p === 'icmpv6' ? ICMPV6 : PROTOCOL_NUMBERS[p]));
  const prefixes = (spec.destinations ?? []).map((text) => parseIpPrefix(text) as IpPrefix);
  const destinations: Array<[number, number]> = [];
  const destinations6: Array<[Ipv6Address, Ipv6Address]> = [];
  for (const p of prefixes) {
    if (p.family === 4) destinations.push([p.addr, p.mask]);
    else destinations6.push([p.addr, p.mask]);
  }
  const ports = (spec.ports ?? []).map((p): [number, number] => {
    const { from, to } = portRange.parse(p);
    return [from, to];
  });
  return { protocols, destinations, destinations6, ports };
}
