import { z } from 'zod';
import { vxlanPortShape } from '../dataplane/ports/vxlan-port-config.ts';
import { endpointText, ipv4CidrText } from './spec-values.ts';
import { SPEC_LIMITS } from './spec-limits.ts';

/** Most generator flows: `SPEC_LIMITS.generatorFrameBytes` of the smallest frames (the product is checked by `checkChainSpec`). */
export const MAX_GENERATOR_FLOWS = Math.floor(SPEC_LIMITS.generatorFrameBytes.value / 60);

/**
 * The ends of a chain (`spec.ingress`, `spec.egress`): where packets enter and leave. A
 * port is a mapping whose `type` says which kind it is; addresses stay as written.
 *
 * @example
 * ```yaml
 * ingress: { type: generator, flows: 1024, packetSize: 64, protocol: tcp, clients: 198.18.1.0/24, service: "198.18.2.100:80" }
 * egress: { type: sink }
 * ```
 */

/** The standard VXLAN UDP port (RFC 7348) and the largest VNI (24 bits). */
export { VXLAN_DEFAULT_PORT, VXLAN_MAX_VNI } from '../dataplane/ports/vxlan-header.ts';

/** An in-memory traffic source (the embedded default, for benchmarks and `npm start`). */
export interface GeneratorPortSpec {
  readonly type: 'generator';
  /** Distinct flows (client address × port combinations), default 1024; `flows × packetSize` ≤ `SPEC_LIMITS.generatorFrameBytes`. */
  readonly flows: number;
  /** Ethernet frame size in bytes without FCS, 60–1514, default 64. */
  readonly packetSize: number;
  /** Transport protocol of the generated flows, default `tcp`. */
  readonly protocol: 'tcp' | 'udp';
  /** CIDR block the client addresses are drawn from, default `198.18.1.0/24`. */
  readonly clients: string;
  /** Destination `address:port` of every flow, default `198.18.2.100:80`. */
  readonly service: string;
  /** Frames to send in all; omitted: run until stopped. */
  readonly total?: number;
  /** Packets per second; omitted or 0: as fast as the chain takes them. */
  readonly rate?: number;
}

/** Counts and frees every frame that leaves the chain at this end. */
export interface SinkPortSpec {
  readonly type: 'sink';
}

/**
 * Simulated servers (the embedded default's web servers): answers each TCP SYN and FIN
 * that leaves the chain, so stateful functions see complete handshakes; frees the rest.
 */
export interface ResponderPortSpec {
  readonly type: 'responder';
}

/** Replays a capture file into the chain and/or writes the frames that leave to one. */
export interface PcapPortSpec {
  readonly type: 'pcap';
  /**
   * Capture to replay (pcap or pcapng): a path relative to the controller's read directory
   * (`nfvkit up --data-dir`/`--read-dir`); absolute paths and `..` are refused.
   */
  readonly read?: string;
  /** Capture to write the frames leaving the chain at this end to, relative to the controller's write directory. */
  readonly write?: string;
}

/** One VXLAN tunnel endpoint the port exchanges frames with. */
export interface VxlanPeerSpec {
  /** Peer name, unique within the port (DNS label). */
  readonly name: string;
  /** VXLAN network identifier, 1–16777215, unique within the port. */
  readonly vni: number;
  /** The peer's underlay IPv4 address. */
  readonly remote: string;
  /** The peer's UDP port, default 4789. */
  readonly port: number;
  /** Accept this peer's datagrams only from this UDP source port; omitted: any (the kernel picks a hashed one). */
  readonly sourcePort?: number;
  /** Inner networks behind the peer (egress frames go to the peer with the longest match). */
  readonly subnets: readonly string[];
}

/** Real traffic: VXLAN over UDP (RFC 7348) from the kernel's `vxlan` devices; the port is an L3 gateway. */
export interface VxlanPortSpec {
  readonly type: 'vxlan';
  /** Underlay address and UDP port the port's socket binds (port default 4789). */
  readonly listen: { readonly address: string; readonly port: number };
  /**
   * Gateway addresses (CIDRs): the first is the interface address, further ones are
   * answered by proxy ARP (a VIP, NAT addresses); `mac` defaults to one derived by the port.
   */
  readonly gateway: { readonly addresses: readonly string[]; readonly mac?: string };
  /** Tunnel endpoints, at least one. */
  readonly peers: readonly VxlanPeerSpec[];
  /** Prefixes whose senders are admitted besides the peers' addresses (for any peer VNI); omitted: peers only. */
  readonly allowedSources?: readonly string[];
  /** Socket receive buffer in bytes (bursts); omitted: the port's default. */
  readonly receiveBufferBytes?: number;
}

/** Any chain port, discriminated by `type`. */
export type PortSpec = GeneratorPortSpec | SinkPortSpec | ResponderPortSpec | PcapPortSpec | VxlanPortSpec;

const generatorPortSchema = z
  .object({
    type: z.literal('generator'),
    flows: z
      .number()
      .int()
      .min(1)
      .max(MAX_GENERATOR_FLOWS)
      .default(1024)
      .meta({ description: `Distinct flows, default 1024; flows × packetSize at most ${SPEC_LIMITS.generatorFrameBytes.value} bytes (one frame is built per flow).` }),
    packetSize: z.number().int().min(60).max(1514).default(64).meta({ description: 'Frame size in bytes without FCS (60-1514), default 64.' }),
    protocol: z.enum(['tcp', 'udp']).default('tcp').meta({ description: 'Transport protocol, default tcp.' }),
    clients: ipv4CidrText.default('198.18.1.0/24').meta({ description: 'CIDR block of the client addresses.' }),
    service: endpointText.default('198.18.2.100:80').meta({ description: 'Destination "address:port" of every flow.' }),
    total: z.number().int().min(1).optional().meta({ description: 'Frames to send in all; omitted: until stopped.' }),
    rate: z.number().min(0).optional().meta({ description: 'Packets per second; omitted or 0: unpaced.' }),
  })
  .strict()
  .meta({ description: 'In-memory traffic generator.' });

const sinkPortSchema = z.object({ type: z.literal('sink') }).strict().meta({ description: 'Counts and frees the frames leaving the chain.' });

const responderPortSchema = z
  .object({ type: z.literal('responder') })
  .strict()
  .meta({ description: 'Simulated TCP servers: answers SYN and FIN, frees the rest.' });

const pcapPortSchema = z
  .object({
    type: z.literal('pcap'),
    read: z.string().min(1).optional().meta({ description: "Capture file to replay, relative to the controller's read directory (no absolute path, no '..')." }),
    write: z.string().min(1).optional().meta({ description: "Capture file to write, relative to the controller's write directory (no absolute path, no '..')." }),
  })
  .strict()
  .meta({ description: 'Capture file in and/or out; at least one of read and write.' });

const vxlanPortSchema = z
  .object({ type: z.literal('vxlan'), ...vxlanPortShape })
  .strict()
  .meta({ description: 'VXLAN over UDP (RFC 7348) with an L3 gateway edge.' });

/**
 * Zod schema of a chain port: a union discriminated by `type`. Cross-field rules
 * (`pcap` needs `read` or `write`, unique peer names and VNIs) are checked by `checkChainSpec`.
 */
export const portSpecSchema = z.discriminatedUnion('type', [generatorPortSchema, sinkPortSchema, responderPortSchema, pcapPortSchema, vxlanPortSchema]);
