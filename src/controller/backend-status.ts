import type { BackendStateName } from '../backends/backend-control-layout.ts';

/**
 * Health of a backend as the controller reports it: `unchecked` (no health check covers its
 * service), `unknown` (checked, no decision yet: it takes new flows), `up`, `down` (its new
 * flows go elsewhere until it is up again).
 */
export type BackendHealthName = 'unchecked' | 'unknown' | 'up' | 'down';

/** One backend of a function with backends (`ListBackends`, `nfvkit backends`). */
export interface BackendStatus {
  readonly chain: string;
  /** The function's name in the chain spec. */
  readonly function: string;
  /** The service's name (or its `vip:port/proto`). */
  readonly service: string;
  /** The backend, `a.b.c.d:port`. */
  readonly backend: string;
  readonly address: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  /** Its state as set by the configuration or by `SetBackendState`: active, draining or removed. */
  readonly state: BackendStateName;
  readonly health: BackendHealthName;
  /** The last probe's result (`ECONNREFUSED`, `HTTP 200`); '' when unchecked or not probed yet. */
  readonly healthDetail: string;
  /** Unix ms of the last change of health; 0 when none. */
  readonly healthChangedAt: number;
  /** What the function's instances apply: `state`, but `draining` while it is down. */
  readonly effective: BackendStateName;
  /** Live connections to it, over the function's instances. */
  readonly connections: number;
  /** New flows sent to it by the function's live instances since they started. */
  readonly newFlows: number;
}
