import { z } from 'zod';
import { validateConfig } from '../../config/validate-config.ts';
import { ipv4Cidr, port, type Cidr } from '../../config/net-schemas.ts';
import { parseMac } from '../../packet/ethernet.ts';
import { defaultGatewayMac, parseGatewayAddress, type GatewayAddress } from '../../gateway/gateway-config.ts';
import { dnsLabel, ipv4AddressText, ipv4CidrText, macText } from '../../spec/spec-values.ts';
import { VXLAN_DEFAULT_PORT, VXLAN_MAX_VNI } from './vxlan-header.ts';

/** A UDP port a socket binds or sends to: 1–65535. */
const udpPort = port.refine((p) => p !== 0, 'port must be 1-65535');

/** A gateway address with its prefix (`198.18.1.1/24`; a bare address is /32), kept as text. */
const gatewayAddressText = z
  .string()
  .refine((s) => parseGatewayAddress(s) !== undefined, { message: 'not an address with prefix (a.b.c.d/len)' })
  .meta({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}(/\\d{1,2})?$', description: 'Interface address with its prefix, a.b.c.d/len.' });

/** One peer of a VXLAN port. */
const vxlanPeerSchema = z
  .object({
    name: dnsLabel,
    vni: z.number().int().min(1, `vni must be 1-${VXLAN_MAX_VNI}`).max(VXLAN_MAX_VNI, `vni must be 1-${VXLAN_MAX_VNI}`),
    remote: ipv4AddressText.meta({ description: "The peer's underlay IPv4 address; datagrams for this VNI are accepted only from it (or from allowedSources)." }),
    port: udpPort.default(VXLAN_DEFAULT_PORT).meta({ description: "The peer's UDP port frames are sent to, default 4789." }),
    sourcePort: udpPort
      .optional()
      .meta({ description: 'Accept datagrams from this UDP source port only; omitted: any (the kernel vxlan device sends from a hashed port).' }),
    subnets: z.array(ipv4CidrText).min(1, 'at least one subnet'),
  })
  .strict();

/**
 * The fields of a VXLAN port (everything but the spec's `type`), the one definition both
 * the chain spec (`src/spec/port-spec.ts`) and `VxlanPort` validate against. Values stay
 * as written; `parseVxlanPortConfig` turns them into numbers. Field names are part of the
 * user contract:
 *
 * ```yaml
 * listen: { address: 198.19.0.1, port: 4789 }
 * gateway:
 *   addresses: [198.18.1.1/24, 198.18.1.10/32]   # first = interface address, others proxy-ARP
 *   mac: 02:00:c6:12:01:01                      # optional (default 02:00:<interface address>)
 * peers:
 *   - { name: client, vni: 100, remote: 198.19.0.2, port: 4789, subnets: [198.18.1.0/24] }
 * allowedSources: [198.19.0.0/24]               # optional: further senders admitted for any peer's VNI
 * receiveBufferBytes: 4194304                   # optional
 * ```
 *
 * `listen.port` is 1–65535 (default 4789) in a spec; `VxlanPort.open` also takes 0 (an
 * ephemeral port, for tests) — see `vxlanListenSchema`.
 */
export const vxlanPortShape = {
  listen: z.object({ address: ipv4AddressText, port: udpPort.default(VXLAN_DEFAULT_PORT) }).strict(),
  gateway: z
    .object({
      addresses: z.array(gatewayAddressText).min(1, 'at least one address (the interface address)'),
      mac: macText.optional(),
    })
    .strict(),
  peers: z.array(vxlanPeerSchema).min(1, 'at least one peer'),
  allowedSources: z
    .array(ipv4CidrText)
    .max(64, 'at most 64 prefixes')
    .optional()
    .meta({ description: 'Prefixes whose senders are admitted besides the peers (for any peer VNI); omitted: peers only. Others are dropped as unknown_source.' }),
  receiveBufferBytes: z.number().int().min(4096).max(1 << 30).optional(),
};

/** The listen endpoint as `VxlanPort.open` takes it: port 0 binds an ephemeral port. */
const vxlanListenSchema = z.object({ address: ipv4AddressText, port: port.default(VXLAN_DEFAULT_PORT) }).strict();

/**
 * Schema of a VXLAN port's configuration as `VxlanPort.open` takes it: `vxlanPortShape`
 * (listen port 0 allowed) with peer names and VNIs unique (the chain spec checks the same
 * in `checkChainSpec`, with positions).
 */
export const vxlanPortConfigSchema = z
  .object({ ...vxlanPortShape, listen: vxlanListenSchema })
  .strict()
  .superRefine((cfg, ctx) => {
    const vnis = new Map<number, number>();
    const names = new Set<string>();
    cfg.peers.forEach((p, i) => {
      if (vnis.has(p.vni)) ctx.addIssue({ code: 'custom', path: ['peers', i, 'vni'], message: `VNI ${p.vni} is already used by peers[${vnis.get(p.vni)}]` });
      else vnis.set(p.vni, i);
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['peers', i, 'name'], message: `duplicate peer name '${p.name}'` });
      names.add(p.name);
    });
  });

/** A VXLAN port configuration as written (YAML/JSON). */
export type VxlanPortConfig = z.input<typeof vxlanPortConfigSchema>;

/** One peer, resolved. */
export interface VxlanPeer {
  readonly name: string;
  readonly vni: number;
  readonly remote: string;
  readonly port: number;
  /** Required UDP source port of its datagrams; 0: any. */
  readonly sourcePort: number;
  readonly subnets: readonly Cidr[];
}

/** A validated VXLAN port configuration, in the numeric form the port uses. */
export interface VxlanPortSettings {
  readonly listen: { readonly address: string; readonly port: number };
  readonly addresses: readonly GatewayAddress[];
  readonly mac: readonly [number, number];
  readonly peers: readonly VxlanPeer[];
  /** Prefixes whose senders are admitted besides the peers. */
  readonly allowedSources: readonly Cidr[];
  readonly receiveBufferBytes: number;
}

/** Receive buffer asked for when the config does not say (the kernel caps it at `net.core.rmem_max`). */
export const DEFAULT_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * Validates a VXLAN port configuration and resolves defaults (peer port 4789, the gateway
 * MAC from the interface address, a 4 MiB receive buffer). Throws `ConfigValidationError`
 * listing every problem.
 *
 * @example
 * ```ts
 * const s = parseVxlanPortConfig({ listen: { address: '198.19.0.1', port: 0 }, gateway: { addresses: ['198.18.1.1/24'] },
 *   peers: [{ name: 'client', vni: 100, remote: '198.19.0.2', subnets: ['198.18.1.0/24'] }] });
 * s.peers[0].port; // 4789
 * ```
 */
export function parseVxlanPortConfig(raw: unknown, subject = 'VXLAN port'): VxlanPortSettings {
  const cfg = validateConfig(vxlanPortConfigSchema, raw, subject);
  const addresses = cfg.gateway.addresses.map((a) => parseGatewayAddress(a) as GatewayAddress);
  const mac = cfg.gateway.mac !== undefined ? (parseMac(cfg.gateway.mac) as [number, number]) : defaultGatewayMac(addresses[0].address);
  const cidr = (text: string): Cidr => ipv4Cidr.parse(text);
  return {
    listen: cfg.listen,
    addresses,
    mac,
    peers: cfg.peers.map((p) => ({ name: p.name, vni: p.vni, remote: p.remote, port: p.port, sourcePort: p.sourcePort ?? 0, subnets: p.subnets.map(cidr) })),
    allowedSources: (cfg.allowedSources ?? []).map(cidr),
    receiveBufferBytes: cfg.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES,
  };
}

