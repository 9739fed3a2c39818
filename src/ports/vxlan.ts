import { z } from 'zod';
import type { ChainEnd, ChainEndContext } from '../controller/chain-ends.ts';
import { ipv4Cidr, port, type Cidr } from '../config/net-schemas.ts';
import { formatPath, validateConfig } from '../config/validate-config.ts';
import { VxlanPort, type VxlanPortOptions } from '../dataplane/ports/vxlan-port.ts';
import { DEFAULT_RECEIVE_BUFFER_BYTES, type VxlanPortSettings } from '../dataplane/ports/vxlan-port-config.ts';
import { VXLAN_DEFAULT_PORT, VXLAN_MAX_VNI } from '../dataplane/ports/vxlan-header.ts';
import { ConfigValidationError } from '../errors/catalog.ts';
import { defaultGatewayMac, parseGatewayAddress, type GatewayAddress } from '../gateway/gateway-config.ts';
import { parseMac } from '../packet/ethernet.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import type { SpecIssue } from '../spec/chain-spec-rules.ts';
import { dnsLabel, gatewayAddressText, ipv4AddressText, ipv4CidrText, macText } from '../spec/spec-values.ts';
import { definePortType } from './port-type.ts';

/** A UDP port a socket binds or sends to: 1–65535. */
const udpPort = port.refine((p) => p !== 0, 'port must be 1-65535');

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
 * The one schema of a VXLAN port: what a chain spec declares and what `parseVxlanPortConfig`
 * checks before a `VxlanPort` opens. Values stay as written. Peer names and VNIs are
 * unique (`checkVxlanPeers`, with positions).
 */
const vxlanPortSchema = z
  .object({
    type: z.literal('vxlan'),
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
  })
  .strict()
  .meta({ description: 'VXLAN over UDP (RFC 7348) with an L3 gateway edge.' });

/**
 * Real traffic: VXLAN over UDP (RFC 7348) from the kernel's `vxlan` devices; the port is an
 * L3 gateway. Field names are part of the user contract:
 *
 * ```yaml
 * type: vxlan
 * listen: { address: 198.19.0.1, port: 4789 }     # port 1-65535, default 4789
 * gateway:
 *   addresses: [198.18.1.1/24, 198.18.1.10/32]   # first = interface address, others proxy-ARP
 *   mac: 02:00:c6:12:01:01                      # optional (default 02:00:<interface address>)
 * peers:                                        # names and VNIs unique
 *   - { name: client, vni: 100, remote: 198.19.0.2, port: 4789, sourcePort: 4789, subnets: [198.18.1.0/24] }
 * allowedSources: [198.19.0.0/24]               # optional: further senders admitted for any peer's VNI
 * receiveBufferBytes: 4194304                   # optional
 * ```
 */
export type VxlanPortSpec = z.output<typeof vxlanPortSchema>;

/** One VXLAN tunnel endpoint of a `VxlanPortSpec`. */
export type VxlanPeerSpec = VxlanPortSpec['peers'][number];

/** A VXLAN port's fields as written (YAML/JSON), with or without the spec's `type`. */
export type VxlanPortConfig = Omit<z.input<typeof vxlanPortSchema>, 'type'> & { readonly type?: 'vxlan' };

/**
 * The rules of a VXLAN port across its fields: peer names and VNIs are unique (the port
 * tells peers apart by VNI alone, so a remote:port/VNI tunnel appears once). Looks only at
 * values of the right type, so it runs on any document.
 */
export function checkVxlanPeers(port: Readonly<Record<string, unknown>>, at: readonly PropertyKey[]): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (!Array.isArray(port.peers)) return issues;
  const names = new Map<string, number>();
  const vnis = new Map<number, number>();
  port.peers.forEach((peer: unknown, j) => {
    if (typeof peer !== 'object' || peer === null) return;
    const { name, vni } = peer as Record<string, unknown>;
    if (typeof name === 'string') {
      const first = names.get(name);
      if (first !== undefined) issues.push({ path: [...at, 'peers', j, 'name'], message: `duplicate peer name "${name}" (also peers[${first}])` });
      else names.set(name, j);
    }
    if (typeof vni === 'number') {
      const first = vnis.get(vni);
      if (first !== undefined) issues.push({ path: [...at, 'peers', j, 'vni'], message: `VNI ${vni} is already used by peers[${first}]` });
      else vnis.set(vni, j);
    }
  });
  return issues;
}

/**
 * Validates a VXLAN port configuration against the port's one schema and rules and
 * resolves defaults (peer port 4789, the gateway MAC from the interface address, a 4 MiB
 * receive buffer) into the numeric form `VxlanPort.open` takes. Throws
 * `ConfigValidationError` listing every problem with its field path.
 *
 * @example
 * ```ts
 * const s = parseVxlanPortConfig({ listen: { address: '198.19.0.1' }, gateway: { addresses: ['198.18.1.1/24'] },
 *   peers: [{ name: 'client', vni: 100, remote: '198.19.0.2', subnets: ['198.18.1.0/24'] }] });
 * s.peers[0].port; // 4789
 * ```
 */
export function parseVxlanPortConfig(config: unknown, subject = 'VXLAN port'): VxlanPortSettings {
  const isRecord = typeof config === 'object' && config !== null && !Array.isArray(config);
  const raw = isRecord ? { type: 'vxlan', ...config } : config;
  // Every problem at once: the schema's, then the rules across peers.
  const peerIssues = isRecord ? checkVxlanPeers(raw as Record<string, unknown>, []).map((i) => ({ path: formatPath(i.path), message: i.message })) : [];
  let cfg: VxlanPortSpec;
  try {
    cfg = validateConfig(vxlanPortSchema, raw, subject);
  } catch (err) {
    if (err instanceof ConfigValidationError && peerIssues.length > 0) throw new ConfigValidationError(subject, [...err.issues, ...peerIssues]);
    throw err;
  }
  if (peerIssues.length > 0) throw new ConfigValidationError(subject, peerIssues);
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

/**
 * Validates `config` (`parseVxlanPortConfig`) and opens a `VxlanPort` on `pool`'s memory;
 * `options.listenPort: 0` binds an ephemeral port instead of `listen.port` (tests).
 *
 * @example
 * ```ts
 * const inside = await openVxlanPort({ listen: { address: '198.19.0.1' }, gateway: { addresses: ['198.18.1.1/24'] },
 *   peers: [{ name: 'client', vni: 100, remote: '198.19.0.2', subnets: ['198.18.1.0/24'] }] }, pool, { listenPort: 0 });
 * ```
 */
export function openVxlanPort(config: VxlanPortConfig, pool: PacketPool, options: VxlanPortOptions = {}): Promise<VxlanPort> {
  return VxlanPort.open(parseVxlanPortConfig(config), pool, options);
}

/** The chain end of a VXLAN spec: the port with its figures for `describe` and its drops by layer. */
export async function openVxlanEnd(spec: VxlanPortSpec, context: ChainEndContext, options: VxlanPortOptions = {}): Promise<ChainEnd> {
  const port = await openVxlanPort(spec, context.pool, options);
  return {
    port,
    stats: () => {
      const st = port.stats();
      const out: Record<string, number> = { framesIn: st.entered, framesOut: st.left, datagramsIn: st.received, datagramsOut: st.sent };
      for (const [reason, n] of Object.entries(st.drops)) out[`drops:${reason}`] = n;
      return out;
    },
    drops: () => port.dropCounts(),
    close: () => port.close(),
  };
}

/** The `vxlan` port type. */
export const vxlanPortType = definePortType({
  type: 'vxlan',
  schema: vxlanPortSchema,
  check: checkVxlanPeers,
  open: (spec, context) => openVxlanEnd(spec, context),
});
