import { z } from 'zod';
import type { ChainEnd, ChainEndContext } from '../controller/chain-ends.ts';
import { ipPrefix, ipv4Cidr, port, type Cidr } from '../config/net-schemas.ts';
import { formatPath, validateConfig } from '../config/validate-config.ts';
import { VxlanPort, type VxlanPortOptions } from '../dataplane/ports/vxlan-port.ts';
import { DEFAULT_RECEIVE_BUFFER_BYTES, type VxlanPortSettings } from '../dataplane/ports/vxlan-port-config.ts';
import { VXLAN_DEFAULT_PORT, VXLAN_MAX_VNI } from '../dataplane/ports/vxlan-header.ts';
import { ConfigValidationError } from '../errors/catalog.ts';
import { defaultGatewayMacOf, parseTaggedGatewayAddress, type GatewayAddress, type GatewayAddress6, type Prefix6, type TaggedGatewayAddress } from '../gateway/gateway-config.ts';
import { parseMac } from '../packet/ethernet.ts';
import type { PacketPool } from '../pool/packet-pool.ts';
import type { SpecIssue } from '../spec/chain-spec-rules.ts';
import { dnsLabel, gatewayAddressText, ipPrefixText, ipv4AddressText, ipv4CidrText, macText } from '../spec/spec-values.ts';
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
    subnets: z
      .array(ipPrefixText)
      .min(1, 'at least one subnet')
      .meta({ description: 'Inner subnets (IPv4 or IPv6) reached through this peer, on-link: the gateway resolves their addresses by ARP or neighbour solicitation.' }),
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
 *   addresses: [198.18.1.1/24, 198.18.1.10/32, 2001:db8:1::1/64]  # first of each family = its interface
 *                                               # address; others proxy-ARP / proxy neighbour discovery
 *   mac: 02:00:c6:12:01:01                      # optional (default 02:00:<first IPv4 address>)
 * peers:                                        # names and VNIs unique; subnets of either family
 *   - { name: client, vni: 100, remote: 198.19.0.2, port: 4789, sourcePort: 4789, subnets: [198.18.1.0/24, 2001:db8:1::/64] }
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
 * tells peers apart by VNI alone, so a remote:port/VNI tunnel appears once), and a peer's
 * subnet of a family needs a gateway address of that family (the gateway resolves and
 * answers from it). Looks only at values of the right type, so it runs on any document.
 */
export function checkVxlanPeers(port: Readonly<Record<string, unknown>>, at: readonly PropertyKey[]): SpecIssue[] {
  const issues: SpecIssue[] = [];
  if (!Array.isArray(port.peers)) return issues;
  const gateway = port.gateway as Record<string, unknown> | undefined;
  const families = new Set<number>();
  if (typeof gateway === 'object' && gateway !== null && Array.isArray(gateway.addresses)) {
    for (const a of gateway.addresses) if (typeof a === 'string') families.add(parseTaggedGatewayAddress(a)?.family ?? 0);
  }
  const names = new Map<string, number>();
  const vnis = new Map<number, number>();
  port.peers.forEach((peer: unknown, j) => {
    if (typeof peer !== 'object' || peer === null) return;
    const { name, vni, subnets } = peer as Record<string, unknown>;
    if (Array.isArray(subnets) && families.size > 0) {
      subnets.forEach((text: unknown, k) => {
        const p = typeof text === 'string' ? ipPrefix.safeParse(text) : undefined;
        if (p?.success === true && !families.has(p.data.family)) {
          issues.push({ path: [...at, 'peers', j, 'subnets', k], message: `an IPv${p.data.family} subnet needs an IPv${p.data.family} gateway address (gateway.addresses has none)` });
        }
      });
    }
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
  const tagged = cfg.gateway.addresses.map((a) => parseTaggedGatewayAddress(a) as TaggedGatewayAddress);
  const addresses: GatewayAddress[] = [];
  const addresses6: GatewayAddress6[] = [];
  for (const { family, ...a } of tagged) {
    if (family === 4) addresses.push(a as GatewayAddress);
    else addresses6.push(a as GatewayAddress6);
  }
  const mac = cfg.gateway.mac !== undefined ? (parseMac(cfg.gateway.mac) as [number, number]) : defaultGatewayMacOf(tagged);
  const cidr = (text: string): Cidr => ipv4Cidr.parse(text);
  const peers = cfg.peers.map((p) => {
    const prefixes = p.subnets.map((text) => ipPrefix.parse(text));
    const subnets: Cidr[] = [];
    const subnets6: Prefix6[] = [];
    for (const x of prefixes) {
      if (x.family === 4) subnets.push({ addr: x.addr, prefix: x.prefix, mask: x.mask });
      else subnets6.push({ addr: x.addr, prefix: x.prefix, mask: x.mask });
    }
    return { name: p.name, vni: p.vni, remote: p.remote, port: p.port, sourcePort: p.sourcePort ?? 0, subnets, subnets6 };
  });
  return {
    listen: cfg.listen,
    addresses,
    addresses6,
    mac,
    peers,
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
