import type { Cidr } from '../../config/net-schemas.ts';
import type { GatewayAddress, GatewayAddress6, Prefix6 } from '../../gateway/gateway-config.ts';

/**
 * A VXLAN port's configuration in the numeric form `VxlanPort` uses, validated and with its
 * defaults resolved. It is made from the port's one schema by `parseVxlanPortConfig`
 * (`src/ports/vxlan.ts`); this file holds no schema, so the data plane loads no validator.
 */

/** One peer, resolved. */
export interface VxlanPeer {
  readonly name: string;
  readonly vni: number;
  readonly remote: string;
  readonly port: number;
  /** Required UDP source port of its datagrams; 0: any. */
  readonly sourcePort: number;
  /** Its inner IPv4 subnets. */
  readonly subnets: readonly Cidr[];
  /** Its inner IPv6 subnets (none: no IPv6 routes through it). */
  readonly subnets6: readonly Prefix6[];
}

/** A validated VXLAN port configuration, in the numeric form the port uses. */
export interface VxlanPortSettings {
  /** Underlay address and UDP port the socket binds. */
  readonly listen: { readonly address: string; readonly port: number };
  /** The gateway's IPv4 addresses (`[0]` its interface address) and IPv6 ones (`[0]` its IPv6 interface address); either may be empty. */
  readonly addresses: readonly GatewayAddress[];
  readonly addresses6: readonly GatewayAddress6[];
  readonly mac: readonly [number, number];
  readonly peers: readonly VxlanPeer[];
  /** Prefixes whose senders are admitted besides the peers. */
  readonly allowedSources: readonly Cidr[];
  readonly receiveBufferBytes: number;
}

/** Receive buffer asked for when the config does not say (the kernel caps it at `net.core.rmem_max`). */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;
