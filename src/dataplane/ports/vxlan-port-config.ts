import { z } from 'zod';
import { validateConfig } from '../../config/validate-config.ts';
import { ipv4Cidr, port, type Cidr } from '../../config/net-schemas.ts';
import { parseIpv4 } from '../../packet/ipv4.ts';
import { parseMac } from '../../packet/ethernet.ts';
import { defaultGatewayMac, parseGatewayAddress, type GatewayAddress } from '../../gateway/gateway-config.ts';
import { VXLAN_DEFAULT_PORT, VXLAN_MAX_VNI } from './vxlan-header.ts';

const address = z.string().refine((s) => parseIpv4(s) !== undefined, { message: 'not an IPv4 address' });

const gatewayAddress = z
  .string()
  .refine((s) => parseGatewayAddress(s) !== undefined, { message: 'not an address with prefix (a.b.c.d/len)' })
  .transform((s) => parseGatewayAddress(s) as GatewayAddress);

/**
 * Schema of a VXLAN port in a chain spec (the `ingress` / `egress` of the YAML). Field names
 * are part of the user contract:
 *
 * ```yaml
 * listen: { address: 198.19.0.1, port: 4789 }
 * gateway:
 *   addresses: [198.18.1.1/24, 198.18.1.10/32]   # first = interface address, others proxy-ARP
 *   mac: 02:00:c6:12:01:01                      # optional (default 02:00:<interface address>)
 * peers:
 *   - { name: client, vni: 100, remote: 198.19.0.2, port: 4789, subnets: [198.18.1.0/24] }
 * receiveBufferBytes: 4194304                   # optional
 * ```
 */
export const vxlanPortConfigSchema = z
  .object({
    listen: z.object({ address, port }).strict(),
    gateway: z
      .object({
        addresses: z.array(gatewayAddress).min(1, 'needs at least the interface address'),
        mac: z.string().refine((s) => parseMac(s) !== undefined, { message: 'not a MAC address (aa:bb:cc:dd:ee:ff)' }).optional(),
      })
      .strict(),
    peers: z
      .array(
        z
          .object({
            name: z.string().min(1),
            vni: z.number().int().min(0).max(VXLAN_MAX_VNI, 'VNI is 24 bits (0-16777215)'),
            remote: address,
            port: port.optional(),
            subnets: z.array(ipv4Cidr).min(1, 'a peer needs at least one subnet'),
          })
          .strict(),
      )
      .min(1, 'a VXLAN port needs at least one peer'),
    receiveBufferBytes: z.number().int().min(4096).max(1 << 30).optional(),
  })
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
  readonly subnets: readonly Cidr[];
}

/** A validated VXLAN port configuration, in the numeric form the port uses. */
export interface VxlanPortSettings {
  readonly listen: { readonly address: string; readonly port: number };
  readonly addresses: readonly GatewayAddress[];
  readonly mac: readonly [number, number];
  readonly peers: readonly VxlanPeer[];
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
  const mac = cfg.gateway.mac !== undefined ? (parseMac(cfg.gateway.mac) as [number, number]) : defaultGatewayMac(cfg.gateway.addresses[0].address);
  return {
    listen: cfg.listen,
    addresses: cfg.gateway.addresses,
    mac,
    peers: cfg.peers.map((p) => ({ name: p.name, vni: p.vni, remote: p.remote, port: p.port ?? VXLAN_DEFAULT_PORT, subnets: p.subnets })),
    receiveBufferBytes: cfg.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES,
  };
}
