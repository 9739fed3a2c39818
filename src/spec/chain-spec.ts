import type { PortSpec } from './port-spec.ts';

/**
 * A service-function chain as declared in YAML and validated by `parseChainSpec`: the
 * Kubernetes-shaped resource with every default applied. Ports and the classifier keep
 * their values as written (text); function configurations are given twice, as written
 * (`rawConfig`, what images are built from) and parsed by the function's schema (`config`).
 *
 * @example
 * ```ts
 * const spec = parseChainSpec(readFileSync('topologies/web-edge.yaml', 'utf8'), 'web-edge.yaml', registry);
 * for (const fn of spec.spec.functions) console.log(fn.name, fn.function ?? fn.image, fn.scaling.max);
 * ```
 */
export interface ChainSpec {
  /** Always `nfvkit.dev/v1`. */
  readonly apiVersion: typeof CHAIN_SPEC_API_VERSION;
  /** Always `ServiceFunctionChain`. */
  readonly kind: typeof CHAIN_SPEC_KIND;
  readonly metadata: ChainMetadata;
  readonly spec: ChainSpecBody;
}

/** `apiVersion` of the current chain spec format. */
export const CHAIN_SPEC_API_VERSION = 'nfvkit.dev/v1';
/** `kind` of a chain spec. */
export const CHAIN_SPEC_KIND = 'ServiceFunctionChain';

/** Name and labels of a chain. */
export interface ChainMetadata {
  /** Chain name, a DNS label (`[a-z0-9-]`, ≤ 63): unique among the applied chains. */
  readonly name: string;
  /** Free-form string labels (default none). */
  readonly labels: Readonly<Record<string, string>>;
}

/** What the chain is made of. */
export interface ChainSpecBody {
  /** The inside end: where the clients' traffic enters. */
  readonly ingress: PortSpec;
  /** The outside end: towards the servers. */
  readonly egress: PortSpec;
  /** Which client traffic enters the chain; omitted: all of it. */
  readonly classifier?: ClassifierSpec;
  /** The functions in order, inside → outside; at least one. */
  readonly functions: readonly ChainFunctionSpec[];
  /** How the functions run (default `auto`; see `resolvePlacement`). */
  readonly placement: Placement;
}

/** Every value of `spec.placement`. */
export const PLACEMENTS = ['auto', 'isolated', 'fused'] as const;

/**
 * `isolated`: one image per function, each function its own instances; `fused`: the chain's
 * functions compiled into one image, each replica running all of them to completion;
 * `auto`: chosen from the machine's cores.
 */
export type Placement = (typeof PLACEMENTS)[number];

/**
 * Which traffic from the ingress enters the chain; everything else is dropped and counted.
 * Each field left out matches everything; the fields are ANDed.
 */
export interface ClassifierSpec {
  /** Transport protocols admitted (an IPv6 packet's: after its extension headers). */
  readonly protocols?: readonly ('tcp' | 'udp' | 'icmp' | 'icmpv6')[];
  /** Destination prefixes (IPv4 or IPv6) of client → server traffic, as written; a packet must match one of its own family's. */
  readonly destinations?: readonly string[];
  /** Destination ports or ranges (`80`, `"8000-8080"`), as written (TCP and UDP only). */
  readonly ports?: readonly (number | string)[];
}

/** How many instances of a function run, and how the autoscaler moves between them. */
export interface ScalingSpec {
  /** Fewest instances, ≥ 1 (default 1). */
  readonly min: number;
  /** Most instances, ≥ min (default: `min`). */
  readonly max: number;
  /** Target load per instance in packets per second (default 500000). */
  readonly target: number;
  /** Longest wait for a draining instance's flows to finish, in seconds (default 30). */
  readonly drainTimeoutSeconds: number;
  /** Least time between two scaling steps of the function, in seconds (default 10). */
  readonly cooldownSeconds: number;
}

/** Scaling settings when the spec leaves them out (`max` defaults to `min`). */
export const DEFAULT_SCALING = Object.freeze({ min: 1, target: 500_000, drainTimeoutSeconds: 30, cooldownSeconds: 10 });
/** Most instances of one function. */
export const MAX_REPLICAS = 64;

/**
 * An active health check of the backends of one service of a function with backends (the
 * load balancer), run by the controller: a backend is taken out (no new flows) after
 * `fall` failed probes in a row and back in after `rise` good ones.
 */
export interface HealthCheckSpec {
  /** The service checked: its name, or its `vip:port/proto`. */
  readonly service: string;
  /** `tcp`: a connection is accepted; `http`: GET `path` is answered 2xx or 3xx. */
  readonly protocol: 'tcp' | 'http';
  /** HTTP path (default `/`). */
  readonly path: string;
  /** Port probed on every backend; undefined: each backend's own. */
  readonly port?: number;
  /** Seconds between two probes of one backend. */
  readonly intervalSeconds: number;
  /** Seconds one probe may take (≤ `intervalSeconds`). */
  readonly timeoutSeconds: number;
  /** Good probes in a row that bring a backend back. */
  readonly rise: number;
  /** Failed probes in a row that take a backend out. */
  readonly fall: number;
  /** Backend `a.b.c.d:port` → the address the controller probes instead (IPv4 or IPv6; default: its own). */
  readonly addresses: Readonly<Record<string, string>>;
}

/** Fields shared by both forms of a chain function. */
interface ChainFunctionBase {
  /** Name within the chain (unique, DNS label): instances are `<chain>/<name>-<n>`. */
  readonly name: string;
  readonly scaling: ScalingSpec;
  /** Active health checks of its services' backends (functions with backends only; default none). */
  readonly healthChecks: readonly HealthCheckSpec[];
}

/** A function built from a registered pipeline and a configuration. */
export interface BuiltFunctionSpec extends ChainFunctionBase {
  /** Registered function name (`firewall`, `load-balancer`, `nat`, …). */
  readonly function: string;
  readonly image?: undefined;
  /** The configuration parsed by the function's schema (its output type, defaults applied). */
  readonly config: unknown;
  /** The configuration as written (`{}` when left out): images are built from it. */
  readonly rawConfig: unknown;
  /** Memory limit per instance in MiB: as written, else the function's `memoryMiB`, else 64. */
  readonly resources: { readonly memoryMiB: number };
}

/** A function run from a prebuilt image (its configuration is baked in). */
export interface PrebuiltFunctionSpec extends ChainFunctionBase {
  /** Image id or unique id prefix in the image store (lowercased). */
  readonly image: string;
  readonly function?: undefined;
  readonly config?: undefined;
  readonly rawConfig?: undefined;
  /** Memory limit per instance in MiB; undefined: the image manifest's. */
  readonly resources: { readonly memoryMiB?: number };
}

/** One function of a chain: built from `function` + `config`, or a prebuilt `image`. */
export type ChainFunctionSpec = BuiltFunctionSpec | PrebuiltFunctionSpec;
