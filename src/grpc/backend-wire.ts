/**
 * The backend messages of `controller.proto` (`Backend`, `ListBackends*`,
 * `SetBackendState*`) as proto-loader shapes, and their conversions to and from
 * `BackendStatus`. Enum values map by name (`'draining'` ⇄ `BACKEND_STATE_DRAINING`); a name
 * this build does not know is passed through, lower-cased.
 *
 * @example
 * ```ts
 * const wire = backendToWire(row);        // server side
 * const back = backendFromWire(wire);     // client side; deep-equals `row`
 * ```
 */
import { BACKEND_STATE_NAMES, type BackendStateName } from '../backends/backend-control-layout.ts';
import type { BackendHealthName, BackendStatus } from '../controller/backend-status.ts';

/** `nfvkit.v1.Backend`; `state`, `effective`: `BACKEND_STATE_*`, `health`: `BACKEND_HEALTH_*`. */
export interface WireBackend {
  chain: string;
  function: string;
  service: string;
  backend: string;
  address: string;
  port: number;
  protocol: string;
  state: string;
  health: string;
  healthDetail: string;
  healthChangedAtUnixMs: number;
  effective: string;
  connections: number;
  newFlows: number;
}

/** `nfvkit.v1.ListBackendsRequest`. */
export interface WireListBackendsRequest {
  chain: string;
  function: string;
}

/** `nfvkit.v1.ListBackendsResponse`. */
export interface WireListBackendsResponse {
  backends: WireBackend[];
}

/** `nfvkit.v1.SetBackendStateRequest`. */
export interface WireSetBackendStateRequest {
  chain: string;
  function: string;
  service: string;
  backend: string;
  state: string;
}

/** `nfvkit.v1.SetBackendStateResponse`. */
export interface WireSetBackendStateResponse {
  backend: WireBackend | null;
}

const HEALTH_NAMES: readonly BackendHealthName[] = ['unchecked', 'unknown', 'up', 'down'];

/** Proto enum name of a backend state. */
export function backendStateToWire(state: BackendStateName): string {
  return `BACKEND_STATE_${state.toUpperCase()}`;
}

/** Backend state of a proto enum name: undefined for UNSPECIFIED and names this build does not know. */
export function backendStateFromWire(wire: unknown): BackendStateName | undefined {
  const name = String(wire).replace(/^BACKEND_STATE_/, '').toLowerCase();
  return (BACKEND_STATE_NAMES as readonly string[]).includes(name) ? (name as BackendStateName) : undefined;
}

function healthFromWire(wire: unknown): BackendHealthName {
  const name = String(wire).replace(/^BACKEND_HEALTH_/, '').toLowerCase();
  // A name this build does not know (a newer server) is passed through.
  return HEALTH_NAMES.find((h) => h === name) ?? (name as BackendHealthName);
}

/** `BackendStatus` → wire. */
export function backendToWire(b: BackendStatus): WireBackend {
  return {
    chain: b.chain,
    function: b.function,
    service: b.service,
    backend: b.backend,
    address: b.address,
    port: b.port,
    protocol: b.protocol,
    state: backendStateToWire(b.state),
    health: `BACKEND_HEALTH_${b.health.toUpperCase()}`,
    healthDetail: b.healthDetail,
    healthChangedAtUnixMs: b.healthChangedAt,
    effective: backendStateToWire(b.effective),
    connections: b.connections,
    newFlows: b.newFlows,
  };
}

/** Wire → `BackendStatus` (unknown enum names passed through, lower-cased). */
export function backendFromWire(w: WireBackend): BackendStatus {
  const state = (s: string): BackendStateName => backendStateFromWire(s) ?? (s.replace(/^BACKEND_STATE_/, '').toLowerCase() as BackendStateName);
  return {
    chain: w.chain,
    function: w.function,
    service: w.service,
    backend: w.backend,
    address: w.address,
    port: w.port,
    protocol: w.protocol === 'udp' ? 'udp' : 'tcp',
    state: state(w.state),
    health: healthFromWire(w.health),
    healthDetail: w.healthDetail,
    healthChangedAt: w.healthChangedAtUnixMs,
    effective: state(w.effective),
    connections: w.connections,
    newFlows: w.newFlows,
  };
}
