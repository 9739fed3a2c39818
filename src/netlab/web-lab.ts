import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { NetlabError } from '../errors/catalog.ts';
import { PACKAGE_ROOT } from '../image/package-info.ts';
import { Lab, type LabDestroyReport, type Subnet30 } from './lab.ts';
import type { LabProcess } from './lab-process.ts';
import type { Placement, ScalingSpec } from '../spec/chain-spec.ts';

/**
 * Fixed addresses of a web lab. They live only inside the lab's namespaces (the underlay
 * /30s in the root namespace are drawn at random by `Lab.underlay30`), so labs never
 * collide. The overlay ones match `topologies/web-edge-vxlan.yaml`.
 */
export const WEB_LAB_ADDRESSES = {
  /** The client host on the VXLAN overlay. */
  client: '198.18.1.2',
  /** The chain's inside gateway (the client's next hop). */
  clientGateway: '198.18.1.1',
  /** The service's virtual IP (load balancer, port 80). */
  vip: '198.18.2.100',
  /** The NAT address (answered by the outside gateway's proxy ARP): what the backends see. */
  nat: '198.18.3.2',
  /** The chain's outside gateway interface address. */
  backendGateway: '198.18.3.1',
  /** Backend `i` (0-based) on the overlay is `198.18.3.(11 + i)` (and `2001:db8:3::(11 + i)` with IPv6). */
  backendBase: '198.18.3.',
  /** Plain path: backend-1 straight over a veth from the client. */
  vethServer: '198.18.10.2',
  /** Kernel path: the VIP the middle namespace DNATs with nftables. */
  kernelVip: '198.18.22.100',
  /** Kernel path: the address the middle namespace masquerades clients to, towards backend `i`: `198.18.21.(4i + 1)`. */
  kernelRouterBase: '198.18.21.',
} as const;

/**
 * The IPv6 overlay of a web lab (`WebLabOptions.ipv6`), beside the IPv4 one: the same hosts
 * with addresses from 2001:db8::/32, and the NAT64 well-known prefix the client routes to
 * the chain as well.
 */
export const WEB_LAB_ADDRESSES6 = {
  client: '2001:db8:1::2',
  clientGateway: '2001:db8:1::1',
  clientNet: '2001:db8:1::/64',
  vip: '2001:db8:2::100',
  vipNet: '2001:db8:2::/64',
  backendGateway: '2001:db8:3::1',
  /** Backend `i` (0-based) is `2001:db8:3::(11 + i)` (the digits read as hex, like the IPv4 host numbers). */
  backendBase: '2001:db8:3::',
  /** RFC 6052 well-known prefix: `64:ff9b::198.18.3.11` is backend-1's IPv4 address seen from an IPv6-only client. */
  nat64Prefix: '64:ff9b::/96',
} as const;

/** TCP port every backend's HTTP server listens on. */
export const WEB_BACKEND_PORT = 8080;
/** Port of the virtual services (chain and kernel). */
export const WEB_SERVICE_PORT = 80;
/** VNI of the client's tunnel to the chain's inside port. */
export const WEB_CLIENT_VNI = 100;
const BACKEND_VNI_BASE = 311;

/** One web backend of a lab. */
export interface WebBackend {
  /** `backend-1`, `backend-2`, … (what the server answers with). */
  readonly name: string;
  /** Its namespace. */
  readonly ns: string;
  /** Its overlay address (behind the chain). */
  readonly address: string;
  /** VNI of its tunnel to the chain's outside port. */
  readonly vni: number;
  /** Its IPv6 overlay address (a lab made with `ipv6`), else undefined. */
  readonly address6?: string;
  /** Underlay /30 to the root namespace (`a`: root end, `b`: its end). */
  readonly underlay: Subnet30;
  /** Its underlay device (veth end in its namespace). */
  readonly underlayDev: string;
  /** The HTTP server process. */
  readonly server: LabProcess;
}

/** Options of `WebLab.create`. */
export interface WebLabOptions {
  /** Number of backends (default 3, at most 40). */
  readonly backends?: number;
  /** Prefix of the lab's names (default `nfvw`). */
  readonly prefix?: string;
  /**
   * Also build the kernel comparison paths (default false): a veth straight from the
   * client to backend-1, and a middle namespace doing firewall + DNAT + masquerade with
   * nftables in front of every backend.
   */
  readonly kernelPaths?: boolean;
  /** How long each server may take to start listening, ms (default 30 000). */
  readonly serverStartTimeoutMs?: number;
  /** UDP port the chain's VXLAN ends listen on, on the lab's own underlay addresses (default 4789). */
  readonly vxlanPort?: number;
  /**
   * Give the overlay IPv6 too (`WEB_LAB_ADDRESSES6`; default true, as the dual-stack
   * `web-edge-vxlan.yaml` expects; false: IPv4 only): the client and the
   * backends get IPv6 addresses beside their IPv4 ones, the client routes the IPv6 VIP's
   * network and the NAT64 prefix to the chain, the backends route the client's IPv6 network
   * back through it; `chainSpec()` then gives the gateways their IPv6 addresses and subnets.
   */
  readonly ipv6?: boolean;
}

/** Options of `WebLab.chainSpec`. */
export interface WebChainSpecOptions {
  /** `metadata.name` (default `web-edge-vxlan`, the topology's). */
  readonly name?: string;
  /** Backends the load balancer balances over, by name (default: all). The egress keeps a tunnel to every backend. */
  readonly backends?: readonly string[];
  /** Spec file used as the template (default `topologies/web-edge-vxlan.yaml`). */
  readonly template?: string;
  /**
   * Scaling settings to override, by function name in the spec (`fw`, `lb`, `nat`): the
   * given fields replace the template's, the others stay, e.g.
   * `{ nat: { min: 1, max: 2, target: 2000 }, fw: { max: 1 }, lb: { max: 1 } }`.
   */
  readonly scaling?: Readonly<Record<string, Partial<ScalingSpec>>>;
  /** `spec.placement` (default: the template's). */
  readonly placement?: Placement;
  /**
   * An active health check of the load balancer's service (its `healthChecks[0]`): the
   * fields given, with `service` and `addresses` filled in so that the controller, in the
   * root namespace, probes each backend at its underlay address. Default: none.
   */
  readonly healthCheck?: WebHealthCheck;
}

/** The fields of a web lab's health check (see `HealthCheckSpec`; omitted: the spec's defaults). */
export interface WebHealthCheck {
  readonly protocol?: 'tcp' | 'http';
  readonly path?: string;
  readonly intervalSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly rise?: number;
  readonly fall?: number;
}

/** Target URLs of the paths a web lab offers. */
export interface WebLabTargets {
  /** Through the nfvkit chain (once a controller has applied `chainSpec()`). */
  readonly chain: string;
  /** Plain veth to backend-1 (`kernelPaths` only). */
  readonly veth: string;
  /** nftables DNAT in a middle namespace (`kernelPaths` only). */
  readonly kernel: string;
}

/**
 * A web-service lab in network namespaces: a client, `n` backends running real HTTP
 * servers (`http-backend.ts`), each with a veth underlay to the root namespace and a
 * kernel VXLAN device aimed at where the nfvkit chain's ports listen. `chainSpec()` renders
 * `topologies/web-edge-vxlan.yaml` with the lab's underlay addresses; once a controller has
 * applied it, `targets.chain` reaches the VIP through firewall → load balancer → NAT.
 *
 * ```
 *  client ns ── vxlan 100 ─► [root: inside port ─ fw ─ lb ─ nat ─ outside port] ─► vxlan 311.. ── backend-N ns
 *  (kernelPaths) client ─ veth ─ backend-1;  client ─ veth ─ router ns (nft fw+DNAT+SNAT) ─ veth ─ backend-N
 * ```
 *
 * Everything belongs to one `Lab`: `destroy()` (always in `finally`) removes it all.
 *
 * @example
 * ```ts
 * const web = await WebLab.create();
 * try {
 *   await controller.apply(web.chainSpec(), 'web-edge-vxlan.yaml');
 *   const client = web.lab.spawnNode(web.client, script, [web.targets.chain]);
 * } finally {
 *   await controller.close();
 *   await web.destroy();
 * }
 * ```
 */
export class WebLab {
  readonly targets: WebLabTargets;

  private constructor(
    /** The lab holding every namespace, device and process. */
    readonly lab: Lab,
    /** The client namespace. */
    readonly client: string,
    /** The client's underlay /30 to the root namespace. */
    readonly clientUnderlay: Subnet30,
    readonly backends: readonly WebBackend[],
    /** The middle namespace of the kernel path (`null` without `kernelPaths`). */
    readonly router: string | null,
    /** UDP port of the chain's VXLAN ends. */
    readonly vxlanPort: number,
    /** Whether the overlay has IPv6 too (`WebLabOptions.ipv6`). */
    readonly ipv6: boolean,
  ) {
    const A = WEB_LAB_ADDRESSES;
    this.targets = {
      chain: `http://${A.vip}:${WEB_SERVICE_PORT}/`,
      veth: `http://${A.vethServer}:${WEB_BACKEND_PORT}/`,
      kernel: `http://${A.kernelVip}:${WEB_SERVICE_PORT}/`,
    };
  }

  /**
   * Builds the lab and starts the servers. On failure it destroys what it built and
   * rethrows.
   */
  static async create(options: WebLabOptions = {}): Promise<WebLab> {
    const count = options.backends ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 40) throw new NetlabError(`a web lab has 1 to 40 backends, not ${count}`);
    const lab = new Lab({ prefix: options.prefix ?? 'nfvw' });
    try {
      const client = await lab.namespace('client');
      const clientUnderlay = await lab.underlay30();
      const cv = await lab.veth({ ns: null, address: clientUnderlay.cidrA }, { ns: client, address: clientUnderlay.cidrB });
      const backends: WebBackend[] = [];
      const script = new URL('./http-backend.ts', import.meta.url);
      for (let i = 0; i < count; i++) {
        const ns = await lab.namespace(`backend${i + 1}`);
        const underlay = await lab.underlay30();
        const v = await lab.veth({ ns: null, address: underlay.cidrA }, { ns, address: underlay.cidrB });
        const name = `backend-${i + 1}`;
        const server = lab.spawnNode(ns, script, [name, String(WEB_BACKEND_PORT)]);
        const address6 = options.ipv6 !== false ? `${WEB_LAB_ADDRESSES6.backendBase}${11 + i}` : undefined;
        backends.push({ name, ns, address: `${WEB_LAB_ADDRESSES.backendBase}${11 + i}`, ...(address6 === undefined ? {} : { address6 }), vni: BACKEND_VNI_BASE + i, underlay, underlayDev: v.b, server });
      }
      // The outside port listens on backend-1's root end; the others reach it through their own.
      for (const b of backends.slice(1)) await lab.route(b.ns, `${backends[0].underlay.a}/32`, b.underlay.a);
      const port = options.vxlanPort ?? 4789;
      const A = WEB_LAB_ADDRESSES;
      const A6 = WEB_LAB_ADDRESSES6;
      const clientDev = await lab.vxlan({ ns: client, vni: WEB_CLIENT_VNI, dev: cv.b, local: clientUnderlay.b, remote: clientUnderlay.a, remotePort: port, address: `${A.client}/24` });
      await lab.route(client, `${A.vip.replace(/\.\d+$/, '.0')}/24`, A.clientGateway);
      if (options.ipv6 !== false) {
        await lab.address(client, clientDev, `${A6.client}/64`);
        await lab.route(client, A6.vipNet, A6.clientGateway);
        await lab.route(client, A6.nat64Prefix, A6.clientGateway);
      }
      for (const b of backends) {
        const dev = await lab.vxlan({ ns: b.ns, vni: b.vni, dev: b.underlayDev, local: b.underlay.b, remote: backends[0].underlay.a, remotePort: port, address: `${b.address}/24` });
        if (b.address6 !== undefined) {
          await lab.address(b.ns, dev, `${b.address6}/64`);
          await lab.route(b.ns, A6.clientNet, A6.backendGateway);
        }
      }
      const router = options.kernelPaths === true ? await buildKernelPaths(lab, client, backends) : null;
      const timeout = options.serverStartTimeoutMs ?? 30_000;
      await Promise.all(backends.map((b) => b.server.waitForOutput(/listening/, timeout)));
      return new WebLab(lab, client, clientUnderlay, backends, router, port, options.ipv6 !== false);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }

  /** Root-namespace address the chain's inside (client-side) VXLAN port listens on. */
  get insideListen(): string {
    return this.clientUnderlay.a;
  }

  /** Root-namespace address the chain's outside (backend-side) VXLAN port listens on. */
  get outsideListen(): string {
    return this.backends[0].underlay.a;
  }

  /**
   * The web-edge chain spec (YAML) for this lab: the template's functions and classifier,
   * with VXLAN ends on the lab's underlay, the load balancer's backends limited to
   * `backends` and functions' scaling settings overridden by `scaling` when given.
   */
  chainSpec(options: WebChainSpecOptions = {}): string {
    const A = WEB_LAB_ADDRESSES;
    const A6 = WEB_LAB_ADDRESSES6;
    const template = options.template ?? join(PACKAGE_ROOT, 'topologies', 'web-edge-vxlan.yaml');
    const doc = parseDocument(readFileSync(template, 'utf8'));
    if (options.name !== undefined) doc.setIn(['metadata', 'name'], options.name);
    if (options.placement !== undefined) doc.setIn(['spec', 'placement'], options.placement);
    doc.setIn(
      ['spec', 'ingress'],
      doc.createNode({
        type: 'vxlan',
        listen: { address: this.insideListen, port: this.vxlanPort },
        gateway: { addresses: [`${A.clientGateway}/24`, `${A.vip}/32`, ...(this.ipv6 ? [`${A6.clientGateway}/64`, `${A6.vip}/128`] : [])] },
        peers: [{ name: 'client', vni: WEB_CLIENT_VNI, remote: this.clientUnderlay.b, subnets: [`${A.client.replace(/\.\d+$/, '.0')}/24`, ...(this.ipv6 ? [A6.clientNet] : [])] }],
        receiveBufferBytes: 4 * 1024 * 1024,
      }),
    );
    doc.setIn(
      ['spec', 'egress'],
      doc.createNode({
        type: 'vxlan',
        listen: { address: this.outsideListen, port: this.vxlanPort },
        // The NAT address must be a proxy-ARP address: frames to the interface address stay in the gateway.
        gateway: { addresses: [`${A.backendGateway}/24`, `${A.nat}/32`, ...(this.ipv6 ? [`${A6.backendGateway}/64`] : [])] },
        peers: this.backends.map((b) => ({ name: b.name, vni: b.vni, remote: b.underlay.b, subnets: [`${b.address}/32`, ...(b.address6 === undefined ? [] : [`${b.address6}/128`])] })),
        receiveBufferBytes: 4 * 1024 * 1024,
      }),
    );
    const wanted = options.backends ?? this.backends.map((b) => b.name);
    const chosen = this.backends.filter((b) => wanted.includes(b.name));
    if (chosen.length !== wanted.length || chosen.length === 0) throw new NetlabError(`unknown or no backends in [${wanted.join(', ')}]; the lab has ${this.backends.map((b) => b.name).join(', ')}`);
    const functions = (doc.toJS() as { spec: { functions: Array<{ name?: string; function?: string; config?: { snat?: { addresses?: string }; services?: Array<{ name?: string }> } }> } }).spec.functions;
    const lb = functions.findIndex((f) => f.function === 'load-balancer');
    if (lb < 0) throw new NetlabError(`${template} has no load-balancer function`);
    const snat = functions.find((f) => f.function === 'nat')?.config?.snat?.addresses;
    if (snat !== `${A.nat}/32`) throw new NetlabError(`${template}: the NAT address is ${snat}, the lab's gateway answers for ${A.nat}/32`);
    // Every service balances over the chosen backends, at their address of its VIP's family.
    const services = functions[lb].config?.services ?? [];
    for (const [k, service] of services.entries()) {
      const v6 = String((service as { vip?: unknown }).vip ?? '').includes(':');
      if (v6 && !this.ipv6) throw new NetlabError(`${template}: service ${service.name ?? k} has an IPv6 VIP; make the lab with ipv6: true`);
      const addresses = chosen.map((b) => (v6 ? (b.address6 as string) : b.address));
      doc.setIn(['spec', 'functions', lb, 'config', 'services', k, 'backends'], doc.createNode(addresses.map((address) => ({ address, port: WEB_BACKEND_PORT }))));
    }
    if (options.healthCheck !== undefined) {
      const service = functions[lb].config?.services?.[0]?.name ?? `${A.vip}:${WEB_SERVICE_PORT}/tcp`;
      const addresses = Object.fromEntries(chosen.map((b) => [`${b.address}:${WEB_BACKEND_PORT}`, b.underlay.b]));
      doc.setIn(['spec', 'functions', lb, 'healthChecks'], doc.createNode([{ service, ...options.healthCheck, addresses }]));
    }
    for (const [fnName, fields] of Object.entries(options.scaling ?? {})) {
      const k = functions.findIndex((f) => f.name === fnName);
      if (k < 0) throw new NetlabError(`${template} has no function "${fnName}" to set scaling of; it has ${functions.map((f) => f.name).join(', ')}`);
      for (const [field, value] of Object.entries(fields)) if (value !== undefined) doc.setIn(['spec', 'functions', k, 'scaling', field], value);
    }
    return doc.toString();
  }

  /** Ends the servers and removes everything; see `Lab.destroy`. */
  destroy(): Promise<LabDestroyReport> {
    return this.lab.destroy();
  }
}

/**
 * The kernel comparison paths: client ─ veth ─ backend-1 (198.18.10.0/30), and client ─
 * veth ─ router ─ veth ─ backend-N (198.18.20.0/30, 198.18.21.4i/30), where the router runs
 * the same three functions as the chain in nftables: a stateful filter, DNAT of the
 * kernel VIP to the backends in turn, and masquerade. Returns the router namespace.
 */
async function buildKernelPaths(lab: Lab, client: string, backends: readonly WebBackend[]): Promise<string> {
  const A = WEB_LAB_ADDRESSES;
  await lab.veth({ ns: client, address: '198.18.10.1/30' }, { ns: backends[0].ns, address: `${A.vethServer}/30` });
  const router = await lab.namespace('router');
  const toClient = await lab.veth({ ns: client, address: '198.18.20.1/30' }, { ns: router, address: '198.18.20.2/30' });
  const servers: string[] = [];
  for (const [i, b] of backends.entries()) {
    const net = 4 * i;
    await lab.veth({ ns: router, address: `${A.kernelRouterBase}${net + 1}/30` }, { ns: b.ns, address: `${A.kernelRouterBase}${net + 2}/30` });
    servers.push(`${i} : ${A.kernelRouterBase}${net + 2}`);
  }
  await lab.route(client, `${A.kernelVip.replace(/\.\d+$/, '.0')}/24`, '198.18.20.2');
  await lab.exec(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await lab.nft(
    router,
    `table ip webedge {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "${toClient.b}" ct state new ct status dnat tcp dport ${WEB_BACKEND_PORT} accept
  }
  chain prerouting {
    type nat hook prerouting priority dstnat;
    iifname "${toClient.b}" ip daddr ${A.kernelVip} tcp dport ${WEB_SERVICE_PORT} dnat to numgen inc mod ${backends.length} map { ${servers.join(', ')} } : ${WEB_BACKEND_PORT}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname != "${toClient.b}" ip saddr 198.18.20.0/30 masquerade
  }
}
`,
  );
  return router;
}
