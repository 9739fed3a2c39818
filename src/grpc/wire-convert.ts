/**
 * Conversions between the controller's types (`controller-api.ts`) and their wire shapes
 * (`wire-types.ts`): the server uses the `*ToWire` half, the client the `*FromWire` half.
 *
 * Enum values map by name (`'image-built'` ⇄ `EVENT_TYPE_IMAGE_BUILT`). A value this
 * build does not know (a newer server) is passed through, lower-cased, rather than
 * rejected, so an old CLI still prints it.
 *
 * @example
 * ```ts
 * const wire = eventToWire(event);       // server side
 * const back = eventFromWire(wire);      // client side; deep-equals `event`
 * ```
 */
import type {
  ApplyResult,
  ChainPhase,
  ChainStatus,
  ChainSummary,
  ControllerEvent,
  ControllerEventType,
  FunctionStatus,
  InstanceRates,
  InstanceState,
  InstanceStatus,
} from '../controller/controller-api.ts';
import type { StatsSnapshot } from './stats-snapshot.ts';
import type {
  WireApplyChainResponse,
  WireChainStatus,
  WireChainSummary,
  WireControllerEvent,
  WireFunctionStatus,
  WireInstanceRates,
  WireInstanceStatus,
  WireStatsSnapshot,
} from './wire-types.ts';

const PHASES: readonly ChainPhase[] = ['Pending', 'Ready', 'Degraded', 'Deleting'];
const STATES: readonly InstanceState[] = ['booting', 'ready', 'draining', 'stopped', 'failed'];
const EVENT_TYPES: readonly ControllerEventType[] = [
  'applied',
  'image-built',
  'instance-booted',
  'instance-ready',
  'instance-draining',
  'instance-failed',
  'instance-stopped',
  'scaled',
  'deleted',
  'image-gc',
  'restart-delayed',
  'backend-state',
  'backend-health',
];

/** Both directions of one enum: domain value ⇄ proto enum name (`PREFIX_VALUE`). */
class EnumMap<T extends string> {
  private readonly toWireMap = new Map<T, string>();
  private readonly fromWireMap = new Map<string, T>();

  constructor(
    private readonly prefix: string,
    values: readonly T[],
  ) {
    for (const v of values) {
      const wire = prefix + v.toUpperCase().replace(/-/g, '_');
      this.toWireMap.set(v, wire);
      this.fromWireMap.set(wire, v);
    }
  }

  toWire(value: T): string {
    return this.toWireMap.get(value) ?? `${this.prefix}UNSPECIFIED`;
  }

  fromWire(wire: unknown): T {
    const name = String(wire);
    return this.fromWireMap.get(name) ?? (name.replace(this.prefix, '').toLowerCase().replace(/_/g, '-') as T);
  }
}

const phaseMap = new EnumMap('CHAIN_PHASE_', PHASES);
const stateMap = new EnumMap('INSTANCE_STATE_', STATES);
const eventTypeMap = new EnumMap('EVENT_TYPE_', EVENT_TYPES);

/** Proto enum name of a chain phase. */
export const phaseToWire = (p: ChainPhase): string => phaseMap.toWire(p);
/** Chain phase of a proto enum name; unknown names are passed through. */
export const phaseFromWire = (w: unknown): ChainPhase => phaseMap.fromWire(w);
/** Proto enum name of an instance state. */
export const stateToWire = (s: InstanceState): string => stateMap.toWire(s);
/** Instance state of a proto enum name. */
export const stateFromWire = (w: unknown): InstanceState => stateMap.fromWire(w);
/** Proto enum name of an event type. */
export const eventTypeToWire = (t: ControllerEventType): string => eventTypeMap.toWire(t);
/** Event type of a proto enum name. */
export const eventTypeFromWire = (w: unknown): ControllerEventType => eventTypeMap.fromWire(w);

/** `FunctionStatus` → wire. */
export function functionToWire(f: FunctionStatus): WireFunctionStatus {
  return {
    name: f.name,
    function: f.function,
    imageId: f.imageId,
    desiredReplicas: f.desiredReplicas,
    readyReplicas: f.readyReplicas,
    min: f.min,
    max: f.max,
    target: f.target,
    failures: f.failures,
    restartDelayMs: f.restartDelayMs,
    nextRestartUnixMs: f.nextRestartAt,
  };
}

/** Wire → `FunctionStatus`. */
export function functionFromWire(w: WireFunctionStatus): FunctionStatus {
  return {
    name: w.name,
    function: w.function,
    imageId: w.imageId,
    desiredReplicas: w.desiredReplicas,
    readyReplicas: w.readyReplicas,
    min: w.min,
    max: w.max,
    target: w.target,
    failures: w.failures,
    restartDelayMs: w.restartDelayMs,
    nextRestartAt: w.nextRestartUnixMs,
  };
}

/** `ChainStatus` → wire. */
export function chainToWire(c: ChainStatus): WireChainStatus {
  return {
    name: c.name,
    generation: c.generation,
    phase: phaseToWire(c.phase),
    phaseReason: c.phaseReason,
    functions: c.functions.map(functionToWire),
    specYaml: c.specYaml,
    appliedAtUnixMs: c.appliedAt,
    placement: c.placement,
    placementReason: c.placementReason,
    ends: c.ends?.where ?? '',
    endsReason: c.ends?.reason ?? '',
    endFigures: { ...c.ends?.figures },
  };
}

/** Wire → `ChainStatus`. */
export function chainFromWire(w: WireChainStatus): ChainStatus {
  return {
    name: w.name,
    generation: w.generation,
    phase: phaseFromWire(w.phase),
    phaseReason: w.phaseReason,
    functions: w.functions.map(functionFromWire),
    specYaml: w.specYaml,
    appliedAt: w.appliedAtUnixMs,
    placement: w.placement,
    placementReason: w.placementReason,
    ...(w.ends === '' ? {} : { ends: { where: w.ends, reason: w.endsReason, figures: { ...w.endFigures } } }),
  };
}

/** `ChainSummary` → wire. */
export function chainSummaryToWire(c: ChainSummary): WireChainSummary {
  return {
    name: c.name,
    generation: c.generation,
    phase: phaseToWire(c.phase),
    placement: c.placement,
    functions: c.functions.map((f) => ({ name: f.name, function: f.function, readyReplicas: f.readyReplicas, desiredReplicas: f.desiredReplicas })),
    appliedAtUnixMs: c.appliedAt,
  };
}

/** Wire → `ChainSummary`. */
export function chainSummaryFromWire(w: WireChainSummary): ChainSummary {
  return {
    name: w.name,
    generation: w.generation,
    phase: phaseFromWire(w.phase),
    placement: w.placement,
    functions: w.functions.map((f) => ({ name: f.name, function: f.function, readyReplicas: f.readyReplicas, desiredReplicas: f.desiredReplicas })),
    appliedAt: w.appliedAtUnixMs,
  };
}

/** `ApplyResult` → wire. */
export function applyResultToWire(r: ApplyResult): WireApplyChainResponse {
  return { chain: chainToWire(r.chain), changed: r.changed };
}

/** `InstanceStatus` → wire. */
export function instanceToWire(i: InstanceStatus): WireInstanceStatus {
  return {
    id: i.id,
    chain: i.chain,
    function: i.function,
    imageId: i.imageId,
    state: stateToWire(i.state),
    reason: i.reason,
    startedAtUnixMs: i.startedAt,
    bootMs: i.bootMs,
    flows: i.flows,
  };
}

/** Wire → `InstanceStatus`. */
export function instanceFromWire(w: WireInstanceStatus): InstanceStatus {
  return {
    id: w.id,
    chain: w.chain,
    function: w.function,
    imageId: w.imageId,
    state: stateFromWire(w.state),
    reason: w.reason,
    startedAt: w.startedAtUnixMs,
    bootMs: w.bootMs,
    flows: w.flows,
  };
}

/** `ControllerEvent` → wire. */
export function eventToWire(e: ControllerEvent): WireControllerEvent {
  return {
    seq: e.seq,
    timeUnixMs: e.time,
    type: eventTypeToWire(e.type),
    chain: e.chain,
    function: e.function,
    instance: e.instance,
    reason: e.reason,
    details: { ...e.details },
  };
}

/** Wire → `ControllerEvent`. */
export function eventFromWire(w: WireControllerEvent): ControllerEvent {
  return {
    seq: w.seq,
    time: w.timeUnixMs,
    type: eventTypeFromWire(w.type),
    chain: w.chain,
    function: w.function,
    instance: w.instance,
    reason: w.reason,
    details: { ...w.details },
  };
}

/** `InstanceRates` → wire (field names match). */
export function ratesToWire(r: InstanceRates): WireInstanceRates {
  return {
    instance: r.instance,
    chain: r.chain,
    function: r.function,
    rxPps: r.rxPps,
    txPps: r.txPps,
    dropPps: r.dropPps,
    rxBps: r.rxBps,
    queueOccupancy: r.queueOccupancy,
    busyRatio: r.busyRatio,
  };
}

/** Wire → `InstanceRates`. */
export function ratesFromWire(w: WireInstanceRates): InstanceRates {
  return { ...ratesToWire(w) };
}

/** A stats snapshot → wire. */
export function snapshotToWire(time: number, rates: readonly InstanceRates[]): WireStatsSnapshot {
  return { timeUnixMs: time, instances: rates.map(ratesToWire) };
}

/** Wire → `StatsSnapshot`. */
export function snapshotFromWire(w: WireStatsSnapshot): StatsSnapshot {
  return { time: w.timeUnixMs, instances: w.instances.map(ratesFromWire) };
}
